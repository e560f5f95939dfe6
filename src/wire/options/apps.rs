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

/// SetApplicationPolicy's settings: `[apps.NAME]` of the configuration, by the same keys.
#[derive(Debug, Default, Clone, SerializeDict, DeserializeDict, Type)]
#[zvariant(signature = "a{sv}", rename_all = "kebab-case", deny_unknown_fields)]
pub struct AppPolicySettings {
    /// `none`, `check` or `apply`.
    pub auto_update: Option<String>,
    /// How often a round looks ("1h", "30m").
    pub interval: Option<String>,
    /// An image without HEALTHCHECK is healthy once it ran this long ("10s").
    pub healthy_after: Option<String>,
    /// One with a HEALTHCHECK must say healthy within this ("60s").
    pub health_timeout: Option<String>,
    /// Apply only inside `[updates.periodic]`'s maintenance windows.
    pub windows: Option<bool>,
    /// Take the fleet's lock around the restart.
    pub fleet_lock: Option<bool>,
    /// The lock's group (default `atomic-app-NAME`).
    pub group: Option<String>,
}

/// UpdateApplication's and RollbackApplication's options: none yet; an unknown key is refused.
#[derive(Debug, Default, SerializeDict, DeserializeDict, Type)]
#[zvariant(signature = "a{sv}", rename_all = "kebab-case", deny_unknown_fields)]
pub struct AppUpdateOptions {}
