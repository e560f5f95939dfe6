//! Load: 50 concurrent clients calling Status and 10 concurrent Runs on podman, with no error
//! and no leak of file descriptors or jobs.
// Its helpers are test code too, though outside a #[test] (which clippy.toml already allows).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::Duration;

use common::*;

/// atomicd's open descriptors; a daemon whose /proc entry cannot be read fails the test rather
/// than counting as zero.
fn fds(pid: u32) -> usize {
    std::fs::read_dir(format!("/proc/{pid}/fd"))
        .unwrap_or_else(|e| panic!("cannot count atomicd's descriptors: {e}"))
        .count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
#[ignore = "needs the test world (tests/world.sh up, as root); tests/run.sh runs it"]
async fn fifty_status_clients_and_ten_runs() {
    let d = Daemon::start(&["--engine-socket", PODMAN_SOCK]);
    proxy().await.status().await.unwrap();
    tokio::time::sleep(Duration::from_millis(500)).await;
    let before = fds(d.pid());

    let status_clients = (0..50).map(|_| {
        tokio::spawn(async {
            let p = proxy().await;
            for _ in 0..10 {
                p.status().await.map(drop)?;
            }
            Ok::<_, zbus::Error>(())
        })
    });
    let runs = (0..10).map(|i| {
        tokio::spawn(async move {
            let name = format!("load-{}-{i}", unique());
            let opts = RunOptions { name: Some(name.clone()), ..Default::default() };
            let cmd = vec!["sh".to_owned(), "-c".to_owned(), format!("exit {i}")];
            let r = proxy().await.run(PLAIN, &cmd, &opts).await?;
            Ok::<_, zbus::Error>(r.exit_code)
        })
    });
    let runs: Vec<_> = runs.collect();
    for c in status_clients {
        c.await.unwrap().unwrap_or_else(|e| panic!("Status under load: {e}"));
    }
    for (i, r) in runs.into_iter().enumerate() {
        let code = r.await.unwrap().unwrap_or_else(|e| panic!("Run under load: {e}"));
        assert_eq!(code, i32::try_from(i).ok());
    }

    // Jobs all gone, descriptors back where they were (a little slack for the engine probe).
    let conn = zbus::Connection::system().await.unwrap();
    let om = object_manager(&conn).await;
    assert!(
        wait_until(Duration::from_secs(5), || fds(d.pid()) <= before + 2),
        "fds: {before} before, {} after",
        fds(d.pid())
    );
    let objects = om.get_managed_objects().await.unwrap_or_default();
    let jobs: Vec<_> =
        objects.iter().filter(|(_, ifaces)| ifaces.keys().any(|i| i.as_str() == "org.atomic.Job")).collect();
    assert!(jobs.is_empty(), "jobs left exported: {jobs:?}");
}
