//! The host rules of the manager against the stateful fake host: the cached update's life,
//! Status when the backend fails, deploy/rebase/pin/cleanup and what each is authorized as.

use super::*;
use crate::host::{Cleanup, UpdateDiff};

impl FakeHost {
    /// The remote has `version` for the current origin.
    pub(super) fn offer(&self, version: &str) {
        *self.available.lock().unwrap_or_else(|p| p.into_inner()) = Some(CachedUpdate {
            version: version.into(),
            checksum: format!("c{version}"),
            timestamp: 0,
            origin: "o:os/stable".into(),
            diff: UpdateDiff { files_changed: Some(3), ..UpdateDiff::default() },
        });
    }
}

const HOST: [&str; 4] = [
    "org.atomic.host-upgrade",
    "org.atomic.host-rollback",
    "org.atomic.host-deploy",
    "org.atomic.host-cleanup",
];

#[tokio::test]
async fn a_check_keeps_its_update_across_a_restart_until_it_is_deployed() {
    let w = world(&HOST);
    assert_eq!(w.manager.cached_update().await.ok(), Some(None), "nothing checked yet");
    w.host.offer("2.0");
    let checked = w.manager.host_upgrade(&caller(0), true, false).await.unwrap();
    assert_eq!(checked.available, Some(true));
    let update = checked.update.unwrap_or_default();
    assert_eq!(
        (update.version.as_deref(), update.diff.and_then(|d| d.files_changed)),
        (Some("2.0"), Some(3))
    );
    assert_eq!(w.host.versions(), ["1.0"], "a check deploys nothing");

    // atomicd restarts on the same state: the update is still there.
    let again = world_in(&HOST, Some(w._dir.0.clone()));
    let kept = again.manager.cached_update().await.unwrap();
    assert_eq!(kept.map(|u| u.version).as_deref(), Some("2.0"));

    // Deployed: it is gone, and stays gone after another restart.
    w.manager.host_upgrade(&caller(0), false, false).await.unwrap();
    assert_eq!(w.host.versions(), ["2.0", "1.0"]);
    assert_eq!(w.manager.cached_update().await.ok(), Some(None));
    let third = world_in(&HOST, Some(w._dir.0.clone()));
    assert_eq!(third.manager.cached_update().await.ok(), Some(None));

    // A check that finds nothing forgets what an earlier check found.
    w.host.offer("3.0");
    let _ = w.manager.host_upgrade(&caller(0), true, false).await;
    *w.host.available.lock().unwrap_or_else(|p| p.into_inner()) = None;
    let nothing = w.manager.host_upgrade(&caller(0), true, false).await.unwrap();
    assert_eq!((nothing.available, nothing.update.is_none()), (Some(false), true));
    assert_eq!(w.manager.cached_update().await.ok(), Some(None));
}

#[tokio::test]
async fn status_answers_when_the_host_backend_fails() {
    let w = world(&[]);
    w.host.broken.store(true, std::sync::atomic::Ordering::SeqCst);
    let status = w.manager.status().await.unwrap_or_else(|e| panic!("Status failed whole: {e}"));
    assert!(status.host.deployments.is_empty());
    assert_eq!(status.host.backend, "ostree");
    let error = status.host.error.unwrap_or_default();
    assert!(error.contains("daemon gone"), "{error}");
    assert!(status.engine.available, "the engine still answers");
    w.host.broken.store(false, std::sync::atomic::Ordering::SeqCst);
    let status = w.manager.status().await.unwrap();
    assert_eq!((status.host.deployments.len(), status.host.error), (1, None));
}

#[tokio::test]
async fn deploy_rebase_pin_and_cleanup_keep_the_booted_and_pinned_deployments() {
    let w = world(&HOST);
    let deployed = w.manager.host_deploy(&caller(0), "0.9", false).await.unwrap();
    assert_eq!(deployed.deployment.version, "0.9");
    let rebased = w.manager.host_rebase(&caller(0), "o:os/next", Some("5.0"), true).await.unwrap();
    assert_eq!(
        (rebased.deployment.origin.as_str(), rebased.deployment.version.as_str()),
        ("o:os/next", "5.0")
    );
    assert_eq!(*w.power.reboots.lock().unwrap_or_else(|p| p.into_inner()), 1, "reboot only when asked");
    assert_eq!(w.host.versions(), ["5.0", "0.9", "1.0"]);

    w.manager.host_pin(&caller(0), "os-c0.9.0", true).await.unwrap();
    let r = w.manager.host_pin(&caller(0), "os-nothing.0", true).await;
    assert!(matches!(&r, Err(Error::InvalidArgument(m)) if m.contains("no deployment")), "{r:?}");
    let everything = Cleanup { rollback: true, pending: true };
    let removed = w.manager.host_cleanup(&caller(0), everything).await.unwrap();
    // 5.0 is pending (default, not booted), 0.9 pinned, 1.0 booted.
    assert_eq!(removed.removed, ["os-c5.0.0"]);
    assert_eq!(w.host.versions(), ["0.9", "1.0"]);
    let r = w.manager.host_cleanup(&caller(0), Cleanup::default()).await;
    assert!(matches!(r, Err(Error::InvalidArgument(_))), "{r:?}");
}

#[tokio::test]
async fn host_changes_need_their_own_actions_and_plain_words() {
    let w = world(&["org.atomic.host-upgrade"]);
    for r in [
        w.manager.host_deploy(&caller(0), "2.0", false).await.map(drop),
        w.manager.host_rebase(&caller(0), "o:os/next", None, false).await.map(drop),
        w.manager.host_pin(&caller(0), "os-c1.0.0", true).await,
        w.manager.host_cleanup(&caller(0), Cleanup { rollback: true, pending: false }).await.map(drop),
    ] {
        assert!(matches!(r, Err(Error::AccessDenied(_))), "{r:?}");
    }
    assert_eq!(w.host.versions(), ["1.0"]);
    let w = world(&HOST);
    let long = "x".repeat(2000);
    for bad in ["", "--help", "a\nb", long.as_str()] {
        let r = w.manager.host_deploy(&caller(0), bad, false).await;
        assert!(matches!(r, Err(Error::InvalidArgument(_))), "{bad:?}: {r:?}");
    }
    let r = w.manager.host_rebase(&caller(0), "", None, false).await;
    assert!(matches!(r, Err(Error::InvalidArgument(_))), "{r:?}");
    assert!(asked(&w).is_empty(), "bad arguments are refused before polkit is asked");
}
