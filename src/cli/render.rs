//! How the CLI prints atomicd's answers for people.

use std::fmt::Write;

use serde_json::Value;

fn s<'a>(v: &'a Value, key: &str) -> &'a str {
    v.get(key).and_then(Value::as_str).unwrap_or("")
}

/// `atomic status`
pub fn status(v: &Value) -> String {
    let mut out = String::new();
    let engine = &v["engine"];
    let _ = writeln!(out, "atomicd:   {}", s(v, "version"));
    if engine["available"].as_bool() == Some(true) {
        let _ = writeln!(
            out,
            "engine:    {} {} (API {}) at {}",
            s(engine, "name"),
            s(engine, "version"),
            s(engine, "api-version"),
            s(engine, "socket")
        );
    } else {
        let _ = writeln!(out, "engine:    unavailable (tried {})", s(engine, "socket"));
    }
    let host = &v["host"];
    let count = host["deployments"].as_array().map_or(0, Vec::len);
    let _ = writeln!(out, "host:      {} ({count} deployments)", s(host, "backend"));
    let installed = v["installed"].as_array().cloned().unwrap_or_default();
    if installed.is_empty() {
        let _ = writeln!(out, "installed: none");
    } else {
        let _ = writeln!(out, "installed:");
        for i in &installed {
            let _ = writeln!(out, "  {} as {} ({})", s(i, "image"), s(i, "name"), short(s(i, "image-id")));
        }
    }
    out
}

/// `atomic host status`: one block per deployment, the default marked, as rpm-ostree prints.
pub fn host_status(host: &Value) -> String {
    let mut out = String::new();
    let backend = s(host, "backend");
    let deployments = host["deployments"].as_array().cloned().unwrap_or_default();
    if backend == "none" {
        let _ = writeln!(out, "This machine is not an image-based host (backend: none).");
        return out;
    }
    let _ = writeln!(out, "Backend: {backend}");
    let _ = writeln!(out, "Deployments:");
    for d in &deployments {
        let mark = if d["default"].as_bool() == Some(true) { "●" } else { " " };
        let mut flags = Vec::new();
        for f in ["booted", "staged", "pinned"] {
            if d[f].as_bool() == Some(true) {
                flags.push(f);
            }
        }
        let _ = writeln!(
            out,
            "{mark} {}:{}{}",
            s(d, "osname"),
            s(d, "origin"),
            if flags.is_empty() { String::new() } else { format!(" ({})", flags.join(", ")) }
        );
        let _ = writeln!(
            out,
            "      Version: {} ({})",
            s(d, "version"),
            timestamp(d["timestamp"].as_u64().unwrap_or(0))
        );
        let _ = writeln!(out, "       Commit: {}", short(s(d, "checksum")));
        let _ = writeln!(out, "           Id: {}", s(d, "id"));
    }
    if let Some(error) = host["error"].as_str() {
        let _ = writeln!(out, "Error: {error}");
    }
    match available(&host["cached-update"]) {
        Some(line) => {
            let _ = writeln!(out, "{line}");
        }
        None => {
            let _ = writeln!(out, "Available: nothing found by the last check");
        }
    }
    out
}

/// "Available: 3.0 (12 files changed, 3 added, 1 removed)" for a cached update; None when empty.
pub fn available(update: &Value) -> Option<String> {
    let version = update["version"].as_str()?;
    let d = &update["diff"];
    let n = |k: &str| d[k].as_u64();
    let what = if let Some(changed) = n("files-changed") {
        format!(
            "{changed} files changed, {} added, {} removed",
            n("files-added").unwrap_or(0),
            n("files-removed").unwrap_or(0)
        )
    } else if let Some(upgraded) = n("packages-upgraded") {
        format!(
            "{upgraded} packages upgraded, {} added, {} removed",
            n("packages-added").unwrap_or(0),
            n("packages-removed").unwrap_or(0)
        )
    } else {
        d["digest"].as_str().map(|digest| format!("image {}", short(digest))).unwrap_or_default()
    };
    let when = update["timestamp"].as_u64().filter(|t| *t > 0).map(timestamp);
    let mut line = format!("Available: {version}");
    if !what.is_empty() {
        line.push_str(&format!(" ({what})"));
    }
    if let Some(when) = when {
        line.push_str(&format!(", committed {when}"));
    }
    line.push_str(&format!("\n       Commit: {}", short(s(update, "checksum"))));
    Some(line)
}

/// "Deployed 2.0 (commit abc…): it boots next" for a deployment answer.
pub fn deployed(what: &str, deployment: &Value, rebooting: bool) -> String {
    let then = if rebooting { "rebooting into it" } else { "it boots next; reboot to use it" };
    format!(
        "{what} {} (commit {}, {}): {then}.",
        s(deployment, "version"),
        short(s(deployment, "checksum")),
        s(deployment, "origin")
    )
}

/// The first 12 hex digits of an id or checksum, without its algorithm prefix.
pub fn short(id: &str) -> &str {
    let hex = id.split_once(':').map_or(id, |(_, h)| h);
    hex.get(..12).unwrap_or(hex)
}

/// `atomic host updates`: the policy and where its rounds are.
pub fn updates(u: &Value) -> String {
    let text = |key: &str| u[key].as_str().unwrap_or_default().to_owned();
    let time = |key: &str| match u[key].as_u64() {
        Some(0) | None => "never".to_owned(),
        Some(t) => timestamp(t),
    };
    let mut out = String::new();
    let _ = writeln!(out, "Policy:      {} (strategy {})", text("policy"), text("strategy"));
    if !text("window").is_empty() {
        let _ = writeln!(out, "Window:      {}", text("window"));
    }
    let _ = writeln!(out, "Last check:  {}", time("last-check"));
    if !text("last-result").is_empty() {
        let _ = writeln!(out, "Result:      {}", text("last-result"));
    }
    let _ = writeln!(out, "Next check:  {}", time("next-check"));
    if u["lock"].is_object() {
        let lock = &u["lock"];
        let held = if lock["held"] == true {
            format!("held since {}", timestamp(lock["since"].as_u64().unwrap_or(0)))
        } else {
            "not held".to_owned()
        };
        let _ = writeln!(
            out,
            "Reboot slot: {} group {}, {held}",
            lock["backend"].as_str().unwrap_or_default(),
            lock["group"].as_str().unwrap_or_default()
        );
    }
    if !text("error").is_empty() {
        let _ = writeln!(out, "Error:       {}", text("error"));
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
        let v = serde_json::json!({
            "version": "0.1.0",
            "engine": {"name": "podman", "version": "4.3.1", "api-version": "1.41", "socket": "/run/podman/podman.sock", "available": true},
            "host": {"backend": "none", "deployments": []},
            "installed": [{"image": "ntpd", "name": "ntpd", "image-id": "sha256:0123456789abcdef"}]
        });
        let text = status(&v);
        assert!(text.contains("podman 4.3.1 (API 1.41) at /run/podman/podman.sock"), "{text}");
        assert!(text.contains("none (0 deployments)"));
        assert!(text.contains("ntpd as ntpd (0123456789ab)"));
    }
}
