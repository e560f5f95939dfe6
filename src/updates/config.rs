//! /etc/atomic/atomicd.toml and the drop-ins in /etc/atomic/atomicd.toml.d/*.toml: the automatic
//! update policy. Files are read in name order after the main one and a later value wins, as
//! systemd reads unit drop-ins; maintenance windows add up, as zincati's do. An unknown key or
//! a wrong value is an error naming the file and the key.

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;

use crate::net::tls::TlsFiles;

/// atomicd's configuration file when nothing else is named.
pub const DEFAULT_PATH: &str = "/etc/atomic/atomicd.toml";

/// What the policy does when it finds an update (rpm-ostreed's AutomaticUpdatePolicy).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "kebab-case")]
pub enum Policy {
    /// Nothing.
    #[default]
    None,
    /// Look, and keep what was found as the cached update.
    Check,
    /// Also deploy it, to boot at the next reboot.
    Stage,
    /// Also reboot into it, when the strategy allows.
    Apply,
}

/// When a staged update may reboot the host.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "kebab-case")]
pub enum Strategy {
    /// At once.
    #[default]
    Immediate,
    /// Inside a maintenance window.
    Periodic,
    /// With a slot from a FleetLock server.
    FleetLock,
    /// With a slot of the semaphore in etcd.
    Etcd,
}

/// A weekly maintenance window in which a reboot may start.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Window {
    /// Days of the week it opens: Mon, Tue, Wed, Thu, Fri, Sat, Sun.
    pub days: Vec<Day>,
    /// When it opens, "HH:MM".
    pub start_time: String,
    /// How long it stays open.
    pub length_minutes: u32,
}

/// A day of the week.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[allow(missing_docs)]
pub enum Day {
    Mon,
    Tue,
    Wed,
    Thu,
    Fri,
    Sat,
    Sun,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    updates: Option<UpdatesPart>,
    trust: Option<TrustPart>,
    #[serde(rename = "apps")] // read by updates::apps
    _apps: Option<toml::Table>,
}

/// `[trust]`: which plans need an image the signature policy trusts.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct TrustPart {
    require: Option<crate::trust::Require>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct UpdatesPart {
    policy: Option<Policy>,
    interval: Option<String>,
    strategy: Option<Strategy>,
    periodic: Option<PeriodicPart>,
    #[serde(rename = "fleet-lock")]
    fleet_lock: Option<FleetLockPart>,
    etcd: Option<EtcdPart>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct PeriodicPart {
    time_zone: Option<String>,
    #[serde(default)]
    window: Vec<Window>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FleetLockPart {
    base_url: Option<String>,
    group: Option<String>,
    ca_file: Option<PathBuf>,
    cert_file: Option<PathBuf>,
    key_file: Option<PathBuf>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct EtcdPart {
    endpoints: Option<Vec<String>>,
    group: Option<String>,
    slots: Option<u64>,
    ca_file: Option<PathBuf>,
    cert_file: Option<PathBuf>,
    key_file: Option<PathBuf>,
}

/// A later file's TLS keys over the earlier ones, each on its own.
fn merge_tls(into: &mut TlsFiles, ca: Option<PathBuf>, cert: Option<PathBuf>, key: Option<PathBuf>) {
    into.ca_file = ca.or(into.ca_file.take());
    into.cert_file = cert.or(into.cert_file.take());
    into.key_file = key.or(into.key_file.take());
}

/// The merged, checked configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UpdatesConfig {
    /// What to do with an update.
    pub policy: Policy,
    /// How often to check.
    pub interval: Duration,
    /// When to reboot.
    pub strategy: Strategy,
    /// The windows (periodic), in UTC or the named fixed offset.
    pub windows: Vec<Window>,
    /// The windows' time zone: "UTC" or an offset such as "+02:00".
    pub time_zone: String,
    /// The FleetLock server (fleet-lock).
    pub fleet_lock_url: Option<String>,
    /// The FleetLock server's TLS files.
    pub fleet_lock_tls: TlsFiles,
    /// The group, for fleet-lock and etcd.
    pub group: String,
    /// etcd's client URLs (etcd).
    pub etcd_endpoints: Vec<String>,
    /// etcd's TLS files.
    pub etcd_tls: TlsFiles,
    /// The reboot slots of the etcd semaphore, when atomicd creates it.
    pub slots: u64,
}

impl Default for UpdatesConfig {
    fn default() -> Self {
        UpdatesConfig {
            policy: Policy::None,
            interval: Duration::from_secs(3600),
            strategy: Strategy::Immediate,
            windows: Vec::new(),
            time_zone: "UTC".into(),
            fleet_lock_url: None,
            fleet_lock_tls: TlsFiles::default(),
            group: "default".into(),
            etcd_endpoints: Vec::new(),
            etcd_tls: TlsFiles::default(),
            slots: 1,
        }
    }
}

/// A configuration that cannot be used; the sentence names the file and the key.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("{file}: {detail}")]
pub struct ConfigError {
    /// The file at fault.
    pub file: String,
    /// What is wrong, with the key.
    pub detail: String,
}

/// Where the drop-ins of `main` are: `main` with `.d` after it.
pub fn drop_in_dir(main: &Path) -> PathBuf {
    PathBuf::from(format!("{}.d", main.display()))
}

/// The files read, in order: the main file, then the drop-ins by name.
pub fn files(main: &Path) -> Vec<PathBuf> {
    let mut list = vec![main.to_path_buf()];
    if let Ok(entries) = std::fs::read_dir(drop_in_dir(main)) {
        let mut drop_ins: Vec<PathBuf> = entries
            .flatten()
            .map(|e| e.path())
            .filter(|p| p.extension().is_some_and(|x| x == "toml"))
            .collect();
        drop_ins.sort();
        list.extend(drop_ins);
    }
    list
}

/// The (file name, text) pairs of the files in their order; missing files are skipped. With
/// `replacing`, that file reads as the text given, whether it exists yet or not: the files as
/// they will be once it is written.
pub fn texts(main: &Path, replacing: Option<(&Path, &str)>) -> Result<Vec<(String, String)>, ConfigError> {
    let mut order = files(main);
    if let Some((path, _)) = replacing.filter(|(path, _)| !order.iter().any(|f| f == path)) {
        order.push(path.to_path_buf());
        order[1..].sort();
    }
    let mut texts = Vec::new();
    for path in order {
        let text = match replacing {
            Some((replaced, text)) if replaced == path => Ok(text.to_owned()),
            _ => std::fs::read_to_string(&path),
        };
        match text {
            Ok(text) => texts.push((path.display().to_string(), text)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(ConfigError { file: path.display().to_string(), detail: e.to_string() }),
        }
    }
    Ok(texts)
}

/// `[trust] require` of the files, the last that sets it winning; `host` when none does.
pub fn trust_require(main: &Path) -> Result<crate::trust::Require, ConfigError> {
    let mut require = crate::trust::Require::default();
    for (file, text) in texts(main, None)? {
        let parsed: File = toml::from_str(&text).map_err(|e| ConfigError {
            file: file.clone(),
            detail: e.message().to_owned() + &at(&text, e.span()),
        })?;
        if let Some(r) = parsed.trust.and_then(|t| t.require) {
            require = r;
        }
    }
    Ok(require)
}

/// Reads and merges the configuration; missing files are skipped.
pub fn load(main: &Path) -> Result<UpdatesConfig, ConfigError> {
    merge(&texts(main, None)?)
}

/// Merges (file name, text) pairs in order into a checked configuration.
pub fn merge(texts: &[(String, String)]) -> Result<UpdatesConfig, ConfigError> {
    let mut c = UpdatesConfig::default();
    let mut last_file = String::from("(defaults)");
    for (file, text) in texts {
        let fail = |detail: String| ConfigError { file: file.clone(), detail };
        let parsed: File =
            toml::from_str(text).map_err(|e| fail(e.message().to_owned() + &at(text, e.span())))?;
        let Some(u) = parsed.updates else { continue };
        last_file = file.clone();
        c.policy = u.policy.unwrap_or(c.policy);
        c.strategy = u.strategy.unwrap_or(c.strategy);
        if let Some(interval) = u.interval {
            c.interval = humantime::parse_duration(&interval)
                .map_err(|e| fail(format!("updates.interval = {interval:?}: {e}")))?;
        }
        if let Some(p) = u.periodic {
            c.time_zone = p.time_zone.unwrap_or(c.time_zone);
            for w in &p.window {
                check_window(w).map_err(fail)?;
            }
            c.windows.extend(p.window);
        }
        if let Some(f) = u.fleet_lock {
            c.fleet_lock_url = f.base_url.or(c.fleet_lock_url);
            c.group = f.group.unwrap_or(c.group);
            merge_tls(&mut c.fleet_lock_tls, f.ca_file, f.cert_file, f.key_file);
        }
        if let Some(e) = u.etcd {
            c.etcd_endpoints = e.endpoints.unwrap_or(c.etcd_endpoints);
            c.group = e.group.unwrap_or(c.group);
            c.slots = e.slots.unwrap_or(c.slots);
            merge_tls(&mut c.etcd_tls, e.ca_file, e.cert_file, e.key_file);
        }
    }
    check(&c).map_err(|detail| ConfigError { file: last_file, detail })?;
    Ok(c)
}

fn at(text: &str, span: Option<std::ops::Range<usize>>) -> String {
    span.map(|s| format!(" (line {})", text[..s.start.min(text.len())].lines().count().max(1)))
        .unwrap_or_default()
}

fn check_window(w: &Window) -> Result<(), String> {
    let parts: Vec<&str> = w.start_time.split(':').collect();
    let ok = matches!(parts.as_slice(), [h, m] if h.parse::<u8>().is_ok_and(|h| h < 24) && m.parse::<u8>().is_ok_and(|m| m < 60));
    if !ok {
        return Err(format!("updates.periodic.window.start_time = {:?} is not HH:MM", w.start_time));
    }
    if w.days.is_empty() || w.length_minutes == 0 || w.length_minutes > 7 * 24 * 60 {
        return Err("updates.periodic.window needs days and a length_minutes of 1 to 10080".into());
    }
    Ok(())
}

fn check(c: &UpdatesConfig) -> Result<(), String> {
    if c.interval < Duration::from_secs(60) {
        return Err("updates.interval is under a minute".into());
    }
    if c.time_zone != "UTC" && crate::updates::config::offset_minutes(&c.time_zone).is_none() {
        return Err(format!(
            "updates.periodic.time_zone = {:?}: use \"UTC\" or an offset like \"+02:00\"",
            c.time_zone
        ));
    }
    check_tls("updates.fleet-lock", &c.fleet_lock_tls, c.fleet_lock_url.iter())?;
    check_tls("updates.etcd", &c.etcd_tls, c.etcd_endpoints.iter())?;
    match c.strategy {
        Strategy::Periodic if c.windows.is_empty() => {
            Err("strategy \"periodic\" needs an [[updates.periodic.window]]".into())
        }
        Strategy::FleetLock if !c.fleet_lock_url.as_deref().is_some_and(is_web_url) => {
            Err("strategy \"fleet-lock\" needs updates.fleet-lock.base_url, an http:// or https:// URL"
                .into())
        }
        Strategy::Etcd if c.etcd_endpoints.is_empty() || !c.etcd_endpoints.iter().all(|e| is_web_url(e)) => {
            Err("strategy \"etcd\" needs updates.etcd.endpoints, http:// or https:// URLs".into())
        }
        Strategy::Etcd if c.slots == 0 => Err("updates.etcd.slots must be at least 1".into()),
        _ => Ok(()),
    }
}

fn is_web_url(url: &str) -> bool {
    url.starts_with("http://") || url.starts_with("https://")
}

/// TLS files are absolute, a certificate comes with its key, and naming any of them means every
/// URL of that peer is https://: a CA file beside an http:// URL would be a silent downgrade.
fn check_tls<'a>(
    table: &str,
    tls: &TlsFiles,
    mut urls: impl Iterator<Item = &'a String>,
) -> Result<(), String> {
    let named = [("ca_file", &tls.ca_file), ("cert_file", &tls.cert_file), ("key_file", &tls.key_file)];
    for (key, path) in named {
        if let Some(path) = path.as_ref().filter(|p| !p.is_absolute()) {
            return Err(format!("{table}.{key} = {:?} is not an absolute path", path.display().to_string()));
        }
    }
    if tls.cert_file.is_some() != tls.key_file.is_some() {
        return Err(format!("{table}.cert_file and {table}.key_file go together: name both or neither"));
    }
    if let Some(plain) = urls.find(|u| tls.any() && !u.starts_with("https://")) {
        return Err(format!("{table} names TLS files, but {plain} is not an https:// URL"));
    }
    Ok(())
}

/// Minutes east of UTC for "+HH:MM" / "-HH:MM".
pub fn offset_minutes(zone: &str) -> Option<i32> {
    let (sign, rest) = match zone.as_bytes().first() {
        Some(b'+') => (1, &zone[1..]),
        Some(b'-') => (-1, &zone[1..]),
        _ => return None,
    };
    let (h, m) = rest.split_once(':')?;
    let (h, m): (i32, i32) = (h.parse().ok()?, m.parse().ok()?);
    ((0..=14).contains(&h) && (0..60).contains(&m)).then_some(sign * (h * 60 + m))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn merged(files: &[&str]) -> Result<UpdatesConfig, ConfigError> {
        let texts: Vec<(String, String)> =
            files.iter().enumerate().map(|(i, t)| (format!("f{i}.toml"), (*t).to_owned())).collect();
        merge(&texts)
    }

    #[test]
    fn later_files_win_and_windows_add_up() {
        let c = merged(&[
            "[updates]\npolicy = \"check\"\nstrategy = \"periodic\"\n[[updates.periodic.window]]\ndays = [\"Sat\"]\nstart_time = \"22:30\"\nlength_minutes = 60\n",
            "[updates]\npolicy = \"apply\"\ninterval = \"30m\"\n[[updates.periodic.window]]\ndays = [\"Sun\"]\nstart_time = \"03:00\"\nlength_minutes = 30\n",
        ])
        .unwrap();
        assert_eq!(c.policy, Policy::Apply);
        assert_eq!(c.strategy, Strategy::Periodic);
        assert_eq!(c.interval, Duration::from_secs(1800));
        assert_eq!(c.windows.len(), 2);
        let etcd = merged(&["[updates]\nstrategy = \"etcd\"\n[updates.etcd]\nendpoints = [\"http://127.0.0.1:12379\"]\nslots = 2\ngroup = \"workers\"\n"])
            .unwrap();
        assert_eq!((etcd.slots, etcd.group.as_str()), (2, "workers"));
        let tls = merged(&[
            "[updates]\nstrategy = \"etcd\"\n[updates.etcd]\nendpoints = [\"https://10.0.0.1:2379\"]\nca_file = \"/etc/atomic/ca.pem\"\ncert_file = \"/etc/atomic/old.pem\"\nkey_file = \"/etc/atomic/old-key.pem\"\n",
            "[updates.etcd]\ncert_file = \"/etc/atomic/new.pem\"\nkey_file = \"/etc/atomic/new-key.pem\"\n",
        ])
        .unwrap();
        let path = |p: &str| Some(PathBuf::from(p));
        assert_eq!(
            tls.etcd_tls,
            TlsFiles {
                ca_file: path("/etc/atomic/ca.pem"),
                cert_file: path("/etc/atomic/new.pem"),
                key_file: path("/etc/atomic/new-key.pem")
            }
        );
        assert!(!tls.fleet_lock_tls.any());
        assert_eq!(merged(&[]), Ok(UpdatesConfig::default()));
    }

    #[test]
    fn a_wrong_key_or_value_names_its_file_and_key() {
        // (files, the file blamed, words of the sentence)
        let table: [(&[&str], &str, &str); 12] = [
            (&["[updates]\npolicy = \"check\"", "[updates]\npolcy = \"apply\""], "f1.toml", "polcy"),
            (&["[updates]\npolicy = \"sometimes\""], "f0.toml", "sometimes"),
            (&["[update]\npolicy = \"check\""], "f0.toml", "update"),
            (&["[updates]\ninterval = \"soon\""], "f0.toml", "updates.interval"),
            (&["[updates]\ninterval = \"10s\""], "f0.toml", "under a minute"),
            (&["[updates]\nstrategy = \"fleet-lock\""], "f0.toml", "updates.fleet-lock.base_url"),
            (&["[updates]\nstrategy = \"periodic\"\n[[updates.periodic.window]]\ndays = [\"Sat\"]\nstart_time = \"25:00\"\nlength_minutes = 5"], "f0.toml", "start_time"),
            (&["[updates.periodic]\ntime_zone = \"Europe/Paris\""], "f0.toml", "time_zone"),
            (&["[updates.etcd]\nca_file = \"ca.pem\""], "f0.toml", "updates.etcd.ca_file = \"ca.pem\" is not an absolute path"),
            (&["[updates.etcd]\ncert_file = \"/etc/atomic/c.pem\""], "f0.toml", "updates.etcd.cert_file and updates.etcd.key_file go together"),
            (&["[updates.etcd]\nendpoints = [\"https://a:2379\", \"http://b:2379\"]", "[updates.etcd]\nca_file = \"/etc/atomic/ca.pem\""], "f1.toml", "http://b:2379 is not an https:// URL"),
            (&["[updates]\nstrategy = \"fleet-lock\"\n[updates.fleet-lock]\nbase_url = \"ftp://x\""], "f0.toml", "http:// or https://"),
        ];
        for (files, blamed, words) in table {
            let Err(e) = merged(files) else { panic!("{files:?} was accepted") };
            assert_eq!(e.file, blamed, "{e}");
            assert!(e.to_string().contains(words), "{e} should name {words}");
        }
    }

    #[test]
    fn offsets_are_read_and_bounded() {
        for (zone, want) in
            [("+02:00", Some(120)), ("-05:30", Some(-330)), ("+15:00", None), ("UTC", None), ("+2", None)]
        {
            assert_eq!(offset_minutes(zone), want, "{zone}");
        }
    }
}
