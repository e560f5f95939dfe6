//! The integration tests' view of the test world (tests/world.sh): a daemon of their own on the
//! real system bus, callers as root and as nobody, and the engines' own CLIs to check outcomes.
#![allow(dead_code)]
// The helpers are test code too, though outside a #[test] (which clippy.toml already allows).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

use std::collections::HashMap;

use atomicd::dbus::proxy::ManagerProxy;
#[allow(unused_imports)]
pub use atomicd::dbus::proxy::{
    CleanupOptions, DeployOptions, InfoOptions, InstallOptions, ListOptions, PullOptions, RebaseOptions,
    RollbackOptions, RunOptions, StopOptions, UninstallOptions, UpdateOptions, UpgradeOptions,
};
#[allow(unused_imports)]
pub use atomicd::dbus::proxy::{
    DeploymentBlock, HostBlock, InstalledBlock, StatusReport, UpdateBlock, UpdatesBlock,
};
use zbus::zvariant::{OwnedValue, Value};

mod bus;
mod stand_ins;

// Each test crate uses some of these; the rest would warn in it.
#[allow(unused_imports)]
pub use bus::*;
#[allow(unused_imports)]
pub use stand_ins::*;

pub const PODMAN_SOCK: &str = "/run/podman/podman.sock";
pub const DOCKER_SOCK: &str = "/var/run/docker.sock";
/// Both engines, each by its socket and its CLI: most tests run once on each.
pub const ENGINES: [(&str, &str); 2] = [(PODMAN_SOCK, "podman"), (DOCKER_SOCK, "docker")];
pub const PLAIN: &str = "atomic-test/plain";
pub const TOOLS: &str = "atomic-test/tools";
pub const NOBODY: u32 = 65534;

/// The repository's root.
pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// A file of the repository, whole.
pub fn read(rel: &str) -> String {
    std::fs::read_to_string(root().join(rel)).unwrap_or_else(|e| panic!("{rel}: {e}"))
}

/// Parses XML that carries a DOCTYPE, as dbus-daemon and polkitd files do.
pub fn parse_xml(text: &str) -> roxmltree::Document<'_> {
    let opts = roxmltree::ParsingOptions { allow_dtd: true, ..Default::default() };
    roxmltree::Document::parse_with_options(text, opts).unwrap_or_else(|e| panic!("invalid XML: {e}"))
}

/// Only one atomicd can own org.atomic: tests that start one take this lock.
static BUS_NAME: Mutex<()> = Mutex::new(());

fn engine_answers(sock: &str) -> bool {
    Command::new("curl")
        .args(["-sf", "--max-time", "3", "--unix-socket", sock, "http://engine/_ping"])
        .stdout(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// Panics with the fix when the world is not up: these tests assert real outcomes only.
pub fn require_world() {
    let bus = Command::new("busctl").args(["--system", "--no-pager", "list"]).output();
    let listed = bus.map(|o| String::from_utf8_lossy(&o.stdout).into_owned()).unwrap_or_default();
    assert!(
        listed.contains("org.freedesktop.PolicyKit1")
            && engine_answers(PODMAN_SOCK)
            && engine_answers(DOCKER_SOCK),
        "the test world is not up: run `tests/world.sh up` (as root) first"
    );
}

/// A binary of this build, or with `ATOMICD_TEST_BIN_DIR` of another build (an earlier commit's,
/// to show what a test caught before a fix).
pub fn bin(name: &str) -> PathBuf {
    if let Some(dir) = std::env::var_os("ATOMICD_TEST_BIN_DIR").filter(|_| name != "call") {
        return PathBuf::from(dir).join(name);
    }
    let daemon = PathBuf::from(env!("CARGO_BIN_EXE_atomicd"));
    let dir = daemon.parent().map(Path::to_path_buf).unwrap_or_default();
    match name {
        "atomicd" => daemon,
        "atomic" => PathBuf::from(env!("CARGO_BIN_EXE_atomic")),
        "atomicd-ostree" => PathBuf::from(env!("CARGO_BIN_EXE_atomicd-ostree")),
        example => dir.join("examples").join(example),
    }
}

/// Takes the org.atomic lock for a test that starts atomicd some other way (bus activation),
/// after stopping any atomicd that owns the name.
pub fn take_bus_name() -> MutexGuard<'static, ()> {
    require_world();
    let lock = BUS_NAME.lock().unwrap_or_else(|p| p.into_inner());
    if let Some(pid) = name_owner_pid() {
        let _ = Command::new("kill").arg(pid.to_string()).status();
        wait_until(Duration::from_secs(10), || name_owner_pid().is_none());
    }
    lock
}

/// The pid owning org.atomic, if any.
pub fn owner_pid() -> Option<u32> {
    name_owner_pid()
}

/// An atomicd of the test's own, owning org.atomic until dropped.
pub struct Daemon {
    child: Child,
    pub state_dir: PathBuf,
    pub log: PathBuf,
    /// Whether the containers its record holds outlive it (a restart on the same state).
    keep_containers: bool,
    _lock: MutexGuard<'static, ()>,
}

/// Calls `method` of the bus daemon itself with busctl's `args` (signature, then values) and
/// returns what busctl printed.
pub fn bus_daemon_call(method: &str, args: &[&str]) -> String {
    let out = Command::new("busctl")
        .args(["--system", "call", "org.freedesktop.DBus", "/org/freedesktop/DBus", "org.freedesktop.DBus"])
        .arg(method)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("busctl: {e}"));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn name_owner_pid() -> Option<u32> {
    bus_name_pid("org.atomic")
}

/// The PID of the process that owns `name` on the system bus: the one process a test may stop,
/// never every process of that name on the machine.
pub fn bus_name_pid(name: &str) -> Option<u32> {
    bus_daemon_call("GetConnectionUnixProcessID", &["s", name]).split_whitespace().nth(1)?.parse().ok()
}

impl Daemon {
    /// Starts atomicd with `args` (plus a fresh state directory) and waits for it to own the name.
    pub fn start(args: &[&str]) -> Daemon {
        Self::start_with_env(args, &[])
    }

    pub fn start_with_env(args: &[&str], env: &[(&str, &str)]) -> Daemon {
        let base = std::env::temp_dir().join(format!("atomicd-it-{}-{}", std::process::id(), unique()));
        Self::start_in(&base.join("state"), args, env)
    }

    /// A daemon on a state directory the test prepared (records a crashed atomicd left).
    pub fn start_on(state_dir: &Path, args: &[&str]) -> Daemon {
        Self::start_in(state_dir, args, &[])
    }

    /// Stops this daemon and starts another on the same state directory.
    pub fn restart(mut self, args: &[&str]) -> Daemon {
        let state = self.state_dir.clone();
        self.keep_containers = true;
        drop(self);
        Self::start_in(&state, args, &[])
    }

    fn start_in(state_dir: &Path, args: &[&str], env: &[(&str, &str)]) -> Daemon {
        require_world();
        let lock = BUS_NAME.lock().unwrap_or_else(|p| p.into_inner());
        // A demo daemon (tests/world.sh daemon) may hold the name; the tests need their own.
        if let Some(pid) = name_owner_pid() {
            let _ = Command::new("kill").arg(pid.to_string()).status();
            wait_until(Duration::from_secs(10), || name_owner_pid().is_none());
        }
        let state_dir = state_dir.to_path_buf();
        let base = state_dir.parent().map(Path::to_path_buf).unwrap_or_default();
        std::fs::create_dir_all(&base).unwrap();
        let log = base.join(format!("atomicd-{}.log", unique()));
        let logfile = std::fs::File::create(&log).unwrap();
        let mut cmd = Command::new(bin("atomicd"));
        cmd.args(["--log-target", "stderr", "--state-dir"]).arg(&state_dir).args(args);
        cmd.env_remove("DOCKER_HOST");
        for (k, v) in env {
            cmd.env(k, v);
        }
        let child =
            cmd.stderr(logfile).stdout(Stdio::null()).spawn().unwrap_or_else(|e| panic!("atomicd: {e}"));
        let pid = child.id();
        let owned = wait_until(Duration::from_secs(20), || name_owner_pid() == Some(pid));
        let daemon = Daemon { child, state_dir, log, keep_containers: false, _lock: lock };
        assert!(owned, "atomicd did not own org.atomic; log:\n{}", daemon.log_text());
        daemon
    }

    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Whether the process is still running.
    pub fn alive(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }
}

impl Daemon {
    /// Removes the containers this daemon's record says it made and kept (a default line's, a
    /// detached one's): the next test's daemon has a record of its own, and would rightly call a
    /// container of the same name "not made by atomicd".
    fn remove_its_containers(&self) {
        let record = std::fs::read(self.state_dir.join("containers.json")).unwrap_or_default();
        let ids: Vec<String> = serde_json::from_slice::<serde_json::Map<String, serde_json::Value>>(&record)
            .map(|m| m.keys().cloned().collect())
            .unwrap_or_default();
        if ids.is_empty() {
            return;
        }
        for engine in ["podman", "docker"] {
            let _ = Command::new(engine).args(["rm", "-f"]).args(&ids).output();
        }
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = Command::new("kill").arg(self.child.id().to_string()).status();
        let deadline = Instant::now() + Duration::from_secs(5);
        let mut ended = false;
        while Instant::now() < deadline && !ended {
            ended = matches!(self.child.try_wait(), Ok(Some(_)));
            if !ended {
                std::thread::sleep(Duration::from_millis(50));
            }
        }
        if !ended {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
        if !self.keep_containers {
            self.remove_its_containers();
        }
    }
}

pub fn unique() -> u64 {
    use std::sync::atomic::{AtomicU64, Ordering};
    static N: AtomicU64 = AtomicU64::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    u64::from(nanos) * 1000 + N.fetch_add(1, Ordering::Relaxed)
}

pub fn wait_until(limit: Duration, mut ok: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + limit;
    loop {
        if ok() {
            return true;
        }
        if Instant::now() > deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// The outcome of a raw call made by `examples/call` as some uid.
#[derive(Debug)]
pub struct Reply {
    pub json: serde_json::Value,
    pub error: Option<(String, String)>,
}

/// `examples/call` run as `uid`: args as that program takes them.
pub fn call_as(uid: u32, args: &[&str]) -> Reply {
    let out = Command::new("setpriv")
        .args([format!("--reuid={uid}"), format!("--regid={uid}"), "--clear-groups".into()])
        .arg(bin("call"))
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("setpriv call: {e}"));
    let text = String::from_utf8_lossy(&out.stdout).trim().to_owned();
    match text.strip_prefix("ERROR ") {
        Some(rest) => {
            let (name, msg) = rest.split_once(": ").unwrap_or((rest, ""));
            Reply { json: serde_json::Value::Null, error: Some((name.to_owned(), msg.to_owned())) }
        }
        None => Reply {
            json: serde_json::from_str(&text).unwrap_or_else(|e| {
                panic!("call printed {text:?} ({e}); stderr {}", String::from_utf8_lossy(&out.stderr))
            }),
            error: None,
        },
    }
}

/// The `atomic` CLI run as `uid`: (exit code, stdout, stderr).
pub fn cli_as(uid: u32, args: &[&str]) -> (i32, String, String) {
    let out = Command::new("setpriv")
        .args([format!("--reuid={uid}"), format!("--regid={uid}"), "--clear-groups".into()])
        .arg(bin("atomic"))
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("setpriv atomic: {e}"));
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Names of the containers `engine` (podman or docker) has, running or not.
pub fn containers(engine: &str) -> Vec<String> {
    let out = Command::new(engine)
        .args(["ps", "-a", "--format", "{{.Names}}"])
        .output()
        .unwrap_or_else(|e| panic!("{engine} ps: {e}"));
    String::from_utf8_lossy(&out.stdout).lines().map(str::to_owned).collect()
}
