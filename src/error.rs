//! The typed errors of atomicd and their one mapping onto the documented D-Bus error names.

use zbus::message::{Header, Message};
use zbus::names::ErrorName;

/// Everything a method of `org.atomic.Manager` can fail with. Each variant carries a sentence
/// naming the offending input; [`Error::dbus_name`] is the only place that knows the wire names.
// Variant names are the documented D-Bus error names (org.atomic.Error.EngineError).
#[allow(clippy::enum_variant_names)]
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// polkit said no.
    #[error("{0}")]
    AccessDenied(String),
    /// polkit would ask for a password, but the caller did not allow interaction.
    #[error("{0}")]
    InteractiveAuthorizationRequired(String),
    /// A bad image reference, name, option key or option type.
    #[error("{0}")]
    InvalidArgument(String),
    /// The image is neither local nor pullable.
    #[error("{0}")]
    ImageNotFound(String),
    /// The registry wants a login atomicd has none for, or refused the one it sent.
    #[error("{0}")]
    RegistryAuth(String),
    /// Install or Uninstall of an image without that label.
    #[error("{0}")]
    LabelMissing(String),
    /// A label that is not a single `docker run` line, or uses a flag atomicd does not translate.
    #[error("{0}")]
    UnsupportedLabel(String),
    /// The container engine socket does not answer.
    #[error("{0}")]
    EngineUnavailable(String),
    /// The engine refused; its message is included.
    #[error("{0}")]
    EngineError(String),
    /// No image-based host backend on this machine.
    #[error("{0}")]
    HostNotSupported(String),
    /// Another host operation is running.
    #[error("{0}")]
    Busy(String),
    /// The job was cancelled.
    #[error("{0}")]
    Cancelled(String),
    /// The signature policy does not trust the image for what the plan would do; the sentence
    /// names the image, its digest, the scope and why.
    #[error("{0}")]
    Untrusted(String),
    /// The line reads env files the caller did not send; the reply carries their paths as a
    /// second argument, so a client can read them and call again.
    #[error("{0}")]
    EnvFilesNeeded(String, Vec<String>),
    /// The RUN label takes `${RUN_OPTS}` from a RUN_OPTS_FILE the caller did not read; the reply
    /// carries the file's path (resolved with the call's variables) as a second argument.
    #[error("{0}")]
    RunOptsNeeded(String, String),
    /// A file or process operation failed; the I/O error is the cause.
    #[error("{what}: {source}")]
    Io {
        /// What atomicd was doing, naming the file or program.
        what: String,
        /// The operating system's error.
        #[source]
        source: std::io::Error,
    },
    /// A host tool (rpm-ostree, bootc) ran and failed; its exit status is kept, not parsed back
    /// out of a sentence.
    #[error(transparent)]
    Tool(#[from] ToolFailure),
    /// Anything else, with its cause.
    #[error("{0}")]
    Failed(String),
}

/// A host tool that ran and exited unsuccessfully.
#[derive(Debug, thiserror::Error)]
#[error("{program} {args} failed ({status}): {stderr_tail}")]
pub struct ToolFailure {
    /// The program.
    pub program: String,
    /// Its arguments, joined.
    pub args: String,
    /// How it ended.
    pub status: std::process::ExitStatus,
    /// The end of its stderr, safe for D-Bus.
    pub stderr_tail: String,
}

impl Error {
    /// An I/O failure while doing `what`.
    pub fn io(what: impl Into<String>, source: std::io::Error) -> Self {
        Error::Io { what: what.into(), source }
    }
}

/// Shorthand for results carrying [`Error`].
pub(crate) type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    /// The documented D-Bus error name of this error (API.md, "Errors").
    pub fn dbus_name(&self) -> &'static str {
        match self {
            Error::AccessDenied(_) => "org.freedesktop.DBus.Error.AccessDenied",
            Error::InteractiveAuthorizationRequired(_) => {
                "org.freedesktop.DBus.Error.InteractiveAuthorizationRequired"
            }
            Error::InvalidArgument(_) => "org.atomic.Error.InvalidArgument",
            Error::ImageNotFound(_) => "org.atomic.Error.ImageNotFound",
            Error::RegistryAuth(_) => "org.atomic.Error.RegistryAuth",
            Error::LabelMissing(_) => "org.atomic.Error.LabelMissing",
            Error::UnsupportedLabel(_) => "org.atomic.Error.UnsupportedLabel",
            Error::EngineUnavailable(_) => "org.atomic.Error.EngineUnavailable",
            Error::EngineError(_) => "org.atomic.Error.EngineError",
            Error::HostNotSupported(_) => "org.atomic.Error.HostNotSupported",
            Error::Busy(_) => "org.atomic.Error.Busy",
            Error::Cancelled(_) => "org.atomic.Error.Cancelled",
            Error::EnvFilesNeeded(..) => "org.atomic.Error.EnvFilesNeeded",
            Error::RunOptsNeeded(..) => "org.atomic.Error.RunOptsNeeded",
            Error::Untrusted(_) => "org.atomic.Error.Untrusted",
            Error::Failed(_) | Error::Io { .. } | Error::Tool(_) => "org.atomic.Error.Failed",
        }
    }
}

impl zbus::DBusError for Error {
    fn create_reply(&self, call: &Header<'_>) -> zbus::Result<Message> {
        match self {
            Error::EnvFilesNeeded(message, paths) => {
                Message::error(call, self.name())?.build(&(message, paths))
            }
            Error::RunOptsNeeded(message, path) => Message::error(call, self.name())?.build(&(message, path)),
            _ => Message::error(call, self.name())?.build(&(self.to_string(),)),
        }
    }

    fn name(&self) -> ErrorName<'_> {
        ErrorName::from_static_str_unchecked(self.dbus_name())
    }

    fn description(&self) -> Option<&str> {
        match self {
            Error::AccessDenied(s)
            | Error::InteractiveAuthorizationRequired(s)
            | Error::InvalidArgument(s)
            | Error::ImageNotFound(s)
            | Error::RegistryAuth(s)
            | Error::LabelMissing(s)
            | Error::UnsupportedLabel(s)
            | Error::EngineUnavailable(s)
            | Error::EngineError(s)
            | Error::HostNotSupported(s)
            | Error::Busy(s)
            | Error::Cancelled(s)
            | Error::Untrusted(s)
            | Error::EnvFilesNeeded(s, _)
            | Error::RunOptsNeeded(s, _)
            | Error::Failed(s) => Some(s),
            // Their sentence is built from the cause; the reply carries it (create_reply).
            Error::Io { .. } | Error::Tool(_) => None,
        }
    }
}

impl From<zbus::Error> for Error {
    fn from(e: zbus::Error) -> Self {
        Error::Failed(format!("D-Bus: {e}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_variant_maps_to_a_documented_name() {
        let table = [
            (Error::AccessDenied(String::new()), "org.freedesktop.DBus.Error.AccessDenied"),
            (
                Error::InteractiveAuthorizationRequired(String::new()),
                "org.freedesktop.DBus.Error.InteractiveAuthorizationRequired",
            ),
            (Error::InvalidArgument(String::new()), "org.atomic.Error.InvalidArgument"),
            (Error::ImageNotFound(String::new()), "org.atomic.Error.ImageNotFound"),
            (Error::RegistryAuth(String::new()), "org.atomic.Error.RegistryAuth"),
            (Error::LabelMissing(String::new()), "org.atomic.Error.LabelMissing"),
            (Error::UnsupportedLabel(String::new()), "org.atomic.Error.UnsupportedLabel"),
            (Error::EngineUnavailable(String::new()), "org.atomic.Error.EngineUnavailable"),
            (Error::EngineError(String::new()), "org.atomic.Error.EngineError"),
            (Error::HostNotSupported(String::new()), "org.atomic.Error.HostNotSupported"),
            (Error::Busy(String::new()), "org.atomic.Error.Busy"),
            (Error::Cancelled(String::new()), "org.atomic.Error.Cancelled"),
            (Error::EnvFilesNeeded(String::new(), Vec::new()), "org.atomic.Error.EnvFilesNeeded"),
            (Error::RunOptsNeeded(String::new(), String::new()), "org.atomic.Error.RunOptsNeeded"),
            (Error::Untrusted(String::new()), "org.atomic.Error.Untrusted"),
            (Error::Failed(String::new()), "org.atomic.Error.Failed"),
            (Error::io("x", std::io::Error::other("y")), "org.atomic.Error.Failed"),
        ];
        for (err, name) in table {
            assert_eq!(err.dbus_name(), name);
            assert!(ErrorName::try_from(name).is_ok(), "{name} is a valid error name");
        }
    }
}
