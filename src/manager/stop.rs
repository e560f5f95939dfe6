//! Stop: a container atomicd made is stopped by its image's STOP label when it has one (as the
//! original `atomic stop` did), else by the engine with a grace period; anything else is not
//! atomicd's to stop, and another caller's needs `org.atomic.manage-any` besides.

use super::plan::{self, Operation, Plan};
use super::request::LabelInputs;
use super::{vars, Manager};
use crate::engine::StreamSetup;
use crate::error::Result;
use crate::label::{ImageRef, LabelKind};
use crate::system::caller::Caller;
use crate::wire::results::StopResult;

/// How long a stop waits for the container before SIGKILL, by default (docker stop's 10 s).
pub(crate) const DEFAULT_STOP_TIMEOUT: u32 = 10;

impl Manager {
    /// Stop NAME: authorized as `org.atomic.stop` (and `run-privileged` for a STOP line that
    /// reaches the host); `display` only resolves.
    pub async fn stop(
        &self,
        caller: &Caller,
        name: &str,
        timeout: u32,
        display: bool,
        inputs: LabelInputs,
    ) -> Result<StopResult> {
        let (container, owner) = self.atomicd_s(name, "stop").await?;
        let image = ImageRef::parse(&owner.image)?;
        let info = self.engine.inspect_image(&container.image_id).await?;
        let inputs = LabelInputs { name: Some(name.to_owned()), ..inputs };
        let vars = vars(caller, &image, name, &inputs)?;
        let labelled =
            plan::install_line(Operation::Stop, LabelKind::Stop, image.clone(), &info, &vars, &[])?;
        let mut plan = labelled.unwrap_or_else(|| {
            let mut plain = Plan::nothing(Operation::Stop, image, &container.image_id);
            plain.argv = ["docker", "stop", "-t", &timeout.to_string(), name].map(String::from).to_vec();
            plain
        });
        plan.name = Some(name.to_owned());
        plan.touches([&owner], caller.uid);
        self.judge_signature(&mut plan, &info, display).await?;
        let mut result = StopResult { command: plan.argv.clone(), ..StopResult::default() };
        if display {
            return Ok(result);
        }
        plan.env_files_sent(&inputs.env_files)?;
        self.authorize(caller, &plan).await?;
        plan.resolve_env_files(&inputs.env_files)?;
        let job = self.start_job(caller, &plan).await;
        let Some(spec) = plan.spec.as_ref() else {
            job.report(-1.0, &format!("stopping {name}")).await;
            self.engine.stop(&container.id, timeout).await?;
            result.exit_code = Some(0);
            return Ok(result);
        };
        job.report(-1.0, "running the STOP label").await;
        // The STOP line runs as a container of its own, like an INSTALL line.
        let id = self.create(caller, &plan, spec, None, StreamSetup::default()).await?;
        self.start_or_discard(&id, true).await?;
        let (code, output) =
            if spec.detach { (0, String::new()) } else { self.finish(&id, spec.remove, &job).await? };
        result.exit_code = Some(code);
        result.output = Some(output);
        Ok(result)
    }
}
