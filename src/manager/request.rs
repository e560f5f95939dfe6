//! What a caller asked for, typed: the D-Bus surface checks the `a{sv}` options once and hands
//! the manager these, so no rule below reads an option by its key.

use std::collections::HashMap;

use super::attach::CallerFds;

/// The inputs a label's line may use, shared by Run, Install and Uninstall.
#[derive(Debug, Default, Clone)]
pub struct LabelInputs {
    /// `name`: the container name instead of the image's.
    pub name: Option<String>,
    /// `opt1`..`opt3`
    pub opts: [Option<String>; 3],
    /// `pwd`: the caller's working directory, absolute.
    pub pwd: Option<String>,
    /// `sudo-uid` (root callers only).
    pub sudo_uid: Option<u32>,
    /// `sudo-gid` (root callers only).
    pub sudo_gid: Option<u32>,
    /// `env-files`: contents the caller read, by the path the line names.
    pub env_files: HashMap<String, String>,
    /// `run-opts`: the words of the RUN_OPTS_FILE the caller read, for `${RUN_OPTS}` (Run only).
    pub run_opts: Option<Vec<String>>,
}

/// Run's arguments and options.
#[derive(Debug, Default)]
pub struct RunRequest {
    /// The image as the caller wrote it.
    pub image: String,
    /// Words appended to the line, or run in an existing container.
    pub command: Vec<String>,
    /// `spc`
    pub spc: bool,
    /// `display`: resolve only.
    pub display: bool,
    /// `detach`
    pub detach: bool,
    /// `replace`
    pub replace: bool,
    /// `pull`: pull a missing image first.
    pub pull: bool,
    /// `tty`
    pub tty: bool,
    /// `tty-size`
    pub tty_size: Option<(u16, u16)>,
    /// The line's inputs.
    pub inputs: LabelInputs,
    /// `stdin`, `stdout`, `stderr`
    pub fds: CallerFds,
}

/// Install's arguments and options.
#[derive(Debug, Default)]
pub struct InstallRequest {
    /// The image as the caller wrote it.
    pub image: String,
    /// `args`: words after the label's image, as `atomic install IMAGE ARG...` gives them.
    pub args: Vec<String>,
    /// `display`
    pub display: bool,
    /// `pull` (default true).
    pub pull: bool,
    /// `service`: install the RUN line as a service (absent: the image's label decides).
    pub service: Option<bool>,
    /// The line's inputs.
    pub inputs: LabelInputs,
    /// `stdout`, `stderr`: where the INSTALL label's output goes as it comes.
    pub fds: CallerFds,
}

/// Help's arguments and options.
#[derive(Debug, Default)]
pub struct HelpRequest {
    /// The image as the caller wrote it.
    pub image: String,
    /// The HELP line's inputs.
    pub inputs: LabelInputs,
    /// `stdout`, `stderr`: where the HELP label's output goes as it comes.
    pub fds: CallerFds,
}

/// Uninstall's arguments and options.
#[derive(Debug, Default)]
pub struct UninstallRequest {
    /// The image as the caller wrote it.
    pub image: String,
    /// `args`: words after the label's image, as `atomic uninstall IMAGE ARG...` gives them.
    pub args: Vec<String>,
    /// `display`
    pub display: bool,
    /// `force`: remove running containers, and run the UNINSTALL label of an image that has no
    /// installation record.
    pub force: bool,
    /// `keep-image`
    pub keep_image: bool,
    /// The line's inputs.
    pub inputs: LabelInputs,
    /// `stdout`, `stderr`: where the UNINSTALL label's output goes as it comes.
    pub fds: CallerFds,
}
