//! The fleet's reboot semaphores against real parts: a three-member etcd 3.4 cluster on
//! loopback (tests/world.sh), and a FleetLock server that speaks the protocol as zincati's
//! documentation gives it (tests/fake/fleetlock.py, a stand-in: no FleetLock server is packaged
//! for Debian). The 12 hosts are the lock client run 12 times, each with its own ID and its own
//! order of endpoints, as 12 atomicd instances would run it. TLS runs against an etcd member
//! that takes only clients with a certificate of the test CA (tests/fixtures/tls), and against
//! the FleetLock stand-in serving https.
// Its helpers are test code too, though outside a #[test] (which clippy.toml already allows).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::sync::Arc;
use std::time::{Duration, Instant};

use atomicd::net::http::{HttpError, JsonClient};
use atomicd::net::tls::TlsFiles;
use atomicd::updates::etcd::EtcdSemaphore;
use atomicd::updates::fleetlock::{FleetLock, FleetLockError};
use atomicd::updates::semaphore::Take;
use common::*;

const ENDPOINTS: [&str; 3] = ["http://127.0.0.1:12379", "http://127.0.0.1:22379", "http://127.0.0.1:32379"];

fn semaphore(group: &str, slots: u64, first: usize) -> EtcdSemaphore {
    let endpoints: Vec<String> = (0..3).map(|i| ENDPOINTS[(first + i) % 3].to_owned()).collect();
    EtcdSemaphore::new(&endpoints, group, slots, JsonClient::new(Duration::from_secs(3)))
}

fn world(args: &[&str]) {
    let out = std::process::Command::new(root().join("tests/world.sh")).args(args).output();
    assert!(out.is_ok_and(|o| o.status.success()), "tests/world.sh {args:?}");
}

/// Calls of the race that no member could serve (a member's failure is passed over by the
/// client; only an election in progress leaves none).
static UNSERVED: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

/// One host: waits for a slot, "reboots" for `reboot`, reports steady state. Its timeline.
async fn host(sem: Arc<EtcdSemaphore>, id: String, reboot: Duration, start: Instant) -> (String, f64, f64) {
    loop {
        match sem.take(&id).await {
            Ok(Take::Taken | Take::AlreadyHeld) => break,
            Ok(Take::Full) => tokio::time::sleep(Duration::from_millis(50)).await,
            // A member going away mid-call is another try, as a host's next timer tick would be.
            Err(e) => {
                eprintln!("{id}: {e}");
                UNSERVED.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
    }
    let took = start.elapsed().as_secs_f64();
    tokio::time::sleep(reboot).await;
    while sem.release(&id).await.is_err() {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    (id, took, start.elapsed().as_secs_f64())
}

#[tokio::test(flavor = "multi_thread")]
#[ignore = "needs the test world (tests/world.sh up, as root); tests/run.sh runs it"]
async fn twelve_hosts_share_two_slots_through_etcd_even_with_a_member_down() {
    let group = format!("race-{}", unique());
    let start = Instant::now();
    let hosts: Vec<_> = (0..12)
        .map(|i| {
            let sem = Arc::new(semaphore(&group, 2, i % 3));
            tokio::spawn(host(sem, format!("host{i:02}"), Duration::from_millis(300), start))
        })
        .collect();
    // Member 2 goes away mid-run and comes back.
    tokio::time::sleep(Duration::from_millis(400)).await;
    // The member tests/world.sh started, stopped by the PID it recorded.
    world(&["etcd-stop", "2"]);
    tokio::time::sleep(Duration::from_millis(200)).await;
    let probe = JsonClient::new(Duration::from_secs(1));
    let down = probe.post("http://127.0.0.1:22379/v3/kv/range", &[], b"{}".to_vec()).await;
    assert!(down.is_err(), "member m2 still answers");
    println!("member m2 killed at {:.2} s", start.elapsed().as_secs_f64());
    tokio::time::sleep(Duration::from_millis(600)).await;
    world(&["etcd-member", "2"]);
    println!("member m2 back at {:.2} s", start.elapsed().as_secs_f64());
    let mut timeline = Vec::new();
    for h in hosts {
        timeline.push(h.await.unwrap());
    }
    timeline.sort_by(|a, b| a.1.total_cmp(&b.1));
    println!("slot timeline (s since start):");
    for (id, took, freed) in &timeline {
        println!("  {id}  held {took:5.2} .. {freed:5.2}");
    }
    assert_eq!(timeline.len(), 12, "every host got through");
    // etcd's own record of every version of the semaphore: never more than 2 holders.
    let history = semaphore(&group, 2, 0).history().await.unwrap();
    let most = history.iter().map(|(_, s)| s.holders.len()).max().unwrap_or(0);
    let takes = history.windows(2).filter(|w| w[1].1.holders.len() > w[0].1.holders.len()).count();
    println!(
        "etcd kept {} versions of the semaphore; at most {most} holders at once; {takes} takes; \
         {} calls no member could serve",
        history.len(),
        UNSERVED.load(std::sync::atomic::Ordering::Relaxed)
    );
    assert!(most <= 2, "{most} holders at once: {history:?}");
    assert_eq!(most, 2, "the two slots were used");
    assert_eq!(takes, 12, "each host took a slot once");
    assert!(history.last().is_some_and(|(_, s)| s.holders.is_empty()), "every slot was given back");
}

/// `atomic host fleet ARGS --config CONFIG`: its exit code, and its stdout then stderr.
fn fleet_cli(args: &[&str], config: &std::path::Path) -> (Option<i32>, String) {
    let out = std::process::Command::new(bin("atomic"))
        .args(["host", "fleet"])
        .args(args)
        .arg("--config")
        .arg(config)
        .output()
        .unwrap();
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr),
    )
}

#[tokio::test(flavor = "multi_thread")]
#[ignore = "needs the test world (tests/world.sh up, as root); tests/run.sh runs it"]
async fn a_host_that_dies_holding_a_slot_keeps_it_until_released_by_hand() {
    let group = format!("crash-{}", unique());
    let sem = semaphore(&group, 1, 0);
    assert_eq!(sem.take("crashed").await.ok(), Some(Take::Taken));
    // The holder is gone (no steady state): the others wait, however long.
    let other = semaphore(&group, 1, 1);
    for _ in 0..3 {
        assert_eq!(other.take("waiting").await.ok(), Some(Take::Full));
    }
    // A reboot that comes back before its steady state finds its slot still its own.
    assert_eq!(sem.take("crashed").await.ok(), Some(Take::AlreadyHeld));
    // The admin's release: `atomic host fleet release ID` with the hosts' configuration.
    let config = std::env::temp_dir().join(format!("atomicd-fleet-{}.toml", unique()));
    let toml = format!(
        "[updates]\nstrategy = \"etcd\"\n[updates.etcd]\nendpoints = [\"{}\", \"{}\"]\ngroup = \"{group}\"\nslots = 1\n",
        ENDPOINTS[1], ENDPOINTS[2]
    );
    std::fs::write(&config, toml).unwrap();
    let atomic = |args: &[&str]| fleet_cli(args, &config);
    let (code, out) = atomic(&["status"]);
    println!("{out}");
    assert_eq!(code, Some(0), "{out}");
    assert!(out.contains("1 of 1 slots held") && out.contains("crashed"), "{out}");
    let (code, out) = atomic(&["release", "crashed"]);
    assert_eq!(code, Some(0), "{out}");
    let (code, out) = atomic(&["release", "crashed"]);
    assert_eq!(code, Some(1), "releasing a slot no one holds says so: {out}");
    assert!(out.contains("holds no slot"), "{out}");
    let _ = std::fs::remove_file(&config);
    assert_eq!(other.take("waiting").await.ok(), Some(Take::Taken));
    assert_eq!(other.release("waiting").await.ok(), Some(true));
}

/// An endpoint answering 500 (the stand-in's /broken, as a member without a leader would) is
/// passed over for the next; alone, it is named in the error.
async fn etcd_passes_over_a_member_that_answers_500(stand_in: &str) {
    let group = format!("five-hundred-{}", unique());
    let endpoints = [format!("{stand_in}/broken"), ENDPOINTS[0].to_owned()];
    let http = JsonClient::new(Duration::from_secs(2));
    let sem = EtcdSemaphore::new(&endpoints, &group, 1, http.clone());
    assert_eq!(sem.take("host-a").await.ok(), Some(Take::Taken));
    assert_eq!(sem.release("host-a").await.ok(), Some(true));
    let alone = EtcdSemaphore::new(&endpoints[..1], &group, 1, http);
    let Err(e) = alone.take("host-a").await else { panic!("a 500 was taken for an answer") };
    println!("a member that answers 500: {e}");
    assert!(e.to_string().contains("/broken answered 500: internal error"), "{e}");
}

/// The FleetLock stand-in on a free port, over TLS with the test server certificate if `tls`.
/// The FleetLock stand-in this test started, stopped by its PID when the test ends (a failed
/// assertion too, or it would hold the test's output open).
struct StandIn(std::process::Child);

impl Drop for StandIn {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn fleetlock_server(slots: u32, tls: bool) -> (StandIn, String) {
    let port_file = std::env::temp_dir().join(format!("atomicd-fleetlock-{}", unique()));
    let mut command = std::process::Command::new("python3");
    command.arg(root().join("tests/fake/fleetlock.py")).arg(&port_file).arg(slots.to_string());
    if tls {
        command.arg(tls_file("server.pem")).arg(tls_file("server-key.pem"));
    }
    let child = StandIn(command.spawn().unwrap());
    assert!(wait_until(Duration::from_secs(10), || port_file.exists()), "the FleetLock server did not start");
    let port = std::fs::read_to_string(&port_file).unwrap_or_default();
    (child, format!("{}://127.0.0.1:{port}", if tls { "https" } else { "http" }))
}

fn tls_semaphore(group: &str, files: &TlsFiles) -> Result<EtcdSemaphore, String> {
    let http = JsonClient::with_tls(Duration::from_secs(3), files).map_err(|e| e.to_string())?;
    Ok(EtcdSemaphore::new(&[TLS_ENDPOINT.to_owned()], group, 1, http))
}

/// The sentence of a take that must fail before etcd answers.
async fn refused(sem: Result<EtcdSemaphore, String>) -> String {
    match sem {
        Err(sentence) => sentence,
        Ok(sem) => match sem.take("anyone").await {
            Err(e @ atomicd::updates::etcd::EtcdError::Unreachable(_)) => e.to_string(),
            other => panic!("expected a refused connection, got {other:?}"),
        },
    }
}

#[tokio::test(flavor = "multi_thread")]
#[ignore = "needs the test world (tests/world.sh up, as root); tests/run.sh runs it"]
async fn etcd_over_tls_takes_the_ca_and_a_client_certificate_and_nothing_less() {
    let group = format!("tls-{}", unique());
    let full = tls_files(Some("ca.pem"), true);
    let a = tls_semaphore(&group, &full).unwrap();
    let b = tls_semaphore(&group, &full).unwrap();
    assert_eq!(a.take("host-a").await.ok(), Some(Take::Taken));
    assert_eq!(b.take("host-b").await.ok(), Some(Take::Full));
    let (s, _) = b.read().await.unwrap();
    assert_eq!(s.holders, ["host-a"]);
    assert_eq!(a.release("host-a").await.ok(), Some(true));
    assert_eq!(b.take("host-b").await.ok(), Some(Take::Taken));
    println!("over TLS with a client certificate: host-a took, host-b waited, then took");

    // Without a client certificate etcd ends the handshake.
    let anonymous = refused(tls_semaphore(&group, &tls_files(Some("ca.pem"), false))).await;
    println!("no client certificate: {anonymous}");
    assert!(anonymous.contains("fatal alert"), "{anonymous}");
    // A CA that did not sign etcd's certificate: atomicd refuses etcd.
    let wrong_ca = refused(tls_semaphore(&group, &tls_files(Some("other-ca.pem"), true))).await;
    println!("another CA: {wrong_ca}");
    assert!(wrong_ca.contains("invalid peer certificate: UnknownIssuer"), "{wrong_ca}");
    // No CA named: the system's roots, which do not hold the test CA. Never "trust anything".
    let system = refused(tls_semaphore(&group, &tls_files(None, true))).await;
    println!("the system's roots: {system}");
    assert!(system.contains("UnknownIssuer") || system.contains("system's CA certificates"), "{system}");
    // A client made for http:// only does not send to an https:// URL.
    let plain =
        EtcdSemaphore::new(&[TLS_ENDPOINT.to_owned()], &group, 1, JsonClient::new(Duration::from_secs(3)));
    let plain = refused(Ok(plain)).await;
    assert!(plain.contains("made without TLS"), "{plain}");

    // The admin's commands read the same TLS keys from the hosts' configuration.
    let config = std::env::temp_dir().join(format!("atomicd-fleet-tls-{}.toml", unique()));
    let write = |ca: &str, with_key: bool| {
        let key =
            if with_key { format!("key_file = {:?}\n", tls_file("client-key.pem")) } else { String::new() };
        let toml = format!(
            "[updates]\nstrategy = \"etcd\"\n[updates.etcd]\nendpoints = [\"{TLS_ENDPOINT}\"]\ngroup = \"{group}\"\n\
             ca_file = {:?}\ncert_file = {:?}\n{key}",
            tls_file(ca),
            tls_file("client.pem"),
        );
        std::fs::write(&config, toml).unwrap();
    };
    let status = || fleet_cli(&["status"], &config);
    write("ca.pem", true);
    let (code, out) = status();
    println!("{out}");
    assert_eq!(code, Some(0), "{out}");
    assert!(out.contains("1 of 1 slots held") && out.contains("host-b"), "{out}");
    write("no-such-ca.pem", true);
    let (code, out) = status();
    assert_eq!(code, Some(1), "{out}");
    assert!(out.contains("no-such-ca.pem"), "a missing CA file is named: {out}");
    write("ca.pem", false);
    let (code, out) = status();
    assert_eq!(code, Some(1), "{out}");
    assert!(out.contains("cert_file and updates.etcd.key_file go together"), "{out}");
    let _ = std::fs::remove_file(&config);
    assert_eq!(b.release("host-b").await.ok(), Some(true));
}

#[tokio::test(flavor = "multi_thread")]
#[ignore = "needs the test world (tests/world.sh up, as root); tests/run.sh runs it"]
async fn fleetlock_as_zincati_speaks_it_and_each_failure_as_documented() {
    let (server, url) = fleetlock_server(1, false);
    let http = JsonClient::new(Duration::from_secs(2));
    etcd_passes_over_a_member_that_answers_500(&url).await;
    let a = FleetLock::new(&format!("{url}/ok"), "workers", "host-a", http.clone());
    let b = FleetLock::new(&format!("{url}/ok"), "workers", "host-b", http.clone());
    a.pre_reboot().await.unwrap();
    a.pre_reboot().await.unwrap_or_else(|e| panic!("a holder asking again: {e}"));
    // A full semaphore: refused with the protocol's kind and sentence.
    match b.pre_reboot().await {
        // airlock's answer: 500 with the protocol's body, which the client reads as a refusal.
        Err(FleetLockError::Refused { status: 500, kind, .. }) => assert_eq!(kind, "failed_lock"),
        other => panic!("{other:?}"),
    }
    a.steady_state().await.unwrap();
    b.pre_reboot().await.unwrap_or_else(|e| panic!("after a's steady state: {e}"));
    b.steady_state().await.unwrap();

    // The header matters: the same request without it is refused (the server is strict, and the
    // client's requests above passed, so it sends it).
    let raw = http
        .post(
            &format!("{url}/ok/v1/pre-reboot"),
            &[],
            br#"{"client_params":{"id":"x","group":"g"}}"#.to_vec(),
        )
        .await
        .unwrap();
    assert_eq!(raw.status, 400, "{:?}", raw.body);
    assert!(String::from_utf8_lossy(&raw.body).contains("missing_header"));

    let full = FleetLock::new(&format!("{url}/full"), "workers", "host-c", http.clone());
    assert!(matches!(full.pre_reboot().await, Err(FleetLockError::Refused { status: 500, .. })));
    let broken = FleetLock::new(&format!("{url}/broken"), "workers", "host-c", http.clone());
    match broken.pre_reboot().await {
        Err(e @ FleetLockError::Protocol { status: 500, .. }) => println!("500: {e}"),
        other => panic!("{other:?}"),
    }
    let hang = FleetLock::new(&format!("{url}/hang"), "workers", "host-c", http.clone());
    let asked = Instant::now();
    match hang.pre_reboot().await {
        Err(e @ FleetLockError::Http(HttpError::Timeout { .. })) => println!("hang: {e}"),
        other => panic!("{other:?}"),
    }
    assert!(asked.elapsed() < Duration::from_secs(4), "the timeout did not bound the wait");
    let nobody = FleetLock::new("http://127.0.0.1:9", "workers", "host-c", http);
    assert!(matches!(nobody.pre_reboot().await, Err(FleetLockError::Http(HttpError::Unreachable { .. }))));
    drop(server);
}

#[tokio::test(flavor = "multi_thread")]
async fn fleetlock_over_https_with_a_private_ca() {
    let (server, url) = fleetlock_server(1, true);
    let http = JsonClient::with_tls(Duration::from_secs(2), &tls_files(Some("ca.pem"), false)).unwrap();
    let a = FleetLock::new(&format!("{url}/ok"), "workers", "host-a", http.clone());
    let b = FleetLock::new(&format!("{url}/ok"), "workers", "host-b", http);
    a.pre_reboot().await.unwrap_or_else(|e| panic!("{url}: {e}"));
    assert!(matches!(b.pre_reboot().await, Err(FleetLockError::Refused { status: 500, .. })));
    a.steady_state().await.unwrap();
    b.pre_reboot().await.unwrap();
    println!("FleetLock over {url}: pre-reboot, a full semaphore and steady-state as over http");
    // Trusting only another CA, the client refuses the server before sending anything.
    let other =
        JsonClient::with_tls(Duration::from_secs(2), &tls_files(Some("other-ca.pem"), false)).unwrap();
    match FleetLock::new(&format!("{url}/ok"), "workers", "host-c", other).pre_reboot().await {
        Err(e @ FleetLockError::Http(HttpError::Unreachable { .. })) => {
            println!("another CA: {e}");
            assert!(e.to_string().contains("UnknownIssuer"), "{e}");
        }
        other => panic!("{other:?}"),
    }
    drop(server);
}

/// `atomic host fleet lock|unlock --app ID` as root against the daemon: (exit code, output).
fn app_lock(verb: &str, app: &str) -> (i32, String) {
    let (code, out, err) = cli_as(0, &["host", "fleet", verb, "--app", app]);
    (code, out + &err)
}

#[tokio::test(flavor = "multi_thread")]
#[ignore = "needs the test world (tests/world.sh up, as root); tests/run.sh runs it"]
async fn a_service_s_slot_and_the_host_s_share_one_group_through_atomicd() {
    use atomicd::updates::machine_id::{app_id_of, app_specific, fleet_id, machine_id};
    let machine = machine_id().expect("this test needs /etc/machine-id");
    let host_id = fleet_id().unwrap();
    let slot_of = |app: &str| app_specific(&machine, &app_id_of(app)).unwrap();
    let base = std::env::temp_dir().join(format!("atomicd-applock-{}", unique()));
    std::fs::create_dir_all(&base).unwrap();
    let config = base.join("atomicd.toml");
    let config_arg = config.to_string_lossy().into_owned();

    // etcd: two slots; the host holds one (its own upgrade's reboot).
    let group = format!("applock-{}", unique());
    let toml = format!(
        "[updates]\nstrategy = \"etcd\"\n[updates.etcd]\nendpoints = [\"{}\", \"{}\"]\ngroup = \"{group}\"\nslots = 2\n",
        ENDPOINTS[0], ENDPOINTS[1]
    );
    std::fs::write(&config, toml).unwrap();
    let sem = semaphore(&group, 2, 0);
    assert_eq!(sem.take(&host_id).await.ok(), Some(Take::Taken));
    let d = Daemon::start(&["--engine-socket", PODMAN_SOCK, "--config", &config_arg]);
    let (code, out) = app_lock("lock", "podman-auto-update");
    assert_eq!(code, 0, "{out}");
    let mut holders = vec![host_id.clone(), slot_of("podman-auto-update")];
    holders.sort();
    assert_eq!(sem.read().await.unwrap().0.holders, holders, "the host's slot and the service's");
    // Both slots held: another service gets none, and nothing is written.
    let (code, out) = app_lock("lock", "agent");
    assert_eq!(code, 75, "{out}");
    assert!(out.contains("every slot"), "{out}");
    assert_eq!(sem.read().await.unwrap().0.holders, holders, "never over the group's slots");
    // Taking a slot it holds is taken again; giving it back frees it for the other.
    assert_eq!(app_lock("lock", "podman-auto-update").0, 0);
    assert_eq!(app_lock("unlock", "podman-auto-update").0, 0);
    assert_eq!(app_lock("unlock", "podman-auto-update").0, 0, "nothing to give back is no error");
    assert_eq!(app_lock("lock", "agent").0, 0);
    let mut holders = vec![host_id.clone(), slot_of("agent")];
    holders.sort();
    assert_eq!(sem.read().await.unwrap().0.holders, holders);
    // Hostile input and a caller polkit refuses: documented errors, the semaphore untouched.
    let (code, _, err) = cli_as(NOBODY, &["host", "fleet", "unlock", "--app", "agent"]);
    assert_ne!(code, 0, "{err}");
    assert!(err.contains("org.atomic.fleet-lock is not allowed"), "{err}");
    let conn = zbus::Connection::system().await.unwrap();
    for bad in ["".to_owned(), "-x".into(), "a;reboot".into(), "web\u{202e}".into(), "a".repeat(1 << 20)] {
        for m in ["FleetLock", "FleetUnlock"] {
            let r = call_manager(&conn, m, &(bad.as_str(),)).await;
            assert_eq!(
                error_name(&r),
                "org.atomic.Error.InvalidArgument",
                "{m} {:?}",
                &bad[..bad.len().min(9)]
            );
        }
    }
    let r = call_manager(&conn, "FleetLock", &(5u32,)).await;
    assert_eq!(error_name(&r), "org.freedesktop.DBus.Error.InvalidArgs");
    assert_eq!(sem.read().await.unwrap().0.holders, holders);
    assert_eq!(sem.release(&host_id).await.ok(), Some(true));
    assert_eq!(sem.release(&slot_of("agent")).await.ok(), Some(true));

    // The FleetLock stand-in, one slot: the same through POST /v1/pre-reboot and steady-state.
    let (server, url) = fleetlock_server(1, false);
    std::fs::write(
        &config,
        format!("[updates]\nstrategy = \"fleet-lock\"\n[updates.fleet-lock]\nbase_url = \"{url}/ok\"\n"),
    )
    .unwrap();
    let d = d.restart(&["--engine-socket", PODMAN_SOCK, "--config", &config_arg]);
    assert_eq!(app_lock("lock", "agent").0, 0);
    let (code, out) = app_lock("lock", "podman-auto-update");
    assert_eq!(code, 75, "the stand-in's 500 failed_lock: {out}");
    assert_eq!(app_lock("unlock", "agent").0, 0);
    let (code, out) = app_lock("lock", "podman-auto-update");
    assert_eq!(code, 0, "{out}");
    assert_eq!(app_lock("unlock", "podman-auto-update").0, 0);
    drop(d);
    drop(server);
    let _ = std::fs::remove_dir_all(&base);
}
