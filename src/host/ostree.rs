//! The plain ostree backend. libostree itself runs in `atomicd-ostree`, a helper process per
//! operation (src/bin/atomicd-ostree): linking libostree would keep its ~60 shared libraries
//! (curl, gpgme, glib, ICU...) resident in the daemon all the time for work it does rarely, and
//! libostree's synchronous calls are cancelled most simply by signalling a process.
//!
//! The helper answers in JSON lines on stdout: progress lines while it works, then one answer.
//! Status is answered from a cache while the sysroot's `ostree/deploy` keeps its mtime, which
//! libostree bumps on every change of the deployment list (it is what `load_if_changed` reads).

use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::SystemTime;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use super::command::{self, Line};
use super::{BackendKind, Deployment, HostBackend, UpgradeOutcome};
use crate::error::{Error, Result};
use crate::manager::Control;

/// The helper's file name; it is installed beside atomicd.
pub const HELPER_NAME: &str = "atomicd-ostree";

/// One line of the helper's answer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum HelperLine {
    /// Progress of an upgrade: 0..1 or -1, and what is being done.
    Progress(f64, String),
    /// The deployments, default first.
    Deployments(Vec<Deployment>),
    /// What an upgrade did.
    Upgraded(UpgradeOutcome),
    /// The default deployment after a rollback.
    RolledBack(Deployment),
}

/// A sysroot managed through the libostree helper.
#[derive(Debug)]
pub struct OstreeHost {
    sysroot: PathBuf,
    helper: PathBuf,
    /// The deployments, and the mtime of `ostree/deploy` they were read at.
    cache: Mutex<Option<(SystemTime, Vec<Deployment>)>>,
}

fn classify(line: &str) -> Line {
    match serde_json::from_str::<HelperLine>(line) {
        Ok(HelperLine::Progress(progress, message)) => Line::Progress(progress, message),
        _ => Line::Output(line.to_owned()),
    }
}

impl OstreeHost {
    /// The sysroot at `sysroot` (`/` on a booted host), through the helper at `helper`.
    pub fn new(sysroot: PathBuf, helper: PathBuf) -> Self {
        OstreeHost { sysroot, helper, cache: Mutex::new(None) }
    }

    /// The helper beside the running executable, where `make install` and cargo both put it.
    pub fn helper_beside(exe: &Path) -> PathBuf {
        exe.with_file_name(HELPER_NAME)
    }

    fn args<'a>(&'a self, op: &[&'a str]) -> Result<Vec<&'a str>> {
        let sysroot = utf8(&self.sysroot, "sysroot")?;
        Ok([&["--sysroot", sysroot], op].concat())
    }

    fn program(&self) -> Result<&str> {
        utf8(&self.helper, "helper")
    }

    fn deploy_mtime(&self) -> Option<SystemTime> {
        std::fs::metadata(self.sysroot.join("ostree/deploy")).and_then(|m| m.modified()).ok()
    }

    fn forget(&self) {
        if let Ok(mut cache) = self.cache.lock() {
            *cache = None;
        }
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

#[async_trait]
impl HostBackend for OstreeHost {
    fn kind(&self) -> BackendKind {
        BackendKind::Ostree
    }

    async fn deployments(&self) -> Result<Vec<Deployment>> {
        let mtime = self.deploy_mtime();
        if let (Some(now), Ok(cache)) = (mtime, self.cache.lock()) {
            if let Some((seen, list)) = cache.as_ref().filter(|(seen, _)| *seen == now) {
                tracing::trace!(?seen, "deployments from the cache");
                return Ok(list.clone());
            }
        }
        let got = answer(&command::run(self.program()?, &self.args(&["status"])?).await?)?;
        let HelperLine::Deployments(list) = got else { return Err(unexpected("status", &got)) };
        if let (Some(mtime), Ok(mut cache)) = (mtime, self.cache.lock()) {
            *cache = Some((mtime, list.clone()));
        }
        Ok(list)
    }

    async fn upgrade(&self, check: bool, control: Control) -> Result<UpgradeOutcome> {
        let op: &[&str] = if check { &["upgrade", "--check"] } else { &["upgrade"] };
        let ran = command::run_for_job(self.program()?, &self.args(op)?, &control, classify).await;
        self.forget();
        match answer(&ran?)? {
            HelperLine::Upgraded(outcome) => Ok(outcome),
            other => Err(unexpected("upgrade", &other)),
        }
    }

    async fn rollback(&self) -> Result<Deployment> {
        let ran = command::run(self.program()?, &self.args(&["rollback"])?).await;
        self.forget();
        match answer(&ran?)? {
            HelperLine::RolledBack(deployment) => Ok(deployment),
            other => Err(unexpected("rollback", &other)),
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
