//! atomicd as a systemd service: sd_notify states read from a NOTIFY_SOCKET, SIGTERM during a
//! job, idle exit and re-activation by the bus.
// Its helpers are test code too, though outside a #[test] (which clippy.toml already allows).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::os::unix::net::UnixDatagram;
use std::process::Command;
use std::time::{Duration, Instant};

use common::*;

struct NotifySocket {
    sock: UnixDatagram,
    path: std::path::PathBuf,
    seen: Vec<String>,
}

impl NotifySocket {
    fn new() -> Self {
        let path = std::env::temp_dir().join(format!("atomicd-notify-{}", unique()));
        let sock = UnixDatagram::bind(&path).unwrap();
        sock.set_read_timeout(Some(Duration::from_millis(200))).unwrap();
        NotifySocket { sock, path, seen: Vec::new() }
    }

    /// Waits up to `limit` for a message containing `needle`.
    fn expect(&mut self, needle: &str, limit: Duration) -> bool {
        let deadline = Instant::now() + limit;
        if self.seen.iter().any(|m| m.contains(needle)) {
            return true;
        }
        let mut buf = [0u8; 4096];
        while Instant::now() < deadline {
            if let Ok(n) = self.sock.recv(&mut buf) {
                let msg = String::from_utf8_lossy(&buf[..n]).into_owned();
                let hit = msg.contains(needle);
                self.seen.push(msg);
                if hit {
                    return true;
                }
            }
        }
        false
    }
}

#[tokio::test(flavor = "multi_thread")]
#[ignore = "needs the test world (tests/world.sh up, as root); tests/run.sh runs it"]
async fn notify_states_and_sigterm_during_a_job() {
    let mut notify = NotifySocket::new();
    let path = notify.path.display().to_string();
    let mut d = Daemon::start_with_env(
        &["--engine-socket", PODMAN_SOCK],
        &[("NOTIFY_SOCKET", &path), ("WATCHDOG_USEC", "1000000")],
    );
    assert!(notify.expect("READY=1", Duration::from_secs(5)), "{:?}", notify.seen);
    assert!(notify.expect("STATUS=serving org.atomic", Duration::from_secs(5)), "{:?}", notify.seen);
    assert!(notify.expect("WATCHDOG=1", Duration::from_secs(3)), "{:?}", notify.seen);

    let name = format!("term-{}", unique());
    let run = {
        let name = name.clone();
        tokio::spawn(async move {
            let opts = RunOptions { name: Some(name.clone()), ..Default::default() };
            proxy().await.run(PLAIN, &["sleep".to_owned(), "60".to_owned()], &opts).await
        })
    };
    assert!(notify.expect("running: Run atomic-test/plain", Duration::from_secs(10)), "{:?}", notify.seen);
    assert!(wait_until(Duration::from_secs(10), || containers("podman").contains(&name)));

    Command::new("kill").args(["-TERM", &d.pid().to_string()]).status().unwrap();
    assert!(notify.expect("STOPPING=1", Duration::from_secs(5)), "{:?}", notify.seen);
    let r = tokio::time::timeout(Duration::from_secs(25), run).await.unwrap_or_else(|_| panic!("Run hung"));
    let r = r.unwrap();
    assert_eq!(error_name(&r), "org.atomic.Error.Cancelled");
    assert!(wait_until(Duration::from_secs(10), || !d.alive()), "atomicd did not exit after SIGTERM");
    assert!(!containers("podman").contains(&name), "the job's container outlived the stop");
    let _ = std::fs::remove_file(&notify.path);
}

#[test]
#[ignore = "needs the test world (tests/world.sh up, as root); tests/run.sh runs it"]
fn idle_exit_then_bus_activation_brings_it_back() {
    let _lock = take_bus_name();
    let state = std::env::temp_dir().join(format!("atomicd-activated-{}", unique()));
    let file = "/usr/share/dbus-1/system-services/org.atomic.service";
    let service = format!(
        "[D-BUS Service]\nName=org.atomic\nExec={} --idle-exit 2 --engine-socket {PODMAN_SOCK} --log-target stderr --state-dir {}\nUser=root\nSystemdService=atomicd.service\n",
        bin("atomicd").display(),
        state.display()
    );
    std::fs::write(file, service).unwrap();
    let reload = || bus_daemon_call("ReloadConfig", &[]);
    reload();
    // Removed when the test ends, passed or failed, so no later test meets an activatable atomicd.
    let _activation = RemoveOnDrop(file, reload);
    let status = |uid: u32| cli_as(uid, &["status", "--json"]);

    let (code, out, err) = status(NOBODY);
    assert_eq!(code, 0, "a call did not activate atomicd: {err}");
    assert!(out.contains("\"version\""));
    let first = owner_pid().unwrap_or_else(|| panic!("activated atomicd owns nothing"));
    assert!(wait_until(Duration::from_secs(10), || owner_pid().is_none()), "atomicd did not exit when idle");
    let gone = |pid: u32| {
        let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
        status.is_empty() || status.contains("zombie")
    };
    assert!(wait_until(Duration::from_secs(5), || gone(first)), "the idle atomicd kept running");
    let (code, _, err) = status(0);
    assert_eq!(code, 0, "no re-activation: {err}");
    let second = owner_pid().unwrap_or_else(|| panic!("not re-activated"));
    assert_ne!(first, second);
    assert!(wait_until(Duration::from_secs(10), || owner_pid().is_none()));
}

/// Removes a file, then runs the reload, when dropped.
struct RemoveOnDrop<F: Fn() -> String>(&'static str, F);

impl<F: Fn() -> String> Drop for RemoveOnDrop<F> {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(self.0);
        (self.1)();
    }
}
