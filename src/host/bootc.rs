//! The bootc backend, through its CLI: `bootc status --json --format-version=1`,
//! `bootc upgrade [--check]`, `bootc rollback`. bootc has no D-Bus API; its JSON status (a
//! Kubernetes-style `BootcHost` object) is its documented programmatic interface.

use async_trait::async_trait;
use serde::Deserialize;

use super::{command, default_after_rollback, BackendKind, Deployment, HostBackend, UpgradeOutcome};
use crate::error::{Error, Result};
use crate::manager::Control;

#[derive(Debug, Deserialize)]
struct Host {
    status: HostStatus,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct HostStatus {
    staged: Option<Entry>,
    booted: Option<Entry>,
    rollback: Option<Entry>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Entry {
    image: Option<ImageStatus>,
    #[serde(default)]
    pinned: bool,
    ostree: Option<OstreeStatus>,
    cached_update: Option<ImageStatus>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct ImageStatus {
    image: ImageReference,
    version: Option<String>,
    timestamp: Option<String>,
    image_digest: String,
}

#[derive(Debug, Deserialize)]
struct ImageReference {
    image: String,
    transport: String,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct OstreeStatus {
    #[serde(default)]
    stateroot: Option<String>,
    checksum: String,
    deploy_serial: u32,
}

fn deployment(e: &Entry, booted: bool, staged: bool, default: bool) -> Deployment {
    let osname = e.ostree.as_ref().and_then(|o| o.stateroot.clone()).unwrap_or_else(|| "default".to_owned());
    let checksum = e.ostree.as_ref().map(|o| o.checksum.clone()).unwrap_or_default();
    let serial = e.ostree.as_ref().map_or(0, |o| o.deploy_serial);
    let image = e.image.as_ref();
    Deployment {
        id: format!("{osname}-{checksum}.{serial}"),
        osname,
        checksum,
        version: image.and_then(|i| i.version.clone()).unwrap_or_default(),
        timestamp: image
            .and_then(|i| i.timestamp.as_deref())
            .and_then(|t| humantime::parse_rfc3339(t).ok())
            .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
            .map_or(0, |d| d.as_secs()),
        booted,
        staged,
        pinned: e.pinned,
        default,
        origin: image
            .map(|i| match i.image.transport.as_str() {
                "registry" => i.image.image.clone(),
                other => format!("{other}:{}", i.image.image),
            })
            .unwrap_or_default(),
    }
}

/// Parses `bootc status --json`: staged (the default when present), booted, rollback.
pub fn parse_status(json: &str) -> Result<Vec<Deployment>> {
    let host: Host = serde_json::from_str(json)
        .map_err(|e| Error::Failed(format!("cannot read bootc status --json: {e}")))?;
    let s = host.status;
    let mut out = Vec::new();
    if let Some(e) = &s.staged {
        out.push(deployment(e, false, true, true));
    }
    if let Some(e) = &s.booted {
        out.push(deployment(e, true, false, out.is_empty()));
    }
    if let Some(e) = &s.rollback {
        out.push(deployment(e, false, false, out.is_empty()));
    }
    Ok(out)
}

/// Whether `bootc upgrade --check` left an update behind: a cached update whose digest differs
/// from the booted image's.
pub fn update_available(json: &str) -> Result<bool> {
    let host: Host = serde_json::from_str(json)
        .map_err(|e| Error::Failed(format!("cannot read bootc status --json: {e}")))?;
    Ok(host.status.booted.is_some_and(|b| match (&b.cached_update, &b.image) {
        (Some(update), Some(current)) => update.image_digest != current.image_digest,
        _ => false,
    }))
}

/// bootc on this host.
#[derive(Debug, Clone)]
pub struct Bootc {
    program: String,
}

impl Bootc {
    /// Uses `program` (normally `bootc` from PATH).
    pub fn new(program: impl Into<String>) -> Self {
        Bootc { program: program.into() }
    }

    async fn status_json(&self) -> Result<String> {
        command::run(&self.program, &["status", "--json", "--format-version=1"]).await
    }
}

#[async_trait]
impl HostBackend for Bootc {
    fn kind(&self) -> BackendKind {
        BackendKind::Bootc
    }

    async fn deployments(&self) -> Result<Vec<Deployment>> {
        parse_status(&self.status_json().await?)
    }

    async fn upgrade(&self, check: bool, control: Control) -> Result<UpgradeOutcome> {
        let before = parse_status(&self.status_json().await?)?;
        if check {
            command::run_for_job(&self.program, &["upgrade", "--check"], &control, command::message_line)
                .await?;
            let json = self.status_json().await?;
            return Ok(UpgradeOutcome {
                changed: update_available(&json)?,
                deployment: before.into_iter().next(),
            });
        }
        command::run_for_job(&self.program, &["upgrade"], &control, command::message_line).await?;
        Ok(UpgradeOutcome::between(&before, parse_status(&self.status_json().await?)?))
    }

    async fn rollback(&self) -> Result<Deployment> {
        command::run(&self.program, &["rollback"]).await?;
        default_after_rollback(parse_status(&self.status_json().await?)?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn staged_and_rollback_sample() {
        let list = parse_status(include_str!("../../tests/fixtures/bootc-status-staged-rollback.json"))
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(list.len(), 2);
        assert!(list[0].staged && list[0].default && !list[0].booted);
        assert_eq!(list[0].checksum, "3c6dad657109522e0b2e49bf44b5420f16f0b438b5b9357e5132211cfbad135d");
        assert_eq!(list[0].version, "nightly");
        assert_eq!(list[0].timestamp, 1697311335);
        assert_eq!(list[0].origin, "quay.io/example/someimage:latest");
        assert!(!list[1].default && !list[1].staged);
        assert_eq!(list[1].id, "default-26836632adf6228d64ef07a26fd3efaf177104efd1f341a2cf7909a3e4e2c72c.0");
    }

    #[test]
    fn booted_only_sample_and_cached_update() {
        let json = include_str!("../../tests/fixtures/bootc-status-booted.json");
        let list = parse_status(json).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(list.len(), 1);
        assert!(list[0].booted && list[0].default);
        assert_eq!(list[0].version, "20231230.1");
        assert!(!update_available(json).unwrap_or(true));
        let with_update = json.replace(
            "\"cachedUpdate\": null",
            "\"cachedUpdate\": {\"image\": {\"image\": \"quay.io/otherexample/otherimage:latest\", \"transport\": \"registry\"}, \"version\": \"20240101.1\", \"timestamp\": null, \"imageDigest\": \"sha256:0000000000000000000000000000000000000000000000000000000000000000\"}",
        );
        assert!(update_available(&with_update).unwrap_or(false));
    }
}
