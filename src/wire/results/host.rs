//! The host's results: deployments, the cached update, the automatic update policy's block,
//! and what HostUpgrade, HostDeploy, HostCleanup and Rollback return.

use zbus::zvariant::{DeserializeDict, OwnedValue, SerializeDict, Type, Value};

use crate::host::{CachedUpdate, Deployment};

/// One deployment in Status's `host` block and in HostUpgrade/Rollback results.
#[derive(Debug, Default, SerializeDict, DeserializeDict, Type)]
#[zvariant(signature = "a{sv}", rename_all = "kebab-case")]
pub struct DeploymentBlock {
    /// identifier
    pub id: String,
    /// OS name
    pub osname: String,
    /// commit checksum
    pub checksum: String,
    /// version metadata
    pub version: String,
    /// seconds since the epoch
    pub timestamp: u64,
    /// running now
    pub booted: bool,
    /// staged
    pub staged: bool,
    /// pinned
    pub pinned: bool,
    /// boots next
    pub default: bool,
    /// upgrade source
    pub origin: String,
}

impl From<Deployment> for DeploymentBlock {
    fn from(d: Deployment) -> Self {
        DeploymentBlock {
            id: d.id,
            osname: d.osname,
            checksum: d.checksum,
            version: d.version,
            timestamp: d.timestamp,
            booted: d.booted,
            staged: d.staged,
            pinned: d.pinned,
            default: d.default,
            origin: d.origin,
        }
    }
}

/// Status's `host` block.
#[derive(Debug, Default, SerializeDict, DeserializeDict, Type)]
#[zvariant(signature = "a{sv}", rename_all = "kebab-case")]
pub struct HostBlock {
    /// rpm-ostree, bootc, ostree or none
    pub backend: String,
    /// default first
    pub deployments: Vec<DeploymentBlock>,
    /// why the backend could not be read (deployments are then empty)
    pub error: Option<String>,
    /// the automatic updates
    pub updates: Option<UpdatesBlock>,
}

/// Status's `host.updates`: the automatic update policy and where it is.
#[derive(Debug, Default, Clone, SerializeDict, DeserializeDict, Type, Value, OwnedValue)]
#[zvariant(signature = "a{sv}", rename_all = "kebab-case")]
pub struct UpdatesBlock {
    /// none, check, stage or apply
    pub policy: String,
    /// immediate, periodic, fleet-lock or etcd
    pub strategy: String,
    /// seconds since the epoch
    pub next_check: u64,
    /// seconds since the epoch; 0 before the first
    pub last_check: u64,
    /// what the last round came to
    pub last_result: String,
    /// the maintenance windows, e.g. "Sat 22:00 +120m (UTC)"
    pub window: String,
    /// the reboot slot (fleet-lock, etcd)
    pub lock: Option<LockBlock>,
    /// why the configuration files cannot be used (the policy is then none)
    pub error: Option<String>,
}

/// The reboot slot of `updates`.
#[derive(Debug, Default, Clone, SerializeDict, DeserializeDict, Type, Value, OwnedValue)]
#[zvariant(signature = "a{sv}", rename_all = "kebab-case")]
pub struct LockBlock {
    /// fleet-lock or etcd
    pub backend: String,
    /// the reboot group
    pub group: String,
    /// this host holds a slot
    pub held: bool,
    /// since when (seconds since the epoch; 0 when not held)
    pub since: u64,
}

/// What an update changes (`diff` of CachedUpdate); each backend fills what it knows.
#[derive(Debug, Default, Clone, SerializeDict, DeserializeDict, Type, Value, OwnedValue)]
#[zvariant(signature = "a{sv}", rename_all = "kebab-case")]
pub struct DiffBlock {
    /// ostree: files that differ
    pub files_changed: Option<u32>,
    /// ostree: files only the update has
    pub files_added: Option<u32>,
    /// ostree: files only the current deployment has
    pub files_removed: Option<u32>,
    /// rpm-ostree: packages upgraded or downgraded
    pub packages_upgraded: Option<u32>,
    /// rpm-ostree: packages added
    pub packages_added: Option<u32>,
    /// rpm-ostree: packages removed
    pub packages_removed: Option<u32>,
    /// bootc: the image digest
    pub digest: Option<String>,
}

/// The CachedUpdate property and HostUpgrade's `update`: empty when there is none.
#[derive(Debug, Default, Clone, SerializeDict, DeserializeDict, Type, Value, OwnedValue)]
#[zvariant(signature = "a{sv}", rename_all = "kebab-case")]
pub struct UpdateBlock {
    /// the update's version
    pub version: Option<String>,
    /// its commit checksum (bootc: the image digest)
    pub checksum: Option<String>,
    /// seconds since the epoch
    pub timestamp: Option<u64>,
    /// where it comes from
    pub origin: Option<String>,
    /// what it changes
    pub diff: Option<DiffBlock>,
}

impl From<CachedUpdate> for UpdateBlock {
    fn from(u: CachedUpdate) -> Self {
        let d = u.diff;
        UpdateBlock {
            version: Some(u.version),
            checksum: Some(u.checksum),
            timestamp: Some(u.timestamp),
            origin: Some(u.origin),
            diff: Some(DiffBlock {
                files_changed: d.files_changed,
                files_added: d.files_added,
                files_removed: d.files_removed,
                packages_upgraded: d.packages_upgraded,
                packages_added: d.packages_added,
                packages_removed: d.packages_removed,
                digest: d.digest,
            }),
        }
    }
}

/// The result of HostUpgrade.
#[derive(Debug, Default, SerializeDict, DeserializeDict, Type)]
#[zvariant(signature = "a{sv}", rename_all = "kebab-case")]
pub struct UpgradeResult {
    /// whether a new deployment was written (or, with check, is available)
    pub changed: bool,
    /// with check: whether an update is available (as `changed`)
    pub available: Option<bool>,
    /// with check: the update found, as CachedUpdate shows it
    pub update: Option<UpdateBlock>,
    /// the new default deployment (with check: the current one)
    pub deployment: Option<DeploymentBlock>,
}

/// The result of HostDeploy and HostRebase.
#[derive(Debug, Default, SerializeDict, DeserializeDict, Type)]
#[zvariant(signature = "a{sv}", rename_all = "kebab-case")]
pub struct DeployResult {
    /// the new default deployment
    pub deployment: DeploymentBlock,
}

/// The result of HostCleanup.
#[derive(Debug, Default, SerializeDict, DeserializeDict, Type)]
#[zvariant(signature = "a{sv}", rename_all = "kebab-case")]
pub struct CleanupResult {
    /// the ids of the deployments removed
    pub removed: Vec<String>,
}

/// The result of Rollback.
#[derive(Debug, Default, SerializeDict, DeserializeDict, Type)]
#[zvariant(signature = "a{sv}", rename_all = "kebab-case")]
pub struct RollbackResult {
    /// the new default deployment
    pub deployment: DeploymentBlock,
}
