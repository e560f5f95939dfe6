//! The plain ostree backend. libostree itself runs in `atomicd-ostree`, a helper process per
//! operation (src/bin/atomicd-ostree): linking libostree would keep its ~60 shared libraries
//! (curl, gpgme, glib, ICU...) resident in the daemon all the time for work it does rarely, and
//! libostree's synchronous calls are cancelled most simply by signalling a process.
//!
//! The helper answers in JSON lines on stdout: progress lines while it works, then one answer.
//! Status is answered from a cache while the sysroot's `ostree/deploy` keeps its mtime, which
//! libostree bumps on every change of the deployment list (it is what `load_if_changed` reads).

use std::path::{Path, PathBuf};

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use super::command::{self, Line};
use super::{BackendKind, Cleanup, Deployment, HostBackend, StatusCache, UpgradeOutcome};
use crate::error::{Error, Result};
use crate::system::control::Control;

/// The helper's file name; it is installed beside atomicd.
pub(super) const HELPER_NAME: &str = "atomicd-ostree";

/// One line of the helper's answer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum HelperLine {
    /// Progress: 0..1 or -1, and what is being done.
    Progress(f64, String),
    /// The operation passed its point of no return (SIGINT no longer stops it): what it finishes.
    Committing(String),
    /// The deployments, default first.
    Deployments(Vec<Deployment>),
    /// What an upgrade did.
    Upgraded(UpgradeOutcome),
    /// The default deployment after a rollback, deploy or rebase.
    Deployed(Deployment),
    /// The deployments a cleanup removed.
    Removed(Vec<String>),
    /// Done, nothing to say (pin).
    Done,
}

/// A sysroot managed through the libostree helper.
#[derive(Debug)]
pub(crate) struct OstreeHost {
    sysroot: PathBuf,
    helper: PathBuf,
    cache: StatusCache,
}

fn classify(line: &str) -> Line {
    match serde_json::from_str::<HelperLine>(line) {
        Ok(HelperLine::Progress(progress, message)) => Line::Progress(progress, message),
        Ok(HelperLine::Committing(message)) => Line::Committing(message),
        _ => Line::Output(line.to_owned()),
    }
}

impl OstreeHost {
    /// The sysroot at `sysroot` (`/` on a booted host), through the helper at `helper`.
    pub(crate) fn new(sysroot: PathBuf, helper: PathBuf) -> Self {
        let cache = StatusCache::for_sysroot(&sysroot);
        OstreeHost { sysroot, helper, cache }
    }

    /// The helper beside the running executable, where `make install` and cargo both put it.
    pub(crate) fn helper_beside(exe: &Path) -> PathBuf {
        exe.with_file_name(HELPER_NAME)
    }

    fn args<'a>(&'a self, op: &[&'a str]) -> Result<Vec<&'a str>> {
        let sysroot = utf8(&self.sysroot, "sysroot")?;
        Ok([&["--sysroot", sysroot], op].concat())
    }

    fn program(&self) -> Result<&str> {
        utf8(&self.helper, "helper")
    }

    /// Runs a helper operation for a job and returns its answer.
    async fn job(&self, op: &[&str], control: &Control) -> Result<HelperLine> {
        let ran = command::run_for_job(self.program()?, &self.args(op)?, control, classify).await;
        self.cache.forget();
        answer(&ran?)
    }

    /// Runs a short helper operation and returns its answer.
    async fn quick(&self, op: &[&str]) -> Result<HelperLine> {
        let ran = command::run(self.program()?, &self.args(op)?).await;
        self.cache.forget();
        answer(&ran?)
    }
}

fn utf8<'a>(path: &'a Path, what: &str) -> Result<&'a str> {
    path.to_str().ok_or_else(|| Error::Failed(format!("the {what} path {} is not UTF-8", path.display())))
}

/// The answer among the helper's output lines.
fn answer(output: &str) -> Result<HelperLine> {
    output
        .lines()
        .rev()
        .find_map(|l| serde_json::from_str::<HelperLine>(l).ok())
        .ok_or_else(|| Error::Failed(format!("{HELPER_NAME} gave no answer: {}", output.trim())))
}

fn unexpected(what: &str, got: &HelperLine) -> Error {
    Error::Failed(format!("{HELPER_NAME} answered {got:?} to {what}"))
}

fn deployed(what: &str, got: HelperLine) -> Result<Deployment> {
    match got {
        HelperLine::Deployed(d) => Ok(d),
        other => Err(unexpected(what, &other)),
    }
}

#[async_trait]
impl HostBackend for OstreeHost {
    fn kind(&self) -> BackendKind {
        BackendKind::Ostree
    }

    async fn deployments(&self) -> Result<Vec<Deployment>> {
        self.cache
            .read(async {
                match answer(&command::run(self.program()?, &self.args(&["status"])?).await?)? {
                    HelperLine::Deployments(list) => Ok(list),
                    other => Err(unexpected("status", &other)),
                }
            })
            .await
    }

    async fn upgrade(&self, check: bool, control: Control) -> Result<UpgradeOutcome> {
        let op: &[&str] = if check { &["upgrade", "--check"] } else { &["upgrade"] };
        match self.job(op, &control).await? {
            HelperLine::Upgraded(outcome) => Ok(outcome),
            other => Err(unexpected("upgrade", &other)),
        }
    }

    async fn rollback(&self, _control: Control) -> Result<Deployment> {
        deployed("rollback", self.quick(&["rollback"]).await?)
    }

    async fn deploy(&self, revision: &str, control: Control) -> Result<Deployment> {
        deployed("deploy", self.job(&["deploy", "--", revision], &control).await?)
    }

    async fn rebase(&self, origin: &str, revision: Option<&str>, control: Control) -> Result<Deployment> {
        let op: Vec<&str> = match revision {
            Some(r) => vec!["rebase", "--revision", r, "--", origin],
            None => vec!["rebase", "--", origin],
        };
        deployed("rebase", self.job(&op, &control).await?)
    }

    async fn pin(&self, id: &str, pinned: bool) -> Result<()> {
        let op: &[&str] = if pinned { &["pin", "--", id] } else { &["pin", "--unpin", "--", id] };
        match self.quick(op).await? {
            HelperLine::Done => Ok(()),
            other => Err(unexpected("pin", &other)),
        }
    }

    async fn cleanup(&self, what: Cleanup) -> Result<Vec<String>> {
        let mut op = vec!["cleanup"];
        if what.rollback {
            op.push("--rollback");
        }
        if what.pending {
            op.push("--pending");
        }
        match self.quick(&op).await? {
            HelperLine::Removed(ids) => Ok(ids),
            other => Err(unexpected("cleanup", &other)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn progress_lines_are_progress_and_the_rest_is_the_answer() {
        let progress =
            serde_json::to_string(&HelperLine::Progress(0.25, "pulling".into())).unwrap_or_default();
        assert_eq!(classify(&progress), Line::Progress(0.25, "pulling".into()));
        let last = serde_json::to_string(&HelperLine::Committing("writing".into())).unwrap_or_default();
        assert_eq!(classify(&last), Line::Committing("writing".into()));
        let done =
            serde_json::to_string(&HelperLine::Upgraded(UpgradeOutcome::default())).unwrap_or_default();
        assert_eq!(classify(&done), Line::Output(done.clone()));
        assert_eq!(
            answer(&format!("noise\n{done}\n")).ok(),
            Some(HelperLine::Upgraded(UpgradeOutcome::default()))
        );
        assert!(matches!(answer("nothing useful"), Err(Error::Failed(m)) if m.contains("gave no answer")));
    }
}
