//! The automatic updates' settings and progress as atomicd holds them: the configuration (read
//! again after SetUpdatePolicy writes its drop-in), what the last check did, when the next one
//! is, and the reboot slot.

use std::path::{Path, PathBuf};
use std::sync::{Mutex, RwLock};
use std::time::Duration;

use crate::error::{Error, Result};
use crate::net::http::JsonClient;
use crate::net::tls::TlsError;
use crate::updates::config::{self, Strategy, UpdatesConfig};
use crate::updates::etcd::EtcdSemaphore;
use crate::updates::fleetlock::FleetLock;
use crate::updates::lock::{EtcdSlot, FleetLockSlot, RebootLock};
use crate::wire::options::PolicySettings;
use crate::wire::results::{LockBlock, UpdatesBlock};

/// The drop-in SetUpdatePolicy writes; files named after it in the directory win over it.
const DROP_IN: &str = "50-set-update-policy.toml";
/// How long a lock server may take to answer.
const LOCK_TIMEOUT: Duration = Duration::from_secs(10);

/// What the policy did, for Status.
#[derive(Debug, Clone, Default)]
pub struct Progress {
    /// The last check (seconds since the epoch; 0: none yet).
    pub last_check: u64,
    /// The next one.
    pub next_check: u64,
    /// What it came to, in a sentence.
    pub last_result: String,
    /// This host holds a reboot slot.
    pub held: bool,
    /// Since when.
    pub held_since: u64,
}

/// The automatic updates' configuration and progress.
pub struct AutoUpdates {
    main: PathBuf,
    loaded: RwLock<(UpdatesConfig, Option<String>)>,
    progress: Mutex<Progress>,
    id: String,
    /// The raw machine ID, for the IDs of other services' slots (None: the host has none).
    machine_id: Option<String>,
}

impl AutoUpdates {
    /// Reads the configuration under `main` for the host `id`; a configuration that cannot be
    /// used leaves the policy at none and says why in Status.
    pub fn load(main: &Path, id: String) -> Self {
        let auto = AutoUpdates {
            main: main.to_path_buf(),
            loaded: RwLock::new((UpdatesConfig::default(), None)),
            progress: Mutex::default(),
            id,
            machine_id: None,
        };
        auto.reload();
        auto
    }

    /// With the raw machine ID the slots of other services are derived from (FleetLock).
    pub fn with_machine_id(mut self, machine_id: Option<String>) -> Self {
        self.machine_id = machine_id;
        self
    }

    /// The ID a service `app` holds its slot of the fleet's lock by: app-specific, from the
    /// machine ID and the service's app ID, as the host's own is from atomicd's.
    pub fn app_fleet_id(&self, app: &str) -> Option<String> {
        use crate::updates::machine_id::{app_id_of, app_specific};
        app_specific(self.machine_id.as_deref()?, &app_id_of(app))
    }

    /// Reads the files again.
    pub fn reload(&self) {
        let loaded = match config::load(&self.main) {
            Ok(c) => (c, None),
            Err(e) => {
                tracing::warn!("automatic updates are off: {e}");
                (UpdatesConfig::default(), Some(e.to_string()))
            }
        };
        if let Ok(mut now) = self.loaded.write() {
            *now = loaded;
        }
    }

    /// The configuration in force.
    pub fn config(&self) -> UpdatesConfig {
        self.loaded.read().map(|l| l.0.clone()).unwrap_or_default()
    }

    /// Why the files could not be used, if they could not.
    pub fn error(&self) -> Option<String> {
        self.loaded.read().ok().and_then(|l| l.1.clone())
    }

    /// This host's fleet ID.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// The progress so far.
    pub fn progress(&self) -> Progress {
        self.progress.lock().map(|p| p.clone()).unwrap_or_default()
    }

    /// Records progress.
    pub fn note(&self, change: impl FnOnce(&mut Progress)) {
        if let Ok(mut p) = self.progress.lock() {
            change(&mut p);
        }
    }

    /// Status's `updates` block.
    pub fn block(&self) -> UpdatesBlock {
        let c = self.config();
        let p = self.progress();
        let lower = |debug: String| debug.to_lowercase();
        let strategy = match c.strategy {
            Strategy::FleetLock => "fleet-lock".to_owned(),
            other => lower(format!("{other:?}")),
        };
        let window = c
            .windows
            .iter()
            .map(|w| {
                let days: Vec<String> = w.days.iter().map(|d| format!("{d:?}")).collect();
                format!("{} {} +{}m", days.join(","), w.start_time, w.length_minutes)
            })
            .collect::<Vec<_>>()
            .join("; ");
        let lock = matches!(c.strategy, Strategy::FleetLock | Strategy::Etcd).then(|| LockBlock {
            backend: strategy.clone(),
            group: c.group.clone(),
            held: p.held,
            since: p.held_since,
        });
        UpdatesBlock {
            policy: lower(format!("{:?}", c.policy)),
            strategy,
            next_check: p.next_check,
            last_check: p.last_check,
            last_result: p.last_result,
            window: if window.is_empty() { String::new() } else { format!("{window} ({})", c.time_zone) },
            lock,
            error: self.error(),
        }
    }

    /// The main configuration file (the applications' policies are read from its files too).
    pub fn main(&self) -> &Path {
        &self.main
    }

    /// The reboot slot the strategy waits for, if it waits for one; an error when its TLS
    /// files cannot be used.
    pub fn reboot_lock(&self) -> std::result::Result<Option<Box<dyn RebootLock>>, TlsError> {
        self.lock_of(&self.config().group)
    }

    /// The strategy's lock server, for the slots of `group` (the host's, or an application's).
    pub fn lock_of(&self, group: &str) -> std::result::Result<Option<Box<dyn RebootLock>>, TlsError> {
        self.lock_for(group, &self.id)
    }

    /// The strategy's lock server, for the slot `id` holds in `group`.
    pub fn lock_for(
        &self,
        group: &str,
        id: &str,
    ) -> std::result::Result<Option<Box<dyn RebootLock>>, TlsError> {
        let mut c = self.config();
        c.group = group.to_owned();
        let lock: Box<dyn RebootLock> = match c.strategy {
            Strategy::Immediate | Strategy::Periodic => return Ok(None),
            Strategy::FleetLock => {
                let Some(url) = c.fleet_lock_url else { return Ok(None) };
                let http =
                    JsonClient::for_urls(LOCK_TIMEOUT, std::iter::once(url.as_str()), &c.fleet_lock_tls)?;
                Box::new(FleetLockSlot(FleetLock::new(&url, &c.group, id, http)))
            }
            Strategy::Etcd => Box::new(EtcdSlot {
                semaphore: EtcdSemaphore::configured(&c, LOCK_TIMEOUT)?,
                id: id.to_owned(),
            }),
        };
        Ok(Some(lock))
    }

    /// Writes SetUpdatePolicy's drop-in once the files with it merge into a usable
    /// configuration, then reads them again. Returns the drop-in's path.
    pub fn set_policy(&self, settings: &PolicySettings) -> Result<PathBuf> {
        let text = drop_in_text(settings);
        let dir = config::drop_in_dir(&self.main);
        let path = dir.join(DROP_IN);
        config::texts(&self.main, Some((&path, &text)))
            .and_then(|texts| config::merge(&texts))
            .map_err(|e| Error::InvalidArgument(e.to_string()))?;
        std::fs::create_dir_all(&dir)
            .map_err(|e| Error::io(format!("cannot create {}", dir.display()), e))?;
        // A temporary file of this write's own: two calls at once never write into one.
        let tmp = dir.join(crate::system::state::temp_name(DROP_IN));
        std::fs::write(&tmp, text.as_bytes()).and_then(|()| std::fs::rename(&tmp, &path)).map_err(|e| {
            let _ = std::fs::remove_file(&tmp);
            Error::io(format!("cannot write {}", path.display()), e)
        })?;
        self.reload();
        Ok(path)
    }
}

/// The drop-in's TOML for `settings`.
fn drop_in_text(s: &PolicySettings) -> String {
    let mut updates = toml::Table::new();
    let put = |table: &mut toml::Table, key: &str, value: Option<toml::Value>| {
        if let Some(v) = value {
            table.insert(key.to_owned(), v);
        }
    };
    put(&mut updates, "policy", s.policy.clone().map(toml::Value::String));
    put(&mut updates, "strategy", s.strategy.clone().map(toml::Value::String));
    put(&mut updates, "interval", s.interval.clone().map(toml::Value::String));
    let strategy = s.strategy.as_deref().unwrap_or_default();
    let mut fleet = toml::Table::new();
    put(&mut fleet, "base_url", s.base_url.clone().map(toml::Value::String));
    let mut etcd = toml::Table::new();
    put(
        &mut etcd,
        "endpoints",
        s.endpoints.clone().map(|e| toml::Value::Array(e.into_iter().map(toml::Value::String).collect())),
    );
    put(&mut etcd, "slots", s.slots.map(|n| toml::Value::Integer(i64::from(n))));
    // The group belongs to the strategy that uses it.
    let group = s.group.clone().map(toml::Value::String);
    if strategy == "etcd" || (!etcd.is_empty() && fleet.is_empty()) {
        put(&mut etcd, "group", group);
    } else {
        put(&mut fleet, "group", group);
    }
    if !fleet.is_empty() {
        updates.insert("fleet-lock".into(), toml::Value::Table(fleet));
    }
    if !etcd.is_empty() {
        updates.insert("etcd".into(), toml::Value::Table(etcd));
    }
    let mut root = toml::Table::new();
    root.insert("updates".into(), toml::Value::Table(updates));
    format!(
        "# Written by atomicd's SetUpdatePolicy; files named after this one win over it.\n{}",
        toml::to_string(&root).unwrap_or_default()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn set_update_policy_writes_a_drop_in_that_the_files_then_read() {
        let dir = std::env::temp_dir().join(format!("atomicd-auto-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let main = dir.join("atomicd.toml");
        std::fs::write(&main, "[updates]\npolicy = \"check\"\ninterval = \"2h\"\n").unwrap();
        let auto = AutoUpdates::load(&main, "host".into());
        assert_eq!(auto.config().policy, config::Policy::Check);
        let settings = PolicySettings {
            policy: Some("apply".into()),
            strategy: Some("etcd".into()),
            endpoints: Some(vec!["http://127.0.0.1:12379".into()]),
            slots: Some(3),
            group: Some("edge \"west\"".into()),
            ..PolicySettings::default()
        };
        let written = auto.set_policy(&settings).unwrap();
        assert_eq!(written, dir.join("atomicd.toml.d").join(DROP_IN));
        let c = auto.config();
        assert_eq!(
            (c.policy, c.strategy, c.slots, c.group.as_str()),
            (config::Policy::Apply, Strategy::Etcd, 3, "edge \"west\"")
        );
        assert_eq!(c.interval, Duration::from_secs(7200), "the main file's interval stays");
        // A setting that would not work is refused and nothing is written.
        let bad = PolicySettings { strategy: Some("fleet-lock".into()), ..PolicySettings::default() };
        let before = std::fs::read_to_string(&written).unwrap_or_default();
        assert!(matches!(auto.set_policy(&bad), Err(Error::InvalidArgument(m)) if m.contains("base_url")));
        assert_eq!(std::fs::read_to_string(&written).unwrap_or_default(), before);
        let _ = std::fs::remove_dir_all(&dir);
    }
}
