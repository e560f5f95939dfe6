//! Faults: atomicd killed in the middle of Install, the engine killed under a running call, an
//! attached Run and a pull; a full state directory; polkitd gone.
// Its helpers are test code too, though outside a #[test] (which clippy.toml already allows).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::process::{Command, Stdio};
use std::time::Duration;

use common::*;

#[tokio::test(flavor = "multi_thread")]
#[ignore = "needs the test world (tests/world.sh up, as root); tests/run.sh runs it"]
async fn sigkill_during_install_leaves_no_record_or_a_whole_one() {
    let d = Daemon::start(&["--engine-socket", PODMAN_SOCK]);
    let state = d.state_dir.clone();
    let name = format!("killed{}", unique());
    let install = {
        let name = name.clone();
        tokio::spawn(async move {
            let opts = InstallOptions { name: Some(name.clone()), ..Default::default() };
            proxy().await.install("atomic-test/slowinstall", &opts).await
        })
    };
    tokio::time::sleep(Duration::from_millis(1500)).await;
    Command::new("kill").args(["-KILL", &d.pid().to_string()]).status().unwrap();
    let r = tokio::time::timeout(Duration::from_secs(10), install).await.unwrap_or_else(|_| panic!("hung"));
    assert!(r.unwrap().is_err(), "the call cannot succeed when atomicd died");
    // A torn temporary file, as a crash in the middle of a write would leave.
    std::fs::write(state.join(".installed.json.4242"), b"{\"installed\": [{\"ima").unwrap();

    let _d = d.restart(&["--engine-socket", PODMAN_SOCK]);
    let installed = proxy().await.status().await.unwrap().installed;
    assert!(installed.is_empty(), "a killed Install recorded {installed:?}");
    assert!(!state.join(".installed.json.4242").exists(), "the torn temp file was not cleaned");
    let _ = Command::new("podman").args(["rm", "-f", "slowinstall"]).output();
}

/// A podman API service of the test's own in a fresh directory, to be killed:
/// (process, its directory, socket).
fn podman_to_kill() -> (std::process::Child, std::path::PathBuf, String) {
    let dir = std::env::temp_dir().join(format!("atomicd-kill-{}", unique()));
    std::fs::create_dir_all(&dir).unwrap();
    let sock = dir.join("podman.sock").display().to_string();
    (private_podman(&sock), dir, sock)
}

fn is_engine_error(name: &str) -> bool {
    name == "org.atomic.Error.EngineUnavailable" || name == "org.atomic.Error.EngineError"
}

#[tokio::test(flavor = "multi_thread")]
#[ignore = "needs the test world (tests/world.sh up, as root); tests/run.sh runs it"]
async fn engine_killed_under_a_run_is_an_engine_error_not_a_hang() {
    let (mut engine, dir, sock) = podman_to_kill();
    let d = Daemon::start(&["--engine-socket", &sock]);
    let name = format!("orphan-{}", unique());
    let run = {
        let name = name.clone();
        tokio::spawn(async move {
            let opts = RunOptions { name: Some(name.clone()), ..Default::default() };
            proxy().await.run(PLAIN, &["sleep".to_owned(), "30".to_owned()], &opts).await
        })
    };
    assert!(wait_until(Duration::from_secs(15), || containers("podman").contains(&name)));
    let _ = engine.kill();
    let _ = engine.wait();
    let r = tokio::time::timeout(Duration::from_secs(15), run).await.unwrap_or_else(|_| panic!("Run hung"));
    let name_of_error = error_name(&r.unwrap());
    assert!(is_engine_error(&name_of_error), "{name_of_error}");
    let mut d = d;
    assert!(d.alive(), "atomicd died with the engine");
    let _ = Command::new("podman").args(["rm", "-f", &name]).output();
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
#[ignore = "needs the test world (tests/world.sh up, as root); tests/run.sh runs it"]
fn engine_killed_under_an_attached_run_ends_the_cli_with_an_engine_error() {
    let (mut engine, dir, sock) = podman_to_kill();
    let mut d = Daemon::start(&["--engine-socket", &sock]);
    let name = format!("attached-{}", unique());
    let cli = Command::new(bin("atomic"))
        .args(["run", "--name", &name, PLAIN, "sh", "-c", "echo started; sleep 60"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    assert!(wait_until(Duration::from_secs(30), || containers("podman").contains(&name)));
    std::thread::sleep(Duration::from_millis(500));
    let _ = engine.kill();
    let _ = engine.wait();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(cli.wait_with_output());
    });
    let out = rx
        .recv_timeout(Duration::from_secs(20))
        .unwrap_or_else(|_| panic!("the CLI hung after the engine died"))
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(String::from_utf8_lossy(&out.stdout), "started\n", "the output before the fault was lost");
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("engine"), "the CLI does not say the engine failed: {stderr}");
    println!("{stderr}");
    assert!(d.alive(), "atomicd died with the engine");
    let conn_ok = Command::new(bin("atomic")).arg("status").output().is_ok_and(|o| o.status.success());
    assert!(conn_ok, "Status fails after the engine died");
    // podman may still hold the container's lock for a moment after its service died.
    wait_until(Duration::from_secs(15), || {
        let _ = Command::new("podman").args(["rm", "-f", &name]).output();
        !containers("podman").contains(&name)
    });
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test(flavor = "multi_thread")]
#[ignore = "needs the test world (tests/world.sh up, as root); tests/run.sh runs it"]
async fn engine_killed_during_a_pull_records_nothing_and_leaves_no_job() {
    const BIG: &str = "127.0.0.1:5000/atomic-test/big:latest";
    let _ = Command::new("podman").args(["rmi", "-f", BIG]).output();
    let (mut engine, dir, sock) = podman_to_kill();
    let mut d = Daemon::start(&["--engine-socket", &sock]);
    let conn = zbus::Connection::system().await.unwrap();
    let p = atomicd::dbus::proxy::ManagerProxy::new(&conn).await.unwrap();
    let name = format!("pullkill{}", unique());
    let options = InstallOptions { name: Some(name.clone()), ..Default::default() };
    let call = p.install(BIG, &options);
    tokio::pin!(call);
    let om = object_manager(&conn).await;
    let seen = tokio::select! {
        r = &mut call => panic!("the pull ended before the engine could be killed: {r:?}"),
        (_, _, m) = job_where(&conn, |_, m| m.contains("pulling layer")) => m,
    };
    println!("killing the engine at: {seen}");
    let _ = engine.kill();
    let _ = engine.wait();
    let r =
        tokio::time::timeout(Duration::from_secs(20), call).await.unwrap_or_else(|_| panic!("Install hung"));
    let name_of_error = error_name(&r);
    assert!(is_engine_error(&name_of_error), "{name_of_error}: {r:?}");
    assert!(d.alive(), "atomicd died with the engine");
    let status = p.status().await.unwrap();
    assert!(status.installed.is_empty(), "a failed pull was recorded: {:?}", status.installed);
    assert!(!status.engine.available);
    let jobs = om.get_managed_objects().await.unwrap_or_default();
    assert!(!jobs.keys().any(|k| k.as_str().starts_with("/org/atomic/Manager/jobs/")), "{jobs:?}");
    let _ = Command::new("podman").args(["rmi", "-f", BIG]).output();
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
#[ignore = "needs the test world (tests/world.sh up, as root); tests/run.sh runs it"]
fn a_full_state_directory_is_a_clear_error_and_the_record_survives() {
    let mut d = Daemon::start(&["--engine-socket", PODMAN_SOCK]);
    let dir = d.state_dir.display().to_string();
    let mounted =
        Command::new("mount").args(["-t", "tmpfs", "-o", "size=256k", "atomicd-test-full", &dir]).status();
    assert!(mounted.is_ok_and(|s| s.success()), "tmpfs mount");
    let name = format!("full{}", unique());
    let (code, _, err) = cli_as(0, &["install", "--name", &name, "atomic-test/app"]);
    assert_eq!(code, 0, "{err}");
    let record = std::fs::read_to_string(d.state_dir.join("installed.json")).unwrap_or_default();
    assert!(record.contains(&name));
    // Fill every block that is left.
    let _ = Command::new("dd")
        .args(["if=/dev/zero", &format!("of={dir}/filler"), "bs=4k"])
        .stderr(Stdio::null())
        .status();
    let second = format!("full{}", unique());
    let (code, _, err) = cli_as(0, &["install", "--name", &second, "atomic-test/app"]);
    let after = std::fs::read_to_string(d.state_dir.join("installed.json")).unwrap_or_default();
    let leftovers: Vec<String> = std::fs::read_dir(&d.state_dir)
        .map(|r| r.flatten().map(|e| e.file_name().to_string_lossy().into_owned()).collect())
        .unwrap_or_default();
    let _ = std::fs::remove_file(d.state_dir.join("filler"));
    let _ = Command::new("umount").arg(&dir).status();
    println!("{err}");
    assert_eq!(code, 1);
    // The INSTALL label's container cannot be recorded as atomicd's, so it is removed again
    // before it runs: nothing is installed, and the error names the file.
    assert!(err.contains("No space left on device") && err.contains("containers.json"), "{err}");
    assert!(err.contains("removed again"), "{err}");
    assert_eq!(after, record, "the old record was damaged");
    assert!(
        !leftovers.iter().any(|f| f.starts_with(".installed.json.") || f.starts_with(".containers.json.")),
        "a temp file was left: {leftovers:?}"
    );
    assert!(d.alive());
    let _ = Command::new("sh").arg("-c").arg("rm -f /var/tmp/atomicd-app/full*.installed").status();
}

/// polkitd stopped and not activatable for as long as this lives; restarted on drop.
struct PolkitAway {
    activation: std::path::PathBuf,
    parked: std::path::PathBuf,
}

fn polkit_owned() -> bool {
    bus_daemon_call("NameHasOwner", &["s", "org.freedesktop.PolicyKit1"]).contains("true")
}

impl PolkitAway {
    fn new() -> Self {
        let activation =
            std::path::PathBuf::from("/usr/share/dbus-1/system-services/org.freedesktop.PolicyKit1.service");
        let parked = std::env::temp_dir().join("org.freedesktop.PolicyKit1.service.parked-by-atomicd-tests");
        if activation.exists() {
            std::fs::rename(&activation, &parked).unwrap();
        }
        bus_daemon_call("ReloadConfig", &[]);
        // The polkitd of this bus alone, by its PID: other polkitds of the machine are not ours.
        if let Some(pid) = bus_name_pid("org.freedesktop.PolicyKit1") {
            let _ = Command::new("kill").arg(pid.to_string()).status();
        }
        assert!(wait_until(Duration::from_secs(10), || !polkit_owned()), "polkitd did not go away");
        PolkitAway { activation, parked }
    }
}

impl Drop for PolkitAway {
    fn drop(&mut self) {
        if self.parked.exists() {
            let _ = std::fs::rename(&self.parked, &self.activation);
        }
        bus_daemon_call("ReloadConfig", &[]);
        let _ = Command::new("/usr/lib/polkit-1/polkitd")
            .arg("--no-debug")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn();
        wait_until(Duration::from_secs(15), polkit_owned);
    }
}

#[tokio::test(flavor = "multi_thread")]
#[ignore = "needs the test world (tests/world.sh up, as root); tests/run.sh runs it"]
async fn without_polkitd_every_guarded_call_is_denied_and_status_works() {
    let _d = Daemon::start(&["--engine-socket", PODMAN_SOCK]);
    let away = PolkitAway::new();
    let p = proxy().await;
    let before = containers("podman").len();
    let name = format!("nopk{}", unique());
    let answers = [
        (
            "Run",
            p.run(
                PLAIN,
                &["true".to_owned()],
                &RunOptions { name: Some(name.clone()), ..Default::default() },
            )
            .await
            .map(|_| ()),
        ),
        (
            "Install",
            p.install("atomic-test/app", &InstallOptions { name: Some(name.clone()), ..Default::default() })
                .await
                .map(|_| ()),
        ),
        (
            "Uninstall",
            p.uninstall(
                "atomic-test/app",
                &UninstallOptions { name: Some(name.clone()), ..Default::default() },
            )
            .await
            .map(|_| ()),
        ),
        ("HostUpgrade", p.host_upgrade(&Default::default()).await.map(|_| ())),
        ("Rollback", p.rollback(&Default::default()).await.map(|_| ())),
    ];
    let status = p.status().await;
    let display =
        p.run(PLAIN, &["true".to_owned()], &RunOptions { display: Some(true), ..Default::default() }).await;
    drop(away);
    for (method, answer) in &answers {
        // Authorization comes first, before the engine or the host is consulted.
        assert_eq!(error_name(answer), "org.freedesktop.DBus.Error.AccessDenied", "{method}: {answer:?}");
        {
            let msg = error_text(answer);
            assert!(msg.contains("polkit cannot be asked"), "{method}: {msg}");
        }
    }
    assert!(status.is_ok(), "Status needs no polkit: {status:?}");
    assert!(display.is_ok(), "display needs no polkit: {display:?}");
    assert_eq!(containers("podman").len(), before, "something ran without authorization");
    assert!(polkit_owned(), "polkitd was not brought back");
}
