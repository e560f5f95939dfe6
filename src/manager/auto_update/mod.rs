//! The automatic update policy's rounds: check, stage, then wait for the maintenance window or a
//! reboot slot and reboot; after the reboot, give the slot back. Each round's host work is a job
//! like any other (visible, cancellable with org.atomic.cancel-any), and a slot is never given
//! back before the new deployment is booted, except when the reboot could not be asked. The
//! manager owns the policy's settings (`settings`): SetUpdatePolicy and Status go through it.

mod settings;

use std::sync::Arc;
use std::time::Duration;

pub(crate) use settings::AutoUpdates;

use super::jobs::Shown;
use super::{now, Manager};
use crate::error::{Error, Result};
use crate::system::caller::Caller;
use crate::system::state::RebootMarker;
use crate::updates::config::Policy;
use crate::updates::window;
use crate::wire::options::PolicySettings;

/// This boot's ID: another one at start means the host rebooted. A record is never written
/// without one.
fn boot_id() -> Result<String> {
    std::fs::read_to_string("/proc/sys/kernel/random/boot_id")
        .map(|s| s.trim().to_owned())
        .ok()
        .filter(|id| !id.is_empty())
        .ok_or_else(|| Error::Failed("cannot read this boot's ID (/proc/sys/kernel/random/boot_id)".into()))
}

/// The first round comes this long after a start.
const FIRST_ROUND: Duration = Duration::from_secs(3);

/// atomicd itself, as the caller of its automatic jobs.
fn atomicd() -> Caller {
    Caller { bus_name: "atomicd".into(), uid: 0, allow_interactive: false }
}

impl Manager {
    /// SetUpdatePolicy: polkit is told what changes; the drop-in is written once the files with
    /// it make a usable configuration, and the timer runs a round at once.
    pub async fn set_update_policy(&self, caller: &Caller, settings: &PolicySettings) -> Result<()> {
        let policy = settings.policy.clone().unwrap_or_default();
        let strategy = settings.strategy.clone().unwrap_or_default();
        let details = [("policy", policy.as_str()), ("strategy", strategy.as_str())];
        self.authority.check(caller, crate::system::polkit::Action::HostUpdatesConfig, &details).await?;
        let path = self.updates.set_policy(settings)?;
        tracing::info!(uid = caller.uid, file = %path.display(), "update policy changed");
        self.policy_changed.notify_one();
        Ok(())
    }

    /// The automatic update policy's settings and progress.
    pub fn auto_updates(&self) -> &AutoUpdates {
        &self.updates
    }

    /// Runs the automatic update policy on its timer, for as long as atomicd runs: the first
    /// round comes [`FIRST_ROUND`] after a start (after the steady state is reported), then one
    /// per interval, and one at once after SetUpdatePolicy.
    pub async fn run_automatic_updates(self: Arc<Self>) {
        let mut wait = FIRST_ROUND;
        loop {
            let next = now() + wait.as_secs();
            self.updates.note(|p| p.next_check = next);
            tokio::select! {
                () = tokio::time::sleep(wait) => {}
                () = self.policy_changed.notified() => {}
            }
            let steady = self.report_steady_state().await;
            let round = self.auto_update_round().await;
            let result = match steady {
                Some(first) => format!("{first}; then {round}"),
                None => round,
            };
            tracing::info!(result = %result, "automatic update round");
            let at = now();
            self.updates.note(|p| (p.last_check, p.last_result) = (at, result));
            wait = self.updates.config().interval;
        }
    }

    /// After a start: when the host rebooted into the staged update, its slot goes back (steady
    /// state) and this says so; in the same boot it is still held.
    pub async fn report_steady_state(&self) -> Option<String> {
        let auto = &self.updates;
        let marker = self.state.reboot_marker().ok().flatten()?;
        let this_boot = boot_id().ok()?;
        if marker.boot_id.is_empty() {
            // Not a record atomicd writes: forgotten, and the next round starts from the check.
            tracing::warn!(version = %marker.pending, "a reboot record without a boot ID is dropped");
            let _ = self.state.save_reboot_marker(None);
            return None;
        }
        if marker.boot_id == this_boot {
            if marker.since > 0 {
                auto.note(|p| (p.held, p.held_since) = (true, marker.since));
            }
            return None;
        }
        if marker.since == 0 {
            // Rebooted with no slot held (policy stage, or a reboot by hand): nothing to give back.
            let _ = self.state.save_reboot_marker(None);
            return Some(format!("rebooted with {} staged; no reboot slot was held", marker.pending));
        }
        let given_back = match auto.reboot_lock() {
            Ok(Some(lock)) => lock.give_back().await,
            Ok(None) => Ok(()),
            Err(e) => Err(e.to_string()),
        };
        if let Err(e) = given_back {
            tracing::warn!("cannot give the reboot slot back yet: {e}");
            return Some(format!(
                "booted into {}; the reboot slot cannot be given back yet: {e}",
                marker.pending
            ));
        }
        let _ = self.state.save_reboot_marker(None);
        auto.note(|p| (p.held, p.held_since) = (false, 0));
        tracing::info!(version = %marker.pending, "automatic update booted; steady state reported");
        Some(format!("booted into {}; the reboot slot is given back", marker.pending))
    }

    /// One round of the policy; what it came to, in a sentence.
    pub async fn auto_update_round(&self) -> String {
        let auto = &self.updates;
        let config = auto.config();
        if config.policy == Policy::None {
            return "the policy is none".into();
        }
        let kept = match self.state.reboot_marker() {
            Ok(Some(marker)) => self.still_staged(marker).await,
            _ => None,
        };
        let staged = match kept {
            Some(marker) => marker,
            None => match self.check_and_stage(config.policy).await {
                Ok(Ok(marker)) => marker,
                Ok(Err(sentence)) => return sentence,
                Err(e) => return format!("the automatic update failed: {e}"),
            },
        };
        if config.policy != Policy::Apply {
            let policy = format!("{:?}", config.policy).to_lowercase();
            return format!("staged {}; policy {policy} leaves the reboot to you", staged.pending);
        }
        // Windows bound every strategy that has them (periodic needs them): a slot is asked
        // for only inside one, so a slot is never held waiting for the window.
        if !config.windows.is_empty() {
            let offset = crate::updates::config::offset_minutes(&config.time_zone).unwrap_or(0);
            let at = i64::try_from(now()).unwrap_or(0);
            if !window::is_open(&config.windows, offset, at) {
                let next = window::next_open(&config.windows, offset, at)
                    .and_then(|t| u64::try_from(t).ok())
                    .unwrap_or(0);
                let next = humantime::format_rfc3339_seconds(
                    std::time::UNIX_EPOCH + std::time::Duration::from_secs(next),
                );
                return format!(
                    "staged {}; waiting for the maintenance window (next opens {next})",
                    staged.pending
                );
            }
        }
        self.reboot_into(staged).await
    }

    /// The record, while the host still has its deployment (by checksum) as the default one; a
    /// record whose deployment was cleaned up, undeployed or replaced is dropped, so the round
    /// checks and stages again rather than take a slot and reboot into nothing.
    async fn still_staged(&self, marker: RebootMarker) -> Option<RebootMarker> {
        let deployments = match self.host.deployments().await {
            Ok(list) => list,
            // The host cannot be read: the round goes on as recorded, and the staging below
            // would fail the same way.
            Err(_) => return Some(marker),
        };
        let default = deployments.iter().find(|d| d.default && !d.booted);
        let held = !marker.checksum.is_empty() && default.is_some_and(|d| d.checksum == marker.checksum);
        if held && !marker.boot_id.is_empty() {
            return Some(marker);
        }
        tracing::warn!(
            version = %marker.pending,
            checksum = %marker.checksum,
            "the staged deployment is no longer the host's next one; the record is dropped and the round starts over"
        );
        if let Err(e) = self.state.save_reboot_marker(None) {
            tracing::warn!("cannot drop the reboot record: {e}");
            return Some(marker);
        }
        None
    }

    /// Checks, and stages what it finds when the policy goes that far. Err(sentence) when the
    /// round ends here.
    async fn check_and_stage(&self, policy: Policy) -> Result<std::result::Result<RebootMarker, String>> {
        let _busy = self.host_busy()?;
        let job = self.jobs.start("AutoUpdate", "host", &atomicd(), Shown::default()).await;
        job.report(-1.0, "checking for an update").await;
        let found = self.in_job(&job, |control| self.host.upgrade(true, control)).await?;
        self.keep_update(found.update.clone())?;
        let Some(update) = found.update.filter(|_| found.changed) else {
            return Ok(Err("no update is available".into()));
        };
        let version =
            if update.version.is_empty() { update.checksum.clone() } else { update.version.clone() };
        if policy == Policy::Check {
            return Ok(Err(format!("{version} is available")));
        }
        job.report(-1.0, &format!("staging {version}")).await;
        let boot = boot_id()?;
        let staged = self.in_job(&job, |control| self.host.upgrade(false, control)).await?;
        self.changes.note(&[super::Area::Host]);
        tracing::info!(version = %version, "automatic update staged");
        let checksum = staged.deployment.map_or(update.checksum, |d| d.checksum);
        let marker = RebootMarker { pending: version, checksum, boot_id: boot, since: 0 };
        self.state.save_reboot_marker(Some(&marker))?;
        Ok(Ok(marker))
    }

    /// Takes the reboot slot when the strategy has one, then asks logind to reboot; gives the
    /// slot back when the reboot cannot be asked.
    async fn reboot_into(&self, mut staged: RebootMarker) -> String {
        let auto = &self.updates;
        let lock = match auto.reboot_lock() {
            Ok(lock) => lock,
            Err(e) => return format!("staged {}; the reboot lock cannot be asked: {e}", staged.pending),
        };
        if let Some(lock) = &lock {
            match lock.take().await {
                Ok(true) => {
                    if staged.since == 0 {
                        match boot_id() {
                            Ok(boot) => (staged.boot_id, staged.since) = (boot, now()),
                            Err(e) => {
                                let _ = lock.give_back().await;
                                return format!("staged {}; {e}", staged.pending);
                            }
                        }
                        let _ = self.state.save_reboot_marker(Some(&staged));
                    }
                    auto.note(|p| (p.held, p.held_since) = (true, staged.since));
                }
                Ok(false) => return format!("staged {}; waiting for a reboot slot", staged.pending),
                Err(e) => {
                    return format!(
                        "staged {}; the {} lock cannot be asked: {e}",
                        staged.pending,
                        lock.backend()
                    )
                }
            }
        }
        match self.power.reboot().await {
            Ok(()) => {
                tracing::info!(version = %staged.pending, "automatic update: reboot asked");
                format!("staged {}; reboot asked", staged.pending)
            }
            Err(e) => {
                if let Some(lock) = &lock {
                    let _ = lock.give_back().await;
                    staged.since = 0;
                    let _ = self.state.save_reboot_marker(Some(&staged));
                    auto.note(|p| (p.held, p.held_since) = (false, 0));
                }
                format!(
                    "staged {}; the reboot could not be asked ({e}); the slot is given back",
                    staged.pending
                )
            }
        }
    }
}
