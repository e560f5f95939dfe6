//! The rpm-ostree backend, through its CLI (`rpm-ostree status --json`, `upgrade [--check]`,
//! `deploy`, `rebase`, `rollback`, `cleanup`), and `ostree admin pin`, which rpm-ostree hosts
//! use for pins (rpm-ostree has no pin command of its own).
//!
//! Why the CLI and not `org.projectatomic.rpmostree1` directly: a D-Bus client must register
//! with the daemon, start a transaction, connect to its private peer-to-peer address, follow
//! its signals and handle the daemon restarting or timing out mid-transaction; the CLI is
//! rpm-ostree's own, maintained client of exactly that protocol, and its JSON status is a
//! documented, stable interface (zincati and Ansible parse the same output). One fewer
//! protocol to get subtly wrong in a privileged daemon.

use std::path::Path;

use async_trait::async_trait;
use serde::Deserialize;

use super::tool::Tool;
use super::{
    command, default_after_rollback, BackendKind, CachedUpdate, Cleanup, Deployment, HostBackend, UpdateDiff,
    UpgradeOutcome,
};
use crate::error::{Error, Result};
use crate::system::control::Control;

/// `rpm-ostree status --json`, the fields atomicd reports.
#[derive(Debug, Deserialize)]
struct Status {
    deployments: Vec<RawDeployment>,
    /// What the last `upgrade --check` found (rpm-ostreed's CachedUpdate property), or null.
    #[serde(default, rename = "cached-update")]
    cached_update: Option<RawUpdate>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "kebab-case")]
struct RawUpdate {
    checksum: String,
    #[serde(default)]
    version: Option<String>,
    #[serde(default)]
    timestamp: u64,
    #[serde(default)]
    origin: Option<String>,
    /// `upgraded`/`downgraded` a(us(ss)(ss)), `removed`/`added` a(usss), as JSON arrays.
    #[serde(default)]
    rpm_diff: Option<RpmDiff>,
}

#[derive(Debug, Default, Deserialize)]
struct RpmDiff {
    #[serde(default)]
    upgraded: Vec<serde_json::Value>,
    #[serde(default)]
    downgraded: Vec<serde_json::Value>,
    #[serde(default)]
    removed: Vec<serde_json::Value>,
    #[serde(default)]
    added: Vec<serde_json::Value>,
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

fn parse(json: &str) -> Result<Status> {
    serde_json::from_str(json)
        .map_err(|e| Error::Failed(format!("cannot read rpm-ostree status --json: {e}")))
}

fn count(list: &[serde_json::Value]) -> Option<u32> {
    u32::try_from(list.len()).ok()
}

/// The `cached-update` of `rpm-ostree status --json`, with its package counts.
pub(super) fn parse_cached_update(json: &str) -> Result<Option<CachedUpdate>> {
    Ok(parse(json)?.cached_update.map(|u| {
        let diff = u.rpm_diff.unwrap_or_default();
        CachedUpdate {
            version: u.version.unwrap_or_default(),
            checksum: u.checksum,
            timestamp: u.timestamp,
            origin: u.origin.unwrap_or_default(),
            diff: UpdateDiff {
                packages_upgraded: u32::try_from(diff.upgraded.len() + diff.downgraded.len()).ok(),
                packages_added: count(&diff.added),
                packages_removed: count(&diff.removed),
                ..UpdateDiff::default()
            },
        }
    }))
}

/// Parses `rpm-ostree status --json`; the first deployment is the default.
pub(super) fn parse_status(json: &str) -> Result<Vec<Deployment>> {
    let status = parse(json)?;
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
#[derive(Debug)]
pub(crate) struct RpmOstree {
    tool: Tool,
}

impl RpmOstree {
    /// Uses `program` (normally `rpm-ostree` from PATH) and `ostree` for pins, on the host whose
    /// sysroot is at `sysroot`.
    pub(crate) fn new(program: impl Into<String>, ostree: impl Into<String>, sysroot: &Path) -> Self {
        RpmOstree {
            tool: Tool::new(program.into(), ostree.into(), sysroot, &["status", "--json"], parse_status),
        }
    }

    /// Runs a long rpm-ostree command for a job and returns the new default deployment.
    async fn transaction(&self, args: &[&str], control: &Control) -> Result<Deployment> {
        let run = command::run_for_job(&self.tool.program, args, control, command::message_line);
        let (_, after) = self.tool.then_fresh(run).await?;
        after
            .into_iter()
            .next()
            .ok_or_else(|| Error::Failed(format!("no deployment after rpm-ostree {}", args[0])))
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
        self.tool.deployments().await
    }

    async fn upgrade(&self, check: bool, control: Control) -> Result<UpgradeOutcome> {
        let t = &self.tool;
        let before = t.fresh().await?;
        if check {
            // `upgrade --check` exits 77 when nothing is available, 0 when an update is; it
            // leaves what it found in status's `cached-update`.
            let args = ["upgrade", "--check"];
            let out = command::output(&t.program, &args).await?;
            let changed = match out.status.code() {
                Some(0) => true,
                Some(CHECK_NOTHING_AVAILABLE) => false,
                _ => return Err(command::failure(&t.program, &args, out.status, &out.stderr)),
            };
            let update = if changed { parse_cached_update(&t.status_json().await?)? } else { None };
            return Ok(UpgradeOutcome { changed, deployment: before.into_iter().next(), update });
        }
        let upgrade = command::run_for_job(&t.program, &["upgrade"], &control, command::message_line);
        let (_, after) = t.then_fresh(upgrade).await?;
        Ok(UpgradeOutcome::between(&before, after))
    }

    async fn rollback(&self, _control: Control) -> Result<Deployment> {
        let (_, after) = self.tool.then_fresh(command::run(&self.tool.program, &["rollback"])).await?;
        default_after_rollback(after)
    }

    async fn deploy(&self, revision: &str, control: Control) -> Result<Deployment> {
        self.transaction(&["deploy", "--", revision], &control).await
    }

    async fn rebase(&self, origin: &str, revision: Option<&str>, control: Control) -> Result<Deployment> {
        match revision {
            Some(r) => self.transaction(&["rebase", "--", origin, r], &control).await,
            None => self.transaction(&["rebase", "--", origin], &control).await,
        }
    }

    async fn pin(&self, id: &str, pinned: bool) -> Result<()> {
        // rpm-ostree has no pin command: `ostree admin pin` counts deployments as rpm-ostree lists them.
        let args: &[&str] = if pinned { &["pin"] } else { &["pin", "--unpin"] };
        self.tool.ostree_admin(args, id).await
    }

    async fn cleanup(&self, what: Cleanup) -> Result<Vec<String>> {
        let before = self.tool.fresh().await?;
        let victims = super::cleanup_victims(&before, what);
        // rpm-ostree's -r and -p name one deployment each; ask only for those atomicd may remove
        // (a pinned rollback or pending deployment is left, so the flag is not passed).
        let mut args = vec!["cleanup"];
        let rollback_ok = before.iter().any(|d| victims.contains(&d.id) && !d.staged && !d.default);
        let pending_ok = before.iter().any(|d| victims.contains(&d.id) && (d.staged || d.default));
        if rollback_ok {
            args.push("--rollback");
        }
        if pending_ok {
            args.push("--pending");
        }
        if args.len() == 1 {
            return Ok(Vec::new());
        }
        let (_, after) = self.tool.then_fresh(command::run(&self.tool.program, &args)).await?;
        Ok(before.into_iter().filter(|d| !after.iter().any(|a| a.id == d.id)).map(|d| d.id).collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn staged_upgrade_sample() {
        let list = parse_status(include_str!("../../tests/fixtures/rpm-ostree-status-staged.json")).unwrap();
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
    fn a_cached_update_counts_packages() {
        let json = include_str!("../../tests/fixtures/rpm-ostree-status-staged.json").replacen(
            "\"cached-update\": null",
            r#""cached-update" : {"osname": "fedora-coreos", "checksum": "c0ffee", "version": "31.20200601.3.0",
                "timestamp": 1591031800, "origin": "fedora:fedora/x86_64/coreos/stable",
                "rpm-diff": {"upgraded": [[0, "kernel", ["5.6.13-300.fc32", "x86_64"], ["5.6.15-300.fc32", "x86_64"]]],
                             "downgraded": [], "removed": [[1, "nano", "4.9-1.fc32", "x86_64"]],
                             "added": [[2, "htop", "2.2.0-7.fc32", "x86_64"], [2, "tmux", "3.0a-2.fc32", "x86_64"]]}}"#,
            1,
        );
        let update = parse_cached_update(&json).ok().flatten().unwrap_or_default();
        assert_eq!((update.version.as_str(), update.checksum.as_str()), ("31.20200601.3.0", "c0ffee"));
        let d = update.diff;
        assert_eq!((d.packages_upgraded, d.packages_added, d.packages_removed), (Some(1), Some(2), Some(1)));
        assert_eq!(
            parse_cached_update(include_str!("../../tests/fixtures/rpm-ostree-status-staged.json")).ok(),
            Some(None)
        );
    }

    #[test]
    fn garbage_is_a_clear_error() {
        assert!(matches!(parse_status("not json"), Err(Error::Failed(m)) if m.contains("rpm-ostree status")));
    }
}
