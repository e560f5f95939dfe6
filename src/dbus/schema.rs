//! Which options each method of `org.atomic.Manager` takes, and how many descriptors: read by
//! [`super::Checked`] before a call is dispatched, so a wrong key or type is refused by name.

use super::checked::OptionsSchema;
use super::interface::ManagerInterface;
use crate::error::Result;
use crate::wire::options::{
    self, AppPolicySettings, AppStartOptions, AppStopOptions, AppUpdateOptions, CleanupOptions,
    DeployOptions, HelpOptions, InfoOptions, InstallOptions, ListOptions, PolicySettings, PruneOptions,
    PullOptions, RebaseOptions, RemoveContainerOptions, RemoveImageOptions, RollbackOptions, RunOptions,
    StopOptions, TrimOptions, TrustRequirement, UninstallOptions, UpdateOptions, UpgradeOptions,
};

impl OptionsSchema for ManagerInterface {
    fn check_options(method: &str, dict: &zbus::zvariant::Dict<'_, '_>) -> Result<()> {
        match method {
            "Run" => options::check::<RunOptions>(dict),
            "Install" => options::check::<InstallOptions>(dict),
            "Uninstall" => options::check::<UninstallOptions>(dict),
            "Help" => options::check::<HelpOptions>(dict),
            "HostUpgrade" => options::check::<UpgradeOptions>(dict),
            "Rollback" => options::check::<RollbackOptions>(dict),
            "Pull" => options::check::<PullOptions>(dict),
            "Info" => options::check::<InfoOptions>(dict),
            "ListImages" | "ListContainers" => options::check::<ListOptions>(dict),
            "Stop" => options::check::<StopOptions>(dict),
            "RemoveContainer" => options::check::<RemoveContainerOptions>(dict),
            "RemoveImage" => options::check::<RemoveImageOptions>(dict),
            "PruneImages" => options::check::<PruneOptions>(dict),
            "TrimContainers" => options::check::<TrimOptions>(dict),
            "StartApplication" => options::check::<AppStartOptions>(dict),
            "StopApplication" => options::check::<AppStopOptions>(dict),
            "RollbackApplication" => options::check::<AppUpdateOptions>(dict),
            "SetApplicationPolicy" => options::check::<AppPolicySettings>(dict),
            "Update" => options::check::<UpdateOptions>(dict),
            "HostDeploy" => options::check::<DeployOptions>(dict),
            "HostRebase" => options::check::<RebaseOptions>(dict),
            "HostCleanup" => options::check::<CleanupOptions>(dict),
            "SetUpdatePolicy" => options::check::<PolicySettings>(dict),
            "TrustAdd" => options::check::<TrustRequirement>(dict),
            _ => Ok(()),
        }
    }

    fn max_fds(method: &str) -> u32 {
        match method {
            "Run" => 3,
            "Install" | "Uninstall" | "Help" | "StartApplication" => 2,
            _ => 0,
        }
    }
}
