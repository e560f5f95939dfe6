//! Install and Uninstall: pull when missing, plan the INSTALL or UNINSTALL line, authorize it
//! (with `run-privileged` when the line reaches the host), run it, and keep the records whole.

use super::jobs::Job;
use super::plan::{self, Operation, Plan};
use super::request::{InstallRequest, UninstallRequest};
use super::{container_name, now, vars, Manager};
use crate::engine::{ContainerSummary, StreamSetup};
use crate::error::{Error, Result};
use crate::label::{ImageRef, LabelKind};
use crate::system::caller::Caller;
use crate::system::polkit::Action;
use crate::system::state::Installation;
use crate::wire::results::{InstallResult, UninstallResult};

impl Manager {
    /// Install: pull when missing, run the INSTALL label, record the installation; with
    /// `service` (or the image's `org.atomic.service=true`) the RUN line is recorded too and
    /// runs from an enabled unit.
    pub async fn install(&self, caller: &Caller, request: InstallRequest) -> Result<InstallResult> {
        let InstallRequest { image, args, display, pull, service, inputs, fds } = request;
        let image = ImageRef::parse(&image)?;
        let name = container_name(&image, &inputs, false)?;
        let vars = vars(caller, &image, &name, &inputs)?;
        // One job for the whole call: started by the pull when there is one.
        let mut pulled_by = None;
        let info = match self.engine.inspect_image(image.as_str()).await {
            Err(Error::ImageNotFound(_)) if !display && pull => {
                let (info, job) =
                    self.fetch(caller, &image, &[Action::Install, Action::Pull], "Install").await?;
                pulled_by = Some(job);
                info
            }
            other => other?,
        };
        let mut service = match super::apps::wants_service(service, &info.labels) {
            true => Some(self.plan_service(&image, &info, &vars, &name).await?),
            false => None,
        };
        let line =
            plan::install_line(Operation::Install, LabelKind::Install, image.clone(), &info, &vars, &args)?;
        let mut plan = match (line, &service) {
            (Some(plan), _) => plan,
            // A service needs no INSTALL label: its RUN line is what is installed.
            (None, Some(_)) => Plan::nothing(Operation::Install, image, &info.id),
            (None, None) => {
                return Err(Error::LabelMissing(format!("image {:?} has no INSTALL label", vars.image)))
            }
        };
        self.judge_signature(&mut plan, &info, display).await?;
        if let Some(service) = service.as_mut() {
            self.judge_signature(service, &info, display).await?;
        }
        let mut result = InstallResult::from(&plan);
        result.name = name.clone();
        if let Some(service) = &service {
            result.service = service.service.clone();
            result.service_command = service.argv.clone();
            result.service_privileges = service.privileges.clone();
            result.warnings.extend(service.warnings.iter().cloned());
        }
        if display {
            return Ok(result);
        }
        plan.env_files_sent(&inputs.env_files)?;
        if plan.spec.is_some() {
            self.authorize(caller, &plan).await?;
        }
        if let Some(service) = &service {
            self.authorize(caller, service).await?;
        }
        plan.resolve_env_files(&inputs.env_files)?;
        let job = match pulled_by {
            Some(job) => job,
            None => {
                self.start_job(caller, service.as_ref().filter(|_| plan.spec.is_none()).unwrap_or(&plan))
                    .await
            }
        };
        if plan.spec.is_some() {
            let (code, output) = self.run_plan_line(caller, &plan, fds, &job).await?;
            result.exit_code = Some(code);
            result.output = output;
            if code != 0 {
                // The label's own exit code is the call's, as a Run's is; nothing is recorded.
                result.warnings.push(format!(
                    "the INSTALL label of {:?} exited with {code}; nothing was recorded",
                    plan.image.as_str()
                ));
                return Ok(result);
            }
        }
        self.record(caller, &plan, name.clone()).await?;
        self.changes.note(&[super::Area::Installed]);
        if let Some(service) = &service {
            job.report(-1.0, "setting up the unit").await;
            let recorded = super::apps::record::Inputs {
                opts: inputs.opts.clone(),
                pwd: inputs.pwd.clone(),
                sudo_uid: inputs.sudo_uid,
                sudo_gid: inputs.sudo_gid,
            };
            result.warnings.extend(self.install_service(caller, service, &name, recorded).await?);
        }
        Ok(result)
    }

    async fn record(&self, caller: &Caller, plan: &Plan, name: String) -> Result<()> {
        let _guard = self.state_lock.lock().await;
        let mut installed = self.state.installed()?;
        installed.retain(|i| !(i.image == plan.image.as_str() && i.name == name));
        installed.push(Installation {
            image: plan.image.as_str().to_owned(),
            image_id: plan.image_id.clone(),
            name,
            installed_at: now(),
            installed_by: caller.uid,
        });
        self.state.save_installed(&installed).map_err(|e| {
            Error::Failed(format!(
                "the INSTALL label of {:?} ran, but its record was not saved ({e}); the earlier records \
                 are intact. Free the state directory and install again",
                plan.image.as_str()
            ))
        })
    }

    /// Uninstall: run the UNINSTALL label of an installed image, remove atomicd's containers of
    /// it and the image, and drop the record. Containers atomicd did not make are left alone.
    pub async fn uninstall(&self, caller: &Caller, request: UninstallRequest) -> Result<UninstallResult> {
        let UninstallRequest { image, args, display, force, keep_image, inputs, fds } = request;
        let image = ImageRef::parse(&image)?;
        let name = container_name(&image, &inputs, false)?;
        let vars = vars(caller, &image, &name, &inputs)?;
        let info = self.engine.inspect_image(image.as_str()).await?;
        let installed = self.is_installed(&image, &info.id)?;
        let line = plan::install_line(
            Operation::Uninstall,
            LabelKind::Uninstall,
            image.clone(),
            &info,
            &vars,
            &args,
        )?;
        let mut warnings = Vec::new();
        let mut plan = match line {
            Some(plan) if installed || force => plan,
            other => {
                if other.is_some() {
                    warnings.push(format!(
                        "image {:?} has no installation record: its UNINSTALL label was not run (pass force to run it)",
                        image.as_str()
                    ));
                }
                Plan::nothing(Operation::Uninstall, image, &info.id)
            }
        };
        // Only an image atomicd installed is removed, or with force one it did not (polkit is
        // told which); otherwise Uninstall of an image nobody installed would delete any image.
        plan.removes_image = !keep_image && (installed || force);
        plan.removes_uninstalled_image = plan.removes_image && !installed;
        if !keep_image && !plan.removes_image {
            warnings.push(format!(
                "image {:?} was not installed by atomicd, so it stays (pass force to remove it)",
                plan.image.as_str()
            ));
        }
        self.judge_signature(&mut plan, &info, display).await?;
        let mut result = UninstallResult::from(&plan);
        result.warnings.extend(warnings);
        if display {
            return Ok(result);
        }
        plan.env_files_sent(&inputs.env_files)?;
        // What is removed is part of the plan, so polkit is told of it; a refusal to remove
        // (containers still present) is still reported only to a caller polkit allowed.
        let mut containers = self.engine.containers_of(&info.id).await?;
        // An application's container is stopped with its unit, so it does not need force.
        plan.service = self.service_of(&plan.image, &name)?;
        if plan.service.is_some() && !containers.iter().any(|c| c.name == name) {
            // Its container may run another image than the tag names now (a rollback, or an
            // update the tag moved past): atomicd's container of that name is the unit's, and goes.
            let all = self.engine.list_containers().await?;
            containers.extend(all.into_iter().filter(|c| c.name == name && c.owner.is_some()));
        }
        let stops = plan.service.is_some();
        let refusal = match removable_containers(&plan, containers, &name, force, keep_image, stops) {
            Ok(mine) => {
                plan.touches(mine.iter().filter_map(|c| c.owner.as_ref()), caller.uid);
                plan.removes = mine;
                None
            }
            Err(e) => Some(e),
        };
        self.authorize(caller, &plan).await?;
        if let Some(e) = refusal {
            return Err(e);
        }
        plan.resolve_env_files(&inputs.env_files)?;
        // An update's health gate must not roll the application back in while it goes.
        let _claim = match plan.service {
            Some(_) => Some(self.app_claims.claim(&name, "an uninstall")?),
            None => None,
        };
        let job = self.start_job(caller, &plan).await;
        if plan.service.is_some() {
            job.report(-1.0, "stopping and removing the unit").await;
            self.remove_service(&name).await?;
        }
        // The container named NAME goes before the UNINSTALL label runs, the others after it.
        let (named, others): (Vec<_>, Vec<_>) = plan.removes.iter().partition(|c| c.name == name);
        for c in named {
            self.engine.remove(&c.id, true).await?;
            result.removed.push(c.id.clone());
        }
        if let Some(spec) = &plan.spec {
            let id = self.create(caller, &plan, spec, None, StreamSetup::default()).await?;
            // The UNINSTALL container is ours: remove it even without --rm, or it pins the image.
            job.report(-1.0, "running the UNINSTALL label").await;
            let (code, output) = self.run_label(&id, true, fds, &job).await?;
            result.exit_code = Some(code);
            result.output = output;
            if code != 0 {
                // The application says it is not uninstalled: its image and record stay.
                result.warnings.push(format!(
                    "the UNINSTALL label of {:?} exited with {code}; the image, its other containers and \
                     its installation record stay",
                    plan.image.as_str()
                ));
                return Ok(result);
            }
        }
        let others: Vec<String> = others.into_iter().map(|c| c.id.clone()).collect();
        self.remove_uninstalled(&plan, &others, &info.id, &name, &mut result).await?;
        Ok(result)
    }

    /// The end of an Uninstall whose label succeeded (or that had none): the other containers,
    /// the image by the caller's name, and the record go.
    async fn remove_uninstalled(
        &self,
        plan: &Plan,
        containers: &[String],
        image_id: &str,
        name: &str,
        result: &mut UninstallResult,
    ) -> Result<()> {
        for id in containers {
            self.engine.remove(id, true).await?;
            result.removed.push(id.clone());
        }
        if plan.removes_image {
            // By the name the caller gave: other tags of the same image are not ours to drop.
            if self.engine.remove_image(plan.image.as_str()).await? {
                result.removed.push(image_id.to_owned());
            } else {
                result.warnings.push(format!(
                    "image {:?} was untagged; its content stays under its other names",
                    plan.image.as_str()
                ));
            }
        }
        let _guard = self.state_lock.lock().await;
        let mut records = self.state.installed()?;
        records.retain(|i| !((i.image == plan.image.as_str() || i.image_id == image_id) && i.name == name));
        self.state.save_installed(&records)?;
        self.changes.note(&[super::Area::Installed]);
        Ok(())
    }

    /// Pulls with progress reported on `job`; Cancel stops the pull.
    pub(super) async fn pull(&self, image: &ImageRef, job: &Job) -> Result<()> {
        let (control, reports) = job.control();
        let reference = image.pull_reference();
        job.report(-1.0, &format!("pulling {reference}")).await;
        tracing::info!(image = %reference, "pulling");
        // Dropping the pull closes its connection, which is how an engine is told to stop.
        tokio::select! {
            done = job.publish(self.engine.pull(&reference, control.sender()), reports) => done,
            () = job.cancelled() => Err(job.cancelled_error(&format!("pulling {reference}"))),
        }
    }
}

/// atomicd's containers of the image, all of which Uninstall removes; an unmanaged one blocks
/// the image's removal, and a running NAME (unless its unit stops it first) or any other
/// container needs `force`.
fn removable_containers(
    plan: &Plan,
    containers: Vec<ContainerSummary>,
    name: &str,
    force: bool,
    keep_image: bool,
    unit_stops_name: bool,
) -> Result<Vec<ContainerSummary>> {
    let (mine, foreign): (Vec<_>, Vec<_>) = containers.into_iter().partition(|c| c.owner.is_some());
    if !foreign.is_empty() && !keep_image {
        let names: Vec<&str> = foreign.iter().map(|c| c.name.as_str()).collect();
        return Err(Error::Failed(format!(
            "containers not made by atomicd use {:?}: {}; atomicd leaves them alone, so the image cannot be \
             removed (remove them yourself, or pass keep-image)",
            plan.image.as_str(),
            names.join(", ")
        )));
    }
    if !force {
        let others = mine.iter().filter(|c| c.name != name).map(|c| c.name.clone());
        let running = mine
            .iter()
            .filter(|c| c.name == name && c.running && !unit_stops_name)
            .map(|c| format!("{} (running)", c.name));
        let blocking: Vec<String> = others.chain(running).collect();
        if !blocking.is_empty() {
            return Err(Error::Failed(format!(
                "containers of {:?} are still present: {}; pass force to remove them",
                plan.image.as_str(),
                blocking.join(", ")
            )));
        }
    }
    Ok(mine)
}

impl From<&Plan> for InstallResult {
    fn from(plan: &Plan) -> Self {
        InstallResult {
            command: plan.argv.clone(),
            image_id: plan.image_id.clone(),
            privileges: plan.privileges.clone(),
            warnings: plan.warnings.clone(),
            env_files: plan.env_files.clone(),
            signature: plan.signature.as_ref().map(Into::into),
            ..InstallResult::default()
        }
    }
}

impl From<&Plan> for UninstallResult {
    fn from(plan: &Plan) -> Self {
        UninstallResult {
            command: plan.argv.clone(),
            privileges: plan.privileges.clone(),
            warnings: plan.warnings.clone(),
            env_files: plan.env_files.clone(),
            signature: plan.signature.as_ref().map(Into::into),
            ..UninstallResult::default()
        }
    }
}
