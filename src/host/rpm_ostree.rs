//! The rpm-ostree backend, through its CLI (`rpm-ostree status --json`, `upgrade [--check]`,
//! `rollback`).
//!
//! Why the CLI and not `org.projectatomic.rpmostree1` directly: a D-Bus client must register
//! with the daemon, start a transaction, connect to its private peer-to-peer address, follow
//! its signals and handle the daemon restarting or timing out mid-transaction; the CLI is
//! rpm-ostree's own, maintained client of exactly that protocol, and its JSON status is a
//! documented, stable interface (zincati and Ansible parse the same output). One fewer
//! protocol to get subtly wrong in a privileged daemon.

use async_trait::async_trait;
use serde::Deserialize;

use super::{command, default_after_rollback, BackendKind, Deployment, HostBackend, UpgradeOutcome};
use crate::error::{Error, Result};
use crate::manager::Control;

/// `rpm-ostree status --json`, the fields atomicd reports.
#[derive(Debug, Deserialize)]
struct Status {
    deployments: Vec<RawDeployment>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "kebab-case")]
struct RawDeployment {
    id: String,
    osname: String,
    checksum: String,
    #[serde(default)]
    version: Option<String>,
    #[serde(default)]
    timestamp: u64,
    #[serde(default)]
    booted: bool,
    #[serde(default)]
    staged: bool,
    #[serde(default)]
    pinned: bool,
    #[serde(default)]
    origin: Option<String>,
    #[serde(default)]
    container_image_reference: Option<String>,
}

/// Parses `rpm-ostree status --json`; the first deployment is the default.
pub fn parse_status(json: &str) -> Result<Vec<Deployment>> {
    let status: Status = serde_json::from_str(json)
        .map_err(|e| Error::Failed(format!("cannot read rpm-ostree status --json: {e}")))?;
    Ok(status
        .deployments
        .into_iter()
        .enumerate()
        .map(|(i, d)| Deployment {
            id: d.id,
            osname: d.osname,
            checksum: d.checksum,
            version: d.version.unwrap_or_default(),
            timestamp: d.timestamp,
            booted: d.booted,
            staged: d.staged,
            pinned: d.pinned,
            default: i == 0,
            origin: d.origin.or(d.container_image_reference).unwrap_or_default(),
        })
        .collect())
}

/// rpm-ostree on this host.
#[derive(Debug, Clone)]
pub struct RpmOstree {
    program: String,
}

impl RpmOstree {
    /// Uses `program` (normally `rpm-ostree` from PATH).
    pub fn new(program: impl Into<String>) -> Self {
        RpmOstree { program: program.into() }
    }

    async fn status(&self) -> Result<Vec<Deployment>> {
        parse_status(&command::run(&self.program, &["status", "--json"]).await?)
    }
}

/// rpm-ostree's exit status for `upgrade --check` when no update is available
/// (`RPM_OSTREE_EXIT_UNCHANGED`).
const CHECK_NOTHING_AVAILABLE: i32 = 77;

#[async_trait]
impl HostBackend for RpmOstree {
    fn kind(&self) -> BackendKind {
        BackendKind::RpmOstree
    }

    async fn deployments(&self) -> Result<Vec<Deployment>> {
        self.status().await
    }

    async fn upgrade(&self, check: bool, control: Control) -> Result<UpgradeOutcome> {
        let before = self.status().await?;
        if check {
            // `upgrade --check` exits 77 when nothing is available, 0 when an update is.
            let args = ["upgrade", "--check"];
            let out = command::output(&self.program, &args).await?;
            let changed = match out.status.code() {
                Some(0) => true,
                Some(CHECK_NOTHING_AVAILABLE) => false,
                _ => return Err(command::failure(&self.program, &args, out.status, &out.stderr)),
            };
            return Ok(UpgradeOutcome { changed, deployment: before.into_iter().next() });
        }
        command::run_for_job(&self.program, &["upgrade"], &control, command::message_line).await?;
        Ok(UpgradeOutcome::between(&before, self.status().await?))
    }

    async fn rollback(&self) -> Result<Deployment> {
        command::run(&self.program, &["rollback"]).await?;
        default_after_rollback(self.status().await?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn staged_upgrade_sample() {
        let list = parse_status(include_str!("../../tests/fixtures/rpm-ostree-status-staged.json"))
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(list.len(), 2);
        let (staged, booted) = (&list[0], &list[1]);
        assert!(staged.default && staged.staged && !staged.booted);
        assert_eq!(staged.version, "31.20200517.3.0");
        assert_eq!(staged.timestamp, 1591031729);
        assert_eq!(staged.origin, "fedora:fedora/x86_64/coreos/stable");
        assert_eq!(staged.osname, "fedora-coreos");
        assert!(booted.booted && !booted.default && !booted.staged);
        assert_eq!(booted.checksum, "01f074cc6cd88d8d2b43f821da692f2367c101eb4377802cb35092bde0ef02f7");
    }

    #[test]
    fn garbage_is_a_clear_error() {
        assert!(matches!(parse_status("not json"), Err(Error::Failed(m)) if m.contains("rpm-ostree status")));
    }
}
