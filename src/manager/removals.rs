//! Containers removed after the reply. A Run's exit code is exact as soon as its process has
//! ended; the engine's removal (podman's cleanup process takes ~250 ms) need not hold the
//! caller. Removal is never lost: a Run of the same NAME waits for it, SIGTERM waits for what is
//! still pending, and atomicd's start sweeps the exited containers it still had to remove (its
//! own record says so; a container's labels never do).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::watch;

use crate::engine::Engine;

/// How often a removal is tried before it is left to the next start's sweep.
const ATTEMPTS: u32 = 3;

/// The removals in flight, by container name (or id when it has none).
#[derive(Default)]
pub(super) struct Removals {
    pending: Mutex<HashMap<String, watch::Receiver<bool>>>,
}

impl Removals {
    /// Removes container `id` in the background.
    pub(super) fn later(self: &Arc<Self>, engine: Arc<dyn Engine>, id: String, name: Option<String>) {
        let key = name.unwrap_or_else(|| id.clone());
        let (done, rx) = watch::channel(false);
        if let Ok(mut pending) = self.pending.lock() {
            pending.insert(key.clone(), rx);
        }
        let me = self.clone();
        tokio::spawn(async move {
            for attempt in 1..=ATTEMPTS {
                match engine.remove(&id, true).await {
                    Ok(()) => break,
                    Err(e) if attempt == ATTEMPTS => {
                        tracing::warn!(container = %id, "cannot remove it; the next start sweeps it: {e}");
                    }
                    Err(_) => tokio::time::sleep(Duration::from_millis(200 * u64::from(attempt))).await,
                }
            }
            if let Ok(mut pending) = me.pending.lock() {
                // A later removal under the same name has its own entry.
                if pending.get(&key).is_some_and(|r| r.same_channel(&done.subscribe())) {
                    pending.remove(&key);
                }
            }
            done.send_replace(true);
        });
    }

    /// Returns once no removal of container `name` is in flight.
    pub(super) async fn settled(&self, name: &str) {
        let pending = self.pending.lock().ok().and_then(|p| p.get(name).cloned());
        if let Some(mut rx) = pending {
            let _ = rx.wait_for(|done| *done).await;
        }
    }

    /// Waits (at most `limit`) for every removal in flight: on the way out.
    pub(super) async fn drain(&self, limit: Duration) {
        let all: Vec<_> = self.pending.lock().map(|p| p.values().cloned().collect()).unwrap_or_default();
        let wait = async {
            for mut rx in all {
                let _ = rx.wait_for(|done| *done).await;
            }
        };
        let _ = tokio::time::timeout(limit, wait).await;
    }

    /// Removes the exited containers atomicd made and still had to remove (a crash, or an
    /// engine that refused three times); returns how many.
    pub(super) async fn sweep(engine: &dyn Engine) -> usize {
        let Ok(list) = engine.list_containers().await else { return 0 };
        let mut removed = 0;
        // Only what has run and ended: a created container may be about to start.
        let ended = |c: &&crate::engine::ContainerSummary| matches!(c.state.as_str(), "exited" | "dead");
        for c in list.iter().filter(ended).filter(|c| c.owner.as_ref().is_some_and(|o| o.remove)) {
            if engine.remove(&c.id, true).await.is_ok() {
                removed += 1;
            }
        }
        removed
    }
}
