//! Faults: atomicd killed in the middle of Install, the engine killed under a running call.

mod common;

use std::collections::HashMap;
use std::process::{Command, Stdio};
use std::time::Duration;

use common::*;

#[tokio::test(flavor = "multi_thread")]
async fn sigkill_during_install_leaves_no_record_or_a_whole_one() {
    let d = Daemon::start(&["--engine-socket", PODMAN_SOCK]);
    let state = d.state_dir.clone();
    let name = format!("killed{}", unique());
    let install = {
        let name = name.clone();
        tokio::spawn(async move {
            let opts = HashMap::from([("name", zbus::zvariant::Value::from(name.as_str()))]);
            proxy().await.install("atomic-test/slowinstall", opts).await
        })
    };
    tokio::time::sleep(Duration::from_millis(1500)).await;
    Command::new("kill").args(["-KILL", &d.pid().to_string()]).status().unwrap_or_else(|e| panic!("{e}"));
    let r = tokio::time::timeout(Duration::from_secs(10), install).await.unwrap_or_else(|_| panic!("hung"));
    assert!(r.unwrap_or_else(|e| panic!("{e}")).is_err(), "the call cannot succeed when atomicd died");
    // A torn temporary file, as a crash in the middle of a write would leave.
    std::fs::write(state.join(".installed.json.4242"), b"{\"installed\": [{\"ima")
        .unwrap_or_else(|e| panic!("{e}"));

    let _d = d.restart(&["--engine-socket", PODMAN_SOCK]);
    let status =
        atomicd::client::dict_to_json(&proxy().await.status().await.unwrap_or_else(|e| panic!("{e}")));
    let installed = status["installed"].as_array().cloned().unwrap_or_default();
    assert!(
        installed.is_empty() || installed.iter().all(|i| i["name"].is_string() && i["image-id"].is_string())
    );
    assert!(installed.is_empty(), "a killed Install recorded {installed:?}");
    assert!(!state.join(".installed.json.4242").exists(), "the torn temp file was not cleaned");
    let _ = Command::new("podman").args(["rm", "-f", "slowinstall"]).output();
}

#[tokio::test(flavor = "multi_thread")]
async fn engine_killed_under_a_run_is_an_engine_error_not_a_hang() {
    let dir = std::env::temp_dir().join(format!("atomicd-kill-{}", unique()));
    std::fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("{e}"));
    let sock = dir.join("podman.sock").display().to_string();
    let mut engine = Command::new("podman")
        .args(["system", "service", "--time=0", &format!("unix://{sock}")])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(wait_until(Duration::from_secs(30), || std::path::Path::new(&sock).exists()));
    std::thread::sleep(Duration::from_millis(500));
    let d = Daemon::start(&["--engine-socket", &sock]);
    let name = format!("orphan-{}", unique());
    let run = {
        let name = name.clone();
        tokio::spawn(async move {
            let opts = HashMap::from([("name", zbus::zvariant::Value::from(name.as_str()))]);
            proxy().await.run(PLAIN, &["sleep".to_owned(), "30".to_owned()], opts).await
        })
    };
    assert!(wait_until(Duration::from_secs(15), || containers("podman").contains(&name)));
    let _ = engine.kill();
    let _ = engine.wait();
    let r = tokio::time::timeout(Duration::from_secs(15), run).await.unwrap_or_else(|_| panic!("Run hung"));
    let name_of_error = error_name(&r.unwrap_or_else(|e| panic!("{e}")));
    assert!(
        name_of_error == "org.atomic.Error.EngineUnavailable"
            || name_of_error == "org.atomic.Error.EngineError",
        "{name_of_error}"
    );
    let mut d = d;
    assert!(d.alive(), "atomicd died with the engine");
    let _ = Command::new("podman").args(["rm", "-f", &name]).output();
    let _ = std::fs::remove_dir_all(&dir);
}
