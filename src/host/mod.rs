//! The image-based host behind a small trait: rpm-ostree, bootc, ostree, or none.

use std::path::{Path, PathBuf};

mod bootc;
mod command;
mod ostree;
mod rpm_ostree;
mod status_cache;
mod tool;

pub(crate) use self::bootc::Bootc;
pub use self::ostree::HelperLine;
pub(crate) use self::ostree::OstreeHost;
pub(crate) use self::rpm_ostree::RpmOstree;
pub(crate) use self::status_cache::StatusCache;

use async_trait::async_trait;

use crate::error::{Error, Result};
use crate::system::control::Control;

/// One deployment of the host, with the keys of API.md's Status.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Deployment {
    /// A stable identifier of the deployment.
    pub id: String,
    /// The OS (stateroot) name.
    pub osname: String,
    /// The commit checksum.
    pub checksum: String,
    /// The commit's version metadata.
    pub version: String,
    /// Seconds since the epoch.
    pub timestamp: u64,
    /// Running now.
    pub booted: bool,
    /// Staged for the next boot.
    pub staged: bool,
    /// Protected from garbage collection.
    pub pinned: bool,
    /// Boots next.
    pub default: bool,
    /// Where upgrades come from (refspec or image).
    pub origin: String,
}

/// An update a check found and has not been deployed yet: what `CachedUpdate` shows.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct CachedUpdate {
    /// The update's version metadata.
    pub version: String,
    /// Its commit checksum (bootc: the image digest).
    pub checksum: String,
    /// Seconds since the epoch.
    pub timestamp: u64,
    /// The origin it came from.
    pub origin: String,
    /// What it changes, as far as the backend can tell.
    pub diff: UpdateDiff,
}

/// What an update changes; each backend fills what it knows.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct UpdateDiff {
    /// ostree: files whose content or metadata differ between the two commits.
    pub files_changed: Option<u32>,
    /// ostree: files only the update has.
    pub files_added: Option<u32>,
    /// ostree: files only the current deployment has.
    pub files_removed: Option<u32>,
    /// rpm-ostree: packages upgraded (or downgraded).
    pub packages_upgraded: Option<u32>,
    /// rpm-ostree: packages added.
    pub packages_added: Option<u32>,
    /// rpm-ostree: packages removed.
    pub packages_removed: Option<u32>,
    /// bootc: the image digest.
    pub digest: Option<String>,
}

impl CachedUpdate {
    /// Whether `deployments` show the host has this update already, or has moved past it: a
    /// deployment of the same origin with its checksum or version, or a default deployment that
    /// is younger than it or follows another origin (after a rebase).
    pub fn is_past(&self, deployments: &[Deployment]) -> bool {
        let same = |d: &Deployment| {
            d.checksum == self.checksum
                || (d.origin == self.origin && !self.version.is_empty() && d.version == self.version)
        };
        let moved = |d: &Deployment| {
            d.default && ((self.timestamp > 0 && d.timestamp > self.timestamp) || d.origin != self.origin)
        };
        deployments.iter().any(|d| same(d) || moved(d))
    }
}

/// What HostUpgrade did.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct UpgradeOutcome {
    /// Whether a new deployment was (or, with `check`, could be) written.
    pub changed: bool,
    /// The new default deployment.
    pub deployment: Option<Deployment>,
    /// With `check`: the update found, if any.
    #[serde(default)]
    pub update: Option<CachedUpdate>,
}

impl UpgradeOutcome {
    /// What an upgrade by an external tool did, from the deployment lists before and after:
    /// changed when the default deployment is another commit.
    pub fn between(before: &[Deployment], after: Vec<Deployment>) -> Self {
        let changed = after.first().map(|d| &d.checksum) != before.first().map(|d| &d.checksum);
        UpgradeOutcome { changed, deployment: after.into_iter().next(), update: None }
    }
}

/// The new default deployment after a rollback by an external tool.
pub(crate) fn default_after_rollback(after: Vec<Deployment>) -> Result<Deployment> {
    after.into_iter().next().ok_or_else(|| Error::Failed("no deployment after rollback".into()))
}

/// Which deployments HostCleanup removes.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Cleanup {
    /// The rollback deployment(s): neither booted, default, staged nor pinned.
    pub rollback: bool,
    /// The pending deployment: staged, or the default when another one is booted.
    pub pending: bool,
}

/// The ids `cleanup` would remove from `deployments`: never the booted one, never a pinned one,
/// never the default of a sysroot that has no booted deployment (an image being built).
pub fn cleanup_victims(deployments: &[Deployment], what: Cleanup) -> Vec<String> {
    let booted_exists = deployments.iter().any(|d| d.booted);
    deployments
        .iter()
        .filter(|d| !d.booted && !d.pinned)
        .filter(|d| {
            let pending = d.staged || (d.default && booted_exists);
            if pending {
                what.pending
            } else {
                what.rollback && !d.default
            }
        })
        .map(|d| d.id.clone())
        .collect()
}

/// Which backend runs this host.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BackendKind {
    /// rpm-ostree (Fedora CoreOS, RHEL for Edge, Atomic Host).
    RpmOstree,
    /// bootc.
    Bootc,
    /// Plain ostree.
    Ostree,
    /// Not an image-based host.
    None,
}

impl BackendKind {
    /// The name Status reports.
    pub fn as_str(self) -> &'static str {
        match self {
            BackendKind::RpmOstree => "rpm-ostree",
            BackendKind::Bootc => "bootc",
            BackendKind::Ostree => "ostree",
            BackendKind::None => "none",
        }
    }

    /// Parses `--host-backend`.
    pub fn parse(text: &str) -> Option<Self> {
        [BackendKind::RpmOstree, BackendKind::Bootc, BackendKind::Ostree, BackendKind::None]
            .into_iter()
            .find(|k| k.as_str() == text)
    }

    /// Looks at the running system: an ostree-booted host with rpm-ostree or bootc installed
    /// uses that tool; otherwise plain ostree; a host not booted from ostree has none.
    pub fn detect(ostree_booted: &Path, path_dirs: &[PathBuf]) -> Self {
        let has = |tool: &str| path_dirs.iter().any(|d| d.join(tool).is_file());
        if !ostree_booted.exists() {
            BackendKind::None
        } else if has("rpm-ostree") {
            BackendKind::RpmOstree
        } else if has("bootc") {
            BackendKind::Bootc
        } else {
            BackendKind::Ostree
        }
    }
}

/// Upgrades, rolls back and describes the host. Every operation that takes a [`Control`]
/// stops on Cancel and leaves the deployments as they were, until it calls
/// [`Control::point_of_no_return`]; after that it finishes.
#[async_trait]
pub trait HostBackend: Send + Sync {
    /// Which backend this is.
    fn kind(&self) -> BackendKind;
    /// The deployments, default first.
    async fn deployments(&self) -> Result<Vec<Deployment>>;
    /// Upgrades (or with `check` only looks, filling `update`), reporting progress on `control`.
    async fn upgrade(&self, check: bool, control: Control) -> Result<UpgradeOutcome>;
    /// Makes the previous deployment the default.
    async fn rollback(&self, control: Control) -> Result<Deployment>;
    /// Deploys `revision` (a version or a checksum) of the default deployment's origin.
    async fn deploy(&self, revision: &str, control: Control) -> Result<Deployment>;
    /// Switches to `origin` (a refspec or an image), at `revision` when given.
    async fn rebase(&self, origin: &str, revision: Option<&str>, control: Control) -> Result<Deployment>;
    /// Pins or unpins the deployment `id`.
    async fn pin(&self, id: &str, pinned: bool) -> Result<()>;
    /// Removes what `what` names (see [`cleanup_victims`]) and returns the removed ids.
    async fn cleanup(&self, what: Cleanup) -> Result<Vec<String>>;
}

/// A machine that is not image-based.
#[derive(Debug, Default)]
pub(crate) struct NoHost;

#[async_trait]
impl HostBackend for NoHost {
    fn kind(&self) -> BackendKind {
        BackendKind::None
    }

    async fn deployments(&self) -> Result<Vec<Deployment>> {
        Ok(Vec::new())
    }

    async fn upgrade(&self, _check: bool, _control: Control) -> Result<UpgradeOutcome> {
        Err(not_supported())
    }

    async fn rollback(&self, _control: Control) -> Result<Deployment> {
        Err(not_supported())
    }

    async fn deploy(&self, _revision: &str, _control: Control) -> Result<Deployment> {
        Err(not_supported())
    }

    async fn rebase(&self, _origin: &str, _revision: Option<&str>, _control: Control) -> Result<Deployment> {
        Err(not_supported())
    }

    async fn pin(&self, _id: &str, _pinned: bool) -> Result<()> {
        Err(not_supported())
    }

    async fn cleanup(&self, _what: Cleanup) -> Result<Vec<String>> {
        Err(not_supported())
    }
}

fn not_supported() -> Error {
    Error::HostNotSupported(
        "this machine is not an image-based host (no rpm-ostree, bootc or ostree deployment)".into(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dep(id: &str, booted: bool, default: bool, staged: bool, pinned: bool) -> Deployment {
        Deployment { id: id.into(), booted, default, staged, pinned, ..Deployment::default() }
    }

    #[test]
    fn cleanup_never_takes_the_booted_or_a_pinned_deployment() {
        let both = Cleanup { rollback: true, pending: true };
        let rollback = Cleanup { rollback: true, pending: false };
        let pending = Cleanup { rollback: false, pending: true };
        let booted_host = [
            dep("new", false, true, true, false),
            dep("now", true, false, false, false),
            dep("old", false, false, false, false),
            dep("kept", false, false, false, true),
        ];
        for (what, want) in [(both, vec!["new", "old"]), (rollback, vec!["old"]), (pending, vec!["new"])] {
            assert_eq!(cleanup_victims(&booted_host, what), want, "{what:?}");
        }
        // A sysroot nothing booted from: its default is what it would boot, never pending.
        let image = [dep("a", false, true, false, false), dep("b", false, false, false, false)];
        assert_eq!(cleanup_victims(&image, both), ["b"]);
        assert_eq!(cleanup_victims(&image, pending), Vec::<String>::new());
        // Booted and default at once (after a rollback was cleaned): nothing pending.
        let settled = [dep("a", true, true, false, false), dep("b", false, false, false, true)];
        assert_eq!(cleanup_victims(&settled, both), Vec::<String>::new());
    }

    #[test]
    fn a_cached_update_is_past_once_deployed_or_overtaken() {
        let update = CachedUpdate {
            version: "3.0".into(),
            checksum: "c3".into(),
            timestamp: 300,
            origin: "o:testos/stable".into(),
            diff: UpdateDiff::default(),
        };
        let d = |checksum: &str, version: &str, timestamp: u64, default: bool| Deployment {
            checksum: checksum.into(),
            version: version.into(),
            timestamp,
            default,
            origin: "o:testos/stable".into(),
            ..Deployment::default()
        };
        assert!(!update.is_past(&[d("c2", "2.0", 200, true), d("c1", "1.0", 100, false)]));
        assert!(update.is_past(&[d("c3", "3.0", 300, true)]), "deployed");
        assert!(update.is_past(&[d("cx", "3.0", 300, false)]), "the same version of the origin");
        assert!(update.is_past(&[d("c4", "4.0", 400, true)]), "a newer default");
        assert!(!update.is_past(&[d("c4", "4.0", 400, false), d("c2", "2.0", 200, true)]));
        let rebased = Deployment { origin: "o:testos/next".into(), ..d("n1", "1.0", 100, true) };
        assert!(update.is_past(&[rebased]), "the default follows another origin");
    }

    #[test]
    fn detection_follows_the_booted_marker_and_the_tools() {
        let dir = std::env::temp_dir().join(format!("atomicd-detect-{}", std::process::id()));
        let bin = dir.join("bin");
        std::fs::create_dir_all(&bin).unwrap();
        let marker = dir.join("ostree-booted");
        let paths = vec![bin.clone()];
        assert_eq!(BackendKind::detect(&marker, &paths), BackendKind::None);
        std::fs::write(&marker, "").unwrap();
        assert_eq!(BackendKind::detect(&marker, &paths), BackendKind::Ostree);
        std::fs::write(bin.join("bootc"), "").unwrap();
        assert_eq!(BackendKind::detect(&marker, &paths), BackendKind::Bootc);
        std::fs::write(bin.join("rpm-ostree"), "").unwrap();
        assert_eq!(BackendKind::detect(&marker, &paths), BackendKind::RpmOstree);
        let _ = std::fs::remove_dir_all(&dir);
        for k in ["rpm-ostree", "bootc", "ostree", "none"] {
            assert_eq!(BackendKind::parse(k).map(BackendKind::as_str), Some(k));
        }
        assert_eq!(BackendKind::parse("yum"), None);
    }
}
