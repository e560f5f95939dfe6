//! Long work made visible: each running Run, Install, Uninstall, HostUpgrade and Rollback is an
//! `org.atomic.Job` object under `/org/atomic/Manager/jobs/N`, announced by the ObjectManager on
//! `/org/atomic/Manager`, with live Progress and Message, and Cancel / ResizeTty.

use std::future::Future;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;

use futures_util::StreamExt;
use tokio::sync::{mpsc, watch};
use zbus::message::Header;
use zbus::{interface, Connection};

use crate::error::{Error, Result};
use crate::system::caller::Caller;
use crate::system::message_ids as ids;
use crate::system::polkit::{Action, Authority};

use crate::dbus::names::JOBS_PATH;
use crate::dbus::{Checked, OptionsSchema};

use super::job_output::OutputStream;

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
pub async fn journaled<T>(work: impl Future<Output = Result<T>>) -> Result<T> {
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

/// Creates and exports jobs.
pub struct Jobs {
    conn: Option<Connection>,
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

/// The D-Bus object of one job.
pub struct JobInterface {
    operation: String,
    target: String,
    caller: Caller,
    shown: Shown,
    // Behind a mutex, not `get_mut`: a Cancel waiting on polkit holds the interface's read
    // lock, and progress reports must not queue behind it.
    now: std::sync::Mutex<(f64, String)>,
    cancel: watch::Sender<bool>,
    resize: mpsc::UnboundedSender<(u16, u16)>,
    authority: Arc<dyn Authority>,
    committed: Arc<AtomicBool>,
}

/// The running side of a job: reports progress, hears Cancel and ResizeTty; unexported on drop.
pub struct Job {
    conn: Option<Connection>,
    path: String,
    caller: String,
    /// Set by Cancel (the interface holds a clone); every listener subscribes to it. Set with
    /// `send_replace`, so a Cancel sticks even when nothing is waiting for it at that moment.
    cancel: watch::Sender<bool>,
    resize: Option<mpsc::UnboundedReceiver<(u16, u16)>>,
    n: u64,
    running: Arc<Running>,
    caller_watch: Option<tokio::task::AbortHandle>,
    /// Set once the work passed its point of no return (shared with the interface and controls).
    committed: Arc<AtomicBool>,
    /// Whether Cancellable's change was announced.
    announced: AtomicBool,
    /// The container output signalled so far.
    output: std::sync::Mutex<OutputStream>,
}

/// What long work running in a job is handed: where to report progress, and how to hear
/// Cancel when the work must stop itself (a host upgrade in a thread, a child process).
#[derive(Clone)]
pub struct Control {
    progress: mpsc::UnboundedSender<(f64, String)>,
    cancel: watch::Receiver<bool>,
    committed: Arc<AtomicBool>,
}

/// The reports of a [`Control`], for [`Job::publish`].
pub type Reports = mpsc::UnboundedReceiver<(f64, String)>;

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

    /// Resolves when Cancel is called; never, once the job is gone or past its point of no return.
    pub async fn cancelled(&self) {
        let mut rx = self.cancel.clone();
        if rx.wait_for(|c| *c).await.is_err() || self.committed() {
            std::future::pending::<()>().await;
        }
    }
}

impl Jobs {
    /// Jobs exported on `conn` (none exported when `None`, e.g. in unit tests).
    pub fn new(conn: Option<Connection>, authority: Arc<dyn Authority>) -> Self {
        Jobs { conn, authority, next: AtomicU64::new(1), running: Arc::default() }
    }

    /// Cancels every running job (SIGTERM): their calls end with Cancelled.
    pub fn cancel_all(&self) {
        if let Ok(jobs) = self.running.0.lock() {
            for (_, cancel) in jobs.values() {
                cancel.send_replace(true);
            }
        }
    }

    /// Exports a new job for `caller`'s `operation` on `target`, showing what it will run.
    pub async fn start(&self, operation: &str, target: &str, caller: &Caller, shown: Shown) -> Job {
        let n = self.next.fetch_add(1, Ordering::Relaxed);
        let path = format!("{JOBS_PATH}/{n}");
        let (cancel_tx, _) = watch::channel(false);
        let (resize_tx, resize_rx) = mpsc::unbounded_channel();
        let committed = Arc::new(AtomicBool::new(false));
        let iface = JobInterface {
            committed: committed.clone(),
            operation: operation.to_owned(),
            target: target.to_owned(),
            caller: caller.clone(),
            shown,
            now: std::sync::Mutex::new((-1.0, String::new())),
            cancel: cancel_tx.clone(),
            resize: resize_tx,
            authority: self.authority.clone(),
        };
        if let Some(conn) = &self.conn {
            if let Err(e) = conn.object_server().at(path.as_str(), Checked::new(iface)).await {
                tracing::warn!("cannot export job {path}: {e}");
            }
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
            jobs.insert(n, (format!("{operation} {target}"), cancel_tx.clone()));
        }
        self.running.changed();
        Job {
            conn: self.conn.clone(),
            path,
            caller: caller.bus_name.clone(),
            cancel: cancel_tx,
            resize: Some(resize_rx),
            n,
            running: self.running.clone(),
            caller_watch: None,
            committed,
            announced: AtomicBool::new(false),
            output: std::sync::Mutex::new(OutputStream::default()),
        }
    }
}

impl Job {
    /// Publishes what the job is doing: `progress` 0..1, or -1 when unknown.
    pub async fn report(&self, progress: f64, message: &str) {
        let Some(conn) = &self.conn else { return };
        let Ok(iface) = conn.object_server().interface::<_, Checked<JobInterface>>(self.path.as_str()).await
        else {
            return;
        };
        let job = iface.get().await;
        if let Ok(mut now) = job.now.lock() {
            *now = (progress, message.to_owned());
        }
        let emitter = iface.signal_emitter();
        let _ = job.progress_changed(emitter).await;
        let _ = job.message_changed(emitter).await;
        if self.committed.load(Ordering::SeqCst) && !self.announced.swap(true, Ordering::SeqCst) {
            let _ = job.cancellable_changed(emitter).await;
        }
    }

    /// Signals a chunk of the container's output to the job's caller alone (a page cannot pass
    /// fds, so this is how it follows an INSTALL label live); others on the bus see jobs but
    /// not what their containers print.
    pub async fn stream_output(&self, chunk: &[u8]) {
        let Some(conn) = &self.conn else { return };
        let Some(text) = self.output.lock().ok().and_then(|mut stream| stream.next(chunk)) else {
            return;
        };
        let Ok(caller) = zbus::names::BusName::try_from(self.caller.as_str()) else { return };
        let Ok(emitter) = zbus::object_server::SignalEmitter::new(conn, self.path.as_str()) else {
            return;
        };
        let _ = JobInterface::output(&emitter.set_destination(caller), &text).await;
    }

    /// Resolves when someone allowed to has called Cancel.
    pub async fn cancelled(&self) {
        // The job holds the sender, so the wait can only end by Cancel.
        let _ = self.cancel.subscribe().wait_for(|c| *c).await;
    }

    /// A control for work that reports progress and stops itself, with the receiving end of
    /// its reports for [`Job::publish`].
    pub fn control(&self) -> (Control, Reports) {
        let (progress, reports) = mpsc::unbounded_channel();
        (Control { progress, cancel: self.cancel.subscribe(), committed: self.committed.clone() }, reports)
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
        let Some(conn) = &self.conn else { return };
        let Ok(dbus) = zbus::fdo::DBusProxy::new(conn).await else { return };
        let name = self.caller.clone();
        let Ok(mut changes) = dbus.receive_name_owner_changed_with_args(&[(0, name.as_str())]).await else {
            return;
        };
        // Asked after subscribing, so a caller that left in between is not missed.
        let present = match zbus::names::BusName::try_from(name.as_str()) {
            Ok(bus_name) => dbus.name_has_owner(bus_name).await.unwrap_or(false),
            Err(_) => false,
        };
        let (cancel, path) = (self.cancel.clone(), self.path.clone());
        let task = tokio::spawn(async move {
            if present {
                while let Some(change) = changes.next().await {
                    if change.args().is_ok_and(|a| a.new_owner().is_none()) {
                        break;
                    }
                }
            }
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
        if let Some(conn) = self.conn.clone() {
            let path = std::mem::take(&mut self.path);
            tokio::spawn(async move {
                let _ = conn.object_server().remove::<Checked<JobInterface>, _>(path.as_str()).await;
            });
        }
    }
}

impl OptionsSchema for JobInterface {
    fn check_options(_: &str, _: &zbus::zvariant::Dict<'_, '_>) -> Result<()> {
        Ok(())
    }
}

#[interface(name = "org.atomic.Job")]
impl JobInterface {
    /// Stops the job; its pending call then returns org.atomic.Error.Cancelled. The caller
    /// itself may always cancel; anyone else needs org.atomic.cancel-any.
    async fn cancel(
        &self,
        #[zbus(header)] header: Header<'_>,
        #[zbus(connection)] conn: &Connection,
    ) -> Result<()> {
        let who = Caller::from_header(conn, &header).await?;
        if who.bus_name != self.caller.bus_name {
            let details = [("job-operation", self.operation.as_str()), ("image", self.target.as_str())];
            self.authority.check(&who, Action::CancelAny, &details).await?;
        }
        if self.committed.load(Ordering::SeqCst) {
            let now = self.now.lock().map(|n| n.1.clone()).unwrap_or_default();
            return Err(Error::Failed(format!(
                "{} can no longer be cancelled: it is past its point of no return ({now})",
                self.operation
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

    /// The output of the job's container as it comes, when the caller passed no fds for it;
    /// sent to the caller only.
    #[zbus(signal)]
    async fn output(emitter: &zbus::object_server::SignalEmitter<'_>, text: &str) -> zbus::Result<()>;

    /// Sets the size of an attached Run's terminal (the caller's only).
    async fn resize_tty(
        &self,
        rows: u16,
        columns: u16,
        #[zbus(header)] header: Header<'_>,
        #[zbus(connection)] conn: &Connection,
    ) -> Result<()> {
        let who = Caller::from_header(conn, &header).await?;
        if who.bus_name != self.caller.bus_name {
            return Err(Error::AccessDenied("only the job's caller may resize its terminal".into()));
        }
        self.resize.send((rows, columns)).map_err(|_| Error::Failed("the job has no terminal".into()))
    }

    /// Run, Install, Uninstall, HostUpgrade or Rollback.
    #[zbus(property)]
    fn operation(&self) -> String {
        self.operation.clone()
    }

    /// The image, or the host.
    #[zbus(property)]
    fn target(&self) -> String {
        self.target.clone()
    }

    /// The caller's unique bus name.
    #[zbus(property)]
    fn caller(&self) -> String {
        self.caller.bus_name.clone()
    }

    /// The caller's uid.
    #[zbus(property)]
    fn caller_uid(&self) -> u32 {
        self.caller.uid
    }

    /// The command the job runs, as resolved by its plan (empty for host operations).
    #[zbus(property)]
    fn command(&self) -> Vec<String> {
        self.shown.command.clone()
    }

    /// What that command may do to the host, one sentence each.
    #[zbus(property)]
    fn privileges(&self) -> Vec<String> {
        self.shown.privileges.clone()
    }

    /// What the signature policy says of the job's image, as polkit was told.
    #[zbus(property)]
    fn signature(&self) -> String {
        self.shown.signature.clone()
    }

    /// 0..1, or -1 when unknown.
    #[zbus(property)]
    fn progress(&self) -> f64 {
        self.now.lock().map_or(-1.0, |n| n.0)
    }

    /// What the job does now.
    #[zbus(property)]
    fn message(&self) -> String {
        self.now.lock().map(|n| n.1.clone()).unwrap_or_default()
    }

    /// Whether Cancel can still stop the job; false once it is past its point of no return
    /// (Message then says what it is finishing).
    #[zbus(property)]
    fn cancellable(&self) -> bool {
        !self.committed.load(Ordering::SeqCst)
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

    struct AllowAll;

    #[async_trait::async_trait]
    impl Authority for AllowAll {
        async fn check(&self, _: &Caller, _: Action, _: &[(&str, &str)]) -> Result<()> {
            Ok(())
        }
    }

    #[tokio::test]
    async fn a_cancel_sticks_when_nothing_is_waiting_for_it_yet() {
        let jobs = Jobs::new(None, Arc::new(AllowAll));
        let caller = Caller { bus_name: ":1.7".into(), uid: 0, allow_interactive: false };
        let job = jobs.start("Run", "atomic-test/plain", &caller, Shown::default()).await;
        jobs.cancel_all();
        let heard = tokio::time::timeout(Duration::from_secs(1), job.cancelled()).await;
        assert!(heard.is_ok(), "a Cancel made before anyone listened was lost");
        let (control, _) = job.control();
        assert!(tokio::time::timeout(Duration::from_secs(1), control.cancelled()).await.is_ok());
    }
}
