//! Update: pull an image anew and say what still runs the old one; with `force` atomicd's own
//! containers of the old image go, and with `reinstall` the old UNINSTALL and the new INSTALL
//! label run, the record moving to the new image only when both succeed.

use super::images::Outdated;
use super::jobs::{Job, Shown};
use super::plan::{self, Operation, Plan};
use super::request::LabelInputs;
use super::{container_name, now, vars, Manager};
use crate::engine::{same_image, ImageInfo, StreamSetup};
use crate::error::{Error, Result};
use crate::label::{ImageRef, LabelKind};
use crate::system::caller::Caller;
use crate::system::polkit::Action;
use crate::wire::results::UpdateResult;

impl Manager {
    /// Update IMAGE: authorized as `org.atomic.install` and `org.atomic.pull` (and manage-any when
    /// `force` removes another caller's container); polkit is told what `force` removes.
    pub async fn update(
        &self,
        caller: &Caller,
        image: &str,
        force: bool,
        reinstall: bool,
    ) -> Result<UpdateResult> {
        let image = ImageRef::parse(image)?;
        // An application installed as a service from this image is updated as one: its new
        // plan is polkit's to allow, and the health gate keeps it or rolls it back.
        let apps: Vec<String> = self
            .applications()?
            .into_values()
            .filter(|a| a.image == image.as_str())
            .map(|a| a.name)
            .collect();
        if !apps.is_empty() && !force && !reinstall {
            let mut result = UpdateResult::default();
            for name in apps {
                let r = self.update_application(caller, &name, super::apps::Asked::Person).await?;
                result.changed |= !r.result.starts_with("up to date");
                result.image_id = r.image_id;
                result.applications.push(format!("{name}: {}", r.result));
            }
            return Ok(result);
        }
        let old = match self.engine.inspect_image(image.as_str()).await {
            Ok(info) => Some(info),
            Err(Error::ImageNotFound(_)) => None,
            Err(e) => return Err(e),
        };
        let on_old = match &old {
            Some(info) => Outdated::of(self.engine.containers_of(&info.id).await?),
            None => Outdated::default(),
        };
        // An update is a pull: it needs org.atomic.pull as well as install, and polkit is told so.
        let mut details = vec![
            ("image", image.as_str().to_owned()),
            ("operation", "update".to_owned()),
            ("pulls", image.pull_reference()),
        ];
        let mut actions = vec![Action::Install, Action::Pull];
        if force && !on_old.mine.is_empty() {
            details.push((
                "removes",
                on_old.mine.iter().map(|c| format!("container {}", c.name)).collect::<Vec<_>>().join(", "),
            ));
            let others = plan::other_callers(on_old.mine.iter().filter_map(|c| c.owner.as_ref()), caller.uid);
            if let Some(detail) = super::authorize::other_callers_detail(&others) {
                details.push(detail);
                actions.push(Action::ManageAny);
            }
        }
        let borrowed: Vec<(&str, &str)> = details.iter().map(|(k, v)| (*k, v.as_str())).collect();
        for action in actions {
            self.authority.check(caller, action, &borrowed).await?;
        }
        let job = self.jobs.start("Update", image.as_str(), caller, Shown::default()).await;
        self.pull(&image, &job).await?;
        let new = self.engine.inspect_image(image.as_str()).await?;
        let changed = old.as_ref().is_none_or(|o| !same_image(&o.id, &new.id));
        let mut result = UpdateResult {
            old_image_id: old.as_ref().map(|o| o.id.clone()).unwrap_or_default(),
            image_id: new.id.clone(),
            changed,
            ..UpdateResult::default()
        };
        if !changed {
            return Ok(result);
        }
        if force {
            for c in &on_old.mine {
                self.engine.remove(&c.id, true).await?;
                result.removed.push(c.id.clone());
            }
        }
        result.outdated = on_old.names(!force);
        if let (true, Some(old)) = (reinstall, &old) {
            self.reinstall(caller, &image, old, &new, &job, &mut result).await?;
        }
        Ok(result)
    }

    /// The old UNINSTALL label, then the new INSTALL label, each authorized as it runs; the
    /// record moves to the new image only when both exit 0.
    async fn reinstall(
        &self,
        caller: &Caller,
        image: &ImageRef,
        old: &ImageInfo,
        new: &ImageInfo,
        job: &Job,
        result: &mut UpdateResult,
    ) -> Result<()> {
        let Some(record) = self.state.installed()?.into_iter().find(|i| i.image == image.as_str()) else {
            result
                .warnings
                .push(format!("image {:?} is not installed: nothing to reinstall", image.as_str()));
            return Ok(());
        };
        let inputs = LabelInputs { name: Some(record.name.clone()), ..LabelInputs::default() };
        let name = container_name(image, &inputs, false)?;
        let vars = vars(caller, image, &name, &inputs)?;
        let steps = [
            (LabelKind::Uninstall, Operation::Uninstall, old),
            (LabelKind::Install, Operation::Install, new),
        ];
        for (kind, operation, info) in steps {
            let Some(mut plan) = plan::install_line(operation, kind, image.clone(), info, &vars, &[])? else {
                continue;
            };
            self.judge_signature(&mut plan, info, false).await?;
            let code = self.run_line(caller, &plan, job).await?;
            if code != 0 {
                result.warnings.push(format!(
                    "the {} label exited with {code}; the installation record stays on {}",
                    kind.as_str(),
                    record.image_id
                ));
                return Ok(());
            }
        }
        let _guard = self.state_lock.lock().await;
        let mut records = self.state.installed()?;
        for r in records.iter_mut().filter(|r| r.image == record.image && r.name == record.name) {
            r.image_id = new.id.clone();
            r.installed_at = now();
        }
        self.state.save_installed(&records)?;
        self.changes.note(&[super::Area::Installed]);
        result.reinstalled = true;
        Ok(())
    }

    /// Authorizes one label line and runs it to its end; its exit code.
    async fn run_line(&self, caller: &Caller, plan: &Plan, job: &Job) -> Result<i32> {
        self.authorize(caller, plan).await?;
        let spec = plan.spec.as_ref().ok_or_else(|| Error::Failed("the plan has no line".into()))?;
        job.report(-1.0, &format!("running the {} label", plan.operation.as_str().to_uppercase())).await;
        let id = self.create(caller, plan, spec, None, StreamSetup::default()).await?;
        let (code, _) = self.run_label(&id, true, Default::default(), job).await?;
        Ok(code)
    }
}
