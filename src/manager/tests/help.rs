//! Help on the fakes: the HELP label is a Run of its line, the man page is read from a container
//! that is removed again, and an image with neither has no help.

use super::*;
use crate::manager::HelpRequest;

fn help(image: &str) -> HelpRequest {
    HelpRequest { image: image.into(), ..Default::default() }
}

#[tokio::test]
async fn a_help_label_of_any_case_runs_as_a_run_of_its_line() {
    let w = world(&["org.atomic.run"]);
    w.engine.image("tool", "sha256:a1", &[("help", "docker run --rm IMAGE cat /help.txt")]);
    let r = w.manager.help(&caller(1000), help("tool")).await.unwrap();
    assert_eq!(r.command, ["docker", "run", "--rm", "tool", "cat", "/help.txt"]);
    assert_eq!((r.exit_code, r.man_page.as_deref()), (Some(0), None));
    assert_eq!(asked(&w), ["org.atomic.run"]);
    assert_eq!(w.engine.calls()[0], "create new1 from sha256:a1");

    // One that reaches the host needs run-privileged, and nothing is created without it.
    let w = world(&["org.atomic.run"]);
    w.engine.image("spc", "sha256:a2", &[("HELP", "docker run --rm -v /:/host IMAGE cat /host/etc/motd")]);
    let r = w.manager.help(&caller(1000), help("spc")).await;
    assert!(matches!(&r, Err(Error::AccessDenied(m)) if m.contains("run-privileged")), "{r:?}");
    assert!(w.engine.calls().is_empty(), "{:?}", w.engine.calls());
}

#[tokio::test]
async fn without_a_help_label_the_man_page_is_read_and_its_container_removed() {
    let w = world(&["org.atomic.run"]);
    w.engine.image("paged", "sha256:b1", &[]);
    w.engine.file("sha256:b1", "/help.1", b".TH PAGED 1\n.SH NAME\npaged\n");
    let r = w.manager.help(&caller(1000), help("paged")).await.unwrap();
    assert_eq!(r.man_page.as_deref(), Some(".TH PAGED 1\n.SH NAME\npaged\n"));
    assert_eq!(r.exit_code, None);
    assert_eq!(w.engine.calls(), ["create new1 from sha256:b1", "read /help.1 from new1", "rm new1"]);
    assert_eq!(asked(&w), ["org.atomic.run"]);

    // Neither a label nor a page: no help, and the container is gone all the same.
    w.engine.image("bare", "sha256:b2", &[]);
    let r = w.manager.help(&caller(1000), help("bare")).await;
    assert!(matches!(&r, Err(Error::LabelMissing(m)) if m.contains("There is no help for bare")), "{r:?}");
    assert_eq!(w.engine.calls()[3..], ["create new2 from sha256:b2", "read /help.1 from new2", "rm new2"]);
}

#[tokio::test]
async fn a_caller_polkit_refuses_reads_no_page() {
    let w = world(&[]);
    w.engine.image("paged", "sha256:b1", &[]);
    w.engine.file("sha256:b1", "/help.1", b".TH PAGED 1\n");
    let r = w.manager.help(&caller(1000), help("paged")).await;
    assert!(matches!(r, Err(Error::AccessDenied(_))), "{r:?}");
    assert!(w.engine.calls().is_empty(), "{:?}", w.engine.calls());
}
