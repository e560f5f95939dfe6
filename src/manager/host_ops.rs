//! Host operations: one at a time under their own lock (a second is Busy), each a job whose
//! Cancel the backend honours until its point of no return, with a reboot through logind when
//! asked; and the cached update a check found, kept until it is deployed or overtaken.

use super::jobs::{Job, Shown};
use super::Manager;
use crate::error::{Error, Result};
use crate::host::{CachedUpdate, Cleanup, Deployment};
use crate::system::caller::Caller;
use crate::system::control::Control;
use crate::system::message_ids as ids;
use crate::system::polkit::Action;
use crate::wire::results::{CleanupResult, DeployResult, RollbackResult, UpdateBlock, UpgradeResult};

/// What a deploying operation does, for its job and its log.
#[derive(Clone, Copy)]
enum Change<'a> {
    Deploy(&'a str),
    Rebase(&'a str, Option<&'a str>),
}

impl Manager {
    pub(super) fn host_busy(&self) -> Result<tokio::sync::MutexGuard<'_, ()>> {
        self.host_lock.try_lock().map_err(|_| {
            Error::Busy("another host operation is running; try again when it has finished".into())
        })
    }

    /// Runs `work` with a control of `job`'s, publishing its progress.
    pub(super) async fn in_job<T, F>(&self, job: &Job, work: impl FnOnce(Control) -> F) -> Result<T>
    where
        F: std::future::Future<Output = Result<T>>,
    {
        // The backend stops itself on Cancel, so the host lock is held until it really has.
        let (control, reports) = job.control();
        job.publish(work(control), reports).await
    }

    /// After a change to the deployments: tell the watchers, and reboot when asked.
    async fn host_changed(&self, reboot: bool) -> Result<()> {
        self.changes.note(&[super::Area::Host]);
        tracing::info!(message_id = ids::HOST_CHANGED, reboot, "the host's deployments changed");
        if reboot {
            self.power.reboot().await?;
        }
        Ok(())
    }

    /// HostUpgrade: authorize, one at a time, upgrade (or only check, keeping what it found),
    /// reboot when asked.
    pub async fn host_upgrade(&self, caller: &Caller, check: bool, reboot: bool) -> Result<UpgradeResult> {
        let details = [("operation", if check { "check" } else { "upgrade" })];
        self.authority.check(caller, Action::HostUpgrade, &details).await?;
        let _busy = self.host_busy()?;
        let job = self.jobs.start("HostUpgrade", "host", caller, Shown::default()).await;
        job.report(-1.0, if check { "checking for an update" } else { "upgrading the host" }).await;
        tracing::info!(uid = caller.uid, check, "host upgrade");
        let outcome = self.in_job(&job, |control| self.host.upgrade(check, control)).await?;
        if check {
            self.keep_update(outcome.update.clone())?;
            return Ok(UpgradeResult {
                changed: outcome.changed,
                available: Some(outcome.changed),
                update: outcome.update.map(UpdateBlock::from),
                deployment: outcome.deployment.map(Into::into),
            });
        }
        if outcome.changed {
            self.host_changed(reboot).await?;
        }
        Ok(UpgradeResult {
            changed: outcome.changed,
            deployment: outcome.deployment.map(Into::into),
            ..UpgradeResult::default()
        })
    }

    /// Rollback: the previous deployment becomes the default; nothing is deleted. Reordering
    /// the deployment list is one step that cannot be stopped halfway, so the job says so.
    pub async fn rollback(&self, caller: &Caller, reboot: bool) -> Result<RollbackResult> {
        self.authority.check(caller, Action::HostRollback, &[]).await?;
        let _busy = self.host_busy()?;
        let job = self.jobs.start("Rollback", "host", caller, Shown::default()).await;
        tracing::info!(uid = caller.uid, "host rollback");
        let deployment = self
            .in_job(&job, |control| async move {
                control.point_of_no_return("making the previous deployment the default");
                self.host.rollback(control).await
            })
            .await?;
        self.host_changed(reboot).await?;
        Ok(RollbackResult { deployment: deployment.into() })
    }

    /// HostDeploy: a given version or checksum of the current origin becomes the default.
    pub async fn host_deploy(&self, caller: &Caller, revision: &str, reboot: bool) -> Result<DeployResult> {
        self.deploying(caller, Change::Deploy(revision), reboot).await
    }

    /// HostRebase: another origin (refspec or image) becomes the default.
    pub async fn host_rebase(
        &self,
        caller: &Caller,
        origin: &str,
        revision: Option<&str>,
        reboot: bool,
    ) -> Result<DeployResult> {
        self.deploying(caller, Change::Rebase(origin, revision), reboot).await
    }

    async fn deploying(&self, caller: &Caller, change: Change<'_>, reboot: bool) -> Result<DeployResult> {
        let (operation, target, revision) = match change {
            Change::Deploy(r) => ("HostDeploy", "", r),
            Change::Rebase(o, r) => ("HostRebase", o, r.unwrap_or("")),
        };
        let deploy = operation == "HostDeploy";
        check_text("revision", revision, deploy)?;
        check_text("origin", target, !deploy)?;
        let details = [("operation", operation), ("origin", target), ("revision", revision)];
        self.authority.check(caller, Action::HostDeploy, &details).await?;
        let _busy = self.host_busy()?;
        let job = self.jobs.start(operation, "host", caller, Shown::default()).await;
        tracing::info!(uid = caller.uid, operation, origin = target, revision, "host deploy");
        let deployment: Deployment = self
            .in_job(&job, |control| async move {
                match change {
                    Change::Deploy(r) => self.host.deploy(r, control).await,
                    Change::Rebase(o, r) => self.host.rebase(o, r, control).await,
                }
            })
            .await?;
        self.host_changed(reboot).await?;
        Ok(DeployResult { deployment: deployment.into() })
    }

    /// HostPin: pins or unpins a deployment (a pinned one survives cleanups and upgrades).
    pub async fn host_pin(&self, caller: &Caller, id: &str, pinned: bool) -> Result<()> {
        check_text("id", id, true)?;
        let details = [("operation", if pinned { "pin" } else { "unpin" }), ("deployment", id)];
        self.authority.check(caller, Action::HostCleanup, &details).await?;
        let _busy = self.host_busy()?;
        if !self.host.deployments().await?.iter().any(|d| d.id == id) {
            return Err(Error::InvalidArgument(format!("there is no deployment {id:?} (see Status)")));
        }
        tracing::info!(uid = caller.uid, id, pinned, "host pin");
        self.host.pin(id, pinned).await?;
        self.changes.note(&[super::Area::Host]);
        Ok(())
    }

    /// HostCleanup: removes the rollback and/or pending deployment, never the booted or a
    /// pinned one.
    pub async fn host_cleanup(&self, caller: &Caller, what: Cleanup) -> Result<CleanupResult> {
        if !what.rollback && !what.pending {
            return Err(Error::InvalidArgument(
                "HostCleanup needs \"rollback\" or \"pending\" (or both) set to true".into(),
            ));
        }
        let details = [("operation", "cleanup")];
        self.authority.check(caller, Action::HostCleanup, &details).await?;
        let _busy = self.host_busy()?;
        let job = self.jobs.start("HostCleanup", "host", caller, Shown::default()).await;
        tracing::info!(uid = caller.uid, rollback = what.rollback, pending = what.pending, "host cleanup");
        let removed = self
            .in_job(&job, |control| async move {
                control.point_of_no_return("removing deployments");
                self.host.cleanup(what).await
            })
            .await?;
        if !removed.is_empty() {
            self.changes.note(&[super::Area::Host]);
        }
        Ok(CleanupResult { removed })
    }

    /// Keeps (or with `None` forgets) what a check found.
    pub(super) fn keep_update(&self, update: Option<CachedUpdate>) -> Result<()> {
        if self.state.cached_update()? != update {
            self.state.save_cached_update(update.as_ref())?;
            self.changes.note(&[super::Area::Host]);
        }
        Ok(())
    }

    /// The update the last check found, unless the host has it or something newer by now (then
    /// it is forgotten). Reading the deployments shares Status's single flight and cache.
    pub async fn cached_update(&self) -> Result<Option<CachedUpdate>> {
        let Some(update) = self.state.cached_update::<CachedUpdate>()? else { return Ok(None) };
        let deployments = self.shared_deployments().await?;
        if update.is_past(&deployments) {
            tracing::info!(version = %update.version, "the cached update is deployed or overtaken; forgetting it");
            self.keep_update(None)?;
            return Ok(None);
        }
        Ok(Some(update))
    }
}

/// `text` as a revision, origin or id: not empty when `required`, no longer than a refspec or
/// image reference can be, and printable.
fn check_text(what: &str, text: &str, required: bool) -> Result<()> {
    const LONGEST: usize = 1024;
    if required && text.is_empty() {
        return Err(Error::InvalidArgument(format!("the {what} is empty")));
    }
    if text.len() > LONGEST || text.starts_with('-') || text.chars().any(crate::text::is_hidden) {
        return Err(Error::InvalidArgument(format!(
            "the {what} {:?} is not one: at most {LONGEST} printable characters, not starting with '-'",
            crate::text::truncate_for_message(text)
        )));
    }
    Ok(())
}
