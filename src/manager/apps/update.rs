//! An application's update: pull its reference, plan the new image's RUN line again with the
//! install's variables, and apply it only when it needs no privilege the installed plan did not
//! have (a person's UpdateApplication asks polkit for the new plan instead). Applying writes the
//! record first, then restarts the unit (units that need it restart with it), then waits for
//! the health gate; a new image that is not healthy in time is rolled back to the one before.

use std::time::Duration;

use super::record::{App, Release, Updating, MAX_ROLLBACKS};
use crate::engine::same_image;
use crate::error::{Error, Result};
use crate::label::ImageRef;
use crate::manager::plan::Plan;
use crate::manager::request::LabelInputs;
use crate::manager::{now, vars, Manager};
use crate::system::caller::Caller;
use crate::system::message_ids as ids;
use crate::system::polkit::Action;
use crate::updates::apps::{AppPolicy, AutoUpdate};
use crate::wire::results::AppUpdateResult;

/// How often the health gate looks at the container.
const HEALTH_POLL: Duration = Duration::from_millis(500);

/// Who asked for an update round.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Asked {
    /// A person (UpdateApplication): polkit is asked for the new plan.
    Person,
    /// The application's policy: a plan needing new privileges stops at "needs approval".
    Policy(AutoUpdate),
}

impl Manager {
    /// An application's policy as the files say now.
    pub(crate) fn application_policy(&self, name: &str) -> Result<AppPolicy> {
        let all =
            crate::updates::apps::load(self.updates.main()).map_err(|e| Error::Failed(e.to_string()))?;
        Ok(all.get(name).cloned().unwrap_or_else(|| AppPolicy::default_for(name)))
    }

    /// The new image's plan, resolved with the install's variables and checked as a service's.
    async fn replan(&self, app: &App, image: &ImageRef, info: &crate::engine::ImageInfo) -> Result<Plan> {
        let inputs = LabelInputs {
            name: Some(app.name.clone()),
            opts: app.inputs.opts.clone(),
            pwd: app.inputs.pwd.clone(),
            sudo_uid: app.inputs.sudo_uid,
            sudo_gid: app.inputs.sudo_gid,
            ..LabelInputs::default()
        };
        let installer =
            Caller { bus_name: "atomicd".into(), uid: app.installed_by, allow_interactive: false };
        let vars = vars(&installer, image, &app.name, &inputs)?;
        let mut plan = self.checked_service_line(image, info, &vars, &app.name)?;
        self.judge_signature(&mut plan, info, false).await?;
        Ok(plan)
    }

    /// One update round of an application, as a job. `caller` is the person, or atomicd.
    pub(crate) async fn update_application(
        &self,
        caller: &Caller,
        name: &str,
        asked: Asked,
    ) -> Result<AppUpdateResult> {
        let app = self.application(name)?;
        let image = ImageRef::parse(&app.image)?;
        if asked == Asked::Person {
            let details = [
                ("application", app.name.clone()),
                ("operation", "update".to_owned()),
                ("image", app.image.clone()),
                ("pulls", image.pull_reference()),
            ];
            let mut actions = vec![Action::Install, Action::Pull];
            if caller.uid != app.installed_by {
                actions.push(Action::ManageAny);
            }
            self.ask_all(caller, actions, &details).await?;
        }
        let _claim = self.app_claims.claim(name, "an update round")?;
        // Read again once claimed: what an act before this one left is what this round starts from.
        let mut app = self.application(name)?;
        let job = self.jobs.start("UpdateApplication", name, caller, Default::default()).await;
        self.pull(&image, &job).await?;
        let info = self.engine.inspect_image(image.as_str()).await?;
        let mut result =
            AppUpdateResult { image_id: app.current.image_id.clone(), ..AppUpdateResult::default() };
        app.last_check = now();
        if same_image(&info.id, &app.current.image_id) {
            app.update_available.clear();
            result.result = "up to date".into();
            return self.round_ended(app, result).await;
        }
        let plan = self.replan(&app, &image, &info).await?;
        let new: Vec<String> =
            plan.privileges.iter().filter(|p| !app.current.privileges.contains(p)).cloned().collect();
        result.new_privileges.clone_from(&new);
        app.update_available.clone_from(&info.id);
        match asked {
            Asked::Policy(AutoUpdate::None | AutoUpdate::Check) => {
                result.result = format!("update available: {}", short(&info.id));
                return self.round_ended(app, result).await;
            }
            Asked::Policy(AutoUpdate::Apply) if !new.is_empty() => {
                result.result = format!(
                    "needs approval: {} also {}; `atomic update {}` asks polkit for it",
                    short(&info.id),
                    new.join("; "),
                    app.image
                );
                return self.round_ended(app, result).await;
            }
            Asked::Policy(AutoUpdate::Apply) if app.held() => {
                result.result = format!(
                    "update available: {}; automatic updates stopped after {MAX_ROLLBACKS} rollbacks in a row",
                    short(&info.id)
                );
                return self.round_ended(app, result).await;
            }
            Asked::Policy(AutoUpdate::Apply) => {}
            // A person's update is polkit's to allow, as an Install of the new line.
            Asked::Person => self.authorize(caller, &plan).await?,
        }
        let release = Release {
            image_id: plan.image_id.clone(),
            argv: plan.argv.clone(),
            privileges: plan.privileges.clone(),
        };
        job.report(-1.0, &format!("restarting {} on {}", app.unit(), short(&release.image_id))).await;
        let policy = self.application_policy(name)?;
        let lock = self.app_lock(&policy).await?;
        let outcome = self.apply_release(&mut app, release, &policy).await;
        if let Some(lock) = lock {
            if let Err(e) = lock.give_back().await {
                tracing::warn!(application = name, "cannot give the fleet lock back: {e}");
            }
        }
        result.result = outcome?;
        result.image_id = app.current.image_id.clone();
        self.round_ended(app, result).await
    }

    /// The fleet's lock for the application's group, when its policy takes one; Busy while
    /// every slot is held (the next round tries again).
    async fn app_lock(
        &self,
        policy: &AppPolicy,
    ) -> Result<Option<Box<dyn crate::updates::lock::RebootLock>>> {
        if !policy.fleet_lock {
            return Ok(None);
        }
        let lock =
            self.updates.lock_of(&policy.group).map_err(|e| Error::Failed(e.to_string()))?.ok_or_else(
                || Error::Failed("fleet-lock = true needs [updates] strategy fleet-lock or etcd".into()),
            )?;
        match lock.take().await {
            Ok(true) => Ok(Some(lock)),
            Ok(false) => Err(Error::Busy(format!(
                "waiting for the fleet's lock: every slot of the fleet's group {:?} is held; not now",
                policy.group
            ))),
            Err(e) => Err(Error::Failed(format!("the fleet's lock ({}): {e}", lock.backend()))),
        }
    }

    /// Switches the record to `to`, restarts the unit, and keeps it if healthy; else switches
    /// back. The sentence of what came of it.
    pub(crate) async fn apply_release(
        &self,
        app: &mut App,
        to: Release,
        policy: &AppPolicy,
    ) -> Result<String> {
        let from = app.current.clone();
        app.updating = Some(Updating { from: from.image_id.clone(), to: to.image_id.clone(), since: now() });
        app.previous = Some(from.clone());
        app.current = to;
        self.save_application(app).await?;
        self.systemd.restart(&app.unit()).await?;
        self.settle(app, policy).await
    }

    /// The health gate of the release the record names, after its restart: kept when healthy,
    /// else the one before runs again. Also what a start finds of an update a crash cut short.
    pub(crate) async fn settle(&self, app: &mut App, policy: &AppPolicy) -> Result<String> {
        let image = self.engine.inspect_image(&app.current.image_id).await.ok();
        let has_check = image.is_some_and(|i| i.healthcheck);
        let verdict = self.healthy(&app.name, &app.current.image_id, has_check, policy).await;
        let from = app.updating.take().map(|u| u.from);
        match verdict {
            Ok(()) => {
                app.rollbacks_in_a_row = 0;
                app.update_available.clear();
                Ok(format!("updated: {} runs", short(&app.current.image_id)))
            }
            Err(why) => {
                let Some(back) =
                    app.previous.clone().filter(|p| from.as_deref().is_none_or(|f| f == p.image_id))
                else {
                    return Ok(format!("unhealthy: {why}; no earlier image to roll back to"));
                };
                let bad = std::mem::replace(&mut app.current, back);
                app.previous = Some(bad.clone());
                app.rollbacks_in_a_row += 1;
                self.save_application(app).await?;
                self.systemd.restart(&app.unit()).await?;
                let again = self.healthy(&app.name, &app.current.image_id, false, policy).await;
                let mut said = format!(
                    "rolled back: {} {why}; {} runs again",
                    short(&bad.image_id),
                    short(&app.current.image_id)
                );
                if let Err(e) = again {
                    said.push_str(&format!(" (and it too: {e})"));
                }
                if app.held() {
                    said.push_str(&format!(
                        "; automatic updates stopped after {MAX_ROLLBACKS} rollbacks in a row"
                    ));
                }
                Ok(said)
            }
        }
    }

    /// Waits for atomicd's container of the application to run from `image_id` and be healthy:
    /// its HEALTHCHECK says so within the timeout, or without one it runs `healthy_after`.
    async fn healthy(
        &self,
        name: &str,
        image_id: &str,
        has_check: bool,
        policy: &AppPolicy,
    ) -> std::result::Result<(), String> {
        let started = tokio::time::Instant::now();
        let mut has_check = has_check;
        let mut running_since = None;
        loop {
            let limit = if has_check {
                policy.health_timeout
            } else {
                policy.health_timeout.max(policy.healthy_after)
            };
            let deadline = started + limit;
            // An engine error in the middle of a restart (the old container just removed) is
            // asked again until the deadline; only the last one is the verdict's reason.
            let c = match self.engine.find_container(name).await {
                Ok(c) => c,
                Err(e) if tokio::time::Instant::now() < deadline => {
                    tracing::debug!(application = name, "health gate: {e}");
                    tokio::time::sleep(HEALTH_POLL).await;
                    continue;
                }
                Err(e) => return Err(e.to_string()),
            };
            let ours = c.filter(|c| c.owner.is_some() && same_image(&c.image_id, image_id));
            // Podman's image inspection (4.3's Docker API) leaves a HEALTHCHECK out, but the
            // container reports a health state: that it has one says the image checks itself.
            has_check |= ours.as_ref().is_some_and(|c| c.health.is_some());
            match ours {
                Some(c) if c.running && has_check => match c.health.as_deref() {
                    Some("healthy") => return Ok(()),
                    Some("unhealthy") => {
                        return Err("was not healthy (its HEALTHCHECK says unhealthy)".into())
                    }
                    _ => {}
                },
                Some(c) if c.running => {
                    let since = *running_since.get_or_insert_with(tokio::time::Instant::now);
                    if since.elapsed() >= policy.healthy_after {
                        return Ok(());
                    }
                }
                Some(_) if running_since.is_some() => return Err("exited after it started".into()),
                _ => {}
            }
            if tokio::time::Instant::now() >= deadline {
                return Err(match (has_check, running_since) {
                    (true, _) => format!("was not healthy within {} s (its HEALTHCHECK)", limit.as_secs()),
                    (false, None) => format!("did not run within {} s", limit.as_secs()),
                    (false, Some(_)) => {
                        format!("did not keep running for {} s", policy.healthy_after.as_secs())
                    }
                });
            }
            tokio::time::sleep(HEALTH_POLL).await;
        }
    }

    /// Records what a round came to, journals it once, and answers it.
    async fn round_ended(&self, mut app: App, result: AppUpdateResult) -> Result<AppUpdateResult> {
        app.last_result.clone_from(&result.result);
        app.last_change = now();
        tracing::info!(
            message_id = ids::APP_UPDATE,
            application = %app.name,
            image = %app.image,
            from = %app.previous.as_ref().map(|p| p.image_id.as_str()).unwrap_or_default(),
            to = %app.current.image_id,
            result = %result.result,
            "application {}: {}",
            app.name,
            result.result
        );
        self.save_application(&app).await?;
        Ok(result)
    }

    /// RollbackApplication: the image before the last update runs again, from its own record.
    pub async fn rollback_application(&self, caller: &Caller, name: &str) -> Result<AppUpdateResult> {
        let app = self.application(name)?;
        let Some(previous) = app.previous.clone() else {
            return Err(Error::Failed(format!("application {name:?} has no earlier image to roll back to")));
        };
        self.authorize_release(caller, &app, &previous, "rollback").await?;
        let _claim = self.app_claims.claim(name, "a rollback")?;
        // What polkit was shown is what runs: a round that ended while it was asked changed it.
        let mut app = self.application(name)?;
        if app.previous.as_ref() != Some(&previous) {
            return Err(Error::Failed(format!(
                "application {name:?} changed while polkit was asked (now: {}); ask again",
                app.last_result
            )));
        }
        let _job = self.jobs.start("RollbackApplication", name, caller, Default::default()).await;
        let bad = std::mem::replace(&mut app.current, previous);
        app.previous = Some(bad);
        app.updating = None;
        // A person acted: automatic updates may go on.
        app.rollbacks_in_a_row = 0;
        self.save_application(&app).await?;
        if let Err(e) = self.systemd.restart(&app.unit()).await {
            // The record already names the earlier image, which the unit's next start runs:
            // say so in the record and to the caller.
            let said = format!(
                "rolled back by uid {} in the record; restarting {} failed ({e}), so {} runs at its next start",
                caller.uid,
                app.unit(),
                short(&app.current.image_id)
            );
            let result = AppUpdateResult {
                image_id: app.current.image_id.clone(),
                result: said.clone(),
                ..Default::default()
            };
            self.round_ended(app, result).await?;
            return Err(Error::Failed(said));
        }
        let result = AppUpdateResult {
            image_id: app.current.image_id.clone(),
            result: format!("rolled back by uid {}: {} runs again", caller.uid, short(&app.current.image_id)),
            ..AppUpdateResult::default()
        };
        self.round_ended(app, result).await
    }

    /// polkit for running `release` of `app`: as an Install of its line.
    async fn authorize_release(
        &self,
        caller: &Caller,
        app: &App,
        release: &Release,
        operation: &str,
    ) -> Result<()> {
        let mut actions = vec![Action::Install];
        if !release.privileges.is_empty() {
            actions.push(Action::RunPrivileged);
        }
        let mut details = vec![
            ("application", app.name.clone()),
            ("operation", operation.to_owned()),
            ("image", app.image.clone()),
            ("image-id", release.image_id.clone()),
            ("command", crate::text::display_line(&release.argv)),
        ];
        if !release.privileges.is_empty() {
            details.push(("privileges", release.privileges.join("; ")));
        }
        if caller.uid != app.installed_by {
            actions.push(Action::ManageAny);
            details.extend(crate::manager::authorize::other_callers_detail(&[app.installed_by]));
        }
        self.ask_all(caller, actions, &details).await
    }
}

fn short(id: &str) -> &str {
    let id = id.strip_prefix("sha256:").unwrap_or(id);
    &id[..id.len().min(12)]
}
