//! The `org.atomic.Job` objects: each running job exported under `/org/atomic/Manager/jobs/N`
//! (announced by the ObjectManager on `/org/atomic/Manager`). They only translate: who may
//! cancel or resize is the manager's [`JobState`] to decide.

use std::sync::Arc;

use futures_util::future::BoxFuture;
use futures_util::StreamExt;
use zbus::message::Header;
use zbus::object_server::SignalEmitter;
use zbus::{interface, Connection};

use super::checked::{Checked, OptionsSchema};
use crate::error::Result;
use crate::manager::{JobBoard, JobState};
use crate::system::caller::Caller;

/// The D-Bus object of one job.
pub(super) struct JobInterface(Arc<JobState>);

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
        self.0.cancel(&who).await
    }

    /// The output of the job's container as it comes, when the caller passed no fds for it;
    /// sent to the caller only.
    #[zbus(signal)]
    async fn output(emitter: &SignalEmitter<'_>, text: &str) -> zbus::Result<()>;

    /// Sets the size of an attached Run's terminal (the caller's only).
    async fn resize_tty(
        &self,
        rows: u16,
        columns: u16,
        #[zbus(header)] header: Header<'_>,
        #[zbus(connection)] conn: &Connection,
    ) -> Result<()> {
        let who = Caller::from_header(conn, &header).await?;
        self.0.resize(&who, rows, columns)
    }

    /// Run, Install, Uninstall, HostUpgrade or Rollback.
    #[zbus(property)]
    fn operation(&self) -> String {
        self.0.operation().to_owned()
    }

    /// The image, or the host.
    #[zbus(property)]
    fn target(&self) -> String {
        self.0.target().to_owned()
    }

    /// The caller's unique bus name.
    #[zbus(property)]
    fn caller(&self) -> String {
        self.0.caller().bus_name.clone()
    }

    /// The caller's uid.
    #[zbus(property)]
    fn caller_uid(&self) -> u32 {
        self.0.caller().uid
    }

    /// The command the job runs, as resolved by its plan (empty for host operations).
    #[zbus(property)]
    fn command(&self) -> Vec<String> {
        self.0.shown().command.clone()
    }

    /// What that command may do to the host, one sentence each.
    #[zbus(property)]
    fn privileges(&self) -> Vec<String> {
        self.0.shown().privileges.clone()
    }

    /// What the signature policy says of the job's image, as polkit was told.
    #[zbus(property)]
    fn signature(&self) -> String {
        self.0.shown().signature.clone()
    }

    /// 0..1, or -1 when unknown.
    #[zbus(property)]
    fn progress(&self) -> f64 {
        self.0.progress()
    }

    /// What the job does now.
    #[zbus(property)]
    fn message(&self) -> String {
        self.0.message()
    }

    /// Whether Cancel can still stop the job; false once it is past its point of no return
    /// (Message then says what it is finishing).
    #[zbus(property)]
    fn cancellable(&self) -> bool {
        self.0.cancellable()
    }
}

/// The jobs exported on atomicd's bus connection.
pub struct BusJobs {
    conn: Connection,
}

impl BusJobs {
    /// Jobs exported on `conn`.
    pub fn new(conn: Connection) -> Self {
        BusJobs { conn }
    }
}

#[async_trait::async_trait]
impl JobBoard for BusJobs {
    async fn show(&self, path: &str, job: Arc<JobState>) {
        if let Err(e) = self.conn.object_server().at(path, Checked::new(JobInterface(job))).await {
            tracing::warn!("cannot export job {path}: {e}");
        }
    }

    async fn changed(&self, path: &str, cancellable: bool) {
        let server = self.conn.object_server();
        let Ok(iface) = server.interface::<_, Checked<JobInterface>>(path).await else { return };
        let job = iface.get().await;
        let emitter = iface.signal_emitter();
        let _ = job.progress_changed(emitter).await;
        let _ = job.message_changed(emitter).await;
        if cancellable {
            let _ = job.cancellable_changed(emitter).await;
        }
    }

    async fn output(&self, path: &str, caller: &str, text: &str) {
        let Ok(caller) = zbus::names::BusName::try_from(caller) else { return };
        let Ok(emitter) = SignalEmitter::new(&self.conn, path) else { return };
        let _ = JobInterface::output(&emitter.set_destination(caller), text).await;
    }

    async fn caller_leaves(&self, caller: &str) -> Option<BoxFuture<'static, ()>> {
        let dbus = zbus::fdo::DBusProxy::new(&self.conn).await.ok()?;
        let mut changes = dbus.receive_name_owner_changed_with_args(&[(0, caller)]).await.ok()?;
        // Asked after subscribing, so a caller that left in between is not missed.
        let present = match zbus::names::BusName::try_from(caller) {
            Ok(bus_name) => dbus.name_has_owner(bus_name).await.unwrap_or(false),
            Err(_) => false,
        };
        Some(Box::pin(async move {
            if present {
                while let Some(change) = changes.next().await {
                    if change.args().is_ok_and(|a| a.new_owner().is_none()) {
                        break;
                    }
                }
            }
        }))
    }

    fn remove(&self, path: &str) {
        let (conn, path) = (self.conn.clone(), path.to_owned());
        tokio::spawn(async move {
            let _ = conn.object_server().remove::<Checked<JobInterface>, _>(path.as_str()).await;
        });
    }
}
