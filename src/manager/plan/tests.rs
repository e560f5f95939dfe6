//! The tests of `manager/plan`.

use std::collections::HashMap;

use super::*;
use crate::label::Ownership;

fn image(labels: &[(&str, &str)]) -> ImageInfo {
    ImageInfo {
        id: "sha256:aa".into(),
        labels: labels.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect::<HashMap<_, _>>(),
        ..ImageInfo::default()
    }
}

fn vars() -> Vars {
    Vars { image: "app".into(), name: "app".into(), ..Vars::default() }
}

fn shape<'a>(command: &'a [String], replace: bool) -> RunShape<'a> {
    RunShape { spc: false, mode: LineMode::default(), command, replace, selinux: false }
}

fn plan(labels: &[(&str, &str)]) -> Result<Plan> {
    run(ImageRef::parse("app").unwrap(), &image(labels), &vars(), shape(&[], false))
}

fn mine(running: bool, flags: &[&str]) -> ContainerInfo {
    ContainerInfo {
        id: "c1".into(),
        name: "app".into(),
        image_id: "sha256:aa".into(),
        running,
        owner: Some(Ownership { image: "app".into(), image_id: "sha256:aa".into(), ..Default::default() }),
        host_flags: flags.iter().map(|f| (*f).to_owned()).collect(),
        open_stdin: true,
        tty: false,
        rootfs: None,
        health: None,
    }
}

#[test]
fn the_line_must_run_the_image_it_was_resolved_for() {
    let moved = plan(&[("RUN", "docker run --rm $OPT1 other IMAGE")]);
    assert!(matches!(moved, Err(Error::UnsupportedLabel(m)) if m.contains("other")));
    let ok = plan(&[("RUN", "docker run --rm --name NAME IMAGE echo")]).unwrap();
    assert_eq!(ok.image_id, "sha256:aa");
    assert_eq!(ok.name.as_deref(), Some("app"));
    assert_eq!(ok.step, Step::Create { replacing: None });
}

#[test]
fn an_existing_container_is_judged_by_its_own_configuration() {
    let line = plan(&[("RUN", "docker run --name NAME IMAGE")]).unwrap();
    assert!(line.privileges.is_empty(), "the line itself is confined");
    let started = line
        .clone()
        .against(Some(mine(false, &["--privileged", "--volume=/:/host"])), shape(&[], false), 0)
        .unwrap();
    assert_eq!(started.step, Step::Start { id: "c1".into(), stdin: true, tty: false, attach: true });
    assert_eq!(started.privileges.len(), 2, "{:?}", started.privileges);
    assert_eq!(started.argv, ["docker", "start", "--attach", "app"]);
    // Detached, the shown line and the step only start it: the caller does not wait for it.
    let detached = RunShape { mode: LineMode { tty: false, detach: true }, ..shape(&[], false) };
    let started =
        line.clone().against(Some(mine(false, &["--privileged", "--volume=/:/host"])), detached, 0).unwrap();
    assert_eq!(started.step, Step::Start { id: "c1".into(), stdin: true, tty: false, attach: false });
    assert_eq!(started.argv, ["docker", "start", "app"]);

    let cmd = vec!["date".to_owned()];
    let exec = line.clone().against(Some(mine(false, &["--pid=host"])), shape(&cmd, false), 0).unwrap();
    assert_eq!(
        exec.step,
        Step::Exec { id: "c1".into(), start_first: true, command: cmd.clone(), detach: false }
    );
    assert_eq!(exec.argv, ["docker", "exec", "-i", "app", "date"]);
    assert_eq!(exec.privileges, ["shares the host's process namespace"]);

    let running = line.clone().against(Some(mine(true, &[])), shape(&[], false), 0).unwrap();
    assert_eq!(running.step, Step::AlreadyRunning { id: "c1".into() });

    // detach execs as `docker exec -d`: no stdin, no terminal, no exit code to wait for.
    let detached = RunShape { mode: LineMode { tty: true, detach: true }, ..shape(&cmd, false) };
    let exec = line.clone().against(Some(mine(true, &[])), detached, 0).unwrap();
    assert_eq!(exec.argv, ["docker", "exec", "-d", "app", "date"]);
    assert!(matches!(exec.step, Step::Exec { detach: true, start_first: false, .. }), "{:?}", exec.step);
}

#[test]
fn a_stopped_container_of_a_detached_label_is_started_not_followed() {
    // The seed's ntpd label: `-d` in the label, no `--detach` from the caller.
    let line = plan(&[("RUN", "docker run -d --name NAME --cap-add SYS_TIME IMAGE ntpd -d -n")]).unwrap();
    let started = line.against(Some(mine(false, &["--cap-add=SYS_TIME"])), shape(&[], false), 0).unwrap();
    assert_eq!(started.step, Step::Start { id: "c1".into(), stdin: true, tty: false, attach: false });
    assert_eq!(started.argv, ["docker", "start", "app"]);
    // A command still runs in it and its output is followed: only the restart is detached.
    let line = plan(&[("RUN", "docker run -d --name NAME IMAGE")]).unwrap();
    let cmd = vec!["date".to_owned()];
    let exec = line.against(Some(mine(true, &[])), shape(&cmd, false), 0).unwrap();
    assert!(matches!(exec.step, Step::Exec { detach: false, .. }), "{:?}", exec.step);
}

#[test]
fn only_atomicd_s_containers_of_the_same_image_are_touched() {
    let line = plan(&[("RUN", "docker run --name NAME IMAGE")]).unwrap();
    let foreign = ContainerInfo { owner: None, ..mine(true, &[]) };
    for replace in [false, true] {
        let r = line.clone().against(Some(foreign.clone()), shape(&[], replace), 0);
        assert!(matches!(&r, Err(Error::Failed(m)) if m.contains("not made by atomicd")), "{r:?}");
    }
    let other = ContainerInfo {
        image_id: "sha256:bb".into(),
        owner: Some(Ownership { image: "db".into(), ..Default::default() }),
        ..mine(false, &[])
    };
    let r = line.clone().against(Some(other), shape(&[], true), 0);
    assert!(matches!(&r, Err(Error::Failed(m)) if m.contains("\"db\"")), "{r:?}");
    let replaced = line.against(Some(mine(true, &["--privileged"])), shape(&[], true), 0).unwrap();
    assert_eq!(replaced.step, Step::Create { replacing: Some("c1".into()) });
    assert!(replaced.privileges.is_empty(), "the new container is the line's");
}
