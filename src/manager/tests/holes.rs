//! The holes a review reproduced against 0.1 (issue 24), each as the rule that closes it, on the
//! fakes: ownership from atomicd's record and not from labels, another caller's container, what
//! a pull and an image removal need, and work bounded before polkit is asked.

use super::*;

/// A container an admin made with podman from an image whose author set every label atomicd
/// writes (`org.atomic.managed=1`, `org.atomic.remove=1`, `org.atomic.caller-uid=0`...): in the
/// engine with all of them, in atomicd's record not at all.
fn forged(w: &World, name: &str, running: bool) {
    let mut c = mine(name, "sha256:f1", running, &[]);
    c.labels.insert("org.atomic.remove".into(), "1".into());
    w.engine.container(c);
}

fn forging_image(w: &World) {
    let labels = [
        ("RUN", NAMED_RUN),
        ("org.atomic.managed", "1"),
        ("org.atomic.remove", "1"),
        ("org.atomic.image", "app"),
        ("org.atomic.caller-uid", "0"),
    ];
    w.engine.image("app", "sha256:f1", &labels);
}

fn not_ours(r: &Result<impl std::fmt::Debug>) -> bool {
    matches!(r, Err(Error::Failed(m)) if m.contains("not made by atomicd"))
}

#[tokio::test]
async fn labels_an_image_author_can_set_make_no_container_atomicd_s() {
    let w = world(&["org.atomic.run", "org.atomic.stop", "org.atomic.uninstall"]);
    forging_image(&w);
    forged(&w, "app", true);
    let exec = w.manager.run(&caller(1000), run_request("app", &["cat", "/run/secrets/db"])).await;
    assert!(not_ours(&exec), "a run-only caller exec'd into it: {exec:?}");
    let replace = RunRequest { replace: true, ..run_request("app", &[]) };
    let replaced = w.manager.run(&caller(1000), replace).await;
    assert!(not_ours(&replaced), "replace removed it: {replaced:?}");
    let stopped = w.manager.stop(&caller(1000), "app", 10, false, LabelInputs::default()).await;
    assert!(not_ours(&stopped), "a stop-only caller stopped it: {stopped:?}");
    let uninstall = UninstallRequest { image: "app".into(), force: true, ..Default::default() };
    let r = w.manager.uninstall(&caller(0), uninstall).await;
    assert!(matches!(&r, Err(Error::Failed(m)) if m.contains("not made by atomicd")), "{r:?}");
    assert!(w.manager.list_containers(false).await.unwrap().is_empty());
    let all = w.manager.list_containers(true).await.unwrap();
    assert_eq!(all.iter().map(|c| (c.name.as_str(), c.managed)).collect::<Vec<_>>(), [("app", false)]);
    // An exited one with `org.atomic.remove=1` survives atomicd's start-up sweep.
    forged(&w, "left", false);
    assert_eq!(w.manager.sweep_removals().await, 0);
    assert!(w.engine.names().contains(&"left".to_owned()));
    assert!(
        w.engine.calls().iter().all(|c| !c.starts_with("rm") && !c.starts_with("exec")),
        "{:?}",
        w.engine.calls()
    );
}

#[tokio::test]
async fn atomicd_s_kept_container_does_not_inherit_remove_from_its_image() {
    let w = world(&["org.atomic.run"]);
    forging_image(&w);
    let r = w.manager.run(&caller(0), RunRequest { detach: true, ..run_request("app", &[]) }).await;
    let id = r.unwrap().container_id.unwrap_or_default();
    let _ = w.engine.stop(&id, 0).await;
    assert_eq!(w.manager.sweep_removals().await, 0, "atomicd's kept container was swept");
    assert!(w.engine.names().contains(&"app".to_owned()));
    // What atomicd still had to remove (a waited --rm left by a crash) is swept.
    let w = world(&[]);
    let mut left = mine("left", "sha256:a1", false, &[]);
    left.labels.insert("org.atomic.remove".into(), "1".into());
    w.made(left);
    assert_eq!(w.manager.sweep_removals().await, 1);
    assert!(w.engine.names().is_empty());
}

#[tokio::test]
async fn the_record_outlives_a_restart_and_forgets_what_is_gone() {
    let dir = std::env::temp_dir().join(format!("atomicd-owned-{}", std::process::id()));
    let w = world_in(&["org.atomic.run"], Some(dir.clone()));
    w.engine.image("app", "sha256:a1", &[("RUN", "docker run -d --name NAME IMAGE")]);
    w.manager.run(&caller(1000), run_request("app", &[])).await.unwrap();
    let recorded = std::fs::read_to_string(dir.join("containers.json")).unwrap_or_default();
    assert!(recorded.contains("\"new1\"") && recorded.contains("\"caller_uid\": 1000"), "{recorded}");
    // A restart on the same state: the container is still atomicd's (it execs into it)...
    let again = world_in(&["org.atomic.run"], Some(dir.clone()));
    again.engine.image("app", "sha256:a1", &[("RUN", "docker run -d --name NAME IMAGE")]);
    let mut c = mine("app", "sha256:a1", true, &[]);
    c.id = "new1".into();
    again.engine.container(c);
    let r = again.manager.run(&caller(1000), run_request("app", &["date"])).await;
    assert_eq!(r.unwrap().exit_code, Some(7), "exec'd into its own container");
    // ...and once the engine no longer has it, the next start forgets it.
    let gone = world_in(&[], Some(dir.clone()));
    gone.manager.sweep_removals().await;
    let recorded = std::fs::read_to_string(dir.join("containers.json")).unwrap_or_default();
    assert!(!recorded.contains("new1"), "{recorded}");
    drop((w, again));
}

#[tokio::test]
async fn a_start_against_another_engine_keeps_the_record_of_the_first_engine_s_containers() {
    // Found in the systemd machine: atomicd moved from Podman to Docker and back forgot every
    // Podman container it had made, and then refused to stop or replace its own applications.
    let dir = std::env::temp_dir().join(format!("atomicd-engines-{}", std::process::id()));
    let podman = world_in(&["org.atomic.run"], Some(dir.clone()));
    *podman.engine.socket.lock().unwrap() = "/run/podman/podman.sock".into();
    podman.engine.image("app", "sha256:a1", &[("RUN", "docker run -d --name NAME IMAGE")]);
    podman.manager.run(&caller(1000), run_request("app", &[])).await.unwrap();
    let docker = world_in(&[], Some(dir.clone()));
    *docker.engine.socket.lock().unwrap() = "/run/docker.sock".into();
    docker.manager.sweep_removals().await;
    let recorded = std::fs::read_to_string(dir.join("containers.json")).unwrap_or_default();
    assert!(recorded.contains("\"new1\"") && recorded.contains("fake@/run/podman/podman.sock"), "{recorded}");
    // Back on Podman, whose container is gone now: that start forgets it.
    let back = world_in(&[], Some(dir.clone()));
    *back.engine.socket.lock().unwrap() = "/run/podman/podman.sock".into();
    back.manager.sweep_removals().await;
    let recorded = std::fs::read_to_string(dir.join("containers.json")).unwrap_or_default();
    assert!(!recorded.contains("new1"), "{recorded}");
    drop((podman, docker));
}

/// Root's detached service, made by atomicd for uid 0 from a line whose env file holds secrets.
fn roots_service(w: &World, running: bool) {
    w.engine.image("svc", "sha256:s1", &[("RUN", "docker run -d --name NAME --env-file /etc/svc.env IMAGE")]);
    let mut c = mine("svc", "sha256:s1", running, &[]);
    c.labels.insert("org.atomic.caller-uid".into(), "0".into());
    c.labels.insert("org.atomic.image".into(), "svc".into());
    w.made(c);
}

#[tokio::test]
async fn another_caller_s_container_needs_manage_any_to_be_used_or_changed() {
    let w = world(&["org.atomic.run", "org.atomic.stop"]);
    roots_service(&w, true);
    let exec = w.manager.run(&caller(1000), run_request("svc", &["cat", "/proc/1/environ"])).await;
    assert!(matches!(&exec, Err(Error::AccessDenied(m)) if m.contains("manage-any")), "{exec:?}");
    // Replacing it with the caller's own env file (EnvFilesNeeded comes first, as for any line).
    let mut replace = RunRequest { replace: true, ..run_request("svc", &[]) };
    replace.inputs.env_files.insert("/etc/svc.env".into(), "TOKEN=mine".into());
    let replaced = w.manager.run(&caller(1000), replace).await;
    assert!(matches!(&replaced, Err(Error::AccessDenied(m)) if m.contains("manage-any")), "{replaced:?}");
    let stopped = w.manager.stop(&caller(1000), "svc", 10, false, LabelInputs::default()).await;
    assert!(matches!(&stopped, Err(Error::AccessDenied(m)) if m.contains("manage-any")), "{stopped:?}");
    assert!(w.engine.calls().is_empty(), "nothing was done to root's container: {:?}", w.engine.calls());
    // Stopped, a detached Run would start it: the same rule.
    let w = world(&["org.atomic.run"]);
    roots_service(&w, false);
    let start = w.manager.run(&caller(1000), RunRequest { detach: true, ..run_request("svc", &[]) }).await;
    assert!(matches!(&start, Err(Error::AccessDenied(m)) if m.contains("manage-any")), "{start:?}");
    assert!(w.engine.calls().is_empty(), "{:?}", w.engine.calls());
    // Lists still show it, with who started it.
    let listed = w.manager.list_containers(false).await.unwrap();
    assert_eq!(
        listed.iter().map(|c| (c.name.as_str(), c.started_by)).collect::<Vec<_>>(),
        [("svc", Some(0))]
    );
    // With manage-any it is allowed, and polkit is told whose container it is.
    let w = world(&["org.atomic.run", "org.atomic.manage-any"]);
    roots_service(&w, true);
    let r = w.manager.run(&caller(1000), run_request("svc", &["date"])).await;
    assert_eq!(r.unwrap().exit_code, Some(7));
    assert_eq!(asked(&w), ["org.atomic.run", "org.atomic.manage-any"]);
    let details = w.authority.asked.lock().unwrap_or_else(|p| p.into_inner())[0].1.clone();
    assert_eq!(details["other-callers"], "uid 0");
    // A container that already runs, asked for with no command, is left as it is: nothing to grant.
    let w = world(&["org.atomic.run"]);
    roots_service(&w, true);
    let r = w.manager.run(&caller(1000), run_request("svc", &[])).await.unwrap();
    assert_eq!(r.exit_code, Some(0));
    assert!(w.engine.calls().is_empty());
}

#[tokio::test]
async fn install_and_update_pull_only_with_org_atomic_pull() {
    let w = world(&["org.atomic.install"]);
    w.engine.publish("reg/app", "sha256:a1", &[("INSTALL", "docker run --rm IMAGE true")]);
    let install = InstallRequest { image: "reg/app".into(), pull: true, ..Default::default() };
    let r = w.manager.install(&caller(1000), install).await;
    assert!(matches!(&r, Err(Error::AccessDenied(m)) if m.contains("org.atomic.pull")), "{r:?}");
    assert_eq!(asked(&w), ["org.atomic.install", "org.atomic.pull"]);
    let details = w.authority.asked.lock().unwrap_or_else(|p| p.into_inner())[1].1.clone();
    assert_eq!(details["pulls"], "reg/app:latest", "polkit is told what is pulled");
    let r = w.manager.update(&caller(1000), "reg/app", false, false).await;
    assert!(matches!(&r, Err(Error::AccessDenied(m)) if m.contains("org.atomic.pull")), "{r:?}");
    assert!(w.engine.calls().is_empty(), "nothing was pulled: {:?}", w.engine.calls());
    // With both, the install pulls and runs.
    let w = world(&["org.atomic.install", "org.atomic.pull"]);
    w.engine.publish("reg/app", "sha256:a1", &[("INSTALL", "docker run --rm IMAGE true")]);
    let install = InstallRequest { image: "reg/app".into(), pull: true, ..Default::default() };
    let r = w.manager.install(&caller(1000), install).await.unwrap();
    assert_eq!(r.exit_code, Some(0));
    assert_eq!(w.engine.calls()[0], "pull reg/app:latest");
}

#[tokio::test]
async fn uninstall_removes_only_images_atomicd_installed_unless_forced() {
    let w = world(&["org.atomic.uninstall"]);
    w.engine.image("base", "sha256:b1", &[]);
    let plain = || UninstallRequest { image: "base".into(), ..Default::default() };
    let r = w.manager.uninstall(&caller(1000), plain()).await.unwrap();
    assert!(r.removed.is_empty(), "{r:?}");
    assert!(w.engine.calls().is_empty(), "an image nobody installed was removed: {:?}", w.engine.calls());
    let forced = UninstallRequest { force: true, ..plain() };
    let r = w.manager.uninstall(&caller(1000), forced).await.unwrap();
    assert_eq!(r.removed, ["sha256:b1"]);
    let details = w.authority.asked.lock().unwrap_or_else(|p| p.into_inner()).last().map(|a| a.1.clone());
    assert_eq!(details.unwrap_or_default()["removes"], "image base (not installed by atomicd)");
}
