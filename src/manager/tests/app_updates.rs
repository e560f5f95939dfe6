//! Updates of applications installed as services, on the fakes: applied when the new plan needs
//! no new privilege and kept when healthy, rolled back when not (and held after three in a row),
//! stopped at "needs approval" for a new privilege until a person's Update asks polkit, a
//! person's rollback, the policy's drop-in, and the health gate of an update a crash cut short.

use super::*;
use crate::manager::apps::record::App;
use crate::manager::apps::Asked;
use crate::updates::apps::AutoUpdate;

const RUN: &str = "docker run -d --name NAME IMAGE sleep 1000";

fn atomicd() -> Caller {
    Caller { bus_name: "atomicd".into(), uid: 0, allow_interactive: false }
}

fn app(w: &World) -> App {
    w.manager.state.applications::<App>().unwrap().remove("web").unwrap()
}

/// A world with `web` installed as a service by uid 1000 from sha256:w1, whose unit's restart
/// runs StartApplication as systemd would, and whose policy's health gate is short.
async fn installed(granted: &[&'static str]) -> World {
    let w = world(granted);
    w.engine.image("web", "sha256:w1", &[("RUN", RUN)]);
    let request = InstallRequest { image: "web".into(), service: Some(true), ..Default::default() };
    w.manager.install(&caller(1000), request).await.unwrap();
    w.manager.start_application(&caller(1000), "web", CallerFds::default()).await.unwrap();
    let policy = "[apps.web]\nauto-update = \"apply\"\nhealthy-after = \"2s\"\nhealth-timeout = \"5s\"\n";
    std::fs::write(w.manager.updates.main(), policy).unwrap();
    let manager = Arc::downgrade(&w.manager);
    let unit_runs: Arc<dyn Fn(String) + Send + Sync> = Arc::new(move |unit: String| {
        let Some(m) = manager.upgrade() else { return };
        let name = unit.trim_start_matches("atomic-app-").trim_end_matches(".service").to_owned();
        tokio::spawn(async move {
            let _ = m.start_application(&caller(0), &name, CallerFds::default()).await;
        });
    });
    *w.systemd.restarted.lock().unwrap() = Some(unit_runs);
    w
}

fn publish(w: &World, id: &str, run: &str, healthcheck: bool) {
    w.engine.publish("web", id, &[("RUN", run)]);
    w.engine.registry.lock().unwrap().get_mut("web").unwrap().healthcheck = healthcheck;
}

#[tokio::test(start_paused = true)]
async fn a_healthy_update_without_new_privileges_is_applied_and_kept() {
    let w = installed(&["org.atomic.install", "org.atomic.run", "org.atomic.manage-any"]).await;
    publish(&w, "sha256:w2", RUN, false);
    // The engine errs once mid-restart: the gate asks again instead of rolling back.
    *w.engine.find_errors.lock().unwrap() = 1;
    let r = w.manager.update_application(&atomicd(), "web", Asked::Policy(AutoUpdate::Apply)).await.unwrap();
    assert!(r.result.starts_with("updated: w2 runs"), "{}", r.result);
    let a = app(&w);
    assert_eq!(
        (a.current.image_id.as_str(), a.previous.unwrap().image_id.as_str()),
        ("sha256:w2", "sha256:w1")
    );
    assert!(a.updating.is_none() && a.update_available.is_empty());
    assert!(w.systemd.calls().contains(&"restart atomic-app-web.service".to_owned()));
    assert!(w.engine.calls().contains(&"create new2 from sha256:w2".to_owned()), "{:?}", w.engine.calls());
    // The next round finds nothing new.
    let r = w.manager.update_application(&atomicd(), "web", Asked::Policy(AutoUpdate::Apply)).await.unwrap();
    assert_eq!(r.result, "up to date");
    assert_eq!(w.manager.list_applications().await.unwrap()[0].auto_update, "apply");
}

#[tokio::test(start_paused = true)]
async fn an_unhealthy_image_is_rolled_back_and_three_in_a_row_stop_the_policy() {
    let w = installed(&["org.atomic.install", "org.atomic.run", "org.atomic.manage-any"]).await;
    publish(&w, "sha256:w2", RUN, true);
    w.engine.health.lock().unwrap().insert("sha256:w2".into(), "unhealthy".into());
    for n in 1..=3 {
        let r =
            w.manager.update_application(&atomicd(), "web", Asked::Policy(AutoUpdate::Apply)).await.unwrap();
        assert!(
            r.result.starts_with("rolled back: w2 was not healthy (its HEALTHCHECK says unhealthy)"),
            "{}",
            r.result
        );
        let a = app(&w);
        assert_eq!((a.current.image_id.as_str(), a.rollbacks_in_a_row), ("sha256:w1", n));
        assert_eq!(a.previous.unwrap().image_id, "sha256:w2");
    }
    assert!(
        app(&w).last_result.contains("automatic updates stopped after 3 rollbacks"),
        "{}",
        app(&w).last_result
    );
    let r = w.manager.update_application(&atomicd(), "web", Asked::Policy(AutoUpdate::Apply)).await.unwrap();
    assert!(r.result.contains("automatic updates stopped"), "{}", r.result);
    assert_eq!(app(&w).current.image_id, "sha256:w1");
    // A HEALTHCHECK that never says healthy is as bad, by its timeout.
    w.engine.health.lock().unwrap().insert("sha256:w2".into(), "starting".into());
    let mut a = app(&w);
    a.rollbacks_in_a_row = 0;
    w.manager.state.save_applications(&std::collections::BTreeMap::from([("web".to_owned(), a)])).unwrap();
    let r = w.manager.update_application(&atomicd(), "web", Asked::Policy(AutoUpdate::Apply)).await.unwrap();
    assert!(r.result.contains("was not healthy within 5 s"), "{}", r.result);
}

#[tokio::test(start_paused = true)]
async fn a_container_s_health_state_counts_when_the_image_inspection_leaves_the_check_out() {
    // Podman 4.3's Docker API inspects an image without its HEALTHCHECK; its container still
    // reports one that never gets past "starting", which is not healthy.
    let w = installed(&["org.atomic.install", "org.atomic.run", "org.atomic.manage-any"]).await;
    publish(&w, "sha256:w2", RUN, false);
    w.engine.health.lock().unwrap().insert("sha256:w2".into(), "starting".into());
    let r = w.manager.update_application(&atomicd(), "web", Asked::Policy(AutoUpdate::Apply)).await.unwrap();
    assert!(r.result.starts_with("rolled back: w2 was not healthy within 5 s"), "{}", r.result);
    assert_eq!(app(&w).current.image_id, "sha256:w1");
}

#[tokio::test(start_paused = true)]
async fn a_new_privilege_needs_approval_which_a_persons_update_asks_polkit_for() {
    let w = installed(&["org.atomic.install", "org.atomic.run", "org.atomic.manage-any", "org.atomic.pull"])
        .await;
    publish(&w, "sha256:w2", "docker run -d --privileged --name NAME IMAGE sleep 1000", false);
    let r = w.manager.update_application(&atomicd(), "web", Asked::Policy(AutoUpdate::Apply)).await.unwrap();
    assert!(r.result.starts_with("needs approval: w2 also runs privileged"), "{}", r.result);
    assert!(r.result.ends_with("`atomic update web` asks polkit for it"), "{}", r.result);
    assert_eq!(app(&w).current.image_id, "sha256:w1");
    assert_eq!(app(&w).update_available, "sha256:w2");
    assert!(!w.systemd.calls().contains(&"restart atomic-app-web.service".to_owned()));
    // atomic update IMAGE: polkit is asked for the new line, which reaches the host.
    let e = w.manager.update(&caller(1000), "web", false, false).await.unwrap_err();
    assert!(matches!(&e, Error::AccessDenied(m) if m.contains("run-privileged")), "{e:?}");
    assert_eq!(app(&w).current.image_id, "sha256:w1");
    let w2 = installed(&[
        "org.atomic.install",
        "org.atomic.run",
        "org.atomic.manage-any",
        "org.atomic.pull",
        "org.atomic.run-privileged",
    ])
    .await;
    publish(&w2, "sha256:w2", "docker run -d --privileged --name NAME IMAGE sleep 1000", false);
    let r = w2.manager.update(&caller(1000), "web", false, false).await.unwrap();
    assert!(r.applications[0].starts_with("web: updated: w2 runs"), "{:?}", r.applications);
    let asked = w2.authority.asked.lock().unwrap().clone();
    assert!(
        asked.iter().any(|(a, d)| a == "org.atomic.run-privileged" && d["image-id"] == "sha256:w2"),
        "{asked:?}"
    );
    assert!(
        app(&w2).current.privileges.iter().any(|p| p.contains("privileged")),
        "{:?}",
        app(&w2).current.privileges
    );
}

#[tokio::test(start_paused = true)]
async fn a_person_rolls_back_to_the_image_before_and_the_policy_goes_on() {
    let w = installed(&["org.atomic.install", "org.atomic.run", "org.atomic.manage-any"]).await;
    let e = w.manager.rollback_application(&caller(1000), "web").await.unwrap_err();
    assert!(e.to_string().contains("no earlier image"), "{e}");
    publish(&w, "sha256:w2", RUN, false);
    w.manager.update_application(&atomicd(), "web", Asked::Policy(AutoUpdate::Apply)).await.unwrap();
    let r = w.manager.rollback_application(&caller(1000), "web").await.unwrap();
    assert!(r.result.starts_with("rolled back by uid 1000: w1 runs again"), "{}", r.result);
    let a = app(&w);
    assert_eq!(
        (a.current.image_id.as_str(), a.previous.unwrap().image_id.as_str()),
        ("sha256:w1", "sha256:w2")
    );
    let asked = w.authority.asked.lock().unwrap().clone();
    assert_eq!(asked.last().unwrap().1["operation"], "rollback");
    // systemd refusing the restart: the record moved, and says so, as does the error.
    *w.systemd.failing.lock().unwrap() = Some("restart");
    let e = w.manager.rollback_application(&caller(1000), "web").await.unwrap_err();
    assert!(e.to_string().contains("restarting atomic-app-web.service failed"), "{e}");
    let a = app(&w);
    assert_eq!(a.current.image_id, "sha256:w2");
    assert!(a.last_result.contains("w2 runs at its next start"), "{}", a.last_result);
}

#[tokio::test(start_paused = true)]
async fn the_policy_is_a_drop_in_checked_before_it_is_written() {
    let w = installed(&["org.atomic.install", "org.atomic.run", "org.atomic.manage-any"]).await;
    let bad = crate::wire::options::AppPolicySettings {
        auto_update: Some("sometimes".into()),
        ..Default::default()
    };
    let e = w.manager.set_application_policy(&caller(1000), "web", &bad).await.unwrap_err();
    assert!(
        matches!(&e, Error::InvalidArgument(m) if m.contains("sometimes") || m.contains("auto-update")),
        "{e:?}"
    );
    let drop_in = crate::updates::config::drop_in_dir(w.manager.updates.main()).join("60-app-web.toml");
    assert!(!drop_in.exists());
    let good = crate::wire::options::AppPolicySettings {
        auto_update: Some("check".into()),
        interval: Some("2h".into()),
        ..Default::default()
    };
    w.manager.set_application_policy(&caller(1000), "web", &good).await.unwrap();
    let text = std::fs::read_to_string(&drop_in).unwrap();
    assert!(text.contains("[apps.web]") && text.contains("auto-update = \"check\""), "{text}");
    let entry = &w.manager.list_applications().await.unwrap()[0];
    assert_eq!(entry.auto_update, "check");
    // Another caller's application needs manage-any: not granted here.
    let w = installed(&["org.atomic.install", "org.atomic.run"]).await;
    let e = w.manager.set_application_policy(&caller(1001), "web", &good).await.unwrap_err();
    assert!(matches!(e, Error::AccessDenied(_)), "{e:?}");
}

#[tokio::test(start_paused = true)]
async fn an_update_cut_short_is_settled_at_start_on_one_of_its_two_images() {
    let w = installed(&["org.atomic.install", "org.atomic.run", "org.atomic.manage-any"]).await;
    publish(&w, "sha256:w2", RUN, true);
    w.engine.health.lock().unwrap().insert("sha256:w2".into(), "unhealthy".into());
    w.engine.pull("web", tokio::sync::mpsc::unbounded_channel().0).await.unwrap();
    // As a SIGKILL after the record moved to w2 leaves it: the unit restarted on w2.
    let mut a = app(&w);
    a.previous = Some(a.current.clone());
    a.current.image_id = "sha256:w2".into();
    a.updating = Some(crate::manager::apps::record::Updating {
        from: "sha256:w1".into(),
        to: "sha256:w2".into(),
        since: 1,
    });
    w.manager.state.save_applications(&std::collections::BTreeMap::from([("web".to_owned(), a)])).unwrap();
    w.manager.start_application(&caller(0), "web", CallerFds::default()).await.unwrap();
    w.manager.resume_cut_updates().await;
    let a = app(&w);
    assert!(a.updating.is_none());
    assert_eq!(a.current.image_id, "sha256:w1");
    assert!(
        a.last_result.starts_with("rolled back: w2")
            && a.last_result.ends_with("(after atomicd restarted mid-update)"),
        "{}",
        a.last_result
    );
}

#[tokio::test(start_paused = true)]
async fn an_uninstall_during_a_health_gate_is_busy_and_the_gate_never_brings_the_record_back() {
    // Found in the systemd machine: an uninstall stopped the unit under a running gate, which
    // saw the container exit, rolled back, restarted the unit and saved the record again.
    let grants = ["org.atomic.install", "org.atomic.run", "org.atomic.manage-any", "org.atomic.uninstall"];
    let w = installed(&grants).await;
    publish(&w, "sha256:w2", RUN, false);
    let m = w.manager.clone();
    let round = tokio::spawn(async move {
        m.update_application(&atomicd(), "web", Asked::Policy(AutoUpdate::Apply)).await
    });
    while app(&w).updating.is_none() {
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    let uninstall = || UninstallRequest { image: "web".into(), ..Default::default() };
    let e = w.manager.uninstall(&caller(1000), uninstall()).await.unwrap_err();
    assert!(matches!(&e, Error::Busy(why) if why.contains("an update round is under way")), "{e:?}");
    assert!(!w.systemd.calls().iter().any(|c| c.starts_with("stop ")), "{:?}", w.systemd.calls());
    let e = w.manager.rollback_application(&caller(1000), "web").await.unwrap_err();
    assert!(matches!(e, Error::Busy(_)), "{e:?}");
    let r = round.await.unwrap().unwrap();
    assert!(r.result.starts_with("updated: w2 runs"), "{}", r.result);
    w.manager.uninstall(&caller(1000), uninstall()).await.unwrap();
    assert!(w.manager.list_applications().await.unwrap().is_empty());
    // A round's record written after an uninstall (the state read before it) stays away.
    let e =
        w.manager.update_application(&atomicd(), "web", Asked::Policy(AutoUpdate::Apply)).await.unwrap_err();
    assert!(matches!(e, Error::InvalidArgument(_)), "{e:?}");
    assert!(w.manager.state.applications::<App>().unwrap().is_empty());
}
