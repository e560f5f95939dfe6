//! The manager's rules on fakes of the engine, polkit, the host and power: plain `cargo test`,
//! no root, no bus, no engine. The fakes keep state the way the real parts do (containers have
//! names, labels, a host configuration and a state), so each test asserts what really happened.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use futures_util::StreamExt;

use super::*;
use crate::engine::{
    Attached, ContainerInfo, ContainerSummary, CreateRequest, EngineInfo, ImageInfo, ImageSummary,
    StreamSetup,
};
use crate::host::{BackendKind, CachedUpdate, Deployment, UpgradeOutcome};
use crate::label::Ownership;
use crate::system::control::Control;
use crate::system::polkit::Action;

#[derive(Debug, Clone)]
struct FakeContainer {
    id: String,
    name: String,
    image_id: String,
    running: bool,
    labels: HashMap<String, String>,
    host_flags: Vec<String>,
}

/// An engine in memory: images by reference, containers by id, and a log of what was done.
#[derive(Default)]
struct FakeEngine {
    images: Mutex<HashMap<String, ImageInfo>>,
    containers: Mutex<Vec<FakeContainer>>,
    calls: Mutex<Vec<String>>,
    next: Mutex<u32>,
    /// What a pull brings, by the name given to `publish`.
    registry: Mutex<HashMap<String, ImageInfo>>,
    /// Files in images' filesystems, by (image id, path).
    files: Mutex<HashMap<(String, String), Vec<u8>>>,
    /// What the HEALTHCHECK of containers of an image says, by image id.
    health: Mutex<HashMap<String, String>>,
    /// How many of the next find_container calls fail (an engine mid-restart).
    find_errors: Mutex<u32>,
    /// Where it answers (which engine it is, to atomicd's record of its containers).
    socket: Mutex<String>,
}

impl FakeEngine {
    /// Puts a file in an image's filesystem, for read_file of its containers.
    fn file(&self, image_id: &str, path: &str, content: &[u8]) {
        let key = (image_id.to_owned(), path.to_owned());
        self.files.lock().unwrap_or_else(|p| p.into_inner()).insert(key, content.to_vec());
    }
    /// Puts a newer image in the registry: the next pull of `reference` replaces the local one.
    fn publish(&self, reference: &str, id: &str, labels: &[(&str, &str)]) {
        let labels = labels.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect();
        let info = ImageInfo { id: id.to_owned(), labels, ..ImageInfo::default() };
        self.registry.lock().unwrap_or_else(|p| p.into_inner()).insert(reference.to_owned(), info);
    }

    fn image(&self, reference: &str, id: &str, labels: &[(&str, &str)]) {
        let labels = labels.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect();
        self.images
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(reference.to_owned(), ImageInfo { id: id.to_owned(), labels, ..ImageInfo::default() });
    }

    fn container(&self, c: FakeContainer) {
        self.containers.lock().unwrap_or_else(|p| p.into_inner()).push(c);
    }

    fn log(&self, what: String) {
        self.calls.lock().unwrap_or_else(|p| p.into_inner()).push(what);
    }

    fn calls(&self) -> Vec<String> {
        self.calls.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    fn names(&self) -> Vec<String> {
        self.containers.lock().unwrap_or_else(|p| p.into_inner()).iter().map(|c| c.name.clone()).collect()
    }
}

fn no_streams() -> Attached {
    Attached { output: Box::pin(futures_util::stream::empty()), input: Box::pin(tokio::io::sink()) }
}

#[async_trait]
impl Engine for FakeEngine {
    async fn info(&self) -> EngineInfo {
        let socket = self.socket.lock().unwrap_or_else(|p| p.into_inner()).clone();
        EngineInfo { name: "fake".into(), available: true, socket, ..EngineInfo::default() }
    }
    async fn inspect_image(&self, image: &str) -> Result<ImageInfo> {
        // By name or by id, as the engines inspect.
        let images = self.images.lock().unwrap_or_else(|p| p.into_inner());
        images
            .get(image)
            .or_else(|| images.values().find(|i| i.id == image))
            .cloned()
            .ok_or_else(|| Error::ImageNotFound(image.into()))
    }
    async fn find_container(&self, name: &str) -> Result<Option<ContainerInfo>> {
        if std::mem::take(&mut *self.find_errors.lock().unwrap_or_else(|p| p.into_inner())) > 0 {
            return Err(Error::EngineError("no such container: removed midway".into()));
        }
        let all = self.containers.lock().unwrap_or_else(|p| p.into_inner());
        Ok(all.iter().find(|c| c.name == name).map(|c| ContainerInfo {
            id: c.id.clone(),
            name: c.name.clone(),
            image_id: c.image_id.clone(),
            running: c.running,
            // An engine knows labels, not owners: the manager's record says whose it is.
            owner: None,
            host_flags: c.host_flags.clone(),
            open_stdin: true,
            tty: false,
            rootfs: Some(format!("/fake/storage/{}/diff", c.id)),
            health: self.health.lock().unwrap_or_else(|p| p.into_inner()).get(&c.image_id).cloned(),
        }))
    }
    async fn list_containers(&self) -> Result<Vec<ContainerSummary>> {
        let all = self.containers.lock().unwrap_or_else(|p| p.into_inner());
        Ok(all
            .iter()
            .map(|c| ContainerSummary {
                id: c.id.clone(),
                name: c.name.clone(),
                running: c.running,
                owner: None,
                image_id: c.image_id.clone(),
                state: if c.running { "running" } else { "exited" }.into(),
                ..ContainerSummary::default()
            })
            .collect())
    }
    async fn events(&self) -> Result<futures_util::stream::BoxStream<'static, crate::engine::EngineChange>> {
        Ok(futures_util::stream::empty().boxed())
    }
    async fn list_images(&self, _: bool) -> Result<Vec<ImageSummary>> {
        let images = self.images.lock().unwrap_or_else(|p| p.into_inner());
        Ok(images
            .iter()
            .map(|(tag, i)| ImageSummary {
                id: i.id.clone(),
                // One put here by its id is dangling: it has no name.
                tags: if tag == &i.id { vec![] } else { vec![tag.clone()] },
                size: 1000,
                labels: i.labels.clone(),
                repo_digests: i.repo_digests.clone(),
                ..ImageSummary::default()
            })
            .collect())
    }
    async fn pull(
        &self,
        reference: &str,
        _: tokio::sync::mpsc::UnboundedSender<(f64, String)>,
    ) -> Result<()> {
        self.log(format!("pull {reference}"));
        let name = reference.strip_suffix(":latest").unwrap_or(reference);
        if let Some(info) = self.registry.lock().unwrap_or_else(|p| p.into_inner()).get(name).cloned() {
            self.images.lock().unwrap_or_else(|p| p.into_inner()).insert(name.to_owned(), info);
        }
        Ok(())
    }
    async fn remove_image(&self, image: &str) -> Result<bool> {
        self.log(format!("rmi {image}"));
        let mut images = self.images.lock().unwrap_or_else(|p| p.into_inner());
        let name = image.strip_suffix(":latest").unwrap_or(image);
        images.retain(|tag, i| tag != name && i.id != image);
        Ok(true)
    }
    async fn create(&self, r: CreateRequest<'_>) -> Result<String> {
        let mut next = self.next.lock().unwrap_or_else(|p| p.into_inner());
        *next += 1;
        let id = format!("new{next}");
        self.log(format!("create {id} from {}", r.image_id));
        // As the engines do: the image's labels, then the create request's over them.
        let mut labels = self
            .images
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .values()
            .find(|i| i.id == r.image_id)
            .map(|i| i.labels.clone())
            .unwrap_or_default();
        labels.extend(r.owner.to_labels());
        self.container(FakeContainer {
            id: id.clone(),
            name: r.spec.name.clone().unwrap_or_default(),
            image_id: r.image_id.to_owned(),
            running: false,
            labels,
            host_flags: Vec::new(),
        });
        Ok(id)
    }
    async fn attach(&self, _: &str, _: bool) -> Result<Attached> {
        Ok(no_streams())
    }
    async fn resize_tty(&self, _: &str, _: u16, _: u16) -> Result<()> {
        Ok(())
    }
    async fn start(&self, id: &str) -> Result<()> {
        self.log(format!("start {id}"));
        let mut all = self.containers.lock().unwrap_or_else(|p| p.into_inner());
        all.iter_mut().filter(|c| c.id == id).for_each(|c| c.running = true);
        Ok(())
    }
    async fn wait(&self, _: &str) -> Result<i64> {
        Ok(0)
    }
    async fn exit_code(&self, _: &str) -> Result<Option<i64>> {
        Ok(Some(0))
    }
    async fn output_tail(&self, _: &str, _: usize) -> Result<String> {
        Ok(String::new())
    }
    async fn remove(&self, id: &str, _: bool) -> Result<()> {
        self.log(format!("rm {id}"));
        self.containers.lock().unwrap_or_else(|p| p.into_inner()).retain(|c| c.id != id);
        Ok(())
    }
    async fn read_file(&self, id: &str, path: &str, limit: usize) -> Result<Option<Vec<u8>>> {
        self.log(format!("read {path} from {id}"));
        let containers = self.containers.lock().unwrap_or_else(|p| p.into_inner());
        let image_id = containers.iter().find(|c| c.id == id).map(|c| c.image_id.clone()).unwrap_or_default();
        let files = self.files.lock().unwrap_or_else(|p| p.into_inner());
        match files.get(&(image_id, path.to_owned())) {
            Some(content) if content.len() > limit => {
                Err(Error::Failed(format!("{path} is over {limit} bytes")))
            }
            other => Ok(other.cloned()),
        }
    }
    async fn exec(&self, id: &str, command: &[String], _: StreamSetup) -> Result<(String, Attached)> {
        self.log(format!("exec {id} {}", command.join(" ")));
        Ok(("exec1".into(), no_streams()))
    }
    async fn stop(&self, id: &str, timeout: u32) -> Result<()> {
        self.log(format!("stop -t {timeout} {id}"));
        let mut all = self.containers.lock().unwrap_or_else(|p| p.into_inner());
        all.iter_mut().filter(|c| c.id == id).for_each(|c| c.running = false);
        Ok(())
    }
    async fn exec_detached(&self, id: &str, command: &[String]) -> Result<String> {
        self.log(format!("exec -d {id} {}", command.join(" ")));
        Ok("exec2".into())
    }
    async fn exec_exit_code(&self, _: &str) -> Result<i64> {
        Ok(7)
    }
}

/// polkit that grants a set of actions and records every question with its details.
#[derive(Default)]
struct FakeAuthority {
    granted: HashSet<&'static str>,
    asked: Mutex<Vec<(String, HashMap<String, String>)>>,
    /// What happens in the world while the next question waits for its answer (a retag, say).
    while_asking: Mutex<Option<Box<dyn FnOnce() + Send>>>,
}

#[async_trait]
impl Authority for FakeAuthority {
    async fn check(&self, _: &Caller, action: Action, details: &[(&str, &str)]) -> Result<()> {
        let d = details.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect();
        self.asked.lock().unwrap_or_else(|p| p.into_inner()).push((action.id().to_owned(), d));
        if let Some(meanwhile) = self.while_asking.lock().unwrap_or_else(|p| p.into_inner()).take() {
            meanwhile();
        }
        if self.granted.contains(action.id()) {
            Ok(())
        } else {
            Err(Error::AccessDenied(format!("{} is not allowed", action.id())))
        }
    }
}

struct World {
    manager: Arc<Manager>,
    engine: Arc<FakeEngine>,
    authority: Arc<FakeAuthority>,
    host: Arc<FakeHost>,
    power: Arc<FakePower>,
    trim: Arc<FakeTrim>,
    systemd: Arc<FakeSystemd>,
    _dir: TempDir,
}

struct TempDir(std::path::PathBuf);

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn world(granted: &[&'static str]) -> World {
    world_in(granted, None)
}

/// A world whose state lives in `dir` (a restart of atomicd on the same state), or a new one.
fn world_in(granted: &[&'static str], dir: Option<std::path::PathBuf>) -> World {
    // No policy file: nothing is verified, nothing refused, as on a host without one.
    let settings = crate::trust::Settings {
        policy: "/nonexistent/atomicd-test/policy.json".into(),
        ..crate::trust::Settings::default()
    };
    let source = Arc::new(crate::trust::tests::FakeSource::default());
    world_with(granted, dir, Arc::new(crate::trust::Verifier::new(settings, source)))
}

/// A world with this signature policy.
fn world_with(
    granted: &[&'static str],
    dir: Option<std::path::PathBuf>,
    trust: Arc<crate::trust::Verifier>,
) -> World {
    let engine = Arc::new(FakeEngine::default());
    let authority =
        Arc::new(FakeAuthority { granted: granted.iter().copied().collect(), ..Default::default() });
    let host = Arc::new(FakeHost::default());
    let power = Arc::new(FakePower::default());
    let trim = Arc::new(FakeTrim::default());
    static N: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
    let n = N.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let dir = dir
        .unwrap_or_else(|| std::env::temp_dir().join(format!("atomicd-manager-{}-{n}", std::process::id())));
    let state = StateStore::open(&dir).unwrap();
    let systemd = Arc::new(FakeSystemd::default());
    let units = UnitFiles { dir: dir.join("units"), client: "/usr/bin/atomic".into() };
    let manager = Arc::new(Manager::new(Parts {
        engine: engine.clone(),
        authority: authority.clone(),
        host: host.clone(),
        state,
        jobs: Jobs::new(None, authority.clone()),
        power: power.clone(),
        trim: trim.clone(),
        systemd: systemd.clone(),
        units,
        changes: Changes::channel().0,
        trust,
        updates: super::AutoUpdates::load(&dir.join("atomicd.toml"), "fleet-id".into())
            .with_machine_id(Some("3d1219c7c4c5404aaa1f6d2a48adfda4".into())),
    }));
    World { manager, engine, authority, host, power, trim, systemd, _dir: TempDir(dir) }
}

impl World {
    /// A container atomicd made earlier: in the engine, and in atomicd's record (as its create
    /// would have recorded it, from the same facts its labels carry).
    fn made(&self, c: FakeContainer) {
        let owner = Ownership {
            image: c.labels.get("org.atomic.image").cloned().unwrap_or_default(),
            image_id: c.image_id.clone(),
            name: c.name.clone(),
            operation: c.labels.get("org.atomic.operation").cloned().unwrap_or_default(),
            caller_uid: c.labels.get("org.atomic.caller-uid").and_then(|u| u.parse().ok()).unwrap_or(0),
            privileged: Some(c.labels.get("org.atomic.privileged").map(String::as_str) == Some("1")),
            remove: c.labels.get("org.atomic.remove").map(String::as_str) == Some("1"),
        };
        self.manager.owned.record(&c.id, owner, String::new()).unwrap();
        self.engine.container(c);
    }
}

fn caller(uid: u32) -> Caller {
    Caller { bus_name: ":1.9".into(), uid, allow_interactive: false }
}

fn run_request(image: &str, command: &[&str]) -> RunRequest {
    RunRequest {
        image: image.into(),
        command: command.iter().map(|s| (*s).to_owned()).collect(),
        ..RunRequest::default()
    }
}

fn mine(name: &str, image_id: &str, running: bool, flags: &[&str]) -> FakeContainer {
    let owner = Ownership {
        image: "app".into(),
        image_id: image_id.into(),
        name: name.into(),
        operation: "Run".into(),
        // The caller most tests call as: its own container, unless a test says otherwise.
        caller_uid: 1000,
        privileged: Some(!flags.is_empty()),
        remove: false,
    };
    FakeContainer {
        id: format!("{name}-id"),
        name: name.into(),
        image_id: image_id.into(),
        running,
        labels: owner.to_labels(),
        host_flags: flags.iter().map(|f| (*f).to_owned()).collect(),
    }
}

const NAMED_RUN: &str = "docker run --name NAME IMAGE";

fn asked(w: &World) -> Vec<String> {
    w.authority.asked.lock().unwrap_or_else(|p| p.into_inner()).iter().map(|(a, _)| a.clone()).collect()
}

mod app_updates;
mod apps;
mod auto;
mod fake_host;
mod fake_systemd;
mod fleet_lock;
mod help;
mod holes;
mod host;
mod remove;
mod rules;
mod trust;

use fake_host::{FakeHost, FakePower, FakeTrim};
use fake_systemd::FakeSystemd;
