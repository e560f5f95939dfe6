//! What changed, for the `Changed(as areas)` signal: the manager notes its own changes, the
//! engine's event stream notes those made by `podman` or `docker` directly, and a coalescer
//! sends at most one signal per [`MIN_GAP`] with every area noted meanwhile.

use std::collections::BTreeSet;
use std::future::Future;
use std::time::Duration;

use tokio::sync::mpsc;

/// The shortest gap between two Changed signals.
pub(super) const MIN_GAP: Duration = Duration::from_millis(250);

/// What a UI refreshes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Area {
    /// Local images.
    Images,
    /// Containers.
    Containers,
    /// Installation records.
    Installed,
    /// The host's deployments.
    Host,
}

impl Area {
    /// The area's name in the signal.
    pub fn as_str(self) -> &'static str {
        match self {
            Area::Images => "images",
            Area::Containers => "containers",
            Area::Installed => "installed",
            Area::Host => "host",
        }
    }
}

/// Where changes are noted; cheap to clone, never blocks, and a no-op once nobody listens.
#[derive(Debug, Clone)]
pub struct Changes(mpsc::UnboundedSender<Area>);

impl Changes {
    /// A notifier and the receiving end that [`coalesce`] reads.
    pub fn channel() -> (Changes, mpsc::UnboundedReceiver<Area>) {
        let (tx, rx) = mpsc::unbounded_channel();
        (Changes(tx), rx)
    }

    /// Notes that `areas` changed.
    pub fn note(&self, areas: &[Area]) {
        for a in areas {
            let _ = self.0.send(*a);
        }
    }
}

/// Reads noted areas and calls `emit` with each batch: the first change is sent at once (unless
/// the last signal was under [`MIN_GAP`] ago), later ones wait for the gap and go out together.
pub(crate) async fn coalesce<F, Fut>(mut noted: mpsc::UnboundedReceiver<Area>, mut emit: F)
where
    F: FnMut(Vec<&'static str>) -> Fut,
    Fut: Future<Output = ()>,
{
    let mut last: Option<tokio::time::Instant> = None;
    while let Some(first) = noted.recv().await {
        if let Some(at) = last {
            tokio::time::sleep_until(at + MIN_GAP).await;
        }
        let mut batch = BTreeSet::from([first]);
        while let Ok(more) = noted.try_recv() {
            batch.insert(more);
        }
        last = Some(tokio::time::Instant::now());
        emit(batch.into_iter().map(Area::as_str).collect()).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::{Arc, Mutex};

    /// Each signal sent: milliseconds after the start, and its areas.
    type Sent = Arc<Mutex<Vec<(u128, Vec<&'static str>)>>>;

    #[tokio::test(start_paused = true)]
    async fn a_burst_becomes_one_signal_per_gap_with_every_area() {
        let (changes, noted) = Changes::channel();
        let sent: Sent = Arc::default();
        let record = sent.clone();
        let start = tokio::time::Instant::now();
        let task = tokio::spawn(coalesce(noted, move |areas| {
            let record = record.clone();
            async move {
                record.lock().unwrap_or_else(|p| p.into_inner()).push((start.elapsed().as_millis(), areas))
            }
        }));
        changes.note(&[Area::Containers]);
        tokio::time::sleep(Duration::from_millis(10)).await;
        for _ in 0..100 {
            changes.note(&[Area::Images, Area::Containers]);
        }
        changes.note(&[Area::Installed]);
        tokio::time::sleep(Duration::from_secs(1)).await;
        drop(changes);
        let _ = task.await;
        let sent = sent.lock().unwrap_or_else(|p| p.into_inner()).clone();
        assert_eq!(sent, [(0, vec!["containers"]), (250, vec!["images", "containers", "installed"])]);
    }
}
