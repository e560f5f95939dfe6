//! Jobs: exported while a call runs, cancellable by their caller (and only with
//! org.atomic.cancel-any by anyone else), reporting progress the CLI shows.

mod common;

use std::process::Command;
use std::time::Duration;

use common::*;

async fn find_job(conn: &zbus::Connection) -> Option<zbus::zvariant::OwnedObjectPath> {
    let om = object_manager(conn).await;
    for _ in 0..100 {
        let objects = om.get_managed_objects().await.unwrap_or_default();
        if let Some(p) = objects.keys().find(|k| k.as_str().starts_with("/org/atomic/Manager/jobs/")) {
            return Some(p.clone());
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    None
}

#[tokio::test(flavor = "multi_thread")]
async fn the_caller_cancels_its_run_and_nobody_else_may() {
    let _d = Daemon::start(&["--engine-socket", PODMAN_SOCK]);
    let name = format!("cancel-{}", unique());
    let conn = zbus::Connection::system().await.unwrap_or_else(|e| panic!("{e}"));
    let p = atomicd::client::ManagerProxy::new(&conn).await.unwrap_or_else(|e| panic!("{e}"));
    let opts = std::collections::HashMap::from([("name", zbus::zvariant::Value::from(name.as_str()))]);
    let sleep = ["sleep".to_owned(), "60".to_owned()];
    let call = p.run(PLAIN, &sleep, opts);
    tokio::pin!(call);
    let job = tokio::select! {
        _ = &mut call => panic!("Run ended before it could be cancelled"),
        job = find_job(&conn) => job.unwrap_or_else(|| panic!("no job")),
    };
    assert!(containers("podman").contains(&name));

    // nobody is not the caller and has no cancel-any.
    let out = Command::new("setpriv")
        .args([
            "--reuid=65534",
            "--regid=65534",
            "--clear-groups",
            "busctl",
            "--system",
            "call",
            "org.atomic",
        ])
        .args([job.as_str(), "org.atomic.Job", "Cancel"])
        .output()
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(!out.status.success(), "nobody cancelled someone else's job");

    conn.call_method(Some("org.atomic"), job.as_str(), Some("org.atomic.Job"), "Cancel", &())
        .await
        .unwrap_or_else(|e| panic!("Cancel: {e}"));
    let r = tokio::time::timeout(Duration::from_secs(20), call)
        .await
        .unwrap_or_else(|_| panic!("Run did not end"));
    assert_eq!(error_name(&r), "org.atomic.Error.Cancelled");
    assert!(!containers("podman").contains(&name), "the cancelled container was left behind");
}

#[test]
fn install_shows_pull_progress_from_its_job() {
    let _d = Daemon::start(&["--engine-socket", PODMAN_SOCK]);
    let app = "127.0.0.1:5000/atomic-test/app:latest";
    let _ = Command::new("podman").args(["rmi", "-f", app]).output();
    let name = format!("prog{}", unique());
    let (code, _, err) = cli_as(0, &["install", "--name", &name, app]);
    assert_eq!(code, 0, "{err}");
    assert!(err.contains(&format!("atomic: pulling {app}")), "{err}");
    assert!(err.contains("atomic: pulling layer 1/1"), "{err}");
    assert!(err.contains("atomic: running the INSTALL label"), "{err}");
    let (code, _, err) = cli_as(0, &["uninstall", "--name", &name, app]);
    assert_eq!(code, 0, "{err}");
}
