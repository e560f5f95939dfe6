//! The manager's rules for containers, images and applications, each on the fakes: what is
//! authorized is what runs, and what atomicd did not make is left alone.

use super::*;

#[tokio::test]
async fn concurrent_status_calls_share_one_read_of_the_host() {
    let w = world(&[]);
    let calls: Vec<_> = (0..100)
        .map(|_| {
            let m = w.manager.clone();
            tokio::spawn(async move { m.status().await.map(|s| s.host.deployments.len()) })
        })
        .collect();
    for c in calls {
        assert!(matches!(c.await, Ok(Ok(1))));
    }
    let reads = w.host.reads.load(std::sync::atomic::Ordering::SeqCst);
    assert!(reads <= 2, "100 concurrent Status calls read the host {reads} times");
}

#[tokio::test]
async fn display_needs_no_authorization_and_changes_nothing() {
    let w = world(&[]);
    w.engine.image("app", "sha256:a1", &[("RUN", "docker run --privileged -v /:/host IMAGE")]);
    let r = w.manager.run(&caller(1000), RunRequest { display: true, ..run_request("app", &[]) }).await;
    let r = r.unwrap();
    assert_eq!(r.privileges.len(), 2);
    assert_eq!(r.image_id, "sha256:a1");
    assert!(asked(&w).is_empty() && w.engine.calls().is_empty());
}

#[tokio::test]
async fn display_reads_what_it_kept_until_an_event_and_a_run_never_does() {
    let w = world(&["org.atomic.run"]);
    let display = || RunRequest { display: true, ..run_request("app", &[]) };
    w.engine.image("app", "sha256:a1", &[("RUN", "docker run --rm IMAGE true")]);
    w.manager.following_engine_events(true);
    let first = w.manager.run(&caller(0), display()).await.unwrap();
    assert_eq!(first.image_id, "sha256:a1");
    // Re-tagged, and its event not seen yet: display shows what it kept...
    w.engine.image("app", "sha256:a2", &[("RUN", "docker run --rm IMAGE true")]);
    let kept = w.manager.run(&caller(0), display()).await.unwrap();
    assert_eq!(kept.image_id, "sha256:a1");
    // ...a real run inspects afresh and runs what it authorized...
    let ran = w.manager.run(&caller(0), run_request("app", &[])).await.unwrap();
    assert_eq!(ran.image_id, "sha256:a2");
    // ...and the event drops what display kept.
    w.manager.engine_changed(crate::engine::EngineChange::Image);
    let fresh = w.manager.run(&caller(0), display()).await.unwrap();
    assert_eq!(fresh.image_id, "sha256:a2");
    // Without the event stream nothing is kept at all.
    w.manager.following_engine_events(false);
    w.engine.image("app", "sha256:a3", &[("RUN", "docker run --rm IMAGE true")]);
    let unkept = w.manager.run(&caller(0), display()).await.unwrap();
    assert_eq!(unkept.image_id, "sha256:a3");
}

#[tokio::test]
async fn a_run_is_created_from_the_inspected_id_and_polkit_sees_it() {
    let w = world(&["org.atomic.run"]);
    w.engine.image("app", "sha256:a1", &[("RUN", "docker run --rm --name NAME IMAGE echo hi")]);
    let r = w.manager.run(&caller(1000), run_request("app", &[])).await.unwrap();
    assert_eq!(r.exit_code, Some(0));
    assert_eq!(w.engine.calls()[0], "create new1 from sha256:a1");
    let asked = w.authority.asked.lock().unwrap_or_else(|p| p.into_inner()).clone();
    assert_eq!(asked.len(), 1);
    assert_eq!(asked[0].0, "org.atomic.run");
    assert_eq!(asked[0].1["image-id"], "sha256:a1");
    assert_eq!(asked[0].1["command"], "docker run --rm --name app app echo hi");
}

#[tokio::test]
async fn restarting_a_stopped_privileged_container_needs_run_privileged() {
    let w = world(&["org.atomic.run"]);
    w.engine.image("app", "sha256:a1", &[("RUN", NAMED_RUN)]);
    w.made(mine("app", "sha256:a1", false, &["--privileged", "--volume=/:/host"]));
    let r = w.manager.run(&caller(1000), run_request("app", &[])).await;
    assert!(matches!(r, Err(Error::AccessDenied(_))), "{r:?}");
    assert_eq!(asked(&w), ["org.atomic.run-privileged"]);
    assert!(w.engine.calls().is_empty(), "nothing started: {:?}", w.engine.calls());
    // A confined one restarts with run alone.
    let w = world(&["org.atomic.run"]);
    w.engine.image("app", "sha256:a1", &[("RUN", NAMED_RUN)]);
    w.made(mine("app", "sha256:a1", false, &["--network=bridge"]));
    w.manager.run(&caller(1000), run_request("app", &[])).await.unwrap();
    assert_eq!(w.engine.calls(), ["start app-id"]);
}

#[tokio::test]
async fn a_detached_run_of_a_stopped_container_only_starts_it_as_authorized() {
    // The caller asks for a detached Run (the page's Run, which cannot follow a container).
    let detached = || RunRequest { detach: true, ..run_request("app", &[]) };
    // A run-only caller: the plan's line is what polkit is asked about and what the engine does.
    let w = world(&["org.atomic.run"]);
    w.engine.image("app", "sha256:a1", &[("RUN", NAMED_RUN)]);
    w.made(mine("app", "sha256:a1", false, &["--network=bridge"]));
    let r = w.manager.run(&caller(1000), detached()).await.unwrap();
    assert_eq!(r.command, ["docker", "start", "app"]);
    assert_eq!((r.container_id.as_deref(), r.exit_code), (Some("app-id"), None), "not waited for");
    assert_eq!(w.engine.calls(), ["start app-id"]);
    let said = w.authority.asked.lock().unwrap_or_else(|p| p.into_inner()).clone();
    assert_eq!(said.len(), 1);
    assert_eq!((said[0].0.as_str(), said[0].1["command"].as_str()), ("org.atomic.run", "docker start app"));
    // Privileged, the same caller is refused and nothing starts.
    let w = world(&["org.atomic.run"]);
    w.engine.image("app", "sha256:a1", &[("RUN", NAMED_RUN)]);
    w.made(mine("app", "sha256:a1", false, &["--privileged"]));
    let r = w.manager.run(&caller(1000), detached()).await;
    assert!(matches!(r, Err(Error::AccessDenied(_))), "{r:?}");
    assert_eq!(asked(&w), ["org.atomic.run-privileged"]);
    assert!(w.engine.calls().is_empty(), "nothing started: {:?}", w.engine.calls());
}

#[tokio::test]
async fn a_command_for_an_existing_container_is_exec_d_with_its_exit_code() {
    let w = world(&["org.atomic.run"]);
    w.engine.image("app", "sha256:a1", &[("RUN", NAMED_RUN)]);
    w.made(mine("app", "sha256:a1", false, &[]));
    let r = w.manager.run(&caller(1000), run_request("app", &["date"])).await.unwrap();
    assert_eq!(r.exit_code, Some(7));
    assert_eq!(r.command, ["docker", "exec", "-i", "app", "date"]);
    assert_eq!(w.engine.calls(), ["start app-id", "exec app-id date"]);
    // Running and no command: already running, nothing done.
    let w = world(&["org.atomic.run"]);
    w.engine.image("app", "sha256:a1", &[("RUN", NAMED_RUN)]);
    w.made(mine("app", "sha256:a1", true, &[]));
    let r = w.manager.run(&caller(1000), run_request("app", &[])).await.unwrap();
    assert_eq!(r.exit_code, Some(0));
    assert!(r.warnings.iter().any(|m| m.contains("already running")));
    assert!(w.engine.calls().is_empty());
}

#[tokio::test]
async fn stop_touches_only_atomicd_s_containers_by_their_stop_label_or_the_engine() {
    // No STOP label: the engine stops it with the grace asked for, under org.atomic.stop.
    let w = world(&["org.atomic.stop"]);
    w.engine.image("app", "sha256:a1", &[("RUN", NAMED_RUN)]);
    w.made(mine("app", "sha256:a1", true, &[]));
    let r = w.manager.stop(&caller(1000), "app", 3, false, LabelInputs::default()).await;
    let r = r.unwrap();
    assert_eq!((r.command.join(" "), r.exit_code), ("docker stop -t 3 app".to_owned(), Some(0)));
    assert_eq!(asked(&w), ["org.atomic.stop"]);
    assert_eq!(w.engine.calls(), ["stop -t 3 app-id"]);
    // A STOP label runs as a container of its own; a privileged one needs run-privileged too.
    let w = world(&["org.atomic.stop"]);
    w.engine.image("app", "sha256:a1", &[("STOP", "docker run --rm -v /run:/run IMAGE kill NAME")]);
    w.made(mine("app", "sha256:a1", true, &[]));
    let r = w.manager.stop(&caller(1000), "app", 10, false, LabelInputs::default()).await;
    assert!(matches!(r, Err(Error::AccessDenied(_))), "{r:?}");
    assert_eq!(asked(&w), ["org.atomic.stop", "org.atomic.run-privileged"]);
    assert!(w.engine.calls().is_empty(), "{:?}", w.engine.calls());
    // Not atomicd's, or not there: nothing asked, nothing done.
    let w = world(&["org.atomic.stop"]);
    w.engine.image("app", "sha256:a1", &[]);
    w.engine.container(FakeContainer { labels: HashMap::new(), ..mine("theirs", "sha256:a1", true, &[]) });
    let r = w.manager.stop(&caller(0), "theirs", 10, false, LabelInputs::default()).await;
    assert!(matches!(&r, Err(Error::Failed(m)) if m.contains("not made by atomicd")), "{r:?}");
    let r = w.manager.stop(&caller(0), "nothing", 10, false, LabelInputs::default()).await;
    assert!(matches!(&r, Err(Error::InvalidArgument(m)) if m.contains("no container")), "{r:?}");
    assert!(asked(&w).is_empty() && w.engine.calls().is_empty());
}

#[tokio::test]
async fn replace_removes_only_atomicd_s_container_of_the_same_image() {
    let w = world(&["org.atomic.run"]);
    w.engine.image("app", "sha256:a1", &[("RUN", NAMED_RUN)]);
    let foreign = FakeContainer { labels: HashMap::new(), ..mine("app", "sha256:a1", true, &[]) };
    w.engine.container(foreign);
    let r = w.manager.run(&caller(1000), RunRequest { replace: true, ..run_request("app", &[]) }).await;
    assert!(matches!(&r, Err(Error::Failed(m)) if m.contains("not made by atomicd")), "{r:?}");
    assert!(w.engine.calls().is_empty() && w.engine.names() == ["app"]);

    let w = world(&["org.atomic.run"]);
    w.engine.image("app", "sha256:a1", &[("RUN", NAMED_RUN)]);
    w.made(mine("app", "sha256:old", true, &[]));
    let r = w.manager.run(&caller(1000), RunRequest { replace: true, ..run_request("app", &[]) }).await;
    r.unwrap_or_else(|e| panic!("same image reference, older id: {e}"));
    assert_eq!(w.engine.calls()[0], "rm app-id");
    let asked = w.authority.asked.lock().unwrap_or_else(|p| p.into_inner()).clone();
    assert_eq!(
        asked[0].1.get("replaces").map(String::as_str),
        Some("app-id"),
        "polkit is told what is replaced"
    );
}

#[tokio::test]
async fn uninstall_removes_what_polkit_was_told_and_nothing_else() {
    let w = world(&["org.atomic.uninstall"]);
    w.engine.image("app", "sha256:a1", &[]);
    w.made(mine("app", "sha256:a1", false, &[]));
    w.made(mine("helper", "sha256:a1", true, &[]));
    let request = || UninstallRequest { image: "app".into(), force: true, ..Default::default() };
    // Another caller's containers are not root's to remove without manage-any.
    let r = w.manager.uninstall(&caller(0), request()).await;
    assert!(matches!(&r, Err(Error::AccessDenied(m)) if m.contains("manage-any")), "{r:?}");
    assert!(w.engine.calls().is_empty(), "{:?}", w.engine.calls());
    let r = w.manager.uninstall(&caller(1000), request()).await.unwrap();
    assert_eq!(r.removed, ["app-id", "helper-id", "sha256:a1"]);
    let asked = w.authority.asked.lock().unwrap_or_else(|p| p.into_inner()).clone();
    assert_eq!(asked[0].1["other-callers"], "uid 1000");
    let last = &asked[asked.len() - 1].1;
    assert_eq!(last["removes"], "container app, container helper, image app (not installed by atomicd)");
    assert!(!last.contains_key("other-callers"));
    assert_eq!(w.engine.calls(), ["rm app-id", "rm helper-id", "rmi app"]);
    // A container atomicd did not make blocks the image's removal, and only after polkit's answer.
    let w = world(&[]);
    w.engine.image("app", "sha256:a1", &[]);
    w.engine.container(FakeContainer { labels: HashMap::new(), ..mine("theirs", "sha256:a1", false, &[]) });
    let r = w.manager.uninstall(&caller(0), request()).await;
    assert!(matches!(r, Err(Error::AccessDenied(_))), "{r:?}");
    let w = world(&["org.atomic.uninstall"]);
    w.engine.image("app", "sha256:a1", &[]);
    w.engine.container(FakeContainer { labels: HashMap::new(), ..mine("theirs", "sha256:a1", false, &[]) });
    let r = w.manager.uninstall(&caller(0), request()).await;
    assert!(matches!(&r, Err(Error::Failed(m)) if m.contains("theirs")), "{r:?}");
    assert!(w.engine.calls().is_empty(), "{:?}", w.engine.calls());
}

#[tokio::test]
async fn install_and_uninstall_lines_that_reach_the_host_need_run_privileged() {
    let w = world(&["org.atomic.install", "org.atomic.uninstall"]);
    let labels = [
        ("INSTALL", "docker run --rm --privileged -v /:/host IMAGE"),
        ("UNINSTALL", "docker run --rm -v /:/host IMAGE"),
    ];
    w.engine.image("app", "sha256:a1", &labels);
    let r = w
        .manager
        .install(&caller(1000), InstallRequest { image: "app".into(), pull: true, ..Default::default() })
        .await;
    assert!(matches!(r, Err(Error::AccessDenied(m)) if m.contains("run-privileged")));
    assert_eq!(asked(&w), ["org.atomic.install", "org.atomic.run-privileged"]);
    assert!(w.engine.calls().is_empty());
    // Uninstall of an image that was never installed does not run its label.
    let r = w
        .manager
        .uninstall(&caller(1000), UninstallRequest { image: "app".into(), ..Default::default() })
        .await;
    let r = r.unwrap();
    assert!(r.command.is_empty() && r.warnings.iter().any(|m| m.contains("not run")), "{r:?}");
    // Nor does it remove the image, which atomicd did not install.
    assert!(r.warnings.iter().any(|m| m.contains("was not installed by atomicd, so it stays")), "{r:?}");
    assert!(w.engine.calls().is_empty(), "{:?}", w.engine.calls());
    // With force it does, and then needs run-privileged.
    let r = w
        .manager
        .uninstall(&caller(1000), UninstallRequest { image: "app".into(), force: true, ..Default::default() })
        .await;
    assert!(matches!(r, Err(Error::AccessDenied(_))), "{r:?}");
}

#[tokio::test]
async fn install_pulls_exactly_the_reference_and_records_the_install() {
    let w = world(&["org.atomic.install", "org.atomic.pull"]);
    // The fake only has the image after the pull: a pull that asked for a bare name would miss it.
    let r = w
        .manager
        .install(&caller(0), InstallRequest { image: "reg/app".into(), pull: true, ..Default::default() })
        .await;
    assert!(matches!(r, Err(Error::ImageNotFound(_))));
    assert_eq!(w.engine.calls(), ["pull reg/app:latest"]);
    w.engine.image("reg/app", "sha256:a1", &[("INSTALL", "docker run --rm IMAGE true")]);
    let r = w
        .manager
        .install(&caller(0), InstallRequest { image: "reg/app".into(), pull: true, ..Default::default() })
        .await;
    r.unwrap();
    let status = w.manager.status().await.unwrap();
    assert_eq!(status.installed.len(), 1);
    assert_eq!(status.installed[0].image_id, "sha256:a1");
}

#[tokio::test]
async fn update_names_the_outdated_and_reinstall_moves_the_record_only_when_both_labels_succeed() {
    let w =
        world(&["org.atomic.install", "org.atomic.uninstall", "org.atomic.pull", "org.atomic.manage-any"]);
    let labels = [("INSTALL", "docker run --rm IMAGE true"), ("UNINSTALL", "docker run --rm IMAGE true")];
    w.engine.image("app", "sha256:a1", &labels);
    let install = InstallRequest { image: "app".into(), ..Default::default() };
    w.manager.install(&caller(0), install).await.unwrap();
    w.made(mine("app", "sha256:a1", true, &[]));
    let theirs = FakeContainer { labels: HashMap::new(), ..mine("theirs", "sha256:a1", true, &[]) };
    w.engine.container(theirs);
    // Nothing new in the registry: nothing changes.
    let r = w.manager.update(&caller(0), "app", true, true).await.unwrap();
    assert!(!r.changed && r.removed.is_empty() && !r.reinstalled, "{r:?}");
    w.engine.publish("app", "sha256:b2", &labels);
    let r = w.manager.update(&caller(0), "app", true, true).await.unwrap();
    assert_eq!((r.old_image_id.as_str(), r.image_id.as_str(), r.changed), ("sha256:a1", "sha256:b2", true));
    assert_eq!(r.removed, ["app-id"], "force removes atomicd's container only");
    assert_eq!(r.outdated, ["theirs"]);
    assert!(r.reinstalled, "{r:?}");
    let status = w.manager.status().await.unwrap();
    assert_eq!(status.installed[0].image_id, "sha256:b2");
    let asked = w.authority.asked.lock().unwrap_or_else(|p| p.into_inner()).clone();
    let update = asked.iter().find(|(_, d)| d.get("operation").map(String::as_str) == Some("update"));
    assert_eq!(update.and_then(|(_, d)| d.get("removes")).map(String::as_str), Some("container app"));
}

#[tokio::test]
async fn run_refuses_an_image_that_must_be_installed_first() {
    let w = world(&["org.atomic.run"]);
    w.engine.image(
        "app",
        "sha256:a1",
        &[("RUN", "docker run --rm IMAGE"), ("INSTALL", "docker run --rm IMAGE")],
    );
    let r = w.manager.run(&caller(0), run_request("app", &[])).await;
    assert!(matches!(&r, Err(Error::Failed(m)) if m.contains("install it first")), "{r:?}");
    assert!(w.engine.calls().is_empty());
}

#[tokio::test]
async fn a_relative_pwd_is_refused_before_anything_runs() {
    let w = world(&["org.atomic.run"]);
    w.engine.image("app", "sha256:a1", &[("RUN", "docker run --rm -v ${PWD}:/src IMAGE")]);
    let mut request = run_request("app", &[]);
    request.inputs.pwd = Some("../../..".into());
    let r = w.manager.run(&caller(1000), request).await;
    assert!(matches!(&r, Err(Error::InvalidArgument(m)) if m.contains("absolute")), "{r:?}");
    let mut request = run_request("app", &[]);
    request.inputs.pwd = Some("/home/u".into());
    request.display = true;
    let r = w.manager.run(&caller(1000), request).await.unwrap();
    assert_eq!(r.privileges, ["mounts host path /home/u at /src"]);
}

#[tokio::test]
async fn env_files_are_asked_for_before_authorization() {
    let w = world(&["org.atomic.run"]);
    w.engine.image("app", "sha256:a1", &[("RUN", "docker run --rm --env-file /etc/app.env IMAGE")]);
    let r = w.manager.run(&caller(0), run_request("app", &[])).await;
    assert!(matches!(&r, Err(Error::EnvFilesNeeded(_, p)) if p == &["/etc/app.env"]), "{r:?}");
    assert!(asked(&w).is_empty());
}

/// RUN_OPTS_FILE: the caller is asked for the file (its path resolved with the call's own
/// variables) before polkit hears anything; the words it sends are the line's own words, so a
/// host mount in them needs run-privileged like one in the label.
#[tokio::test]
async fn run_opts_from_the_file_are_judged_as_words_of_the_line() {
    let w = world(&["org.atomic.run"]);
    w.engine.image(
        "app",
        "sha256:a1",
        &[("RUN_OPTS_FILE", "$PWD/docker-run-opts-${NAME}"), ("RUN", "docker run --rm ${RUN_OPTS} IMAGE")],
    );
    let request = |opts: Option<&[&str]>| {
        let mut r = run_request("app", &[]);
        r.inputs.pwd = Some("/home/u".into());
        r.inputs.run_opts = opts.map(|o| o.iter().map(|s| (*s).to_owned()).collect());
        r
    };
    let r = w.manager.run(&caller(1000), request(None)).await;
    assert!(matches!(&r, Err(Error::RunOptsNeeded(_, p)) if p == "/home/u/docker-run-opts-app"), "{r:?}");
    assert!(asked(&w).is_empty());

    let r = w.manager.run(&caller(1000), request(Some(&["-v", "/:/host"]))).await;
    assert!(matches!(r, Err(Error::AccessDenied(_))), "{r:?}");
    assert_eq!(asked(&w), ["org.atomic.run-privileged"]);
    assert!(w.engine.calls().iter().all(|c| !c.starts_with("create")), "{:?}", w.engine.calls());

    let mut shown = request(Some(&["--hostname=www.example.test", "-e", "VAR1=xyz"]));
    shown.display = true;
    let r = w.manager.run(&caller(1000), shown).await.unwrap();
    assert_eq!(r.command, ["docker", "run", "--rm", "--hostname=www.example.test", "-e", "VAR1=xyz", "app"]);
    assert!(r.warnings.is_empty(), "{:?}", r.warnings);
}

#[tokio::test]
async fn host_operations_are_one_at_a_time_and_reboot_when_asked() {
    let w = world(&["org.atomic.host-upgrade", "org.atomic.host-rollback"]);
    w.host.hold.store(true, std::sync::atomic::Ordering::SeqCst);
    w.host.offer("2.0");
    let m = w.manager.clone();
    let first = tokio::spawn(async move { m.host_upgrade(&caller(0), false, true).await });
    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    let second = w.manager.rollback(&caller(0), false).await;
    assert!(matches!(second, Err(Error::Busy(_))), "{second:?}");
    w.host.release.notify_one();
    let done = first.await.unwrap().unwrap();
    assert!(done.changed);
    assert_eq!(*w.power.reboots.lock().unwrap_or_else(|p| p.into_inner()), 1);
    w.manager.rollback(&caller(0), false).await.unwrap();
}

#[tokio::test]
async fn a_refused_caller_changes_nothing() {
    let w = world(&[]);
    w.engine.image("app", "sha256:a1", &[("RUN", NAMED_RUN)]);
    let r = w.manager.run(&caller(65534), run_request("app", &[])).await;
    assert!(matches!(r, Err(Error::AccessDenied(_))));
    let r = w.manager.host_upgrade(&caller(65534), false, false).await;
    assert!(matches!(r, Err(Error::AccessDenied(_))));
    assert!(w.engine.calls().is_empty());
}

#[tokio::test]
async fn install_arguments_are_words_after_the_image_that_polkit_is_shown() {
    let w = world(&["org.atomic.install"]);
    w.engine.image("app", "sha256:a1", &[("INSTALL", "docker run --rm IMAGE printf '%s\\n'")]);
    let args: Vec<String> =
        ["asdf&jkl", "bash -c \"echo arg1 arg2\"", "ježek", "-v"].map(String::from).to_vec();
    let install = |args: Vec<String>| InstallRequest { image: "app".into(), args, ..Default::default() };
    let r = w.manager.install(&caller(0), install(args.clone())).await.unwrap();
    assert_eq!(r.command[r.command.len() - 4..], args[..], "{:?}", r.command);
    assert!(r.privileges.is_empty(), "a word after the image is no flag: {:?}", r.privileges);
    let asked = w.authority.asked.lock().unwrap_or_else(|p| p.into_inner()).clone();
    assert_eq!(asked[0].1["command"], crate::text::display_line(&r.command));

    // A line that ends in a flag cannot take its value (or its image) from the arguments.
    w.engine.image("dangling", "sha256:a2", &[("INSTALL", "docker run --rm -v")]);
    let smuggled = InstallRequest {
        image: "dangling".into(),
        args: ["/:/host", "dangling"].map(String::from).to_vec(),
        ..Default::default()
    };
    let r = w.manager.install(&caller(0), smuggled).await;
    assert!(matches!(&r, Err(Error::UnsupportedLabel(m)) if m.contains("-v needs a value")), "{r:?}");
}
