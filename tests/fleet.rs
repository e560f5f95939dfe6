//! The fleet's reboot semaphores against real parts: a three-member etcd 3.4 cluster on
//! loopback (tests/world.sh), and a FleetLock server that speaks the protocol as zincati's
//! documentation gives it (tests/fake/fleetlock.py, a stand-in: no FleetLock server is packaged
//! for Debian). The 12 hosts are the lock client run 12 times, each with its own ID and its own
//! order of endpoints, as 12 atomicd instances would run it.

mod common;

use std::sync::Arc;
use std::time::{Duration, Instant};

use atomicd::updates::etcd::EtcdSemaphore;
use atomicd::updates::fleetlock::{FleetLock, FleetLockError};
use atomicd::updates::http::{HttpError, JsonClient};
use atomicd::updates::semaphore::Take;
use common::*;

fn root() -> std::path::PathBuf {
    std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

const ENDPOINTS: [&str; 3] = ["http://127.0.0.1:12379", "http://127.0.0.1:22379", "http://127.0.0.1:32379"];

fn semaphore(group: &str, slots: u64, first: usize) -> EtcdSemaphore {
    let endpoints: Vec<String> = (0..3).map(|i| ENDPOINTS[(first + i) % 3].to_owned()).collect();
    EtcdSemaphore::new(&endpoints, group, slots, JsonClient::new(Duration::from_secs(3)))
}

fn world(args: &[&str]) {
    let out = std::process::Command::new(root().join("tests/world.sh")).args(args).output();
    assert!(out.is_ok_and(|o| o.status.success()), "tests/world.sh {args:?}");
}

/// One host: waits for a slot, "reboots" for `reboot`, reports steady state. Its timeline.
async fn host(sem: Arc<EtcdSemaphore>, id: String, reboot: Duration, start: Instant) -> (String, f64, f64) {
    loop {
        match sem.take(&id).await {
            Ok(Take::Taken | Take::AlreadyHeld) => break,
            Ok(Take::Full) => tokio::time::sleep(Duration::from_millis(50)).await,
            // A member going away mid-call is another try, as a host's next timer tick would be.
            Err(e) => {
                eprintln!("{id}: {e}");
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
    let killed = std::process::Command::new("pkill").args(["-f", "etcd --name m2 "]).status();
    assert!(killed.is_ok_and(|s| s.success()), "member m2 was not running");
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
        timeline.push(h.await.unwrap_or_else(|e| panic!("{e}")));
    }
    timeline.sort_by(|a, b| a.1.total_cmp(&b.1));
    println!("slot timeline (s since start):");
    for (id, took, freed) in &timeline {
        println!("  {id}  held {took:5.2} .. {freed:5.2}");
    }
    assert_eq!(timeline.len(), 12, "every host got through");
    // etcd's own record of every version of the semaphore: never more than 2 holders.
    let history = semaphore(&group, 2, 0).history().await.unwrap_or_else(|e| panic!("{e}"));
    let most = history.iter().map(|(_, s)| s.holders.len()).max().unwrap_or(0);
    let takes = history.windows(2).filter(|w| w[1].1.holders.len() > w[0].1.holders.len()).count();
    println!(
        "etcd kept {} versions of the semaphore; at most {most} holders at once; {takes} takes",
        history.len()
    );
    assert!(most <= 2, "{most} holders at once: {history:?}");
    assert_eq!(most, 2, "the two slots were used");
    assert_eq!(takes, 12, "each host took a slot once");
    assert!(history.last().is_some_and(|(_, s)| s.holders.is_empty()), "every slot was given back");
}

#[tokio::test(flavor = "multi_thread")]
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
    std::fs::write(&config, toml).unwrap_or_else(|e| panic!("{e}"));
    let atomic = |args: &[&str]| {
        let out = std::process::Command::new(bin("atomic"))
            .args(["host", "fleet"])
            .args(args)
            .arg("--config")
            .arg(&config)
            .output()
            .unwrap_or_else(|e| panic!("{e}"));
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr),
        )
    };
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

/// The FleetLock stand-in on a free port.
fn fleetlock_server(slots: u32) -> (std::process::Child, String) {
    let port_file = std::env::temp_dir().join(format!("atomicd-fleetlock-{}", unique()));
    let child = std::process::Command::new("python3")
        .arg(root().join("tests/fake/fleetlock.py"))
        .arg(&port_file)
        .arg(slots.to_string())
        .spawn()
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(wait_until(Duration::from_secs(10), || port_file.exists()), "the FleetLock server did not start");
    let port = std::fs::read_to_string(&port_file).unwrap_or_default();
    (child, format!("http://127.0.0.1:{port}"))
}

#[tokio::test(flavor = "multi_thread")]
async fn fleetlock_as_zincati_speaks_it_and_each_failure_as_documented() {
    let (mut server, url) = fleetlock_server(1);
    let http = JsonClient::new(Duration::from_secs(2));
    let a = FleetLock::new(&format!("{url}/ok"), "workers", "host-a", http.clone());
    let b = FleetLock::new(&format!("{url}/ok"), "workers", "host-b", http.clone());
    a.pre_reboot().await.unwrap_or_else(|e| panic!("{e}"));
    a.pre_reboot().await.unwrap_or_else(|e| panic!("a holder asking again: {e}"));
    // A full semaphore: refused with the protocol's kind and sentence.
    match b.pre_reboot().await {
        Err(FleetLockError::Refused { status: 409, kind, .. }) => {
            assert_eq!(kind, "failed_lock_semaphore_full")
        }
        other => panic!("{other:?}"),
    }
    a.steady_state().await.unwrap_or_else(|e| panic!("{e}"));
    b.pre_reboot().await.unwrap_or_else(|e| panic!("after a's steady state: {e}"));
    b.steady_state().await.unwrap_or_else(|e| panic!("{e}"));

    // The header matters: the same request without it is refused (the server is strict, and the
    // client's requests above passed, so it sends it).
    let raw = http
        .post(
            &format!("{url}/ok/v1/pre-reboot"),
            &[],
            br#"{"client_params":{"id":"x","group":"g"}}"#.to_vec(),
        )
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(raw.status, 400, "{:?}", raw.body);
    assert!(String::from_utf8_lossy(&raw.body).contains("missing_header"));

    let full = FleetLock::new(&format!("{url}/full"), "workers", "host-c", http.clone());
    assert!(matches!(full.pre_reboot().await, Err(FleetLockError::Refused { status: 409, .. })));
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
    let _ = server.kill();
}
