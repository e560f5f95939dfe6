//! What each method of `org.atomic.Manager` does, independent of D-Bus: validate, resolve,
//! authorize, act. The D-Bus layer only translates to and from this.

use std::sync::Arc;

use crate::api::{HostBlock, RunResult, StatusReport};
use crate::caller::Caller;
use crate::engine::{Engine, StreamSetup};
use crate::error::{Error, Result};
use crate::host::HostBackend;
use crate::label::{self, LabelKind, LineMode};
use crate::options::{Kind, Options, Schema};
use crate::polkit::{Action, Authority};
use crate::reference::{validate_container_name, ImageRef};
use crate::runspec::RunSpec;
use crate::state::StateStore;

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
];
/// Install's options.
pub const INSTALL_OPTIONS: Schema = &[
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
}

impl Manager {
    /// A manager over the given engine, authority, host backend and state.
    pub fn new(
        engine: Arc<dyn Engine>,
        authority: Arc<dyn Authority>,
        host: Arc<dyn HostBackend>,
        state: StateStore,
    ) -> Self {
        Manager {
            engine,
            authority,
            host,
            state,
        }
    }

    /// The engine, for the availability monitor.
    pub fn engine(&self) -> &Arc<dyn Engine> {
        &self.engine
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
        let name = match options.string("name") {
            Some(n) => {
                validate_container_name(n)?;
                n.to_owned()
            }
            None if spc => format!("{}-spc", image.default_name()),
            None => image.default_name().to_owned(),
        };
        let mode = LineMode {
            tty: options.flag("tty"),
            detach: options.flag("detach"),
        };

        let info = self.engine.inspect_image(image.as_str()).await?;
        let argv = if spc {
            label::spc_line(
                image.as_str(),
                &name,
                mode,
                label::host_has_selinux(),
                &command,
            )
        } else if let Some(line) = label::find_label(&info.labels, LabelKind::Run) {
            return Err(Error::UnsupportedLabel(format!(
                "image {:?} has a RUN label ({line:?}); running labels is not implemented yet",
                image.as_str()
            )));
        } else {
            label::default_line(image.as_str(), &name, mode, &command)
        };
        let spec = RunSpec::from_argv(&argv)?;
        let privileges = spec.host_privileges();
        let mut result = RunResult {
            command: argv,
            name: spec.name.clone(),
            privileges,
            ..RunResult::default()
        };
        if options.flag("display") {
            return Ok(result);
        }

        let action = if result.privileges.is_empty() {
            Action::Run
        } else {
            Action::RunPrivileged
        };
        let shown = label::display_line(&result.command);
        self.authority
            .check(
                caller,
                action,
                &[("image", image.as_str()), ("command", &shown)],
            )
            .await?;
        tracing::info!(image = image.as_str(), uid = caller.uid, command = %shown, "run");

        let id = self.engine.create(&spec, StreamSetup::default()).await?;
        result.container_id = Some(id.clone());
        if let Err(e) = self.engine.start(&id).await {
            // A container that never started is of no use to anyone; do not leave it behind.
            let _ = self.engine.remove(&id, true).await;
            return Err(e);
        }
        if spec.detach {
            return Ok(result);
        }
        let waited = self.engine.wait(&id).await;
        let output = self.engine.output_tail(&id, OUTPUT_LIMIT).await;
        if spec.remove {
            self.engine.remove(&id, true).await?;
        }
        let code = waited?;
        result.exit_code = Some(i32::try_from(code).unwrap_or(i32::MAX));
        result.output = Some(output?);
        Ok(result)
    }

    /// A guarded method whose issue has not landed: authorized like the real one, then refused plainly.
    pub async fn not_implemented<T>(
        &self,
        caller: &Caller,
        action: Action,
        method: &str,
    ) -> Result<T> {
        self.authority.check(caller, action, &[]).await?;
        Err(Error::not_implemented(method))
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
