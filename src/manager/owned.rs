//! "atomicd made this" comes from atomicd's own record, never from a container's labels: any image
//! can carry `org.atomic.managed=1`, and a container an admin makes from it inherits that. The
//! manager sees the engine only through [`Owned`], which records each container atomicd creates
//! (by ID, in the state directory, written atomically before the create returns) and answers
//! every lookup's `owner` from that record alone. Each record names the engine that has the
//! container, so a start against another engine (the admin moved atomicd from Docker to
//! Podman, or back) does not forget the containers of the one it left.

use std::collections::{BTreeMap, HashSet};
use std::sync::{Arc, Mutex, MutexGuard};

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use crate::engine::{
    Attached, ContainerInfo, ContainerSummary, CreateRequest, Engine, EngineChange, EngineInfo, ImageInfo,
    ImageSummary, StreamSetup,
};
use crate::error::{Error, Result};
use crate::label::Ownership;
use crate::system::state::StateStore;

/// What atomicd keeps of a container it made.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct Made {
    #[serde(flatten)]
    owner: Ownership,
    /// The engine that has it, as [`engine_identity`] names it; "" in records made before
    /// atomicd kept it (pruned against whichever engine atomicd starts with, as before).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    engine: String,
}

/// Which engine this is: its name and the socket it answers on. Two engines on one host
/// (dockerd and podman's service) differ; one engine restarted is the same.
fn engine_identity(info: &EngineInfo) -> Option<String> {
    info.available.then(|| format!("{}@{}", info.name, info.socket))
}

/// The engine, seen through atomicd's record of its own containers.
pub(super) struct Owned {
    inner: Arc<dyn Engine>,
    state: StateStore,
    /// Container ID to what atomicd recorded when it created it.
    records: Mutex<BTreeMap<String, Made>>,
    /// The engine's identity, once it answered.
    identity: Mutex<Option<String>>,
}

impl Owned {
    /// The engine `inner`, with the record kept in `state`. An unreadable record is set aside
    /// (nothing is then atomicd's: the safe reading) rather than overwritten.
    pub(super) fn new(inner: Arc<dyn Engine>, state: StateStore) -> Self {
        let records = state.containers::<Made>().unwrap_or_else(|e| {
            let aside = state.set_containers_aside();
            tracing::error!(
                "the record of atomicd's containers cannot be read ({e}); it was set aside as {}, and \
                 no existing container is treated as atomicd's",
                aside.map_or_else(|| "(could not be moved)".to_owned(), |p| p.display().to_string())
            );
            BTreeMap::new()
        });
        Owned { inner, state, records: Mutex::new(records), identity: Mutex::new(None) }
    }

    fn records(&self) -> MutexGuard<'_, BTreeMap<String, Made>> {
        self.records.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// The engine's identity ("" while it has not answered yet).
    async fn identity(&self) -> String {
        let known = self.identity.lock().unwrap_or_else(|p| p.into_inner()).clone();
        if let Some(known) = known {
            return known;
        }
        let Some(found) = engine_identity(&self.inner.info().await) else { return String::new() };
        *self.identity.lock().unwrap_or_else(|p| p.into_inner()) = Some(found.clone());
        found
    }

    /// What atomicd recorded for container `id`, if it made it.
    fn owner_of(&self, id: &str) -> Option<Ownership> {
        self.records().get(id).map(|m| m.owner.clone())
    }

    /// Applies `edit` to the record and writes it to disk before this returns; `edit` says
    /// whether it changed anything (nothing is written then). A failed write leaves the record as
    /// it was, in memory as on disk.
    fn change(&self, edit: impl FnOnce(&mut BTreeMap<String, Made>) -> bool) -> Result<()> {
        let mut records = self.records();
        let before = records.clone();
        if !edit(&mut records) {
            return Ok(());
        }
        self.state.save_containers(&records).inspect_err(|_| *records = before)
    }

    /// Records container `id`, made on `engine` (see [`engine_identity`]).
    pub(super) fn record(&self, id: &str, owner: Ownership, engine: String) -> Result<()> {
        self.change(|records| {
            records.insert(id.to_owned(), Made { owner, engine });
            true
        })
    }

    /// Forgets container `id`.
    fn forget(&self, id: &str) -> Result<()> {
        self.change(|records| records.remove(id).is_some())
    }

    /// Forgets the recorded containers the engine no longer has; `listed` is every ID it has now,
    /// listed after `known` was taken (so a container created since is never forgotten).
    fn forget_gone(&self, known: &[String], listed: &HashSet<&str>) {
        let gone = self.change(|records| {
            let before = records.len();
            for id in known.iter().filter(|id| !listed.contains(id.as_str())) {
                records.remove(id);
            }
            records.len() != before
        });
        if let Err(e) = gone {
            tracing::warn!("cannot drop removed containers from the record: {e}");
        }
    }

    /// At start: drops the records of this engine's containers that are gone (removed by the
    /// engine, by an admin, or by `--rm`), so the record stays as small as what atomicd still
    /// has. Another engine's are kept: that engine was not asked.
    pub(super) async fn prune(&self) -> Result<()> {
        let here = self.identity().await;
        let known: Vec<String> = self
            .records()
            .iter()
            .filter(|(_, m)| m.engine.is_empty() || m.engine == here)
            .map(|(id, _)| id.clone())
            .collect();
        let list = self.inner.list_containers().await?;
        let listed: HashSet<&str> = list.iter().map(|c| c.id.as_str()).collect();
        self.forget_gone(&known, &listed);
        Ok(())
    }
}

#[async_trait]
impl Engine for Owned {
    async fn info(&self) -> EngineInfo {
        self.inner.info().await
    }
    async fn inspect_image(&self, image: &str) -> Result<ImageInfo> {
        self.inner.inspect_image(image).await
    }
    async fn find_container(&self, name: &str) -> Result<Option<ContainerInfo>> {
        let found = self.inner.find_container(name).await?;
        Ok(found.map(|c| ContainerInfo { owner: self.owner_of(&c.id), ..c }))
    }
    async fn list_containers(&self) -> Result<Vec<ContainerSummary>> {
        let list = self.inner.list_containers().await?;
        Ok(list.into_iter().map(|c| ContainerSummary { owner: self.owner_of(&c.id), ..c }).collect())
    }
    async fn list_images(&self, all: bool) -> Result<Vec<ImageSummary>> {
        self.inner.list_images(all).await
    }
    async fn events(&self) -> Result<futures_util::stream::BoxStream<'static, EngineChange>> {
        self.inner.events().await
    }
    async fn pull(
        &self,
        reference: &str,
        progress: tokio::sync::mpsc::UnboundedSender<(f64, String)>,
    ) -> Result<()> {
        self.inner.pull(reference, progress).await
    }
    async fn remove_image(&self, image: &str) -> Result<bool> {
        self.inner.remove_image(image).await
    }
    /// Creates, then records the container before anyone can be told its ID; a container whose
    /// record cannot be written is removed again, so nothing atomicd made goes unrecorded.
    async fn create(&self, request: CreateRequest<'_>) -> Result<String> {
        let engine = self.identity().await;
        let id = self.inner.create(request).await?;
        if let Err(e) = self.record(&id, request.owner.clone(), engine) {
            let _ = self.inner.remove(&id, true).await;
            return Err(Error::Failed(format!(
                "the container was created but atomicd cannot record it ({e}), so it was removed again"
            )));
        }
        Ok(id)
    }
    async fn attach(&self, id: &str, stdin: bool) -> Result<Attached> {
        self.inner.attach(id, stdin).await
    }
    async fn resize_tty(&self, id: &str, rows: u16, columns: u16) -> Result<()> {
        self.inner.resize_tty(id, rows, columns).await
    }
    async fn start(&self, id: &str) -> Result<()> {
        self.inner.start(id).await
    }
    async fn stop(&self, id: &str, timeout: u32) -> Result<()> {
        self.inner.stop(id, timeout).await
    }
    async fn wait(&self, id: &str) -> Result<i64> {
        self.inner.wait(id).await
    }
    async fn exit_code(&self, id: &str) -> Result<Option<i64>> {
        self.inner.exit_code(id).await
    }
    async fn output_tail(&self, id: &str, limit: usize) -> Result<String> {
        self.inner.output_tail(id, limit).await
    }
    /// Removes, then forgets the container (a record left by a failed write is dropped by the
    /// next start's prune: container IDs are never reused).
    async fn remove(&self, id: &str, force: bool) -> Result<()> {
        self.inner.remove(id, force).await?;
        if let Err(e) = self.forget(id) {
            tracing::warn!(container = %id, "removed, but cannot drop it from the record: {e}");
        }
        Ok(())
    }
    async fn exec(&self, id: &str, command: &[String], streams: StreamSetup) -> Result<(String, Attached)> {
        self.inner.exec(id, command, streams).await
    }
    async fn exec_detached(&self, id: &str, command: &[String]) -> Result<String> {
        self.inner.exec_detached(id, command).await
    }
    async fn exec_exit_code(&self, exec_id: &str) -> Result<i64> {
        self.inner.exec_exit_code(exec_id).await
    }
    async fn read_file(&self, id: &str, path: &str, limit: usize) -> Result<Option<Vec<u8>>> {
        self.inner.read_file(id, path, limit).await
    }
}
