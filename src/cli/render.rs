//! How the CLI prints atomicd's answers for people.

use std::fmt::Write;

use crate::dbus::proxy::{DeploymentBlock, HostBlock, StatusReport, UpdateBlock, UpdatesBlock};

/// `atomic status`
pub fn status(v: &StatusReport) -> String {
    let mut out = String::new();
    let engine = &v.engine;
    let _ = writeln!(out, "atomicd:   {}", v.version);
    if engine.available {
        let _ = writeln!(
            out,
            "engine:    {} {} (API {}) at {}",
            engine.name, engine.version, engine.api_version, engine.socket
        );
    } else {
        let _ = writeln!(out, "engine:    unavailable (tried {})", engine.socket);
    }
    let host = &v.host;
    let _ = writeln!(out, "host:      {} ({} deployments)", host.backend, host.deployments.len());
    if v.installed.is_empty() {
        let _ = writeln!(out, "installed: none");
    } else {
        let _ = writeln!(out, "installed:");
        for i in &v.installed {
            let _ = writeln!(out, "  {} as {} ({})", i.image, i.name, short(&i.image_id));
        }
    }
    for a in &v.applications {
        let p = super::job::printable;
        let _ = writeln!(
            out,
            "service:   {} {} on {} ({}): {}",
            p(&a.unit),
            p(&a.unit_state),
            p(&a.image),
            short(&a.image_id),
            p(&a.last_result)
        );
    }
    out
}

/// `atomic host status`: one block per deployment, the default marked, as rpm-ostree prints,
/// then the update the last check found.
pub fn host_status(host: &HostBlock, cached: &UpdateBlock) -> String {
    let mut out = String::new();
    if host.backend == "none" {
        let _ = writeln!(out, "This machine is not an image-based host (backend: none).");
        return out;
    }
    let _ = writeln!(out, "Backend: {}", host.backend);
    let _ = writeln!(out, "Deployments:");
    for d in &host.deployments {
        let mark = if d.default { "●" } else { " " };
        let flags: Vec<&str> = [("booted", d.booted), ("staged", d.staged), ("pinned", d.pinned)]
            .into_iter()
            .filter_map(|(name, set)| set.then_some(name))
            .collect();
        let flags = if flags.is_empty() { String::new() } else { format!(" ({})", flags.join(", ")) };
        let _ = writeln!(out, "{mark} {}:{}{flags}", d.osname, d.origin);
        let _ = writeln!(out, "      Version: {} ({})", d.version, timestamp(d.timestamp));
        let _ = writeln!(out, "       Commit: {}", short(&d.checksum));
        let _ = writeln!(out, "           Id: {}", d.id);
    }
    if let Some(error) = &host.error {
        let _ = writeln!(out, "Error: {error}");
    }
    let line = available(cached).unwrap_or_else(|| "Available: nothing found by the last check".into());
    let _ = writeln!(out, "{line}");
    out
}

/// "Available: 3.0 (12 files changed, 3 added, 1 removed)" for a cached update; None when empty.
pub fn available(update: &UpdateBlock) -> Option<String> {
    let version = update.version.as_deref()?;
    let d = update.diff.clone().unwrap_or_default();
    let what = if let Some(changed) = d.files_changed {
        format!(
            "{changed} files changed, {} added, {} removed",
            d.files_added.unwrap_or(0),
            d.files_removed.unwrap_or(0)
        )
    } else if let Some(upgraded) = d.packages_upgraded {
        format!(
            "{upgraded} packages upgraded, {} added, {} removed",
            d.packages_added.unwrap_or(0),
            d.packages_removed.unwrap_or(0)
        )
    } else {
        d.digest.map(|digest| format!("image {}", short(&digest))).unwrap_or_default()
    };
    let mut line = format!("Available: {version}");
    if !what.is_empty() {
        line.push_str(&format!(" ({what})"));
    }
    if let Some(when) = update.timestamp.filter(|t| *t > 0) {
        line.push_str(&format!(", committed {}", timestamp(when)));
    }
    line.push_str(&format!("\n       Commit: {}", short(update.checksum.as_deref().unwrap_or_default())));
    Some(line)
}

/// "Deployed 2.0 (commit abc…): it boots next" for a deployment answer.
pub fn deployed(what: &str, d: &DeploymentBlock, rebooting: bool) -> String {
    let then = if rebooting { "rebooting into it" } else { "it boots next; reboot to use it" };
    format!("{what} {} (commit {}, {}): {then}.", d.version, short(&d.checksum), d.origin)
}

/// The first 12 hex digits of an id or checksum, without its algorithm prefix.
pub fn short(id: &str) -> &str {
    let hex = id.split_once(':').map_or(id, |(_, h)| h);
    hex.get(..12).unwrap_or(hex)
}

/// `atomic host updates`: the policy and where its rounds are.
pub fn updates(u: &UpdatesBlock) -> String {
    let time = |t: u64| if t == 0 { "never".to_owned() } else { timestamp(t) };
    let mut out = String::new();
    let _ = writeln!(out, "Policy:      {} (strategy {})", u.policy, u.strategy);
    if !u.window.is_empty() {
        let _ = writeln!(out, "Window:      {}", u.window);
    }
    let _ = writeln!(out, "Last check:  {}", time(u.last_check));
    if !u.last_result.is_empty() {
        let _ = writeln!(out, "Result:      {}", u.last_result);
    }
    let _ = writeln!(out, "Next check:  {}", time(u.next_check));
    if let Some(lock) = &u.lock {
        let held =
            if lock.held { format!("held since {}", timestamp(lock.since)) } else { "not held".to_owned() };
        let _ = writeln!(out, "Reboot slot: {} group {}, {held}", lock.backend, lock.group);
    }
    if let Some(error) = u.error.as_deref().filter(|e| !e.is_empty()) {
        let _ = writeln!(out, "Error:       {error}");
    }
    out
}

/// UTC RFC 3339 time from seconds since the epoch.
pub fn timestamp(secs: u64) -> String {
    humantime::format_rfc3339_seconds(std::time::UNIX_EPOCH + std::time::Duration::from_secs(secs))
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_and_short_ids() {
        assert_eq!(timestamp(0), "1970-01-01T00:00:00Z");
        assert_eq!(timestamp(1_795_882_228), "2026-11-28T16:10:28Z");
        assert_eq!(timestamp(951_782_400), "2000-02-29T00:00:00Z");
        assert_eq!(short("sha256:0bac6e16db064565888bcab9"), "0bac6e16db06");
        assert_eq!(short("abc"), "abc");
    }

    #[test]
    fn status_reads_every_block() {
        use crate::dbus::proxy::{EngineBlock, InstalledBlock};
        let v = StatusReport {
            version: "0.1.0".into(),
            engine: EngineBlock {
                name: "podman".into(),
                version: "4.3.1".into(),
                api_version: "1.41".into(),
                socket: "/run/podman/podman.sock".into(),
                available: true,
            },
            host: HostBlock { backend: "none".into(), ..HostBlock::default() },
            installed: vec![InstalledBlock {
                image: "ntpd".into(),
                name: "ntpd".into(),
                image_id: "sha256:0123456789abcdef".into(),
                ..InstalledBlock::default()
            }],
            applications: vec![crate::dbus::proxy::AppEntry {
                unit: "atomic-app-ntpd.service".into(),
                unit_state: "active (running)".into(),
                image: "ntpd".into(),
                image_id: "sha256:0123456789abcdef".into(),
                last_result: "installed\u{202e}".into(),
                ..Default::default()
            }],
        };
        let text = status(&v);
        assert!(
            text.contains("service:   atomic-app-ntpd.service active (running) on ntpd (0123456789ab): installed\\u{202e}"),
            "{text}"
        );
        assert!(text.contains("podman 4.3.1 (API 1.41) at /run/podman/podman.sock"), "{text}");
        assert!(text.contains("none (0 deployments)"));
        assert!(text.contains("ntpd as ntpd (0123456789ab)"));
    }

    #[test]
    fn host_status_marks_the_default_and_shows_the_update() {
        let host = HostBlock {
            backend: "ostree".into(),
            deployments: vec![DeploymentBlock {
                osname: "os".into(),
                origin: "o:os/stable".into(),
                version: "1.0".into(),
                checksum: "0123456789abcdef0123".into(),
                booted: true,
                default: true,
                ..DeploymentBlock::default()
            }],
            ..HostBlock::default()
        };
        let update = UpdateBlock {
            version: Some("2.0".into()),
            checksum: Some("fedcba9876543210".into()),
            diff: Some(crate::dbus::proxy::DiffBlock { files_changed: Some(3), ..Default::default() }),
            ..UpdateBlock::default()
        };
        let text = host_status(&host, &update);
        assert!(text.contains("● os:o:os/stable (booted)"), "{text}");
        assert!(text.contains("Commit: 0123456789ab"), "{text}");
        assert!(text.contains("Available: 2.0 (3 files changed, 0 added, 0 removed)"), "{text}");
        let none = host_status(&host, &UpdateBlock::default());
        assert!(none.contains("Available: nothing found by the last check"), "{none}");
    }

    #[test]
    fn updates_show_the_lock_only_for_strategies_with_one() {
        let mut u =
            UpdatesBlock { policy: "apply".into(), strategy: "immediate".into(), ..Default::default() };
        let text = updates(&u);
        assert!(
            text.contains("Policy:      apply (strategy immediate)") && text.contains("Last check:  never")
        );
        assert!(!text.contains("Reboot slot"), "{text}");
        u.lock = Some(crate::dbus::proxy::LockBlock {
            backend: "etcd".into(),
            group: "workers".into(),
            held: true,
            since: 951_782_400,
        });
        let text = updates(&u);
        assert!(text.contains("Reboot slot: etcd group workers, held since 2000-02-29T00:00:00Z"), "{text}");
    }
}
