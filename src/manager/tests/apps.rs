//! Applications installed as services, on the fakes: what Install records and writes, what the
//! unit's StartApplication runs (the record, never the label or the tag again), Uninstall's
//! teardown, and the bad inputs that write nothing.

use super::*;
use crate::manager::apps::record::App;

const SERVICE_RUN: &str = "docker run -d --name NAME IMAGE sleep 1000";

fn service_install(image: &str, name: Option<&str>, service: Option<bool>) -> InstallRequest {
    InstallRequest {
        image: image.into(),
        service,
        inputs: LabelInputs { name: name.map(Into::into), ..LabelInputs::default() },
        ..Default::default()
    }
}

fn unit_file(w: &World, name: &str) -> std::path::PathBuf {
    w.manager.units.dir.join(format!("atomic-app-{name}.service"))
}

fn records(w: &World) -> std::collections::BTreeMap<String, App> {
    w.manager.state.applications().unwrap()
}

/// Nothing of a service was written: no record, no unit file, nothing asked of systemd (its
/// look-ups are not logged).
fn nothing_written(w: &World, name: &str) {
    assert!(records(w).is_empty(), "{:?}", records(w));
    assert!(!unit_file(w, name).exists());
    assert!(w.systemd.calls().is_empty(), "{:?}", w.systemd.calls());
}

#[tokio::test]
async fn install_as_a_service_records_the_authorized_plan_and_writes_an_enabled_unit() {
    let w = world(&["org.atomic.install", "org.atomic.run"]);
    w.engine.image("web", "sha256:w1", &[("RUN", SERVICE_RUN)]);
    let r = w.manager.install(&caller(1000), service_install("web", None, Some(true))).await.unwrap();
    assert_eq!(r.service.as_deref(), Some("atomic-app-web.service"));
    assert_eq!(r.service_command, ["docker", "run", "-d", "--name", "web", "web", "sleep", "1000"]);
    // polkit was asked for the Install of exactly that line, and told of the unit.
    let asked = w.authority.asked.lock().unwrap_or_else(|p| p.into_inner()).clone();
    assert_eq!(asked.len(), 1, "{asked:?}");
    assert_eq!(asked[0].0, "org.atomic.install");
    assert_eq!(asked[0].1["service"], "atomic-app-web.service");
    assert_eq!(asked[0].1["command"], "docker run -d --name web web sleep 1000");
    let app = &records(&w)["web"];
    assert_eq!((app.current.image_id.as_str(), app.installed_by), ("sha256:w1", 1000));
    assert_eq!(app.current.argv, r.service_command);
    assert!(app.current.privileges.is_empty());
    let text = std::fs::read_to_string(unit_file(&w, "web")).unwrap();
    assert!(text.contains("ExecStart=/usr/bin/atomic apps run web\n"), "{text}");
    assert_eq!(
        w.systemd.calls(),
        ["reload", "enable atomic-app-web.service", "start atomic-app-web.service"]
    );
    assert_eq!(w.manager.status().await.unwrap().installed.len(), 1);
    let listed = w.manager.list_applications().await.unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!((listed[0].unit_state.as_str(), listed[0].container.as_str()), ("active ()", "none"));
}

#[tokio::test]
async fn the_image_label_asks_for_a_service_and_the_option_wins() {
    let w = world(&["org.atomic.install", "org.atomic.run"]);
    w.engine.image("web", "sha256:w1", &[("RUN", SERVICE_RUN), ("org.atomic.service", "true")]);
    let declined = w.manager.install(&caller(0), service_install("web", None, Some(false))).await;
    // Without the service and without an INSTALL label there is nothing to install.
    assert!(matches!(declined, Err(Error::LabelMissing(_))), "{declined:?}");
    nothing_written(&w, "web");
    let r = w.manager.install(&caller(0), service_install("web", None, None)).await.unwrap();
    assert_eq!(r.service.as_deref(), Some("atomic-app-web.service"));
    assert!(unit_file(&w, "web").exists());
}

#[tokio::test]
async fn a_service_that_reaches_the_host_needs_run_privileged_and_a_refusal_writes_nothing() {
    let w = world(&["org.atomic.install"]);
    w.engine.image("agent", "sha256:a1", &[("RUN", "docker run -d --privileged --name NAME IMAGE")]);
    let r = w.manager.install(&caller(1000), service_install("agent", None, Some(true))).await;
    assert!(matches!(&r, Err(Error::AccessDenied(m)) if m.contains("run-privileged")), "{r:?}");
    assert_eq!(asked(&w), ["org.atomic.install", "org.atomic.run-privileged"]);
    nothing_written(&w, "agent");
    assert!(w.engine.calls().is_empty(), "{:?}", w.engine.calls());
}

#[tokio::test]
async fn bad_names_lines_and_units_are_refused_before_anything_is_written() {
    let w = world(&["org.atomic.install", "org.atomic.run"]);
    w.engine.image("web", "sha256:w1", &[("RUN", SERVICE_RUN)]);
    w.engine.image("tool", "sha256:t1", &[("RUN", "docker run --rm --name NAME IMAGE echo hi")]);
    w.engine.image("anon", "sha256:n1", &[("RUN", "docker run -d IMAGE")]);
    w.engine.image(
        "envy",
        "sha256:e1",
        &[("RUN", "docker run -d --env-file /etc/app.env --name NAME IMAGE")],
    );
    w.engine.image("bare", "sha256:b1", &[]);
    let long = "a".repeat(237);
    let cases: [(&str, Option<&str>, &str); 6] = [
        ("web", Some(long.as_str()), "at most 236 characters"),
        ("web", Some("web@1"), "not a valid container name"),
        ("tool", None, "not detached"),
        ("anon", None, "must name its container"),
        ("envy", None, "env files"),
        ("bare", None, "no RUN label"),
    ];
    for (image, name, says) in cases {
        let r = w.manager.install(&caller(0), service_install(image, name, Some(true))).await;
        let e = r.expect_err(image).to_string();
        assert!(e.contains(says), "{image}: {e}");
        nothing_written(&w, name.unwrap_or(image));
    }
    assert!(w.authority.asked.lock().unwrap_or_else(|p| p.into_inner()).is_empty());
    // A unit file of that name that atomicd did not write stays as it is.
    std::fs::create_dir_all(&w.manager.units.dir).unwrap();
    std::fs::write(unit_file(&w, "web"), "[Service]\nExecStart=/usr/local/bin/web\n").unwrap();
    let e = w.manager.install(&caller(0), service_install("web", None, Some(true))).await.unwrap_err();
    assert!(matches!(&e, Error::Failed(m) if m.contains("atomicd did not write it")), "{e:?}");
    assert_eq!(
        std::fs::read_to_string(unit_file(&w, "web")).unwrap(),
        "[Service]\nExecStart=/usr/local/bin/web\n"
    );
    assert!(records(&w).is_empty());
    // Nor one systemd has from elsewhere (/usr/lib/systemd/system, a generator).
    w.systemd.has("atomic-app-other.service", "/usr/lib/systemd/system/atomic-app-other.service");
    let e = w.manager.install(&caller(0), service_install("web", Some("other"), Some(true))).await;
    let e = e.expect_err("other").to_string();
    assert!(e.contains("/usr/lib/systemd/system/atomic-app-other.service"), "{e}");
    nothing_written(&w, "other");
}

#[tokio::test]
async fn a_unit_that_cannot_be_enabled_takes_its_record_with_it() {
    let w = world(&["org.atomic.install", "org.atomic.run"]);
    w.engine.image("web", "sha256:w1", &[("RUN", SERVICE_RUN)]);
    *w.systemd.failing.lock().unwrap() = Some("enable");
    let e = w.manager.install(&caller(0), service_install("web", None, Some(true))).await.unwrap_err();
    assert!(e.to_string().contains("refused by the test"), "{e}");
    assert!(records(&w).is_empty());
    assert!(!unit_file(&w, "web").exists());
    // A unit that does not start stays enabled, and the call says so.
    *w.systemd.failing.lock().unwrap() = Some("start");
    let r = w.manager.install(&caller(0), service_install("web", None, Some(true))).await.unwrap();
    assert!(r.warnings.iter().any(|m| m.contains("did not start")), "{:?}", r.warnings);
    assert!(records(&w).contains_key("web") && unit_file(&w, "web").exists());
}

#[tokio::test]
async fn the_unit_runs_the_record_not_the_label_or_the_tag_of_today() {
    // The unit's process is root's, acting on uid 1000's application (root passes polkit).
    let w = world(&["org.atomic.install", "org.atomic.run", "org.atomic.manage-any"]);
    w.engine.image("web", "sha256:w1", &[("RUN", SERVICE_RUN)]);
    w.manager.install(&caller(1000), service_install("web", None, Some(true))).await.unwrap();
    // The tag moves to an image whose label asks for the host.
    w.engine.image("web", "sha256:w2", &[("RUN", "docker run -d --privileged --name NAME IMAGE")]);
    let r = w.manager.start_application(&caller(0), "web", CallerFds::default()).await.unwrap();
    assert!(r.created);
    assert_eq!(r.image_id, "sha256:w1");
    assert_eq!(w.engine.calls(), ["create new1 from sha256:w1", "start new1"]);
    // The container is the installer's, as if it had run it itself.
    let labels = w.engine.containers.lock().unwrap()[0].labels.clone();
    assert_eq!(labels["org.atomic.caller-uid"], "1000");
    assert_eq!(labels["org.atomic.operation"], "Service");
    // While it runs from the recorded image, a start only finds it (atomicd restarted).
    let again = w.manager.start_application(&caller(0), "web", CallerFds::default()).await.unwrap();
    assert!(!again.created);
    assert_eq!(w.engine.calls().len(), 2);
    let stopped = w.manager.stop_application(&caller(1000), "web").await.unwrap();
    assert_eq!(stopped.stopped.as_deref(), Some("new1"));
    // A start after a stop replaces atomicd's stopped container of that name.
    w.manager.start_application(&caller(0), "web", CallerFds::default()).await.unwrap();
    assert_eq!(
        w.engine.calls()[2..],
        ["stop -t 10 new1", "rm new1", "create new2 from sha256:w1", "start new2"]
    );
    // A record edited to reach further than what was authorized is refused.
    let mut apps = records(&w);
    apps.get_mut("web").unwrap().current.argv.insert(2, "--privileged".into());
    w.manager.state.save_applications(&apps).unwrap();
    let before = w.engine.calls().len();
    let e = w.manager.start_application(&caller(0), "web", CallerFds::default()).await.unwrap_err();
    assert!(e.to_string().contains("no longer matches what was authorized"), "{e}");
    assert_eq!(w.engine.calls().len(), before);
}

#[tokio::test]
async fn another_callers_application_needs_manage_any_and_an_unknown_one_is_named() {
    let w = world(&["org.atomic.install", "org.atomic.run"]);
    w.engine.image("web", "sha256:w1", &[("RUN", SERVICE_RUN)]);
    w.manager.install(&caller(1000), service_install("web", None, Some(true))).await.unwrap();
    let e = w.manager.start_application(&caller(1001), "web", CallerFds::default()).await.unwrap_err();
    assert!(matches!(&e, Error::AccessDenied(m) if m.contains("manage-any")), "{e:?}");
    let e = w.manager.stop_application(&caller(1001), "web").await.unwrap_err();
    assert!(matches!(&e, Error::AccessDenied(m) if m.contains("manage-any")), "{e:?}");
    assert!(w.engine.calls().is_empty(), "{:?}", w.engine.calls());
    for name in ["nothing", "", "../web"] {
        let e = w.manager.start_application(&caller(0), name, CallerFds::default()).await.unwrap_err();
        assert!(matches!(e, Error::InvalidArgument(_)), "{name:?}: {e:?}");
    }
}

#[tokio::test]
async fn uninstall_stops_disables_and_removes_the_unit_then_the_record() {
    let w = world(&["org.atomic.install", "org.atomic.run", "org.atomic.uninstall"]);
    w.engine.image("web", "sha256:w1", &[("RUN", SERVICE_RUN)]);
    w.manager.install(&caller(1000), service_install("web", None, Some(true))).await.unwrap();
    // Its running container needs no force: the unit stops it.
    w.made(mine("web", "sha256:w1", true, &[]));
    let before = w.systemd.calls().len();
    let r = w
        .manager
        .uninstall(&caller(1000), UninstallRequest { image: "web".into(), ..Default::default() })
        .await
        .unwrap();
    assert_eq!(r.removed, ["web-id", "sha256:w1"]);
    let asked = w.authority.asked.lock().unwrap_or_else(|p| p.into_inner()).clone();
    assert_eq!(asked.last().unwrap().1["service"], "atomic-app-web.service");
    assert_eq!(
        w.systemd.calls()[before..],
        ["stop atomic-app-web.service", "disable atomic-app-web.service", "reload"]
    );
    assert!(!unit_file(&w, "web").exists());
    assert!(records(&w).is_empty());
    assert!(w.manager.status().await.unwrap().installed.is_empty());
}

#[tokio::test]
async fn uninstall_removes_the_app_s_container_when_it_runs_an_image_the_tag_moved_past() {
    let w = world(&["org.atomic.install", "org.atomic.run", "org.atomic.uninstall"]);
    w.engine.image("web", "sha256:w1", &[("RUN", SERVICE_RUN)]);
    w.manager.install(&caller(1000), service_install("web", None, Some(true))).await.unwrap();
    // Rolled back to an older image while the tag names the newer one.
    w.made(mine("web", "sha256:w0", false, &[]));
    let r = w
        .manager
        .uninstall(&caller(1000), UninstallRequest { image: "web".into(), ..Default::default() })
        .await
        .unwrap();
    assert_eq!(r.removed, ["web-id", "sha256:w1"]);
    assert_eq!(w.engine.calls(), ["rm web-id", "rmi web"]);
}
