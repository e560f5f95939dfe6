//! atomicd's start-up and life cycle: flags, bus name, readiness, engine monitoring, shutdown.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use clap::Parser;
use zbus::fdo::{ObjectManager, RequestNameFlags, RequestNameReply};

use crate::engine::{DockerEngine, Engine, EngineLocator};
use crate::host::{BackendKind, Bootc, HostBackend, NoHost, OstreeHost, RpmOstree};
use crate::jobs::Jobs;
use crate::logging::{self, LogTarget};
use crate::manager::Manager;
use crate::polkit::Polkit;
use crate::power::Logind;
use crate::service::{ManagerInterface, BUS_NAME, MANAGER_PATH};
use crate::state::StateStore;

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
    /// The ostree sysroot for the ostree backend.
    #[arg(long, value_name = "PATH", default_value = "/")]
    pub sysroot: PathBuf,
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
        BackendKind::Ostree => Arc::new(OstreeHost::new(sysroot)),
        BackendKind::RpmOstree => Arc::new(RpmOstree::new("rpm-ostree")),
        BackendKind::Bootc => Arc::new(Bootc::new("bootc")),
    }
}

fn notify(states: &[sd_notify::NotifyState<'_>]) {
    if let Err(e) = sd_notify::notify(states) {
        tracing::debug!("sd_notify: {e}");
    }
}

/// Runs the service until SIGTERM or SIGINT.
pub async fn run(args: Args) -> Result<(), String> {
    let log_to = logging::init(args.log_target)?;
    let state = StateStore::open(&state_dir(args.state_dir)).map_err(|e| e.to_string())?;
    let docker_host = std::env::var("DOCKER_HOST").ok();
    let engine: Arc<dyn Engine> = Arc::new(DockerEngine::new(EngineLocator::from_config(
        args.engine_socket.as_deref(),
        docker_host.as_deref(),
    )));
    let host = host_backend(args.host_backend, args.sysroot);

    let conn =
        zbus::Connection::system().await.map_err(|e| format!("cannot connect to the system bus: {e}"))?;
    let authority: Arc<dyn crate::polkit::Authority> = Arc::new(Polkit::new(conn.clone()));
    let jobs = Jobs::new(Some(conn.clone()), authority.clone());
    let power = Arc::new(Logind::new(conn.clone()));
    let manager = Arc::new(Manager::new(engine.clone(), authority, host, state.clone(), jobs, power));
    let first = engine.info().await;
    tracing::info!(
        log = log_to,
        engine = %first.name,
        socket = %first.socket,
        available = first.available,
        host = manager.host_backend(),
        state = %state.dir().display(),
        "atomicd {} starting",
        crate::VERSION
    );
    let server = conn.object_server();
    server.at(MANAGER_PATH, ObjectManager).await.map_err(|e| e.to_string())?;
    server
        .at(MANAGER_PATH, ManagerInterface::new(manager.clone(), first.available))
        .await
        .map_err(|e| e.to_string())?;
    match conn.request_name_with_flags(BUS_NAME, RequestNameFlags::DoNotQueue.into()).await {
        Ok(RequestNameReply::PrimaryOwner) | Ok(RequestNameReply::AlreadyOwner) => {}
        Ok(other) => return Err(format!("{BUS_NAME} is already owned ({other:?})")),
        Err(e) => return Err(format!("cannot own {BUS_NAME}: {e}")),
    }
    notify(&[
        sd_notify::NotifyState::Ready,
        sd_notify::NotifyState::Status(&format!("serving {BUS_NAME}; engine {}", describe(&first))),
    ]);
    tracing::info!("serving {BUS_NAME} at {MANAGER_PATH}");

    let monitor = tokio::spawn(monitor_engine(conn.clone(), engine));
    wait_for_stop().await;
    notify(&[sd_notify::NotifyState::Stopping]);
    monitor.abort();
    tracing::info!("stopping");
    Ok(())
}

fn describe(info: &crate::engine::EngineInfo) -> String {
    if info.available {
        format!("{} {} at {}", info.name, info.version, info.socket)
    } else {
        format!("unavailable at {}", info.socket)
    }
}

/// Keeps EngineAvailable true to the engine and signals each change.
async fn monitor_engine(conn: zbus::Connection, engine: Arc<dyn Engine>) {
    let mut tick = tokio::time::interval(ENGINE_PROBE_INTERVAL);
    loop {
        tick.tick().await;
        let info = engine.info().await;
        let Ok(iface) = conn.object_server().interface::<_, ManagerInterface>(MANAGER_PATH).await else {
            return;
        };
        let manager = iface.get().await;
        if manager.set_engine_available(info.available) {
            tracing::info!(available = info.available, socket = %info.socket, "engine availability changed");
            notify(&[sd_notify::NotifyState::Status(&format!(
                "serving {BUS_NAME}; engine {}",
                describe(&info)
            ))]);
            if let Err(e) = manager.engine_available_changed(iface.signal_emitter()).await {
                tracing::warn!("cannot signal EngineAvailable: {e}");
            }
        }
    }
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
