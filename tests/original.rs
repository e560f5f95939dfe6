//! The original `atomic`'s own integration cases (projectatomic/atomic tests/integration:
//! test_run, test_params, test_help, test_run_opts), with the same labels rebuilt on busybox
//! (tests/world.sh), run through atomicd's CLI on both engines.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::path::Path;
use std::process::Command;

use common::*;

/// `atomic ARGS` as `uid` in directory `dir`, stopped after a minute so a hang fails the test
/// instead of stalling the suite: (exit code, stdout, stderr).
fn atomic_in(uid: u32, dir: &Path, args: &[&str]) -> (i32, String, String) {
    let out = Command::new("timeout")
        .args(["60", "setpriv"])
        .args([format!("--reuid={uid}"), format!("--regid={uid}"), "--clear-groups".into()])
        .arg(bin("atomic"))
        .args(args)
        .current_dir(dir)
        .output()
        .expect("timeout setpriv atomic");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn atomic(args: &[&str]) -> (i32, String, String) {
    atomic_in(0, &root(), args)
}

fn engine_says(engine: &str, args: &[&str]) -> String {
    let out = Command::new(engine).args(args).output().expect("engine");
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

/// A project directory of the test's own (files under it are the caller's to send).
struct Project(std::path::PathBuf);

impl Project {
    fn new() -> Self {
        let dir = std::path::PathBuf::from(format!("/var/tmp/atomicd-original-{}", unique()));
        std::fs::create_dir_all(&dir).unwrap();
        Project(dir)
    }
}

impl Drop for Project {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// The seed's ntpd label says `-d`: its stopped container is started and the call returns once
/// it runs, as the first Run did (it used to follow it with `docker start --attach`).
#[test]
#[ignore = "needs the test world (tests/world.sh up, as root); tests/run.sh runs it"]
fn a_stopped_container_of_the_ntpd_label_is_started_and_the_call_returns() {
    for (sock, engine) in ENGINES {
        let _d = Daemon::start(&["--engine-socket", sock]);
        let (code, _, err) = atomic(&["run", "atomic-test/ntpd"]);
        assert_eq!(code, 0, "{engine}: {err}");
        assert_eq!(engine_says(engine, &["inspect", "--format", "{{.State.Running}}", "ntpd"]), "true");
        engine_says(engine, &["stop", "-t", "0", "ntpd"]);
        assert_eq!(engine_says(engine, &["inspect", "--format", "{{.State.Running}}", "ntpd"]), "false");

        let again = Command::new("timeout")
            .args(["30"])
            .arg(bin("call"))
            .args(["Run", "atomic-test/ntpd"])
            .output()
            .unwrap();
        let reply = String::from_utf8_lossy(&again.stdout);
        assert!(again.status.success(), "{engine}: the second Run did not return: {reply}");
        let reply: serde_json::Value = serde_json::from_str(&reply).unwrap();
        println!("{engine}: the second Run planned {}", reply["command"]);
        assert_eq!(reply["command"], serde_json::json!(["docker", "start", "ntpd"]), "{engine}");
        assert_eq!(engine_says(engine, &["inspect", "--format", "{{.State.Running}}", "ntpd"]), "true");
    }
}

/// test_params: each argument after the image arrives as the one word it was, quoting and
/// all, after the INSTALL (and UNINSTALL) label's command.
#[test]
#[ignore = "needs the test world (tests/world.sh up, as root); tests/run.sh runs it"]
fn install_arguments_arrive_as_the_words_given() {
    let args = ["asdf&jkl", "bash -c \"echo arg1 arg2\"", "ježek", "asdf jkl"];
    for (sock, engine) in ENGINES {
        let _d = Daemon::start(&["--engine-socket", sock]);
        let mut install = vec!["install", "atomic-test/params"];
        install.extend(args);
        let (code, out, err) = atomic(&install);
        println!("{engine}: atomic install printed {out:?}");
        assert_eq!(code, 0, "{engine}: {err}");
        assert!(out.contains("[asdf&jkl][bash -c \"echo arg1 arg2\"][ježek][asdf jkl]"), "{engine}: {out}");

        // --keep-image: the fixture stays for the other engine's turn and the next run of the suite.
        let uninstall = ["uninstall", "--keep-image", "atomic-test/params", "a b", "-v", "/:/host"];
        let (code, out, err) = atomic(&uninstall);
        println!("{engine}: atomic uninstall printed {out:?}");
        assert_eq!(code, 0, "{engine}: {err}");
        assert!(out.contains("u[a b]u[-v]u[/:/host]"), "{engine}: a word after the image is no flag: {out}");
    }
}

/// test_help: the HELP label (spelled in any case) runs; an image without one shows its
/// /help.1 rendered; one with neither has no help and exits 1.
#[test]
#[ignore = "needs the test world (tests/world.sh up, as root); tests/run.sh runs it"]
fn help_runs_the_label_or_renders_the_man_page() {
    for (sock, engine) in ENGINES {
        let _d = Daemon::start(&["--engine-socket", sock]);
        let (code, out, err) = atomic(&["help", "atomic-test/help"]);
        assert_eq!(code, 0, "{engine}: {err}");
        assert!(out.contains("help from the HELP label of atomic-test/help"), "{engine}: {out}");
        let (code, out, err) = atomic(&["help", "atomic-test/lowhelp"]);
        assert_eq!(code, 0, "{engine}: {err}");
        assert!(out.contains("help from a label spelled help"), "{engine}: {out}");

        let (code, out, err) = atomic(&["help", "atomic-test/manpage"]);
        println!("{engine}: atomic help atomic-test/manpage printed:\n{out}");
        assert_eq!(code, 0, "{engine}: {err}");
        assert!(out.contains("an image that documents itself"), "{engine}: {out}");
        assert!(!out.contains(".TH") && !out.contains("\\fB"), "{engine}: not rendered: {out}");
        let before = containers(engine);
        let (code, _, err) = atomic(&["help", PLAIN]);
        assert_eq!(code, 1, "{engine}: {err}");
        assert!(err.contains("There is no help for atomic-test/plain"), "{engine}: {err}");
        assert_eq!(containers(engine), before, "{engine}: the reading container was left");
    }
}

/// test_run_opts: the RUN_OPTS_FILE the label names (under the working directory, with the
/// container's NAME in it) gives the words of `${RUN_OPTS}`; without it they are empty, with a
/// warning; a host mount in it needs what a host mount in the label needs.
#[test]
#[ignore = "needs the test world (tests/world.sh up, as root); tests/run.sh runs it"]
fn run_opts_come_from_the_file_the_label_names() {
    let g = polkit_grant("atomicopts", &["org.atomic.run"], "50-atomicd-opts");
    for (sock, engine) in ENGINES {
        let _d = Daemon::start(&["--engine-socket", sock]);
        let project = Project::new();
        let file = project.0.join("docker-run-opts-runopts");
        std::fs::write(&file, "--hostname=www.example.test -e VAR1=xyz\n").unwrap();
        let (code, out, err) = atomic_in(0, &project.0, &["run", "atomic-test/runopts"]);
        println!("{engine}: atomic run atomic-test/runopts: {err}{out}");
        assert_eq!(code, 0, "{engine}: {err}");
        assert!(err.contains("sending the options of RUN_OPTS_FILE"), "{engine}: {err}");
        assert!(out.starts_with("www.example.test"), "{engine}: {out}");
        assert!(out.lines().any(|l| l == "VAR1=xyz"), "{engine}: {out}");

        // A host mount in the file is judged as the line's own: this user may not.
        std::fs::write(&file, "-v /:/host\n").unwrap();
        let (code, _, err) = atomic_in(g.uid, &project.0, &["run", "atomic-test/runopts"]);
        assert_ne!(code, 0, "{engine}: a user granted only org.atomic.run mounted the host");
        assert!(err.contains("run-privileged") || err.contains("not authorized"), "{engine}: {err}");

        std::fs::remove_file(&file).unwrap();
        let (code, out, err) = atomic_in(0, &project.0, &["run", "atomic-test/runopts"]);
        assert_eq!(code, 0, "{engine}: {err}");
        assert!(err.contains("does not exist; ${RUN_OPTS} is empty"), "{engine}: {err}");
        assert!(!out.contains("VAR1="), "{engine}: {out}");
    }
}

/// test_run: with no RUN label the line keeps its container (the tools container the
/// original was made for), so the next Run of the same NAME runs its command in it, started
/// again if it stopped; the SPC default still removes its own.
#[test]
#[ignore = "needs the test world (tests/world.sh up, as root); tests/run.sh runs it"]
fn the_default_line_keeps_its_container_for_the_next_command() {
    for (sock, engine) in ENGINES {
        let _d = Daemon::start(&["--engine-socket", sock]);
        let name = format!("tools{}", unique());
        let (code, _, err) = atomic(&["run", "--detach", "--name", &name, TOOLS, "sleep", "300"]);
        assert_eq!(code, 0, "{engine}: {err}");
        let (code, out, err) = atomic(&["run", "--name", &name, TOOLS, "sh", "-c", "echo in it > /tmp/mark"]);
        assert_eq!(code, 0, "{engine}: {err}{out}");
        let (code, out, err) = atomic(&["run", "--name", &name, TOOLS, "cat", "/tmp/mark"]);
        assert_eq!((code, out.trim()), (0, "in it"), "{engine}: the command ran elsewhere: {err}");

        engine_says(engine, &["stop", "-t", "0", &name]);
        let (code, out, err) = atomic(&["run", "--name", &name, TOOLS, "cat", "/tmp/mark"]);
        assert_eq!((code, out.trim()), (0, "in it"), "{engine}: a stopped one was not started again: {err}");

        let (code, out, err) = atomic(&["run", "--display", "--spc", TOOLS]);
        assert_eq!(code, 0, "{engine}: {err}");
        assert!(out.contains(" --rm "), "{engine}: the SPC default keeps --rm: {out}");
        let (_, out, _) = atomic(&["run", "--display", PLAIN]);
        assert!(!out.contains("--rm"), "{engine}: the default line keeps its container: {out}");
    }
}

/// `atomic containers delete`, `images delete` and `images prune`: atomicd's own containers
/// only, never an image a container uses, and of a dangling image only those nothing uses.
#[test]
#[ignore = "needs the test world (tests/world.sh up, as root); tests/run.sh runs it"]
fn images_and_containers_are_removed_only_when_nothing_uses_them() {
    for (sock, engine) in ENGINES {
        let _d = Daemon::start(&["--engine-socket", sock]);
        let kept = format!("kept{}", unique());
        let theirs = format!("theirs{}", unique());
        let (code, _, err) = atomic(&["run", "--name", &kept, PLAIN, "true"]);
        assert_eq!(code, 0, "{engine}: {err}");
        engine_says(engine, &["create", "--name", &theirs, PLAIN, "true"]);

        let (code, _, err) = atomic(&["containers", "delete", &theirs]);
        assert_eq!(code, 1, "{engine}: removed a container atomicd did not make");
        assert!(err.contains("not made by atomicd"), "{engine}: {err}");
        let (code, out, err) = atomic(&["containers", "delete", &kept]);
        assert_eq!(code, 0, "{engine}: {err}");
        assert!(out.contains(&format!("Removed container {kept}")), "{engine}: {out}");
        let now = containers(engine);
        assert!(!now.contains(&kept) && now.contains(&theirs), "{engine}: {now:?}");

        // An image a container uses stays, whoever made the container.
        let used = format!("localhost/atomic-test/used{}:latest", unique());
        engine_says(engine, &["tag", PLAIN, &used]);
        let user = format!("user{}", unique());
        engine_says(engine, &["create", "--name", &user, &used, "true"]);
        // A second name of an image a container uses only goes: the container keeps its image.
        let alone = format!("localhost/atomic-test/alone{}:latest", unique());
        engine_says(engine, &["tag", PLAIN, &alone]);
        let (code, out, err) = atomic(&["images", "delete", &alone]);
        assert_eq!(code, 0, "{engine}: {err}");
        println!("{engine}: atomic images delete {alone}: {out}");
        let names = engine_says(engine, &["images", "--format", "{{.Repository}}:{{.Tag}}"]);
        assert!(!names.contains(&alone[..alone.len() - 7]), "{engine}: {names}");
        assert!(names.contains("atomic-test/plain"), "{engine}: its other name went: {names}");

        // A dangling image nothing uses goes; one a container was made from stays.
        let import = |label: &str| {
            let out = Command::new("sh")
                .args(["-c", &format!("tar -c -T /dev/null | {engine} import --change 'LABEL {label}=1' -")])
                .output()
                .unwrap();
            String::from_utf8_lossy(&out.stdout).trim().lines().last().unwrap_or_default().to_owned()
        };
        let lone = import("atomic.test.lone");
        let pinned = import("atomic.test.pinned");
        let pin = format!("pin{}", unique());
        engine_says(engine, &["create", "--name", &pin, &pinned, "true"]);
        let (code, out, err) = atomic(&["images", "prune"]);
        println!("{engine}: atomic images prune: {out}{err}");
        assert_eq!(code, 0, "{engine}: {err}");
        let bare = |id: &str| id.trim_start_matches("sha256:").to_owned();
        assert!(out.contains(&bare(&lone)), "{engine}: {out}");
        assert!(!out.contains(&bare(&pinned)), "{engine}: {out}");
        let ids = engine_says(engine, &["images", "-q", "--no-trunc"]);
        assert!(!ids.contains(&bare(&lone)) && ids.contains(&bare(&pinned)), "{engine}: {ids}");

        let _ = Command::new(engine).args(["rm", "-f", &theirs, &user, &pin]).output();
        let _ = Command::new(engine).args(["rmi", "-f", &used, &pinned]).output();
    }
}

/// containers trim: fstrim on the filesystem under atomicd's running container (its storage
/// directory, as the engine says), once; the container runs on, and another one is not named.
#[test]
#[ignore = "needs the test world (tests/world.sh up, as root); tests/run.sh runs it"]
fn containers_trim_discards_under_atomicd_s_running_containers_only() {
    for (sock, engine) in ENGINES {
        let _d = Daemon::start(&["--engine-socket", sock]);
        let up = format!("up{}", unique());
        let theirs = format!("theirs{}", unique());
        let (code, _, err) = atomic(&["run", "--detach", "--name", &up, PLAIN, "sleep", "300"]);
        assert_eq!(code, 0, "{engine}: {err}");
        engine_says(engine, &["run", "-d", "--name", &theirs, PLAIN, "sleep", "300"]);

        let (code, shown, err) = atomic(&["containers", "trim", "--display"]);
        println!("{engine}: atomic containers trim --display: {shown}");
        assert_eq!(code, 0, "{engine}: {err}");
        let dirs: Vec<&str> = shown.split_whitespace().skip(2).collect();
        assert!(shown.starts_with("fstrim -v /") && !dirs.is_empty(), "{engine}: {shown}");
        assert!(dirs.iter().all(|d| Path::new(d).is_dir()), "{engine}: not the engine's storage: {dirs:?}");

        let (code, out, err) = atomic(&["containers", "trim"]);
        println!("{engine}: atomic containers trim: {out}{err}");
        assert_eq!(code, 0, "{engine}: {err}");
        assert!(out.contains(&up) && !out.contains(&theirs), "{engine}: {out}");
        assert!(out.contains("discarded"), "{engine}: {out}");
        let running = |n: &str| engine_says(engine, &["inspect", "--format", "{{.State.Running}}", n]);
        assert_eq!((running(&up), running(&theirs)), ("true".into(), "true".into()), "{engine}");
        // Hostile options are refused by name before anything is asked or trimmed.
        for (sig_args, what) in
            [(&["1", "bogus", "b", "true"][..], "bogus"), (&["1", "display", "s", "yes"], "display")]
        {
            let out = Command::new("busctl")
                .args(["--system", "call", "org.atomic", "/org/atomic/Manager", "org.atomic.Manager"])
                .args(["TrimContainers", "a{sv}"])
                .args(sig_args)
                .output()
                .unwrap();
            let said = String::from_utf8_lossy(&out.stderr);
            assert!(!out.status.success() && said.contains(what), "{engine}: {what}: {said}");
        }
        let _ = Command::new(engine).args(["rm", "-f", &up, &theirs]).output();
    }
}
