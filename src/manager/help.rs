//! Help: an image's HELP label run as a Run of that line (one plan, authorized as Run), or, with
//! no HELP label, its `/help.1` man page read out of a container atomicd creates and removes at
//! once, never starting it. An image with neither has no help, which is LabelMissing.

use super::plan::{self, Operation, Plan};
use super::request::HelpRequest;
use super::{container_name, vars, Manager};
use crate::engine::{CreateRequest, ImageInfo, StreamSetup};
use crate::error::{Error, Result};
use crate::label::{ImageRef, LabelKind, Ownership, RunSpec};
use crate::system::caller::Caller;
use crate::wire::results::HelpResult;

/// Where the original `atomic help` looked for a man page in an image.
pub(crate) const MAN_PAGE_PATH: &str = "/help.1";
/// The largest man page atomicd reads out of an image: real ones are a few KiB, and the image's
/// author chooses the size.
pub(crate) const MAN_PAGE_MAX: usize = 1024 * 1024;

impl Manager {
    /// Help: the HELP label's output, or the image's man page.
    pub async fn help(&self, caller: &Caller, request: HelpRequest) -> Result<HelpResult> {
        let HelpRequest { image, inputs, fds } = request;
        let image = ImageRef::parse(&image)?;
        let name = container_name(&image, &inputs, false)?;
        let vars = vars(caller, &image, &name, &inputs)?;
        let info = self.engine.inspect_image(image.as_str()).await?;
        let Some(mut plan) =
            plan::install_line(Operation::Help, LabelKind::Help, image.clone(), &info, &vars, &[])?
        else {
            return self.man_page(caller, image, &info).await;
        };
        self.judge_signature(&mut plan, &info, false).await?;
        plan.env_files_sent(&inputs.env_files)?;
        self.authorize(caller, &plan).await?;
        plan.resolve_env_files(&inputs.env_files)?;
        let job = self.start_job(caller, &plan).await;
        let (code, output) = self.run_plan_line(caller, &plan, fds, &job).await?;
        Ok(HelpResult {
            command: plan.argv.clone(),
            exit_code: Some(code),
            output,
            privileges: plan.privileges.clone(),
            warnings: plan.warnings.clone(),
            ..HelpResult::default()
        })
    }

    /// The image's `/help.1`, authorized as a Run of the image that runs nothing: the container
    /// it is read from is created, read through the archive API and removed, never started.
    async fn man_page(&self, caller: &Caller, image: ImageRef, info: &ImageInfo) -> Result<HelpResult> {
        let mut plan = Plan::nothing(Operation::Help, image, &info.id);
        plan.argv = ["read", MAN_PAGE_PATH, "from"].map(String::from).to_vec();
        plan.argv.push(info.id.clone());
        self.judge_signature(&mut plan, info, false).await?;
        self.authorize(caller, &plan).await?;
        // Never started: the command only satisfies an engine that wants one for an image
        // without CMD. No network, nothing from the host.
        let line: Vec<String> =
            ["docker", "run", "--network", "none", &info.id, MAN_PAGE_PATH].map(String::from).to_vec();
        let spec = RunSpec::from_argv(&line)?;
        let owner = Ownership {
            image: plan.image.as_str().to_owned(),
            image_id: info.id.clone(),
            operation: Operation::Help.as_str().to_owned(),
            caller_uid: caller.uid,
            privileged: Some(false),
            remove: true,
            ..Ownership::default()
        };
        let request =
            CreateRequest { spec: &spec, image_id: &info.id, owner: &owner, streams: StreamSetup::default() };
        let id = self.engine.create(request).await?;
        let read = self.engine.read_file(&id, MAN_PAGE_PATH, MAN_PAGE_MAX).await;
        let removed = self.engine.remove(&id, true).await;
        let page = read?.ok_or_else(|| {
            Error::LabelMissing(format!(
                "There is no help for {}: it has no HELP label and no {MAN_PAGE_PATH}",
                crate::text::visible(plan.image.as_str())
            ))
        })?;
        if let Err(e) = removed {
            tracing::warn!(container = %id, "read {MAN_PAGE_PATH}, but cannot remove its container: {e}");
        }
        Ok(HelpResult {
            command: plan.argv.clone(),
            man_page: Some(String::from_utf8_lossy(&page).into_owned()),
            ..HelpResult::default()
        })
    }
}
