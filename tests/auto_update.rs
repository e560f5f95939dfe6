//! The automatic update policy end to end on a real ostree sysroot whose remote is served over
//! HTTP, with the reboot slot in the test world's etcd (the one that takes only TLS clients with
//! a certificate of the test CA, as a production etcd would) and a stand-in logind on the
//! system bus (recorded from org.freedesktop.login1(5): `Manager.Reboot(b interactive)`, as in
//! tests/reboot.rs): with `apply` and the etcd strategy a new commit is found, staged, the slot
//! taken and a reboot asked inside an open window; the slot stays through a restart in the same boot and goes back in
//! the next; with a maintenance window that is closed the round stops at staged.
// Its helpers are test code too, though outside a #[test] (which clippy.toml already allows).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use atomicd::net::http::JsonClient;
use atomicd::updates::etcd::EtcdSemaphore;
use common::*;

fn sh(script: &str) {
    let out = Command::new("bash").args(["-euc", script]).output().unwrap();
    assert!(out.status.success(), "{script}\n{}", String::from_utf8_lossy(&out.stderr));
}

/// A sysroot on 1.0 whose origin is `remote` (an archive repository served over HTTP).
fn sysroot(dir: &Path) -> (PathBuf, Child) {
    let s = dir.join("sysroot");
    sh(&format!(
        r#"D={d}; S={s}
        mkdir -p $S $D/tree/usr/lib/modules/6.1.0 $D/tree/usr/etc
        echo kernel > $D/tree/usr/lib/modules/6.1.0/vmlinuz
        echo initramfs > $D/tree/usr/lib/modules/6.1.0/initramfs.img
        printf 'ID=testos\n' > $D/tree/usr/lib/os-release
        ostree init --repo=$D/remote --mode=archive
        ostree --repo=$D/remote commit -b testos/stable --add-metadata-string=version=1.0 --tree=dir=$D/tree >/dev/null"#,
        d = dir.display(),
        s = s.display()
    ));
    let port_file = dir.join("port");
    let server = Command::new("python3")
        .arg(PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/support/slow-http.py"))
        .arg(dir.join("remote"))
        .arg(&port_file)
        .arg("0")
        .spawn()
        .unwrap();
    assert!(wait_until(Duration::from_secs(10), || port_file.exists()));
    let port = std::fs::read_to_string(&port_file).unwrap_or_default();
    sh(&format!(
        r#"S={s}
        ostree admin init-fs $S >/dev/null; ostree admin os-init --sysroot=$S testos >/dev/null
        ostree remote add --repo=$S/ostree/repo --no-gpg-verify origin http://127.0.0.1:{port}
        ostree pull --repo=$S/ostree/repo origin testos/stable >/dev/null
        ostree admin deploy --sysroot=$S --os=testos origin:testos/stable >/dev/null"#,
        s = s.display()
    ));
    (s, server)
}

use std::process::Child;

/// The tests of this file each serve the stand-in logind's bus name: one at a time.
static ONE_LOGIND: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

fn commit(dir: &Path, version: &str) {
    sh(&format!(
        "echo {version} > {d}/tree/usr/etc/release && ostree --repo={d}/remote commit -b testos/stable \
         --add-metadata-string=version={version} --tree=dir={d}/tree >/dev/null",
        d = dir.display()
    ));
}

async fn host() -> HostBlock {
    proxy().await.status().await.unwrap().host
}

fn default_version(host: &HostBlock) -> String {
    host.deployments.iter().find(|d| d.default).map(|d| d.version.clone()).unwrap_or_default()
}

fn updates(host: &HostBlock) -> UpdatesBlock {
    host.updates.clone().unwrap_or_default()
}

/// Waits for the automatic round to say something containing `words`.
async fn round_says(words: &str) -> HostBlock {
    for _ in 0..75 {
        let host = host().await;
        if updates(&host).last_result.contains(words) {
            return host;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    panic!("the round never said {words:?}: {:?}", updates(&host().await));
}

const EVERY_DAY: &str = "\"Mon\", \"Tue\", \"Wed\", \"Thu\", \"Fri\", \"Sat\", \"Sun\"";

/// Writes a policy `apply` with the etcd strategy (the TLS-only etcd, one slot of `group`) and
/// one maintenance window on `days` from midnight UTC for `minutes`.
fn apply_with_etcd(config: &Path, group: &str, days: &str, minutes: u32) {
    let tls = tls_files(Some("ca.pem"), true);
    let text = format!(
        "[updates]\npolicy = \"apply\"\nstrategy = \"etcd\"\n\
         [[updates.periodic.window]]\ndays = [{days}]\nstart_time = \"00:00\"\nlength_minutes = {minutes}\n\
         [updates.etcd]\nendpoints = [\"{TLS_ENDPOINT}\"]\ngroup = \"{group}\"\nslots = 1\n\
         ca_file = {:?}\ncert_file = {:?}\nkey_file = {:?}\n",
        tls.ca_file.as_deref().unwrap_or(Path::new("")),
        tls.cert_file.as_deref().unwrap_or(Path::new("")),
        tls.key_file.as_deref().unwrap_or(Path::new("")),
    );
    std::fs::write(config, text).unwrap();
}

/// A day whose window is closed today, in UTC (three days from now).
fn closed_day() -> &'static str {
    let now =
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|t| t.as_secs()).unwrap_or(0);
    ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"][((now / 86400 + 3 + 3) % 7) as usize]
}

/// One test's host: a sysroot on 1.0 whose remote is served over HTTP, a configuration file, a
/// fresh etcd group; the server is stopped and everything removed when it is dropped.
struct FleetHost {
    dir: PathBuf,
    s: PathBuf,
    server: Child,
    config: PathBuf,
    group: String,
    tls: atomicd::net::tls::TlsFiles,
}

impl FleetHost {
    fn new(group: &str) -> FleetHost {
        let dir = std::env::temp_dir().join(format!("atomicd-auto-{}", unique()));
        std::fs::create_dir_all(&dir).unwrap();
        let (s, server) = sysroot(&dir);
        let config = dir.join("atomicd.toml");
        let (group, tls) = (format!("{group}-{}", unique()), tls_files(Some("ca.pem"), true));
        FleetHost { dir, s, server, config, group, tls }
    }

    /// atomicd's flags for this sysroot and configuration.
    fn daemon_args(&self) -> Vec<String> {
        let args = ["--engine-socket", PODMAN_SOCK, "--host-backend", "ostree", "--sysroot"];
        let mut all: Vec<String> = args.iter().map(|a| (*a).to_owned()).collect();
        all.extend([self.s.display().to_string(), "--config".into(), self.config.display().to_string()]);
        all
    }

    /// The group's etcd semaphore, as the TLS-only etcd serves it.
    fn semaphore(&self) -> EtcdSemaphore {
        EtcdSemaphore::new(
            &[TLS_ENDPOINT.to_owned()],
            &self.group,
            1,
            JsonClient::with_tls(Duration::from_secs(3), &self.tls).unwrap(),
        )
    }
}

impl Drop for FleetHost {
    fn drop(&mut self) {
        let _ = self.server.kill();
        let _ = Command::new("sh")
            .args(["-c", &format!("chattr -R -i {} 2>/dev/null", self.s.display())])
            .status();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

#[tokio::test(flavor = "multi_thread")]
#[ignore = "needs the test world (tests/world.sh up, as root); tests/run.sh runs it"]
async fn apply_stages_takes_a_slot_and_reboots_and_a_closed_window_stops_at_staged() {
    let _one = ONE_LOGIND.lock().await;
    let fleet = FleetHost::new("auto");
    let (dir, config) = (&fleet.dir, &fleet.config);
    apply_with_etcd(config, &fleet.group, EVERY_DAY, 1440);
    let logind = FakeLogind::default();
    let _logind = logind.serve().await;
    commit(dir, "2.0");
    let all = fleet.daemon_args();
    let all: Vec<&str> = all.iter().map(String::as_str).collect();
    let d = Daemon::start(&all);

    let host = round_says("reboot asked").await;
    println!("updates: {:?}", updates(&host));
    assert_eq!(default_version(&host), "2.0", "staged before the reboot");
    assert_eq!(logind.asked(), [false], "one reboot asked");
    let id = atomicd::updates::machine_id::fleet_id().unwrap();
    let etcd = fleet.semaphore();
    let (sem, _) = etcd.read().await.unwrap();
    assert_eq!(sem.holders, std::slice::from_ref(&id), "the app-specific ID holds the slot");
    let raw = std::fs::read_to_string("/etc/machine-id").unwrap_or_default();
    assert!(!sem.holders.contains(&raw.trim().to_owned()), "the raw machine ID never leaves the host");
    assert_eq!(updates(&host).lock.map(|l| l.held), Some(true));

    // A restart in the same boot keeps the slot: nothing is released before the new boot.
    let d = d.restart(&all);
    tokio::time::sleep(Duration::from_secs(5)).await;
    let (sem, _) = etcd.read().await.unwrap();
    assert_eq!(sem.holders, std::slice::from_ref(&id), "released before the reboot");

    // The next boot: the marker's boot ID is another one, so steady state gives the slot back.
    let marker = d.state_dir.join("reboot-marker.json");
    let text = std::fs::read_to_string(&marker).unwrap();
    let mut m: serde_json::Value = serde_json::from_str(&text).unwrap_or_default();
    m["boot_id"] = "a-boot-before-this-one".into();
    std::fs::write(&marker, m.to_string()).unwrap();
    let d = d.restart(&all);
    let host = round_says("booted into 2.0").await;
    let (sem, _) = etcd.read().await.unwrap();
    assert!(sem.holders.is_empty(), "the slot went back: {sem:?}");
    assert_eq!(updates(&host).lock.map(|l| l.held), Some(false));

    // A closed window: 3.0 is found and staged, and the round stops there.
    let closed_day = closed_day();
    std::fs::write(
        config,
        format!(
            "[updates]\npolicy = \"apply\"\nstrategy = \"periodic\"\n[[updates.periodic.window]]\n\
             days = [\"{closed_day}\"]\nstart_time = \"00:00\"\nlength_minutes = 60\n"
        ),
    )
    .unwrap();
    commit(dir, "3.0");
    // (A restart in the same boot asked logind again: the reboot had not happened.)
    let reboots_before = logind.asked().len();
    let _d = d.restart(&all);
    let host = round_says("waiting for the maintenance window").await;
    println!("updates: {:?}", updates(&host));
    assert_eq!(default_version(&host), "3.0", "staged");
    assert_eq!(logind.asked().len(), reboots_before, "no reboot");
    assert!(updates(&host).window.contains(closed_day));

    // The CLI shows the block and changes the policy through SetUpdatePolicy, under polkit.
    let (code, out, err) = cli_as(0, &["host", "updates"]);
    assert_eq!(code, 0, "{err}");
    println!("{out}");
    assert!(out.contains("Policy:      apply (strategy periodic)"), "{out}");
    let (code, _, err) = cli_as(NOBODY, &["host", "updates", "--policy", "none"]);
    assert_ne!(code, 0);
    assert!(err.contains("org.atomic.host-updates-config"), "{err}");
    let (code, out, err) = cli_as(0, &["host", "updates", "--policy", "check", "--json"]);
    assert_eq!(code, 0, "{err}");
    let shown: serde_json::Value = serde_json::from_str(&out).unwrap_or_default();
    assert_eq!(shown["policy"], "check", "{out}");
    let drop_in = dir.join("atomicd.toml.d/50-set-update-policy.toml");
    assert!(std::fs::read_to_string(&drop_in).is_ok_and(|t| t.contains("policy = \"check\"")));
    let (code, _, err) = cli_as(0, &["host", "updates", "--strategy", "fleet-lock"]);
    assert_ne!(code, 0);
    assert!(err.contains("base_url"), "a setting that cannot work is refused, naming the key: {err}");
}

/// Issue 30 on the real sysroot: 2.0 is staged and waits for a closed window; while atomicd is
/// down an admin undeploys it (`ostree admin undeploy`). On restart, inside an open window, the
/// record of 2.0 is not trusted: 2.0 is staged again, and only then is the fleet slot taken (once)
/// and the reboot asked.
#[tokio::test(flavor = "multi_thread")]
#[ignore = "needs the test world (tests/world.sh up, as root); tests/run.sh runs it"]
async fn a_staged_deployment_undeployed_under_atomicd_is_staged_again_before_the_reboot() {
    let _one = ONE_LOGIND.lock().await;
    let fleet = FleetHost::new("undeployed");
    let (dir, s, config, group) = (&fleet.dir, &fleet.s, &fleet.config, &fleet.group);
    let closed_day = closed_day();
    apply_with_etcd(config, group, &format!("\"{closed_day}\""), 60);
    let logind = FakeLogind::default();
    let _logind = logind.serve().await;
    commit(dir, "2.0");
    let all = fleet.daemon_args();
    let all: Vec<&str> = all.iter().map(String::as_str).collect();
    let d = Daemon::start(&all);
    let host = round_says("staged 2.0; waiting for the maintenance window").await;
    assert_eq!(default_version(&host), "2.0");
    let state = d.state_dir.clone();
    let record = std::fs::read_to_string(state.join("reboot-marker.json")).unwrap_or_default();
    println!("record: {record}");
    let boot = std::fs::read_to_string("/proc/sys/kernel/random/boot_id").unwrap_or_default();
    assert!(record.contains(boot.trim()), "the record carries this boot's ID: {record}");
    drop(d);

    // The admin removes the staged deployment while atomicd is down.
    sh(&format!("ostree admin undeploy --sysroot={} 0 >/dev/null", s.display()));
    apply_with_etcd(config, group, EVERY_DAY, 1440);
    let _d = Daemon::start_on(&state, &all);
    let host = round_says("reboot asked").await;
    println!("updates: {:?}", updates(&host));
    assert_eq!(default_version(&host), "2.0", "2.0 was staged again before the reboot was asked");
    assert_eq!(logind.asked(), [false], "one reboot, into the deployment that is there");
    let etcd = fleet.semaphore();
    let (sem, _) = etcd.read().await.unwrap();
    assert_eq!(sem.holders.len(), 1, "the slot was taken once: {sem:?}");
    let _ = etcd.release(&sem.holders[0]).await;
}
