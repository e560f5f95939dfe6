//! Images and containers over the real bus on both engines (issue: images and containers the
//! way a UI and a script need them): Pull, a Run that pulls, Info, and the lists.
// Its helpers are test code too, though outside a #[test] (which clippy.toml already allows).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::process::Command;

use common::*;

const TAGS: &str = "127.0.0.1:5000/atomic-test/tags";

fn rmi(engine: &str, image: &str) {
    let _ = Command::new(engine).args(["rmi", "-f", image]).output();
}

#[tokio::test(flavor = "multi_thread")]
#[ignore = "needs the test world (tests/world.sh up, as root); tests/run.sh runs it"]
async fn pull_pulls_exactly_the_reference_and_says_whether_it_changed() {
    for (sock, engine) in ENGINES {
        let _d = Daemon::start(&["--engine-socket", sock]);
        rmi(engine, &format!("{TAGS}:latest"));
        let p = proxy().await;
        let first = p.pull(TAGS, &PullOptions::default()).await.unwrap_or_else(|e| panic!("{engine}: {e}"));
        assert!(first.changed && first.image_id.starts_with("sha256:"), "{engine}: {first:?}");
        let again = p.pull(TAGS, &PullOptions::default()).await.unwrap_or_else(|e| panic!("{engine}: {e}"));
        assert!(!again.changed, "{engine}: nothing new in the registry");
        assert_eq!(again.image_id, first.image_id, "{engine}");
        // Pulling needs org.atomic.pull: nobody is refused and nothing is pulled.
        rmi(engine, &format!("{TAGS}:latest"));
        let refused = call_as(NOBODY, &["--interactive", "Pull", TAGS]);
        assert_eq!(refused.error.map(|e| e.0).as_deref(), Some("org.freedesktop.DBus.Error.AccessDenied"));
        let r = p.pull("127.0.0.1:5000/atomic-test/nothing-here:1", &PullOptions::default()).await;
        assert_eq!(error_name(&r), "org.atomic.Error.ImageNotFound", "{engine}");
        // The CLI shows the pull and says what it did.
        let (code, _, err) = cli_as(0, &["pull", TAGS]);
        assert_eq!(code, 0, "{err}");
        assert!(err.contains(&format!("atomic: pulled {TAGS}")), "{engine}: {err}");
    }
}

#[tokio::test(flavor = "multi_thread")]
#[ignore = "needs the test world (tests/world.sh up, as root); tests/run.sh runs it"]
async fn run_pulls_a_missing_image_first_unless_told_not_to() {
    for (sock, engine) in ENGINES {
        let _d = Daemon::start(&["--engine-socket", sock]);
        let image = format!("{TAGS}:other");
        rmi(engine, &image);
        let p = proxy().await;
        let no_pull = RunOptions { pull: Some(false), ..Default::default() };
        let r = p.run(&image, &["true".to_owned()], &no_pull).await;
        assert_eq!(error_name(&r), "org.atomic.Error.ImageNotFound", "{engine}");
        // display never pulls.
        let display = RunOptions { display: Some(true), ..Default::default() };
        assert_eq!(error_name(&p.run(&image, &[], &display).await), "org.atomic.Error.ImageNotFound");
        let cmd: Vec<String> = ["echo", "pulled and ran"].map(String::from).to_vec();
        let r = p.run(&image, &cmd, &Default::default()).await.unwrap_or_else(|e| panic!("{engine}: {e}"));
        assert_eq!((r.exit_code, r.output.as_deref()), (Some(0), Some("pulled and ran\n")), "{engine}");
        // The default line keeps its container (no --rm); it goes before the image does, and the
        // CLI then pulls again, with the pull's progress on stderr before the container's output.
        let id = r.container_id.clone().unwrap_or_default();
        let inspect = Command::new(engine).args(["container", "inspect", &id]).output();
        assert!(
            inspect.is_ok_and(|o| o.status.success()),
            "{engine}: the default line's container is not kept"
        );
        let _ = Command::new(engine).args(["rm", "-f", &id]).output();
        rmi(engine, &image);
        let (code, out, err) = cli_as(0, &["run", &image, "echo", "again"]);
        assert_eq!((code, out.as_str()), (0, "again\n"), "{engine}: {err}");
        assert!(err.contains(&format!("atomic: pulling {image}")), "{engine}: {err}");
        // That run's kept container goes too: a later daemon's records would not know it as its own.
        let _ = Command::new(engine).args(["rm", "-f", "tags"]).output();
    }
}

#[tokio::test(flavor = "multi_thread")]
#[ignore = "needs the test world (tests/world.sh up, as root); tests/run.sh runs it"]
async fn info_says_what_each_label_would_do_for_this_caller() {
    for (sock, engine) in ENGINES {
        let _d = Daemon::start(&["--engine-socket", sock]);
        let p = proxy().await;
        let name = format!("info{}", unique());
        let options = InfoOptions { name: Some(name.clone()), ..Default::default() };
        let i = p.info("atomic-test/app", &options).await.unwrap_or_else(|e| panic!("{engine}: {e}"));
        assert!(i.image_id.starts_with("sha256:") && i.size > 0 && i.created > 0, "{engine}: {i:?}");
        let run = i.run.unwrap_or_else(|| panic!("{engine}: no run"));
        assert!(run.supported && run.command.contains(&name), "{engine}: {run:?}");
        let install = i.install.unwrap_or_else(|| panic!("{engine}: no install"));
        assert_eq!(install.privileges, ["mounts host path /var/tmp/atomicd-app at /out"], "{engine}");
        assert!(install.label.contains("IMAGE"), "the raw label: {}", install.label);
        assert!(i.uninstall.is_some() && i.stop.is_none(), "{engine}");
        assert!(i.installed.is_none(), "{engine}");
        // A label atomicd will not run says why; the default line stands in for a missing RUN.
        let shell = p.info("atomic-test/shell", &Default::default()).await.unwrap();
        let run = shell.run.unwrap_or_else(|| panic!("{engine}: no run"));
        assert!(!run.supported && run.error.is_some_and(|e| e.contains(';')), "{engine}");
        let plain = p.info("atomic-test/plain", &Default::default()).await.unwrap();
        assert!(plain.run.is_some_and(|r| r.supported && r.label.is_empty()), "{engine}");
        // Open to every caller, and missing images are not pulled.
        let reply = call_as(NOBODY, &["Info", "atomic-test/app"]);
        assert!(reply.error.is_none(), "{engine}: {:?}", reply.error);
        assert_eq!(reply.json["install"]["supported"], true);
        let r = p.info("127.0.0.1:5000/atomic-test/nothing-here:1", &Default::default()).await;
        assert_eq!(error_name(&r), "org.atomic.Error.ImageNotFound");
        let (code, out, _) = cli_as(NOBODY, &["info", "atomic-test/app"]);
        assert_eq!(code, 0);
        assert!(out.contains("privileges: mounts host path /var/tmp/atomicd-app at /out"), "{out}");
    }
}

#[tokio::test(flavor = "multi_thread")]
#[ignore = "needs the test world (tests/world.sh up, as root); tests/run.sh runs it"]
async fn the_lists_show_images_with_their_labels_and_atomicd_s_containers() {
    for (sock, engine) in ENGINES {
        let _d = Daemon::start(&["--engine-socket", sock]);
        let p = proxy().await;
        let images = p.list_images(&Default::default()).await.unwrap_or_else(|e| panic!("{engine}: {e}"));
        let app = images
            .iter()
            .find(|i| i.tags.iter().any(|t| t.ends_with("atomic-test/app:latest")))
            .unwrap_or_else(|| panic!("{engine}: app not listed"));
        assert_eq!(app.labels, ["RUN", "INSTALL", "UNINSTALL"], "{engine}");
        assert!(app.size > 0 && app.created > 0);

        // A container of atomicd's, one of the engine's own, and what each list shows.
        let mine = format!("mine{}", unique());
        let theirs = format!("theirs{}", unique());
        let detached = RunOptions { name: Some(mine.clone()), detach: Some(true), ..Default::default() };
        let run = p.run("atomic-test/svc", &[], &detached).await.unwrap_or_else(|e| panic!("{engine}: {e}"));
        let made = Command::new(engine)
            .args(["run", "--name", &theirs, "atomic-test/plain", "sh", "-c", "exit 3"])
            .output();
        assert!(made.is_ok_and(|o| o.status.code() == Some(3)), "{engine} run");
        let ours = p.list_containers(&Default::default()).await.unwrap_or_else(|e| panic!("{engine}: {e}"));
        let c = ours.iter().find(|c| c.name == mine).unwrap_or_else(|| panic!("{engine}: {mine} not listed"));
        assert_eq!((c.state.as_str(), c.managed, c.started_by), ("running", true, Some(0)), "{engine}");
        assert_eq!((c.operation.as_deref(), c.privileged), (Some("Run"), Some(false)), "{engine}");
        assert_eq!(Some(c.container_id.clone()), run.container_id);
        assert!(!ours.iter().any(|c| c.name == theirs), "{engine}: not atomicd's, not listed");
        let all = ListOptions { all: Some(true) };
        let every = p.list_containers(&all).await.unwrap_or_else(|e| panic!("{engine}: {e}"));
        let t = every
            .iter()
            .find(|c| c.name == theirs)
            .unwrap_or_else(|| panic!("{engine}: {theirs} not in all"));
        assert_eq!((t.state.as_str(), t.exit_code, t.managed), ("exited", Some(3), false), "{engine}");
        // The CLI's table, as nobody (the lists are open).
        let (code, out, err) = cli_as(NOBODY, &["containers"]);
        assert_eq!(code, 0, "{err}");
        assert!(out.starts_with("NAME") && out.contains(&mine) && out.contains("Run by uid 0"), "{out}");
        let (code, out, _) = cli_as(NOBODY, &["ps", "--all", "--json"]);
        assert_eq!(code, 0);
        let json: serde_json::Value = serde_json::from_str(&out).unwrap_or_else(|e| panic!("{e}: {out}"));
        assert!(json.as_array().is_some_and(|l| l.iter().any(|c| c["name"] == theirs.as_str())), "{out}");
        for name in [&mine, &theirs] {
            let _ = Command::new(engine).args(["rm", "-f", name]).output();
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
#[ignore = "needs the test world (tests/world.sh up, as root); tests/run.sh runs it"]
async fn stop_uses_the_stop_label_or_the_engine_and_only_for_atomicd_s_containers() {
    for (sock, engine) in ENGINES {
        let _d = Daemon::start(&["--engine-socket", sock]);
        let p = proxy().await;
        let name = format!("stoppable{}", unique());
        let detached = RunOptions { name: Some(name.clone()), ..Default::default() };
        p.run("atomic-test/stoppable", &[], &detached).await.unwrap_or_else(|e| panic!("{engine}: {e}"));
        // nobody may not; display shows the STOP line and stops nothing.
        let refused = call_as(NOBODY, &["--interactive", "Stop", &name]);
        assert_eq!(refused.error.map(|e| e.0).as_deref(), Some("org.freedesktop.DBus.Error.AccessDenied"));
        let (code, out, err) = cli_as(0, &["stop", "--display", &name]);
        assert_eq!(code, 0, "{err}");
        assert_eq!(out.trim(), format!("docker run --rm atomic-test/stoppable echo stopping {name}"));
        // The STOP label runs: its output and exit code are the call's.
        let r = p.stop(&name, &StopOptions::default()).await.unwrap_or_else(|e| panic!("{engine}: {e}"));
        assert_eq!((r.exit_code, r.output), (Some(0), Some(format!("stopping {name}\n"))), "{engine}");
        // No STOP label: the engine stops it.
        let svc = format!("svc{}", unique());
        let detached = RunOptions { name: Some(svc.clone()), ..Default::default() };
        p.run("atomic-test/svc", &[], &detached).await.unwrap_or_else(|e| panic!("{engine}: {e}"));
        let quick = StopOptions { timeout: Some(1), ..Default::default() };
        let r = p.stop(&svc, &quick).await.unwrap_or_else(|e| panic!("{engine}: {e}"));
        assert_eq!(r.command.join(" "), format!("docker stop -t 1 {svc}"));
        let state = Command::new(engine).args(["inspect", "-f", "{{.State.Running}}", &svc]).output();
        let state = state.map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned()).unwrap_or_default();
        assert_eq!(state, "false", "{engine}: still running after Stop");
        // The engine's own container is not atomicd's to stop.
        let theirs = format!("theirs{}", unique());
        let made = Command::new(engine)
            .args(["run", "-d", "--name", &theirs, "atomic-test/plain", "sleep", "60"])
            .output();
        assert!(made.is_ok_and(|o| o.status.success()), "{engine} run");
        let r = p.stop(&theirs, &StopOptions::default()).await;
        assert_eq!(error_name(&r), "org.atomic.Error.Failed", "{engine}");
        assert!(error_text(&r).contains("not made by atomicd"), "{engine}: {r:?}");
        for n in [&name, &svc, &theirs] {
            let _ = Command::new(engine).args(["rm", "-f", n]).output();
        }
    }
}

/// Waits up to 10 s for a Changed signal naming `area`.
async fn changed_names(stream: &mut atomicd::dbus::proxy::ChangedStream, area: &str) -> bool {
    use futures_util::StreamExt;
    let wanted = async {
        while let Some(signal) = stream.next().await {
            if signal.args().is_ok_and(|a| a.areas.iter().any(|x| x == area)) {
                return true;
            }
        }
        false
    };
    tokio::time::timeout(std::time::Duration::from_secs(10), wanted).await.unwrap_or(false)
}

#[tokio::test(flavor = "multi_thread")]
#[ignore = "needs the test world (tests/world.sh up, as root); tests/run.sh runs it"]
async fn changed_follows_the_engine_and_atomicd_s_own_changes() {
    for (sock, engine) in ENGINES {
        let _d = Daemon::start(&["--engine-socket", sock]);
        let p = proxy().await;
        let mut changed = p.receive_changed().await.unwrap();
        // A container made with the engine's own CLI, which atomicd learns of from its events.
        let theirs = format!("theirs{}", unique());
        let made =
            Command::new(engine).args(["create", "--name", &theirs, "atomic-test/plain", "true"]).output();
        assert!(made.is_ok_and(|o| o.status.success()), "{engine} create");
        assert!(changed_names(&mut changed, "containers").await, "{engine}: no Changed(containers)");
        let _ = Command::new(engine).args(["rm", "-f", &theirs]).output();
        // An installation record is atomicd's own change.
        let name = format!("chg{}", unique());
        let install = InstallOptions { name: Some(name.clone()), ..Default::default() };
        p.install("atomic-test/app", &install).await.unwrap_or_else(|e| panic!("{engine}: {e}"));
        assert!(changed_names(&mut changed, "installed").await, "{engine}: no Changed(installed)");
        let uninstall = UninstallOptions { name: Some(name), keep_image: Some(true), ..Default::default() };
        p.uninstall("atomic-test/app", &uninstall).await.unwrap_or_else(|e| panic!("{engine}: {e}"));
    }
}

#[tokio::test(flavor = "multi_thread")]
#[ignore = "needs the test world (tests/world.sh up, as root); tests/run.sh runs it"]
async fn update_pulls_anew_and_force_removes_atomicd_s_containers_of_the_old_image() {
    for (sock, engine) in ENGINES {
        let _d = Daemon::start(&["--engine-socket", sock]);
        let p = proxy().await;
        // An "old" local image under the registry's name: plain, tagged as tags:latest.
        let image = format!("{TAGS}:latest");
        rmi(engine, &image);
        let tagged = Command::new(engine).args(["tag", "atomic-test/plain", &image]).output();
        assert!(tagged.is_ok_and(|o| o.status.success()), "{engine} tag");
        let name = format!("old{}", unique());
        let sleep: Vec<String> = ["sleep", "60"].map(String::from).to_vec();
        let detached = RunOptions { name: Some(name.clone()), detach: Some(true), ..Default::default() };
        let run = p.run(&image, &sleep, &detached).await.unwrap_or_else(|e| panic!("{engine}: {e}"));
        // nobody may not.
        let refused = call_as(NOBODY, &["--interactive", "Update", TAGS]);
        assert_eq!(refused.error.map(|e| e.0).as_deref(), Some("org.freedesktop.DBus.Error.AccessDenied"));
        let kept =
            p.update(TAGS, &UpdateOptions::default()).await.unwrap_or_else(|e| panic!("{engine}: {e}"));
        assert!(kept.changed && kept.removed.is_empty(), "{engine}: {kept:?}");
        assert_eq!(kept.outdated, std::slice::from_ref(&name), "{engine}");
        // Make it old again, and update with force: atomicd's container of the old image goes.
        let tagged = Command::new(engine).args(["tag", "atomic-test/plain", &image]).output();
        assert!(tagged.is_ok_and(|o| o.status.success()), "{engine} tag");
        let force = UpdateOptions { force: Some(true), ..Default::default() };
        let r = p.update(TAGS, &force).await.unwrap_or_else(|e| panic!("{engine}: {e}"));
        assert!(r.changed && r.old_image_id != r.image_id, "{engine}: {r:?}");
        assert_eq!(Some(r.removed.clone()), run.container_id.map(|id| vec![id]), "{engine}");
        assert!(r.outdated.is_empty() && !containers(engine).contains(&name), "{engine}: {r:?}");
        let again =
            p.update(TAGS, &UpdateOptions::default()).await.unwrap_or_else(|e| panic!("{engine}: {e}"));
        assert!(!again.changed, "{engine}: nothing new the second time");
        // The CLI says what happened.
        let (code, _, err) = cli_as(0, &["update", TAGS]);
        assert_eq!(code, 0, "{err}");
        assert!(err.contains("is up to date"), "{engine}: {err}");
    }
}
