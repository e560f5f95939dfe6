//! The authorization matrix: root, nobody, and a user granted org.atomic.run by an installed
//! polkit JavaScript rule, against every action. A denial leaves no container, record or pull.

mod common;

use std::process::Command;

use common::*;

fn denied(r: &Reply) -> bool {
    r.error.as_ref().is_some_and(|(n, _)| n == "org.freedesktop.DBus.Error.AccessDenied")
}

#[test]
#[ignore = "needs the test world (tests/world.sh up, as root); tests/run.sh runs it"]
fn root_nobody_and_a_rule_granted_user_against_every_action() {
    let grant = polkit_grant("atomictest", &["org.atomic.run"], "50-atomicd-test");
    let user = grant.uid;
    let _d = Daemon::start(&["--engine-socket", PODMAN_SOCK]);
    let before = containers("podman").len();
    let app = "127.0.0.1:5000/atomic-test/app:latest";
    let _ = Command::new("podman").args(["rmi", "-f", app]).output();

    // The granted user may run a confined container, and nothing more.
    let r = call_as(user, &["--interactive", "Run", PLAIN, "--cmd", "sh", "--cmd", "-c", "--cmd", "exit 5"]);
    assert_eq!(r.json["exit-code"], 5, "{:?}", r.error);
    // The default line kept that container; --replace runs the line anew in a new one.
    let (code, _, err) = cli_as(user, &["run", "--replace", PLAIN, "sh", "-c", "exit 6"]);
    assert_eq!(code, 6, "{err}");

    for who in [user, NOBODY] {
        for call in [
            vec!["--interactive", "Run", TOOLS, "--opt", "spc=true"],
            vec!["--interactive", "Run", "atomic-test/hostnet"],
            vec!["--interactive", "Install", app],
            vec!["--interactive", "Uninstall", PLAIN],
            vec!["--interactive", "HostUpgrade"],
            vec!["--interactive", "Rollback"],
        ] {
            let r = call_as(who, &call);
            assert!(denied(&r), "uid {who} was allowed {call:?}: {:?}", r.error);
        }
    }
    let r = call_as(NOBODY, &["--interactive", "Run", PLAIN]);
    assert!(denied(&r), "nobody may not run even a confined container");

    // Root passes every check (auth_admin as root); host methods then say there is no host.
    let r = call_as(0, &["Run", "atomic-test/hostnet"]);
    assert_eq!(r.json["exit-code"], 0, "{:?}", r.error);
    let r = call_as(0, &["HostUpgrade"]);
    assert_eq!(r.error.map(|e| e.0).as_deref(), Some("org.atomic.Error.HostNotSupported"));

    // The denials left nothing behind: no container, no pull, no record.
    // (One container is new: the granted user's own, which the default line keeps.)
    assert_eq!(containers("podman").len(), before + 1);
    assert!(
        !Command::new("podman").args(["image", "exists", app]).status().is_ok_and(|s| s.success()),
        "a denied Install pulled"
    );
    let status = call_as(NOBODY, &["Status"]);
    assert_eq!(status.json["installed"], serde_json::json!([]));
}
