//! The ostree backend end to end over the real bus, on a throwaway sysroot built here with
//! Debian's ostree (ARCHITECTURE.md, "Tests"): upgrade, rollback, check, Busy, refusal.
// Its helpers are test code too, though outside a #[test] (which clippy.toml already allows).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use common::*;

fn sh(script: &str) {
    let out = Command::new("bash").args(["-euc", script]).output().unwrap();
    assert!(out.status.success(), "{script}\n{}", String::from_utf8_lossy(&out.stderr));
}

/// A sysroot with `testos` deployed from commit 1.0 of testos/stable.
fn sysroot() -> PathBuf {
    let dir = std::env::temp_dir().join(format!("atomicd-sysroot-{}", unique()));
    let s = dir.join("sysroot");
    sh(&format!(
        r#"D={d}; S={s}
        mkdir -p $S $D/tree/usr/lib/modules/6.1.0 $D/tree/usr/etc $D/tree/usr/bin
        echo kernel > $D/tree/usr/lib/modules/6.1.0/vmlinuz
        echo initramfs > $D/tree/usr/lib/modules/6.1.0/initramfs.img
        printf 'ID=testos\nPRETTY_NAME="Test OS"\n' > $D/tree/usr/lib/os-release
        echo testhost > $D/tree/usr/etc/hostname
        ostree admin init-fs $S
        ostree admin os-init --sysroot=$S testos
        ostree --repo=$S/ostree/repo commit -b testos/stable --add-metadata-string=version=1.0 --tree=dir=$D/tree
        ostree admin deploy --sysroot=$S --os=testos testos/stable"#,
        d = dir.display(),
        s = s.display()
    ));
    s
}

/// An atomicd on the ostree backend over `sysroot`.
fn ostree_daemon(sysroot: &Path) -> Daemon {
    let arg = sysroot.display().to_string();
    Daemon::start(&["--engine-socket", PODMAN_SOCK, "--host-backend", "ostree", "--sysroot", &arg])
}

/// Removes a test sysroot; ostree marks deployment roots immutable, so that goes first.
fn remove(sysroot: &Path) {
    let _ = Command::new("sh")
        .args(["-c", &format!("chattr -i {}/ostree/deploy/*/deploy/* 2>/dev/null", sysroot.display())])
        .status();
    let _ = std::fs::remove_dir_all(sysroot.parent().unwrap_or(sysroot));
}

fn commit(sysroot: &Path, version: &str) {
    let tree = sysroot.parent().map(|p| p.join("tree")).unwrap_or_default();
    sh(&format!(
        "echo {version} > {t}/usr/etc/release && ostree --repo={s}/ostree/repo commit -b testos/stable \
         --add-metadata-string=version={version} --tree=dir={t}",
        t = tree.display(),
        s = sysroot.display()
    ));
}

async fn versions() -> Vec<(String, bool)> {
    let host = proxy().await.status().await.unwrap().host;
    assert_eq!(host.backend, "ostree");
    host.deployments.into_iter().map(|d| (d.version, d.default)).collect()
}

fn v(list: &[(&str, bool)]) -> Vec<(String, bool)> {
    list.iter().map(|(s, b)| (s.to_string(), *b)).collect()
}

#[tokio::test(flavor = "multi_thread")]
#[ignore = "needs the test world (tests/world.sh up, as root); tests/run.sh runs it"]
async fn ostree_upgrade_rollback_check_busy_and_refusal() {
    let s = sysroot();
    let _d = ostree_daemon(&s);
    assert_eq!(versions().await, v(&[("1.0", true)]));
    let (code, table, _) = cli_as(NOBODY, &["host", "status"]);
    assert_eq!(code, 0);
    assert!(table.contains("● testos:testos/stable") && table.contains("Version: 1.0"), "{table}");

    commit(&s, "2.0");
    let p = proxy().await;
    let check = p.host_upgrade(&UpgradeOptions { check: Some(true), ..Default::default() }).await.unwrap();
    assert!(check.changed);
    assert_eq!(versions().await, v(&[("1.0", true)]), "check must not deploy");

    // nobody: refused, nothing changed.
    let r = call_as(NOBODY, &["--interactive", "HostUpgrade"]);
    assert_eq!(r.error.map(|e| e.0).as_deref(), Some("org.freedesktop.DBus.Error.AccessDenied"));
    assert_eq!(versions().await, v(&[("1.0", true)]));

    let up = p.host_upgrade(&Default::default()).await.unwrap();
    assert!(up.changed);
    assert_eq!(versions().await, v(&[("2.0", true), ("1.0", false)]));
    let again = p.host_upgrade(&Default::default()).await.unwrap();
    assert!(!again.changed, "already up to date");

    let (_, before, _) = cli_as(0, &["host", "status"]);
    let r = p.rollback(&Default::default()).await.unwrap();
    assert_eq!(r.deployment.version, "1.0");
    assert_eq!(versions().await, v(&[("1.0", true), ("2.0", false)]), "rollback reorders, deletes nothing");
    let (_, after, _) = cli_as(0, &["host", "status"]);
    assert_ne!(before, after);
    println!("atomic host status before rollback:\n{before}\nafter:\n{after}");

    p.host_upgrade(&Default::default()).await.unwrap();
    assert_eq!(versions().await[0], ("2.0".to_owned(), true));

    // A second host operation while one runs is Busy. The first is held on the sysroot lock
    // by a POSIX lock that conflicts with libostree's OFD lock.
    commit(&s, "3.0");
    let lock = s.join("ostree/lock");
    let mut holder = Command::new("python3")
        .args(["-c", "import fcntl,sys,time; f=open(sys.argv[1],'a'); fcntl.lockf(f, fcntl.LOCK_EX); print('held', flush=True); time.sleep(4)"])
        .arg(&lock)
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut held = String::new();
    if let Some(out) = holder.stdout.as_mut() {
        use std::io::Read;
        let mut buf = [0u8; 5];
        let _ = out.read_exact(&mut buf);
        held = String::from_utf8_lossy(&buf).into_owned();
    }
    assert_eq!(held, "held\n");
    let first = tokio::spawn(async { proxy().await.host_upgrade(&Default::default()).await });
    tokio::time::sleep(Duration::from_millis(700)).await;
    let second = proxy().await.host_upgrade(&Default::default()).await;
    assert_eq!(error_name(&second), "org.atomic.Error.Busy");
    let _ = holder.wait();
    let first = first.await.unwrap().unwrap();
    assert!(first.changed);
    assert_eq!(versions().await[0], ("3.0".to_owned(), true));

    // A failed upgrade (the origin no longer resolves) leaves the deployment list as it was.
    let listed = versions().await;
    sh(&format!("ostree --repo={}/ostree/repo refs --delete testos/stable", s.display()));
    let r = proxy().await.host_upgrade(&Default::default()).await;
    assert_eq!(error_name(&r), "org.atomic.Error.Failed");
    {
        let msg = error_text(&r);
        assert!(msg.contains("testos/stable"), "{msg}");
    }
    assert_eq!(versions().await, listed);
    remove(&s);
}

#[test]
#[ignore = "needs the test world (tests/world.sh up, as root); tests/run.sh runs it"]
fn host_status_json_is_the_host_block() {
    let s = sysroot();
    let _d = ostree_daemon(&s);
    let (code, out, err) = cli_as(NOBODY, &["host", "status", "--json"]);
    assert_eq!(code, 0, "{err}");
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    let d = &v["deployments"][0];
    assert_eq!(v["backend"], "ostree");
    for key in [
        "id",
        "osname",
        "checksum",
        "version",
        "timestamp",
        "booted",
        "staged",
        "pinned",
        "default",
        "origin",
    ] {
        assert!(!d[key].is_null(), "{key} missing from {d}");
    }
    assert_eq!(d["osname"], "testos");
    assert_eq!(d["origin"], "testos/stable");
    assert_eq!(d["checksum"].as_str().map(str::len), Some(64));
    assert!(d["timestamp"].as_u64().unwrap_or(0) > 1_600_000_000);

    // A deployment written by another tool shows in the next Status: the cached list is
    // dropped when libostree bumps the sysroot's ostree/deploy.
    commit(&s, "1.1");
    sh(&format!("ostree admin deploy --sysroot={} --os=testos testos/stable", s.display()));
    let (_, out, _) = cli_as(NOBODY, &["host", "status", "--json"]);
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["deployments"][0]["version"], "1.1", "{v}");
    assert_eq!(v["deployments"].as_array().map(Vec::len), Some(2));
    remove(&s);
}

async fn deployments() -> Vec<DeploymentBlock> {
    proxy().await.status().await.unwrap().host.deployments
}

async fn cached_update() -> UpdateBlock {
    proxy().await.cached_update().await.unwrap()
}

#[tokio::test(flavor = "multi_thread")]
#[ignore = "needs the test world (tests/world.sh up, as root); tests/run.sh runs it"]
async fn ostree_cached_update_deploy_pin_cleanup_and_rebase() {
    let s = sysroot();
    let mut d = ostree_daemon(&s);
    commit(&s, "2.0"); // adds usr/etc/release
    commit(&s, "3.0"); // changes it
    let p = proxy().await;
    let check = p.host_upgrade(&UpgradeOptions { check: Some(true), ..Default::default() }).await;
    let check = check.unwrap();
    assert_eq!((check.available, check.update.and_then(|u| u.version).as_deref()), (Some(true), Some("3.0")));
    let update = cached_update().await;
    assert_eq!(update.version.as_deref(), Some("3.0"));
    assert_eq!(update.origin.as_deref(), Some("testos/stable"));
    let diff = update.diff.unwrap_or_default();
    assert_eq!((diff.files_changed, diff.files_added, diff.files_removed), (Some(0), Some(1), Some(0)));
    assert_eq!((diff.packages_upgraded, diff.digest), (None, None), "an ostree diff counts files only");
    let (_, text, _) = cli_as(NOBODY, &["host", "status"]);
    assert!(text.contains("Available: 3.0 (0 files changed, 1 added, 0 removed)"), "{text}");
    println!("atomic host status with a cached update:\n{text}");

    // Kept across a restart of atomicd.
    d = d.restart(&[
        "--engine-socket",
        PODMAN_SOCK,
        "--host-backend",
        "ostree",
        "--sysroot",
        &s.display().to_string(),
    ]);
    assert_eq!(cached_update().await.version.as_deref(), Some("3.0"));

    // An older version of the origin: deployed; the update is still ahead of it.
    let older = p.host_deploy("2.0", &DeployOptions::default()).await.unwrap();
    assert_eq!((older.deployment.version.as_str(), older.deployment.default), ("2.0", true));
    assert_eq!(versions().await, v(&[("2.0", true), ("1.0", false)]));
    assert_eq!(cached_update().await.version.as_deref(), Some("3.0"));
    let r = p.host_deploy("0.5", &DeployOptions::default()).await;
    assert_eq!(error_name(&r), "org.atomic.Error.Failed");
    assert!(
        error_text(&r)
            .contains("\"0.5\" is neither a version nor a checksum in the history of testos/stable"),
        "{r:?}"
    );
    let r = call_as(NOBODY, &["--interactive", "HostDeploy", "1.0"]);
    assert_eq!(r.error.map(|e| e.0).as_deref(), Some("org.freedesktop.DBus.Error.AccessDenied"));

    // Pin 1.0: an upgrade and a cleanup both keep it.
    let one = deployments().await.into_iter().find(|d| d.version == "1.0").unwrap_or_default();
    let id = one.id;
    let (code, out, err) = cli_as(0, &["host", "pin", &id]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(out, format!("Pinned {id}.\n"));
    let up = p.host_upgrade(&Default::default()).await.unwrap();
    assert!(up.changed);
    assert_eq!(cached_update().await.version, None, "deployed: no longer an update");
    let raw = proxy().await.cached_update_dict().await.unwrap();
    assert!(raw.is_empty(), "no update is an empty dictionary, as documented: {raw:?}");
    let listed = deployments().await;
    assert!(listed.iter().any(|d| d.version == "1.0" && d.pinned), "{listed:?}");
    let (code, out, err) = cli_as(0, &["host", "cleanup", "--rollback"]);
    assert_eq!(code, 0, "{err}");
    assert!(out.starts_with("Removed "), "{out}");
    let listed = deployments().await;
    let kept: Vec<(&str, bool)> = listed.iter().map(|d| (d.version.as_str(), d.pinned)).collect();
    assert_eq!(kept, [("3.0", false), ("1.0", true)], "the default and the pinned one stay");
    let (_, text, _) = cli_as(NOBODY, &["host", "status"]);
    assert!(text.contains("testos:testos/stable (pinned)"), "{text}");
    println!("atomic host status after an upgrade and a cleanup, 1.0 pinned:\n{text}");
    let (_, out, _) = cli_as(0, &["host", "unpin", &id]);
    assert_eq!(out, format!("Unpinned {id}.\n"));

    // Rebase to another branch of the repository.
    let tree = s.parent().map(|p| p.join("tree")).unwrap_or_default();
    sh(&format!(
        "ostree --repo={s}/ostree/repo commit -b testos/next --add-metadata-string=version=9.0 --tree=dir={t}",
        s = s.display(),
        t = tree.display()
    ));
    let (code, out, err) = cli_as(0, &["host", "rebase", "testos/next"]);
    assert_eq!(code, 0, "{err}");
    assert!(out.starts_with("Rebased to 9.0 (commit "), "{out}");
    let first = deployments().await.into_iter().next().unwrap_or_default();
    assert_eq!((first.version.as_str(), first.origin.as_str()), ("9.0", "testos/next"));
    let (_, text, _) = cli_as(NOBODY, &["host", "status"]);
    println!("atomic host status after a pin and a rebase:\n{text}");
    drop(d);
    remove(&s);
}

/// Serves `repo` over HTTP, each request delayed by `delay` seconds (tests/support/slow-http.py).
fn serve(repo: &Path, delay: &str) -> (std::process::Child, String) {
    let port_file = repo.with_extension(format!("port{}", unique()));
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/support/slow-http.py");
    let child = Command::new("python3")
        .arg(script)
        .args([repo.as_os_str(), port_file.as_os_str()])
        .arg(delay)
        .spawn()
        .unwrap();
    assert!(wait_until(Duration::from_secs(10), || port_file.exists()), "the HTTP server did not start");
    let port = std::fs::read_to_string(&port_file).unwrap();
    (child, format!("http://127.0.0.1:{port}"))
}

/// Points the deployment's origin at remote `slow` with `url`.
fn set_remote(sysroot: &Path, url: &str) {
    sh(&format!(
        "S={s}; ostree remote delete --repo=$S/ostree/repo --if-exists slow
         ostree remote add --repo=$S/ostree/repo --no-gpg-verify slow {url}
         sed -i 's|^refspec=.*|refspec=slow:testos/stable|' $S/ostree/deploy/testos/deploy/*.origin",
        s = sysroot.display()
    ));
}

#[tokio::test(flavor = "multi_thread")]
#[ignore = "needs the test world (tests/world.sh up, as root); tests/run.sh runs it"]
async fn a_cancelled_upgrade_pull_leaves_the_host_as_it_was() {
    let s = sysroot();
    let dir = s.parent().map(Path::to_path_buf).unwrap_or_default();
    // Version 2.0 in a remote archive repository: 400 more files, one request each.
    let remote = dir.join("remote");
    sh(&format!(
        "D={d}; ostree init --repo=$D/remote --mode=archive
         cp -a $D/tree $D/tree2 && mkdir -p $D/tree2/usr/share/filler
         for i in $(seq 400); do echo $i > $D/tree2/usr/share/filler/f$i; done
         ostree --repo=$D/remote commit -b testos/stable --add-metadata-string=version=2.0 --tree=dir=$D/tree2",
        d = dir.display()
    ));
    let (mut slow, url) = serve(&remote, "0.02");
    set_remote(&s, &url);
    let _d = ostree_daemon(&s);
    let conn = zbus::Connection::system().await.unwrap();
    let p = atomicd::dbus::proxy::ManagerProxy::new(&conn).await.unwrap();
    let options = UpgradeOptions::default();
    let call = p.host_upgrade(&options);
    tokio::pin!(call);
    let pulling =
        |progress: f64, message: &str| message.contains("objects") && progress > 0.0 && progress < 1.0;
    let (job, progress, message) = tokio::select! {
        r = &mut call => panic!("the upgrade ended before its pull progress was seen: {r:?}"),
        seen = job_where(&conn, pulling) => seen,
    };
    println!("upgrade job {job} at Progress {progress:.2}: {message}");
    cancel_job(&conn, &job).await;
    let r = tokio::time::timeout(Duration::from_secs(15), call).await.unwrap_or_else(|_| panic!("no end"));
    assert_eq!(error_name(&r), "org.atomic.Error.Cancelled", "{r:?}");
    assert_eq!(versions().await, v(&[("1.0", true)]), "a cancelled upgrade changed the deployments");

    // A deploy of a version from the same slow remote, cancelled while it pulls: the same.
    let deploy_options = DeployOptions::default();
    let call = p.host_deploy("2.0", &deploy_options);
    tokio::pin!(call);
    let (job, _, message) = tokio::select! {
        r = &mut call => panic!("the deploy ended before its pull progress was seen: {r:?}"),
        seen = job_where(&conn, pulling) => seen,
    };
    println!("deploy job {job}: {message}");
    cancel_job(&conn, &job).await;
    let r = tokio::time::timeout(Duration::from_secs(15), call).await.unwrap_or_else(|_| panic!("no end"));
    assert_eq!(error_name(&r), "org.atomic.Error.Cancelled", "{r:?}");
    assert_eq!(versions().await, v(&[("1.0", true)]), "a cancelled deploy changed the deployments");
    let _ = slow.kill();
    let _ = slow.wait();

    // The same upgrade from a prompt server: the half-done pull is no obstacle, the lock is free.
    let (mut fast, url) = serve(&remote, "0");
    set_remote(&s, &url);
    let up = p.host_upgrade(&Default::default()).await.unwrap_or_else(|e| panic!("after cancel: {e}"));
    assert!(up.changed);
    assert_eq!(versions().await, v(&[("2.0", true), ("1.0", false)]));
    let _ = fast.kill();
    let _ = fast.wait();
    remove(&s);
}
