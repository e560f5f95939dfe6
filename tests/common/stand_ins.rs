//! What a test grants or stands in for: a polkit rule for a user of its own, a logind that
//! records reboots, and the TLS files of the test world's etcd.

use super::*;

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
