//! A bound on authorization checks waiting for polkit, so callers who leave an authentication
//! prompt open cannot pile up calls (and the descriptors those calls carry) without limit.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;

use crate::error::{Error, Result};
use crate::system::caller::Caller;
use crate::system::polkit::{Action, Authority};

/// How many checks may wait at once: per uid, and for all callers together. Root is not
/// counted: polkit answers root at once, and no other caller may starve root.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Limits {
    /// Checks one uid may have waiting.
    pub per_uid: usize,
    /// Checks all callers but root may have waiting.
    pub total: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits { per_uid: 4, total: 64 }
    }
}

/// An [`Authority`] that refuses a check at once, as Busy, when its caller is over the limits.
pub(crate) struct Bounded {
    inner: Arc<dyn Authority>,
    limits: Limits,
    waiting: Arc<Mutex<Waiting>>,
}

#[derive(Debug, Default)]
struct Waiting {
    by_uid: HashMap<u32, usize>,
    total: usize,
}

/// One admitted check; its place is given back when it ends, however it ends.
struct Place {
    uid: u32,
    waiting: Arc<Mutex<Waiting>>,
}

impl Drop for Place {
    fn drop(&mut self) {
        let mut w = self.waiting.lock().unwrap_or_else(|p| p.into_inner());
        w.total = w.total.saturating_sub(1);
        if let Some(n) = w.by_uid.get_mut(&self.uid) {
            *n = n.saturating_sub(1);
            if *n == 0 {
                w.by_uid.remove(&self.uid);
            }
        }
    }
}

impl Bounded {
    /// Bounds `inner` by `limits`.
    pub(crate) fn new(inner: Arc<dyn Authority>, limits: Limits) -> Self {
        Bounded { inner, limits, waiting: Arc::default() }
    }

    fn admit(&self, caller: &Caller, action: Action) -> Result<Option<Place>> {
        if caller.uid == 0 {
            return Ok(None);
        }
        let mut w = self.waiting.lock().unwrap_or_else(|p| p.into_inner());
        let mine = w.by_uid.get(&caller.uid).copied().unwrap_or(0);
        if mine >= self.limits.per_uid {
            return Err(Error::Busy(format!(
                "{} refused: uid {} already has {mine} authorization checks waiting for polkit (an \
                 authentication prompt left open?); answer or close them, then try again",
                action.id(),
                caller.uid
            )));
        }
        if w.total >= self.limits.total {
            return Err(Error::Busy(format!(
                "{} refused: {} authorization checks are waiting for polkit; try again later",
                action.id(),
                w.total
            )));
        }
        *w.by_uid.entry(caller.uid).or_default() += 1;
        w.total += 1;
        Ok(Some(Place { uid: caller.uid, waiting: self.waiting.clone() }))
    }
}

#[async_trait]
impl Authority for Bounded {
    async fn check(&self, caller: &Caller, action: Action, details: &[(&str, &str)]) -> Result<()> {
        let _place = self.admit(caller, action)?;
        self.inner.check(caller, action, details).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::sync::Notify;

    /// polkit with a prompt nobody answers, until released.
    struct Stalled(Arc<Notify>);

    #[async_trait]
    impl Authority for Stalled {
        async fn check(&self, _: &Caller, _: Action, _: &[(&str, &str)]) -> Result<()> {
            self.0.notified().await;
            Ok(())
        }
    }

    fn caller(uid: u32) -> Caller {
        Caller { bus_name: format!(":1.{uid}"), uid, allow_interactive: true }
    }

    #[tokio::test]
    async fn stalled_checks_are_bounded_per_uid_and_in_total_but_never_for_root() {
        let release = Arc::new(Notify::new());
        let gate =
            Arc::new(Bounded::new(Arc::new(Stalled(release.clone())), Limits { per_uid: 2, total: 3 }));
        let mut stalled = Vec::new();
        for uid in [1000, 1000, 1001] {
            let g = gate.clone();
            stalled.push(tokio::spawn(async move { g.check(&caller(uid), Action::Run, &[]).await }));
        }
        tokio::task::yield_now().await;
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        let third = gate.check(&caller(1000), Action::Run, &[]).await;
        assert!(matches!(&third, Err(Error::Busy(m)) if m.contains("uid 1000 already has 2")), "{third:?}");
        let other = gate.check(&caller(1002), Action::Run, &[]).await;
        assert!(matches!(&other, Err(Error::Busy(m)) if m.contains("3 authorization checks")), "{other:?}");

        // Root is neither counted nor refused: its check reaches polkit.
        let g = gate.clone();
        let root = tokio::spawn(async move { g.check(&caller(0), Action::Run, &[]).await });
        release.notify_waiters();
        for t in stalled {
            assert!(t.await.is_ok_and(|r| r.is_ok()));
        }
        // Places are given back: uid 1000 may ask again.
        let g = gate.clone();
        let again = tokio::spawn(async move { g.check(&caller(1000), Action::Run, &[]).await });
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        release.notify_waiters();
        assert!(again.await.is_ok_and(|r| r.is_ok()));
        release.notify_waiters();
        assert!(root.await.is_ok_and(|r| r.is_ok()));
        let w = gate.waiting.lock().unwrap_or_else(|p| p.into_inner());
        assert_eq!((w.total, w.by_uid.len()), (0, 0));
    }
}
