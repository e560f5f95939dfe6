//! What long work running in a job is handed (the host backends' upgrades, child processes):
//! where to report progress and how to hear Cancel. It lives below the manager, which makes
//! one per job, so that the backends it is handed to need nothing of the manager.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use tokio::sync::{mpsc, watch};

/// What long work running in a job is handed: where to report progress, and how to hear
/// Cancel when the work must stop itself (a host upgrade in a thread, a child process).
#[derive(Clone)]
pub struct Control {
    progress: mpsc::UnboundedSender<(f64, String)>,
    cancel: watch::Receiver<bool>,
    committed: Arc<AtomicBool>,
}

/// The reports of a [`Control`], which the job publishes.
pub(crate) type Reports = mpsc::UnboundedReceiver<(f64, String)>;

impl Control {
    /// A control outside any job, with the ends a job would hold: the Cancel switch and the
    /// reports (for tools and tests).
    pub fn standalone() -> (Control, watch::Sender<bool>, Reports) {
        let (progress, reports) = mpsc::unbounded_channel();
        let (tx, cancel) = watch::channel(false);
        (Control { progress, cancel, committed: Arc::default() }, tx, reports)
    }

    /// From here on the work finishes whatever Cancel says (a deployment list being swapped):
    /// the job's Cancellable turns false and Cancel is refused, saying `message`.
    pub fn point_of_no_return(&self, message: impl Into<String>) {
        self.committed.store(true, Ordering::SeqCst);
        self.report(-1.0, message);
    }

    /// Whether [`Control::point_of_no_return`] was passed.
    pub fn committed(&self) -> bool {
        self.committed.load(Ordering::SeqCst)
    }

    /// Reports progress (0..1, or -1 when unknown) and what is being done.
    pub fn report(&self, progress: f64, message: impl Into<String>) {
        let _ = self.progress.send((progress, message.into()));
    }

    /// A sender for APIs that take one (the engine's pull).
    pub fn sender(&self) -> mpsc::UnboundedSender<(f64, String)> {
        self.progress.clone()
    }

    /// A control over a job's channels: its reports, its Cancel switch, its point of no return.
    pub fn new(
        progress: mpsc::UnboundedSender<(f64, String)>,
        cancel: watch::Receiver<bool>,
        committed: Arc<AtomicBool>,
    ) -> Self {
        Control { progress, cancel, committed }
    }

    /// Resolves when Cancel is called; never, once the job is gone or past its point of no return.
    pub async fn cancelled(&self) {
        let mut rx = self.cancel.clone();
        if rx.wait_for(|c| *c).await.is_err() || self.committed() {
            std::future::pending::<()>().await;
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[tokio::test]
    async fn past_its_point_of_no_return_work_no_longer_hears_cancel() {
        let (control, cancel, mut reports) = Control::standalone();
        control.point_of_no_return("writing the deployment list");
        assert!(control.committed());
        assert_eq!(reports.recv().await.map(|r| r.1).as_deref(), Some("writing the deployment list"));
        let _ = cancel.send(true);
        let heard = tokio::time::timeout(Duration::from_millis(200), control.cancelled()).await;
        assert!(heard.is_err(), "a committed job must finish");
        let (fresh, cancel, _) = Control::standalone();
        let _ = cancel.send(true);
        let heard = tokio::time::timeout(Duration::from_millis(200), fresh.cancelled()).await;
        assert!(heard.is_ok(), "before its point of no return, Cancel is heard");
    }
}
