//! What each method of `org.atomic.Manager` does, independent of D-Bus: resolve the call into
//! one plan, authorize exactly that plan, and carry it out as a job.

mod apps;
mod attach;
mod authorize;
mod auto_update;
mod changes;
mod containers;
mod display_cache;
mod fleet_lock;
mod flight;
mod help;
mod host_ops;
mod images;
mod install;
mod job_output;
mod jobs;
mod owned;
mod plan;
mod removals;
mod remove;
mod request;
mod run;
mod stop;
#[cfg(test)]
mod tests;
mod trust;
mod update;

use std::sync::Arc;

pub(crate) use apps::UnitFiles;
pub(crate) use attach::CallerFds;
pub(crate) use auto_update::AutoUpdates;
pub(crate) use changes::{coalesce, Area, Changes};
pub(crate) use jobs::{journaled, JobBoard, JobState, Jobs};
pub(crate) use request::{HelpRequest, InstallRequest, LabelInputs, RunRequest, UninstallRequest};
pub(crate) use stop::DEFAULT_STOP_TIMEOUT;

use crate::engine::Engine;
use crate::error::{Error, Result};
use crate::host::HostBackend;
use crate::label::{validate_container_name, ImageRef, Vars};
use crate::system::caller::{account, Caller};
use crate::system::polkit::Authority;
use crate::system::power::Power;
use crate::system::state::StateStore;
use crate::system::systemd::Systemd;
use crate::system::trim::Trim;
use crate::wire::results::{HostBlock, StatusReport};

/// How much output a call returns when no fds were passed.
const OUTPUT_LIMIT: usize = 64 * 1024;

/// The service's state and collaborators, each behind a trait so the rules can be tested alone.
pub struct Manager {
    /// The engine as the manager sees it: through atomicd's record of its own containers.
    engine: Arc<dyn Engine>,
    /// That record (the same object as `engine`).
    owned: Arc<owned::Owned>,
    authority: Arc<dyn Authority>,
    host: Arc<dyn HostBackend>,
    state: StateStore,
    /// Serialises read-modify-write of the installation records.
    state_lock: tokio::sync::Mutex<()>,
    jobs: Jobs,
    power: Arc<dyn Power>,
    /// Discards unused blocks for TrimContainers.
    trim: Arc<dyn Trim>,
    /// systemd, for the applications' units.
    systemd: Arc<dyn Systemd>,
    /// Where those units are written.
    units: UnitFiles,
    /// One host operation at a time; a second gets Busy.
    host_lock: tokio::sync::Mutex<()>,
    /// Status callers share one read of the deployments (a root process for rpm-ostree and
    /// bootc), whoever they are and however many.
    deployments: flight::SingleFlight<std::result::Result<Vec<crate::host::Deployment>, flight::Shared>>,
    /// Changes atomicd makes that the engine's events do not show (records, the host).
    changes: Changes,
    /// ListContainers callers share one engine call, as Status callers share one host read.
    container_list:
        flight::SingleFlight<std::result::Result<Vec<crate::engine::ContainerSummary>, flight::Shared>>,
    /// ListImages callers share one engine call, with and without `all`.
    image_lists:
        [flight::SingleFlight<std::result::Result<Vec<crate::engine::ImageSummary>, flight::Shared>>; 2],
    /// `--rm` containers being removed after their Run replied.
    removals: Arc<removals::Removals>,
    /// What display reads, kept while the engine's events are followed.
    display_cache: display_cache::DisplayCache,
    /// Which images the policy trusts.
    trust: Arc<crate::trust::Verifier>,
    /// The automatic update policy's settings and progress.
    updates: AutoUpdates,
    /// Wakes the automatic updates' timer when SetUpdatePolicy changed the policy.
    policy_changed: tokio::sync::Notify,
    /// Wakes the applications' timer when SetApplicationPolicy changed one.
    apps_changed: tokio::sync::Notify,
    /// The applications an update, rollback or uninstall acts on now: one act each at a time.
    app_claims: apps::Claims,
}

/// The outside world a manager acts on.
pub struct Parts {
    /// The container engine.
    pub engine: Arc<dyn Engine>,
    /// polkit.
    pub authority: Arc<dyn Authority>,
    /// The host backend.
    pub host: Arc<dyn HostBackend>,
    /// The installation records.
    pub state: StateStore,
    /// Where jobs are exported.
    pub jobs: Jobs,
    /// Reboots.
    pub power: Arc<dyn Power>,
    /// fstrim.
    pub trim: Arc<dyn Trim>,
    /// systemd.
    pub systemd: Arc<dyn Systemd>,
    /// The applications' unit files.
    pub units: UnitFiles,
    /// Where changes are noted for the Changed signal.
    pub changes: Changes,
    /// The signature policy.
    pub trust: Arc<crate::trust::Verifier>,
    /// The automatic update policy's files, read.
    pub updates: AutoUpdates,
}

impl Manager {
    /// A manager over the given parts.
    pub fn new(parts: Parts) -> Self {
        let Parts {
            engine,
            authority,
            host,
            state,
            jobs,
            power,
            trim,
            systemd,
            units,
            changes,
            trust,
            updates,
        } = parts;
        let owned = Arc::new(owned::Owned::new(engine, state.clone()));
        Manager {
            engine: owned.clone(),
            owned,
            authority,
            host,
            state,
            state_lock: tokio::sync::Mutex::new(()),
            jobs,
            power,
            trim,
            systemd,
            units,
            host_lock: tokio::sync::Mutex::new(()),
            deployments: flight::SingleFlight::default(),
            changes,
            container_list: flight::SingleFlight::default(),
            image_lists: Default::default(),
            removals: Arc::default(),
            display_cache: display_cache::DisplayCache::default(),
            trust,
            updates,
            policy_changed: tokio::sync::Notify::new(),
            apps_changed: tokio::sync::Notify::new(),
            app_claims: apps::Claims::default(),
        }
    }

    /// The engine's event stream is followed (`true`) or lost (`false`).
    pub fn following_engine_events(&self, now: bool) {
        self.display_cache.following(now);
    }

    /// An event of the engine's: what display keeps about it is dropped.
    pub fn engine_changed(&self, change: crate::engine::EngineChange) {
        self.display_cache.changed(change);
    }

    /// At start: forgets the recorded containers that are gone, and removes the exited ones
    /// atomicd still had to remove when it last stopped.
    pub async fn sweep_removals(&self) -> usize {
        if let Err(e) = self.owned.prune().await {
            tracing::warn!("cannot compare the record of atomicd's containers with the engine: {e}");
        }
        removals::Removals::sweep(self.engine.as_ref()).await
    }

    /// Waits (at most `limit`) for the removals in flight, on the way out.
    pub async fn finish_removals(&self, limit: std::time::Duration) {
        self.removals.drain(limit).await;
    }

    /// Cancels every running job, for a clean stop.
    pub fn cancel_all_jobs(&self) {
        self.jobs.cancel_all();
    }

    /// The host backend's name.
    pub fn host_backend(&self) -> &'static str {
        self.host.kind().as_str()
    }

    /// Status: open to everyone, changes nothing; with the automatic update policy's block.
    pub async fn status(&self) -> Result<StatusReport> {
        let engine = self.engine.info().await;
        // A host backend that fails does not take the rest of Status with it.
        let (deployments, error) = match self.shared_deployments().await {
            Ok(list) => (list, None),
            Err(e) => {
                tracing::warn!("host status: {e}");
                (Vec::new(), Some(e.to_string()))
            }
        };
        let installed = self.state.installed()?;
        Ok(StatusReport {
            version: crate::VERSION.to_owned(),
            engine: engine.into(),
            host: HostBlock {
                backend: self.host.kind().as_str().to_owned(),
                deployments: deployments.into_iter().map(Into::into).collect(),
                error,
                updates: Some(self.updates.block()),
            },
            installed: installed.into_iter().map(Into::into).collect(),
            applications: self.list_applications().await?,
        })
    }

    /// The deployments, one backend read shared by the callers that arrive while it runs.
    async fn shared_deployments(&self) -> Result<Vec<crate::host::Deployment>> {
        let host = self.host.clone();
        Ok(self
            .deployments
            .run(move || async move { host.deployments().await.map_err(flight::Shared::from) })
            .await?)
    }

    /// Whether `image` (by name or id) has an installation record.
    fn is_installed(&self, image: &ImageRef, image_id: &str) -> Result<bool> {
        Ok(self.state.installed()?.iter().any(|i| i.image == image.as_str() || i.image_id == image_id))
    }
}

/// The container name a call uses: the `name` input, else the image's name (`-spc` added).
fn container_name(image: &ImageRef, inputs: &LabelInputs, spc: bool) -> Result<String> {
    match &inputs.name {
        Some(n) => {
            validate_container_name(n)?;
            Ok(n.clone())
        }
        None if spc => Ok(format!("{}-spc", image.default_name())),
        None => Ok(image.default_name().to_owned()),
    }
}

/// The variables a label of this call may use. `sudo-uid`/`sudo-gid` are the caller's own
/// ids unless a root caller passes those of its sudo session; `pwd` must be absolute, since the
/// engine would read a relative host path against its own working directory.
fn vars(caller: &Caller, image: &ImageRef, name: &str, inputs: &LabelInputs) -> Result<Vars> {
    let (gid, home) = account(caller.uid);
    let sudo = |key: &str, given: Option<u32>, own: Option<u32>| match given {
        Some(_) if caller.uid != 0 => Err(Error::InvalidArgument(format!(
            "option {key:?} may only be set by root (uid {} is not)",
            caller.uid
        ))),
        Some(v) => Ok(Some(v)),
        None => Ok(own),
    };
    if let Some(pwd) = inputs.pwd.as_deref().filter(|p| !p.starts_with('/')) {
        return Err(Error::InvalidArgument(format!(
            "option \"pwd\" must be an absolute path, not {:?}",
            crate::text::truncate_for_message(pwd)
        )));
    }
    Ok(Vars {
        image: image.as_str().to_owned(),
        name: name.to_owned(),
        opts: inputs.opts.clone(),
        pwd: inputs.pwd.clone(),
        sudo_uid: sudo("sudo-uid", inputs.sudo_uid, Some(caller.uid))?,
        sudo_gid: sudo("sudo-gid", inputs.sudo_gid, gid)?,
        home,
        run_opts: inputs.run_opts.clone(),
    })
}

/// Seconds since the epoch, now.
pub(crate) fn now() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs())
}
