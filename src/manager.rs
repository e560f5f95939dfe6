//! What each method of `org.atomic.Manager` does, independent of D-Bus: validate, resolve,
//! authorize, act. The D-Bus layer only translates to and from this.

use std::sync::Arc;

use crate::api::{
    HostBlock, InstallResult, RollbackResult, RunResult, StatusReport, UninstallResult, UpgradeResult,
};
use crate::bridge::{Bridge, CallerFds};
use crate::caller::Caller;
use crate::engine::{same_image, Engine, StreamSetup};
use crate::error::{Error, Result};
use crate::host::HostBackend;
use crate::jobs::{Job, Jobs};
use crate::label::{self, LabelKind, LineMode};
use crate::options::{Kind, Options, Schema};
use crate::polkit::{Action, Authority};
use crate::power::Power;
use crate::reference::{validate_container_name, ImageRef};
use crate::runspec::RunSpec;
use crate::state::{Installation, StateStore};
use crate::substitute::{self, Vars};

/// How much output Run returns when no fds were passed.
pub const OUTPUT_LIMIT: usize = 64 * 1024;
/// Bounds on the command argument list: generous for real use, small enough to refuse abuse.
const MAX_COMMAND_ARGS: usize = 4096;
const MAX_COMMAND_BYTES: usize = 256 * 1024;

/// Run's options (API.md).
pub const RUN_OPTIONS: Schema = &[
    ("spc", Kind::Bool),
    ("name", Kind::Str),
    ("display", Kind::Bool),
    ("detach", Kind::Bool),
    ("replace", Kind::Bool),
    ("opt1", Kind::Str),
    ("opt2", Kind::Str),
    ("opt3", Kind::Str),
    ("stdin", Kind::Fd),
    ("stdout", Kind::Fd),
    ("stderr", Kind::Fd),
    ("tty", Kind::Bool),
    ("tty-size", Kind::Size),
    ("pwd", Kind::Str),
    ("sudo-uid", Kind::U32),
    ("sudo-gid", Kind::U32),
    ("env-files", Kind::StrMap),
];
/// Install's options.
pub const INSTALL_OPTIONS: Schema = &[
    ("env-files", Kind::StrMap),
    ("name", Kind::Str),
    ("display", Kind::Bool),
    ("opt1", Kind::Str),
    ("opt2", Kind::Str),
    ("opt3", Kind::Str),
    ("stdout", Kind::Fd),
    ("stderr", Kind::Fd),
    ("pull", Kind::Bool),
];
/// Uninstall's options.
pub const UNINSTALL_OPTIONS: Schema = &[
    ("env-files", Kind::StrMap),
    ("name", Kind::Str),
    ("display", Kind::Bool),
    ("force", Kind::Bool),
    ("keep-image", Kind::Bool),
    ("opt1", Kind::Str),
    ("opt2", Kind::Str),
    ("opt3", Kind::Str),
    ("stdout", Kind::Fd),
    ("stderr", Kind::Fd),
];
/// HostUpgrade's options.
pub const UPGRADE_OPTIONS: Schema = &[("check", Kind::Bool), ("reboot", Kind::Bool)];
/// Rollback's options.
pub const ROLLBACK_OPTIONS: Schema = &[("reboot", Kind::Bool)];

/// The service's state and collaborators.
pub struct Manager {
    engine: Arc<dyn Engine>,
    authority: Arc<dyn Authority>,
    host: Arc<dyn HostBackend>,
    state: StateStore,
    /// Serialises read-modify-write of the installation records.
    state_lock: tokio::sync::Mutex<()>,
    jobs: Jobs,
    power: Arc<dyn Power>,
    /// One host operation at a time; a second gets Busy.
    host_lock: tokio::sync::Mutex<()>,
}

/// Seconds since the epoch, now.
fn now() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

impl Manager {
    /// A manager over the given engine, authority, host backend and state.
    pub fn new(
        engine: Arc<dyn Engine>,
        authority: Arc<dyn Authority>,
        host: Arc<dyn HostBackend>,
        state: StateStore,
        jobs: Jobs,
        power: Arc<dyn Power>,
    ) -> Self {
        Manager {
            engine,
            authority,
            host,
            state,
            state_lock: tokio::sync::Mutex::new(()),
            jobs,
            power,
            host_lock: tokio::sync::Mutex::new(()),
        }
    }

    /// The engine, for the availability monitor.
    pub fn engine(&self) -> &Arc<dyn Engine> {
        &self.engine
    }

    /// Cancels every running job, for a clean stop.
    pub fn cancel_all_jobs(&self) {
        self.jobs.cancel_all();
    }

    /// The host backend's name.
    pub fn host_backend(&self) -> &'static str {
        self.host.kind().as_str()
    }

    /// Status: open to everyone, changes nothing.
    pub async fn status(&self) -> Result<StatusReport> {
        let engine = self.engine.info().await;
        let deployments = self.host.deployments().await?;
        let installed = self.state.installed()?;
        Ok(StatusReport {
            version: crate::VERSION.to_owned(),
            engine: engine.into(),
            host: HostBlock {
                backend: self.host.kind().as_str().to_owned(),
                deployments: deployments.into_iter().map(Into::into).collect(),
            },
            installed: installed.into_iter().map(Into::into).collect(),
        })
    }

    /// The variables a label of this call may use. `sudo-uid`/`sudo-gid` are the caller's own
    /// ids unless a root caller passes those of its sudo session.
    fn vars(&self, caller: &Caller, image: &ImageRef, name: &str, options: &Options) -> Result<Vars> {
        let (gid, home) = crate::caller::account(caller.uid);
        let sudo = |key: &str, own: Option<u32>| match options.u32(key) {
            Some(_) if caller.uid != 0 => Err(Error::InvalidArgument(format!(
                "option {key:?} may only be set by root (uid {} is not)",
                caller.uid
            ))),
            Some(v) => Ok(Some(v)),
            None => Ok(own),
        };
        Ok(Vars {
            image: image.as_str().to_owned(),
            name: name.to_owned(),
            opts: ["opt1", "opt2", "opt3"].map(|k| options.string(k).map(str::to_owned)),
            pwd: options.string("pwd").map(str::to_owned),
            sudo_uid: sudo("sudo-uid", Some(caller.uid))?,
            sudo_gid: sudo("sudo-gid", gid)?,
            home,
        })
    }

    /// Whether `image` (by name or id) has an installation record.
    fn is_installed(&self, image: &ImageRef, image_id: &str) -> Result<bool> {
        Ok(self.state.installed()?.iter().any(|i| i.image == image.as_str() || i.image_id == image_id))
    }

    /// The container name a call uses: the `name` option, else the image's name (`-spc` added).
    fn container_name(image: &ImageRef, options: &Options, spc: bool) -> Result<String> {
        match options.string("name") {
            Some(n) => {
                validate_container_name(n)?;
                Ok(n.to_owned())
            }
            None if spc => Ok(format!("{}-spc", image.default_name())),
            None => Ok(image.default_name().to_owned()),
        }
    }

    /// Runs a created-and-started container to its end: exit code and output tail; removes it
    /// when `remove`.
    async fn finish(&self, id: &str, remove: bool, job: &Job) -> Result<(i32, String)> {
        let waited = self.wait_or_cancel(id, job).await?;
        let output = self.engine.output_tail(id, OUTPUT_LIMIT).await;
        self.remove_after(id, remove, &waited).await?;
        let code = i32::try_from(waited?).unwrap_or(i32::MAX);
        Ok((code, output?))
    }

    /// Removes a finished container when asked. When the wait itself failed (the engine went
    /// away) that failure is the one to report, so a removal failing for the same cause is not.
    async fn remove_after(&self, id: &str, remove: bool, waited: &Result<i64>) -> Result<()> {
        match (remove, waited) {
            (false, _) => Ok(()),
            (true, Ok(_)) => self.engine.remove(id, true).await,
            (true, Err(_)) => {
                let _ = self.engine.remove(id, true).await;
                Ok(())
            }
        }
    }

    /// Waits for a container, unless the job is cancelled first: then the container is removed
    /// and the call ends with Cancelled.
    async fn wait_or_cancel(&self, id: &str, job: &Job) -> Result<Result<i64>> {
        tokio::select! {
            waited = self.engine.wait(id) => Ok(waited),
            () = job.cancelled() => {
                let _ = self.engine.remove(id, true).await;
                Err(job.cancelled_error("the container"))
            }
        }
    }

    /// Run: resolve the line, authorize it, run it.
    pub async fn run(
        &self,
        caller: &Caller,
        image: &str,
        command: Vec<String>,
        options: Options,
    ) -> Result<RunResult> {
        let image = ImageRef::parse(image)?;
        check_command(&command)?;
        let spc = options.flag("spc");
        let name = Self::container_name(&image, &options, spc)?;
        let mode = LineMode { tty: options.flag("tty"), detach: options.flag("detach") };
        let vars = self.vars(caller, &image, &name, &options)?;

        let info = self.engine.inspect_image(image.as_str()).await?;
        let mut warnings = Vec::new();
        let argv = if spc {
            label::spc_line(image.as_str(), &name, mode, label::host_has_selinux(), &command)
        } else if let Some(line) = label::find_label(&info.labels, LabelKind::Run) {
            let resolved = substitute::resolve(line, &vars, &command)?;
            warnings = resolved.warnings;
            let as_written = RunSpec::from_argv(&resolved.argv)?;
            label::apply_mode(resolved.argv, mode, &as_written)
        } else {
            label::default_line(image.as_str(), &name, mode, &command)
        };
        let mut spec = RunSpec::from_argv(&argv)?;
        let mut result = RunResult {
            command: argv,
            name: spec.name.clone(),
            privileges: spec.host_privileges(),
            warnings,
            ..RunResult::default()
        };
        if options.flag("display") {
            return Ok(result);
        }
        spec.resolve_env_files(&options.str_map("env-files"))?;
        if !spc
            && label::find_label(&info.labels, LabelKind::Install).is_some()
            && !self.is_installed(&image, &info.id)?
        {
            return Err(Error::Failed(format!(
                "image {:?} has an INSTALL label and is not installed: install it first (atomic install {})",
                image.as_str(),
                image.as_str()
            )));
        }

        let action = if result.privileges.is_empty() { Action::Run } else { Action::RunPrivileged };
        let shown = label::display_line(&result.command);
        self.authority.check(caller, action, &[("image", image.as_str()), ("command", &shown)]).await?;
        tracing::info!(image = image.as_str(), uid = caller.uid, command = %shown, "run");
        let mut job = self.jobs.start("Run", image.as_str(), caller).await;

        let fds = CallerFds {
            stdin: options.fd("stdin")?,
            stdout: options.fd("stdout")?,
            stderr: options.fd("stderr")?,
        };
        let attach = !spec.detach && fds.any();
        let streams = StreamSetup { stdin: attach && fds.stdin.is_some(), tty: attach && mode.tty };

        let existing = match &spec.name {
            Some(n) => self.engine.find_container(n).await?,
            None => None,
        };
        let id = match existing {
            Some(old) if options.flag("replace") => {
                self.engine.remove(&old.id, true).await?;
                self.engine.create(&spec, streams).await?
            }
            Some(old) if old.running || !same_image(&old.image_id, &info.id) => {
                let n = spec.name.as_deref().unwrap_or_default();
                let why = if old.running { "is running" } else { "was made from another image" };
                return Err(Error::Failed(format!(
                    "container {n:?} already exists and {why}; pass replace to remove it first"
                )));
            }
            // A stopped container of this image is started again, as `atomic run` did.
            Some(old) => old.id,
            None => self.engine.create(&spec, streams).await?,
        };
        result.container_id = Some(id.clone());
        if attach {
            job.cancel_if_caller_leaves().await;
        }
        let bridge = if attach {
            Some(Bridge::start(self.engine.attach(&id, streams.stdin).await?, fds))
        } else {
            None
        };
        if let Err(e) = self.engine.start(&id).await {
            // A container that never started is of no use to anyone; do not leave it behind.
            let _ = self.engine.remove(&id, true).await;
            return Err(e);
        }
        if let (true, Some((rows, columns))) = (streams.tty, options.size("tty-size")) {
            if let Err(e) = self.engine.resize_tty(&id, rows, columns).await {
                tracing::debug!("initial terminal size: {e}");
            }
        }
        if let (true, Some(mut resizes)) = (streams.tty, job.take_resizes()) {
            // Ends when the job is unexported and its ResizeTty sender dropped.
            let (engine, id) = (self.engine.clone(), id.clone());
            tokio::spawn(async move {
                while let Some((rows, columns)) = resizes.recv().await {
                    let _ = engine.resize_tty(&id, rows, columns).await;
                }
            });
        }
        job.report(-1.0, "running").await;
        if spec.detach {
            return Ok(result);
        }
        match bridge {
            Some(bridge) => {
                // Output went to the caller's fds; none comes back in the result.
                let waited = self.wait_or_cancel(&id, &job).await;
                bridge.finish().await;
                let waited = waited?;
                self.remove_after(&id, spec.remove, &waited).await?;
                result.exit_code = Some(i32::try_from(waited?).unwrap_or(i32::MAX));
            }
            None => {
                let (code, output) = self.finish(&id, spec.remove, &job).await?;
                result.exit_code = Some(code);
                result.output = Some(output);
            }
        }
        Ok(result)
    }

    /// Install: pull when missing, run the INSTALL label, record the installation.
    pub async fn install(&self, caller: &Caller, image: &str, options: Options) -> Result<InstallResult> {
        let image = ImageRef::parse(image)?;
        let name = Self::container_name(&image, &options, false)?;
        let vars = self.vars(caller, &image, &name, &options)?;
        let display = options.flag("display");
        // One job for the whole call: started by the pull when there is one.
        let mut pulled_by = None;
        let info = match self.engine.inspect_image(image.as_str()).await {
            Err(Error::ImageNotFound(_)) if !display && options.flag_or("pull", true) => {
                // The label is unknown until the image is here: authorize the pull by image alone.
                self.authority.check(caller, Action::Install, &[("image", image.as_str())]).await?;
                tracing::info!(image = image.as_str(), uid = caller.uid, "pulling");
                let job = self.jobs.start("Install", image.as_str(), caller).await;
                self.pull(&image, &job).await?;
                pulled_by = Some(job);
                self.engine.inspect_image(image.as_str()).await?
            }
            other => other?,
        };
        let line = label::find_label(&info.labels, LabelKind::Install)
            .ok_or_else(|| Error::LabelMissing(format!("image {:?} has no INSTALL label", image.as_str())))?;
        let resolved = substitute::resolve(line, &vars, &[])?;
        let mut spec = RunSpec::from_argv(&resolved.argv)?;
        let mut result = InstallResult {
            privileges: spec.host_privileges(),
            command: resolved.argv,
            name: name.clone(),
            image_id: info.id.clone(),
            warnings: resolved.warnings,
            ..InstallResult::default()
        };
        if display {
            return Ok(result);
        }
        spec.resolve_env_files(&options.str_map("env-files"))?;
        let shown = label::display_line(&result.command);
        self.authority
            .check(caller, Action::Install, &[("image", image.as_str()), ("command", &shown)])
            .await?;
        tracing::info!(image = image.as_str(), uid = caller.uid, command = %shown, "install");
        let job = match pulled_by {
            Some(job) => job,
            None => self.jobs.start("Install", image.as_str(), caller).await,
        };
        job.report(-1.0, "running the INSTALL label").await;
        let id = self.create_and_start(&spec).await?;
        let (code, output) =
            if spec.detach { (0, String::new()) } else { self.finish(&id, spec.remove, &job).await? };
        if code != 0 {
            let tail: String = output
                .lines()
                .rev()
                .take(5)
                .collect::<Vec<_>>()
                .into_iter()
                .rev()
                .collect::<Vec<_>>()
                .join("\n");
            return Err(Error::Failed(format!(
                "the INSTALL label of {:?} exited with {code}; nothing was recorded. Its last output:\n{tail}",
                image.as_str()
            )));
        }
        let _guard = self.state_lock.lock().await;
        let mut installed = self.state.installed()?;
        installed.retain(|i| !(i.image == image.as_str() && i.name == name));
        installed.push(Installation {
            image: image.as_str().to_owned(),
            image_id: info.id,
            name,
            installed_at: now(),
            installed_by: caller.uid,
        });
        self.state.save_installed(&installed).map_err(|e| {
            Error::Failed(format!(
                "the INSTALL label of {:?} ran, but its record was not saved ({e}); the earlier records \
                 are intact. Free the state directory and install again",
                image.as_str()
            ))
        })?;
        result.exit_code = Some(code);
        result.output = Some(output);
        Ok(result)
    }

    /// Uninstall: run the UNINSTALL label if any, remove the containers and the image, drop the record.
    pub async fn uninstall(&self, caller: &Caller, image: &str, options: Options) -> Result<UninstallResult> {
        let image = ImageRef::parse(image)?;
        let name = Self::container_name(&image, &options, false)?;
        let vars = self.vars(caller, &image, &name, &options)?;
        let info = self.engine.inspect_image(image.as_str()).await?;
        let mut result = UninstallResult::default();
        let mut spec = match label::find_label(&info.labels, LabelKind::Uninstall) {
            Some(line) => {
                let resolved = substitute::resolve(line, &vars, &[])?;
                let spec = RunSpec::from_argv(&resolved.argv)?;
                result.privileges = spec.host_privileges();
                result.command = resolved.argv;
                result.warnings = resolved.warnings;
                Some(spec)
            }
            None => None,
        };
        if options.flag("display") {
            return Ok(result);
        }
        if let Some(spec) = spec.as_mut() {
            spec.resolve_env_files(&options.str_map("env-files"))?;
        }
        let shown = label::display_line(&result.command);
        self.authority
            .check(caller, Action::Uninstall, &[("image", image.as_str()), ("command", &shown)])
            .await?;
        let force = options.flag("force");
        let containers = self.engine.containers_of(&info.id).await?;
        let (named, others): (Vec<_>, Vec<_>) = containers.into_iter().partition(|c| c.name == name);
        if !force {
            let blocking: Vec<String> = others
                .iter()
                .map(|c| c.name.clone())
                .chain(named.iter().filter(|c| c.running).map(|c| format!("{} (running)", c.name)))
                .collect();
            if !blocking.is_empty() {
                return Err(Error::Failed(format!(
                    "containers of {:?} are still present: {}; pass force to remove them",
                    image.as_str(),
                    blocking.join(", ")
                )));
            }
        }
        tracing::info!(image = image.as_str(), uid = caller.uid, command = %shown, "uninstall");
        let job = self.jobs.start("Uninstall", image.as_str(), caller).await;
        for c in &named {
            self.engine.remove(&c.id, true).await?;
            result.removed.push(c.id.clone());
        }
        if let Some(spec) = spec {
            let id = self.create_and_start(&spec).await?;
            // The UNINSTALL container is ours: remove it even without --rm, or it pins the image.
            job.report(-1.0, "running the UNINSTALL label").await;
            let (code, output) = self.finish(&id, true, &job).await?;
            result.exit_code = Some(code);
            result.output = Some(output);
        }
        for c in &others {
            self.engine.remove(&c.id, true).await?;
            result.removed.push(c.id.clone());
        }
        if !options.flag("keep-image") {
            // By the name the caller gave: other tags of the same image are not ours to drop.
            self.engine.remove_image(image.as_str()).await?;
            result.removed.push(info.id.clone());
        }
        let _guard = self.state_lock.lock().await;
        let mut installed = self.state.installed()?;
        installed.retain(|i| !((i.image == image.as_str() || i.image_id == info.id) && i.name == name));
        self.state.save_installed(&installed)?;
        Ok(result)
    }

    /// Pulls with progress reported on `job`; Cancel stops the pull.
    async fn pull(&self, image: &ImageRef, job: &Job) -> Result<()> {
        let (control, reports) = job.control();
        job.report(-1.0, &format!("pulling {}", image.as_str())).await;
        // Dropping the pull closes its connection, which is how an engine is told to stop.
        tokio::select! {
            done = job.publish(self.engine.pull(image.as_str(), control.sender()), reports) => done,
            () = job.cancelled() => Err(job.cancelled_error(&format!("pulling {}", image.as_str()))),
        }
    }

    async fn create_and_start(&self, spec: &RunSpec) -> Result<String> {
        let id = self.engine.create(spec, StreamSetup::default()).await?;
        if let Err(e) = self.engine.start(&id).await {
            // A container that never started is of no use to anyone; do not leave it behind.
            let _ = self.engine.remove(&id, true).await;
            return Err(e);
        }
        Ok(id)
    }

    fn host_busy(&self) -> Result<tokio::sync::MutexGuard<'_, ()>> {
        self.host_lock.try_lock().map_err(|_| {
            Error::Busy("another host operation is running; try again when it has finished".into())
        })
    }

    /// HostUpgrade: authorize, one at a time, upgrade (or only check), reboot when asked.
    pub async fn host_upgrade(&self, caller: &Caller, options: Options) -> Result<UpgradeResult> {
        let check = options.flag("check");
        let details = [("operation", if check { "check" } else { "upgrade" })];
        self.authority.check(caller, Action::HostUpgrade, &details).await?;
        let _busy = self.host_busy()?;
        let job = self.jobs.start("HostUpgrade", "host", caller).await;
        job.report(-1.0, if check { "checking for an update" } else { "upgrading the host" }).await;
        tracing::info!(uid = caller.uid, check, "host upgrade");
        // The backend stops itself on Cancel, so the host lock is held until it really has.
        let (control, reports) = job.control();
        let outcome = job.publish(self.host.upgrade(check, control), reports).await?;
        if outcome.changed && !check && options.flag("reboot") {
            self.power.reboot().await?;
        }
        Ok(UpgradeResult { changed: outcome.changed, deployment: outcome.deployment.map(Into::into) })
    }

    /// Rollback: the previous deployment becomes the default; nothing is deleted.
    pub async fn rollback(&self, caller: &Caller, options: Options) -> Result<RollbackResult> {
        self.authority.check(caller, Action::HostRollback, &[]).await?;
        let _busy = self.host_busy()?;
        let _job = self.jobs.start("Rollback", "host", caller).await;
        tracing::info!(uid = caller.uid, "host rollback");
        let deployment = self.host.rollback().await?;
        if options.flag("reboot") {
            self.power.reboot().await?;
        }
        Ok(RollbackResult { deployment: deployment.into() })
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
