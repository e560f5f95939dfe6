//! The sysroot through libostree (Debian's 2022.7): status, upgrade from the default
//! deployment's origin, rollback by reordering deployments so the previous one boots next and
//! nothing is deleted — what rpm-ostree does through the same library.

use std::path::Path;

use atomicd::{Deployment, UpgradeOutcome};
use ostree::gio;
use ostree::gio::prelude::CancellableExt;
use ostree::glib;

/// Why an operation failed; `cancelled` when Cancel (SIGINT) stopped it.
#[derive(Debug)]
pub struct Failure {
    pub message: String,
    pub cancelled: bool,
}

type Result<T> = std::result::Result<T, Failure>;

fn failed(what: &str, e: glib::Error) -> Failure {
    Failure { message: format!("{what}: {e}"), cancelled: false }
}

fn plain(message: String) -> Failure {
    Failure { message, cancelled: false }
}

fn open(path: &Path) -> Result<ostree::Sysroot> {
    let sysroot = ostree::Sysroot::new(Some(&gio::File::for_path(path)));
    sysroot
        .load(gio::Cancellable::NONE)
        .map_err(|e| failed(&format!("cannot load sysroot {}", path.display()), e))?;
    Ok(sysroot)
}

fn refspec_of(d: &ostree::Deployment) -> Option<String> {
    d.origin().and_then(|o| o.string("origin", "refspec").ok()).map(|s| s.to_string())
}

fn describe(sysroot: &ostree::Sysroot, d: &ostree::Deployment, index: usize) -> Deployment {
    let repo = sysroot.repo();
    let csum = d.csum().to_string();
    let (version, timestamp) = match repo.load_variant(ostree::ObjectType::Commit, &csum) {
        Ok(commit) => {
            let meta = glib::VariantDict::new(Some(&commit.child_value(0)));
            let version = meta.lookup::<String>("version").ok().flatten().unwrap_or_default();
            (version, ostree::commit_get_timestamp(&commit))
        }
        Err(_) => (String::new(), 0),
    };
    let booted = sysroot.booted_deployment().is_some_and(|b| b.equal(d));
    Deployment {
        id: format!("{}-{}.{}", d.osname(), csum, d.deployserial()),
        osname: d.osname().to_string(),
        checksum: csum,
        version,
        timestamp,
        booted,
        staged: d.is_staged(),
        pinned: d.is_pinned(),
        default: index == 0,
        origin: refspec_of(d).unwrap_or_default(),
    }
}

/// The deployments, default first.
pub fn list(sysroot: &ostree::Sysroot) -> Vec<Deployment> {
    sysroot.deployments().iter().enumerate().map(|(i, d)| describe(sysroot, d, i)).collect()
}

/// Pull progress, reported as it changes. libostree reports through a signal dispatched on the
/// thread-default main context, which its pull loop iterates.
fn pull_progress(refspec: &str, report: impl Fn(f64, String) + 'static) -> ostree::AsyncProgress {
    let progress = ostree::AsyncProgress::new();
    let refspec = refspec.to_owned();
    progress.connect_changed(move |p| {
        let (fetched, requested) = (p.uint("fetched"), p.uint("requested"));
        if requested > 0 {
            let message = format!("pulling {refspec}: {fetched}/{requested} objects");
            report(f64::from(fetched) / f64::from(requested), message);
        }
    });
    progress
}

/// The error of a step, marked cancelled when Cancel is why it stopped.
fn step_error(cancellable: &gio::Cancellable, what: &str, e: glib::Error) -> Failure {
    if cancellable.is_cancelled() {
        Failure {
            message: format!("the host upgrade was cancelled while {what}; the deployments are as they were"),
            cancelled: true,
        }
    } else {
        failed(what, e)
    }
}

/// Opens the sysroot and lists its deployments.
pub fn status(path: &Path) -> Result<Vec<Deployment>> {
    open(path).map(|s| list(&s))
}

/// Upgrades (or with `check` only looks) from the default deployment's origin.
pub fn upgrade(
    path: &Path,
    check: bool,
    report: impl Fn(f64, String) + Clone + 'static,
    cancellable: &gio::Cancellable,
) -> Result<UpgradeOutcome> {
    let sysroot = open(path)?;
    let deployments = sysroot.deployments();
    let current = deployments.first().ok_or_else(|| plain("the sysroot has no deployment".into()))?;
    let osname = current.osname().to_string();
    let merge = sysroot.merge_deployment(Some(&osname)).unwrap_or_else(|| current.clone());
    let refspec = refspec_of(&merge)
        .ok_or_else(|| plain(format!("deployment {} has no origin refspec", merge.csum())))?;
    let repo = sysroot.repo();
    let (remote, branch) = ostree::parse_refspec(&refspec).map_err(|e| failed("bad origin refspec", e))?;
    if let Some(remote) = remote {
        report(-1.0, format!("pulling {refspec}"));
        let progress = pull_progress(&refspec, report.clone());
        let pulled = repo.pull(
            &remote,
            &[branch.as_str()],
            ostree::RepoPullFlags::NONE,
            Some(&progress),
            Some(cancellable),
        );
        progress.finish();
        pulled.map_err(|e| step_error(cancellable, &format!("pulling {refspec}"), e))?;
    }
    let rev = repo
        .resolve_rev(&refspec, false)
        .map_err(|e| failed(&format!("resolving {refspec}"), e))?
        .ok_or_else(|| plain(format!("{refspec} does not resolve")))?
        .to_string();
    if rev == current.csum().as_str() {
        return Ok(UpgradeOutcome { changed: false, deployment: Some(describe(&sysroot, current, 0)) });
    }
    if check {
        let mut next = describe(&sysroot, current, 0);
        next.checksum = rev;
        return Ok(UpgradeOutcome { changed: true, deployment: Some(next) });
    }
    sysroot.lock().map_err(|e| failed("cannot lock the sysroot", e))?;
    report(-1.0, format!("deploying {rev}"));
    let written = (|| {
        let origin = merge.origin();
        let new = sysroot
            .deploy_tree(Some(&osname), &rev, origin.as_ref(), Some(&merge), &[], Some(cancellable))
            .map_err(|e| {
                // A checkout cut short is an undeployed directory; cleanup removes it.
                let _ = sysroot.cleanup(gio::Cancellable::NONE);
                step_error(cancellable, &format!("deploying {rev}"), e)
            })?;
        // Past this point the upgrade is one atomic swap of the deployment list: not cancellable.
        sysroot
            .simple_write_deployment(
                Some(&osname),
                &new,
                Some(&merge),
                ostree::SysrootSimpleWriteDeploymentFlags::NONE,
                gio::Cancellable::NONE,
            )
            .map_err(|e| failed("writing the new deployment list", e))
    })();
    sysroot.unlock();
    written?;
    let sysroot = open(path)?;
    Ok(UpgradeOutcome { changed: true, deployment: list(&sysroot).into_iter().next() })
}

/// Makes the previous deployment the default.
pub fn rollback(path: &Path) -> Result<Deployment> {
    let sysroot = open(path)?;
    let mut deployments = sysroot.deployments();
    if deployments.len() < 2 {
        return Err(plain("there is no previous deployment to roll back to".into()));
    }
    deployments.swap(0, 1);
    sysroot.lock().map_err(|e| failed("cannot lock the sysroot", e))?;
    let written = sysroot
        .write_deployments(&deployments, gio::Cancellable::NONE)
        .map_err(|e| failed("writing the reordered deployment list", e));
    sysroot.unlock();
    written?;
    let sysroot = open(path)?;
    list(&sysroot).into_iter().next().ok_or_else(|| plain("no deployment after rollback".into()))
}
