//! The options of the methods on applications installed as services.

use zbus::zvariant::{DeserializeDict, OwnedFd, SerializeDict, Type};

/// StartApplication's options.
#[derive(Debug, Default, SerializeDict, DeserializeDict, Type)]
#[zvariant(signature = "a{sv}", rename_all = "kebab-case", deny_unknown_fields)]
pub struct AppStartOptions {
    /// Where the container's output goes while the caller follows it (the unit's journal).
    pub stdout: Option<OwnedFd>,
    /// Where its stderr goes; stdout's fd when absent.
    pub stderr: Option<OwnedFd>,
}

/// StopApplication's options: none yet; an unknown key is still refused.
#[derive(Debug, Default, SerializeDict, DeserializeDict, Type)]
#[zvariant(signature = "a{sv}", rename_all = "kebab-case", deny_unknown_fields)]
pub struct AppStopOptions {}
