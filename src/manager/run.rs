//! Run: plan the call, authorize the plan, then create and run its container, start atomicd's
//! stopped one again, or exec the command in it.

use super::attach::{Bridge, CallerFds, EXIT_SIGPIPE};
use super::containers::{exit_code, output_tail_of};
use super::jobs::Job;
use super::plan::{self, Plan, RunShape, Step};
use super::request::RunRequest;
use super::{container_name, vars, Manager};
use crate::engine::StreamSetup;
use crate::error::{Error, Result};
use crate::label::{find_label, ImageRef, LabelKind, LineMode, RunSpec};
use crate::system::caller::Caller;
use crate::wire::results::RunResult;

/// Bounds on the command argument list: generous for real use, small enough to refuse abuse.
const MAX_COMMAND_ARGS: usize = 4096;
const MAX_COMMAND_BYTES: usize = 256 * 1024;

/// How a container that is about to start is attached.
struct Attachment {
    fds: CallerFds,
    streams: StreamSetup,
    tty_size: Option<(u16, u16)>,
}

impl Manager {
    /// Run: one plan, authorized as it will run, then carried out.
    pub async fn run(&self, caller: &Caller, request: RunRequest) -> Result<RunResult> {
        let RunRequest { image, command, spc, display, detach, replace, pull, tty, tty_size, inputs, fds } =
            request;
        let image = ImageRef::parse(&image)?;
        check_command(&command)?;
        let name = container_name(&image, &inputs, spc)?;
        let vars = vars(caller, &image, &name, &inputs)?;
        // A missing image is pulled first (its labels are unknown until it is here), as a job
        // of its own; display pulls nothing.
        let info = if display {
            self.image_for_display(&image).await?
        } else {
            self.image_for(caller, &image, pull).await?
        };
        let selinux = std::path::Path::new("/sys/fs/selinux").is_dir();
        let shape = RunShape { spc, mode: LineMode { tty, detach }, command: &command, replace, selinux };
        let planned = plan::run(image, &info, &vars, shape)?;
        let existing = match &planned.name {
            Some(n) if display => self.container_for_display(n).await?,
            Some(n) => {
                // The last Run of this NAME may still be removing its container.
                self.removals.settled(n).await;
                self.engine.find_container(n).await?
            }
            None => None,
        };
        let mut plan = planned.against(existing, shape, caller.uid)?;
        self.judge_signature(&mut plan, &info, display).await?;
        let result = RunResult::from(&plan);
        if display {
            return Ok(result);
        }
        let must_install = !spc && find_label(&info.labels, LabelKind::Install).is_some();
        if must_install && !self.is_installed(&plan.image, &plan.image_id)? {
            return Err(Error::Failed(format!(
                "image {:?} has an INSTALL label and is not installed: install it first (atomic install {})",
                plan.image.as_str(),
                plan.image.as_str()
            )));
        }
        plan.env_files_sent(&inputs.env_files)?;
        self.authorize(caller, &plan).await?;
        plan.resolve_env_files(&inputs.env_files)?;
        let job = self.start_job(caller, &plan).await;
        let attachment = Attachment { fds, streams: StreamSetup { stdin: false, tty }, tty_size };
        self.carry_out(caller, &plan, attachment, job, result).await
    }

    async fn carry_out(
        &self,
        caller: &Caller,
        plan: &Plan,
        mut at: Attachment,
        job: Job,
        mut result: RunResult,
    ) -> Result<RunResult> {
        match &plan.step {
            Step::Create { replacing } => {
                let spec = plan.spec.as_ref().ok_or_else(|| Error::Failed("the plan has no line".into()))?;
                let attach = !spec.detach && at.fds.any();
                at.streams =
                    StreamSetup { stdin: attach && at.fds.stdin.is_some(), tty: attach && at.streams.tty };
                let id = self.create(caller, plan, spec, replacing.as_deref(), at.streams).await?;
                result.container_id = Some(id.clone());
                self.drive(&id, Some(spec), at, job, &mut result).await?;
            }
            Step::Start { id, attach: false, .. } => {
                result.container_id = Some(id.clone());
                self.engine.start(id).await?;
            }
            Step::Start { id, stdin, tty, attach: true } => {
                result.container_id = Some(id.clone());
                let attach = at.fds.any();
                // Its terminal and stdin were settled when it was created: attach what it has.
                at.streams =
                    StreamSetup { stdin: attach && *stdin && at.fds.stdin.is_some(), tty: attach && *tty };
                self.drive(id, None, at, job, &mut result).await?;
            }
            Step::Exec { id, start_first, command, detach } => {
                result.container_id = Some(id.clone());
                if *start_first {
                    self.engine.start(id).await?;
                }
                if *detach {
                    self.engine.exec_detached(id, command).await?;
                    return Ok(result);
                }
                let name = plan.name.as_deref().unwrap_or_default();
                let outcome =
                    self.exec_in(id, command, at.fds, at.streams.tty, &job).await.map_err(|e| match e {
                        Error::EngineError(m) => Error::EngineError(format!(
                            "{m}; to run the line anew in a new {name:?}, pass replace"
                        )),
                        other => other,
                    })?;
                result.exit_code = Some(outcome.code);
                result.output = outcome.output;
            }
            Step::AlreadyRunning { id } => {
                result.container_id = Some(id.clone());
                result.exit_code = Some(0);
            }
            Step::Nothing => {}
        }
        Ok(result)
    }

    /// Attaches (before the start, so nothing is missed), starts, and unless detached follows
    /// the container to its end. `created` is the line the container was just created from: a
    /// failed start removes it, and its `-d`/`--rm` apply; `None` is atomicd's existing container.
    ///
    /// The exit code is read as soon as the attach stream ends (the process has exited), not
    /// when the engine's wait returns: podman answers a wait only after its cleanup process has
    /// run. A `--rm` container is then removed after the reply (see `removals`).
    async fn drive(
        &self,
        id: &str,
        created: Option<&RunSpec>,
        at: Attachment,
        mut job: Job,
        result: &mut RunResult,
    ) -> Result<()> {
        let (detach, remove) = created.map_or((false, false), |spec| (spec.detach, spec.remove));
        let name = created.and_then(|spec| spec.name.clone());
        let created = created.is_some();
        let bridged = !detach && at.fds.any();
        if bridged {
            job.cancel_if_caller_leaves().await;
        }
        let attached = if detach {
            None
        } else {
            match self.engine.attach(id, bridged && at.streams.stdin).await {
                Ok(a) => Some(a),
                Err(e) => {
                    if created {
                        let _ = self.engine.remove(id, true).await;
                    }
                    return Err(e);
                }
            }
        };
        let mut output = attached.map(|a| {
            if bridged {
                Output::Bridged(Bridge::start(a, at.fds))
            } else {
                Output::Collected(a)
            }
        });
        self.start_or_discard(id, created).await?;
        if at.streams.tty {
            self.follow_terminal(id, at.tty_size, &mut job).await;
        }
        job.report(-1.0, "running").await;
        let Some(output) = output.take() else { return Ok(()) };
        let ended = match output {
            Output::Bridged(mut bridge) => {
                let reader_gone = bridge.reader_gone();
                let ended = tokio::select! {
                    // The stream also ends when the bridge stopped reading for a gone reader.
                    () = bridge.output_ended() => bridge.reader_is_gone().then_some(EXIT_SIGPIPE),
                    () = reader_gone => Some(EXIT_SIGPIPE),
                    () = job.cancelled() => {
                        let _ = self.engine.remove(id, true).await;
                        bridge.finish().await;
                        return Err(job.cancelled_error("the container"));
                    }
                };
                if ended.is_some() {
                    // As SIGPIPE ends a pipeline's writer: the container is stopped and removed.
                    let _ = self.engine.remove(id, true).await;
                }
                bridge.finish().await;
                ended
            }
            Output::Collected(attached) => {
                result.output = Some(self.collect(id, attached, &job).await?);
                None
            }
        };
        let code = match ended {
            Some(code) => code,
            None => self.exit_code_after_output(id).await.map(exit_code)?,
        };
        result.exit_code = Some(code);
        if remove && ended.is_none() {
            self.removals.later(self.engine.clone(), id.to_owned(), name);
        }
        Ok(())
    }

    /// The container's output from its attach stream until it ends (its last 64 KiB); on
    /// Cancel the container is removed.
    async fn collect(&self, id: &str, attached: crate::engine::Attached, job: &Job) -> Result<String> {
        match output_tail_of(attached.output, job).await {
            Some(tail) => Ok(tail),
            None => {
                let _ = self.engine.remove(id, true).await;
                Err(job.cancelled_error("the container"))
            }
        }
    }

    /// The exit code once the attach stream has ended: the container's state says it at once;
    /// should the engine still count it as running, its wait decides.
    async fn exit_code_after_output(&self, id: &str) -> Result<i64> {
        match self.engine.exit_code(id).await? {
            Some(code) => Ok(code),
            None => self.engine.wait(id).await,
        }
    }

    /// The image as display shows it: kept from an earlier display while no engine event said
    /// it changed (display authorizes nothing; a real Run always inspects afresh).
    async fn image_for_display(&self, image: &ImageRef) -> Result<crate::engine::ImageInfo> {
        if let Some(info) = self.display_cache.image(image.as_str()) {
            return Ok(info);
        }
        let info = self.engine.inspect_image(image.as_str()).await?;
        self.display_cache.keep_image(image.as_str(), &info);
        Ok(info)
    }

    /// Container `name` as display shows it, kept likewise.
    async fn container_for_display(&self, name: &str) -> Result<Option<crate::engine::ContainerInfo>> {
        if let Some(found) = self.display_cache.container(name) {
            return Ok(found);
        }
        let found = self.engine.find_container(name).await?;
        self.display_cache.keep_container(name, &found);
        Ok(found)
    }

    /// Sets the terminal's first size and follows the caller's ResizeTty calls.
    async fn follow_terminal(&self, id: &str, size: Option<(u16, u16)>, job: &mut Job) {
        if let Some((rows, columns)) = size {
            if let Err(e) = self.engine.resize_tty(id, rows, columns).await {
                tracing::debug!("initial terminal size: {e}");
            }
        }
        if let Some(mut resizes) = job.take_resizes() {
            // Ends when the job is unexported and its ResizeTty sender dropped.
            let (engine, id) = (self.engine.clone(), id.to_owned());
            tokio::spawn(async move {
                while let Some((rows, columns)) = resizes.recv().await {
                    let _ = engine.resize_tty(&id, rows, columns).await;
                }
            });
        }
    }
}

/// Where a waited container's output goes.
enum Output {
    /// To the caller's fds.
    Bridged(Bridge),
    /// Into the result (its last 64 KiB).
    Collected(crate::engine::Attached),
}

impl From<&Plan> for RunResult {
    fn from(plan: &Plan) -> Self {
        RunResult {
            command: plan.argv.clone(),
            name: plan.name.clone(),
            image_id: plan.image_id.clone(),
            privileges: plan.privileges.clone(),
            warnings: plan.warnings.clone(),
            env_files: plan.env_files.clone(),
            signature: plan.signature.as_ref().map(Into::into),
            ..RunResult::default()
        }
    }
}

fn check_command(command: &[String]) -> Result<()> {
    let bytes: usize = command.iter().map(String::len).sum();
    if command.len() > MAX_COMMAND_ARGS || bytes > MAX_COMMAND_BYTES {
        return Err(Error::InvalidArgument(format!(
            "the command has {} arguments and {bytes} bytes; at most {MAX_COMMAND_ARGS} and {MAX_COMMAND_BYTES} are accepted",
            command.len()
        )));
    }
    Ok(())
}
