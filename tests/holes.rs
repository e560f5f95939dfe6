//! The authorization holes of "what is authorized is what runs", over the real bus with a user
//! whom a polkit JavaScript rule grants only `org.atomic.run` and `org.atomic.install`: each
//! test shows that what runs is what that grant covers, and nothing else.
// Its helpers are test code too, though outside a #[test] (which clippy.toml already allows).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::process::Command;

use common::*;

/// A user whom polkit allows only `org.atomic.run` and `org.atomic.install`.
fn grant() -> PolkitGrant {
    polkit_grant("atomicrun", &["org.atomic.run", "org.atomic.install"], "50-atomicd-holes")
}

fn podman(args: &[&str]) -> String {
    let out = Command::new("podman").args(args).output().unwrap_or_else(|e| panic!("podman: {e}"));
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

fn running(name: &str) -> bool {
    podman(&["inspect", "--format", "{{.State.Running}}", name]) == "true"
}

fn error_of(r: &Reply) -> &str {
    r.error.as_ref().map_or("", |(name, _)| name.as_str())
}

fn message_of(r: &Reply) -> &str {
    r.error.as_ref().map_or("", |(_, m)| m.as_str())
}

/// Keeps one named container from leaking into other tests.
struct Gone(&'static str);

impl Drop for Gone {
    fn drop(&mut self) {
        let _ = Command::new("podman").args(["rm", "-f", self.0]).output();
    }
}

#[test]
#[ignore = "needs the test world (tests/world.sh up, as root); tests/run.sh runs it"]
fn a_stopped_privileged_container_is_not_restarted_under_a_run_only_grant() {
    let g = grant();
    let _gone = Gone("svc");
    let _d = Daemon::start(&["--engine-socket", PODMAN_SOCK]);
    let _ = podman(&["rm", "-f", "svc"]);
    // Root makes a privileged container through the line's $OPT1; it is then stopped.
    let r = call_as(0, &["Run", "atomic-test/svc", "--opt", "opt1=\"--privileged\""]);
    assert!(r.error.is_none(), "{:?}", r.error);
    assert_eq!(
        podman(&["inspect", "--format", "{{index .Config.Labels \"org.atomic.managed\"}}", "svc"]),
        "1"
    );
    let _ = podman(&["stop", "-t", "0", "svc"]);
    // The line without $OPT1 is confined, but what would start is the privileged container.
    let r = call_as(g.uid, &["--interactive", "Run", "atomic-test/svc"]);
    assert_eq!(error_of(&r), "org.freedesktop.DBus.Error.AccessDenied", "{:?}", r);
    assert!(message_of(&r).contains("run-privileged"), "{:?}", r);
    assert!(!running("svc"), "the privileged container was started");
}

/// The caller's own container: a command is exec'd in it. (Another caller's needs
/// org.atomic.manage-any besides: tests/review.rs.)
#[test]
#[ignore = "needs the test world (tests/world.sh up, as root); tests/run.sh runs it"]
fn a_command_for_the_caller_s_own_container_is_exec_d_in_it() {
    let g = grant();
    let _gone = Gone("svc");
    let _d = Daemon::start(&["--engine-socket", PODMAN_SOCK]);
    let _ = podman(&["rm", "-f", "svc"]);
    let r = call_as(g.uid, &["--interactive", "Run", "atomic-test/svc"]);
    assert!(r.error.is_none(), "{:?}", r.error);
    assert!(running("svc"));
    // Another user, here one with no grant at all, gets nothing of it.
    let other = call_as(NOBODY, &["Run", "atomic-test/svc", "--cmd", "true"]);
    assert!(other.error.is_some(), "nobody exec'd into it: {:?}", other.json);
    // Running: the command runs in it, and its exit code is the call's.
    let r = call_as(
        g.uid,
        &[
            "--interactive",
            "Run",
            "atomic-test/svc",
            "--cmd",
            "sh",
            "--cmd",
            "-c",
            "--cmd",
            "echo in $HOSTNAME; exit 4",
        ],
    );
    assert_eq!(r.json["exit-code"], 4, "{:?}", r.error);
    assert_eq!(r.json["command"][1], "exec", "{}", r.json);
    // No command and running: already running, exit 0, nothing else started.
    let (code, _, err) = cli_as(g.uid, &["run", "atomic-test/svc"]);
    assert_eq!(code, 0, "{err}");
    assert!(err.contains("already running"), "{err}");
    // The CLI passes the exec's code through.
    let (code, out, err) = cli_as(g.uid, &["run", "atomic-test/svc", "sh", "-c", "echo hi; exit 3"]);
    assert_eq!((code, out.as_str()), (3, "hi\n"), "{err}");
}

#[test]
#[ignore = "needs the test world (tests/world.sh up, as root); tests/run.sh runs it"]
fn replace_touches_only_atomicd_s_containers_and_names_are_exact() {
    let g = grant();
    let _gone = Gone("victim");
    let _d = Daemon::start(&["--engine-socket", PODMAN_SOCK]);
    let _ = podman(&["rm", "-f", "victim"]);
    let id = podman(&["run", "-d", "--name", "victim", PLAIN, "sleep", "300"]);
    assert!(running("victim"));
    let r = call_as(
        g.uid,
        &[
            "--interactive",
            "Run",
            PLAIN,
            "--opt",
            "name=\"victim\"",
            "--opt",
            "replace=true",
            "--cmd",
            "true",
        ],
    );
    assert_eq!(error_of(&r), "org.atomic.Error.Failed", "{:?}", r);
    assert!(message_of(&r).contains("not made by atomicd"), "{:?}", r);
    // A name of hex digits is a name, never a prefix of someone else's container ID.
    let prefix = format!("name=\"{}\"", &id[..12]);
    let r = call_as(
        g.uid,
        &["--interactive", "Run", PLAIN, "--opt", &prefix, "--opt", "replace=true", "--cmd", "true"],
    );
    assert!(r.error.is_none(), "{:?}", r.error);
    assert!(running("victim"), "root's container was removed through its ID prefix");
}

#[test]
#[ignore = "needs the test world (tests/world.sh up, as root); tests/run.sh runs it"]
fn the_review_s_escapes_need_run_privileged_or_are_refused() {
    let g = grant();
    let _d = Daemon::start(&["--engine-socket", PODMAN_SOCK]);
    let denied = [
        "--security-opt=unmask=ALL",
        "--pid=ns:/proc/self/ns/pid",
        "--network=slirp4netns:allow_host_loopback=true",
        "--security-opt=label=type:spc_t",
        "--publish=127.0.0.1:18080:80",
    ];
    for flag in denied {
        let opt = format!("opt1=\"{flag}\"");
        let r = call_as(g.uid, &["--interactive", "Run", "atomic-test/opt", "--opt", &opt]);
        assert_eq!(error_of(&r), "org.freedesktop.DBus.Error.AccessDenied", "{flag}: {:?}", r);
    }
    for flag in ["--volume=../../..:/host", "-v=.:/src", "--label=org.atomic.managed=1"] {
        let opt = format!("opt1=\"{flag}\"");
        let r = call_as(g.uid, &["--interactive", "Run", "atomic-test/opt", "--opt", &opt]);
        assert_eq!(error_of(&r), "org.atomic.Error.UnsupportedLabel", "{flag}: {:?}", r);
    }
    let r = call_as(g.uid, &["--interactive", "Run", "atomic-test/vars", "--opt", "pwd=\"../../..\""]);
    assert_eq!(error_of(&r), "org.atomic.Error.InvalidArgument", "{:?}", r);
    // A named volume stays confined.
    let r = call_as(
        g.uid,
        &["--interactive", "Run", "atomic-test/opt", "--opt", "opt1=\"--volume=atomicd-holes:/data\""],
    );
    assert!(r.error.is_none(), "{:?}", r.error);
}

#[test]
#[ignore = "needs the test world (tests/world.sh up, as root); tests/run.sh runs it"]
fn an_install_line_that_reaches_the_host_needs_run_privileged() {
    let g = grant();
    let _d = Daemon::start(&["--engine-socket", PODMAN_SOCK]);
    let marker = std::path::Path::new("/var/tmp/atomicd-app/app.installed");
    let _ = std::fs::remove_file(marker);
    // app's INSTALL label bind-mounts a host directory.
    let r = call_as(g.uid, &["--interactive", "Install", "atomic-test/app"]);
    assert_eq!(error_of(&r), "org.freedesktop.DBus.Error.AccessDenied", "{:?}", r);
    assert!(message_of(&r).contains("run-privileged"), "{:?}", r);
    assert!(!marker.exists(), "the INSTALL label ran");
    assert_eq!(call_as(0, &["Status"]).json["installed"], serde_json::json!([]));
}

#[test]
#[ignore = "needs the test world (tests/world.sh up, as root); tests/run.sh runs it"]
fn a_pull_without_a_tag_fetches_latest_only_on_docker() {
    let _d = Daemon::start(&["--engine-socket", DOCKER_SOCK]);
    let repo = "127.0.0.1:5000/atomic-test/tags";
    let _ = Command::new("docker")
        .args(["rmi", "-f", &format!("{repo}:latest"), &format!("{repo}:other")])
        .output();
    let r = call_as(0, &["Install", repo, "--opt", "display=false"]);
    let _ = call_as(0, &["Uninstall", repo, "--opt", "keep-image=true"]);
    assert!(r.error.is_none(), "{:?}", r.error);
    let out = Command::new("docker").args(["images", "--format", "{{.Tag}}", repo]).output().unwrap();
    let tags = String::from_utf8_lossy(&out.stdout).trim().to_owned();
    let _ = Command::new("docker")
        .args(["rmi", "-f", &format!("{repo}:latest"), &format!("{repo}:other")])
        .output();
    assert_eq!(tags, "latest", "every tag of the repository was pulled");
}

/// Run pulls a missing image only under `org.atomic.pull`: a grant of run (and install) does
/// not let a caller fill the engine's storage with images of its choosing, and nothing of the
/// image or a container appears.
#[test]
#[ignore = "needs the test world (tests/world.sh up, as root); tests/run.sh runs it"]
fn a_run_only_grant_does_not_pull_a_missing_image() {
    let g = grant();
    let _d = Daemon::start(&["--engine-socket", PODMAN_SOCK]);
    let image = "127.0.0.1:5000/atomic-test/tags:other";
    let _ = podman(&["rmi", "-f", image]);
    let before = podman(&["ps", "-a", "--format", "{{.Names}}"]);
    let r = call_as(g.uid, &["--interactive", "Run", image]);
    assert_eq!(error_of(&r), "org.freedesktop.DBus.Error.AccessDenied", "{:?}", r);
    assert!(message_of(&r).contains("org.atomic.pull"), "{:?}", r);
    let present = Command::new("podman").args(["image", "exists", image]).status();
    assert!(present.is_ok_and(|s| !s.success()), "the image was pulled");
    assert_eq!(podman(&["ps", "-a", "--format", "{{.Names}}"]), before, "a container appeared");
}
