//! atomicd end to end over the real system bus, polkitd and engines (issue: the walking skeleton).
// Its helpers are test code too, though outside a #[test] (which clippy.toml already allows).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::collections::HashMap;
use std::process::{Child, Command};
use std::time::Duration;

use common::*;
use futures_util::StreamExt;
use zbus::zvariant::Value;

#[test]
#[ignore = "needs the test world (tests/world.sh up, as root); tests/run.sh runs it"]
fn status_as_nobody_reports_version_engine_host_and_installed() {
    let _d = Daemon::start(&["--engine-socket", PODMAN_SOCK]);
    let (code, out, err) = cli_as(NOBODY, &["status", "--json"]);
    assert_eq!(code, 0, "{err}");
    let v: serde_json::Value = serde_json::from_str(&out).unwrap_or_else(|e| panic!("{e}: {out}"));
    assert_eq!(v["version"], env!("CARGO_PKG_VERSION"));
    assert_eq!(v["engine"]["name"], "podman");
    assert_eq!(v["engine"]["available"], true);
    assert_eq!(v["engine"]["api-version"], "1.41");
    assert_eq!(v["host"]["backend"], "none");
    assert_eq!(v["host"]["deployments"], serde_json::json!([]));
    assert_eq!(v["installed"], serde_json::json!([]));
    let (code, text, _) = cli_as(NOBODY, &["status"]);
    assert_eq!(code, 0);
    assert!(text.contains("podman 4.3.1 (API 1.41) at /run/podman/podman.sock"), "{text}");
}

#[test]
#[ignore = "needs the test world (tests/world.sh up, as root); tests/run.sh runs it"]
fn run_as_nobody_is_refused_and_starts_no_container() {
    let _d = Daemon::start(&["--engine-socket", PODMAN_SOCK]);
    let name = format!("denied-{}", unique());
    let sleeper = ["Run", PLAIN, "--cmd", "sleep", "--cmd", "30", "--opt"];
    let named = format!("name=\"{name}\"");
    let mut args: Vec<&str> = sleeper.to_vec();
    args.extend([named.as_str(), "--opt", "detach=true"]);

    let without_flag = call_as(NOBODY, &args);
    let (err, msg) = without_flag.error.unwrap_or_else(|| panic!("nobody ran a container"));
    assert_eq!(err, "org.freedesktop.DBus.Error.InteractiveAuthorizationRequired", "{msg}");

    let mut interactive = vec!["--interactive"];
    interactive.extend(&args);
    let with_flag = call_as(NOBODY, &interactive);
    let (err, msg) = with_flag.error.unwrap_or_else(|| panic!("nobody ran a container"));
    assert_eq!(err, "org.freedesktop.DBus.Error.AccessDenied");
    assert!(msg.contains("org.atomic.run"), "{msg}");

    let (code, _, stderr) = cli_as(NOBODY, &["run", "--name", &name, "--detach", PLAIN, "sleep", "30"]);
    assert_eq!(code, 126, "{stderr}");
    assert!(stderr.contains("not allowed"), "{stderr}");
    assert!(!containers("podman").contains(&name), "a refused Run created {name}");
}

#[tokio::test(flavor = "multi_thread")]
#[ignore = "needs the test world (tests/world.sh up, as root); tests/run.sh runs it"]
async fn run_as_root_returns_exit_code_and_output_and_removes_the_container() {
    let _d = Daemon::start(&["--engine-socket", PODMAN_SOCK]);
    let name = format!("exit-{}", unique());
    let p = proxy().await;
    let cmd: Vec<String> = ["sh", "-c", "echo out; echo err >&2; exit 7"].map(String::from).to_vec();
    let r = p.run(PLAIN, &cmd, &RunOptions { name: Some(name.clone()), ..Default::default() }).await.unwrap();
    assert_eq!(r.exit_code, Some(7));
    let output = r.output.unwrap_or_default();
    assert!(output.contains("out\n") && output.contains("err\n"), "{output:?}");
    assert!(containers("podman").contains(&name), "the default line keeps its container {name}");

    let (code, out, _) = cli_as(0, &["run", PLAIN, "sh", "-c", "echo from-cli; exit 3"]);
    assert_eq!((code, out.as_str()), (3, "from-cli\n"));
}

#[tokio::test(flavor = "multi_thread")]
#[ignore = "needs the test world (tests/world.sh up, as root); tests/run.sh runs it"]
async fn display_resolves_the_line_and_runs_nothing() {
    let _d = Daemon::start(&["--engine-socket", PODMAN_SOCK]);
    let name = format!("display-{}", unique());
    let p = proxy().await;
    let opts = RunOptions {
        name: Some(name.clone()),
        display: Some(true),
        detach: Some(true),
        ..Default::default()
    };
    let r = p.run(PLAIN, &["sleep".to_owned(), "30".to_owned()], &opts).await.unwrap();
    assert_eq!(r.command, ["docker", "run", "-i", "-d", "--name", name.as_str(), PLAIN, "sleep", "30"]);
    assert!(r.container_id.is_none() && r.exit_code.is_none());
    assert!(!containers("podman").contains(&name), "display created {name}");

    // display needs no authorization: nobody may resolve a line too.
    let reply = call_as(NOBODY, &["Run", TOOLS, "--opt", "spc=true", "--opt", "display=true"]);
    assert!(reply.error.is_none(), "{:?}", reply.error);
    let line: Vec<String> = serde_json::from_value(reply.json["command"].clone()).unwrap_or_default();
    assert!(line.contains(&"--privileged".to_owned()) && line.contains(&"/:/host".to_owned()), "{line:?}");
    assert!(line.contains(&"NAME=tools-spc".to_owned()), "{line:?}");
    let (code, out, _) = cli_as(NOBODY, &["run", "--display", PLAIN, "echo", "a b"]);
    assert_eq!((code, out.trim()), (0, "docker run -i --name plain atomic-test/plain echo 'a b'"));
}

#[tokio::test(flavor = "multi_thread")]
#[ignore = "needs the test world (tests/world.sh up, as root); tests/run.sh runs it"]
async fn engine_block_reports_podman_and_docker() {
    for (sock, name) in [(PODMAN_SOCK, "podman"), (DOCKER_SOCK, "docker")] {
        let _d = Daemon::start(&["--engine-socket", sock]);
        let engine = proxy().await.status().await.unwrap().engine;
        assert_eq!((engine.name.as_str(), engine.socket.as_str(), engine.available), (name, sock, true));
        assert!(!engine.version.is_empty(), "{engine:?}");
    }
    // DOCKER_HOST is honoured, and --engine-socket beats it.
    let docker_host = format!("unix://{DOCKER_SOCK}");
    {
        let _d = Daemon::start_with_env(&[], &[("DOCKER_HOST", &docker_host)]);
        let engine = proxy().await.status().await.unwrap().engine;
        assert_eq!(engine.name, "docker");
    }
    let _d = Daemon::start_with_env(&["--engine-socket", PODMAN_SOCK], &[("DOCKER_HOST", &docker_host)]);
    let engine = proxy().await.status().await.unwrap().engine;
    assert_eq!(engine.name, "podman");
}

#[tokio::test(flavor = "multi_thread")]
#[ignore = "needs the test world (tests/world.sh up, as root); tests/run.sh runs it"]
async fn docker_runs_and_returns_exit_codes_too() {
    let _d = Daemon::start(&["--engine-socket", DOCKER_SOCK]);
    let name = format!("dock-{}", unique());
    let cmd: Vec<String> = ["sh", "-c", "echo on-docker; exit 9"].map(String::from).to_vec();
    let r = proxy()
        .await
        .run(PLAIN, &cmd, &RunOptions { name: Some(name.clone()), ..Default::default() })
        .await
        .unwrap();
    assert_eq!(r.exit_code, Some(9));
    assert_eq!(r.output.as_deref(), Some("on-docker\n"));
    assert!(containers("docker").contains(&name), "the default line keeps its container");
}

#[tokio::test(flavor = "multi_thread")]
#[ignore = "needs the test world (tests/world.sh up, as root); tests/run.sh runs it"]
async fn bad_input_is_invalid_argument_on_every_method() {
    let _d = Daemon::start(&["--engine-socket", PODMAN_SOCK]);
    let p = proxy().await;
    let long_tag = format!("tools:{}", "a".repeat(300));
    for image in ["", "../x", "a b", "UPPER", long_tag.as_str()] {
        let r = p.run(image, &[], &Default::default()).await;
        assert_eq!(error_name(&r), "org.atomic.Error.InvalidArgument", "{image:?}");
    }
    // Keys and types the typed options cannot express go out as a raw dictionary.
    let raw = raw_proxy().await;
    let bogus = || HashMap::from([("bogus", Value::from(true))]);
    assert_eq!(error_name(&raw.run(PLAIN, &[], bogus()).await), "org.atomic.Error.InvalidArgument");
    assert_eq!(error_name(&raw.install(PLAIN, bogus()).await), "org.atomic.Error.InvalidArgument");
    assert_eq!(error_name(&raw.uninstall(PLAIN, bogus()).await), "org.atomic.Error.InvalidArgument");
    assert_eq!(error_name(&raw.host_upgrade(bogus()).await), "org.atomic.Error.InvalidArgument");
    assert_eq!(error_name(&raw.rollback(bogus()).await), "org.atomic.Error.InvalidArgument");
    let wrong_type = HashMap::from([("spc", Value::from("yes"))]);
    let r = raw.run(PLAIN, &[], wrong_type).await;
    assert_eq!(error_name(&r), "org.atomic.Error.InvalidArgument");
    let bad_name = RunOptions { name: Some("a/b".into()), ..Default::default() };
    assert_eq!(error_name(&p.run(PLAIN, &[], &bad_name).await), "org.atomic.Error.InvalidArgument");
    let missing = p.run("atomic-test/not-there", &[], &Default::default()).await;
    assert_eq!(error_name(&missing), "org.atomic.Error.ImageNotFound");
    // The daemon is still serving.
    assert!(p.status().await.is_ok());
}

#[tokio::test(flavor = "multi_thread")]
#[ignore = "needs the test world (tests/world.sh up, as root); tests/run.sh runs it"]
async fn guarded_methods_refuse_nobody_and_a_plain_machine_has_no_host() {
    let _d = Daemon::start(&["--engine-socket", PODMAN_SOCK]);
    let p = proxy().await;
    for r in [
        p.host_upgrade(&Default::default()).await.map(|_| ()),
        p.rollback(&Default::default()).await.map(|_| ()),
    ] {
        assert_eq!(error_name(&r), "org.atomic.Error.HostNotSupported");
    }
    for method in
        [["Install", "atomic-test/app"], ["Uninstall", PLAIN], ["HostUpgrade", ""], ["Rollback", ""]]
    {
        let reply = call_as(NOBODY, &["--interactive", method[0], method[1]]);
        let (name, _) = reply.error.unwrap_or_else(|| panic!("{} succeeded for nobody", method[0]));
        assert_eq!(name, "org.freedesktop.DBus.Error.AccessDenied", "{}", method[0]);
    }
}

fn stop(mut child: Child) {
    let _ = Command::new("kill").arg(child.id().to_string()).status();
    let _ = child.wait();
}

#[tokio::test(flavor = "multi_thread")]
#[ignore = "needs the test world (tests/world.sh up, as root); tests/run.sh runs it"]
async fn engine_down_then_back_without_restarting_atomicd() {
    let dir = std::env::temp_dir().join(format!("atomicd-engine-{}", unique()));
    std::fs::create_dir_all(&dir).unwrap();
    let sock = dir.join("podman.sock").to_string_lossy().into_owned();
    let engine = private_podman(&sock);
    let _d = Daemon::start(&["--engine-socket", &sock]);
    let p = proxy().await;
    assert!(p.engine_available().await.unwrap_or(false));
    let mut changes = p.receive_engine_available_changed().await;

    stop(engine);
    let block = p.status().await.unwrap().engine;
    assert!(!block.available, "{block:?}");
    let r = p.run(PLAIN, &[], &Default::default()).await;
    assert_eq!(error_name(&r), "org.atomic.Error.EngineUnavailable");
    assert!(signalled(&mut changes, false).await, "no PropertiesChanged for the engine going away");

    let engine = private_podman(&sock);
    let block = p.status().await.unwrap().engine;
    assert!(block.available, "{block:?}");
    let r = p
        .run(PLAIN, &["sh".to_owned(), "-c".to_owned(), "exit 2".to_owned()], &Default::default())
        .await
        .unwrap();
    assert_eq!(r.exit_code, Some(2));
    assert!(signalled(&mut changes, true).await, "no PropertiesChanged for the engine coming back");
    stop(engine);
    let _ = std::fs::remove_dir_all(&dir);
}

/// Waits up to 15 s for EngineAvailable to be signalled as `want` (the stream first repeats
/// the cached value, which is skipped when it differs).
async fn signalled(changes: &mut zbus::proxy::PropertyStream<'_, bool>, want: bool) -> bool {
    let wait = async {
        while let Some(change) = changes.next().await {
            if change.get().await.ok() == Some(want) {
                return true;
            }
        }
        false
    };
    tokio::time::timeout(Duration::from_secs(15), wait).await.unwrap_or(false)
}

#[test]
#[ignore = "needs the test world (tests/world.sh up, as root); tests/run.sh runs it"]
fn no_engine_at_all_leaves_status_working() {
    let _d = Daemon::start(&["--engine-socket", "/nonexistent/engine.sock"]);
    let (code, out, err) = cli_as(NOBODY, &["status", "--json"]);
    assert_eq!(code, 0, "{err}");
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["engine"]["available"], false);
    assert_eq!(v["engine"]["socket"], "/nonexistent/engine.sock");
    let r = call_as(0, &["Run", PLAIN]);
    assert_eq!(r.error.map(|e| e.0).as_deref(), Some("org.atomic.Error.EngineUnavailable"));
}

#[tokio::test(flavor = "multi_thread")]
#[ignore = "needs the test world (tests/world.sh up, as root); tests/run.sh runs it"]
async fn a_long_run_does_not_hold_up_other_callers() {
    // Regression: the engine monitor once took the interface's write lock every 2 s; queued
    // behind a long Run's read lock it blocked every other call until that Run ended.
    let _d = Daemon::start(&["--engine-socket", PODMAN_SOCK]);
    let long = tokio::spawn(async {
        proxy().await.run(PLAIN, &["sleep".to_owned(), "8".to_owned()], &Default::default()).await
    });
    tokio::time::sleep(Duration::from_secs(3)).await;
    let p = proxy().await;
    for _ in 0..3 {
        let started = std::time::Instant::now();
        let status = tokio::time::timeout(Duration::from_secs(2), p.status()).await;
        assert!(matches!(status, Ok(Ok(_))), "Status waited behind a running Run");
        assert!(started.elapsed() < Duration::from_secs(2));
        tokio::time::sleep(Duration::from_millis(700)).await;
    }
    let r = long.await.unwrap().unwrap();
    assert_eq!(r.exit_code, Some(0));
}
