//! The applications' update policies at work: SetApplicationPolicy writes one, the timer runs
//! each application's rounds when due (inside the maintenance windows when it says so), and a
//! start finishes the health gate of an update a crash cut short.

use std::sync::Arc;
use std::time::Duration;

use super::update::Asked;
use crate::error::{Error, Result};
use crate::manager::{now, Manager};
use crate::system::caller::Caller;
use crate::system::polkit::Action;
use crate::updates::apps::AutoUpdate;
use crate::wire::options::AppPolicySettings;

/// How often the timer looks for an application whose round is due.
const TICK: Duration = Duration::from_secs(15);

/// atomicd itself, as the caller of the policy's rounds.
fn atomicd() -> Caller {
    Caller { bus_name: "atomicd".into(), uid: 0, allow_interactive: false }
}

impl Manager {
    /// SetApplicationPolicy: `org.atomic.install` (and manage-any for another caller's
    /// application); the drop-in is written once every file with it still reads.
    pub async fn set_application_policy(
        &self,
        caller: &Caller,
        name: &str,
        s: &AppPolicySettings,
    ) -> Result<()> {
        let app = self.application(name)?;
        let mut table = toml::Table::new();
        let mut put = |key: &str, v: Option<toml::Value>| {
            if let Some(v) = v {
                table.insert(key.to_owned(), v);
            }
        };
        put("auto-update", s.auto_update.clone().map(toml::Value::String));
        put("interval", s.interval.clone().map(toml::Value::String));
        put("healthy-after", s.healthy_after.clone().map(toml::Value::String));
        put("health-timeout", s.health_timeout.clone().map(toml::Value::String));
        put("windows", s.windows.map(toml::Value::Boolean));
        put("fleet-lock", s.fleet_lock.map(toml::Value::Boolean));
        put("group", s.group.clone().map(toml::Value::String));
        let shown = toml::to_string(&table).unwrap_or_default().replace('\n', "; ");
        let mut details = vec![("application", name.to_owned()), ("policy", shown)];
        let mut actions = vec![Action::Install];
        if caller.uid != app.installed_by {
            actions.push(Action::ManageAny);
            details.extend(crate::manager::authorize::other_callers_detail(&[app.installed_by]));
        }
        self.ask_all(caller, actions, &details).await?;
        let path = crate::updates::apps::set(self.updates.main(), name, &table)
            .map_err(|e| Error::InvalidArgument(e.to_string()))?;
        tracing::info!(application = name, uid = caller.uid, file = %path.display(), "application policy changed");
        // A person acted: updates held after rollbacks may go on, and the next round is now.
        // Only those fields change: a round under way keeps the rest of the record its own.
        self.modify_application(name, |app| {
            app.rollbacks_in_a_row = 0;
            app.last_check = 0;
        })
        .await?;
        self.apps_changed.notify_one();
        Ok(())
    }

    /// When the application's next round is due (0: its policy runs none).
    pub(crate) fn next_app_check(&self, last_check: u64, policy: &crate::updates::apps::AppPolicy) -> u64 {
        match policy.auto_update {
            AutoUpdate::None => 0,
            _ => last_check + policy.interval.as_secs(),
        }
    }

    /// Runs the applications' rounds for as long as atomicd runs; first it settles updates a
    /// crash cut short.
    pub async fn run_application_updates(self: Arc<Self>) {
        self.resume_cut_updates().await;
        loop {
            tokio::select! {
                () = tokio::time::sleep(TICK) => {}
                () = self.apps_changed.notified() => {}
            }
            let Ok(apps) = self.applications() else { continue };
            for (name, app) in apps {
                let Ok(policy) = self.application_policy(&name) else { continue };
                let due = self.next_app_check(app.last_check, &policy);
                // An act under way on it (a person's update, an uninstall) goes first.
                if due == 0 || now() < due || !self.in_window(policy.windows) || self.app_claims.busy(&name) {
                    continue;
                }
                match self.update_application(&atomicd(), &name, Asked::Policy(policy.auto_update)).await {
                    Ok(r) => {
                        tracing::info!(application = %name, result = %r.result, "application update round")
                    }
                    Err(e) => self.note_failed_round(&name, &e).await,
                }
            }
        }
    }

    /// Whether a round may apply now: always, or with `windows` inside `[updates.periodic]`'s.
    fn in_window(&self, windows: bool) -> bool {
        let c = self.updates.config();
        if !windows || c.windows.is_empty() {
            return true;
        }
        let offset = crate::updates::config::offset_minutes(&c.time_zone).unwrap_or(0);
        let at = i64::try_from(now()).unwrap_or(i64::MAX);
        crate::updates::window::is_open(&c.windows, offset, at)
    }

    /// A round that failed (the registry down, the fleet's slots held) is tried again next time.
    async fn note_failed_round(&self, name: &str, e: &Error) {
        tracing::warn!(application = name, "application update round: {e}");
        if let Ok(mut app) = self.application(name) {
            app.last_check = now();
            app.last_result = match e {
                // Not a failure: the fleet's other hosts hold every slot, or another act on the
                // application is under way; the next round asks again.
                Error::Busy(why) => why.clone(),
                _ => format!("failed: {e}"),
            };
            app.last_change = now();
            let _ = self.save_application(&app).await;
        }
    }

    /// An update whose health gate a crash (or SIGKILL) cut short: the record names the image
    /// that runs; its gate runs again, and it is kept or rolled back.
    pub(crate) async fn resume_cut_updates(&self) {
        let Ok(apps) = self.applications() else { return };
        let cut = apps.into_iter().filter(|(_, a)| a.updating.is_some()).map(|(name, _)| name);
        for name in cut {
            let Ok(policy) = self.application_policy(&name) else { continue };
            let Ok(_claim) = self.app_claims.claim(&name, "settling an update a restart cut short") else {
                continue;
            };
            // Read again once claimed: an uninstall may have come first.
            let Ok(mut app) = self.application(&name) else { continue };
            tracing::info!(application = %name, "an update was cut short; checking its health again");
            match self.settle(&mut app, &policy).await {
                Ok(said) => {
                    app.last_result = format!("{said} (after atomicd restarted mid-update)");
                    app.last_change = now();
                    let _ = self.save_application(&app).await;
                }
                Err(e) => tracing::warn!(application = %name, "cannot settle the cut update: {e}"),
            }
        }
    }
}
