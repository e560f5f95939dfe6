//! `reboot` through logind. This machine has no running systemd-logind (its bus activation
//! fails), which is the first case; then a stand-in that the test itself serves on the system
//! bus as org.freedesktop.login1 — a fake, recorded from logind's documented interface
//! (org.freedesktop.login1(5): `Manager.Reboot(b interactive)` on /org/freedesktop/login1) —
//! shows that atomicd asks it, once, non-interactively, and only after the deployment is written.
// Its helpers are test code too, though outside a #[test] (which clippy.toml already allows).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::path::PathBuf;

use common::*;
use serde_json::json;

fn fake_rpm_ostree(dir: &std::path::Path) -> Daemon {
    let commit = |v: &str, n: char| json!({"version": v, "checksum": n.to_string().repeat(64), "timestamp": 1_600_000_000});
    let mut booted = commit("31.1", 'a');
    booted["origin"] = json!("fedora:stable");
    booted["booted"] = json!(true);
    let state = json!({"deployments": [booted], "available": commit("31.2", 'b')});
    std::fs::create_dir_all(dir).unwrap();
    std::fs::write(dir.join("state"), state.to_string()).unwrap();
    let fake = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fake");
    let path = format!("{}:{}", fake.display(), std::env::var("PATH").unwrap_or_default());
    let state = dir.join("state").display().to_string();
    Daemon::start_with_env(
        &["--engine-socket", PODMAN_SOCK, "--host-backend", "rpm-ostree"],
        &[("PATH", &path), ("FAKE_HOST_STATE", &state)],
    )
}

#[tokio::test(flavor = "multi_thread")]
#[ignore = "needs the test world (tests/world.sh up, as root); tests/run.sh runs it"]
async fn reboot_asks_logind_and_says_so_when_there_is_none() {
    let dir = std::env::temp_dir().join(format!("atomicd-reboot-{}", unique()));
    let _d = fake_rpm_ostree(&dir);
    let p = proxy().await;
    let reboot = UpgradeOptions { reboot: Some(true), ..Default::default() };
    let r = p.host_upgrade(&reboot).await;
    assert_eq!(error_name(&r), "org.atomic.Error.Failed", "{r:?}");
    let text = error_text(&r);
    assert!(text.contains("no logind on the system bus") && text.contains("reboot by hand"), "{text}");
    let status = p.status().await.unwrap();
    let first = status.host.deployments.first().map(|d| d.version.as_str());
    assert_eq!(first, Some("31.2"), "the deployment was written first");

    // Now with the stand-in logind on the bus.
    let logind = FakeLogind::default();
    let conn = logind.serve().await;
    let back = p.rollback(&RollbackOptions { reboot: Some(true) }).await;
    assert!(back.is_ok(), "{back:?}");
    assert_eq!(logind.asked(), [false], "one non-interactive Reboot");
    // No change, no reboot: nothing is available any more.
    let r = p.host_upgrade(&reboot).await.unwrap();
    assert!(!r.changed);
    assert_eq!(logind.asked().len(), 1);
    drop(conn);
    let _ = std::fs::remove_dir_all(&dir);
}
