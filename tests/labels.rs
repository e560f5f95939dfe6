//! Image labels end to end over the real bus, on podman and on dockerd.
// Its helpers are test code too, though outside a #[test] (which clippy.toml already allows).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::*;
use std::time::Duration;

#[tokio::test(flavor = "multi_thread")]
#[ignore = "needs the test world (tests/world.sh up, as root); tests/run.sh runs it"]
async fn run_label_keeps_quoting_and_propagates_the_exit_code() {
    for (sock, engine) in ENGINES {
        let _d = Daemon::start(&["--engine-socket", sock]);
        let r = proxy()
            .await
            .run("atomic-test/hello", &[], &Default::default())
            .await
            .unwrap_or_else(|e| panic!("{engine}: {e}"));
        assert_eq!(r.exit_code, Some(3), "{engine}: sh -c 'echo ...; exit 3' must exit 3");
        assert_eq!(r.output.as_deref(), Some("hello from hello\n"), "{engine}");
        let argv = r.command;
        assert_eq!(
            argv.last().map(String::as_str),
            Some("echo hello from hello; exit 3"),
            "{engine}: {argv:?}"
        );
        assert!(
            argv.contains(&"NAME=hello".to_owned()) && argv.contains(&"IMAGE=atomic-test/hello".to_owned())
        );
        // A --rm container is removed after the reply, within moments.
        let gone = wait_until(Duration::from_secs(5), || !containers(engine).contains(&"hello".to_owned()));
        assert!(gone, "{engine}: --rm container left");
    }
    // The CLI exits with the container's code.
    let _d = Daemon::start(&["--engine-socket", PODMAN_SOCK]);
    let (c, out, _) = cli_as(0, &["run", "atomic-test/hello"]);
    assert_eq!((c, out.as_str()), (3, "hello from hello\n"));
}

#[tokio::test(flavor = "multi_thread")]
#[ignore = "needs the test world (tests/world.sh up, as root); tests/run.sh runs it"]
async fn variables_are_substituted_and_unknown_ones_reported() {
    for (sock, engine) in ENGINES {
        variables_are_substituted_and_unknown_ones_reported_on(sock, engine).await;
    }
}

async fn variables_are_substituted_and_unknown_ones_reported_on(sock: &str, engine: &str) {
    let _d = Daemon::start(&["--engine-socket", sock]);
    eprintln!("engine: {engine}");
    let opts = RunOptions { opt1: Some("first".into()), pwd: Some("/srv/work".into()), ..Default::default() };
    let r = proxy().await.run("atomic-test/vars", &[], &opts).await.unwrap();
    assert_eq!(
        r.output.unwrap_or_default().trim(),
        "opt1=first pwd=/srv/work uid=0 home=/root undef= image=atomic-test/vars"
    );
    assert_eq!(r.warnings, ["$UNDEFINED_X is not set and expanded to nothing"]);

    // nobody cannot claim another SUDO_UID; root can.
    let reply = call_as(NOBODY, &["Run", "atomic-test/vars", "--opt", "sudo-uid=0", "--opt", "display=true"]);
    let (name, msg) = reply.error.unwrap_or_else(|| panic!("nobody set sudo-uid"));
    assert_eq!(name, "org.atomic.Error.InvalidArgument");
    assert!(msg.contains("sudo-uid"), "{msg}");
    let reply = call_as(0, &["Run", "atomic-test/vars", "--opt", "sudo-uid=1000", "--opt", "display=true"]);
    let line = reply.json["command"].to_string();
    assert!(line.contains("uid=1000"), "{line}");
    // The CLI sends its working directory and --opt1.
    let (c, out, err) = cli_as(0, &["run", "--opt1", "cli", "atomic-test/vars"]);
    assert_eq!(c, 0, "{err}");
    let cwd = std::env::current_dir().unwrap_or_default();
    assert!(out.contains(&format!("opt1=cli pwd={}", cwd.display())), "{out}");
    assert!(err.contains("$UNDEFINED_X"), "the warning reaches the user: {err}");
}

#[tokio::test(flavor = "multi_thread")]
#[ignore = "needs the test world (tests/world.sh up, as root); tests/run.sh runs it"]
async fn labels_that_are_not_one_docker_run_line_are_refused() {
    for (sock, engine) in ENGINES {
        labels_that_are_not_one_docker_run_line_are_refused_on(sock, engine).await;
    }
}

async fn labels_that_are_not_one_docker_run_line_are_refused_on(sock: &str, engine: &str) {
    let _d = Daemon::start(&["--engine-socket", sock]);
    eprintln!("engine: {engine}");
    let p = proxy().await;
    for (image, needle) in [
        ("atomic-test/shell", "';'"),
        ("atomic-test/notrun", "must start with docker or podman"),
        ("atomic-test/unknownflag", "--cpus"),
    ] {
        let before = containers(engine).len();
        let r = p.run(image, &[], &Default::default()).await;
        assert_eq!(error_name(&r), "org.atomic.Error.UnsupportedLabel", "{image}");
        let msg = error_text(&r);
        assert!(msg.contains(needle), "{image}: {msg}");
        assert_eq!(containers(engine).len(), before, "{image}: something ran");
    }
}

#[tokio::test(flavor = "multi_thread")]
#[ignore = "needs the test world (tests/world.sh up, as root); tests/run.sh runs it"]
async fn host_access_in_a_label_needs_run_privileged() {
    for (sock, engine) in ENGINES {
        host_access_in_a_label_needs_run_privileged_on(sock, engine).await;
    }
}

async fn host_access_in_a_label_needs_run_privileged_on(sock: &str, engine: &str) {
    let _d = Daemon::start(&["--engine-socket", sock]);
    eprintln!("engine: {engine}");
    let r = call_as(NOBODY, &["Run", "atomic-test/hostnet", "--opt", "display=true"]);
    assert_eq!(r.json["privileges"], serde_json::json!(["shares the host's network namespace"]));
    let r = call_as(NOBODY, &["--interactive", "Run", "atomic-test/hostnet"]);
    let (name, msg) = r.error.unwrap_or_else(|| panic!("nobody ran a host-network label"));
    assert_eq!(name, "org.freedesktop.DBus.Error.AccessDenied");
    assert!(msg.contains("org.atomic.run-privileged"), "{msg}");
    let r = call_as(0, &["Run", "atomic-test/hostnet"]);
    assert_eq!(r.json["exit-code"], 0, "{:?}", r.error);
    // The CLI shows the banner before running, and --quiet hides it.
    let (_, _, err) = cli_as(0, &["run", "atomic-test/hostnet"]);
    assert!(err.contains("may change the host") && err.contains("host's network"), "{err}");
    let (_, _, err) = cli_as(0, &["run", "--quiet", "atomic-test/hostnet"]);
    assert!(!err.contains("may change the host"), "{err}");
}

#[tokio::test(flavor = "multi_thread")]
#[ignore = "needs the test world (tests/world.sh up, as root); tests/run.sh runs it"]
async fn an_install_label_means_install_first() {
    for (sock, engine) in ENGINES {
        an_install_label_means_install_first_on(sock, engine).await;
    }
}

async fn an_install_label_means_install_first_on(sock: &str, engine: &str) {
    let _d = Daemon::start(&["--engine-socket", sock]);
    eprintln!("engine: {engine}");
    let r = proxy().await.run("atomic-test/installable", &[], &Default::default()).await;
    assert_eq!(error_name(&r), "org.atomic.Error.Failed");
    let msg = error_text(&r);
    assert!(msg.contains("install it first"), "{msg}");
    // SPC runs whatever the labels say: the image runs, privileged, without being installed.
    let spc = RunOptions { spc: Some(true), ..Default::default() };
    let cmd: Vec<String> = ["sh", "-c", "echo spc-ran; test -d /host/proc"].map(String::from).to_vec();
    let r = proxy().await.run("atomic-test/installable", &cmd, &spc).await;
    if engine == "docker" {
        // dockerd in this test world cannot start privileged containers (see interactive.rs):
        // the call gets as far as the engine, past the install-first rule.
        assert_eq!(error_name(&r), "org.atomic.Error.EngineError", "{engine}: {r:?}");
        assert!(error_text(&r).contains("operation not permitted"), "{engine}: {r:?}");
        return;
    }
    let r = r.unwrap_or_else(|e| panic!("{engine}: SPC of an installable image: {e}"));
    assert_eq!((r.exit_code, r.output.as_deref()), (Some(0), Some("spc-ran\n")), "{engine}");
    assert!(r.command.contains(&"--privileged".to_owned()), "{engine}: {:?}", r.command);
}

#[tokio::test(flavor = "multi_thread")]
#[ignore = "needs the test world (tests/world.sh up, as root); tests/run.sh runs it"]
async fn existing_containers_follow_the_documented_rules() {
    for (sock, engine) in ENGINES {
        let _d = Daemon::start(&["--engine-socket", sock]);
        let p = proxy().await;
        let name = format!("keep-{}", unique());
        let sleep: Vec<String> = ["sleep", "60"].map(String::from).to_vec();
        let detached = RunOptions { name: Some(name.clone()), detach: Some(true), ..Default::default() };
        let first =
            p.run(atomicd_plain(), &sleep, &detached).await.unwrap_or_else(|e| panic!("{engine}: {e}"));
        let first_id = first.container_id.unwrap_or_default();
        assert!(containers(engine).contains(&name));

        // A command for the running container is exec'd in it; its exit code is the call's.
        let exit5: Vec<String> = ["sh", "-c", "exit 5"].map(String::from).to_vec();
        let named = RunOptions { name: Some(name.clone()), ..Default::default() };
        let again = p.run(atomicd_plain(), &exit5, &named).await.unwrap_or_else(|e| panic!("{engine}: {e}"));
        assert_eq!(again.exit_code, Some(5), "{engine}");
        assert_eq!(again.command.get(1).map(String::as_str), Some("exec"), "{engine}");
        let replace = RunOptions { replace: Some(true), ..detached };
        let replaced =
            p.run(atomicd_plain(), &sleep, &replace).await.unwrap_or_else(|e| panic!("{engine}: {e}"));
        assert!(!first_id.is_empty(), "{engine}: a detached run names its container");
        assert_ne!(replaced.container_id, Some(first_id), "{engine}: replace must make a new container");
        let _ = std::process::Command::new(engine).args(["rm", "-f", &name]).output();
    }
}

#[tokio::test(flavor = "multi_thread")]
#[ignore = "needs the test world (tests/world.sh up, as root); tests/run.sh runs it"]
async fn a_detached_command_is_exec_d_detached_and_a_restart_takes_the_caller_s_stdin() {
    for (sock, engine) in ENGINES {
        let _d = Daemon::start(&["--engine-socket", sock]);
        let p = proxy().await;

        // detach with a command for a running container: `docker exec -d`, no exit code to wait for.
        let svc = format!("svc{}", unique());
        let named = RunOptions { name: Some(svc.clone()), ..Default::default() };
        p.run("atomic-test/svc", &[], &named).await.unwrap_or_else(|e| panic!("{engine}: {e}"));
        let touch: Vec<String> =
            ["sh", "-c", "sleep 1; echo late > /tmp/detached"].map(String::from).to_vec();
        let detached = RunOptions { detach: Some(true), ..named };
        let started = std::time::Instant::now();
        let r = p.run("atomic-test/svc", &touch, &detached).await.unwrap_or_else(|e| panic!("{engine}: {e}"));
        assert!(started.elapsed() < std::time::Duration::from_secs(1), "{engine}: the exec was waited for");
        assert_eq!(r.exit_code, None, "{engine}");
        assert_eq!(r.command[..4], ["docker", "exec", "-d", svc.as_str()], "{engine}");
        let wrote = wait_until(std::time::Duration::from_secs(10), || {
            let out =
                std::process::Command::new(engine).args(["exec", &svc, "cat", "/tmp/detached"]).output();
            out.is_ok_and(|o| String::from_utf8_lossy(&o.stdout) == "late\n")
        });
        assert!(wrote, "{engine}: the detached exec did not run");
        let _ = std::process::Command::new(engine).args(["rm", "-f", &svc]).output();

        // A stopped container made with -i is started again with the caller's stdin attached.
        let keep = format!("keep{}", unique());
        let null = std::fs::File::open("/dev/null").unwrap();
        let first = RunOptions {
            name: Some(keep.clone()),
            stdin: Some(std::os::fd::OwnedFd::from(null).into()),
            ..Default::default()
        };
        let (out_path, out) = temp_file(&format!("keep-first-{engine}"));
        let first = RunOptions { stdout: Some(out.into()), ..first };
        let r = p.run("atomic-test/keep", &[], &first).await.unwrap_or_else(|e| panic!("{engine}: {e}"));
        assert_eq!(r.exit_code, Some(0), "{engine}");
        assert_eq!(
            std::fs::read_to_string(&out_path).unwrap_or_default(),
            "",
            "{engine}: /dev/null gives head nothing"
        );
        assert!(containers(engine).contains(&keep), "{engine}: the container is kept, stopped");

        let mut cli = std::process::Command::new(bin("atomic"))
            .args(["run", "--name", &keep, "atomic-test/keep"])
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        if let Some(mut stdin) = cli.stdin.take() {
            use std::io::Write;
            stdin.write_all(b"hello\n").unwrap();
        }
        let out = cli.wait_with_output().unwrap();
        let (stdout, stderr) = (String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
        assert_eq!((out.status.code(), stdout.as_ref()), (Some(0), "hello\n"), "{engine}: {stderr}");

        // Detached, the stopped container is only started: the caller does not wait for it (it
        // waits for a line of stdin that never comes), and the shown line says so.
        let detached = RunOptions { name: Some(keep.clone()), detach: Some(true), ..Default::default() };
        let started = std::time::Instant::now();
        let r = tokio::time::timeout(
            std::time::Duration::from_secs(10),
            p.run("atomic-test/keep", &[], &detached),
        )
        .await
        .unwrap_or_else(|_| panic!("{engine}: a detached Run of a stopped container was waited for"))
        .unwrap_or_else(|e| panic!("{engine}: {e}"));
        assert!(started.elapsed() < std::time::Duration::from_secs(5), "{engine}");
        assert_eq!(r.command, ["docker", "start", keep.as_str()], "{engine}");
        let state = std::process::Command::new(engine)
            .args(["inspect", "-f", "{{.State.Running}}", &keep])
            .output()
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
            .unwrap_or_default();
        assert_eq!(state, "true", "{engine}: the detached start did not start it");
        let _ = std::process::Command::new(engine).args(["rm", "-f", &keep]).output();
    }
}

/// A new file under the temp directory, and an open descriptor on it for writing.
fn temp_file(tag: &str) -> (std::path::PathBuf, std::os::fd::OwnedFd) {
    let path = std::env::temp_dir().join(format!("atomicd-{tag}-{}", unique()));
    let file = std::fs::File::create(&path).unwrap();
    (path, file.into())
}

fn atomicd_plain() -> &'static str {
    PLAIN
}

#[tokio::test(flavor = "multi_thread")]
#[ignore = "needs the test world (tests/world.sh up, as root); tests/run.sh runs it"]
async fn env_files_are_read_by_the_caller_not_the_daemon() {
    for (sock, engine) in ENGINES {
        env_files_are_read_by_the_caller_not_the_daemon_on(sock, engine).await;
    }
}

async fn env_files_are_read_by_the_caller_not_the_daemon_on(sock: &str, engine: &str) {
    let _d = Daemon::start(&["--engine-socket", sock]);
    eprintln!("engine: {engine}");
    let path = "/var/tmp/atomicd-app/app.env";
    std::fs::create_dir_all("/var/tmp/atomicd-app").unwrap();
    std::fs::write(path, "# greeting\nGREETING=hi there\n").unwrap();
    std::process::Command::new("chmod").args(["600", path]).status().unwrap();

    // The label names a file outside the working directory: the CLI does not read it unless
    // the user allows that path, and says what it sends.
    let (c, out, err) = cli_as(0, &["run", "atomic-test/envfile"]);
    assert_eq!(c, 1, "{out}");
    assert!(err.contains(&format!("pass --allow-env-file {path}")), "{err}");
    assert!(!out.contains("GREETING"), "{out}");
    let (c, out, err) = cli_as(0, &["run", "--allow-env-file", path, "atomic-test/envfile"]);
    assert_eq!(c, 0, "{err}");
    assert!(out.lines().any(|l| l == "GREETING=hi there"), "{out}");
    assert!(err.contains(&format!("atomic: sending env file {path} into the container")), "{err}");
    // A file under the working directory is the user's to send.
    let here = std::process::Command::new(bin("atomic"))
        .args(["run", "atomic-test/envfile"])
        .current_dir("/var/tmp/atomicd-app")
        .output()
        .unwrap();
    let said = String::from_utf8_lossy(&here.stdout);
    assert!(said.lines().any(|l| l == "GREETING=hi there"), "{said}");

    // Over D-Bus without the contents: atomicd does not open the file itself, and says which
    // files the caller must send, as the error's second argument.
    let r = proxy().await.run("atomic-test/envfile", &[], &Default::default()).await;
    assert_eq!(error_name(&r), "org.atomic.Error.EnvFilesNeeded");
    let Err(zbus::Error::MethodError(_, Some(msg), reply)) = &r else { panic!("{r:?}") };
    assert!(msg.contains(path), "{msg}");
    let (_, paths): (String, Vec<String>) = reply.body().deserialize().unwrap();
    assert_eq!(paths, [path]);
    // A caller who cannot read the file gets a plain refusal and nothing runs.
    let (c, _, err) = cli_as(NOBODY, &["run", "--allow-env-file", path, "atomic-test/envfile"]);
    assert_eq!(c, 1);
    assert!(err.contains("cannot read env file /var/tmp/atomicd-app/app.env"), "{err}");
}
