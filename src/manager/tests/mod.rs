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
}

impl FakeEngine {
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
        EngineInfo { name: "fake".into(), available: true, ..EngineInfo::default() }
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
                tags: vec![tag.clone()],
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
}

#[async_trait]
impl Authority for FakeAuthority {
    async fn check(&self, _: &Caller, action: Action, details: &[(&str, &str)]) -> Result<()> {
        let d = details.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect();
        self.asked.lock().unwrap_or_else(|p| p.into_inner()).push((action.id().to_owned(), d));
        if self.granted.contains(action.id()) {
            Ok(())
        } else {
            Err(Error::AccessDenied(format!("{} is not allowed", action.id())))
        }
    }
}

/// A host that keeps its deployments as a real backend does: upgrades (which wait for
/// `release` while `hold` is set, so Busy can be seen) deploy `available`, and a check reports
/// it; deploy, rebase, pin and cleanup change the list; `broken` makes every read fail.
struct FakeHost {
    release: tokio::sync::Notify,
    hold: std::sync::atomic::AtomicBool,
    broken: std::sync::atomic::AtomicBool,
    /// How many times the deployments were read.
    reads: std::sync::atomic::AtomicUsize,
    list: Mutex<Vec<Deployment>>,
    available: Mutex<Option<CachedUpdate>>,
}

impl Default for FakeHost {
    fn default() -> Self {
        FakeHost {
            release: tokio::sync::Notify::new(),
            hold: std::sync::atomic::AtomicBool::new(false),
            broken: std::sync::atomic::AtomicBool::new(false),
            reads: std::sync::atomic::AtomicUsize::new(0),
            list: Mutex::new(vec![fake_deployment("1.0", true)]),
            available: Mutex::new(None),
        }
    }
}

fn fake_deployment(version: &str, booted: bool) -> Deployment {
    Deployment {
        id: format!("os-c{version}.0"),
        checksum: format!("c{version}"),
        version: version.into(),
        origin: "o:os/stable".into(),
        booted,
        default: true,
        ..Deployment::default()
    }
}

impl FakeHost {
    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<Deployment>> {
        self.list.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Puts `new` first as the default, the rest after it.
    fn push_default(&self, new: Deployment) -> Deployment {
        let mut list = self.lock();
        for d in list.iter_mut() {
            d.default = false;
        }
        list.insert(0, Deployment { default: true, ..new });
        list[0].clone()
    }

    fn versions(&self) -> Vec<String> {
        self.lock().iter().map(|d| d.version.clone()).collect()
    }
}

#[async_trait]
impl HostBackend for FakeHost {
    fn kind(&self) -> BackendKind {
        BackendKind::Ostree
    }
    async fn deployments(&self) -> Result<Vec<Deployment>> {
        self.reads.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        // As slow as a process start, so concurrent callers overlap.
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        if self.broken.load(std::sync::atomic::Ordering::SeqCst) {
            return Err(Error::Failed(
                "rpm-ostree status --json failed (exit status: 1): error: daemon gone".into(),
            ));
        }
        Ok(self.lock().clone())
    }
    async fn upgrade(&self, check: bool, _: Control) -> Result<UpgradeOutcome> {
        if self.hold.load(std::sync::atomic::Ordering::SeqCst) {
            self.release.notified().await;
        }
        let available = self.available.lock().unwrap_or_else(|p| p.into_inner()).clone();
        let current = self.lock().first().cloned();
        match available {
            Some(u) if check => Ok(UpgradeOutcome { changed: true, deployment: current, update: Some(u) }),
            Some(u) => {
                let new =
                    self.push_default(Deployment { booted: false, ..fake_deployment(&u.version, false) });
                Ok(UpgradeOutcome { changed: true, deployment: Some(new), update: None })
            }
            None => Ok(UpgradeOutcome { changed: false, deployment: current, update: None }),
        }
    }
    async fn rollback(&self, control: Control) -> Result<Deployment> {
        assert!(control.committed(), "a rollback runs past its point of no return");
        let mut list = self.lock();
        if list.len() < 2 {
            return Err(Error::Failed("there is no previous deployment to roll back to".into()));
        }
        list.swap(0, 1);
        list[0].default = true;
        list[1].default = false;
        Ok(list[0].clone())
    }
    async fn deploy(&self, revision: &str, _: Control) -> Result<Deployment> {
        Ok(self.push_default(fake_deployment(revision, false)))
    }
    async fn rebase(&self, origin: &str, revision: Option<&str>, _: Control) -> Result<Deployment> {
        let d = fake_deployment(revision.unwrap_or("latest"), false);
        Ok(self.push_default(Deployment { origin: origin.into(), ..d }))
    }
    async fn pin(&self, id: &str, pinned: bool) -> Result<()> {
        for d in self.lock().iter_mut().filter(|d| d.id == id) {
            d.pinned = pinned;
        }
        Ok(())
    }
    async fn cleanup(&self, what: crate::host::Cleanup) -> Result<Vec<String>> {
        let victims = crate::host::cleanup_victims(&self.lock(), what);
        self.lock().retain(|d| !victims.contains(&d.id));
        Ok(victims)
    }
}

#[derive(Default)]
struct FakePower {
    reboots: Mutex<u32>,
}

#[async_trait]
impl Power for FakePower {
    async fn reboot(&self) -> Result<()> {
        *self.reboots.lock().unwrap_or_else(|p| p.into_inner()) += 1;
        Ok(())
    }
}

struct World {
    manager: Arc<Manager>,
    engine: Arc<FakeEngine>,
    authority: Arc<FakeAuthority>,
    host: Arc<FakeHost>,
    power: Arc<FakePower>,
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
    static N: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
    let n = N.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let dir = dir
        .unwrap_or_else(|| std::env::temp_dir().join(format!("atomicd-manager-{}-{n}", std::process::id())));
    let state = StateStore::open(&dir).unwrap();
    let manager = Arc::new(Manager::new(Parts {
        engine: engine.clone(),
        authority: authority.clone(),
        host: host.clone(),
        state,
        jobs: Jobs::new(None, authority.clone()),
        power: power.clone(),
        changes: Changes::channel().0,
        trust,
        updates: super::AutoUpdates::load(&dir.join("atomicd.toml"), "fleet-id".into()),
    }));
    World { manager, engine, authority, host, power, _dir: TempDir(dir) }
}

#[tokio::test]
async fn concurrent_status_calls_share_one_read_of_the_host() {
    let w = world(&[]);
    let calls: Vec<_> = (0..100)
        .map(|_| {
            let m = w.manager.clone();
            tokio::spawn(async move { m.status().await.map(|s| s.host.deployments.len()) })
        })
        .collect();
    for c in calls {
        assert!(matches!(c.await, Ok(Ok(1))));
    }
    let reads = w.host.reads.load(std::sync::atomic::Ordering::SeqCst);
    assert!(reads <= 2, "100 concurrent Status calls read the host {reads} times");
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
        self.manager.owned.record(&c.id, Some(owner)).unwrap();
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

#[tokio::test]
async fn display_needs_no_authorization_and_changes_nothing() {
    let w = world(&[]);
    w.engine.image("app", "sha256:a1", &[("RUN", "docker run --privileged -v /:/host IMAGE")]);
    let r = w.manager.run(&caller(1000), RunRequest { display: true, ..run_request("app", &[]) }).await;
    let r = r.unwrap();
    assert_eq!(r.privileges.len(), 2);
    assert_eq!(r.image_id, "sha256:a1");
    assert!(asked(&w).is_empty() && w.engine.calls().is_empty());
}

#[tokio::test]
async fn display_reads_what_it_kept_until_an_event_and_a_run_never_does() {
    let w = world(&["org.atomic.run"]);
    let display = || RunRequest { display: true, ..run_request("app", &[]) };
    w.engine.image("app", "sha256:a1", &[("RUN", "docker run --rm IMAGE true")]);
    w.manager.following_engine_events(true);
    let first = w.manager.run(&caller(0), display()).await.unwrap();
    assert_eq!(first.image_id, "sha256:a1");
    // Re-tagged, and its event not seen yet: display shows what it kept...
    w.engine.image("app", "sha256:a2", &[("RUN", "docker run --rm IMAGE true")]);
    let kept = w.manager.run(&caller(0), display()).await.unwrap();
    assert_eq!(kept.image_id, "sha256:a1");
    // ...a real run inspects afresh and runs what it authorized...
    let ran = w.manager.run(&caller(0), run_request("app", &[])).await.unwrap();
    assert_eq!(ran.image_id, "sha256:a2");
    // ...and the event drops what display kept.
    w.manager.engine_changed(crate::engine::EngineChange::Image);
    let fresh = w.manager.run(&caller(0), display()).await.unwrap();
    assert_eq!(fresh.image_id, "sha256:a2");
    // Without the event stream nothing is kept at all.
    w.manager.following_engine_events(false);
    w.engine.image("app", "sha256:a3", &[("RUN", "docker run --rm IMAGE true")]);
    let unkept = w.manager.run(&caller(0), display()).await.unwrap();
    assert_eq!(unkept.image_id, "sha256:a3");
}

#[tokio::test]
async fn a_run_is_created_from_the_inspected_id_and_polkit_sees_it() {
    let w = world(&["org.atomic.run"]);
    w.engine.image("app", "sha256:a1", &[("RUN", "docker run --rm --name NAME IMAGE echo hi")]);
    let r = w.manager.run(&caller(1000), run_request("app", &[])).await.unwrap();
    assert_eq!(r.exit_code, Some(0));
    assert_eq!(w.engine.calls()[0], "create new1 from sha256:a1");
    let asked = w.authority.asked.lock().unwrap_or_else(|p| p.into_inner()).clone();
    assert_eq!(asked.len(), 1);
    assert_eq!(asked[0].0, "org.atomic.run");
    assert_eq!(asked[0].1["image-id"], "sha256:a1");
    assert_eq!(asked[0].1["command"], "docker run --rm --name app app echo hi");
}

#[tokio::test]
async fn restarting_a_stopped_privileged_container_needs_run_privileged() {
    let w = world(&["org.atomic.run"]);
    w.engine.image("app", "sha256:a1", &[("RUN", NAMED_RUN)]);
    w.made(mine("app", "sha256:a1", false, &["--privileged", "--volume=/:/host"]));
    let r = w.manager.run(&caller(1000), run_request("app", &[])).await;
    assert!(matches!(r, Err(Error::AccessDenied(_))), "{r:?}");
    assert_eq!(asked(&w), ["org.atomic.run-privileged"]);
    assert!(w.engine.calls().is_empty(), "nothing started: {:?}", w.engine.calls());
    // A confined one restarts with run alone.
    let w = world(&["org.atomic.run"]);
    w.engine.image("app", "sha256:a1", &[("RUN", NAMED_RUN)]);
    w.made(mine("app", "sha256:a1", false, &["--network=bridge"]));
    w.manager.run(&caller(1000), run_request("app", &[])).await.unwrap();
    assert_eq!(w.engine.calls(), ["start app-id"]);
}

#[tokio::test]
async fn a_detached_run_of_a_stopped_container_only_starts_it_as_authorized() {
    // The caller asks for a detached Run (the page's Run, which cannot follow a container).
    let detached = || RunRequest { detach: true, ..run_request("app", &[]) };
    // A run-only caller: the plan's line is what polkit is asked about and what the engine does.
    let w = world(&["org.atomic.run"]);
    w.engine.image("app", "sha256:a1", &[("RUN", NAMED_RUN)]);
    w.made(mine("app", "sha256:a1", false, &["--network=bridge"]));
    let r = w.manager.run(&caller(1000), detached()).await.unwrap();
    assert_eq!(r.command, ["docker", "start", "app"]);
    assert_eq!((r.container_id.as_deref(), r.exit_code), (Some("app-id"), None), "not waited for");
    assert_eq!(w.engine.calls(), ["start app-id"]);
    let said = w.authority.asked.lock().unwrap_or_else(|p| p.into_inner()).clone();
    assert_eq!(said.len(), 1);
    assert_eq!((said[0].0.as_str(), said[0].1["command"].as_str()), ("org.atomic.run", "docker start app"));
    // Privileged, the same caller is refused and nothing starts.
    let w = world(&["org.atomic.run"]);
    w.engine.image("app", "sha256:a1", &[("RUN", NAMED_RUN)]);
    w.made(mine("app", "sha256:a1", false, &["--privileged"]));
    let r = w.manager.run(&caller(1000), detached()).await;
    assert!(matches!(r, Err(Error::AccessDenied(_))), "{r:?}");
    assert_eq!(asked(&w), ["org.atomic.run-privileged"]);
    assert!(w.engine.calls().is_empty(), "nothing started: {:?}", w.engine.calls());
}

#[tokio::test]
async fn a_command_for_an_existing_container_is_exec_d_with_its_exit_code() {
    let w = world(&["org.atomic.run"]);
    w.engine.image("app", "sha256:a1", &[("RUN", NAMED_RUN)]);
    w.made(mine("app", "sha256:a1", false, &[]));
    let r = w.manager.run(&caller(1000), run_request("app", &["date"])).await.unwrap();
    assert_eq!(r.exit_code, Some(7));
    assert_eq!(r.command, ["docker", "exec", "-i", "app", "date"]);
    assert_eq!(w.engine.calls(), ["start app-id", "exec app-id date"]);
    // Running and no command: already running, nothing done.
    let w = world(&["org.atomic.run"]);
    w.engine.image("app", "sha256:a1", &[("RUN", NAMED_RUN)]);
    w.made(mine("app", "sha256:a1", true, &[]));
    let r = w.manager.run(&caller(1000), run_request("app", &[])).await.unwrap();
    assert_eq!(r.exit_code, Some(0));
    assert!(r.warnings.iter().any(|m| m.contains("already running")));
    assert!(w.engine.calls().is_empty());
}

#[tokio::test]
async fn stop_touches_only_atomicd_s_containers_by_their_stop_label_or_the_engine() {
    // No STOP label: the engine stops it with the grace asked for, under org.atomic.stop.
    let w = world(&["org.atomic.stop"]);
    w.engine.image("app", "sha256:a1", &[("RUN", NAMED_RUN)]);
    w.made(mine("app", "sha256:a1", true, &[]));
    let r = w.manager.stop(&caller(1000), "app", 3, false, LabelInputs::default()).await;
    let r = r.unwrap();
    assert_eq!((r.command.join(" "), r.exit_code), ("docker stop -t 3 app".to_owned(), Some(0)));
    assert_eq!(asked(&w), ["org.atomic.stop"]);
    assert_eq!(w.engine.calls(), ["stop -t 3 app-id"]);
    // A STOP label runs as a container of its own; a privileged one needs run-privileged too.
    let w = world(&["org.atomic.stop"]);
    w.engine.image("app", "sha256:a1", &[("STOP", "docker run --rm -v /run:/run IMAGE kill NAME")]);
    w.made(mine("app", "sha256:a1", true, &[]));
    let r = w.manager.stop(&caller(1000), "app", 10, false, LabelInputs::default()).await;
    assert!(matches!(r, Err(Error::AccessDenied(_))), "{r:?}");
    assert_eq!(asked(&w), ["org.atomic.stop", "org.atomic.run-privileged"]);
    assert!(w.engine.calls().is_empty(), "{:?}", w.engine.calls());
    // Not atomicd's, or not there: nothing asked, nothing done.
    let w = world(&["org.atomic.stop"]);
    w.engine.image("app", "sha256:a1", &[]);
    w.engine.container(FakeContainer { labels: HashMap::new(), ..mine("theirs", "sha256:a1", true, &[]) });
    let r = w.manager.stop(&caller(0), "theirs", 10, false, LabelInputs::default()).await;
    assert!(matches!(&r, Err(Error::Failed(m)) if m.contains("not made by atomicd")), "{r:?}");
    let r = w.manager.stop(&caller(0), "nothing", 10, false, LabelInputs::default()).await;
    assert!(matches!(&r, Err(Error::InvalidArgument(m)) if m.contains("no container")), "{r:?}");
    assert!(asked(&w).is_empty() && w.engine.calls().is_empty());
}

#[tokio::test]
async fn replace_removes_only_atomicd_s_container_of_the_same_image() {
    let w = world(&["org.atomic.run"]);
    w.engine.image("app", "sha256:a1", &[("RUN", NAMED_RUN)]);
    let foreign = FakeContainer { labels: HashMap::new(), ..mine("app", "sha256:a1", true, &[]) };
    w.engine.container(foreign);
    let r = w.manager.run(&caller(1000), RunRequest { replace: true, ..run_request("app", &[]) }).await;
    assert!(matches!(&r, Err(Error::Failed(m)) if m.contains("not made by atomicd")), "{r:?}");
    assert!(w.engine.calls().is_empty() && w.engine.names() == ["app"]);

    let w = world(&["org.atomic.run"]);
    w.engine.image("app", "sha256:a1", &[("RUN", NAMED_RUN)]);
    w.made(mine("app", "sha256:old", true, &[]));
    let r = w.manager.run(&caller(1000), RunRequest { replace: true, ..run_request("app", &[]) }).await;
    r.unwrap_or_else(|e| panic!("same image reference, older id: {e}"));
    assert_eq!(w.engine.calls()[0], "rm app-id");
    let asked = w.authority.asked.lock().unwrap_or_else(|p| p.into_inner()).clone();
    assert_eq!(
        asked[0].1.get("replaces").map(String::as_str),
        Some("app-id"),
        "polkit is told what is replaced"
    );
}

#[tokio::test]
async fn uninstall_removes_what_polkit_was_told_and_nothing_else() {
    let w = world(&["org.atomic.uninstall"]);
    w.engine.image("app", "sha256:a1", &[]);
    w.made(mine("app", "sha256:a1", false, &[]));
    w.made(mine("helper", "sha256:a1", true, &[]));
    let request = || UninstallRequest { image: "app".into(), force: true, ..Default::default() };
    // Another caller's containers are not root's to remove without manage-any.
    let r = w.manager.uninstall(&caller(0), request()).await;
    assert!(matches!(&r, Err(Error::AccessDenied(m)) if m.contains("manage-any")), "{r:?}");
    assert!(w.engine.calls().is_empty(), "{:?}", w.engine.calls());
    let r = w.manager.uninstall(&caller(1000), request()).await.unwrap();
    assert_eq!(r.removed, ["app-id", "helper-id", "sha256:a1"]);
    let asked = w.authority.asked.lock().unwrap_or_else(|p| p.into_inner()).clone();
    assert_eq!(asked[0].1["other-callers"], "uid 1000");
    let last = &asked[asked.len() - 1].1;
    assert_eq!(last["removes"], "container app, container helper, image app (not installed by atomicd)");
    assert!(!last.contains_key("other-callers"));
    assert_eq!(w.engine.calls(), ["rm app-id", "rm helper-id", "rmi app"]);
    // A container atomicd did not make blocks the image's removal, and only after polkit's answer.
    let w = world(&[]);
    w.engine.image("app", "sha256:a1", &[]);
    w.engine.container(FakeContainer { labels: HashMap::new(), ..mine("theirs", "sha256:a1", false, &[]) });
    let r = w.manager.uninstall(&caller(0), request()).await;
    assert!(matches!(r, Err(Error::AccessDenied(_))), "{r:?}");
    let w = world(&["org.atomic.uninstall"]);
    w.engine.image("app", "sha256:a1", &[]);
    w.engine.container(FakeContainer { labels: HashMap::new(), ..mine("theirs", "sha256:a1", false, &[]) });
    let r = w.manager.uninstall(&caller(0), request()).await;
    assert!(matches!(&r, Err(Error::Failed(m)) if m.contains("theirs")), "{r:?}");
    assert!(w.engine.calls().is_empty(), "{:?}", w.engine.calls());
}

#[tokio::test]
async fn install_and_uninstall_lines_that_reach_the_host_need_run_privileged() {
    let w = world(&["org.atomic.install", "org.atomic.uninstall"]);
    let labels = [
        ("INSTALL", "docker run --rm --privileged -v /:/host IMAGE"),
        ("UNINSTALL", "docker run --rm -v /:/host IMAGE"),
    ];
    w.engine.image("app", "sha256:a1", &labels);
    let r = w
        .manager
        .install(&caller(1000), InstallRequest { image: "app".into(), pull: true, ..Default::default() })
        .await;
    assert!(matches!(r, Err(Error::AccessDenied(m)) if m.contains("run-privileged")));
    assert_eq!(asked(&w), ["org.atomic.install", "org.atomic.run-privileged"]);
    assert!(w.engine.calls().is_empty());
    // Uninstall of an image that was never installed does not run its label.
    let r = w
        .manager
        .uninstall(&caller(1000), UninstallRequest { image: "app".into(), ..Default::default() })
        .await;
    let r = r.unwrap();
    assert!(r.command.is_empty() && r.warnings.iter().any(|m| m.contains("not run")), "{r:?}");
    // Nor does it remove the image, which atomicd did not install.
    assert!(r.warnings.iter().any(|m| m.contains("was not installed by atomicd, so it stays")), "{r:?}");
    assert!(w.engine.calls().is_empty(), "{:?}", w.engine.calls());
    // With force it does, and then needs run-privileged.
    let r = w
        .manager
        .uninstall(&caller(1000), UninstallRequest { image: "app".into(), force: true, ..Default::default() })
        .await;
    assert!(matches!(r, Err(Error::AccessDenied(_))), "{r:?}");
}

#[tokio::test]
async fn install_pulls_exactly_the_reference_and_records_the_install() {
    let w = world(&["org.atomic.install", "org.atomic.pull"]);
    // The fake only has the image after the pull: a pull that asked for a bare name would miss it.
    let r = w
        .manager
        .install(&caller(0), InstallRequest { image: "reg/app".into(), pull: true, ..Default::default() })
        .await;
    assert!(matches!(r, Err(Error::ImageNotFound(_))));
    assert_eq!(w.engine.calls(), ["pull reg/app:latest"]);
    w.engine.image("reg/app", "sha256:a1", &[("INSTALL", "docker run --rm IMAGE true")]);
    let r = w
        .manager
        .install(&caller(0), InstallRequest { image: "reg/app".into(), pull: true, ..Default::default() })
        .await;
    r.unwrap();
    let status = w.manager.status().await.unwrap();
    assert_eq!(status.installed.len(), 1);
    assert_eq!(status.installed[0].image_id, "sha256:a1");
}

#[tokio::test]
async fn update_names_the_outdated_and_reinstall_moves_the_record_only_when_both_labels_succeed() {
    let w =
        world(&["org.atomic.install", "org.atomic.uninstall", "org.atomic.pull", "org.atomic.manage-any"]);
    let labels = [("INSTALL", "docker run --rm IMAGE true"), ("UNINSTALL", "docker run --rm IMAGE true")];
    w.engine.image("app", "sha256:a1", &labels);
    let install = InstallRequest { image: "app".into(), ..Default::default() };
    w.manager.install(&caller(0), install).await.unwrap();
    w.made(mine("app", "sha256:a1", true, &[]));
    let theirs = FakeContainer { labels: HashMap::new(), ..mine("theirs", "sha256:a1", true, &[]) };
    w.engine.container(theirs);
    // Nothing new in the registry: nothing changes.
    let r = w.manager.update(&caller(0), "app", true, true).await.unwrap();
    assert!(!r.changed && r.removed.is_empty() && !r.reinstalled, "{r:?}");
    w.engine.publish("app", "sha256:b2", &labels);
    let r = w.manager.update(&caller(0), "app", true, true).await.unwrap();
    assert_eq!((r.old_image_id.as_str(), r.image_id.as_str(), r.changed), ("sha256:a1", "sha256:b2", true));
    assert_eq!(r.removed, ["app-id"], "force removes atomicd's container only");
    assert_eq!(r.outdated, ["theirs"]);
    assert!(r.reinstalled, "{r:?}");
    let status = w.manager.status().await.unwrap();
    assert_eq!(status.installed[0].image_id, "sha256:b2");
    let asked = w.authority.asked.lock().unwrap_or_else(|p| p.into_inner()).clone();
    let update = asked.iter().find(|(_, d)| d.get("operation").map(String::as_str) == Some("update"));
    assert_eq!(update.and_then(|(_, d)| d.get("removes")).map(String::as_str), Some("container app"));
}

#[tokio::test]
async fn run_refuses_an_image_that_must_be_installed_first() {
    let w = world(&["org.atomic.run"]);
    w.engine.image(
        "app",
        "sha256:a1",
        &[("RUN", "docker run --rm IMAGE"), ("INSTALL", "docker run --rm IMAGE")],
    );
    let r = w.manager.run(&caller(0), run_request("app", &[])).await;
    assert!(matches!(&r, Err(Error::Failed(m)) if m.contains("install it first")), "{r:?}");
    assert!(w.engine.calls().is_empty());
}

#[tokio::test]
async fn a_relative_pwd_is_refused_before_anything_runs() {
    let w = world(&["org.atomic.run"]);
    w.engine.image("app", "sha256:a1", &[("RUN", "docker run --rm -v ${PWD}:/src IMAGE")]);
    let mut request = run_request("app", &[]);
    request.inputs.pwd = Some("../../..".into());
    let r = w.manager.run(&caller(1000), request).await;
    assert!(matches!(&r, Err(Error::InvalidArgument(m)) if m.contains("absolute")), "{r:?}");
    let mut request = run_request("app", &[]);
    request.inputs.pwd = Some("/home/u".into());
    request.display = true;
    let r = w.manager.run(&caller(1000), request).await.unwrap();
    assert_eq!(r.privileges, ["mounts host path /home/u at /src"]);
}

#[tokio::test]
async fn env_files_are_asked_for_before_authorization() {
    let w = world(&["org.atomic.run"]);
    w.engine.image("app", "sha256:a1", &[("RUN", "docker run --rm --env-file /etc/app.env IMAGE")]);
    let r = w.manager.run(&caller(0), run_request("app", &[])).await;
    assert!(matches!(&r, Err(Error::EnvFilesNeeded(_, p)) if p == &["/etc/app.env"]), "{r:?}");
    assert!(asked(&w).is_empty());
}

#[tokio::test]
async fn host_operations_are_one_at_a_time_and_reboot_when_asked() {
    let w = world(&["org.atomic.host-upgrade", "org.atomic.host-rollback"]);
    w.host.hold.store(true, std::sync::atomic::Ordering::SeqCst);
    w.host.offer("2.0");
    let m = w.manager.clone();
    let first = tokio::spawn(async move { m.host_upgrade(&caller(0), false, true).await });
    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    let second = w.manager.rollback(&caller(0), false).await;
    assert!(matches!(second, Err(Error::Busy(_))), "{second:?}");
    w.host.release.notify_one();
    let done = first.await.unwrap().unwrap();
    assert!(done.changed);
    assert_eq!(*w.power.reboots.lock().unwrap_or_else(|p| p.into_inner()), 1);
    w.manager.rollback(&caller(0), false).await.unwrap();
}

#[tokio::test]
async fn a_refused_caller_changes_nothing() {
    let w = world(&[]);
    w.engine.image("app", "sha256:a1", &[("RUN", NAMED_RUN)]);
    let r = w.manager.run(&caller(65534), run_request("app", &[])).await;
    assert!(matches!(r, Err(Error::AccessDenied(_))));
    let r = w.manager.host_upgrade(&caller(65534), false, false).await;
    assert!(matches!(r, Err(Error::AccessDenied(_))));
    assert!(w.engine.calls().is_empty());
}

mod auto;
mod holes;
mod host;
mod trust;
