//! Runs attached to the caller's own descriptors: pipes, and a real terminal under tmux.
// Its helpers are test code too, though outside a #[test] (which clippy.toml already allows).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::io::Write;
use std::process::{Command, Stdio};
use std::time::Duration;

use common::*;

#[test]
#[ignore = "needs the test world (tests/world.sh up, as root); tests/run.sh runs it"]
fn the_cli_passes_its_pipes_and_gets_the_exit_code() {
    let _d = Daemon::start(&["--engine-socket", PODMAN_SOCK]);
    let mut child = Command::new(bin("atomic"))
        .args(["run", PLAIN, "sh", "-c", "read line; echo got $line; echo to-err >&2; exit 4"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    if let Some(mut stdin) = child.stdin.take() {
        stdin.write_all(b"hello\n").unwrap();
    }
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(4));
    assert_eq!(String::from_utf8_lossy(&out.stdout), "got hello\n");
    assert_eq!(String::from_utf8_lossy(&out.stderr), "to-err\n");

    // stdin reaching its end closes the container's stdin: cat ends by itself.
    let mut cat = Command::new(bin("atomic"))
        .args(["run", PLAIN, "cat"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    if let Some(mut stdin) = cat.stdin.take() {
        stdin.write_all(b"line one\nline two\n").unwrap();
    }
    let out = cat.wait_with_output().unwrap();
    assert_eq!(
        (out.status.code(), String::from_utf8_lossy(&out.stdout).as_ref()),
        (Some(0), "line one\nline two\n")
    );
}

#[tokio::test(flavor = "multi_thread")]
#[ignore = "needs the test world (tests/world.sh up, as root); tests/run.sh runs it"]
async fn fds_passed_over_dbus_receive_the_output_instead_of_the_result() {
    let _d = Daemon::start(&["--engine-socket", PODMAN_SOCK]);
    let dir = std::env::temp_dir().join(format!("atomicd-fds-{}", unique()));
    std::fs::create_dir_all(&dir).unwrap();
    let out_path = dir.join("out");
    let out = std::fs::File::create(&out_path).unwrap();
    let cmd: Vec<String> = ["sh", "-c", "echo via-fd; exit 6"].map(String::from).to_vec();
    let out = std::os::fd::OwnedFd::from(out);
    let opts = RunOptions { stdout: Some(out.into()), ..Default::default() };
    let r = proxy().await.run(PLAIN, &cmd, &opts).await.unwrap();
    assert_eq!(r.exit_code, Some(6));
    assert!(r.output.is_none(), "output must go to the fd, not the result");
    assert_eq!(std::fs::read_to_string(&out_path).unwrap_or_default(), "via-fd\n");
    let _ = std::fs::remove_dir_all(&dir);
}

fn tmux(args: &[&str]) -> String {
    let out = Command::new("tmux").args(args).output().unwrap_or_else(|e| panic!("tmux: {e}"));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn screen_shows(session: &str, needle: &str) -> bool {
    wait_until(Duration::from_secs(20), || tmux(&["capture-pane", "-t", session, "-p"]).contains(needle))
}

#[test]
#[ignore = "needs the test world (tests/world.sh up, as root); tests/run.sh runs it"]
fn spc_shell_under_a_real_terminal() {
    let _d = Daemon::start(&["--engine-socket", PODMAN_SOCK]);
    let session = format!("atomicd{}", unique());
    let atomic = bin("atomic");
    tmux(&["new-session", "-d", "-s", &session, "-x", "100", "-y", "30", "sh"]);
    let line = format!("stty -g > /tmp/{session}.before; {} run -q --spc {TOOLS} /bin/sh; echo EXIT=$?; stty -g > /tmp/{session}.after", atomic.display());
    tmux(&["send-keys", "-t", &session, &line, "Enter"]);
    assert!(
        screen_shows(&session, "/ #"),
        "no shell prompt:\n{}",
        tmux(&["capture-pane", "-t", &session, "-p"])
    );
    tmux(&["send-keys", "-t", &session, "echo host=$HOST; stty size; cat /proc/1/comm", "Enter"]);
    assert!(screen_shows(&session, "host=/host"), "{}", tmux(&["capture-pane", "-t", &session, "-p"]));
    let screen = tmux(&["capture-pane", "-t", &session, "-p"]);
    assert!(screen.contains("30 100"), "the terminal size reached the container:\n{screen}");
    // A resized terminal reaches the container (SIGWINCH → Job.ResizeTty).
    tmux(&["resize-window", "-t", &session, "-x", "90", "-y", "20"]);
    std::thread::sleep(Duration::from_millis(500));
    tmux(&["send-keys", "-t", &session, "stty size", "Enter"]);
    assert!(screen_shows(&session, "20 90"), "{}", tmux(&["capture-pane", "-t", &session, "-p"]));
    tmux(&["send-keys", "-t", &session, "exit 3", "Enter"]);
    assert!(screen_shows(&session, "EXIT=3"), "{}", tmux(&["capture-pane", "-t", &session, "-p"]));
    // The shell creates the file before stty writes into it: wait for its content.
    assert!(wait_until(Duration::from_secs(5), || std::fs::read_to_string(format!("/tmp/{session}.after"))
        .is_ok_and(|t| !t.is_empty())));
    let before = std::fs::read_to_string(format!("/tmp/{session}.before")).unwrap_or_default();
    let after = std::fs::read_to_string(format!("/tmp/{session}.after")).unwrap_or_default();
    assert!(!before.is_empty());
    assert_eq!(before, after, "the terminal settings were not restored");
    tmux(&["kill-session", "-t", &session]);
}

#[tokio::test(flavor = "multi_thread")]
#[ignore = "needs the test world (tests/world.sh up, as root); tests/run.sh runs it"]
async fn privileged_on_dockerd_here_comes_back_as_engine_error() {
    // Docker 20.10 cannot start --privileged on these VMs (no CAP_SYS_RESOURCE).
    let _d = Daemon::start(&["--engine-socket", DOCKER_SOCK]);
    let before = containers("docker").len();
    let opts = RunOptions { spc: Some(true), ..Default::default() };
    let r = proxy().await.run(TOOLS, &["true".to_owned()], &opts).await;
    assert_eq!(error_name(&r), "org.atomic.Error.EngineError");
    {
        let msg = error_text(&r);
        assert!(msg.contains("operation not permitted"), "the engine's message is included: {msg}");
    }
    assert_eq!(containers("docker").len(), before, "the failed container was left behind");
}
