//! Jobs: exported while a call runs, cancellable by their caller (and only with
//! org.atomic.cancel-any by anyone else), reporting progress the CLI shows.
// Its helpers are test code too, though outside a #[test] (which clippy.toml already allows).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::process::Command;
use std::time::Duration;

use common::*;

#[tokio::test(flavor = "multi_thread")]
#[ignore = "needs the test world (tests/world.sh up, as root); tests/run.sh runs it"]
async fn the_caller_cancels_its_run_and_nobody_else_may() {
    let d = Daemon::start(&["--engine-socket", PODMAN_SOCK]);
    let name = format!("cancel-{}", unique());
    let conn = zbus::Connection::system().await.unwrap();
    let p = atomicd::dbus::proxy::ManagerProxy::new(&conn).await.unwrap();
    let opts = RunOptions { name: Some(name.clone()), ..Default::default() };
    let sleep = ["sleep".to_owned(), "60".to_owned()];
    let call = p.run(PLAIN, &sleep, &opts);
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
        .unwrap();
    let said = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "nobody cancelled someone else's job");
    // Refused by polkit, not failed for some other reason (a wrong path, a bus error).
    assert!(said.contains("Access denied") || said.contains("AccessDenied"), "{said}");

    cancel_job(&conn, &job).await;
    let r = tokio::time::timeout(Duration::from_secs(20), call)
        .await
        .unwrap_or_else(|_| panic!("Run did not end"));
    assert_eq!(error_name(&r), "org.atomic.Error.Cancelled");
    assert!(!containers("podman").contains(&name), "the cancelled container was left behind");
    // The log tells the job's story with structured fields (journald keeps them as fields).
    let log = d.log_text();
    let started = log.lines().find(|l| l.contains(&format!("job {job} started: Run"))).unwrap_or_default();
    for field in
        [format!("job={job}"), "operation=\"Run\"".into(), "uid=0".into(), format!("image=\"{PLAIN}\"")]
    {
        assert!(started.contains(&field), "{field} missing from {started:?}");
    }
    // Its end, with the outcome the caller got and the MESSAGE_ID of every job's end.
    let ended = log.lines().find(|l| l.contains(&format!("job {job} cancelled"))).unwrap_or_default();
    for field in [
        format!("job={job}"),
        "outcome=\"cancelled\"".into(),
        "error=\"org.atomic.Error.Cancelled\"".into(),
        "message_id=\"4aae4db1661b4367838a2b84381c8236\"".into(),
    ] {
        assert!(ended.contains(&field), "{field} missing from {ended:?}\n{log}");
    }
}

#[test]
#[ignore = "needs the test world (tests/world.sh up, as root); tests/run.sh runs it"]
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

/// One 640 MiB layer in the local registry (tests/world.sh): its pull takes seconds.
const BIG: &str = "127.0.0.1:5000/atomic-test/big:latest";

fn installed_images(status: &StatusReport) -> Vec<String> {
    status.installed.iter().map(|i| i.image.clone()).collect()
}

async fn no_jobs_left(conn: &zbus::Connection) -> bool {
    no_jobs_left_within(conn, Duration::from_secs(5)).await
}

/// Install of BIG: the job reports byte progress of the pull; Cancel stops it; Install
/// returns Cancelled, nothing is recorded, the job is gone.
async fn pull_progress_then_cancel(engine: &str, socket: &str) {
    let _d = Daemon::start(&["--engine-socket", socket]);
    let _ = Command::new(engine).args(["rmi", "-f", BIG]).output();
    let conn = zbus::Connection::system().await.unwrap();
    let p = atomicd::dbus::proxy::ManagerProxy::new(&conn).await.unwrap();
    let name = format!("big{}", unique());
    let options = InstallOptions { name: Some(name.clone()), ..Default::default() };
    let call = p.install(BIG, &options);
    tokio::pin!(call);
    let job = tokio::select! {
        r = &mut call => panic!("Install ended before its job was seen: {r:?}"),
        job = find_job(&conn) => job.unwrap_or_else(|| panic!("no job")),
    };
    let bytes_flowing =
        |progress: f64, message: &str| progress > 0.0 && progress < 1.0 && message.contains("MB of");
    let (reporting, progress, message) = tokio::select! {
        r = &mut call => panic!("the pull ended before any byte progress was seen: {r:?}"),
        seen = job_where(&conn, bytes_flowing) => seen,
    };
    assert_eq!(reporting, job, "the progress came from another job");
    println!("{engine}: job {job} at Progress {progress:.3}: {message}");
    cancel_job(&conn, &job).await;
    let r = tokio::time::timeout(Duration::from_secs(15), call)
        .await
        .unwrap_or_else(|_| panic!("Install did not end"));
    assert_eq!(error_name(&r), "org.atomic.Error.Cancelled", "{r:?}");
    let status = p.status().await.unwrap();
    assert!(
        !installed_images(&status).iter().any(|i| i.contains("atomic-test/big")),
        "a cancelled Install was recorded"
    );
    assert!(no_jobs_left(&conn).await, "the cancelled job is still exported");
    assert!(!containers(engine).contains(&name));
}

#[tokio::test(flavor = "multi_thread")]
#[ignore = "needs the test world (tests/world.sh up, as root); tests/run.sh runs it"]
async fn pull_progress_and_cancel_on_podman() {
    pull_progress_then_cancel("podman", PODMAN_SOCK).await;
}

#[tokio::test(flavor = "multi_thread")]
#[ignore = "needs the test world (tests/world.sh up, as root); tests/run.sh runs it"]
async fn pull_progress_and_cancel_on_docker() {
    pull_progress_then_cancel("docker", DOCKER_SOCK).await;
}

/// Ctrl-C in `atomic install`: the CLI cancels its job and exits 130 once atomicd answered.
#[tokio::test(flavor = "multi_thread")]
#[ignore = "needs the test world (tests/world.sh up, as root); tests/run.sh runs it"]
async fn ctrl_c_cancels_the_cli_job() {
    use std::io::{BufRead, BufReader};
    let _d = Daemon::start(&["--engine-socket", PODMAN_SOCK]);
    let _ = Command::new("podman").args(["rmi", "-f", BIG]).output();
    let mut cli = Command::new(bin("atomic"))
        .args(["install", "--name", &format!("ctrlc{}", unique()), BIG])
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = cli.stderr.take().unwrap_or_else(|| panic!("no stderr"));
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    let mut lines = Vec::new();
    while let Ok(line) = rx.recv_timeout(Duration::from_secs(30)) {
        let pulling = line.contains("MB of");
        lines.push(line);
        if pulling {
            break;
        }
    }
    assert!(lines.iter().any(|l| l.contains("MB of")), "no pull progress on stderr: {lines:?}");
    let _ = Command::new("kill").args(["-INT", &cli.id().to_string()]).status();
    let code = wait_until(Duration::from_secs(15), || matches!(cli.try_wait(), Ok(Some(_))));
    assert!(code, "the CLI did not leave after Ctrl-C");
    let status = cli.wait().unwrap();
    lines.extend(rx.try_iter());
    println!("{}", lines.join("\n"));
    assert_eq!(status.code(), Some(130), "{lines:?}");
    assert!(lines.iter().any(|l| l.contains("was cancelled")), "{lines:?}");
    let conn = zbus::Connection::system().await.unwrap();
    assert!(no_jobs_left(&conn).await);
    let status = proxy().await.status().await.unwrap();
    assert!(!installed_images(&status).iter().any(|i| i.contains("atomic-test/big")));
}

/// On a terminal the CLI draws a bar (redrawn in place), not one line per message.
#[test]
#[ignore = "needs the test world (tests/world.sh up, as root); tests/run.sh runs it"]
fn the_cli_draws_a_progress_bar_on_a_terminal() {
    let _d = Daemon::start(&["--engine-socket", PODMAN_SOCK]);
    let _ = Command::new("podman").args(["rmi", "-f", BIG]).output();
    let name = format!("bar{}", unique());
    let cli = format!("{} install --name {name} {BIG}", bin("atomic").display());
    // script(1) gives the CLI a pseudo-terminal and records what it drew.
    let out = Command::new("script")
        .args(["-qefc", &cli, "/dev/null"])
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap();
    let drawn = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(out.status.success(), "{drawn}");
    assert!(drawn.contains("pulling layer 1/1 ("), "{drawn}");
    assert!(drawn.contains('%') && drawn.contains("[="), "no bar drawn: {drawn}");
    assert!(drawn.contains("\u{1b}[2K") || drawn.contains('\r'), "the bar is not redrawn in place: {drawn}");
    assert!(!drawn.contains("atomic: pulling"), "plain lines on a terminal: {drawn}");
    let (code, _, err) = cli_as(0, &["uninstall", "--name", &name, BIG]);
    assert_eq!(code, 0, "{err}");
}

/// A client that vanishes during an attached Run: the job is cancelled, the container removed,
/// the job unexported.
#[tokio::test(flavor = "multi_thread")]
#[ignore = "needs the test world (tests/world.sh up, as root); tests/run.sh runs it"]
async fn an_attached_run_ends_when_its_client_disconnects() {
    let _d = Daemon::start(&["--engine-socket", PODMAN_SOCK]);
    let name = format!("gone{}", unique());
    let mut cli = Command::new(bin("atomic"))
        .args(["run", "--name", &name, PLAIN, "sleep", "120"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    assert!(
        wait_until(Duration::from_secs(30), || containers("podman").contains(&name)),
        "the run never started"
    );
    let conn = zbus::Connection::system().await.unwrap();
    assert!(find_job(&conn).await.is_some(), "no job for the attached run");
    let _ = cli.kill();
    let _ = cli.wait();
    assert!(
        wait_until(Duration::from_secs(20), || !containers("podman").contains(&name)),
        "the container outlived its vanished client"
    );
    assert!(no_jobs_left(&conn).await, "the job of a vanished client is still exported");
}

/// A client that vanishes during an Install: the install goes on to its end and is recorded
/// whole, and its job is unexported.
#[tokio::test(flavor = "multi_thread")]
#[ignore = "needs the test world (tests/world.sh up, as root); tests/run.sh runs it"]
async fn an_install_outlives_its_client_and_ends_consistently() {
    let _d = Daemon::start(&["--engine-socket", PODMAN_SOCK]);
    let name = format!("orphaned{}", unique());
    let mut cli = Command::new(bin("atomic"))
        .args(["install", "--name", &name, "atomic-test/slowinstall"])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let conn = zbus::Connection::system().await.unwrap();
    assert!(find_job(&conn).await.is_some(), "no job for the install");
    let _ = cli.kill();
    let _ = cli.wait();
    assert!(no_jobs_left_within(&conn, Duration::from_secs(20)).await, "the job was never unexported");
    let status = proxy().await.status().await.unwrap();
    let record = status.installed;
    assert!(
        record.iter().any(|i| i.name == name && !i.image_id.is_empty()),
        "the install of a vanished client was not recorded whole: {record:?}"
    );
    let (code, _, err) =
        cli_as(0, &["uninstall", "--name", &name, "--force", "--keep-image", "atomic-test/slowinstall"]);
    assert_eq!(code, 0, "{err}");
}

/// The Output signals of one connection's jobs, as they arrive.
async fn outputs(conn: &zbus::Connection) -> zbus::MessageStream {
    let rule = zbus::MatchRule::builder()
        .msg_type(zbus::message::Type::Signal)
        .interface("org.atomic.Job")
        .and_then(|r| r.member("Output"))
        .unwrap()
        .build();
    zbus::MessageStream::for_match_rule(rule, conn, None).await.unwrap()
}

/// A Run without fds streams its output to its caller as Job.Output signals (how a web page
/// follows a label live), the same text its result carries; another connection listening for
/// those signals gets none of it.
#[tokio::test(flavor = "multi_thread")]
#[ignore = "needs the test world (tests/world.sh up, as root); tests/run.sh runs it"]
async fn a_caller_without_fds_follows_the_output_and_no_one_else_sees_it() {
    use futures_util::StreamExt;
    let _d = Daemon::start(&["--engine-socket", PODMAN_SOCK]);
    let caller = zbus::Connection::system().await.unwrap();
    let other = zbus::Connection::system().await.unwrap();
    let mut mine = outputs(&caller).await;
    let mut theirs = outputs(&other).await;
    let p = atomicd::dbus::proxy::ManagerProxy::new(&caller).await.unwrap();
    let script = ["sh", "-c", "for i in 1 2 3; do echo line $i; sleep 0.3; done; echo é€"].map(String::from);
    let r = p.run(PLAIN, &script, &RunOptions::default()).await.unwrap();
    assert_eq!(r.exit_code, Some(0));
    let mut streamed = String::new();
    while let Ok(Some(Ok(msg))) = tokio::time::timeout(Duration::from_millis(500), mine.next()).await {
        let path = msg.header().path().map(|p| p.to_string()).unwrap_or_default();
        assert!(path.starts_with("/org/atomic/Manager/jobs/"), "{path}");
        let text: String = msg.body().deserialize().unwrap();
        streamed.push_str(&text);
    }
    assert_eq!(streamed, "line 1\nline 2\nline 3\né€\n");
    assert_eq!(r.output.as_deref(), Some(streamed.as_str()), "the result carries the same text");
    let leaked = tokio::time::timeout(Duration::from_millis(300), theirs.next()).await;
    assert!(leaked.is_err(), "another connection received the output: {leaked:?}");
}
