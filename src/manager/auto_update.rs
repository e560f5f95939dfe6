//! The automatic update policy's rounds: check, stage, then wait for the maintenance window or a
//! reboot slot and reboot; after the reboot, give the slot back. Each round's host work is a job
//! like any other (visible, cancellable with org.atomic.cancel-any), and a slot is never given
//! back before the new deployment is booted, except when the reboot could not be asked.

use super::jobs::Shown;
use super::{now, Manager};
use crate::error::Result;
use crate::system::caller::Caller;
use crate::system::state::RebootMarker;
use crate::updates::auto::AutoUpdates;
use crate::updates::config::Policy;
use crate::updates::window;

/// This boot's ID: another one at start means the host rebooted.
fn boot_id() -> String {
    std::fs::read_to_string("/proc/sys/kernel/random/boot_id")
        .map(|s| s.trim().to_owned())
        .unwrap_or_default()
}

/// atomicd itself, as the caller of its automatic jobs.
fn atomicd() -> Caller {
    Caller { bus_name: "atomicd".into(), uid: 0, allow_interactive: false }
}

impl Manager {
    /// SetUpdatePolicy's polkit check, told what changes.
    pub async fn authorize_updates_config(
        &self,
        caller: &Caller,
        settings: &crate::dbus::options::PolicySettings,
    ) -> Result<()> {
        let policy = settings.policy.clone().unwrap_or_default();
        let strategy = settings.strategy.clone().unwrap_or_default();
        let details = [("policy", policy.as_str()), ("strategy", strategy.as_str())];
        self.authority.check(caller, crate::system::polkit::Action::HostUpdatesConfig, &details).await
    }

    /// After a start: when the host rebooted into the staged update, its slot goes back (steady
    /// state) and this says so; in the same boot it is still held.
    pub async fn report_steady_state(&self, auto: &AutoUpdates) -> Option<String> {
        let marker = self.state.reboot_marker().ok().flatten()?;
        if marker.boot_id.is_empty() {
            return None;
        }
        if marker.boot_id == boot_id() {
            auto.note(|p| (p.held, p.held_since) = (true, marker.since));
            return None;
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
    pub async fn auto_update_round(&self, auto: &AutoUpdates) -> String {
        let config = auto.config();
        if config.policy == Policy::None {
            return "the policy is none".into();
        }
        let staged = match self.state.reboot_marker() {
            Ok(Some(marker)) => marker,
            _ => match self.check_and_stage(config.policy).await {
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
        self.reboot_into(auto, staged).await
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
        self.in_job(&job, |control| self.host.upgrade(false, control)).await?;
        self.changes.note(&[super::Area::Host]);
        tracing::info!(version = %version, "automatic update staged");
        let marker = RebootMarker { pending: version, boot_id: String::new(), since: 0 };
        self.state.save_reboot_marker(Some(&marker))?;
        Ok(Ok(marker))
    }

    /// Takes the reboot slot when the strategy has one, then asks logind to reboot; gives the
    /// slot back when the reboot cannot be asked.
    async fn reboot_into(&self, auto: &AutoUpdates, mut staged: RebootMarker) -> String {
        let lock = match auto.reboot_lock() {
            Ok(lock) => lock,
            Err(e) => return format!("staged {}; the reboot lock cannot be asked: {e}", staged.pending),
        };
        if let Some(lock) = &lock {
            match lock.take().await {
                Ok(true) => {
                    if staged.boot_id.is_empty() {
                        (staged.boot_id, staged.since) = (boot_id(), now());
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
                    staged.boot_id.clear();
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
