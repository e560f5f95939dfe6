//! The authorization matrix: root, nobody, and a user granted org.atomic.run by an installed
//! polkit JavaScript rule, against every action. A denial leaves no container, record or pull.

mod common;

use std::process::Command;
use std::time::Duration;

use common::*;

const USER: &str = "atomictest";
const RULE: &str = "/etc/polkit-1/rules.d/50-atomicd-test.rules";

fn uid_of(user: &str) -> u32 {
    if Command::new("id").arg(user).output().is_ok_and(|o| !o.status.success()) {
        let made = Command::new("useradd")
            .args(["--system", "--no-create-home", "--shell", "/usr/sbin/nologin", user])
            .status();
        assert!(made.is_ok_and(|s| s.success()), "useradd {user}");
    }
    let out = Command::new("id").args(["-u", user]).output().unwrap_or_else(|e| panic!("{e}"));
    String::from_utf8_lossy(&out.stdout).trim().parse().unwrap_or_else(|e| panic!("uid of {user}: {e}"))
}

fn denied(r: &Reply) -> bool {
    r.error.as_ref().is_some_and(|(n, _)| n == "org.freedesktop.DBus.Error.AccessDenied")
}

#[test]
fn root_nobody_and_a_rule_granted_user_against_every_action() {
    let user = uid_of(USER);
    std::fs::write(
        RULE,
        format!(
            "polkit.addRule(function(action, subject) {{\n  if (action.id == \"org.atomic.run\" && subject.user == \"{USER}\") {{\n    return polkit.Result.YES;\n  }}\n}});\n"
        ),
    )
    .unwrap_or_else(|e| panic!("{e}"));
    std::thread::sleep(Duration::from_secs(2)); // polkitd reloads rules on change
    let _d = Daemon::start(&["--engine-socket", PODMAN_SOCK]);
    let before = containers("podman").len();
    let app = "127.0.0.1:5000/atomic-test/app:latest";
    let _ = Command::new("podman").args(["rmi", "-f", app]).output();

    // The granted user may run a confined container, and nothing more.
    let r = call_as(user, &["--interactive", "Run", PLAIN, "--cmd", "sh", "--cmd", "-c", "--cmd", "exit 5"]);
    assert_eq!(r.json["exit-code"], 5, "{:?}", r.error);
    let (code, _, err) = cli_as(user, &["run", PLAIN, "sh", "-c", "exit 6"]);
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
    assert_eq!(containers("podman").len(), before);
    assert!(
        !Command::new("podman").args(["image", "exists", app]).status().is_ok_and(|s| s.success()),
        "a denied Install pulled"
    );
    let status = call_as(NOBODY, &["Status"]);
    assert_eq!(status.json["installed"], serde_json::json!([]));
    let _ = std::fs::remove_file(RULE);
}
