//! Install and Uninstall end to end: pull from the local registry, INSTALL/UNINSTALL labels that
//! leave marks on the host, the installation record across restarts, and refusals.
// Its helpers are test code too, though outside a #[test] (which clippy.toml already allows).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::path::Path;
use std::process::Command;

use common::*;

const APP: &str = "127.0.0.1:5000/atomic-test/app:latest";
const MARKS: &str = "/var/tmp/atomicd-app";

fn image_present(engine: &str, image: &str) -> bool {
    Command::new(engine).args(["image", "inspect", image]).output().is_ok_and(|o| o.status.success())
}

fn forget_image(engine: &str) {
    let _ = Command::new(engine).args(["rmi", "-f", APP]).output();
    assert!(!image_present(engine, APP));
}

async fn installed() -> Vec<InstalledBlock> {
    proxy().await.status().await.unwrap().installed
}

/// The names installed, for comparisons.
async fn installed_names() -> Vec<String> {
    installed().await.into_iter().map(|i| i.name).collect()
}

#[tokio::test(flavor = "multi_thread")]
#[ignore = "needs the test world (tests/world.sh up, as root); tests/run.sh runs it"]
async fn install_pulls_runs_the_label_records_and_uninstall_undoes_it() {
    for (sock, engine) in [(PODMAN_SOCK, "podman"), (DOCKER_SOCK, "docker")] {
        forget_image(engine);
        let name = format!("app{}", unique());
        let mark = Path::new(MARKS).join(format!("{name}.installed"));
        let mut d = Daemon::start(&["--engine-socket", sock]);

        // Refused before anything happens: no pull, no record.
        let r = call_as(NOBODY, &["--interactive", "Install", APP]);
        assert_eq!(r.error.map(|e| e.0).as_deref(), Some("org.freedesktop.DBus.Error.AccessDenied"));
        assert!(!image_present(engine, APP), "{engine}: a refused Install pulled");
        assert_eq!(installed_names().await, Vec::<String>::new());

        let p = proxy().await;
        let install = InstallOptions { name: Some(name.clone()), ..Default::default() };
        let r = p.install(APP, &install).await.unwrap_or_else(|e| panic!("{engine}: {e}\n{}", d.log_text()));
        assert_eq!(r.exit_code, Some(0));
        assert!(image_present(engine, APP), "{engine}: not pulled");
        let image_id = r.image_id;
        assert!(image_id.len() > 12);
        assert_eq!(std::fs::read_to_string(&mark).unwrap_or_default(), format!("installed as {name}\n"));
        let list = installed().await;
        assert_eq!(list.len(), 1, "{list:?}");
        assert_eq!(
            (list[0].image.as_str(), list[0].name.as_str(), list[0].installed_by, list[0].image_id.as_str()),
            (APP, name.as_str(), 0, image_id.as_str())
        );

        // The record survives a restart of atomicd.
        d = d.restart(&["--engine-socket", sock]);
        assert_eq!(installed_names().await, std::slice::from_ref(&name), "{engine}: record lost on restart");

        // Run works now that it is installed.
        let run = RunOptions { name: Some(name.clone()), ..Default::default() };
        let r = proxy().await.run(APP, &[], &run).await.unwrap();
        assert_eq!(r.output.as_deref(), Some("app running\n"));

        // Another container of the image blocks Uninstall unless forced.
        let other = format!("other{}", unique());
        let made = Command::new(engine).args(["create", "--name", &other, APP, "sleep", "60"]).output();
        assert!(made.is_ok_and(|o| o.status.success()), "{engine} create");
        let p = proxy().await;
        let uninstall = UninstallOptions { name: Some(name.clone()), ..Default::default() };
        let r = p.uninstall(APP, &uninstall).await;
        assert_eq!(error_name(&r), "org.atomic.Error.Failed", "{engine}: {r:?}");
        let Err(zbus::Error::MethodError(_, Some(msg), _)) = &r else { panic!("{engine}: {r:?}") };
        assert!(msg.contains(&other), "{msg}");
        assert!(mark.exists() && image_present(engine, APP), "{engine}: a refused Uninstall changed things");

        // force removes atomicd's containers only: one it did not make still blocks the image.
        let forced = UninstallOptions { force: Some(true), ..uninstall };
        let r = p.uninstall(APP, &forced).await;
        assert_eq!(error_name(&r), "org.atomic.Error.Failed", "{engine}: {r:?}");
        let Err(zbus::Error::MethodError(_, Some(msg), _)) = &r else { panic!("{engine}: {r:?}") };
        assert!(msg.contains(&other) && msg.contains("not made by atomicd"), "{msg}");
        assert!(mark.exists() && image_present(engine, APP), "{engine}: a refused Uninstall changed things");
        let removed = Command::new(engine).args(["rm", "-f", &other]).output();
        assert!(removed.is_ok_and(|o| o.status.success()), "{engine} rm");
        let r = p.uninstall(APP, &forced).await.unwrap_or_else(|e| panic!("{engine}: {e}\n{}", d.log_text()));
        assert_eq!(r.exit_code, Some(0));
        // The pulled name shares its content with the world's own atomic-test/app tag: only the
        // name goes, so the image is not reported removed, and the call says so.
        assert!(!r.removed.contains(&image_id), "{engine}: {:?}", r.removed);
        assert!(r.warnings.iter().any(|w| w.contains("was untagged")), "{engine}: {:?}", r.warnings);
        assert!(!mark.exists(), "{engine}: UNINSTALL label did not run");
        assert!(!image_present(engine, APP), "{engine}: image kept");
        assert!(!containers(engine).contains(&other));
        assert_eq!(installed_names().await, Vec::<String>::new());
    }
}

#[tokio::test(flavor = "multi_thread")]
#[ignore = "needs the test world (tests/world.sh up, as root); tests/run.sh runs it"]
async fn install_refusals() {
    let _d = Daemon::start(&["--engine-socket", PODMAN_SOCK]);
    let p = proxy().await;
    let r = p.install(PLAIN, &Default::default()).await;
    assert_eq!(error_name(&r), "org.atomic.Error.LabelMissing");
    let r = p.install("127.0.0.1:5000/atomic-test/nothing-here:1", &Default::default()).await;
    assert_eq!(error_name(&r), "org.atomic.Error.ImageNotFound");
    let no_pull = InstallOptions { pull: Some(false), ..Default::default() };
    let r = p.install("127.0.0.1:5000/atomic-test/nothing-here:1", &no_pull).await;
    assert_eq!(error_name(&r), "org.atomic.Error.ImageNotFound");
    let r = p.uninstall("atomic-test/not-there", &Default::default()).await;
    assert_eq!(error_name(&r), "org.atomic.Error.ImageNotFound");
    // display resolves without running or recording, and needs no authorization.
    let r = call_as(NOBODY, &["Install", "atomic-test/app", "--opt", "display=true"]);
    let line = r.json["command"].to_string();
    assert!(line.contains("echo installed as app"), "{line}");
    assert_eq!(installed_names().await, Vec::<String>::new());
    // An image that was never installed does not get its UNINSTALL label run, unless forced.
    let (code, out, err) = cli_as(NOBODY, &["uninstall", "--display", "atomic-test/app"]);
    assert_eq!(code, 0);
    assert!(!out.contains("rm /out/app.installed") && err.contains("was not run"), "{out}{err}");
    let (code, out, _) = cli_as(NOBODY, &["uninstall", "--display", "--force", "atomic-test/app"]);
    assert_eq!(code, 0);
    assert!(out.contains("rm /out/app.installed"), "{out}");
}

#[test]
#[ignore = "needs the test world (tests/world.sh up, as root); tests/run.sh runs it"]
fn a_failing_label_s_exit_code_is_the_call_s_and_nothing_is_recorded_or_removed() {
    let _d = Daemon::start(&["--engine-socket", PODMAN_SOCK]);
    // INSTALL: its output streams to the CLI's stdout, with $PWD and $SUDO_UID filled in; its
    // exit code is the CLI's; no record is written.
    let name = format!("bad{}", unique());
    let out = Command::new(bin("atomic"))
        .args(["install", "--name", &name, "atomic-test/badinstall"])
        .env("SUDO_UID", "1234")
        .current_dir("/tmp")
        .output()
        .unwrap();
    let (stdout, stderr) = (String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert_eq!((out.status.code(), stdout.as_ref()), (Some(4), "pwd=/tmp uid=1234\n"), "{stderr}");
    assert!(stderr.contains("exited with 4; nothing was recorded"), "{stderr}");
    let (_, status, _) = cli_as(0, &["status", "--json"]);
    assert!(!status.contains(&name), "a failed INSTALL was recorded: {status}");

    // UNINSTALL: a non-zero exit leaves the image and the record, and says so.
    let name = format!("keep{}", unique());
    let (code, _, err) = cli_as(0, &["install", "--name", &name, "atomic-test/baduninstall"]);
    assert_eq!(code, 0, "{err}");
    let (code, out, err) = cli_as(0, &["uninstall", "--name", &name, "atomic-test/baduninstall"]);
    assert_eq!((code, out.as_str()), (5, "refusing\n"), "{err}");
    assert!(err.contains("exited with 5; the image"), "{err}");
    let (_, status, _) = cli_as(0, &["status", "--json"]);
    assert!(status.contains(&name), "the record went with a failed UNINSTALL: {status}");
    let kept = Command::new("podman").args(["image", "exists", "atomic-test/baduninstall"]).status();
    assert!(kept.is_ok_and(|s| s.success()), "the image went with a failed UNINSTALL");
}
