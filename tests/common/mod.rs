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

pub const PODMAN_SOCK: &str = "/run/podman/podman.sock";
pub const DOCKER_SOCK: &str = "/var/run/docker.sock";
pub const PLAIN: &str = "atomic-test/plain";
pub const TOOLS: &str = "atomic-test/tools";
pub const NOBODY: u32 = 65534;

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
    pub fn restart(self, args: &[&str]) -> Daemon {
        let state = self.state_dir.clone();
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
        let daemon = Daemon { child, state_dir, log, _lock: lock };
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

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = Command::new("kill").arg(self.child.id().to_string()).status();
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
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

/// `org.atomic.Manager` as a hostile or careless client sees it: any dictionary goes out as
/// it is, and answers come back as dictionaries.
#[zbus::proxy(
    interface = "org.atomic.Manager",
    default_service = "org.atomic",
    default_path = "/org/atomic/Manager",
    gen_blocking = false
)]
pub trait RawManager {
    #[zbus(allow_interactive_auth)]
    fn run(
        &self,
        image: &str,
        command: &[String],
        options: HashMap<&str, Value<'_>>,
    ) -> zbus::Result<HashMap<String, OwnedValue>>;
    #[zbus(allow_interactive_auth)]
    fn install(
        &self,
        image: &str,
        options: HashMap<&str, Value<'_>>,
    ) -> zbus::Result<HashMap<String, OwnedValue>>;
    #[zbus(allow_interactive_auth)]
    fn uninstall(
        &self,
        image: &str,
        options: HashMap<&str, Value<'_>>,
    ) -> zbus::Result<HashMap<String, OwnedValue>>;
    #[zbus(allow_interactive_auth)]
    fn host_upgrade(&self, options: HashMap<&str, Value<'_>>) -> zbus::Result<HashMap<String, OwnedValue>>;
    #[zbus(allow_interactive_auth)]
    fn rollback(&self, options: HashMap<&str, Value<'_>>) -> zbus::Result<HashMap<String, OwnedValue>>;
}

/// The raw proxy, for dictionaries the typed options cannot express.
#[allow(dead_code)]
pub async fn raw_proxy() -> RawManagerProxy<'static> {
    let conn = zbus::Connection::system().await.unwrap_or_else(|e| panic!("system bus: {e}"));
    RawManagerProxy::new(&conn).await.unwrap_or_else(|e| panic!("proxy: {e}"))
}

/// A root connection's proxy to org.atomic.
pub async fn proxy() -> ManagerProxy<'static> {
    let conn = zbus::Connection::system().await.unwrap_or_else(|e| panic!("system bus: {e}"));
    ManagerProxy::new(&conn).await.unwrap_or_else(|e| panic!("proxy: {e}"))
}

/// The D-Bus error name of a failed call.
pub fn error_name<T: std::fmt::Debug>(r: &zbus::Result<T>) -> String {
    match r {
        Err(zbus::Error::MethodError(name, _, _)) => name.to_string(),
        other => panic!("expected a D-Bus error, got {other:?}"),
    }
}

/// The sentence of a failed call.
pub fn error_text<T: std::fmt::Debug>(r: &zbus::Result<T>) -> String {
    match r {
        Err(zbus::Error::MethodError(_, text, _)) => text.clone().unwrap_or_default(),
        other => panic!("expected a D-Bus error, got {other:?}"),
    }
}

/// The ObjectManager of /org/atomic/Manager on `conn`.
pub async fn object_manager(conn: &zbus::Connection) -> zbus::fdo::ObjectManagerProxy<'static> {
    zbus::fdo::ObjectManagerProxy::builder(conn)
        .destination("org.atomic")
        .and_then(|b| b.path("/org/atomic/Manager"))
        .unwrap()
        .build()
        .await
        .unwrap()
}

/// The introspection XML of `path` on org.atomic.
pub async fn introspect(conn: &zbus::Connection, path: &str) -> String {
    zbus::fdo::IntrospectableProxy::builder(conn)
        .destination("org.atomic")
        .and_then(|b| b.path(path.to_owned()))
        .unwrap()
        .build()
        .await
        .unwrap()
        .introspect()
        .await
        .unwrap()
}

/// A podman API service of the test's own on `sock`, to be stopped or killed; returns once it
/// answers a ping.
pub fn private_podman(sock: &str) -> Child {
    let _ = std::fs::remove_file(sock);
    let child = Command::new("podman")
        .args(["system", "service", "--time=0", &format!("unix://{sock}")])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap_or_else(|e| panic!("podman service: {e}"));
    assert!(
        wait_until(Duration::from_secs(30), || {
            Command::new("curl")
                .args(["-sf", "--unix-socket", sock, "http://e/_ping"])
                .stdout(Stdio::null())
                .status()
                .is_ok_and(|s| s.success())
        }),
        "private podman service did not answer"
    );
    child
}

const JOBS_PREFIX: &str = "/org/atomic/Manager/jobs/";

/// Waits (without limit: race it against the call) for a job whose Progress and Message
/// satisfy `wanted`; returns its path, Progress and Message.
pub async fn job_where(
    conn: &zbus::Connection,
    wanted: impl Fn(f64, &str) -> bool,
) -> (zbus::zvariant::OwnedObjectPath, f64, String) {
    let om = object_manager(conn).await;
    loop {
        for (path, ifaces) in om.get_managed_objects().await.unwrap_or_default() {
            let Some(job) = ifaces.get("org.atomic.Job").filter(|_| path.as_str().starts_with(JOBS_PREFIX))
            else {
                continue;
            };
            let progress = job.get("Progress").and_then(|v| f64::try_from(v.clone()).ok()).unwrap_or(-1.0);
            let message =
                job.get("Message").and_then(|v| String::try_from(v.clone()).ok()).unwrap_or_default();
            if wanted(progress, &message) {
                return (path, progress, message);
            }
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// The first job exported within ten seconds.
pub async fn find_job(conn: &zbus::Connection) -> Option<zbus::zvariant::OwnedObjectPath> {
    tokio::time::timeout(Duration::from_secs(10), job_where(conn, |_, _| true)).await.ok().map(|j| j.0)
}

/// Whether every job is unexported within `limit`.
pub async fn no_jobs_left_within(conn: &zbus::Connection, limit: Duration) -> bool {
    let om = object_manager(conn).await;
    let deadline = Instant::now() + limit;
    while Instant::now() < deadline {
        let objects = om.get_managed_objects().await.unwrap_or_default();
        if !objects.keys().any(|k| k.as_str().starts_with(JOBS_PREFIX)) {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    false
}

/// Calls Cancel on `job` as `conn`'s owner.
pub async fn cancel_job(conn: &zbus::Connection, job: &zbus::zvariant::OwnedObjectPath) {
    conn.call_method(Some("org.atomic"), job.as_str(), Some("org.atomic.Job"), "Cancel", &())
        .await
        .unwrap_or_else(|e| panic!("Cancel: {e}"));
}

/// A polkit JavaScript rule granting `actions` to a system user made for the test; removed when
/// dropped, however the test ends. Grants are held one at a time, so one test's cleanup never
/// removes the rule under another.
pub struct PolkitGrant {
    pub uid: u32,
    path: PathBuf,
    _held: MutexGuard<'static, ()>,
}

static GRANTING: Mutex<()> = Mutex::new(());

impl Drop for PolkitGrant {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

/// Grants `actions` to `user` (created when missing) through `/etc/polkit-1/rules.d/NAME.rules`.
pub fn polkit_grant(user: &str, actions: &[&str], name: &str) -> PolkitGrant {
    let held = GRANTING.lock().unwrap_or_else(|p| p.into_inner());
    if Command::new("id").arg(user).output().is_ok_and(|o| !o.status.success()) {
        let made = Command::new("useradd")
            .args(["--system", "--no-create-home", "--shell", "/usr/sbin/nologin", user])
            .status();
        assert!(made.is_ok_and(|s| s.success()), "useradd {user}");
    }
    let out = Command::new("id").args(["-u", user]).output().unwrap();
    let uid =
        String::from_utf8_lossy(&out.stdout).trim().parse().unwrap_or_else(|e| panic!("uid of {user}: {e}"));
    let wanted: Vec<String> = actions.iter().map(|a| format!("action.id == \"{a}\"")).collect();
    let rule = format!(
        "polkit.addRule(function(action, subject) {{\n  if (({}) && subject.user == \"{user}\") {{\n    return polkit.Result.YES;\n  }}\n}});\n",
        wanted.join(" || ")
    );
    let path = PathBuf::from(format!("/etc/polkit-1/rules.d/{name}.rules"));
    std::fs::write(&path, rule).unwrap();
    std::thread::sleep(Duration::from_secs(2)); // polkitd reloads rules on change
    PolkitGrant { uid, path, _held: held }
}

/// A stand-in for systemd-logind on the system bus, recorded from org.freedesktop.login1(5):
/// `Manager.Reboot(b interactive)` on /org/freedesktop/login1. It keeps what it was asked.
#[derive(Clone, Default)]
pub struct FakeLogind {
    /// The `interactive` argument of each Reboot call, in order.
    pub reboots: std::sync::Arc<Mutex<Vec<bool>>>,
}

#[zbus::interface(name = "org.freedesktop.login1.Manager")]
impl FakeLogind {
    async fn reboot(&self, interactive: bool) {
        self.reboots.lock().unwrap_or_else(|p| p.into_inner()).push(interactive);
    }
}

impl FakeLogind {
    /// Owns org.freedesktop.login1 and serves the stand-in until the connection is dropped.
    pub async fn serve(&self) -> zbus::Connection {
        zbus::connection::Builder::system()
            .and_then(|b| b.name("org.freedesktop.login1"))
            .and_then(|b| b.serve_at("/org/freedesktop/login1", self.clone()))
            .unwrap()
            .build()
            .await
            .unwrap_or_else(|e| panic!("cannot own org.freedesktop.login1: {e}"))
    }

    /// The reboots asked so far (their `interactive` argument).
    pub fn asked(&self) -> Vec<bool> {
        self.reboots.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }
}

/// The test world's etcd that takes only TLS clients showing a certificate of the test CA.
pub const TLS_ENDPOINT: &str = "https://127.0.0.1:42379";

/// A file of tests/fixtures/tls (made by its make.sh).
pub fn tls_file(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/tls").join(name)
}

/// TLS files trusting the CA file `ca` (None: the system's roots), with the test client
/// certificate if `client`.
pub fn tls_files(ca: Option<&str>, client: bool) -> atomicd::net::tls::TlsFiles {
    atomicd::net::tls::TlsFiles {
        ca_file: ca.map(tls_file),
        cert_file: client.then(|| tls_file("client.pem")),
        key_file: client.then(|| tls_file("client-key.pem")),
    }
}
