//! The rpm-ostree and bootc backends over the real bus, through tests/fake/hostctl.py: those
//! tools cannot run on Debian, so a stand-in speaks their recorded formats and keeps its state
//! between calls as they do (the fake says where each field comes from).
// Its helpers are test code too, though outside a #[test] (which clippy.toml already allows).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::path::PathBuf;

use common::*;
use futures_util::StreamExt;
use serde_json::{json, Value};

/// A fake host: its state file, its sysroot (for the status cache) and the calls it saw.
struct FakeHost {
    dir: PathBuf,
}

impl FakeHost {
    fn new(state: &Value) -> FakeHost {
        let dir = std::env::temp_dir().join(format!("atomicd-fakehost-{}", unique()));
        std::fs::create_dir_all(dir.join("sysroot/ostree/deploy")).unwrap();
        std::fs::write(dir.join("state"), state.to_string()).unwrap();
        FakeHost { dir }
    }

    fn daemon(&self, backend: &str, extra: &[(&str, &str)]) -> Daemon {
        let fake = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fake");
        let path = format!("{}:{}", fake.display(), std::env::var("PATH").unwrap_or_default());
        let (state, calls, sysroot) = (self.path("state"), self.path("calls"), self.path("sysroot"));
        let mut env = vec![
            ("PATH", path.as_str()),
            ("FAKE_HOST_STATE", state.as_str()),
            ("FAKE_HOST_CALLS", calls.as_str()),
            ("FAKE_SYSROOT", sysroot.as_str()),
        ];
        env.extend_from_slice(extra);
        let args = ["--engine-socket", PODMAN_SOCK, "--host-backend", backend, "--sysroot", sysroot.as_str()];
        Daemon::start_with_env(&args, &env)
    }

    fn path(&self, name: &str) -> String {
        self.dir.join(name).display().to_string()
    }

    fn statuses(&self) -> usize {
        let calls = std::fs::read_to_string(self.dir.join("calls")).unwrap_or_default();
        calls.lines().filter(|l| l.ends_with(" status --json") || l.contains(" status --json ")).count()
    }
}

impl Drop for FakeHost {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn commit(version: &str, n: char) -> Value {
    json!({"version": version, "checksum": n.to_string().repeat(64), "timestamp": 1_600_000_000,
           "digest": format!("sha256:{}", n.to_string().repeat(64)), "iso-time": "2020-09-13T12:26:40Z"})
}

fn booted(version: &str, n: char, origin: &str) -> Value {
    let mut c = commit(version, n);
    c["origin"] = json!(origin);
    c["booted"] = json!(true);
    c
}

async fn host() -> HostBlock {
    proxy().await.status().await.unwrap().host
}

async fn versions() -> Vec<(String, bool, bool)> {
    host().await.deployments.into_iter().map(|d| (d.version, d.default, d.pinned)).collect()
}

async fn cached_update() -> UpdateBlock {
    proxy().await.cached_update().await.unwrap()
}

/// An update's diff as (packages upgraded, added, removed).
fn package_counts(update: &UpdateBlock) -> (Option<u32>, Option<u32>, Option<u32>) {
    let d = update.diff.clone().unwrap_or_default();
    (d.packages_upgraded, d.packages_added, d.packages_removed)
}

fn v(list: &[(&str, bool, bool)]) -> Vec<(String, bool, bool)> {
    list.iter().map(|(s, d, p)| (s.to_string(), *d, *p)).collect()
}

#[tokio::test(flavor = "multi_thread")]
#[ignore = "needs the test world (tests/world.sh up, as root); tests/run.sh runs it"]
async fn rpm_ostree_check_deploy_rebase_pin_cleanup_and_rollback() {
    let mut available = commit("31.2", 'b');
    available["rpm-diff"] = json!({
        "upgraded": [[0, "kernel", ["5.6.13-300.fc32", "x86_64"], ["5.6.15-300.fc32", "x86_64"]]],
        "downgraded": [], "removed": [[1, "nano", "4.9-1.fc32", "x86_64"]],
        "added": [[2, "htop", "2.2.0-7.fc32", "x86_64"], [2, "tmux", "3.0a-2.fc32", "x86_64"]]});
    let fake = FakeHost::new(&json!({
        "deployments": [booted("31.1", 'a', "fedora:fedora/x86_64/coreos/stable")],
        "available": available,
        "history": [commit("31.0", 'c')],
        "origins": {"fedora:fedora/x86_64/coreos/testing": [commit("32.1", 'd')]},
    }));
    let _d = fake.daemon("rpm-ostree", &[]);
    let p = proxy().await;
    assert_eq!(versions().await, v(&[("31.1", true, false)]));
    assert_eq!(cached_update().await.version, None, "no check yet");

    let check = p.host_upgrade(&UpgradeOptions { check: Some(true), ..Default::default() }).await;
    let check = check.unwrap();
    assert_eq!(
        (check.available, check.update.and_then(|u| u.version).as_deref()),
        (Some(true), Some("31.2"))
    );
    let update = cached_update().await;
    assert_eq!(package_counts(&update), (Some(1), Some(2), Some(1)));
    assert_eq!(update.diff.and_then(|d| d.files_changed), None, "rpm-ostree's diff counts packages");
    let (_, text, _) = cli_as(NOBODY, &["host", "status"]);
    assert!(text.contains("Available: 31.2 (1 packages upgraded, 2 added, 1 removed)"), "{text}");
    assert_eq!(versions().await, v(&[("31.1", true, false)]), "a check deploys nothing");

    let up = p.host_upgrade(&Default::default()).await.unwrap();
    assert!(up.changed);
    assert_eq!(versions().await, v(&[("31.2", true, false), ("31.1", false, false)]));
    assert_eq!(cached_update().await.version, None, "deployed: no longer an update");

    let deployed = p.host_deploy("31.0", &DeployOptions::default()).await.unwrap();
    assert_eq!(deployed.deployment.version, "31.0");
    let r = p.host_deploy("29.9", &DeployOptions::default()).await;
    assert!(error_text(&r).contains("Failed to resolve version 29.9"), "{r:?}");
    let testing = "fedora:fedora/x86_64/coreos/testing";
    let rebased = p.host_rebase(testing, &RebaseOptions::default()).await.unwrap();
    assert_eq!((rebased.deployment.version.as_str(), rebased.deployment.origin.as_str()), ("32.1", testing));

    // Pin the booted deployment, then clean up everything: only the pending one can go.
    let booted_id = host().await.deployments.into_iter().find(|d| d.booted).map(|d| d.id);
    p.host_pin(&booted_id.clone().unwrap_or_default(), true).await.unwrap();
    assert_eq!(versions().await, v(&[("32.1", true, false), ("31.1", false, true)]));
    let removed =
        p.host_cleanup(&CleanupOptions { pending: Some(true), rollback: Some(true) }).await.unwrap();
    assert_eq!(removed.removed.len(), 1, "only the pending deployment: {removed:?}");
    assert_eq!(versions().await, v(&[("31.1", true, true)]), "the booted and pinned one stays");
    let calls = std::fs::read_to_string(fake.dir.join("calls")).unwrap_or_default();
    assert!(calls.contains("ostree admin pin 1"), "pins go through ostree admin pin: {calls}");
}

#[tokio::test(flavor = "multi_thread")]
#[ignore = "needs the test world (tests/world.sh up, as root); tests/run.sh runs it"]
async fn status_is_read_once_per_change_and_survives_a_failing_tool() {
    let fake = FakeHost::new(&json!({"deployments": [booted("31.1", 'a', "fedora:stable")]}));
    let d = fake.daemon("rpm-ostree", &[]);
    for _ in 0..20 {
        assert_eq!(versions().await.len(), 1);
    }
    assert_eq!(fake.statuses(), 1, "20 Status calls while ostree/deploy is unchanged start one process");
    std::thread::sleep(std::time::Duration::from_millis(20));
    let _ = std::fs::File::create(fake.dir.join("sysroot/ostree/deploy/touched"));
    let _ = versions().await;
    assert_eq!(fake.statuses(), 2, "a change of ostree/deploy is read again");
    drop(d);

    let _d = fake.daemon("rpm-ostree", &[("FAKE_HOST_FAIL", "1")]);
    let status = proxy().await.status().await.unwrap();
    assert!(status.host.deployments.is_empty(), "{status:?}");
    let error = status.host.error.clone().unwrap_or_default();
    assert!(error.contains("Connection to the daemon was lost"), "{status:?}");
    assert!(status.engine.available, "the engine still answers: {status:?}");
    let (code, text, _) = cli_as(NOBODY, &["host", "status"]);
    assert_eq!(code, 0);
    assert!(text.contains("Error: ") && text.contains("Connection to the daemon was lost"), "{text}");
}

#[tokio::test(flavor = "multi_thread")]
#[ignore = "needs the test world (tests/world.sh up, as root); tests/run.sh runs it"]
async fn bootc_reads_its_boot_order_and_cached_update_and_refuses_deploy() {
    let image = "quay.io/example/os:latest";
    let mut old = booted("41.1", 'a', image);
    old["booted"] = json!(false);
    let fake = FakeHost::new(&json!({
        "deployments": [booted("41.2", 'b', image), old],
        "available": commit("41.3", 'c'),
        "origins": {"quay.io/example/other:latest": [commit("7.0", 'd')]},
    }));
    let _d = fake.daemon("bootc", &[]);
    let p = proxy().await;
    assert_eq!(versions().await, v(&[("41.2", true, false), ("41.1", false, false)]));

    // A rollback is queued, not a reordering: bootc then reports bootOrder rollback, and the
    // rollback deployment is the default.
    let back = p.rollback(&Default::default()).await.unwrap();
    assert_eq!(back.deployment.version, "41.1");
    assert_eq!(versions().await, v(&[("41.1", true, false), ("41.2", false, false)]));
    // The CLI's --json prints the answer whole, as the dictionary atomicd sent.
    let (code, out, err) = cli_as(0, &["host", "rollback", "--json"]);
    assert_eq!(code, 0, "{err}");
    let whole: Value = serde_json::from_str(&out).unwrap_or_else(|e| panic!("{e}: {out}"));
    assert_eq!(whole["deployment"]["version"], "41.2", "{out}");
    assert_eq!(versions().await, v(&[("41.2", true, false), ("41.1", false, false)]));

    let (code, out, err) = cli_as(0, &["host", "upgrade", "--check", "--json"]);
    assert_eq!(code, 0, "{err}");
    let whole: Value = serde_json::from_str(&out).unwrap_or_else(|e| panic!("{e}: {out}"));
    assert_eq!((&whole["available"], &whole["update"]["version"]), (&json!(true), &json!("41.3")), "{out}");
    let (code, out, _) = cli_as(0, &["host", "upgrade", "--check"]);
    assert_eq!(code, 0);
    assert!(out.starts_with("Available: 41.3 (image "), "{out}");
    let update = cached_update().await;
    let digest = update.diff.and_then(|d| d.digest);
    assert_eq!((update.version, digest), (Some("41.3".into()), Some(format!("sha256:{}", "c".repeat(64)))));

    let r = p.host_deploy("41.0", &DeployOptions::default()).await;
    assert_eq!(error_name(&r), "org.atomic.Error.HostNotSupported", "{r:?}");
    assert!(error_text(&r).contains("HostRebase"), "it says what to do instead: {r:?}");

    let other = "quay.io/example/other:latest";
    let switched = p.host_rebase(other, &RebaseOptions::default()).await.unwrap();
    assert_eq!((switched.deployment.origin.as_str(), switched.deployment.version.as_str()), (other, "7.0"));
    assert!(switched.deployment.staged);
    assert_eq!(cached_update().await.version, None, "the host moved past it: a newer default");
}

#[tokio::test(flavor = "multi_thread")]
#[ignore = "needs the test world (tests/world.sh up, as root); tests/run.sh runs it"]
async fn cached_update_changes_are_signalled_and_a_committed_job_refuses_cancel() {
    let mut old = booted("31.0", 'c', "fedora:stable");
    old["booted"] = json!(false);
    let fake = FakeHost::new(&json!({
        "deployments": [booted("31.1", 'a', "fedora:stable"), old],
        "available": commit("31.2", 'b'),
    }));
    let _d = fake.daemon("rpm-ostree", &[("FAKE_HOST_ROLLBACK_DELAY", "2")]);
    let conn = zbus::Connection::system().await.unwrap();
    let p = atomicd::dbus::proxy::ManagerProxy::new(&conn).await.unwrap();
    let mut changes = p.receive_cached_update_changed().await;
    let _ = tokio::time::timeout(std::time::Duration::from_millis(300), changes.next()).await; // the initial value
    let check = UpgradeOptions { check: Some(true), ..Default::default() };
    p.host_upgrade(&check).await.unwrap();
    let changed = tokio::time::timeout(std::time::Duration::from_secs(5), changes.next())
        .await
        .unwrap_or_else(|_| panic!("no PropertiesChanged for CachedUpdate after a check"))
        .unwrap_or_else(|| panic!("the stream ended"));
    let update = changed.get().await.unwrap();
    assert_eq!(update.version.as_deref(), Some("31.2"));

    // A rollback is one step: its job says it can no longer be cancelled, and Cancel says so.
    let options = RollbackOptions::default();
    let call = p.rollback(&options);
    tokio::pin!(call);
    let job = tokio::select! {
        r = &mut call => panic!("the rollback ended before its job was seen: {r:?}"),
        j = job_where(&conn, |_, m| m.contains("previous deployment")) => j.0,
    };
    let job_proxy =
        atomicd::dbus::proxy::JobProxy::builder(&conn).path(job.clone()).unwrap().build().await.unwrap();
    assert_eq!(job_proxy.cancellable().await.ok(), Some(false));
    let r = job_proxy.cancel().await;
    assert!(error_text(&r).contains("can no longer be cancelled"), "{r:?}");
    let back = call.await.unwrap_or_else(|e| panic!("the rollback must finish: {e}"));
    assert_eq!(back.deployment.version, "31.0");
}
