//! The automatic update rounds against the fake host and power: how far each policy goes, and a
//! reboot lock that cannot be made (its TLS files unusable) stopping at staged, not rebooting.

use super::*;
use crate::system::state::RebootMarker;

/// A world whose configuration is `toml`, with 2.0 on the remote.
fn world_with(toml: &str) -> World {
    let w = world(&[]);
    let main = w._dir.0.join("atomicd.toml");
    std::fs::write(&main, toml).unwrap();
    w.manager.auto_updates().reload();
    assert_eq!(w.manager.auto_updates().error(), None, "{toml}");
    w.host.offer("2.0");
    w
}

fn reboots(w: &World) -> u32 {
    *w.power.reboots.lock().unwrap_or_else(|p| p.into_inner())
}

#[tokio::test]
async fn each_policy_goes_as_far_as_it_says() {
    // (configuration, words of the round's sentence, versions after it, reboots asked)
    let table: [(&str, &str, &[&str], u32); 4] = [
        ("[updates]\npolicy = \"none\"\n", "the policy is none", &["1.0"], 0),
        ("[updates]\npolicy = \"check\"\n", "2.0 is available", &["1.0"], 0),
        (
            "[updates]\npolicy = \"stage\"\n",
            "staged 2.0; policy stage leaves the reboot to you",
            &["2.0", "1.0"],
            0,
        ),
        ("[updates]\npolicy = \"apply\"\n", "staged 2.0; reboot asked", &["2.0", "1.0"], 1),
    ];
    for (toml, words, versions, asked) in table {
        let w = world_with(toml);
        let said = w.manager.auto_update_round().await;
        assert!(said.contains(words), "{toml}: {said}");
        assert_eq!(w.host.versions(), versions, "{toml}");
        assert_eq!(reboots(&w), asked, "{toml}");
    }
}

#[tokio::test]
async fn a_lock_whose_tls_files_cannot_be_used_stops_at_staged() {
    let w = world_with(
        "[updates]\npolicy = \"apply\"\nstrategy = \"etcd\"\n[updates.etcd]\n\
         endpoints = [\"https://127.0.0.1:9\"]\nca_file = \"/nonexistent/atomicd-ca.pem\"\n",
    );
    let said = w.manager.auto_update_round().await;
    assert!(
        said.starts_with("staged 2.0; the reboot lock cannot be asked: /nonexistent/atomicd-ca.pem"),
        "{said}"
    );
    assert_eq!(w.host.versions(), ["2.0", "1.0"]);
    assert_eq!(reboots(&w), 0, "no slot, no reboot");
    // The next round does not stage again; it asks for the lock again.
    let again = w.manager.auto_update_round().await;
    assert!(again.contains("the reboot lock cannot be asked"), "{again}");
    assert_eq!(w.host.versions(), ["2.0", "1.0"]);
}

/// Issue 30: a staged deployment removed under atomicd (cleanup, undeploy) leaves a record that
/// must not survive: the next round drops it, checks and stages again, and only then reboots.
#[tokio::test]
async fn a_record_whose_deployment_is_gone_is_dropped_and_the_update_staged_again() {
    let w = world_with("[updates]\npolicy = \"stage\"\n");
    let said = w.manager.auto_update_round().await;
    assert!(said.starts_with("staged 2.0"), "{said}");
    let record = w.manager.state.reboot_marker().unwrap().unwrap_or_else(|| panic!("no record"));
    assert_eq!(record.checksum, "c2.0", "{record:?}");
    assert!(!record.boot_id.is_empty() && record.since == 0, "{record:?}");
    // An admin's `atomic host cleanup --pending` (or ostree admin undeploy) removes 2.0.
    let pending = crate::host::Cleanup { rollback: false, pending: true };
    w.host.cleanup(pending).await.unwrap();
    assert_eq!(w.host.versions(), ["1.0"]);
    // atomicd restarted on the same state, policy apply: 2.0 is staged again before any reboot.
    let main = w._dir.0.join("atomicd.toml");
    std::fs::write(&main, "[updates]\npolicy = \"apply\"\n").unwrap();
    w.manager.auto_updates().reload();
    assert_eq!(w.manager.report_steady_state().await, None, "same boot, no slot: nothing to report");
    let said = w.manager.auto_update_round().await;
    assert_eq!(said, "staged 2.0; reboot asked");
    assert_eq!(w.host.versions(), ["2.0", "1.0"], "staged again");
    assert_eq!(reboots(&w), 1);
}

#[tokio::test]
async fn a_record_without_a_boot_id_or_a_checksum_is_refused() {
    for record in [
        RebootMarker { pending: "2.0".into(), checksum: "c2.0".into(), boot_id: String::new(), since: 0 },
        // As 0.1 wrote it: no checksum, no boot ID.
        RebootMarker { pending: "2.0".into(), checksum: String::new(), boot_id: String::new(), since: 0 },
    ] {
        let w = world_with("[updates]\npolicy = \"stage\"\n");
        w.manager.state.save_reboot_marker(Some(&record)).unwrap();
        assert_eq!(w.manager.report_steady_state().await, None);
        let said = w.manager.auto_update_round().await;
        assert!(said.starts_with("staged 2.0"), "{said}");
        assert_eq!(w.host.versions(), ["2.0", "1.0"], "{record:?}: the round staged rather than trust it");
        let kept = w.manager.state.reboot_marker().ok().flatten().unwrap_or_else(|| panic!("no record"));
        assert!(!kept.boot_id.is_empty() && kept.checksum == "c2.0", "{kept:?}");
    }
}

#[tokio::test]
async fn set_update_policy_writes_only_what_polkit_allowed_and_status_shows_it() {
    let settings = crate::wire::options::PolicySettings {
        policy: Some("stage".into()),
        interval: Some("2h".into()),
        ..Default::default()
    };
    let refused = world(&[]);
    let r = refused.manager.set_update_policy(&caller(1000), &settings).await;
    assert!(matches!(r, Err(Error::AccessDenied(_))), "{r:?}");
    assert!(!refused._dir.0.join("atomicd.toml.d").exists(), "a refused caller wrote a drop-in");
    assert_eq!(asked(&refused), ["org.atomic.host-updates-config"]);

    let w = world(&["org.atomic.host-updates-config"]);
    w.manager.set_update_policy(&caller(1000), &settings).await.unwrap();
    let status = w.manager.status().await.unwrap();
    let updates = status.host.updates.unwrap_or_else(|| panic!("Status has no updates block"));
    assert_eq!(updates.policy, "stage", "Status reads the policy the Manager now holds");
    let details = w.authority.asked.lock().unwrap_or_else(|p| p.into_inner())[0].1.clone();
    assert_eq!(details.get("policy").map(String::as_str), Some("stage"), "{details:?}");
}
