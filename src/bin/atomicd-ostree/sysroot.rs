//! The sysroot through libostree (Debian's 2022.7): status, upgrade from the default
//! deployment's origin (or only a check that says what would change), deploy of an older or
//! newer commit of that origin, rebase to another refspec, rollback by reordering deployments
//! so the previous one boots next and nothing is deleted, pin and cleanup: what rpm-ostree does
//! through the same library.

use std::path::Path;

use atomicd::{cleanup_victims, CachedUpdate, Cleanup, Deployment, UpdateDiff, UpgradeOutcome};
use ostree::gio;
use ostree::gio::prelude::CancellableExt;
use ostree::glib;

/// Why an operation failed; `cancelled` when Cancel (SIGINT) stopped it.
#[derive(Debug)]
pub struct Failure {
    pub message: String,
    pub cancelled: bool,
}

pub type Result<T> = std::result::Result<T, Failure>;

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

/// How the helper reports: progress while it works, and the moment it passes the point where
/// stopping would leave the host half-changed.
pub trait Report {
    /// Progress 0..1 (or -1) and what is being done.
    fn progress(&self, progress: f64, message: String);
    /// From now on SIGINT no longer stops the operation.
    fn committing(&self, message: String);
}

/// The default deployment, the merge deployment (whose /etc and origin carry over) and its OS.
struct Current {
    deployment: ostree::Deployment,
    merge: ostree::Deployment,
    osname: String,
}

fn current(sysroot: &ostree::Sysroot) -> Result<Current> {
    let deployments = sysroot.deployments();
    let deployment =
        deployments.first().ok_or_else(|| plain("the sysroot has no deployment".into()))?.clone();
    let osname = deployment.osname().to_string();
    let merge = sysroot.merge_deployment(Some(&osname)).unwrap_or_else(|| deployment.clone());
    Ok(Current { deployment, merge, osname })
}

/// Pulls `refspec`'s branch from its remote (nothing for a local ref); with `history`, every
/// commit back to the first, so an older version can be found.
fn pull(
    repo: &ostree::Repo,
    refspec: &str,
    history: bool,
    report: &(impl Report + Clone + 'static),
    cancellable: &gio::Cancellable,
) -> Result<()> {
    let (remote, branch) = ostree::parse_refspec(refspec).map_err(|e| failed("bad refspec", e))?;
    let Some(remote) = remote else { return Ok(()) };
    report.progress(-1.0, format!("pulling {refspec}"));
    let sink = report.clone();
    let progress = pull_progress(refspec, move |p, m| sink.progress(p, m));
    let options = glib::VariantDict::new(None);
    options.insert("refs", [branch.as_str()].as_slice());
    if history {
        options.insert("depth", -1i32);
    }
    let pulled = repo.pull_with_options(&remote, &options.end(), Some(&progress), Some(cancellable));
    progress.finish();
    pulled.map_err(|e| step_error(cancellable, &format!("pulling {refspec}"), e))
}

fn resolve(repo: &ostree::Repo, refspec: &str) -> Result<String> {
    repo.resolve_rev(refspec, false)
        .map_err(|e| failed(&format!("resolving {refspec}"), e))?
        .map(|r| r.to_string())
        .ok_or_else(|| plain(format!("{refspec} does not resolve")))
}

fn commit_meta(repo: &ostree::Repo, rev: &str) -> Result<(String, u64, Option<String>)> {
    let commit = repo
        .load_variant(ostree::ObjectType::Commit, rev)
        .map_err(|e| failed(&format!("loading {rev}"), e))?;
    let meta = glib::VariantDict::new(Some(&commit.child_value(0)));
    let version = meta.lookup::<String>("version").ok().flatten().unwrap_or_default();
    let parent = ostree::commit_get_parent(&commit).map(|p| p.to_string());
    Ok((version, ostree::commit_get_timestamp(&commit), parent))
}

/// The commit of `refspec`'s history (newest first) whose checksum (or a prefix of at least 8
/// digits) or version is `revision`.
fn find_revision(repo: &ostree::Repo, refspec: &str, revision: &str) -> Result<String> {
    let mut rev = Some(resolve(repo, refspec)?);
    while let Some(r) = rev {
        let (version, _, parent) = match commit_meta(repo, &r) {
            Ok(found) => found,
            // The history ends where the repository has no more commits (a shallow pull).
            Err(_) => break,
        };
        let by_checksum = revision.len() >= 8 && r.starts_with(revision);
        if by_checksum || version == revision {
            return Ok(r);
        }
        rev = parent;
    }
    Err(plain(format!("{revision:?} is neither a version nor a checksum in the history of {refspec}")))
}

/// Writes `rev` as the new default deployment with `origin`, keeping the merge deployment's
/// /etc. Cancellable up to the checkout; the swap of the deployment list is not.
fn write_deployment(
    sysroot: &ostree::Sysroot,
    at: &Current,
    rev: &str,
    origin: &glib::KeyFile,
    report: &impl Report,
    cancellable: &gio::Cancellable,
) -> Result<()> {
    sysroot.lock().map_err(|e| failed("cannot lock the sysroot", e))?;
    report.progress(-1.0, format!("deploying {rev}"));
    let written = (|| {
        let new = sysroot
            .deploy_tree(Some(&at.osname), rev, Some(origin), Some(&at.merge), &[], Some(cancellable))
            .map_err(|e| {
                // A checkout cut short is an undeployed directory; cleanup removes it.
                let _ = sysroot.cleanup(gio::Cancellable::NONE);
                step_error(cancellable, &format!("deploying {rev}"), e)
            })?;
        report.committing(format!("writing the deployment list for {rev}"));
        sysroot
            .simple_write_deployment(
                Some(&at.osname),
                &new,
                Some(&at.merge),
                ostree::SysrootSimpleWriteDeploymentFlags::NONE,
                gio::Cancellable::NONE,
            )
            .map_err(|e| failed("writing the new deployment list", e))
    })();
    sysroot.unlock();
    written
}

fn new_default(path: &Path) -> Result<Deployment> {
    list(&open(path)?).into_iter().next().ok_or_else(|| plain("no deployment after writing it".into()))
}

/// Upgrades (or with `check` only looks, saying what would change) from the default
/// deployment's origin.
pub fn upgrade(
    path: &Path,
    check: bool,
    report: impl Report + Clone + 'static,
    cancellable: &gio::Cancellable,
) -> Result<UpgradeOutcome> {
    let sysroot = open(path)?;
    let at = current(&sysroot)?;
    let refspec = refspec_of(&at.merge)
        .ok_or_else(|| plain(format!("deployment {} has no origin refspec", at.merge.csum())))?;
    let repo = sysroot.repo();
    pull(&repo, &refspec, false, &report, cancellable)?;
    let rev = resolve(&repo, &refspec)?;
    let booted_now = describe(&sysroot, &at.deployment, 0);
    if rev == at.deployment.csum().as_str() {
        return Ok(UpgradeOutcome { changed: false, deployment: Some(booted_now), update: None });
    }
    if check {
        let (version, timestamp, _) = commit_meta(&repo, &rev)?;
        let diff = tree_diff(&repo, at.deployment.csum().as_str(), &rev)?;
        let update = CachedUpdate { version, checksum: rev, timestamp, origin: refspec, diff };
        return Ok(UpgradeOutcome { changed: true, deployment: Some(booted_now), update: Some(update) });
    }
    let origin = at.merge.origin().unwrap_or_else(|| sysroot.origin_new_from_refspec(&refspec));
    write_deployment(&sysroot, &at, &rev, &origin, &report, cancellable)?;
    Ok(UpgradeOutcome { changed: true, deployment: Some(new_default(path)?), update: None })
}

/// Deploys `revision` (a version or checksum) of the default deployment's origin, pulling its
/// history when the origin has a remote.
pub fn deploy(
    path: &Path,
    revision: &str,
    report: impl Report + Clone + 'static,
    cancellable: &gio::Cancellable,
) -> Result<Deployment> {
    let sysroot = open(path)?;
    let at = current(&sysroot)?;
    let refspec = refspec_of(&at.merge)
        .ok_or_else(|| plain(format!("deployment {} has no origin refspec", at.merge.csum())))?;
    let repo = sysroot.repo();
    pull(&repo, &refspec, true, &report, cancellable)?;
    let rev = find_revision(&repo, &refspec, revision)?;
    let origin = at.merge.origin().unwrap_or_else(|| sysroot.origin_new_from_refspec(&refspec));
    write_deployment(&sysroot, &at, &rev, &origin, &report, cancellable)?;
    new_default(path)
}

/// Switches the default deployment's OS to `refspec`, at `revision` when given.
pub fn rebase(
    path: &Path,
    refspec: &str,
    revision: Option<&str>,
    report: impl Report + Clone + 'static,
    cancellable: &gio::Cancellable,
) -> Result<Deployment> {
    let sysroot = open(path)?;
    let at = current(&sysroot)?;
    let repo = sysroot.repo();
    pull(&repo, refspec, revision.is_some(), &report, cancellable)?;
    let rev = match revision {
        Some(r) => find_revision(&repo, refspec, r)?,
        None => resolve(&repo, refspec)?,
    };
    let origin = sysroot.origin_new_from_refspec(refspec);
    write_deployment(&sysroot, &at, &rev, &origin, &report, cancellable)?;
    new_default(path)
}

/// Pins or unpins the deployment with atomicd's `id`.
pub fn pin(path: &Path, id: &str, pinned: bool) -> Result<()> {
    let sysroot = open(path)?;
    let found = sysroot
        .deployments()
        .into_iter()
        .enumerate()
        .find(|(i, d)| describe(&sysroot, d, *i).id == id)
        .map(|(_, d)| d)
        .ok_or_else(|| plain(format!("there is no deployment {id:?}")))?;
    sysroot.lock().map_err(|e| failed("cannot lock the sysroot", e))?;
    let done = sysroot.deployment_set_pinned(&found, pinned).map_err(|e| failed("pinning", e));
    sysroot.unlock();
    done
}

/// Removes the rollback and/or pending deployments (never the booted or a pinned one) and
/// what only they used.
pub fn cleanup(path: &Path, what: Cleanup) -> Result<Vec<String>> {
    let sysroot = open(path)?;
    let described = list(&sysroot);
    let victims = cleanup_victims(&described, what);
    if victims.is_empty() {
        return Ok(victims);
    }
    let keep: Vec<ostree::Deployment> = sysroot
        .deployments()
        .into_iter()
        .zip(&described)
        .filter(|(_, d)| !victims.contains(&d.id))
        .map(|(d, _)| d)
        .collect();
    sysroot.lock().map_err(|e| failed("cannot lock the sysroot", e))?;
    // write_deployments removes what the new list leaves out, and prunes the repository.
    let written = sysroot
        .write_deployments(&keep, gio::Cancellable::NONE)
        .map_err(|e| failed("writing the deployment list", e));
    sysroot.unlock();
    written?;
    Ok(victims)
}

/// Files changed, added and removed between two commits, read from their dirtree objects
/// (a subtree whose checksum is the same is skipped whole).
fn tree_diff(repo: &ostree::Repo, from: &str, to: &str) -> Result<UpdateDiff> {
    let root = |rev: &str| -> Result<String> {
        let commit = repo
            .load_variant(ostree::ObjectType::Commit, rev)
            .map_err(|e| failed(&format!("loading {rev}"), e))?;
        Ok(ostree::checksum_from_bytes_v(&commit.child_value(6)).to_string())
    };
    let mut counts = [0u32; 3];
    diff_trees(repo, Some(&root(from)?), Some(&root(to)?), &mut counts)?;
    let [changed, added, removed] = counts;
    Ok(UpdateDiff {
        files_changed: Some(changed),
        files_added: Some(added),
        files_removed: Some(removed),
        ..UpdateDiff::default()
    })
}

type Tree = (std::collections::BTreeMap<String, String>, std::collections::BTreeMap<String, String>);

fn dirtree(repo: &ostree::Repo, checksum: &str) -> Result<Tree> {
    let tree = repo
        .load_variant(ostree::ObjectType::DirTree, checksum)
        .map_err(|e| failed(&format!("loading tree {checksum}"), e))?;
    let entries = |i: usize| {
        let v = tree.child_value(i);
        (0..v.n_children())
            .map(|n| {
                let e = v.child_value(n);
                let name = e.child_value(0).str().unwrap_or_default().to_owned();
                (name, ostree::checksum_from_bytes_v(&e.child_value(1)).to_string())
            })
            .collect()
    };
    Ok((entries(0), entries(1)))
}

/// Adds to `counts` ([changed, added, removed]) the file differences of two dirtrees.
fn diff_trees(repo: &ostree::Repo, a: Option<&str>, b: Option<&str>, counts: &mut [u32; 3]) -> Result<()> {
    if a == b {
        return Ok(());
    }
    let empty = Tree::default();
    let (ta, tb) = (a.map(|c| dirtree(repo, c)).transpose()?, b.map(|c| dirtree(repo, c)).transpose()?);
    let (ta, tb) = (ta.as_ref().unwrap_or(&empty), tb.as_ref().unwrap_or(&empty));
    for (name, sum) in &ta.0 {
        match tb.0.get(name) {
            Some(other) if other != sum => counts[0] += 1,
            Some(_) => {}
            None => counts[2] += 1,
        }
    }
    counts[1] += u32::try_from(tb.0.keys().filter(|n| !ta.0.contains_key(*n)).count()).unwrap_or(u32::MAX);
    let names: std::collections::BTreeSet<&String> = ta.1.keys().chain(tb.1.keys()).collect();
    for name in names {
        diff_trees(repo, ta.1.get(name).map(String::as_str), tb.1.get(name).map(String::as_str), counts)?;
    }
    Ok(())
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
