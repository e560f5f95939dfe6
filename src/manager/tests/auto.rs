//! The automatic update rounds against the fake host and power: how far each policy goes, and a
//! reboot lock that cannot be made (its TLS files unusable) stopping at staged, not rebooting.

use super::*;
use crate::updates::auto::AutoUpdates;

/// A world whose configuration is `toml`, with 2.0 on the remote.
fn world_with(toml: &str) -> (World, AutoUpdates) {
    let w = world(&[]);
    let main = w._dir.0.join("atomicd.toml");
    std::fs::write(&main, toml).unwrap_or_else(|e| panic!("{e}"));
    let auto = AutoUpdates::load(&main, "fleet-id".into());
    assert_eq!(auto.error(), None, "{toml}");
    w.host.offer("2.0");
    (w, auto)
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
        let (w, auto) = world_with(toml);
        let said = w.manager.auto_update_round(&auto).await;
        assert!(said.contains(words), "{toml}: {said}");
        assert_eq!(w.host.versions(), versions, "{toml}");
        assert_eq!(reboots(&w), asked, "{toml}");
    }
}

#[tokio::test]
async fn a_lock_whose_tls_files_cannot_be_used_stops_at_staged() {
    let (w, auto) = world_with(
        "[updates]\npolicy = \"apply\"\nstrategy = \"etcd\"\n[updates.etcd]\n\
         endpoints = [\"https://127.0.0.1:9\"]\nca_file = \"/nonexistent/atomicd-ca.pem\"\n",
    );
    let said = w.manager.auto_update_round(&auto).await;
    assert!(
        said.starts_with("staged 2.0; the reboot lock cannot be asked: /nonexistent/atomicd-ca.pem"),
        "{said}"
    );
    assert_eq!(w.host.versions(), ["2.0", "1.0"]);
    assert_eq!(reboots(&w), 0, "no slot, no reboot");
    // The next round does not stage again; it asks for the lock again.
    let again = w.manager.auto_update_round(&auto).await;
    assert!(again.contains("the reboot lock cannot be asked"), "{again}");
    assert_eq!(w.host.versions(), ["2.0", "1.0"]);
}
