//! One plan per call: the image (reference and ID), the line parsed once, what it may do to the
//! host, and the container it creates, starts, execs into or replaces. Display, authorization,
//! the job and the engine calls all read this plan; nothing re-resolves or edits the line.
//!
//! Planning is pure: the manager looks up the image and any container of the line's name, and
//! hands them in.

use crate::engine::{same_image, ContainerInfo, ContainerSummary, ImageInfo};
use crate::error::{Error, Result};
use crate::label::{self, ImageRef, LabelKind, LineMode, RunSpec, Vars};

/// Which method the plan is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Operation {
    /// Run
    Run,
    /// Install
    Install,
    /// Uninstall
    Uninstall,
    /// Stop (shown by Info; not run yet)
    Stop,
    /// Help: the HELP label, authorized as a Run of its line
    Help,
    /// An application's RUN line, installed as a service (authorized as an Install)
    Service,
}

impl Operation {
    /// The method's name, as jobs and ownership labels record it.
    pub fn as_str(self) -> &'static str {
        match self {
            Operation::Run => "Run",
            Operation::Install => "Install",
            Operation::Uninstall => "Uninstall",
            Operation::Stop => "Stop",
            Operation::Help => "Help",
            Operation::Service => "Service",
        }
    }
}

/// What the call does with containers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    /// Create the line's container and run it, after removing `replacing` (atomicd's own, from
    /// the same image).
    Create {
        /// The container `replace` removes first.
        replacing: Option<String>,
    },
    /// Start atomicd's stopped container again.
    Start {
        /// Its id.
        id: String,
        /// It keeps its stdin open, so the caller's stdin can be attached.
        stdin: bool,
        /// It has a terminal.
        tty: bool,
        /// The caller follows it to its end (`docker start -a`); a detached Run only starts it.
        attach: bool,
    },
    /// Run a command in atomicd's container, starting it first when it is stopped.
    Exec {
        /// Its id.
        id: String,
        /// Whether it must be started first.
        start_first: bool,
        /// The command.
        command: Vec<String>,
        /// Start it and return, as `docker exec -d`.
        detach: bool,
    },
    /// The container already runs and no command was given: nothing to do.
    AlreadyRunning {
        /// Its id.
        id: String,
    },
    /// No line to run (Uninstall of an image without UNINSTALL label, or not installed).
    Nothing,
}

/// Everything one call will do, resolved once.
#[derive(Debug, Clone)]
pub struct Plan {
    /// The method.
    pub operation: Operation,
    /// The image as the caller wrote it.
    pub image: ImageRef,
    /// The image ID inspected now: the one that is authorized and created from.
    pub image_id: String,
    /// The parsed line (`None` when nothing is created).
    pub spec: Option<RunSpec>,
    /// The words shown to people and to polkit: the line, or the start/exec it comes down to.
    pub argv: Vec<String>,
    /// The container name, when there is one.
    pub name: Option<String>,
    /// What the container may do to the host; any entry needs `org.atomic.run-privileged`.
    pub privileges: Vec<String>,
    /// Things the caller should know (variables that expanded to nothing, ...).
    pub warnings: Vec<String>,
    /// The env files the line reads, which the caller must send.
    pub env_files: Vec<String>,
    /// What happens to containers.
    pub step: Step,
    /// atomicd's containers the call removes besides (Uninstall).
    pub removes: Vec<ContainerSummary>,
    /// Whether the call removes the image (Uninstall without keep-image).
    pub removes_image: bool,
    /// Whether the image it removes is one atomicd did not install (Uninstall with force).
    pub removes_uninstalled_image: bool,
    /// The callers (uids) other than this one whose containers the call execs into, starts,
    /// replaces, stops or removes: any of them needs `org.atomic.manage-any`.
    pub other_callers: Vec<u32>,
    /// What the signature policy says of the image that runs, decided before polkit is asked.
    pub signature: Option<crate::trust::Verdict>,
    /// The unit of an application the call installs or removes (`atomic-app-NAME.service`).
    pub service: Option<String>,
}

/// Run's inputs to planning.
#[derive(Debug, Clone, Copy)]
pub struct RunShape<'a> {
    /// `spc`
    pub spc: bool,
    /// A terminal is attached and the line is not detached.
    pub mode: LineMode,
    /// The caller's command words.
    pub command: &'a [String],
    /// `replace`
    pub replace: bool,
    /// Whether this host mounts SELinux (the SPC line then shares it read-only).
    pub selinux: bool,
}

/// The plan of one line. `after_image` are the caller's words (Run's command, Install's and
/// Uninstall's arguments): the line is read without them first, so wherever the line ends they
/// become words after its image, never a flag or the value of one.
fn from_line(
    operation: Operation,
    image: ImageRef,
    info: &ImageInfo,
    mut argv: Vec<String>,
    after_image: &[String],
    warnings: Vec<String>,
    labelled: bool,
) -> Result<Plan> {
    let mut spec = RunSpec::from_argv(&argv)?;
    argv.extend(after_image.iter().cloned());
    spec.command.extend(after_image.iter().cloned());
    // The line's image word is where the caller's IMAGE was substituted; `$OPT1` or a hard-coded
    // name must not move what runs away from what was inspected and authorized.
    if labelled && spec.image != image.as_str() {
        return Err(Error::UnsupportedLabel(format!(
            "the line runs image {:?}, not the image it was resolved for ({:?}); write IMAGE in the label",
            crate::text::truncate_for_message(&spec.image),
            image.as_str()
        )));
    }
    Ok(Plan {
        operation,
        image,
        image_id: info.id.clone(),
        name: spec.name.clone(),
        privileges: spec.privileges.clone(),
        env_files: spec.env_files.clone(),
        spec: Some(spec),
        argv,
        warnings,
        step: Step::Create { replacing: None },
        removes: Vec::new(),
        removes_image: false,
        removes_uninstalled_image: false,
        other_callers: Vec::new(),
        signature: None,
        service: None,
    })
}

/// Plans a Run before looking at any existing container of the line's name.
pub(super) fn run(image: ImageRef, info: &ImageInfo, vars: &Vars, shape: RunShape<'_>) -> Result<Plan> {
    let name = vars.name.as_str();
    if shape.spc {
        let argv = label::spc_line(image.as_str(), name, shape.mode, shape.selinux, &[]);
        return from_line(Operation::Run, image, info, argv, shape.command, Vec::new(), false);
    }
    match label::find_label(&info.labels, LabelKind::Run) {
        Some(line) => {
            run_opts_sent(&info.labels, line, vars)?;
            let resolved = label::resolve(line, vars, &[])?;
            let as_written = RunSpec::from_argv(&resolved.argv)?;
            let argv = label::apply_mode(resolved.argv, shape.mode, &as_written);
            from_line(Operation::Run, image, info, argv, shape.command, resolved.warnings, true)
        }
        None => {
            let argv = label::default_line(image.as_str(), name, shape.mode, &[]);
            from_line(Operation::Run, image, info, argv, shape.command, Vec::new(), false)
        }
    }
}

/// A RUN line that takes `${RUN_OPTS}` from the image's RUN_OPTS_FILE needs the caller to have
/// read that file (atomicd reads no files for callers): RunOptsNeeded names it, resolved with
/// the call's variables, before anything is judged. Without a RUN_OPTS_FILE label the variable
/// is only unset.
fn run_opts_sent(labels: &std::collections::HashMap<String, String>, line: &str, vars: &Vars) -> Result<()> {
    if vars.run_opts.is_some() || !label::mentions_run_opts(line) {
        return Ok(());
    }
    let Some(file) = label::find_label(labels, LabelKind::RunOptsFile) else { return Ok(()) };
    let words = label::resolve(file, vars, &[])?.argv;
    let [path] = words.as_slice() else {
        return Err(Error::UnsupportedLabel(format!(
            "the RUN_OPTS_FILE label {:?} must name one file",
            crate::text::truncate_for_message(file)
        )));
    };
    Err(Error::RunOptsNeeded(
        format!(
            "the RUN label takes ${{RUN_OPTS}} from {}: read it and call again with run-opts",
            crate::text::visible(path)
        ),
        path.clone(),
    ))
}

/// Plans the RUN line an application runs as a service, resolved with the Install's variables
/// and without any mode of a caller's terminal: `None` when the image has no RUN label.
pub(super) fn service_line(image: ImageRef, info: &ImageInfo, vars: &Vars) -> Result<Option<Plan>> {
    let Some(line) = label::find_label(&info.labels, LabelKind::Run) else { return Ok(None) };
    let resolved = label::resolve(line, vars, &[])?;
    from_line(Operation::Service, image, info, resolved.argv, &[], resolved.warnings, true).map(Some)
}

/// Plans an Install, Uninstall or Stop line with the caller's `args` after its image; `None`
/// when the image has no such label.
pub(super) fn install_line(
    operation: Operation,
    kind: LabelKind,
    image: ImageRef,
    info: &ImageInfo,
    vars: &Vars,
    args: &[String],
) -> Result<Option<Plan>> {
    let Some(line) = label::find_label(&info.labels, kind) else { return Ok(None) };
    let resolved = label::resolve(line, vars, &[])?;
    from_line(operation, image, info, resolved.argv, args, resolved.warnings, true).map(Some)
}

/// What a container's host configuration lets it do, judged by the line table; a configuration
/// the table cannot read counts as reaching the host.
pub(super) fn judge_container(c: &ContainerInfo) -> Vec<String> {
    let mut argv: Vec<String> = vec!["docker".into(), "run".into()];
    argv.extend(c.host_flags.iter().cloned());
    argv.push(c.image_id.clone());
    match RunSpec::from_argv(&argv) {
        Ok(spec) => spec.privileges,
        Err(e) => vec![format!("has a host configuration atomicd cannot judge ({e})")],
    }
}

impl Plan {
    /// A plan that runs no line (Uninstall of an image without one, or not installed).
    pub fn nothing(operation: Operation, image: ImageRef, image_id: &str) -> Plan {
        Plan {
            operation,
            image,
            image_id: image_id.to_owned(),
            spec: None,
            argv: Vec::new(),
            name: None,
            privileges: Vec::new(),
            warnings: Vec::new(),
            env_files: Vec::new(),
            step: Step::Nothing,
            removes: Vec::new(),
            removes_image: false,
            removes_uninstalled_image: false,
            other_callers: Vec::new(),
            signature: None,
            service: None,
        }
    }

    /// Notes that the call touches containers these owners made: another caller's needs
    /// manage-any.
    pub fn touches<'a>(
        &mut self,
        owners: impl IntoIterator<Item = &'a crate::label::Ownership>,
        caller_uid: u32,
    ) {
        self.other_callers.extend(other_callers(owners, caller_uid));
        self.other_callers.sort_unstable();
        self.other_callers.dedup();
    }

    /// The files the line reads that the caller did not send are EnvFilesNeeded, before anything
    /// is authorized; nothing of their contents is read yet.
    pub fn env_files_sent(&self, sent: &std::collections::HashMap<String, String>) -> Result<()> {
        match self.spec.as_ref() {
            Some(spec) => spec.env_files_sent(sent),
            None => Ok(()),
        }
    }

    /// Puts the contents of the env files the caller sent into the line, once polkit allowed it:
    /// they change nothing polkit is shown, and nothing large is held across its answer.
    pub fn resolve_env_files(&mut self, sent: &std::collections::HashMap<String, String>) -> Result<()> {
        match self.spec.as_mut() {
            Some(spec) => spec.resolve_env_files(sent),
            None => Ok(()),
        }
    }

    /// What the job shows of this plan.
    pub fn shown(&self) -> super::jobs::Shown {
        super::jobs::Shown {
            command: self.argv.clone(),
            privileges: self.privileges.clone(),
            signature: self.signature.as_ref().map(crate::trust::Verdict::shown).unwrap_or_default(),
        }
    }

    /// Settles what happens to an existing container of the line's name. Only atomicd's own
    /// containers are touched, and starting or exec'ing into one is judged by what that
    /// container may do, not by the line; one another caller made needs manage-any besides.
    pub fn against(
        mut self,
        existing: Option<ContainerInfo>,
        shape: RunShape<'_>,
        caller_uid: u32,
    ) -> Result<Plan> {
        let Some(c) = existing else { return Ok(self) };
        let Some(owner) = &c.owner else {
            return Err(Error::Failed(format!(
                "container {:?} exists and was not made by atomicd, which does not touch it; remove or \
                 rename it with the engine's own tools, or pass another name",
                c.name
            )));
        };
        let same = same_image(&c.image_id, &self.image_id) || owner.image == self.image.as_str();
        if !same {
            return Err(Error::Failed(format!(
                "container {:?} was made by atomicd from image {:?}, not {:?}; uninstall that image or pass \
                 another name (replace removes only a container of the same image)",
                c.name,
                owner.image,
                self.image.as_str()
            )));
        }
        let running_already = shape.command.is_empty() && c.running;
        if shape.replace || !running_already {
            // Nothing is done to a container that already runs when no command was given.
            self.touches([owner], caller_uid);
        }
        if shape.replace {
            self.step = Step::Create { replacing: Some(c.id) };
            return Ok(self);
        }
        let tty = if shape.mode.tty { vec!["-t".to_owned()] } else { Vec::new() };
        // A line that says `-d` (the label's own or the caller's detach) made a container nobody
        // follows: starting it again returns once it runs, as its first Run did.
        let detached_line = shape.mode.detach || self.spec.as_ref().is_some_and(|spec| spec.detach);
        // What runs is the container's own image, which a re-tag may have left behind: that is
        // the image shown, authorized and verified.
        self.image_id = c.image_id.clone();
        self.privileges = judge_container(&c);
        self.spec = None;
        self.env_files.clear();
        (self.argv, self.step) = match (shape.command.is_empty(), c.running) {
            (true, true) => {
                self.warnings.push(format!("container {:?} is already running", c.name));
                (Vec::new(), Step::AlreadyRunning { id: c.id })
            }
            (true, false) => {
                let attach = !detached_line;
                let argv = if attach {
                    words(&["docker", "start", "--attach", &c.name])
                } else {
                    words(&["docker", "start", &c.name])
                };
                (argv, Step::Start { id: c.id, stdin: c.open_stdin, tty: c.tty, attach })
            }
            (false, running) => {
                if !running {
                    self.warnings.push(format!("container {:?} is stopped: it is started first", c.name));
                }
                let detach = shape.mode.detach;
                let mut argv =
                    if detach { words(&["docker", "exec", "-d"]) } else { words(&["docker", "exec", "-i"]) };
                if !detach {
                    argv.extend(tty);
                }
                argv.push(c.name.clone());
                argv.extend(shape.command.iter().cloned());
                let command = shape.command.to_vec();
                (argv, Step::Exec { id: c.id, start_first: !running, command, detach })
            }
        };
        Ok(self)
    }
}

/// The uids among `owners` other than `caller_uid`, sorted, each once: the callers whose
/// containers a call touches, for which it needs `org.atomic.manage-any`.
pub(super) fn other_callers<'a>(
    owners: impl IntoIterator<Item = &'a crate::label::Ownership>,
    caller_uid: u32,
) -> Vec<u32> {
    let mut uids: Vec<u32> = owners.into_iter().map(|o| o.caller_uid).filter(|u| *u != caller_uid).collect();
    uids.sort_unstable();
    uids.dedup();
    uids
}

fn words(w: &[&str]) -> Vec<String> {
    w.iter().map(|s| (*s).to_owned()).collect()
}

#[cfg(test)]
mod tests;
