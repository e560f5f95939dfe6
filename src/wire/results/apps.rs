//! The results of the methods on applications installed as services: ListApplications'
//! entries, StartApplication and StopApplication.

use zbus::zvariant::{DeserializeDict, SerializeDict, Type};

/// One application in ListApplications (and Status's `applications`).
#[derive(Debug, Default, Clone, SerializeDict, DeserializeDict, Type)]
#[zvariant(signature = "a{sv}", rename_all = "kebab-case")]
pub struct AppEntry {
    /// its name: the container's, and the unit's `atomic-app-NAME.service`
    pub name: String,
    /// the image as named at install: where updates come from
    pub image: String,
    /// the image ID it runs
    pub image_id: String,
    /// the image ID before the last update ("" when none)
    pub previous_image_id: String,
    /// the unit's name
    pub unit: String,
    /// the unit as systemd says it now: `active (running)`, `inactive (dead)`, `failed (failed)`,
    /// `not-found`, or `unknown: WHY`
    pub unit_state: String,
    /// atomicd's container of it: `running`, `stopped`, `none`, `not atomicd's`, `unknown: WHY`
    pub container: String,
    /// the installing uid
    pub installed_by: u32,
    /// seconds since the epoch
    pub installed_at: u64,
    /// the RUN line the unit runs, as recorded
    pub command: Vec<String>,
    /// what it may do to the host
    pub privileges: Vec<String>,
    /// the last thing that happened to it: `installed`, `updated`, `rolled back: WHY`, ...
    pub last_result: String,
    /// when (seconds since the epoch)
    pub last_change: u64,
    /// its policy: `none`, `check` or `apply`
    pub auto_update: String,
    /// the last update check (0: none yet)
    pub last_check: u64,
    /// the next one (0: none planned)
    pub next_check: u64,
    /// a newer image found and not applied ("" when none)
    pub update_available: String,
    /// rollbacks in a row (at 3 automatic updates stop until a person acts)
    pub rollbacks: u32,
}

/// The result of StartApplication.
#[derive(Debug, Default, SerializeDict, DeserializeDict, Type)]
#[zvariant(signature = "a{sv}", rename_all = "kebab-case")]
pub struct AppStartResult {
    /// the container that runs
    pub container_id: String,
    /// the image ID it runs
    pub image_id: String,
    /// whether it was created now from the record (false: it was running already)
    pub created: bool,
    /// its exit code, when the caller followed it to its end
    pub exit_code: Option<i32>,
}

/// The result of StopApplication.
#[derive(Debug, Default, SerializeDict, DeserializeDict, Type)]
#[zvariant(signature = "a{sv}", rename_all = "kebab-case")]
pub struct AppStopResult {
    /// the container stopped, when one ran
    pub stopped: Option<String>,
}

/// The result of UpdateApplication and RollbackApplication.
#[derive(Debug, Default, SerializeDict, DeserializeDict, Type)]
#[zvariant(signature = "a{sv}", rename_all = "kebab-case")]
pub struct AppUpdateResult {
    /// the image ID that runs now
    pub image_id: String,
    /// what came of it: `up to date`, `updated: ...`, `rolled back: ...`, `needs approval: ...`,
    /// `update available: ...`
    pub result: String,
    /// what the new image's line may do that the installed one may not
    pub new_privileges: Vec<String>,
}
