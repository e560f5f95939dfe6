//! Hostile input on the methods of applications installed as services, over the real bus: bad
//! names, unknown applications, unknown or mistyped options and policy keys, wrong signatures.
//! Each gets its documented error; atomicd stays up; no unit, drop-in or record is written.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::collections::HashMap;

use common::*;
use zbus::zvariant::Value;

type Dict = HashMap<&'static str, Value<'static>>;

fn files_in(dir: &std::path::Path) -> Vec<String> {
    std::fs::read_dir(dir)
        .map(|d| d.filter_map(|e| e.ok()).map(|e| e.file_name().to_string_lossy().into_owned()).collect())
        .unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread")]
#[ignore = "needs the test world (tests/world.sh up, as root); tests/run.sh runs it"]
async fn the_application_methods_refuse_bad_input_and_write_nothing() {
    let base = std::env::temp_dir().join(format!("atomicd-hostile-apps-{}", unique()));
    let units = base.join("units");
    let config = base.join("etc/atomicd.toml");
    std::fs::create_dir_all(&units).unwrap();
    std::fs::create_dir_all(config.parent().unwrap()).unwrap();
    let unit_dir = units.to_string_lossy().into_owned();
    let config_arg = config.to_string_lossy().into_owned();
    let d = Daemon::start_on(
        &base.join("state"),
        &["--engine-socket", PODMAN_SOCK, "--unit-dir", &unit_dir, "--config", &config_arg],
    );
    let conn = zbus::Connection::system().await.unwrap();
    let invalid = "org.atomic.Error.InvalidArgument";
    let huge = "a".repeat(1 << 20);
    let names: Vec<&str> = vec!["", &huge, "../x", "a b", "x;reboot", "é", "web\u{202e}", "a/b", "-x"];

    for name in &names {
        let shown = &name[..name.len().min(20)];
        for method in ["StartApplication", "StopApplication", "RollbackApplication"] {
            let r = call_manager(&conn, method, &(name, Dict::new())).await;
            assert_eq!(error_name(&r), invalid, "{method} {shown:?}");
        }
        let r = call_manager(
            &conn,
            "SetApplicationPolicy",
            &(name, HashMap::from([("auto-update", Value::from("apply"))])),
        )
        .await;
        assert_eq!(error_name(&r), invalid, "SetApplicationPolicy {shown:?}");
    }
    // A well-formed name that is no application: named in the error.
    for method in ["StartApplication", "StopApplication", "RollbackApplication"] {
        let r = call_manager(&conn, method, &("nosuch", Dict::new())).await;
        assert_eq!(error_name(&r), invalid, "{method} nosuch");
        assert!(error_text(&r).contains("nosuch"), "{method}: {}", error_text(&r));
    }
    // Options and policy keys no method defines, or of the wrong type.
    for (method, key, value) in [
        ("StartApplication", "bogus", Value::from(true)),
        ("StartApplication", "stdout", Value::from("not a descriptor")),
        ("StopApplication", "force", Value::from(true)),
        ("RollbackApplication", "image", Value::from("x")),
    ] {
        let r = call_manager(&conn, method, &("nosuch", HashMap::from([(key, value)]))).await;
        assert_eq!(error_name(&r), invalid, "{method} {key}");
        assert!(error_text(&r).contains(key), "{method}: {}", error_text(&r));
    }
    for (key, value) in [
        ("bogus", Value::from("x")),
        ("auto-update", Value::from("sometimes")),
        ("auto-update", Value::from(true)),
        ("interval", Value::from("0s")),
        ("interval", Value::from(huge.clone())),
        ("healthy-after", Value::from("soon")),
        ("fleet-lock", Value::from("yes")),
        ("group", Value::from("")),
    ] {
        let r = call_manager(&conn, "SetApplicationPolicy", &("nosuch", HashMap::from([(key, value)]))).await;
        assert_eq!(error_name(&r), invalid, "SetApplicationPolicy {key}");
    }
    // Wrong signatures are refused by the bus layer, before atomicd's code.
    for (method, body) in [
        ("StartApplication", Value::from(5u32)),
        ("StopApplication", Value::from("x")),
        ("SetApplicationPolicy", Value::from("x")),
        ("ListApplications", Value::from("x")),
    ] {
        let r = call_manager(&conn, method, &body).await;
        assert_eq!(error_name(&r), "org.freedesktop.DBus.Error.InvalidArgs", "{method}");
    }
    // Install --service with a name no unit can carry.
    let r = call_manager(
        &conn,
        "Install",
        &(
            "atomic-test/service",
            HashMap::from([("service", Value::from(true)), ("name", Value::from("a".repeat(240)))]),
        ),
    )
    .await;
    assert_eq!(error_name(&r), invalid, "Install --service with a 240-character name: {r:?}");

    // Still serving, and nothing written: no unit, no drop-in, no record.
    let listed = call_manager(&conn, "ListApplications", &()).await.unwrap();
    let apps: Vec<HashMap<String, zbus::zvariant::OwnedValue>> = listed.body().deserialize().unwrap();
    assert!(apps.is_empty(), "{apps:?}");
    assert_eq!(files_in(&units), Vec::<String>::new(), "a unit was written");
    assert_eq!(files_in(&base.join("etc/atomicd.toml.d")), Vec::<String>::new(), "a drop-in was written");
    assert!(!d.state_dir.join("applications.json").exists(), "a record was written");
    drop(d);
    let _ = std::fs::remove_dir_all(&base);
}
