//! FleetLock and FleetUnlock on the fakes: the app ID is checked before polkit is asked, polkit
//! is shown the slot's ID (derived from the machine ID and the app ID, never the host's own),
//! and a host without a lock strategy says what to configure. The lock servers themselves are
//! tier 2 (tests/fleet.rs, against etcd and the FleetLock stand-in).

use super::*;
use crate::updates::machine_id::{app_id_of, app_specific};

#[tokio::test]
async fn a_bad_app_id_is_refused_before_polkit_is_asked() {
    let w = world(&["org.atomic.fleet-lock"]);
    for bad in ["", "-x", "a b", "x;reboot", "web\u{202e}"] {
        let e = w.manager.fleet_lock(&caller(0), bad, true).await.unwrap_err();
        assert!(matches!(e, Error::InvalidArgument(_)), "{bad:?}: {e:?}");
    }
    assert!(asked(&w).is_empty(), "{:?}", asked(&w));
}

#[tokio::test]
async fn polkit_is_shown_the_service_s_own_slot_and_a_refusal_takes_nothing() {
    let w = world(&[]);
    let e = w.manager.fleet_lock(&caller(1000), "podman-auto-update", true).await.unwrap_err();
    assert!(matches!(e, Error::AccessDenied(_)), "{e:?}");
    let details = w.authority.asked.lock().unwrap()[0].clone();
    assert_eq!(details.0, "org.atomic.fleet-lock");
    let expected = app_specific("3d1219c7c4c5404aaa1f6d2a48adfda4", &app_id_of("podman-auto-update"));
    assert_eq!(details.1.get("fleet-id"), expected.as_ref());
    assert_ne!(details.1.get("fleet-id").map(String::as_str), Some("fleet-id"), "not the host's own");
    assert_eq!(details.1.get("operation").map(String::as_str), Some("lock"));
    assert_eq!(details.1.get("group").map(String::as_str), Some("default"));
}

#[tokio::test]
async fn without_a_lock_strategy_the_answer_says_what_to_configure() {
    let w = world(&["org.atomic.fleet-lock"]);
    for take in [true, false] {
        let e = w.manager.fleet_lock(&caller(0), "agent", take).await.unwrap_err();
        assert!(matches!(&e, Error::Failed(why) if why.contains("strategy")), "{e:?}");
    }
}
