//! atomicd's start-up and life cycle: flags, bus name, readiness, engine monitoring, shutdown.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use clap::Parser;
use futures_util::StreamExt;
use zbus::fdo::{ObjectManager, RequestNameFlags, RequestNameReply};

use crate::dbus::{BusJobs, Checked, ManagerInterface};
use crate::engine::{AuthEnv, AuthFiles, DockerEngine, Engine, EngineChange, EngineLocator};
use crate::host::{BackendKind, Bootc, HostBackend, NoHost, OstreeHost, RpmOstree};
use crate::manager::{coalesce, Area, AutoUpdates, Changes, Jobs, Manager, Parts, UnitFiles};
use crate::system::lifecycle::{self, notify, Activity};
use crate::system::logging::{self, LogTarget};
use crate::system::message_ids as ids;
use crate::system::pending::{Bounded, Limits};
use crate::system::polkit::Polkit;
use crate::system::power::Logind;
use crate::system::state::StateStore;
use crate::wire::names::{BUS_NAME, MANAGER_PATH};

/// How often the engine is probed for EngineAvailable.
const ENGINE_PROBE_INTERVAL: Duration = Duration::from_secs(2);

/// atomicd's command line.
#[derive(Debug, Parser)]
#[command(name = "atomicd", version = crate::VERSION, about = "The org.atomic system service")]
pub struct Args {
    /// Docker-API socket of the container engine (beats DOCKER_HOST; default: podman's socket
    /// when it answers, else Docker's).
    #[arg(long, value_name = "PATH")]
    pub engine_socket: Option<String>,
    /// Where installation records live (default: $STATE_DIRECTORY, else /var/lib/atomic).
    #[arg(long, value_name = "DIR")]
    pub state_dir: Option<PathBuf>,
    /// Where logs go.
    #[arg(long, value_enum, default_value = "auto")]
    pub log_target: LogTarget,
    /// Host backend instead of the detected one.
    #[arg(long, value_name = "rpm-ostree|bootc|ostree|none", value_parser = parse_backend)]
    pub host_backend: Option<BackendKind>,
    /// Exit after this many seconds without calls (0: never); bus activation starts atomicd
    /// again on the next call.
    #[arg(long, value_name = "SECONDS", default_value_t = 0)]
    pub idle_exit: u64,
    /// How long a polkit check (an authentication prompt) may take before it is cancelled and
    /// the call denied.
    #[arg(long, value_name = "SECONDS", default_value_t = 120)]
    pub polkit_timeout: u64,
    /// Registry logins to pull with, in the `auths` format of containers-auth.json(5) and
    /// Docker's config.json (default: podman's $REGISTRY_AUTH_FILE, $XDG_RUNTIME_DIR/containers/auth.json
    /// or /run/containers/0/auth.json, /etc/containers/auth.json, then Docker's
    /// $DOCKER_CONFIG/config.json or /root/.docker/config.json; the first with a login for the
    /// image's registry wins). Read at every pull.
    #[arg(long, value_name = "FILE")]
    pub registry_auth: Option<PathBuf>,
    /// The automatic update policy's file; drop-ins are read from PATH.d/*.toml.
    #[arg(long, value_name = "PATH", default_value = crate::updates::config::DEFAULT_PATH)]
    pub config: PathBuf,
    /// The signature policy, containers-policy.json(5); without the file nothing is verified.
    #[arg(long, value_name = "FILE", default_value = "/etc/containers/policy.json")]
    pub policy: PathBuf,
    /// Where registries.d(5) says each repository's signatures are.
    #[arg(long, value_name = "DIR", default_value = "/etc/containers/registries.d")]
    pub registries_d: PathBuf,
    /// The ostree sysroot for the ostree backend.
    #[arg(long, value_name = "PATH", default_value = "/")]
    pub sysroot: PathBuf,
    /// Where the units of applications installed as services are written.
    #[arg(long, value_name = "DIR", default_value = "/etc/systemd/system")]
    pub unit_dir: PathBuf,
    /// The `atomic` program those units run.
    #[arg(long, value_name = "PATH", default_value = "/usr/bin/atomic")]
    pub client: PathBuf,
}

fn parse_backend(text: &str) -> Result<BackendKind, String> {
    BackendKind::parse(text).ok_or_else(|| format!("{text:?} is not one of rpm-ostree, bootc, ostree, none"))
}

fn state_dir(flag: Option<PathBuf>) -> PathBuf {
    flag.or_else(|| {
        // systemd may pass several colon-separated directories; the first is ours.
        std::env::var_os("STATE_DIRECTORY")
            .and_then(|v| v.to_str().and_then(|s| s.split(':').next()).map(PathBuf::from))
    })
    .unwrap_or_else(|| PathBuf::from("/var/lib/atomic"))
}

fn host_backend(flag: Option<BackendKind>, sysroot: PathBuf) -> Arc<dyn HostBackend> {
    let path_dirs: Vec<PathBuf> =
        std::env::var_os("PATH").map(|p| std::env::split_paths(&p).collect()).unwrap_or_default();
    let kind =
        flag.unwrap_or_else(|| BackendKind::detect(std::path::Path::new("/run/ostree-booted"), &path_dirs));
    match kind {
        BackendKind::None => Arc::new(NoHost),
        BackendKind::Ostree => {
            let exe = std::env::current_exe().unwrap_or_else(|_| PathBuf::from("/usr/libexec/atomicd"));
            Arc::new(OstreeHost::new(sysroot, OstreeHost::helper_beside(&exe)))
        }
        BackendKind::RpmOstree => Arc::new(RpmOstree::new("rpm-ostree", "ostree", &sysroot)),
        BackendKind::Bootc => Arc::new(Bootc::new("bootc", "ostree", &sysroot)),
    }
}

/// Runs the service until SIGTERM or SIGINT.
pub async fn run(args: Args) -> Result<(), String> {
    let log_to = logging::init(args.log_target)?;
    let state = StateStore::open(&state_dir(args.state_dir)).map_err(|e| e.to_string())?;
    let docker_host = std::env::var("DOCKER_HOST").ok();
    let auth = AuthFiles::new(args.registry_auth, &AuthEnv::from_process());
    // Signatures in a private registry are read with the same logins as the engine's pulls.
    let signature_source = Arc::new(crate::trust::fetch::HttpSource::with_auth(auth.clone()));
    let engine: Arc<dyn Engine> = Arc::new(DockerEngine::new(
        EngineLocator::from_config(args.engine_socket.as_deref(), docker_host.as_deref()),
        auth,
    ));
    let host = host_backend(args.host_backend, args.sysroot);

    let conn =
        zbus::Connection::system().await.map_err(|e| format!("cannot connect to the system bus: {e}"))?;
    let polkit = Arc::new(Polkit::new(conn.clone(), Duration::from_secs(args.polkit_timeout.max(1))));
    let authority: Arc<dyn crate::system::polkit::Authority> =
        Arc::new(Bounded::new(polkit, Limits::default()));
    let jobs = Jobs::new(Some(Arc::new(BusJobs::new(conn.clone()))), authority.clone());
    let power = Arc::new(Logind::new(conn.clone()));
    let (changes, noted) = Changes::channel();
    // A [trust] that cannot be read would weaken what is refused: atomicd does not start.
    let require = crate::updates::config::trust_require(&args.config).map_err(|e| e.to_string())?;
    let settings = crate::trust::Settings {
        policy: args.policy.clone(),
        registries_d: args.registries_d.clone(),
        require,
    };
    let trust = Arc::new(crate::trust::Verifier::new(settings, signature_source));
    // Read once: the host's own fleet ID and the services' slots (FleetLock) both come from it.
    let machine_id = crate::updates::machine_id::machine_id();
    let parts = Parts {
        engine: engine.clone(),
        authority,
        host,
        state: state.clone(),
        jobs,
        power,
        trim: Arc::new(crate::system::trim::Fstrim),
        systemd: Arc::new(crate::system::systemd::Systemd1::new(conn.clone())),
        units: UnitFiles { dir: args.unit_dir, client: args.client },
        changes: changes.clone(),
        trust,
        updates: AutoUpdates::load(&args.config, fleet_id(&machine_id)).with_machine_id(machine_id.ok()),
    };
    let manager = Arc::new(Manager::new(parts));
    let first = engine.info().await;
    tracing::info!(
        message_id = ids::STARTING,
        log = log_to,
        engine = %first.name,
        socket = %first.socket,
        available = first.available,
        host = manager.host_backend(),
        state = %state.dir().display(),
        "atomicd {} starting",
        crate::VERSION
    );
    let activity = Arc::new(Activity::default());
    let server = conn.object_server();
    server.at(MANAGER_PATH, ObjectManager).await.map_err(|e| e.to_string())?;
    server
        .at(
            MANAGER_PATH,
            Checked::new(ManagerInterface::new(manager.clone(), activity.clone(), first.available)),
        )
        .await
        .map_err(|e| e.to_string())?;
    own_name(&conn, &manager, first.available).await?;
    notify(&[
        sd_notify::NotifyState::Ready,
        sd_notify::NotifyState::Status(&format!("serving {BUS_NAME}; engine {}", describe(&first))),
    ]);
    tracing::info!(message_id = ids::SERVING, "serving {BUS_NAME} at {MANAGER_PATH}");

    let signals = tokio::spawn(send_changed(conn.clone(), noted));
    let events = tokio::spawn(follow_engine_events(conn.clone(), engine.clone(), changes, manager.clone()));
    let monitor = tokio::spawn(monitor_engine(conn.clone(), engine));
    let watchdog = tokio::spawn(lifecycle::watchdog());
    let automatic = tokio::spawn(manager.clone().run_automatic_updates());
    let applications = tokio::spawn(manager.clone().run_application_updates());
    serve_until_stopped(&conn, &manager, &activity, Duration::from_secs(args.idle_exit)).await;
    manager.finish_removals(Duration::from_secs(5)).await;
    monitor.abort();
    watchdog.abort();
    automatic.abort();
    applications.abort();
    events.abort();
    signals.abort();
    Ok(())
}

/// Sweeps what a crash left to remove, then owns org.atomic: the sweep goes before any Run of
/// this instance can make a container.
async fn own_name(conn: &zbus::Connection, manager: &Manager, engine_available: bool) -> Result<(), String> {
    if engine_available {
        match tokio::time::timeout(Duration::from_secs(5), manager.sweep_removals()).await {
            Ok(0) | Err(_) => {}
            Ok(swept) => tracing::info!(swept, "removed exited --rm containers left from before"),
        }
    }
    match conn.request_name_with_flags(BUS_NAME, RequestNameFlags::DoNotQueue.into()).await {
        Ok(RequestNameReply::PrimaryOwner) | Ok(RequestNameReply::AlreadyOwner) => Ok(()),
        Ok(other) => Err(format!("{BUS_NAME} is already owned ({other:?})")),
        Err(e) => Err(format!("cannot own {BUS_NAME}: {e}")),
    }
}

/// The ID this host gives its fleet: app-specific, from /etc/machine-id (the host name when
/// there is none, as in a container).
fn fleet_id(machine_id: &std::io::Result<String>) -> String {
    if let Some(id) = machine_id.as_ref().ok().and_then(|raw| crate::updates::machine_id::host_id_of(raw)) {
        return id;
    }
    let why = machine_id.as_ref().err().map_or_else(|| "not 32 hex digits".to_owned(), ToString::to_string);
    tracing::warn!("no fleet ID from /etc/machine-id ({why}); using the host name");
    std::fs::read_to_string("/etc/hostname").map(|h| h.trim().to_owned()).unwrap_or_default()
}

/// Serves until SIGTERM/SIGINT (running jobs are cancelled) or `idle` without calls.
async fn serve_until_stopped(
    conn: &zbus::Connection,
    manager: &Manager,
    activity: &Activity,
    idle: Duration,
) {
    tokio::select! {
        () = wait_for_stop() => {
            notify(&[sd_notify::NotifyState::Stopping, sd_notify::NotifyState::Status("stopping: cancelling running jobs")]);
            tracing::info!(message_id = ids::STOPPING, "stopping: cancelling running jobs");
            // New callers queue for the next instance; running jobs end as Cancelled, cleanly.
            let _ = conn.release_name(BUS_NAME).await;
            manager.cancel_all_jobs();
            drain(activity, Duration::ZERO).await;
        }
        () = idle_exit(activity, idle) => {
            notify(&[sd_notify::NotifyState::Stopping]);
            tracing::info!(message_id = ids::STOPPING, "idle for {}s: exiting", idle.as_secs());
            // Release the name first: a call sent from now on starts a new instance by bus
            // activation; one that reached us before the release is still answered.
            let _ = conn.release_name(BUS_NAME).await;
            drain(activity, Duration::from_secs(1)).await;
        }
    }
}

/// How long SIGTERM waits for cancelled jobs to end (below the unit's TimeoutStopSec).
const STOP_GRACE: Duration = Duration::from_secs(20);

/// Resolves once no call has run for `idle` (never when `idle` is zero).
async fn idle_exit(activity: &Activity, idle: Duration) {
    if idle.is_zero() {
        return std::future::pending().await;
    }
    let mut tick = tokio::time::interval(Duration::from_millis(250));
    loop {
        tick.tick().await;
        if activity.idle_for().is_some_and(|d| d >= idle) {
            return;
        }
    }
}

/// Waits until no call is in flight and none started for `quiet`, or `STOP_GRACE` at most.
async fn drain(activity: &Activity, quiet: Duration) {
    let deadline = tokio::time::Instant::now() + STOP_GRACE;
    while tokio::time::Instant::now() < deadline {
        if activity.idle_for().is_some_and(|d| d >= quiet.min(STOP_GRACE)) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn describe(info: &crate::engine::EngineInfo) -> String {
    if info.available {
        format!("{} {} at {}", info.name, info.version, info.socket)
    } else {
        format!("unavailable at {}", info.socket)
    }
}

/// Sends Changed for what was noted, coalesced (at most one per 250 ms).
async fn send_changed(conn: zbus::Connection, noted: tokio::sync::mpsc::UnboundedReceiver<Area>) {
    coalesce(noted, |areas| {
        let conn = conn.clone();
        async move {
            let Ok(iface) =
                conn.object_server().interface::<_, Checked<ManagerInterface>>(MANAGER_PATH).await
            else {
                return;
            };
            let host = areas.contains(&"host");
            if let Err(e) = ManagerInterface::changed(iface.signal_emitter(), areas).await {
                tracing::debug!("cannot send Changed: {e}");
            }
            // A change of the host may have kept, deployed or overtaken the cached update.
            if host {
                let manager = iface.get().await;
                if let Err(e) = manager.cached_update_changed(iface.signal_emitter()).await {
                    tracing::debug!("cannot send CachedUpdate's change: {e}");
                }
            }
        }
    })
    .await;
}

/// Notes images and containers changed by anyone (podman, docker, atomicd) from the engine's
/// event stream, following it again whenever the engine goes and comes back.
async fn follow_engine_events(
    conn: zbus::Connection,
    engine: Arc<dyn Engine>,
    changes: Changes,
    manager: Arc<Manager>,
) {
    let mut lost = false;
    loop {
        if let Ok(mut events) = engine.events().await {
            manager.following_engine_events(true);
            if lost {
                // Whatever happened while the stream was down went unseen: every watcher reads again.
                changes.note(&[Area::Images, Area::Containers]);
            }
            while let Some(change) = events.next().await {
                manager.engine_changed(change);
                changes.note(&[match change {
                    EngineChange::Image => Area::Images,
                    EngineChange::Container => Area::Containers,
                }]);
            }
            manager.following_engine_events(false);
            // The stream ends when the engine goes away, even for a restart shorter than the
            // probe interval: say so now, and the next probe says when it is back.
            let mut info = engine.info().await;
            info.available = false;
            publish_engine(&conn, &info).await;
            lost = true;
        }
        tokio::time::sleep(ENGINE_PROBE_INTERVAL).await;
    }
}

/// Keeps EngineAvailable true to the engine and signals each change.
async fn monitor_engine(conn: zbus::Connection, engine: Arc<dyn Engine>) {
    let mut tick = tokio::time::interval(ENGINE_PROBE_INTERVAL);
    loop {
        tick.tick().await;
        let info = engine.info().await;
        if !publish_engine(&conn, &info).await {
            return;
        }
    }
}

/// Sets EngineAvailable and signals it when it changed; false once the interface is gone.
async fn publish_engine(conn: &zbus::Connection, info: &crate::engine::EngineInfo) -> bool {
    let Ok(iface) = conn.object_server().interface::<_, Checked<ManagerInterface>>(MANAGER_PATH).await else {
        return false;
    };
    let manager = iface.get().await;
    if manager.set_engine_available(info.available) {
        tracing::info!(
            message_id = ids::ENGINE_CHANGED,
            available = info.available,
            socket = %info.socket,
            "engine availability changed"
        );
        notify(&[sd_notify::NotifyState::Status(&format!("serving {BUS_NAME}; engine {}", describe(info)))]);
        if let Err(e) = manager.engine_available_changed(iface.signal_emitter()).await {
            tracing::warn!("cannot signal EngineAvailable: {e}");
        }
    }
    true
}

async fn wait_for_stop() {
    use tokio::signal::unix::{signal, SignalKind};
    match (signal(SignalKind::terminate()), signal(SignalKind::interrupt())) {
        (Ok(mut term), Ok(mut int)) => {
            tokio::select! {
                _ = term.recv() => {}
                _ = int.recv() => {}
            }
        }
        _ => std::future::pending::<()>().await,
    }
}
