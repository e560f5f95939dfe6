//! Host operations: one at a time under their own lock (a second is Busy), each a job whose
//! Cancel the backend honours itself, with a reboot through logind when asked.

use super::jobs::Shown;
use super::Manager;
use crate::dbus::results::{RollbackResult, UpgradeResult};
use crate::error::{Error, Result};
use crate::system::caller::Caller;
use crate::system::polkit::Action;

impl Manager {
    fn host_busy(&self) -> Result<tokio::sync::MutexGuard<'_, ()>> {
        self.host_lock.try_lock().map_err(|_| {
            Error::Busy("another host operation is running; try again when it has finished".into())
        })
    }

    /// HostUpgrade: authorize, one at a time, upgrade (or only check), reboot when asked.
    pub async fn host_upgrade(&self, caller: &Caller, check: bool, reboot: bool) -> Result<UpgradeResult> {
        let details = [("operation", if check { "check" } else { "upgrade" })];
        self.authority.check(caller, Action::HostUpgrade, &details).await?;
        let _busy = self.host_busy()?;
        let job = self.jobs.start("HostUpgrade", "host", caller, Shown::default()).await;
        job.report(-1.0, if check { "checking for an update" } else { "upgrading the host" }).await;
        tracing::info!(uid = caller.uid, check, "host upgrade");
        // The backend stops itself on Cancel, so the host lock is held until it really has.
        let (control, reports) = job.control();
        let outcome = job.publish(self.host.upgrade(check, control), reports).await?;
        if outcome.changed && !check {
            self.changes.note(&[super::Area::Host]);
        }
        if outcome.changed && !check && reboot {
            self.power.reboot().await?;
        }
        Ok(UpgradeResult { changed: outcome.changed, deployment: outcome.deployment.map(Into::into) })
    }

    /// Rollback: the previous deployment becomes the default; nothing is deleted.
    pub async fn rollback(&self, caller: &Caller, reboot: bool) -> Result<RollbackResult> {
        self.authority.check(caller, Action::HostRollback, &[]).await?;
        let _busy = self.host_busy()?;
        let _job = self.jobs.start("Rollback", "host", caller, Shown::default()).await;
        tracing::info!(uid = caller.uid, "host rollback");
        let deployment = self.host.rollback().await?;
        self.changes.note(&[super::Area::Host]);
        if reboot {
            self.power.reboot().await?;
        }
        Ok(RollbackResult { deployment: deployment.into() })
    }
}
