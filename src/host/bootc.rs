//! The bootc backend, through its CLI: `bootc status --json --format-version=1`, `bootc upgrade
//! [--check]`, `bootc switch`, `bootc rollback`, and `ostree admin pin`/`undeploy` for what bootc
//! has no command of its own for. bootc has no D-Bus API; its JSON status (a Kubernetes-style
//! `BootcHost`, apiVersion `org.containers.bootc/v1`, schema `host-v1.schema.json` in bootc's
//! docs) is its documented programmatic interface.

use std::path::Path;

use async_trait::async_trait;
use serde::Deserialize;

use super::tool::Tool;
use super::{
    command, BackendKind, CachedUpdate, Cleanup, Deployment, HostBackend, UpdateDiff, UpgradeOutcome,
};
use crate::error::{Error, Result};
use crate::system::control::Control;

#[derive(Debug, Deserialize)]
struct Host {
    #[serde(default)]
    spec: HostSpec,
    status: HostStatus,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct HostSpec {
    /// `default` or `rollback`: which of booted and rollback boots next (bootc >= 1.1).
    #[serde(default)]
    boot_order: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct HostStatus {
    staged: Option<Entry>,
    booted: Option<Entry>,
    rollback: Option<Entry>,
    /// Set by `bootc rollback` until the next boot.
    #[serde(default)]
    rollback_queued: bool,
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

fn epoch(timestamp: Option<&str>) -> u64 {
    timestamp
        .and_then(|t| humantime::parse_rfc3339(t).ok())
        .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
        .map_or(0, |d| d.as_secs())
}

fn origin(image: &ImageStatus) -> String {
    match image.image.transport.as_str() {
        "registry" => image.image.image.clone(),
        other => format!("{other}:{}", image.image.image),
    }
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
        timestamp: epoch(image.and_then(|i| i.timestamp.as_deref())),
        booted,
        staged,
        pinned: e.pinned,
        default,
        origin: image.map(origin).unwrap_or_default(),
    }
}

fn parse(json: &str) -> Result<Host> {
    serde_json::from_str(json).map_err(|e| Error::Failed(format!("cannot read bootc status --json: {e}")))
}

/// Parses `bootc status --json`, default first: the staged deployment when there is one; else
/// the rollback when a rollback is queued (`status.rollbackQueued`, or `spec.bootOrder` is
/// `rollback`); else the booted one.
pub(super) fn parse_status(json: &str) -> Result<Vec<Deployment>> {
    let host = parse(json)?;
    let s = host.status;
    let rollback_first =
        s.staged.is_none() && (s.rollback_queued || host.spec.boot_order.as_deref() == Some("rollback"));
    let mut out = Vec::new();
    if let Some(e) = &s.staged {
        out.push(deployment(e, false, true, true));
    }
    if rollback_first {
        if let Some(e) = &s.rollback {
            out.push(deployment(e, false, false, true));
        }
    }
    if let Some(e) = &s.booted {
        out.push(deployment(e, true, false, out.is_empty()));
    }
    if !rollback_first {
        if let Some(e) = &s.rollback {
            out.push(deployment(e, false, false, out.is_empty()));
        }
    }
    Ok(out)
}

/// The update `bootc upgrade --check` left in the booted entry's `cachedUpdate`, when its digest
/// differs from the booted image's.
pub(super) fn cached_update(json: &str) -> Result<Option<CachedUpdate>> {
    let host = parse(json)?;
    let Some(booted) = host.status.booted else { return Ok(None) };
    let (Some(update), current) = (booted.cached_update, booted.image) else { return Ok(None) };
    if current.is_some_and(|c| c.image_digest == update.image_digest) {
        return Ok(None);
    }
    Ok(Some(CachedUpdate {
        version: update.version.clone().unwrap_or_default(),
        checksum: update.image_digest.clone(),
        timestamp: epoch(update.timestamp.as_deref()),
        origin: origin(&update),
        diff: UpdateDiff { digest: Some(update.image_digest), ..UpdateDiff::default() },
    }))
}

/// bootc on this host.
#[derive(Debug)]
pub(crate) struct Bootc {
    tool: Tool,
}

impl Bootc {
    /// Uses `program` (normally `bootc` from PATH) and `ostree` for pins, on the host whose
    /// sysroot is at `sysroot`.
    pub(crate) fn new(program: impl Into<String>, ostree: impl Into<String>, sysroot: &Path) -> Self {
        let status = &["status", "--json", "--format-version=1"];
        Bootc { tool: Tool::new(program.into(), ostree.into(), sysroot, status, parse_status) }
    }
}

#[async_trait]
impl HostBackend for Bootc {
    fn kind(&self) -> BackendKind {
        BackendKind::Bootc
    }

    async fn deployments(&self) -> Result<Vec<Deployment>> {
        self.tool.deployments().await
    }

    async fn upgrade(&self, check: bool, control: Control) -> Result<UpgradeOutcome> {
        let t = &self.tool;
        let before = t.fresh().await?;
        if check {
            command::run_for_job(&t.program, &["upgrade", "--check"], &control, command::message_line)
                .await?;
            let update = cached_update(&t.status_json().await?)?;
            return Ok(UpgradeOutcome {
                changed: update.is_some(),
                deployment: before.into_iter().next(),
                update,
            });
        }
        let upgrade = command::run_for_job(&t.program, &["upgrade"], &control, command::message_line);
        let (_, after) = t.then_fresh(upgrade).await?;
        Ok(UpgradeOutcome::between(&before, after))
    }

    async fn rollback(&self, _control: Control) -> Result<Deployment> {
        let (_, after) = self.tool.then_fresh(command::run(&self.tool.program, &["rollback"])).await?;
        super::default_after_rollback(after)
    }

    async fn deploy(&self, revision: &str, _control: Control) -> Result<Deployment> {
        Err(Error::HostNotSupported(format!(
            "bootc deploys what an image reference names, not a revision of it: to deploy {revision:?}, \
             use HostRebase with the image's digest reference (IMAGE@sha256:...)"
        )))
    }

    async fn rebase(&self, origin: &str, revision: Option<&str>, control: Control) -> Result<Deployment> {
        let target = match revision {
            None => origin.to_owned(),
            Some(digest) if digest.starts_with("sha256:") => {
                let name = origin.split('@').next().unwrap_or(origin);
                // A digest replaces the tag: keep the repository only.
                let repository = match name.rsplit_once(':') {
                    Some((head, tag)) if !tag.contains('/') => head,
                    _ => name,
                };
                format!("{repository}@{digest}")
            }
            Some(other) => {
                return Err(Error::InvalidArgument(format!(
                    "bootc takes a revision only as an image digest (sha256:...), not {other:?}"
                )))
            }
        };
        let args = ["switch", target.as_str()];
        let switch = command::run_for_job(&self.tool.program, &args, &control, command::message_line);
        let (_, after) = self.tool.then_fresh(switch).await?;
        after.into_iter().next().ok_or_else(|| Error::Failed("no deployment after bootc switch".into()))
    }

    async fn pin(&self, id: &str, pinned: bool) -> Result<()> {
        let args: &[&str] = if pinned { &["pin"] } else { &["pin", "--unpin"] };
        self.tool.ostree_admin(args, id).await
    }

    async fn cleanup(&self, what: Cleanup) -> Result<Vec<String>> {
        // bootc has no command to drop a deployment; ostree's undeploy is what it uses itself.
        let victims = super::cleanup_victims(&self.tool.fresh().await?, what);
        // The last index first, so the earlier indexes stay valid.
        let mut removed = Vec::new();
        for id in victims.iter().rev() {
            self.tool.ostree_admin(&["undeploy"], id).await?;
            removed.push(id.clone());
        }
        removed.reverse();
        Ok(removed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_queued_rollback_makes_the_rollback_the_default() {
        let json = include_str!("../../tests/fixtures/bootc-status-staged-rollback.json");
        let booted = json.replacen("\"booted\": null", &format!("\"booted\": {}", ENTRY), 1);
        let list = parse_status(&booted.replacen("\"staged\": {", "\"unused\": {", 1)).unwrap_or_default();
        assert_eq!(
            list.iter().map(|d| (d.booted, d.default)).collect::<Vec<_>>(),
            [(true, true), (false, false)]
        );
        for queued in [
            booted.replacen("\"staged\": {", "\"unused\": {", 1).replacen(
                "\"isContainer\"",
                "\"rollbackQueued\": true, \"isContainer\"",
                1,
            ),
            booted.replacen("\"staged\": {", "\"unused\": {", 1).replacen(
                "\"signature\": \"insecure\"}}",
                "\"signature\": \"insecure\"}, \"bootOrder\": \"rollback\"}",
                1,
            ),
        ] {
            let list = parse_status(&queued).unwrap_or_default();
            let shape: Vec<_> = list.iter().map(|d| (d.booted, d.default)).collect();
            assert_eq!(shape, [(false, true), (true, false)], "the rollback boots next");
        }
    }

    const ENTRY: &str = r#"{"image": {"image": {"image": "quay.io/example/someimage:latest", "transport": "registry"},
        "version": "booted-1", "timestamp": null, "imageDigest": "sha256:aa"}, "pinned": false,
        "ostree": {"checksum": "b00ed", "deploySerial": 0}}"#;

    #[test]
    fn staged_and_rollback_sample() {
        let list =
            parse_status(include_str!("../../tests/fixtures/bootc-status-staged-rollback.json")).unwrap();
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
        let list = parse_status(json).unwrap();
        assert_eq!(list.len(), 1);
        assert!(list[0].booted && list[0].default);
        assert_eq!(list[0].version, "20231230.1");
        assert_eq!(cached_update(json).ok(), Some(None));
        let with_update = json.replace(
            "\"cachedUpdate\": null",
            "\"cachedUpdate\": {\"image\": {\"image\": \"quay.io/otherexample/otherimage:latest\", \"transport\": \"registry\"}, \"version\": \"20240101.1\", \"timestamp\": null, \"imageDigest\": \"sha256:0000000000000000000000000000000000000000000000000000000000000000\"}",
        );
        let update = cached_update(&with_update).ok().flatten().unwrap_or_default();
        assert_eq!(
            (update.version.as_str(), update.origin.as_str()),
            ("20240101.1", "quay.io/otherexample/otherimage:latest")
        );
        assert_eq!(update.diff.digest.as_deref(), Some(update.checksum.as_str()));
    }
}
