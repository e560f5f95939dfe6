//! The `a{sv}` results of `org.atomic.Manager`, typed so each key and its D-Bus type is stated once:
//! the applications' and images' here, the host's in `host`, the services' in `apps`.

mod apps;
mod host;
mod trust;

pub use apps::{AppEntry, AppStartResult, AppStopResult, AppUpdateResult};
pub use trust::{SignatureBlock, TrustReport, TrustScope};

pub use host::{
    CleanupResult, DeployResult, DeploymentBlock, DiffBlock, HostBlock, LockBlock, RollbackResult,
    UpdateBlock, UpdatesBlock, UpgradeResult,
};

use zbus::zvariant::{DeserializeDict, SerializeDict, Type};

use crate::engine::EngineInfo;
use crate::system::state::Installation;

/// Status's `engine` block.
#[derive(Debug, Default, SerializeDict, DeserializeDict, Type)]
#[zvariant(signature = "a{sv}", rename_all = "kebab-case")]
pub struct EngineBlock {
    /// docker or podman
    pub name: String,
    /// the engine's version
    pub version: String,
    /// the Docker API version it serves
    pub api_version: String,
    /// the socket atomicd uses
    pub socket: String,
    /// whether it answered
    pub available: bool,
}

impl From<EngineInfo> for EngineBlock {
    fn from(i: EngineInfo) -> Self {
        EngineBlock {
            name: i.name,
            version: i.version,
            api_version: i.api_version,
            socket: i.socket,
            available: i.available,
        }
    }
}

/// One entry of Status's `installed` list.
#[derive(Debug, Default, SerializeDict, DeserializeDict, Type)]
#[zvariant(signature = "a{sv}", rename_all = "kebab-case")]
pub struct InstalledBlock {
    /// the image as named at install
    pub image: String,
    /// its id then
    pub image_id: String,
    /// the container name
    pub name: String,
    /// seconds since the epoch
    pub installed_at: u64,
    /// the installing uid
    pub installed_by: u32,
}

impl From<Installation> for InstalledBlock {
    fn from(i: Installation) -> Self {
        InstalledBlock {
            image: i.image,
            image_id: i.image_id,
            name: i.name,
            installed_at: i.installed_at,
            installed_by: i.installed_by,
        }
    }
}

/// The result of Status.
#[derive(Debug, Default, SerializeDict, DeserializeDict, Type)]
#[zvariant(signature = "a{sv}", rename_all = "kebab-case")]
pub struct StatusReport {
    /// atomicd's version
    pub version: String,
    /// the engine block
    pub engine: EngineBlock,
    /// the host block
    pub host: HostBlock,
    /// the installed images
    pub installed: Vec<InstalledBlock>,
    /// the applications installed as services, as ListApplications gives them
    pub applications: Vec<AppEntry>,
}

/// The result of Run.
#[derive(Debug, Default, SerializeDict, DeserializeDict, Type)]
#[zvariant(signature = "a{sv}", rename_all = "kebab-case")]
pub struct RunResult {
    /// the resolved argv, an equivalent `docker run` line
    pub command: Vec<String>,
    /// the container name, when the line names one
    pub name: Option<String>,
    /// the image ID that was authorized and run
    pub image_id: String,
    /// the container's id, when one was created
    pub container_id: Option<String>,
    /// the exit code, when waited for
    pub exit_code: Option<i32>,
    /// the last 64 KiB of output, when waited for without fds
    pub output: Option<String>,
    /// what the container may do to the host, one sentence each (for the CLI's banner)
    pub privileges: Vec<String>,
    /// e.g. variables that expanded to nothing
    pub warnings: Vec<String>,
    /// the env files the line reads: the caller sends their contents in `env-files`
    pub env_files: Vec<String>,
    /// what the signature policy says of the image
    pub signature: Option<SignatureBlock>,
}

/// The result of Install.
#[derive(Debug, Default, SerializeDict, DeserializeDict, Type)]
#[zvariant(signature = "a{sv}", rename_all = "kebab-case")]
pub struct InstallResult {
    /// the resolved INSTALL line
    pub command: Vec<String>,
    /// the container name
    pub name: String,
    /// the INSTALL container's exit code (absent with display)
    pub exit_code: Option<i32>,
    /// the installed image's id
    pub image_id: String,
    /// the last 64 KiB of the INSTALL container's output
    pub output: Option<String>,
    /// what the INSTALL container may do to the host
    pub privileges: Vec<String>,
    /// e.g. variables that expanded to nothing
    pub warnings: Vec<String>,
    /// the env files the line reads: the caller sends their contents in `env-files`
    pub env_files: Vec<String>,
    /// what the signature policy says of the image
    pub signature: Option<SignatureBlock>,
    /// the unit the application runs from, when installed as a service
    pub service: Option<String>,
    /// the RUN line the unit runs, as recorded
    pub service_command: Vec<String>,
    /// what that line may do to the host
    pub service_privileges: Vec<String>,
}

/// The result of Help: the HELP label's run, or the image's man page.
#[derive(Debug, Default, SerializeDict, DeserializeDict, Type)]
#[zvariant(signature = "a{sv}", rename_all = "kebab-case")]
pub struct HelpResult {
    /// the resolved HELP line, or the read of the man page
    pub command: Vec<String>,
    /// the HELP container's exit code (absent for a man page)
    pub exit_code: Option<i32>,
    /// the last 64 KiB of the HELP container's output, when no fds were passed
    pub output: Option<String>,
    /// the image's `/help.1`, troff as the image holds it (absent when the HELP label ran)
    pub man_page: Option<String>,
    /// what the HELP container may do to the host
    pub privileges: Vec<String>,
    /// e.g. variables that expanded to nothing
    pub warnings: Vec<String>,
}

/// The result of Uninstall.
#[derive(Debug, Default, SerializeDict, DeserializeDict, Type)]
#[zvariant(signature = "a{sv}", rename_all = "kebab-case")]
pub struct UninstallResult {
    /// the resolved UNINSTALL line; empty when the image has none
    pub command: Vec<String>,
    /// ids of the containers and the image removed
    pub removed: Vec<String>,
    /// the UNINSTALL container's exit code, when one ran
    pub exit_code: Option<i32>,
    /// what the UNINSTALL container may do to the host
    pub privileges: Vec<String>,
    /// the last 64 KiB of its output
    pub output: Option<String>,
    /// e.g. variables that expanded to nothing
    pub warnings: Vec<String>,
    /// the env files the line reads: the caller sends their contents in `env-files`
    pub env_files: Vec<String>,
    /// what the signature policy says of the image
    pub signature: Option<SignatureBlock>,
}

/// The result of Pull.
#[derive(Debug, Default, SerializeDict, DeserializeDict, Type)]
#[zvariant(signature = "a{sv}", rename_all = "kebab-case")]
pub struct PullResult {
    /// The local image's id after the pull.
    pub image_id: String,
    /// Whether the local id changed (or the image is new here).
    pub changed: bool,
}

/// What one label of an image would do, for this caller.
#[derive(Debug, Default, SerializeDict, DeserializeDict, Type)]
#[zvariant(signature = "a{sv}", rename_all = "kebab-case")]
pub struct LabelInfo {
    /// The label as written (for RUN without one: empty).
    pub label: String,
    /// The line it resolves to.
    pub command: Vec<String>,
    /// What that line may do to the host.
    pub privileges: Vec<String>,
    /// Whether atomicd runs it.
    pub supported: bool,
    /// Why not, when not.
    pub error: Option<String>,
}

/// The result of Info.
#[derive(Debug, Default, SerializeDict, DeserializeDict, Type)]
#[zvariant(signature = "a{sv}", rename_all = "kebab-case")]
pub struct InfoResult {
    /// The image as asked for.
    pub image: String,
    /// Its id.
    pub image_id: String,
    /// When it was built, seconds since the epoch.
    pub created: u64,
    /// Its size in bytes.
    pub size: u64,
    /// Its `version` label (or `VERSION`), empty when none.
    pub version: String,
    /// All its labels.
    pub labels: std::collections::HashMap<String, String>,
    /// Its `HELP` label, empty when none.
    pub help: String,
    /// The installation record, when installed.
    pub installed: Option<InstalledBlock>,
    /// Names of the containers made from it.
    pub containers: Vec<String>,
    /// RUN (or the default line).
    pub run: Option<LabelInfo>,
    /// INSTALL
    pub install: Option<LabelInfo>,
    /// UNINSTALL
    pub uninstall: Option<LabelInfo>,
    /// STOP
    pub stop: Option<LabelInfo>,
    /// What the signature policy says of it.
    pub signature: Option<SignatureBlock>,
}

/// One image of ListImages.
#[derive(Debug, Default, SerializeDict, DeserializeDict, Type)]
#[zvariant(signature = "a{sv}", rename_all = "kebab-case")]
pub struct ImageEntry {
    /// Its first tag, or its id when it has none.
    pub image: String,
    /// All its tags.
    pub tags: Vec<String>,
    /// Its id.
    pub image_id: String,
    /// When it was built, seconds since the epoch.
    pub created: u64,
    /// Its size in bytes.
    pub size: u64,
    /// Which of RUN, INSTALL, UNINSTALL, STOP and HELP it carries.
    pub labels: Vec<String>,
    /// Whether atomicd has an installation record of it.
    pub installed: bool,
    /// What the signature policy says of it (`signed`, `accepted`, ..., see SignatureBlock).
    pub verified: String,
}

/// One container of ListContainers.
#[derive(Debug, Default, SerializeDict, DeserializeDict, Type)]
#[zvariant(signature = "a{sv}", rename_all = "kebab-case")]
pub struct ContainerEntry {
    /// Its name.
    pub name: String,
    /// Its id.
    pub container_id: String,
    /// The image as the engine names it.
    pub image: String,
    /// The image's id.
    pub image_id: String,
    /// `created`, `running`, `exited`, ...
    pub state: String,
    /// How it ended, when it has.
    pub exit_code: Option<i32>,
    /// When it was created, seconds since the epoch.
    pub created: u64,
    /// The call that made it (Run, Install, Uninstall), for atomicd's containers.
    pub operation: Option<String>,
    /// The uid of that call's caller, for atomicd's containers.
    pub started_by: Option<u32>,
    /// Whether its line reaches the host (atomicd's containers).
    pub privileged: Option<bool>,
    /// Whether atomicd made it.
    pub managed: bool,
}

/// The result of Stop.
#[derive(Debug, Default, SerializeDict, DeserializeDict, Type)]
#[zvariant(signature = "a{sv}", rename_all = "kebab-case")]
pub struct StopResult {
    /// The STOP label's line, or the `docker stop` it comes down to.
    pub command: Vec<String>,
    /// The STOP container's exit code, or 0 for a stop (absent with display).
    pub exit_code: Option<i32>,
    /// The last 64 KiB of the STOP container's output.
    pub output: Option<String>,
}

/// The result of RemoveContainer.
#[derive(Debug, Default, SerializeDict, DeserializeDict, Type)]
#[zvariant(signature = "a{sv}", rename_all = "kebab-case")]
pub struct RemoveContainerResult {
    /// The `docker rm` it comes down to.
    pub command: Vec<String>,
    /// The container's id.
    pub container_id: String,
    /// Whether it was removed (false with display).
    pub removed: bool,
}

/// The result of RemoveImage.
#[derive(Debug, Default, SerializeDict, DeserializeDict, Type)]
#[zvariant(signature = "a{sv}", rename_all = "kebab-case")]
pub struct RemoveImageResult {
    /// The `docker rmi` it comes down to.
    pub command: Vec<String>,
    /// The image's id.
    pub image_id: String,
    /// Whether its content was deleted (false when only that name went, or with display).
    pub deleted: bool,
    /// Things the caller should know (an installation record a forced removal left).
    pub warnings: Vec<String>,
}

/// The result of PruneImages.
#[derive(Debug, Default, SerializeDict, DeserializeDict, Type)]
#[zvariant(signature = "a{sv}", rename_all = "kebab-case")]
pub struct PruneResult {
    /// The `docker image prune` it comes down to.
    pub command: Vec<String>,
    /// The dangling images it removes (with display: would remove), by id.
    pub images: Vec<String>,
    /// The bytes their removal gave back (the engine's sizes; 0 with display).
    pub reclaimed: u64,
    /// Images that could not be removed after all, each with the engine's reason.
    pub warnings: Vec<String>,
}

/// The result of TrimContainers.
#[derive(Debug, Default, SerializeDict, DeserializeDict, Type)]
#[zvariant(signature = "a{sv}", rename_all = "kebab-case")]
pub struct TrimResult {
    /// The `fstrim -v DIR...` it comes down to (one run per filesystem).
    pub command: Vec<String>,
    /// atomicd's running containers whose storage was trimmed (with display: would be).
    pub containers: Vec<String>,
    /// The bytes the filesystems discarded, as fstrim counted them (0 with display).
    pub trimmed: u64,
    /// Filesystems that could not be trimmed, each with fstrim's reason.
    pub warnings: Vec<String>,
}

/// The result of Update.
#[derive(Debug, Default, SerializeDict, DeserializeDict, Type)]
#[zvariant(signature = "a{sv}", rename_all = "kebab-case")]
pub struct UpdateResult {
    /// The local image's id before (empty when it was not here).
    pub old_image_id: String,
    /// Its id now.
    pub image_id: String,
    /// Whether the pull brought a new image.
    pub changed: bool,
    /// Containers still on the old image.
    pub outdated: Vec<String>,
    /// Ids of atomicd's containers `force` removed.
    pub removed: Vec<String>,
    /// Whether the old UNINSTALL and the new INSTALL ran and the record moved.
    pub reinstalled: bool,
    /// What was not done, and why.
    pub warnings: Vec<String>,
    /// the applications installed as services from it, each `NAME: what came of its update`
    pub applications: Vec<String>,
}
