//! Applications installed as services: each has a record (the plan authorized at install) and
//! a systemd unit `atomic-app-NAME.service` whose process asks atomicd to run that record
//! (StartApplication, which follows the container so its output reaches the unit's journal)
//! and to stop it (StopApplication). ListApplications shows them.

mod claim;
mod install;
mod policy;
pub(crate) mod record;
pub(crate) mod unit;
mod update;

use std::collections::BTreeMap;

pub(crate) use claim::Claims;
pub(crate) use install::wants_service;
use record::App;
pub(crate) use unit::UnitFiles;
pub(crate) use update::Asked;

use super::attach::{Bridge, CallerFds};
use super::containers::exit_code;
use super::jobs::Shown;
use super::plan::{Operation, Plan, Step};
use super::{Manager, DEFAULT_STOP_TIMEOUT};
use crate::engine::{same_image, StreamSetup};
use crate::error::{Error, Result};
use crate::label::ImageRef;
use crate::system::caller::Caller;
use crate::system::polkit::Action;
use crate::wire::results::{AppEntry, AppStartResult, AppStopResult};

impl Manager {
    /// The applications' records, by name.
    pub(super) fn applications(&self) -> Result<BTreeMap<String, App>> {
        self.state.applications()
    }

    /// One application's record.
    fn application(&self, name: &str) -> Result<App> {
        unit::check_name(name)?;
        self.applications()?.remove(name).ok_or_else(|| {
            Error::InvalidArgument(format!("no application named {name:?} is installed as a service"))
        })
    }

    /// Adds (or with `None` drops) one record, keeping the others: an install, an uninstall.
    async fn put_application(&self, name: &str, app: Option<App>) -> Result<()> {
        let _guard = self.state_lock.lock().await;
        let mut apps = self.applications()?;
        match app {
            Some(app) => apps.insert(name.to_owned(), app),
            None => apps.remove(name),
        };
        self.state.save_applications(&apps)?;
        self.changes.note(&[super::Area::Installed]);
        Ok(())
    }

    /// Writes an application's record back after an act on it; one uninstalled meanwhile is
    /// not brought back.
    async fn save_application(&self, app: &App) -> Result<()> {
        self.modify_application(&app.name, |kept| kept.clone_from(app)).await
    }

    /// Changes one record in place; an application uninstalled meanwhile stays uninstalled.
    async fn modify_application(&self, name: &str, change: impl FnOnce(&mut App)) -> Result<()> {
        let _guard = self.state_lock.lock().await;
        let mut apps = self.applications()?;
        let Some(app) = apps.get_mut(name) else {
            return Err(Error::InvalidArgument(format!(
                "no application named {name:?} is installed as a service"
            )));
        };
        change(app);
        self.state.save_applications(&apps)?;
        self.changes.note(&[super::Area::Installed]);
        Ok(())
    }

    /// Asks polkit for an act on an application: `org.atomic.install`, and `manage-any` when
    /// the caller is not the one who installed it. What was authorized at install (its line and
    /// privileges) is what runs, and polkit is shown it again.
    async fn authorize_application(&self, caller: &Caller, app: &App, operation: &str) -> Result<()> {
        let mut actions = vec![Action::Install];
        let mut details = vec![
            ("application", app.name.clone()),
            ("operation", operation.to_owned()),
            ("image", app.image.clone()),
            ("image-id", app.current.image_id.clone()),
            ("command", crate::text::display_line(&app.current.argv)),
        ];
        if !app.current.privileges.is_empty() {
            details.push(("privileges", app.current.privileges.join("; ")));
        }
        if caller.uid != app.installed_by {
            actions.push(Action::ManageAny);
            details.extend(super::authorize::other_callers_detail(&[app.installed_by]));
        }
        self.ask_all(caller, actions, &details).await
    }

    /// ListApplications: every application with its unit's and container's state; open.
    pub async fn list_applications(&self) -> Result<Vec<AppEntry>> {
        let mut entries = Vec::new();
        let policies = crate::updates::apps::load(self.updates.main()).unwrap_or_default();
        for app in self.applications()?.into_values() {
            let policy = policies
                .get(&app.name)
                .cloned()
                .unwrap_or_else(|| crate::updates::apps::AppPolicy::default_for(&app.name));
            let unit = app.unit();
            let unit_state = match self.systemd.state(&unit).await {
                Ok(s) if s.exists() => format!("{} ({})", s.active, s.sub),
                Ok(s) => s.load,
                Err(e) => format!("unknown: {e}"),
            };
            let container = match self.engine.find_container(&app.name).await {
                Ok(Some(c)) if c.owner.is_some() && c.running => "running".to_owned(),
                Ok(Some(c)) if c.owner.is_some() => "stopped".to_owned(),
                Ok(Some(_)) => "not atomicd's".to_owned(),
                Ok(None) => "none".to_owned(),
                Err(e) => format!("unknown: {e}"),
            };
            entries.push(AppEntry {
                name: app.name,
                image: app.image,
                image_id: app.current.image_id,
                previous_image_id: app.previous.map(|p| p.image_id).unwrap_or_default(),
                unit,
                unit_state,
                container,
                installed_by: app.installed_by,
                installed_at: app.installed_at,
                command: app.current.argv,
                privileges: app.current.privileges,
                last_result: app.last_result,
                last_change: app.last_change,
                auto_update: policy.auto_update.as_str().to_owned(),
                next_check: self.next_app_check(app.last_check, &policy),
                last_check: app.last_check,
                update_available: app.update_available,
                rollbacks: app.rollbacks_in_a_row,
            });
        }
        Ok(entries)
    }

    /// The plan of an application's record: its own line on its own image ID, nothing resolved
    /// again. The container is the installing caller's.
    fn recorded_plan(app: &App) -> Result<Plan> {
        let spec = app.current.spec(&app.name)?;
        let mut plan = Plan::nothing(Operation::Service, ImageRef::parse(&app.image)?, &app.current.image_id);
        plan.name = Some(app.name.clone());
        plan.argv = app.current.argv.clone();
        plan.privileges = app.current.privileges.clone();
        plan.spec = Some(spec);
        plan.step = Step::Create { replacing: None };
        Ok(plan)
    }

    /// StartApplication: the unit's ExecStart. Creates the container from the record (after
    /// atomicd's stopped or outdated one of that name), or finds it running from the recorded
    /// image; with fds, follows it and answers its exit code when it ends.
    pub async fn start_application(
        &self,
        caller: &Caller,
        name: &str,
        fds: CallerFds,
    ) -> Result<AppStartResult> {
        let app = self.application(name)?;
        self.authorize_application(caller, &app, "start").await?;
        let plan = Self::recorded_plan(&app)?;
        let shown =
            Shown { command: plan.argv.clone(), privileges: plan.privileges.clone(), ..Shown::default() };
        let mut job = self.jobs.start("StartApplication", name, caller, shown).await;
        let existing = self.engine.find_container(name).await?;
        let mut result =
            AppStartResult { image_id: app.current.image_id.clone(), ..AppStartResult::default() };
        let (id, created) = match existing {
            Some(c) if c.owner.is_none() => {
                return Err(Error::Failed(format!(
                    "container {name:?} exists and was not made by atomicd, which does not touch it; \
                     remove or rename it with the engine's own tools"
                )))
            }
            Some(c) if c.running && same_image(&c.image_id, &app.current.image_id) => (c.id, false),
            other => {
                let owner = Caller { uid: app.installed_by, ..caller.clone() };
                let spec = plan.spec.as_ref().ok_or_else(|| Error::Failed("the plan has no line".into()))?;
                let replacing = other.map(|c| c.id);
                (self.create(&owner, &plan, spec, replacing.as_deref(), StreamSetup::default()).await?, true)
            }
        };
        result.container_id = id.clone();
        result.created = created;
        if !fds.any() {
            if created {
                self.start_or_discard(&id, true).await?;
            }
            return Ok(result);
        }
        // Following ends when the container does, or when the unit's process leaves; the
        // container is the unit's to stop (ExecStop), never the follower's.
        job.cancel_if_caller_leaves().await;
        let attached = match self.engine.attach(&id, false).await {
            Ok(a) => a,
            Err(e) => {
                if created {
                    let _ = self.engine.remove(&id, true).await;
                }
                return Err(e);
            }
        };
        let bridge = Bridge::start(attached, fds);
        let reader_gone = bridge.reader_gone();
        if created {
            self.start_or_discard(&id, true).await?;
        }
        job.report(-1.0, "running").await;
        let waited = tokio::select! {
            waited = self.engine.wait(&id) => Some(waited),
            () = job.cancelled() => None,
            () = reader_gone => None,
        };
        bridge.finish().await;
        match waited {
            Some(code) => {
                result.exit_code = Some(exit_code(code?));
                Ok(result)
            }
            None => Err(job.cancelled_error(&format!("following application {name:?} (it runs on)"))),
        }
    }

    /// StopApplication: the unit's ExecStop. Stops atomicd's container of the application.
    pub async fn stop_application(&self, caller: &Caller, name: &str) -> Result<AppStopResult> {
        let app = self.application(name)?;
        self.authorize_application(caller, &app, "stop").await?;
        let shown =
            Shown { command: vec!["docker".into(), "stop".into(), name.to_owned()], ..Shown::default() };
        let _job = self.jobs.start("StopApplication", name, caller, shown).await;
        let mut result = AppStopResult::default();
        if let Some(c) = self.engine.find_container(name).await? {
            if c.owner.is_some() && c.running {
                self.engine.stop(&c.id, DEFAULT_STOP_TIMEOUT).await?;
                result.stopped = Some(c.id);
            }
        }
        Ok(result)
    }
}
