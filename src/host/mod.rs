//! The image-based host behind a small trait: rpm-ostree, bootc, ostree, or none.

use std::path::{Path, PathBuf};

mod bootc;
mod command;
mod ostree;
mod rpm_ostree;

pub use self::bootc::Bootc;
pub use self::ostree::{HelperLine, OstreeHost};
pub use self::rpm_ostree::RpmOstree;

use async_trait::async_trait;

use crate::error::{Error, Result};
use crate::manager::Control;

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

/// What HostUpgrade did.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct UpgradeOutcome {
    /// Whether a new deployment was (or, with `check`, could be) written.
    pub changed: bool,
    /// The new default deployment.
    pub deployment: Option<Deployment>,
}

impl UpgradeOutcome {
    /// What an upgrade by an external tool did, from the deployment lists before and after:
    /// changed when the default deployment is another commit.
    pub fn between(before: &[Deployment], after: Vec<Deployment>) -> Self {
        let changed = after.first().map(|d| &d.checksum) != before.first().map(|d| &d.checksum);
        UpgradeOutcome { changed, deployment: after.into_iter().next() }
    }
}

/// The new default deployment after a rollback by an external tool.
pub fn default_after_rollback(after: Vec<Deployment>) -> Result<Deployment> {
    after.into_iter().next().ok_or_else(|| Error::Failed("no deployment after rollback".into()))
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

/// Upgrades, rolls back and describes the host.
#[async_trait]
pub trait HostBackend: Send + Sync {
    /// Which backend this is.
    fn kind(&self) -> BackendKind;
    /// The deployments, default first.
    async fn deployments(&self) -> Result<Vec<Deployment>>;
    /// Upgrades (or with `check` only looks), reporting progress on `control`; on Cancel it
    /// stops, leaves the deployments as they were and returns Cancelled.
    async fn upgrade(&self, check: bool, control: Control) -> Result<UpgradeOutcome>;
    /// Makes the previous deployment the default.
    async fn rollback(&self) -> Result<Deployment>;
}

/// A machine that is not image-based.
#[derive(Debug, Default)]
pub struct NoHost;

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

    async fn rollback(&self) -> Result<Deployment> {
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

    #[test]
    fn detection_follows_the_booted_marker_and_the_tools() {
        let dir = std::env::temp_dir().join(format!("atomicd-detect-{}", std::process::id()));
        let bin = dir.join("bin");
        std::fs::create_dir_all(&bin).unwrap_or_else(|e| panic!("{e}"));
        let marker = dir.join("ostree-booted");
        let paths = vec![bin.clone()];
        assert_eq!(BackendKind::detect(&marker, &paths), BackendKind::None);
        std::fs::write(&marker, "").unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(BackendKind::detect(&marker, &paths), BackendKind::Ostree);
        std::fs::write(bin.join("bootc"), "").unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(BackendKind::detect(&marker, &paths), BackendKind::Bootc);
        std::fs::write(bin.join("rpm-ostree"), "").unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(BackendKind::detect(&marker, &paths), BackendKind::RpmOstree);
        let _ = std::fs::remove_dir_all(&dir);
        for k in ["rpm-ostree", "bootc", "ostree", "none"] {
            assert_eq!(BackendKind::parse(k).map(BackendKind::as_str), Some(k));
        }
        assert_eq!(BackendKind::parse("yum"), None);
    }
}
