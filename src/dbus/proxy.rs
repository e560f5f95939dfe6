//! The client side of `org.atomic.Manager` and `org.atomic.Job`: the generated proxies with the
//! typed options and results, and the reading of the dictionaries printed whole as JSON.
// zbus's proxy macro generates the signal's stream and argument types without documentation.
#![allow(missing_docs)]

use std::collections::HashMap;

use zbus::zvariant::{DeserializeDict, OwnedValue, Type, Value};

pub use crate::wire::options::{
    AppPolicySettings, AppStartOptions, AppStopOptions, AppUpdateOptions, CleanupOptions, DeployOptions,
    HelpOptions, InfoOptions, InstallOptions, ListOptions, PolicySettings, PruneOptions, PullOptions,
    RebaseOptions, RemoveContainerOptions, RemoveImageOptions, RollbackOptions, RunOptions, StopOptions,
    TrimOptions, TrustRequirement, UninstallOptions, UpdateOptions, UpgradeOptions,
};
pub use crate::wire::results::{
    AppEntry, AppStartResult, AppStopResult, AppUpdateResult, CleanupResult, ContainerEntry, DeployResult,
    DeploymentBlock, DiffBlock, EngineBlock, HelpResult, HostBlock, ImageEntry, InfoResult, InstallResult,
    InstalledBlock, LabelInfo, LockBlock, PruneResult, PullResult, RemoveContainerResult, RemoveImageResult,
    RollbackResult, RunResult, SignatureBlock, StatusReport, StopResult, TrimResult, TrustReport, TrustScope,
    UninstallResult, UpdateBlock, UpdateResult, UpdatesBlock, UpgradeResult,
};

/// `org.atomic.Manager` as seen by clients. Every guarded method allows interactive
/// authorization, so polkit can ask for a password when an agent runs.
#[zbus::proxy(
    interface = "org.atomic.Manager",
    default_service = "org.atomic",
    default_path = "/org/atomic/Manager",
    gen_blocking = false
)]
pub trait Manager {
    /// Run
    #[zbus(allow_interactive_auth)]
    fn run(&self, image: &str, command: &[String], options: &RunOptions) -> zbus::Result<RunResult>;

    /// Help
    fn help(&self, image: &str, options: &HelpOptions) -> zbus::Result<HelpResult>;
    /// Install
    #[zbus(allow_interactive_auth)]
    fn install(&self, image: &str, options: &InstallOptions) -> zbus::Result<InstallResult>;

    /// Uninstall
    #[zbus(allow_interactive_auth)]
    fn uninstall(&self, image: &str, options: &UninstallOptions) -> zbus::Result<UninstallResult>;

    /// HostUpgrade
    #[zbus(allow_interactive_auth)]
    fn host_upgrade(&self, options: &UpgradeOptions) -> zbus::Result<UpgradeResult>;

    /// HostUpgrade, as the dictionary `--json` prints whole.
    #[zbus(name = "HostUpgrade", allow_interactive_auth)]
    fn host_upgrade_dict(&self, options: &UpgradeOptions) -> zbus::Result<HashMap<String, OwnedValue>>;

    /// Rollback
    #[zbus(allow_interactive_auth)]
    fn rollback(&self, options: &RollbackOptions) -> zbus::Result<RollbackResult>;

    /// Rollback, as the dictionary `--json` prints whole.
    #[zbus(name = "Rollback", allow_interactive_auth)]
    fn rollback_dict(&self, options: &RollbackOptions) -> zbus::Result<HashMap<String, OwnedValue>>;

    /// Status
    fn status(&self) -> zbus::Result<StatusReport>;

    /// Status, as the dictionary `--json` prints whole.
    #[zbus(name = "Status")]
    fn status_dict(&self) -> zbus::Result<HashMap<String, OwnedValue>>;

    /// HostDeploy
    #[zbus(allow_interactive_auth)]
    fn host_deploy(&self, revision: &str, options: &DeployOptions) -> zbus::Result<DeployResult>;

    /// HostRebase
    #[zbus(allow_interactive_auth)]
    fn host_rebase(&self, origin: &str, options: &RebaseOptions) -> zbus::Result<DeployResult>;

    /// HostDeploy, as the dictionary `--json` prints whole.
    #[zbus(name = "HostDeploy", allow_interactive_auth)]
    fn host_deploy_dict(
        &self,
        revision: &str,
        options: &DeployOptions,
    ) -> zbus::Result<HashMap<String, OwnedValue>>;

    /// HostRebase, as the dictionary `--json` prints whole.
    #[zbus(name = "HostRebase", allow_interactive_auth)]
    fn host_rebase_dict(
        &self,
        origin: &str,
        options: &RebaseOptions,
    ) -> zbus::Result<HashMap<String, OwnedValue>>;

    /// HostCleanup, as the dictionary `--json` prints whole.
    #[zbus(name = "HostCleanup", allow_interactive_auth)]
    fn host_cleanup_dict(&self, options: &CleanupOptions) -> zbus::Result<HashMap<String, OwnedValue>>;

    /// SetUpdatePolicy
    #[zbus(allow_interactive_auth)]
    fn set_update_policy(&self, settings: &PolicySettings) -> zbus::Result<()>;

    /// HostPin
    #[zbus(allow_interactive_auth)]
    fn host_pin(&self, id: &str, pinned: bool) -> zbus::Result<()>;

    /// HostCleanup
    #[zbus(allow_interactive_auth)]
    fn host_cleanup(&self, options: &CleanupOptions) -> zbus::Result<CleanupResult>;

    /// Pull
    #[zbus(allow_interactive_auth)]
    fn pull(&self, image: &str, options: &PullOptions) -> zbus::Result<PullResult>;

    /// Info
    fn info(&self, image: &str, options: &InfoOptions) -> zbus::Result<InfoResult>;

    /// Info, as the dictionary `--json` prints whole.
    #[zbus(name = "Info")]
    fn info_dict(&self, image: &str, options: &InfoOptions) -> zbus::Result<HashMap<String, OwnedValue>>;

    /// Update
    #[zbus(allow_interactive_auth)]
    fn update(&self, image: &str, options: &UpdateOptions) -> zbus::Result<UpdateResult>;

    /// Stop
    #[zbus(allow_interactive_auth)]
    fn stop(&self, name: &str, options: &StopOptions) -> zbus::Result<StopResult>;

    /// RemoveContainer
    #[zbus(allow_interactive_auth)]
    fn remove_container(
        &self,
        name: &str,
        options: &RemoveContainerOptions,
    ) -> zbus::Result<RemoveContainerResult>;

    /// RemoveImage
    #[zbus(allow_interactive_auth)]
    fn remove_image(&self, image: &str, options: &RemoveImageOptions) -> zbus::Result<RemoveImageResult>;

    /// PruneImages
    #[zbus(allow_interactive_auth)]
    fn prune_images(&self, options: &PruneOptions) -> zbus::Result<PruneResult>;

    /// TrimContainers
    #[zbus(allow_interactive_auth)]
    fn trim_containers(&self, options: &TrimOptions) -> zbus::Result<TrimResult>;

    /// ListApplications
    fn list_applications(&self) -> zbus::Result<Vec<AppEntry>>;

    /// ListApplications, as the dictionaries `--json` prints whole.
    #[zbus(name = "ListApplications")]
    fn list_applications_dicts(&self) -> zbus::Result<Vec<HashMap<String, OwnedValue>>>;

    /// StartApplication
    #[zbus(allow_interactive_auth)]
    fn start_application(&self, name: &str, options: &AppStartOptions) -> zbus::Result<AppStartResult>;

    /// StopApplication
    #[zbus(allow_interactive_auth)]
    fn stop_application(&self, name: &str, options: &AppStopOptions) -> zbus::Result<AppStopResult>;

    /// RollbackApplication
    #[zbus(allow_interactive_auth)]
    fn rollback_application(&self, name: &str, options: &AppUpdateOptions) -> zbus::Result<AppUpdateResult>;

    /// SetApplicationPolicy
    #[zbus(allow_interactive_auth)]
    fn set_application_policy(&self, name: &str, policy: &AppPolicySettings) -> zbus::Result<()>;

    /// FleetLock
    #[zbus(allow_interactive_auth)]
    fn fleet_lock(&self, app_id: &str) -> zbus::Result<bool>;

    /// FleetUnlock
    #[zbus(allow_interactive_auth)]
    fn fleet_unlock(&self, app_id: &str) -> zbus::Result<()>;

    /// TrustShow
    fn trust_show(&self) -> zbus::Result<TrustReport>;

    /// TrustShow, as the dictionary `--json` prints whole.
    #[zbus(name = "TrustShow")]
    fn trust_show_dict(&self) -> zbus::Result<HashMap<String, OwnedValue>>;

    /// TrustAdd
    #[zbus(allow_interactive_auth)]
    fn trust_add(&self, scope: &str, requirement: &TrustRequirement) -> zbus::Result<TrustReport>;

    /// TrustRemove
    #[zbus(allow_interactive_auth)]
    fn trust_remove(&self, scope: &str) -> zbus::Result<TrustReport>;

    /// TrustDefault
    #[zbus(allow_interactive_auth)]
    fn trust_default(&self, default: &str) -> zbus::Result<TrustReport>;

    /// ListImages
    fn list_images(&self, options: &ListOptions) -> zbus::Result<Vec<ImageEntry>>;

    /// ListImages, as the dictionaries `--json` prints whole.
    #[zbus(name = "ListImages")]
    fn list_images_dicts(&self, options: &ListOptions) -> zbus::Result<Vec<HashMap<String, OwnedValue>>>;

    /// ListContainers
    fn list_containers(&self, options: &ListOptions) -> zbus::Result<Vec<ContainerEntry>>;

    /// ListContainers, as the dictionaries `--json` prints whole.
    #[zbus(name = "ListContainers")]
    fn list_containers_dicts(&self, options: &ListOptions) -> zbus::Result<Vec<HashMap<String, OwnedValue>>>;

    /// Changed
    #[zbus(signal)]
    fn changed(&self, areas: Vec<String>) -> zbus::Result<()>;

    /// Version
    #[zbus(property)]
    fn version(&self) -> zbus::Result<String>;

    /// EngineAvailable
    #[zbus(property)]
    fn engine_available(&self) -> zbus::Result<bool>;

    /// HostBackend
    #[zbus(property)]
    fn host_backend(&self) -> zbus::Result<String>;

    /// CachedUpdate (every field None when there is none).
    #[zbus(property)]
    fn cached_update(&self) -> zbus::Result<UpdateBlock>;

    /// CachedUpdate, as the dictionary `--json` prints whole (empty when none).
    #[zbus(property, name = "CachedUpdate")]
    fn cached_update_dict(&self) -> zbus::Result<HashMap<String, OwnedValue>>;
}

/// `org.atomic.Job`: one running call, at `/org/atomic/Manager/jobs/N`.
#[zbus::proxy(interface = "org.atomic.Job", default_service = "org.atomic", gen_blocking = false)]
pub trait Job {
    /// Cancel
    fn cancel(&self) -> zbus::Result<()>;

    /// ResizeTty
    fn resize_tty(&self, rows: u16, columns: u16) -> zbus::Result<()>;

    /// Operation
    #[zbus(property)]
    fn operation(&self) -> zbus::Result<String>;

    /// Target
    #[zbus(property)]
    fn target(&self) -> zbus::Result<String>;

    /// Caller
    #[zbus(property)]
    fn caller(&self) -> zbus::Result<String>;

    /// CallerUid
    #[zbus(property)]
    fn caller_uid(&self) -> zbus::Result<u32>;

    /// Command
    #[zbus(property)]
    fn command(&self) -> zbus::Result<Vec<String>>;

    /// Privileges
    #[zbus(property)]
    fn privileges(&self) -> zbus::Result<Vec<String>>;

    /// Progress
    #[zbus(property)]
    fn progress(&self) -> zbus::Result<f64>;

    /// Message
    #[zbus(property)]
    fn message(&self) -> zbus::Result<String>;

    /// Cancellable
    #[zbus(property)]
    fn cancellable(&self) -> zbus::Result<bool>;
}

/// A job's properties as they arrive whole in `InterfacesAdded` or in part in
/// `PropertiesChanged`: every key may be absent.
#[derive(Debug, Default, DeserializeDict, Type)]
#[zvariant(signature = "a{sv}", rename_all = "PascalCase")]
pub struct JobProperties {
    /// The call it belongs to (Run, Install, Pull, ...).
    pub operation: Option<String>,
    /// The caller's unique bus name.
    pub caller: Option<String>,
    /// What the job runs.
    pub command: Option<Vec<String>>,
    /// What it may do to the host.
    pub privileges: Option<Vec<String>>,
    /// 0..1, or -1 when unknown.
    pub progress: Option<f64>,
    /// What it is doing.
    pub message: Option<String>,
    /// False once past its point of no return.
    pub cancellable: Option<bool>,
}

/// A D-Bus value as JSON: dictionaries become objects, arrays arrays, variants their content.
pub fn to_json(value: &Value<'_>) -> serde_json::Value {
    use serde_json::Value as J;
    match value {
        Value::U8(n) => J::from(*n),
        Value::Bool(b) => J::from(*b),
        Value::I16(n) => J::from(*n),
        Value::U16(n) => J::from(*n),
        Value::I32(n) => J::from(*n),
        Value::U32(n) => J::from(*n),
        Value::I64(n) => J::from(*n),
        Value::U64(n) => J::from(*n),
        Value::F64(n) => J::from(*n),
        Value::Str(s) => J::from(s.as_str()),
        Value::Signature(s) => J::from(s.to_string()),
        Value::ObjectPath(p) => J::from(p.as_str()),
        Value::Value(inner) => to_json(inner),
        Value::Array(a) => J::Array(a.iter().map(to_json).collect()),
        Value::Dict(d) => J::Object(
            d.iter()
                .map(|(k, v)| {
                    let key = match k {
                        Value::Str(s) => s.to_string(),
                        other => to_json(other).to_string(),
                    };
                    (key, to_json(v))
                })
                .collect(),
        ),
        Value::Structure(s) => J::Array(s.fields().iter().map(to_json).collect()),
        Value::Fd(fd) => J::from(fd.to_string()),
        #[allow(unreachable_patterns)]
        _ => J::Null,
    }
}

/// An `a{sv}` answer as a JSON object.
pub fn dict_to_json(dict: &HashMap<String, OwnedValue>) -> serde_json::Value {
    serde_json::Value::Object(dict.iter().map(|(k, v)| (k.clone(), to_json(v))).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nested_dictionaries_become_json_objects() {
        let inner: HashMap<&str, Value<'_>> =
            HashMap::from([("name", Value::from("podman")), ("available", Value::from(true))]);
        let mut outer: HashMap<String, OwnedValue> = HashMap::new();
        let ov = |v: Value<'_>| OwnedValue::try_from(v).unwrap();
        outer.insert("engine".into(), ov(Value::from(inner)));
        outer.insert("code".into(), ov(Value::from(3i32)));
        outer.insert("list".into(), ov(Value::from(vec!["a", "b"])));
        let j = dict_to_json(&outer);
        assert_eq!(j["engine"]["name"], "podman");
        assert_eq!(j["engine"]["available"], true);
        assert_eq!(j["code"], 3);
        assert_eq!(j["list"][1], "b");
    }
}
