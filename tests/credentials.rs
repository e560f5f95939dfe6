//! Registry logins against the test world's htpasswd registry (127.0.0.1:5001, tests/world.sh):
//! the engines' usual auth files and `--registry-auth` work on both engines, a missing or wrong
//! login fails with a sentence that says so, and the secret never reaches the bus or the log.
// Its helpers are test code too, though outside a #[test] (which clippy.toml already allows).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use base64::Engine as _;
use common::*;

const PRIVATE: &str = "127.0.0.1:5001/atomic-test/private:latest";
/// The registry's login, as tests/world.sh set it up.
const USER: &str = "atomic-test";
const PASSWORD: &str = "s3cret-Reg1stry-pw";
const WRONG_PASSWORD: &str = "not-the-Passw0rd-at-all";

/// Both tests pull and remove the one private image.
static PRIVATE_IMAGE: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

fn rmi(engine: &str, image: &str) {
    let _ = Command::new(engine).args(["rmi", "-f", image]).output();
}

fn has_image(engine: &str, image: &str) -> bool {
    Command::new(engine).args(["image", "inspect", image]).output().is_ok_and(|o| o.status.success())
}

fn encoded(user: &str, password: &str) -> String {
    base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"))
}

/// A fresh directory with an auth file at `relative` giving `password` for the private registry
/// (and something else for the open one, which must not matter).
fn auth_dir(relative: &str, password: &str) -> (PathBuf, PathBuf) {
    let dir = std::env::temp_dir().join(format!("atomicd-auth-{}-{}", std::process::id(), unique()));
    let file = dir.join(relative);
    if let Some(parent) = file.parent() {
        std::fs::create_dir_all(parent).unwrap();
    }
    let text = format!(
        r#"{{"auths": {{"127.0.0.1:5001": {{"auth": "{}"}}, "127.0.0.1:5000": {{"auth": "{}"}}}}}}"#,
        encoded(USER, password),
        encoded("someone-else", "open-registry-pw")
    );
    std::fs::write(&file, text).unwrap();
    (dir, file)
}

fn empty_dir() -> PathBuf {
    let dir = std::env::temp_dir().join(format!("atomicd-noauth-{}-{}", std::process::id(), unique()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Everything that passes through org.atomic on the bus (calls, replies, errors, job
/// properties, signals), as `busctl monitor` prints it.
struct Monitor {
    child: Child,
    out: PathBuf,
}

impl Monitor {
    fn start() -> Monitor {
        let out = std::env::temp_dir().join(format!("atomicd-monitor-{}.txt", unique()));
        let file = std::fs::File::create(&out).unwrap();
        let child = Command::new("busctl")
            .args(["--system", "monitor", "--no-pager", "org.atomic"])
            .stdout(file)
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("busctl monitor: {e}"));
        std::thread::sleep(Duration::from_millis(500));
        Monitor { child, out }
    }

    fn text(mut self) -> String {
        std::thread::sleep(Duration::from_millis(300));
        let _ = self.child.kill();
        let _ = self.child.wait();
        std::fs::read_to_string(&self.out).unwrap_or_default()
    }
}

fn assert_no_secret(what: &str, text: &str, passwords: &[&str]) {
    for p in passwords {
        assert!(!text.contains(p), "{what} shows a password:\n{text}");
        assert!(!text.contains(&encoded(USER, p)), "{what} shows an encoded login:\n{text}");
    }
}

/// The environment that points a daemon at `dir`'s files and at nothing of the machine's.
fn env_for(engine: &str, dir: &Path) -> Vec<(&'static str, String)> {
    let mut env = vec![("RUST_LOG", "debug".to_owned())];
    if engine == "podman" {
        env.push(("XDG_RUNTIME_DIR", dir.display().to_string()));
        env.push(("DOCKER_CONFIG", empty_dir().display().to_string()));
    } else {
        env.push(("XDG_RUNTIME_DIR", empty_dir().display().to_string()));
        env.push(("DOCKER_CONFIG", dir.join("docker").display().to_string()));
    }
    env
}

fn start(sock: &str, extra: &[&str], env: &[(&'static str, String)]) -> Daemon {
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let mut args = vec!["--engine-socket", sock];
    args.extend_from_slice(extra);
    Daemon::start_with_env(&args, &env)
}

#[tokio::test(flavor = "multi_thread")]
#[ignore = "needs the test world (tests/world.sh up, as root); tests/run.sh runs it"]
async fn the_engines_own_auth_file_logs_in_to_that_registry() {
    let _one = PRIVATE_IMAGE.lock().await;
    for (sock, engine) in ENGINES {
        // podman's root login file under XDG_RUNTIME_DIR, Docker's config.json under DOCKER_CONFIG.
        let relative = if engine == "podman" { "containers/auth.json" } else { "docker/config.json" };
        let (dir, _) = auth_dir(relative, PASSWORD);
        rmi(engine, PRIVATE);
        let monitor = Monitor::start();
        let daemon = start(sock, &[], &env_for(engine, &dir));
        let p = proxy().await;
        let pulled =
            p.pull(PRIVATE, &PullOptions::default()).await.unwrap_or_else(|e| panic!("{engine}: {e}"));
        assert!(pulled.changed && has_image(engine, PRIVATE), "{engine}: {pulled:?}");
        // A Run of an image only the private registry has pulls it with the same login.
        rmi(engine, PRIVATE);
        let cmd: Vec<String> = ["echo", "private"].map(String::from).to_vec();
        let r =
            p.run(PRIVATE, &cmd, &RunOptions::default()).await.unwrap_or_else(|e| panic!("{engine}: {e}"));
        assert_eq!((r.exit_code, r.output.as_deref()), (Some(0), Some("private\n")), "{engine}");
        // And the CLI's pull, as root.
        rmi(engine, PRIVATE);
        let (code, _, err) = cli_as(0, &["pull", PRIVATE]);
        assert_eq!(code, 0, "{engine}: {err}");
        assert_no_secret("the CLI", &err, &[PASSWORD]);
        let bus = monitor.text();
        assert!(bus.contains("Pull"), "{engine}: the monitor saw the calls:\n{bus}");
        assert_no_secret("the bus", &bus, &[PASSWORD]);
        let log = daemon.log_text();
        assert!(log.contains("sending a registry login"), "{engine}: debug log:\n{log}");
        assert_no_secret("the log", &log, &[PASSWORD]);
        rmi(engine, PRIVATE);
    }
}

#[tokio::test(flavor = "multi_thread")]
#[ignore = "needs the test world (tests/world.sh up, as root); tests/run.sh runs it"]
async fn a_missing_or_wrong_login_fails_with_a_sentence_and_shows_nothing() {
    let _one = PRIVATE_IMAGE.lock().await;
    for (sock, engine) in ENGINES {
        rmi(engine, PRIVATE);
        let monitor = Monitor::start();
        // No login anywhere.
        let daemon = start(sock, &[], &env_for(engine, &empty_dir()));
        let p = proxy().await;
        let r = p.pull(PRIVATE, &PullOptions::default()).await;
        assert_eq!(error_name(&r), "org.atomic.Error.RegistryAuth", "{engine}: {r:?}");
        let text = error_text(&r);
        assert!(
            text.contains("127.0.0.1:5001 wants a login and atomicd has none for it"),
            "{engine}: {text}"
        );
        assert!(text.contains("/etc/containers/auth.json"), "it names the files read: {text}");
        let (code, _, err) = cli_as(0, &["pull", PRIVATE]);
        assert_ne!(code, 0, "{engine}");
        assert!(err.contains("wants a login"), "{engine}: {err}");
        // Install pulls through the same path and says the same.
        let r = p.install(PRIVATE, &InstallOptions::default()).await;
        assert_eq!(error_name(&r), "org.atomic.Error.RegistryAuth", "{engine}: {r:?}");
        drop(daemon);

        // A wrong password from --registry-auth: refused, and the sentence says whose file.
        let (_dir, file) = auth_dir("wrong.json", WRONG_PASSWORD);
        let path = file.display().to_string();
        let daemon = start(sock, &["--registry-auth", &path], &[("RUST_LOG", "debug".to_owned())]);
        let r = proxy().await.pull(PRIVATE, &PullOptions::default()).await;
        assert_eq!(error_name(&r), "org.atomic.Error.RegistryAuth", "{engine}: {r:?}");
        let text = error_text(&r);
        assert!(text.contains(&format!("refused the login atomicd read for it from {path}")), "{text}");
        assert_no_secret("the error", &text, &[WRONG_PASSWORD]);
        assert_no_secret("the log", &daemon.log_text(), &[WRONG_PASSWORD]);
        drop(daemon);

        // A file that is not an auth file is named, not quoted.
        std::fs::write(&file, format!("password={WRONG_PASSWORD}")).unwrap();
        let _daemon = start(sock, &["--registry-auth", &path], &[]);
        let r = proxy().await.pull(PRIVATE, &PullOptions::default()).await;
        let text = error_text(&r);
        assert!(
            text.contains(&format!("the registry auth file {path} cannot be used: not an auth file")),
            "{text}"
        );
        assert_no_secret("the error", &text, &[WRONG_PASSWORD]);

        let bus = monitor.text();
        assert!(bus.contains("RegistryAuth"), "{engine}: the monitor saw the errors:\n{bus}");
        assert_no_secret("the bus", &bus, &[WRONG_PASSWORD, PASSWORD]);
        assert!(!has_image(engine, PRIVATE), "{engine}: nothing was pulled");
    }
}
