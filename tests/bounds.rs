//! atomicd bounded under hostile callers (issue: bounded under hostile callers): readers that
//! are slow or gone, polkit prompts left open, and text that tries to forge what is printed.
// Its helpers are test code too, though outside a #[test] (which clippy.toml already allows).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::*;

/// A field of /proc/PID/status, as a number (VmRSS in kB, Threads).
fn status_field(pid: u32, field: &str) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap_or_else(|e| panic!("atomicd's /proc status: {e}"));
    status
        .lines()
        .find_map(|l| l.strip_prefix(field).and_then(|v| v.trim_start_matches(':').split_whitespace().next()))
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("no {field} in /proc/{pid}/status"))
}

fn open_fds(pid: u32) -> usize {
    std::fs::read_dir(format!("/proc/{pid}/fd")).unwrap_or_else(|e| panic!("atomicd's fds: {e}")).count()
}

/// Runs `script` under bash as root with the CLI as $0; returns its stdout.
fn pipeline(script: &str) -> String {
    let out = Command::new("bash")
        .args(["-c", script, &bin("atomic").to_string_lossy()])
        .stderr(Stdio::inherit())
        .output()
        .unwrap_or_else(|e| panic!("bash: {e}"));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
#[ignore = "needs the test world (tests/world.sh up, as root); tests/run.sh runs it"]
fn a_slow_reader_slows_the_container_and_a_gone_reader_ends_the_run_as_sigpipe() {
    let d = Daemon::start(&["--engine-socket", PODMAN_SOCK]);
    let pid = d.pid();
    // Settle: one call made, so the runtime's threads and the bus connection exist.
    assert_eq!(cli_as(0, &["status"]).0, 0);
    let (threads, fds) = (status_field(pid, "Threads"), open_fds(pid));

    // A writer as fast as the container can go, a reader that never reads, then leaves.
    let name = format!("slow{}", unique());
    let script = format!(
        "timeout 60 \"$0\" run --name {name} atomic-test/plain sh -c 'while :; do cat /bin/busybox; done' \
         | sleep 8; echo \"atomic=${{PIPESTATUS[0]}}\""
    );
    let started = Instant::now();
    let sampler = std::thread::spawn(move || {
        let mut most = 0;
        while started.elapsed() < Duration::from_secs(9) {
            most = most.max(status_field(pid, "VmRSS"));
            std::thread::sleep(Duration::from_millis(200));
        }
        most
    });
    let said = pipeline(&script);
    let most_kib = sampler.join().unwrap_or_else(|_| panic!("sampler"));
    eprintln!("slow reader: atomicd VmRSS peaked at {most_kib} KiB; ended after {:?}", started.elapsed());
    assert!(most_kib < 64 * 1024, "atomicd grew to {most_kib} KiB under a slow reader");
    assert_eq!(said.trim(), "atomic=141", "the run must end as SIGPIPE ends a writer");
    assert!(started.elapsed() < Duration::from_secs(20), "the run outlived its reader");
    assert!(
        wait_until(Duration::from_secs(10), || !containers("podman").contains(&name)),
        "the container of a gone reader was left running"
    );
    // Nothing of the job stays behind in atomicd.
    let settled = wait_until(Duration::from_secs(5), || {
        status_field(pid, "Threads") <= threads && open_fds(pid) <= fds
    });
    assert!(
        settled,
        "threads {} (was {threads}), fds {} (was {fds})",
        status_field(pid, "Threads"),
        open_fds(pid)
    );

    // The common case: `yes | head -1`.
    let said = pipeline(
        "timeout 30 \"$0\" run atomic-test/plain sh -c 'while :; do echo y; done' | head -1; \
         echo \"atomic=${PIPESTATUS[0]}\"",
    );
    assert_eq!(said, "y\natomic=141\n");
}

#[test]
#[ignore = "needs the test world (tests/world.sh up, as root); tests/run.sh runs it"]
fn text_from_labels_and_callers_cannot_drive_a_terminal_or_forge_a_log_record() {
    let d = Daemon::start(&["--engine-socket", PODMAN_SOCK]);
    // A mount source that would erase the banner line and print "ok" in its place.
    let source = format!("/var/tmp/atomicd-esc{}\u{1b}[2K\rok", unique());
    let (code, _, err) = cli_as(0, &["run", &format!("--opt1=--volume={source}:/y"), "atomic-test/opt"]);
    let _ = std::fs::remove_dir(&source);
    assert_eq!(code, 0, "{err}");
    assert!(!err.contains('\u{1b}') && !err.contains('\r'), "raw escapes reached the terminal: {err:?}");
    assert!(err.contains("\\u{1b}[2K\\rok"), "the banner shows the path, escaped: {err:?}");

    // A command word that would start a forged record in the log, and the displayed line.
    let forged = "x\nINFO atomicd: authorized uid=0 command=forged";
    let (code, out, err) = cli_as(0, &["run", "--display", "atomic-test/plain", "echo", forged]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(out.lines().count(), 1, "the displayed line is one line: {out:?}");
    assert!(out.contains(r"$'x\nINFO atomicd: authorized uid=0 command=forged'"), "{out:?}");
    let (code, out, err) = cli_as(0, &["run", "atomic-test/plain", "echo", forged]);
    assert_eq!((code, out.as_str()), (0, format!("{forged}\n").as_str()), "{err}");
    let log = d.log_text();
    assert!(
        !log.lines().any(|l| l.starts_with("INFO atomicd: authorized uid=0 command=forged")),
        "a caller forged a log record:\n{log}"
    );
    assert!(log.contains(r"x\nINFO atomicd"), "the word is logged escaped:\n{log}");
}

/// A caller as nobody that registers a polkit text agent for itself and runs an image
/// through the CLI (which allows interaction): polkit asks the agent for a password, which
/// never comes (the prompt is left open, as a hostile user would). Its stdout says how the
/// call ended; it exits when the 20 s pipe from `sleep` ends.
fn stalled_caller() -> std::process::Child {
    // The CLI is exec'd so it keeps the pid the agent was registered for; `script` gives the
    // agent the terminal it insists on, and the pipe from `sleep` keeps that terminal open.
    let inner = format!(
        "pkttyagent --process \\$\\$ >/dev/null 2>&1 & sleep 2; exec {} run atomic-test/plain true",
        bin("atomic").display()
    );
    let outer = format!(
        "sleep 20 | setpriv --reuid=65534 --regid=65534 --clear-groups script -qc \"{inner}\" /dev/null"
    );
    Command::new("bash")
        .args(["-c", &outer])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap_or_else(|e| panic!("stalled caller: {e}"))
}

#[test]
#[ignore = "needs the test world (tests/world.sh up, as root); tests/run.sh runs it"]
fn polkit_prompts_left_open_are_bounded_timed_out_and_never_starve_root() {
    let d = Daemon::start(&["--engine-socket", PODMAN_SOCK, "--polkit-timeout", "6"]);
    let pid = d.pid();
    assert_eq!(cli_as(0, &["status"]).0, 0);
    let fds = open_fds(pid);
    let callers: Vec<_> = (0..12)
        .map(|_| {
            std::thread::sleep(Duration::from_millis(150));
            stalled_caller()
        })
        .collect();
    std::thread::sleep(Duration::from_secs(3));
    // Root's attached run goes through while nobody's prompts hang.
    let (code, out, err) = cli_as(0, &["run", "atomic-test/plain", "echo", "root still runs"]);
    assert_eq!((code, out.as_str()), (0, "root still runs\n"), "{err}");
    let held = open_fds(pid);
    eprintln!("12 stalled callers: atomicd holds {held} descriptors (was {fds})");
    // Only the 4 admitted calls hold any: the 3 its message carries (zbus keeps the message
    // until the call returns) and atomicd's copies of them; the 8 refused ones hold none.
    assert!(held <= fds + 4 * 6 + 4, "stalled callers hold {held} descriptors (was {fds})");

    // Past the timeout the stalled checks were cancelled and their places given back, though
    // their callers are still connected: nobody is refused by polkit again, not told to wait.
    std::thread::sleep(Duration::from_secs(6));
    let reply = call_as(NOBODY, &["--interactive", "Run", "atomic-test/plain"]);
    assert_eq!(reply.error.map(|e| e.0).as_deref(), Some("org.freedesktop.DBus.Error.AccessDenied"));
    assert!(wait_until(Duration::from_secs(5), || open_fds(pid) <= fds), "descriptors left behind");

    let said: Vec<String> = callers
        .into_iter()
        .map(|c| String::from_utf8_lossy(&c.wait_with_output().unwrap().stdout).into_owned())
        .collect();
    let busy = said.iter().filter(|s| s.contains("already has 4 authorization checks waiting")).count();
    let timed_out = said.iter().filter(|s| s.contains("gave no answer within 6 s")).count();
    assert_eq!((busy, timed_out), (8, 4), "{said:#?}");
}

#[test]
#[ignore = "needs the test world (tests/world.sh up, as root); tests/run.sh runs it"]
fn concurrent_status_calls_from_nobody_start_one_backend_process() {
    // rpm-ostree cannot run on Debian: tests/fake/hostctl.py speaks its recorded formats and
    // counts its calls; each `status` takes as long as a process start and a daemon round trip.
    let dir = std::env::temp_dir().join(format!("atomicd-flight-{}", unique()));
    std::fs::create_dir_all(&dir).unwrap();
    let (state, calls) = (dir.join("state"), dir.join("calls"));
    let deployment = format!(
        r#"{{"version": "31.1", "checksum": "{}", "timestamp": 1591031729, "origin": "fedora:stable", "booted": true}}"#,
        "a".repeat(64)
    );
    std::fs::write(&state, format!(r#"{{"deployments": [{deployment}]}}"#)).unwrap();
    let fake = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fake");
    let path = format!("{}:{}", fake.display(), std::env::var("PATH").unwrap_or_default());
    let (state_s, calls_s) = (state.display().to_string(), calls.display().to_string());
    let _d = Daemon::start_with_env(
        &["--engine-socket", PODMAN_SOCK, "--host-backend", "rpm-ostree"],
        &[
            ("PATH", &path),
            ("FAKE_HOST_STATE", &state_s),
            ("FAKE_HOST_CALLS", &calls_s),
            ("FAKE_HOST_STATUS_DELAY", "0.5"),
        ],
    );
    let _ = std::fs::remove_file(&calls);
    let callers: Vec<_> = (0..100)
        .map(|_| {
            Command::new("setpriv")
                .args(["--reuid=65534", "--regid=65534", "--clear-groups"])
                .arg(bin("atomic"))
                .args(["status", "--json"])
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    for c in callers {
        let out = c.wait_with_output().unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        assert!(String::from_utf8_lossy(&out.stdout).contains("31.1"));
    }
    let started = std::fs::read_to_string(&calls).unwrap_or_default().lines().count();
    eprintln!("100 concurrent Status calls started {started} rpm-ostree processes");
    assert!(started <= 10, "100 concurrent Status calls started {started} rpm-ostree processes");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
#[ignore = "needs the test world (tests/world.sh up, as root); tests/run.sh runs it"]
fn every_local_user_sees_jobs_and_status_but_never_env_file_contents() {
    let d = Daemon::start(&["--engine-socket", PODMAN_SOCK]);
    // A secret in the env file atomic-test/envfile's label reads, sent by root's CLI into a
    // container that lives a few seconds (the label runs `env`, which runs the words appended).
    let path = "/var/tmp/atomicd-app/app.env";
    std::fs::create_dir_all("/var/tmp/atomicd-app").unwrap();
    std::fs::write(path, "GREETING=the secret value\n").unwrap();
    let root = Command::new(bin("atomic"))
        .args(["run", "--allow-env-file", path, "atomic-test/envfile", "sleep", "4"])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_secs(2));
    // As documented (API.md, "Who sees what"): nobody sees the job, whose it is and what it runs.
    let objects = Command::new("setpriv")
        .args(["--reuid=65534", "--regid=65534", "--clear-groups", "busctl", "--system", "--json=short"])
        .args(["call", "org.atomic", "/org/atomic/Manager", "org.freedesktop.DBus.ObjectManager"])
        .arg("GetManagedObjects")
        .output()
        .unwrap();
    let seen = String::from_utf8_lossy(&objects.stdout);
    assert!(objects.status.success(), "{}", String::from_utf8_lossy(&objects.stderr));
    assert!(seen.contains("\"CallerUid\":{\"type\":\"u\",\"data\":0}"), "{seen}");
    assert!(seen.contains("\"sleep\""), "{seen}");
    let root = root.wait_with_output().unwrap();
    assert!(root.status.success(), "{}", String::from_utf8_lossy(&root.stderr));
    assert!(seen.contains("--env-file"), "the job shows the env file's path: {seen}");
    assert!(!seen.contains("secret value"), "an env file's contents in a job: {seen}");
    assert!(!d.log_text().contains("secret value"), "an env file's contents in the log");
    let (code, status, _) = cli_as(NOBODY, &["status", "--json"]);
    assert_eq!(code, 0);
    assert!(!status.contains("secret value"));
}
