//! The options → request conversion: each method's typed options become the manager's request
//! here, in one place, so the surface stays a translation.

use crate::manager::{CallerFds, HelpRequest, InstallRequest, LabelInputs, RunRequest, UninstallRequest};
use crate::wire::options::{
    AppStartOptions, CleanupOptions, HelpOptions, InfoOptions, InstallOptions, RunOptions, StopOptions,
    UninstallOptions,
};

/// The label inputs of the options of a method that runs a label: Run, Install and Uninstall
/// spell them alike, and read them here alike.
macro_rules! label_inputs {
    ($options:ident) => {
        LabelInputs {
            name: $options.name,
            opts: [$options.opt1, $options.opt2, $options.opt3],
            pwd: $options.pwd,
            sudo_uid: $options.sudo_uid,
            sudo_gid: $options.sudo_gid,
            env_files: $options.env_files.unwrap_or_default(),
            run_opts: None,
        }
    };
}

impl RunOptions {
    /// The manager's request.
    pub fn into_request(self, image: String, command: Vec<String>) -> RunRequest {
        let inputs = LabelInputs { run_opts: self.run_opts, ..label_inputs!(self) };
        RunRequest {
            image,
            command,
            spc: self.spc.unwrap_or(false),
            display: self.display.unwrap_or(false),
            detach: self.detach.unwrap_or(false),
            replace: self.replace.unwrap_or(false),
            pull: self.pull.unwrap_or(true),
            tty: self.tty.unwrap_or(false),
            tty_size: self.tty_size,
            inputs,
            fds: CallerFds {
                stdin: self.stdin.map(Into::into),
                stdout: self.stdout.map(Into::into),
                stderr: self.stderr.map(Into::into),
            },
        }
    }
}

impl InfoOptions {
    /// The label inputs Info resolves with.
    pub fn into_inputs(self) -> LabelInputs {
        LabelInputs { name: self.name, opts: [self.opt1, self.opt2, self.opt3], ..LabelInputs::default() }
    }
}

impl InstallOptions {
    /// The manager's request.
    pub fn into_request(self, image: String) -> InstallRequest {
        InstallRequest {
            image,
            args: self.args.unwrap_or_default(),
            display: self.display.unwrap_or(false),
            pull: self.pull.unwrap_or(true),
            service: self.service,
            inputs: label_inputs!(self),
            // A label's output streams to the caller's fds; it reads no input of theirs.
            fds: CallerFds {
                stdin: None,
                stdout: self.stdout.map(Into::into),
                stderr: self.stderr.map(Into::into),
            },
        }
    }
}

impl HelpOptions {
    /// The manager's request.
    pub fn into_request(self, image: String) -> HelpRequest {
        HelpRequest {
            image,
            inputs: label_inputs!(self),
            // A label's output streams to the caller's fds; it reads no input of theirs.
            fds: CallerFds {
                stdin: None,
                stdout: self.stdout.map(Into::into),
                stderr: self.stderr.map(Into::into),
            },
        }
    }
}

impl UninstallOptions {
    /// The manager's request.
    pub fn into_request(self, image: String) -> UninstallRequest {
        UninstallRequest {
            image,
            args: self.args.unwrap_or_default(),
            display: self.display.unwrap_or(false),
            force: self.force.unwrap_or(false),
            keep_image: self.keep_image.unwrap_or(false),
            inputs: label_inputs!(self),
            // A label's output streams to the caller's fds; it reads no input of theirs.
            fds: CallerFds {
                stdin: None,
                stdout: self.stdout.map(Into::into),
                stderr: self.stderr.map(Into::into),
            },
        }
    }
}

impl From<AppStartOptions> for CallerFds {
    /// The unit's output fds; an application reads no input of anyone's.
    fn from(options: AppStartOptions) -> Self {
        CallerFds {
            stdin: None,
            stdout: options.stdout.map(Into::into),
            stderr: options.stderr.map(Into::into),
        }
    }
}

impl From<CleanupOptions> for crate::host::Cleanup {
    fn from(options: CleanupOptions) -> Self {
        crate::host::Cleanup {
            rollback: options.rollback.unwrap_or(false),
            pending: options.pending.unwrap_or(false),
        }
    }
}

impl StopOptions {
    /// Stop's grace period, `display`, and the STOP label's inputs.
    pub fn into_parts(self) -> (u32, bool, LabelInputs) {
        let inputs = LabelInputs { opts: [self.opt1, self.opt2, self.opt3], ..LabelInputs::default() };
        (self.timeout.unwrap_or(crate::manager::DEFAULT_STOP_TIMEOUT), self.display.unwrap_or(false), inputs)
    }
}
