//! Long work made visible: each running Run, Install, Uninstall, HostUpgrade and Rollback is a
//! job with live progress and message, and the rules of Cancel and ResizeTty. A [`JobBoard`]
//! shows it: the D-Bus layer's exports it as an `org.atomic.Job` object under
//! `/org/atomic/Manager/jobs/N`; the manager's own tests have none.

use std::future::Future;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;

use futures_util::future::BoxFuture;
use tokio::sync::{mpsc, watch};

use crate::error::{Error, Result};
use crate::system::caller::Caller;
use crate::system::message_ids as ids;
use crate::system::polkit::{Action, Authority};

use super::job_output::OutputStream;
use crate::system::control::{Control, Reports};
use crate::wire::names::JOBS_PATH;

/// What a job will run, as its plan says: shown on the job object so a client can tell its
/// user before the container starts.
#[derive(Debug, Clone, Default)]
pub struct Shown {
    /// The resolved command.
    pub command: Vec<String>,
    /// What it may do to the host.
    pub privileges: Vec<String>,
    /// What the signature policy says of its image, in one line (empty for host operations).
    pub signature: String,
}

/// The job a D-Bus call started, for the record of its end.
struct Started {
    job: String,
    operation: String,
    image: String,
    uid: u32,
    caller: String,
}

tokio::task_local! {
    static CALL_JOB: std::cell::RefCell<Option<Started>>;
}

/// Runs one D-Bus call's work and, when it started a job, journals how that job ended: the
/// outcome is the call's result, known only here, after the job object is gone.
pub(crate) async fn journaled<T>(work: impl Future<Output = Result<T>>) -> Result<T> {
    CALL_JOB
        .scope(std::cell::RefCell::new(None), async {
            let result = work.await;
            if let Some(s) = CALL_JOB.with(|started| started.borrow_mut().take()) {
                journal_end(&s, &result);
            }
            result
        })
        .await
}

/// The job's end record. ERROR= only when it did not succeed, as the catalog says: an empty
/// field would match `journalctl ERROR=` and read as an error with no name. (tracing records an
/// Option field only when it is Some.)
fn journal_end<T>(s: &Started, result: &Result<T>) {
    let outcome = match result {
        Ok(_) => "succeeded",
        Err(Error::Cancelled(_)) => "cancelled",
        Err(Error::AccessDenied(_)) => "denied",
        Err(_) => "failed",
    };
    tracing::info!(
        message_id = ids::JOB_ENDED,
        job = %s.job,
        operation = %s.operation,
        image = %s.image,
        uid = s.uid,
        caller = %s.caller,
        outcome,
        error = result.as_ref().err().map(Error::dbus_name),
        "job {} {outcome}",
        s.job
    );
}

/// Where jobs are shown while they run: on the bus in the daemon (the D-Bus layer's), nowhere
/// in the manager's own tests. The rules stay in [`JobState`]; a board only shows them.
#[async_trait::async_trait]
pub trait JobBoard: Send + Sync {
    /// Shows a new job at `path`.
    async fn show(&self, path: &str, job: Arc<JobState>);
    /// The job's progress and message changed, and its Cancellable too when `cancellable`.
    async fn changed(&self, path: &str, cancellable: bool);
    /// Sends a chunk of the job's output to its caller alone.
    async fn output(&self, path: &str, caller: &str, text: &str);
    /// A future that resolves once `caller` has left the bus (at once when it is gone already),
    /// watching from before this returns; `None` when presence cannot be watched.
    async fn caller_leaves(&self, caller: &str) -> Option<BoxFuture<'static, ()>>;
    /// Takes the job at `path` off the board (from a drop: it must not wait).
    fn remove(&self, path: &str);
}

/// Creates jobs and shows them on the board.
pub struct Jobs {
    board: Option<Arc<dyn JobBoard>>,
    authority: Arc<dyn Authority>,
    next: AtomicU64,
    running: Arc<Running>,
}

/// The jobs now running: what STATUS= says, and what SIGTERM cancels.
#[derive(Default)]
struct Running(std::sync::Mutex<std::collections::BTreeMap<u64, (String, watch::Sender<bool>)>>);

impl Running {
    fn changed(&self) {
        let Ok(jobs) = self.0.lock() else { return };
        let status = if jobs.is_empty() {
            "serving org.atomic; idle".to_owned()
        } else {
            let what: Vec<&str> = jobs.values().map(|(w, _)| w.as_str()).collect();
            format!("serving org.atomic; running: {}", what.join(", "))
        };
        crate::system::lifecycle::notify(&[sd_notify::NotifyState::Status(&status)]);
    }
}

/// What one job shows, and the rules of what may be done to it: what its D-Bus object reads
/// and asks.
pub struct JobState {
    operation: String,
    target: String,
    caller: Caller,
    shown: Shown,
    // Behind a mutex: a Cancel waiting on polkit must not hold up progress reports.
    now: std::sync::Mutex<(f64, String)>,
    /// Set by Cancel; every listener subscribes to it. Set with `send_replace`, so a Cancel
    /// sticks even when nothing is waiting for it at that moment.
    cancel: watch::Sender<bool>,
    resize: mpsc::UnboundedSender<(u16, u16)>,
    authority: Arc<dyn Authority>,
    /// Set once the work passed its point of no return (shared with the controls).
    committed: Arc<AtomicBool>,
}

impl JobState {
    /// Run, Install, Uninstall, HostUpgrade or Rollback.
    pub fn operation(&self) -> &str {
        &self.operation
    }

    /// The image, or the host.
    pub fn target(&self) -> &str {
        &self.target
    }

    /// Who started it.
    pub fn caller(&self) -> &Caller {
        &self.caller
    }

    /// What it runs, as its plan says.
    pub fn shown(&self) -> &Shown {
        &self.shown
    }

    /// 0..1, or -1 when unknown.
    pub fn progress(&self) -> f64 {
        self.now.lock().map_or(-1.0, |n| n.0)
    }

    /// What the job does now.
    pub fn message(&self) -> String {
        self.now.lock().map(|n| n.1.clone()).unwrap_or_default()
    }

    /// Whether Cancel can still stop it; false once it is past its point of no return.
    pub fn cancellable(&self) -> bool {
        !self.committed.load(Ordering::SeqCst)
    }

    /// Cancel, asked by `who`: the caller itself may always cancel; anyone else needs
    /// org.atomic.cancel-any. Past its point of no return the job finishes, and this says so.
    pub async fn cancel(&self, who: &Caller) -> Result<()> {
        if who.bus_name != self.caller.bus_name {
            let details = [("job-operation", self.operation.as_str()), ("image", self.target.as_str())];
            self.authority.check(who, Action::CancelAny, &details).await?;
        }
        if !self.cancellable() {
            return Err(Error::Failed(format!(
                "{} can no longer be cancelled: it is past its point of no return ({})",
                self.operation,
                self.message()
            )));
        }
        tracing::info!(
            message_id = ids::CANCEL_REQUESTED,
            operation = %self.operation,
            image = %self.target,
            uid = who.uid,
            "cancel asked of {} {}",
            self.operation,
            self.target
        );
        self.cancel.send_replace(true);
        Ok(())
    }

    /// ResizeTty, asked by `who`: the job's caller only.
    pub fn resize(&self, who: &Caller, rows: u16, columns: u16) -> Result<()> {
        if who.bus_name != self.caller.bus_name {
            return Err(Error::AccessDenied("only the job's caller may resize its terminal".into()));
        }
        self.resize.send((rows, columns)).map_err(|_| Error::Failed("the job has no terminal".into()))
    }
}

/// The running side of a job: reports progress, hears Cancel and ResizeTty; off the board on drop.
pub struct Job {
    board: Option<Arc<dyn JobBoard>>,
    path: String,
    state: Arc<JobState>,
    resize: Option<mpsc::UnboundedReceiver<(u16, u16)>>,
    n: u64,
    running: Arc<Running>,
    caller_watch: Option<tokio::task::AbortHandle>,
    /// Whether Cancellable's change was announced.
    announced: AtomicBool,
    /// The container output signalled so far.
    output: std::sync::Mutex<OutputStream>,
}

impl Jobs {
    /// Jobs shown on `board` (none shown when `None`, e.g. in unit tests).
    pub fn new(board: Option<Arc<dyn JobBoard>>, authority: Arc<dyn Authority>) -> Self {
        Jobs { board, authority, next: AtomicU64::new(1), running: Arc::default() }
    }

    /// Cancels every running job (SIGTERM): their calls end with Cancelled.
    pub fn cancel_all(&self) {
        if let Ok(jobs) = self.running.0.lock() {
            for (_, cancel) in jobs.values() {
                cancel.send_replace(true);
            }
        }
    }

    /// Starts a new job for `caller`'s `operation` on `target`, showing what it will run.
    pub async fn start(&self, operation: &str, target: &str, caller: &Caller, shown: Shown) -> Job {
        let n = self.next.fetch_add(1, Ordering::Relaxed);
        let path = format!("{JOBS_PATH}/{n}");
        let (cancel_tx, _) = watch::channel(false);
        let (resize_tx, resize_rx) = mpsc::unbounded_channel();
        let state = Arc::new(JobState {
            committed: Arc::new(AtomicBool::new(false)),
            operation: operation.to_owned(),
            target: target.to_owned(),
            caller: caller.clone(),
            shown,
            now: std::sync::Mutex::new((-1.0, String::new())),
            cancel: cancel_tx.clone(),
            resize: resize_tx,
            authority: self.authority.clone(),
        });
        if let Some(board) = &self.board {
            board.show(&path, state.clone()).await;
        }
        tracing::info!(
            message_id = ids::JOB_STARTED,
            job = %path,
            operation,
            image = target,
            uid = caller.uid,
            caller = %caller.bus_name,
            "job {path} started: {operation} {target}"
        );
        let record = Started {
            job: path.clone(),
            operation: operation.to_owned(),
            image: target.to_owned(),
            uid: caller.uid,
            caller: caller.bus_name.clone(),
        };
        // Outside `journaled` (the manager's own tests) there is no call to record the end of.
        let _ = CALL_JOB.try_with(|started| *started.borrow_mut() = Some(record));
        if let Ok(mut jobs) = self.running.0.lock() {
            jobs.insert(n, (format!("{operation} {target}"), cancel_tx));
        }
        self.running.changed();
        Job {
            board: self.board.clone(),
            path,
            state,
            resize: Some(resize_rx),
            n,
            running: self.running.clone(),
            caller_watch: None,
            announced: AtomicBool::new(false),
            output: std::sync::Mutex::new(OutputStream::default()),
        }
    }
}

impl Job {
    /// Publishes what the job is doing: `progress` 0..1, or -1 when unknown.
    pub async fn report(&self, progress: f64, message: &str) {
        if let Ok(mut now) = self.state.now.lock() {
            *now = (progress, message.to_owned());
        }
        let Some(board) = &self.board else { return };
        let committed = !self.state.cancellable() && !self.announced.swap(true, Ordering::SeqCst);
        board.changed(&self.path, committed).await;
    }

    /// Signals a chunk of the container's output to the job's caller alone (a page cannot pass
    /// fds, so this is how it follows an INSTALL label live); others on the bus see jobs but
    /// not what their containers print.
    pub async fn stream_output(&self, chunk: &[u8]) {
        let Some(board) = &self.board else { return };
        let Some(text) = self.output.lock().ok().and_then(|mut stream| stream.next(chunk)) else {
            return;
        };
        board.output(&self.path, &self.state.caller.bus_name, &text).await;
    }

    /// Resolves when someone allowed to has called Cancel.
    pub async fn cancelled(&self) {
        // The job holds the sender, so the wait can only end by Cancel.
        let _ = self.state.cancel.subscribe().wait_for(|c| *c).await;
    }

    /// A control for work that reports progress and stops itself, with the receiving end of
    /// its reports for [`Job::publish`].
    pub fn control(&self) -> (Control, Reports) {
        let (progress, reports) = mpsc::unbounded_channel();
        (Control::new(progress, self.state.cancel.subscribe(), self.state.committed.clone()), reports)
    }

    /// Awaits `work`, publishing what it reports on the way.
    pub async fn publish<T>(&self, work: impl Future<Output = T>, mut reports: Reports) -> T {
        tokio::pin!(work);
        loop {
            tokio::select! {
                done = &mut work => return done,
                Some((progress, message)) = reports.recv() => self.report(progress, &message).await,
            }
        }
    }

    /// Cancels the job when its caller leaves the bus: work that streams to the caller (an
    /// attached Run) has no one to serve once the caller is gone.
    pub async fn cancel_if_caller_leaves(&mut self) {
        let Some(board) = &self.board else { return };
        let name = self.state.caller.bus_name.clone();
        let Some(gone) = board.caller_leaves(&name).await else { return };
        let (cancel, path) = (self.state.cancel.clone(), self.path.clone());
        let task = tokio::spawn(async move {
            gone.await;
            tracing::info!(
                message_id = ids::CANCEL_REQUESTED,
                job = %path,
                caller = %name,
                "the caller left the bus; cancelling its job"
            );
            cancel.send_replace(true);
        });
        self.caller_watch = Some(task.abort_handle());
    }

    /// The ResizeTty requests for this job, once.
    pub fn take_resizes(&mut self) -> Option<mpsc::UnboundedReceiver<(u16, u16)>> {
        self.resize.take()
    }

    /// The error a cancelled call returns.
    pub fn cancelled_error(&self, what: &str) -> Error {
        Error::Cancelled(format!("{what} was cancelled ({})", self.path))
    }
}

impl Drop for Job {
    fn drop(&mut self) {
        if let Some(watch) = self.caller_watch.take() {
            watch.abort();
        }
        if let Ok(mut jobs) = self.running.0.lock() {
            jobs.remove(&self.n);
        }
        self.running.changed();
        if let Some(board) = &self.board {
            board.remove(&self.path);
        }
    }
}

#[cfg(test)]
mod tests;
