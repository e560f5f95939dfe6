//! Run: plan the call, authorize the plan, then create and run its container, start atomicd's
//! stopped one again, or exec the command in it.

use super::attach::{Bridge, CallerFds, EXIT_SIGPIPE};
use super::jobs::Job;
use super::plan::{self, Plan, RunShape, Step};
use super::request::RunRequest;
use super::{container_name, vars, Manager};
use crate::dbus::results::RunResult;
use crate::engine::StreamSetup;
use crate::error::{Error, Result};
use crate::label::{find_label, ImageRef, LabelKind, LineMode, RunSpec};
use crate::system::caller::Caller;

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
        let info = self.image_for(caller, &image, pull && !display).await?;
        let selinux = std::path::Path::new("/sys/fs/selinux").is_dir();
        let shape = RunShape { spc, mode: LineMode { tty, detach }, command: &command, replace, selinux };
        let planned = plan::run(image, &info, &vars, shape)?;
        let existing = match &planned.name {
            Some(n) => self.engine.find_container(n).await?,
            None => None,
        };
        let mut plan = planned.against(existing, shape)?;
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
        plan.resolve_env_files(&inputs.env_files)?;
        self.authorize(caller, &plan).await?;
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
            Step::Start { id, stdin, tty } => {
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

    /// Attaches (before the start, so nothing is missed), starts, and unless detached waits for
    /// the container's end. `created` is the line the container was just created from: a failed
    /// start removes it, and its `-d`/`--rm` apply; `None` is atomicd's existing container.
    async fn drive(
        &self,
        id: &str,
        created: Option<&RunSpec>,
        at: Attachment,
        mut job: Job,
        result: &mut RunResult,
    ) -> Result<()> {
        let (detach, remove) = created.map_or((false, false), |spec| (spec.detach, spec.remove));
        let created = created.is_some();
        let attach = !detach && at.fds.any();
        if attach {
            job.cancel_if_caller_leaves().await;
        }
        let bridge = if attach {
            let attached = match self.engine.attach(id, at.streams.stdin).await {
                Ok(a) => a,
                Err(e) if created => {
                    let _ = self.engine.remove(id, true).await;
                    return Err(e);
                }
                Err(e) => return Err(e),
            };
            Some(Bridge::start(attached, at.fds))
        } else {
            None
        };
        self.start_or_discard(id, created).await?;
        if at.streams.tty {
            self.follow_terminal(id, at.tty_size, &mut job).await;
        }
        job.report(-1.0, "running").await;
        if detach {
            return Ok(());
        }
        match bridge {
            Some(bridge) => {
                // Output went to the caller's fds; none comes back in the result.
                let waited = tokio::select! {
                    waited = self.wait_or_cancel(id, &job) => waited,
                    () = bridge.reader_gone() => {
                        // As SIGPIPE ends a pipeline's writer: the container is stopped and removed.
                        let _ = self.engine.remove(id, true).await;
                        bridge.finish().await;
                        result.exit_code = Some(EXIT_SIGPIPE);
                        return Ok(());
                    }
                };
                bridge.finish().await;
                let waited = waited?;
                self.remove_after(id, remove, &waited).await?;
                result.exit_code = Some(i32::try_from(waited?).unwrap_or(i32::MAX));
            }
            None => {
                let (code, output) = self.finish(id, remove, &job).await?;
                result.exit_code = Some(code);
                result.output = Some(output);
            }
        }
        Ok(())
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

impl From<&Plan> for RunResult {
    fn from(plan: &Plan) -> Self {
        RunResult {
            command: plan.argv.clone(),
            name: plan.name.clone(),
            image_id: plan.image_id.clone(),
            privileges: plan.privileges.clone(),
            warnings: plan.warnings.clone(),
            env_files: plan.env_files.clone(),
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
