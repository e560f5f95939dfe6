//! The update policy of each application installed as a service: `[apps.NAME]` tables in the
//! same files as `[updates]` (a later file's key wins), and the drop-in SetApplicationPolicy
//! writes. An unknown key or a wrong value is an error naming the file and the key.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;

use super::config::{self, ConfigError};

/// What the policy does when a new image of the application's reference is found.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "kebab-case")]
pub enum AutoUpdate {
    /// Nothing.
    #[default]
    None,
    /// Look and say so (`update available`).
    Check,
    /// Pull, plan it again and apply it when it needs no new privilege.
    Apply,
}

impl AutoUpdate {
    /// The word in the files and on the bus.
    pub fn as_str(self) -> &'static str {
        match self {
            AutoUpdate::None => "none",
            AutoUpdate::Check => "check",
            AutoUpdate::Apply => "apply",
        }
    }
}

/// One application's policy, with the defaults filled in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AppPolicy {
    /// none, check or apply.
    pub auto_update: AutoUpdate,
    /// How often a round looks.
    pub interval: Duration,
    /// An image without HEALTHCHECK is healthy once it ran this long.
    pub healthy_after: Duration,
    /// One with a HEALTHCHECK must say healthy within this.
    pub health_timeout: Duration,
    /// Apply only inside `[updates.periodic]`'s maintenance windows.
    pub windows: bool,
    /// Take the fleet's lock (`[updates]` fleet-lock or etcd) around the restart.
    pub fleet_lock: bool,
    /// The lock's group (default `atomic-app-NAME`).
    pub group: String,
}

impl AppPolicy {
    /// The policy of an application no file names.
    pub fn default_for(name: &str) -> Self {
        AppPolicy {
            auto_update: AutoUpdate::None,
            interval: Duration::from_secs(3600),
            healthy_after: Duration::from_secs(10),
            health_timeout: Duration::from_secs(60),
            windows: false,
            fleet_lock: false,
            group: format!("atomic-app-{name}"),
        }
    }
}

/// `[apps.NAME]` as written.
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct AppPart {
    auto_update: Option<AutoUpdate>,
    interval: Option<String>,
    healthy_after: Option<String>,
    health_timeout: Option<String>,
    windows: Option<bool>,
    fleet_lock: Option<bool>,
    group: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
struct File {
    #[serde(default)]
    apps: BTreeMap<String, AppPart>,
}

fn duration(file: &str, name: &str, key: &str, text: &str, min: Duration) -> Result<Duration, ConfigError> {
    let fail = |why: String| ConfigError {
        file: file.to_owned(),
        detail: format!("apps.{name}.{key} = {text:?}: {why}"),
    };
    let d = humantime::parse_duration(text).map_err(|e| fail(e.to_string()))?;
    if d < min {
        return Err(fail(format!("at least {}", humantime::format_duration(min))));
    }
    Ok(d)
}

/// Every application's policy the files name, merged in file order.
pub fn merge(texts: &[(String, String)]) -> Result<BTreeMap<String, AppPolicy>, ConfigError> {
    let mut policies = BTreeMap::new();
    for (file, text) in texts {
        let parsed: File = toml::from_str(text)
            .map_err(|e| ConfigError { file: file.clone(), detail: e.message().to_owned() })?;
        for (name, part) in parsed.apps {
            let p = policies.entry(name.clone()).or_insert_with(|| AppPolicy::default_for(&name));
            p.auto_update = part.auto_update.unwrap_or(p.auto_update);
            if let Some(t) = &part.interval {
                p.interval = duration(file, &name, "interval", t, Duration::from_secs(60))?;
            }
            if let Some(t) = &part.healthy_after {
                p.healthy_after = duration(file, &name, "healthy-after", t, Duration::from_secs(1))?;
            }
            if let Some(t) = &part.health_timeout {
                p.health_timeout = duration(file, &name, "health-timeout", t, Duration::from_secs(1))?;
            }
            p.windows = part.windows.unwrap_or(p.windows);
            p.fleet_lock = part.fleet_lock.unwrap_or(p.fleet_lock);
            if let Some(g) = part.group {
                if g.is_empty() || g.len() > 128 || g.chars().any(char::is_control) {
                    return Err(ConfigError {
                        file: file.clone(),
                        detail: format!("apps.{name}.group must be 1 to 128 printable characters"),
                    });
                }
                p.group = g;
            }
        }
    }
    Ok(policies)
}

/// The policies the files under `main` give.
pub fn load(main: &Path) -> Result<BTreeMap<String, AppPolicy>, ConfigError> {
    merge(&config::texts(main, None)?)
}

/// The drop-in SetApplicationPolicy writes for `name`.
fn drop_in(main: &Path, name: &str) -> PathBuf {
    config::drop_in_dir(main).join(format!("60-app-{name}.toml"))
}

/// SetApplicationPolicy: `part` replaces the application's drop-in once every file with it
/// still reads, host policy included; returns the drop-in's path.
pub fn set(main: &Path, name: &str, settings: &toml::Table) -> Result<PathBuf, ConfigError> {
    let path = drop_in(main, name);
    let mut apps = toml::Table::new();
    apps.insert(name.to_owned(), toml::Value::Table(settings.clone()));
    let mut root = toml::Table::new();
    root.insert("apps".into(), toml::Value::Table(apps));
    let text = format!(
        "# Written by atomicd's SetApplicationPolicy for {name}; files named after this one win over it.\n{}",
        toml::to_string(&root).unwrap_or_default()
    );
    let texts = config::texts(main, Some((&path, &text)))?;
    merge(&texts)?;
    config::merge(&texts)?;
    let fail = |e: std::io::Error| ConfigError { file: path.display().to_string(), detail: e.to_string() };
    std::fs::create_dir_all(config::drop_in_dir(main)).map_err(fail)?;
    crate::system::state::replace_file(&path, text.as_bytes())
        .map_err(|e| ConfigError { file: path.display().to_string(), detail: e.to_string() })?;
    Ok(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn apps_tables_merge_in_file_order_and_an_unknown_key_names_its_file() {
        let texts = [
            ("a.toml".to_owned(), "[apps.web]\nauto-update = \"check\"\ninterval = \"2h\"\n".to_owned()),
            ("b.toml".to_owned(), "[apps.web]\nauto-update = \"apply\"\nfleet-lock = true\n".to_owned()),
        ];
        let p = &merge(&texts).unwrap()["web"];
        assert_eq!(
            (p.auto_update, p.interval, p.fleet_lock),
            (AutoUpdate::Apply, Duration::from_secs(7200), true)
        );
        assert_eq!((p.group.as_str(), p.healthy_after), ("atomic-app-web", Duration::from_secs(10)));
        let bad = [("c.toml".to_owned(), "[apps.web]\nauto-updates = \"apply\"\n".to_owned())];
        let e = merge(&bad).unwrap_err();
        assert_eq!(e.file, "c.toml");
        assert!(e.detail.contains("auto-updates"), "{e}");
        let short = [("d.toml".to_owned(), "[apps.web]\ninterval = \"5s\"\n".to_owned())];
        assert!(merge(&short).unwrap_err().detail.contains("apps.web.interval"));
    }
}
