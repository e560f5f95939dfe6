//! [`Engine`] over the Docker-compatible API (Docker, or Podman's `system service`) with bollard.

use std::sync::Mutex;
use std::time::Duration;

use async_trait::async_trait;
use bollard::container::LogOutput;
use bollard::errors::Error as BollardError;
use bollard::models::EventMessageTypeEnum;
use bollard::query_parameters::{
    AttachContainerOptions, CreateImageOptions, EventsOptionsBuilder, ListContainersOptions,
    ListImagesOptions, LogsOptionsBuilder, RemoveContainerOptionsBuilder, RemoveImageOptions,
    ResizeContainerTTYOptions, StopContainerOptionsBuilder,
};
use bollard::{Docker, API_DEFAULT_VERSION};
use futures_util::StreamExt;

use super::auth::{self, AuthFiles, Credential, Lookup};
use super::create::{create_body, host_flags};
use super::lists;
use super::locate::{socket_exists, EngineLocator};
use super::pull::PullProgress;
use super::{
    Attached, Chunk, ContainerInfo, ContainerSummary, CreateRequest, Engine, EngineChange, EngineInfo,
    ImageInfo, ImageSummary, StreamSetup,
};
use crate::error::{Error, Result};
use crate::text::{dbus_safe, Tail};

mod archive;
mod connect;
mod errors;

use connect::PullLogin;
use errors::{chunks, classify, past_stopped, unavailable};

/// How long a probe may take before the engine counts as down.
const PROBE_TIMEOUT: Duration = Duration::from_secs(3);
/// How long an engine's name and version are trusted while it keeps answering.
const VERSION_REFRESH: Duration = Duration::from_secs(60);
/// bollard applies one timeout to every request, waits included; a container may run for days.
const REQUEST_TIMEOUT_SECS: u64 = 60 * 60 * 24 * 365;

/// The engine behind a Docker-API socket, found through an [`EngineLocator`].
#[derive(Debug)]
pub(crate) struct DockerEngine {
    locator: EngineLocator,
    /// Where registry logins are read from, afresh for every pull.
    auth: AuthFiles,
    selected: Mutex<String>,
    /// The last probe and when it ended: callers that arrive while a probe runs share it
    /// instead of each asking the engine (50 Status callers at once make one probe).
    last_probe: tokio::sync::Mutex<Option<(std::time::Instant, EngineInfo)>>,
    /// Name and version per socket, with when they were read.
    versions: tokio::sync::Mutex<std::collections::HashMap<String, (std::time::Instant, EngineInfo)>>,
}

#[async_trait]
impl Engine for DockerEngine {
    async fn info(&self) -> EngineInfo {
        let asked = std::time::Instant::now();
        let mut last = self.last_probe.lock().await;
        if let Some((ended, info)) = last.as_ref() {
            if *ended >= asked {
                return info.clone();
            }
        }
        let info = self.probe_all().await;
        *last = Some((std::time::Instant::now(), info.clone()));
        info
    }

    async fn inspect_image(&self, image: &str) -> Result<ImageInfo> {
        let docker = self.client().await?;
        match docker.inspect_image(image).await {
            Ok(found) => Ok(ImageInfo {
                id: found.id.unwrap_or_default(),
                created: found.created.as_deref().map(lists::epoch).unwrap_or(0),
                size: found.size.and_then(|s| u64::try_from(s).ok()).unwrap_or(0),
                repo_digests: found.repo_digests.unwrap_or_default(),
                healthcheck: found
                    .config
                    .as_ref()
                    .and_then(|c| c.healthcheck.as_ref())
                    .and_then(|h| h.test.as_ref())
                    .is_some_and(|test| test.first().is_some_and(|t| t != "NONE")),
                labels: found
                    .config
                    .and_then(|c| c.labels)
                    .unwrap_or_default()
                    .into_iter()
                    .map(|(k, v)| (dbus_safe(&k).into_owned(), dbus_safe(&v).into_owned()))
                    .collect(),
            }),
            Err(BollardError::DockerResponseServerError { status_code: 404, .. }) => {
                Err(Error::ImageNotFound(format!("image {image:?} is not present on this host")))
            }
            Err(e) => Err(classify(&self.selected(), &format!("inspecting image {image:?}"), e)),
        }
    }

    async fn find_container(&self, name: &str) -> Result<Option<ContainerInfo>> {
        let docker = self.client().await?;
        // The engines resolve a full ID, then a name, then an ID prefix: a caller's name of hex
        // digits must never reach someone else's container through the last of those.
        match past_stopped(|| docker.inspect_container(name, None)).await {
            Ok(c) if c.name.as_deref().map(|n| n.trim_start_matches('/')) == Some(name) => {
                Ok(Some(ContainerInfo {
                    id: c.id.unwrap_or_default(),
                    name: name.to_owned(),
                    image_id: c.image.unwrap_or_default(),
                    running: c.state.as_ref().and_then(|s| s.running).unwrap_or(false),
                    health: c
                        .state
                        .as_ref()
                        .and_then(|s| s.health.as_ref())
                        .and_then(|h| h.status)
                        .map(|status| status.to_string())
                        // Podman says "" of a container without a HEALTHCHECK, Docker "none".
                        .filter(|status| !status.is_empty() && status != "none"),
                    open_stdin: c.config.as_ref().and_then(|cfg| cfg.open_stdin).unwrap_or(false),
                    tty: c.config.as_ref().and_then(|cfg| cfg.tty).unwrap_or(false),
                    // Whose it is comes from atomicd's own record, never from labels.
                    owner: None,
                    host_flags: c.host_config.as_ref().map(host_flags).unwrap_or_default(),
                    rootfs: c
                        .graph_driver
                        .and_then(|g| g.data.get("UpperDir").or_else(|| g.data.get("MergedDir")).cloned()),
                }))
            }
            Ok(_) | Err(BollardError::DockerResponseServerError { status_code: 404, .. }) => Ok(None),
            Err(e) => Err(classify(&self.selected(), &format!("inspecting container {name:?}"), e)),
        }
    }

    async fn list_containers(&self) -> Result<Vec<ContainerSummary>> {
        let docker = self.client().await?;
        let options = || Some(ListContainersOptions { all: true, ..ListContainersOptions::default() });
        let list = past_stopped(|| docker.list_containers(options()))
            .await
            .map_err(|e| classify(&self.selected(), "listing containers", e))?;
        Ok(list.into_iter().map(lists::container).collect())
    }

    async fn events(&self) -> Result<futures_util::stream::BoxStream<'static, EngineChange>> {
        let docker = self.client().await?;
        let filters = std::collections::HashMap::from([("type", vec!["image", "container"])]);
        let options = EventsOptionsBuilder::default().filters(&filters).build();
        let stream = docker.events(Some(options)).filter_map(|event| async move {
            match event.ok()?.typ? {
                EventMessageTypeEnum::IMAGE => Some(EngineChange::Image),
                EventMessageTypeEnum::CONTAINER => Some(EngineChange::Container),
                _ => None,
            }
        });
        Ok(stream.boxed())
    }

    async fn list_images(&self, all: bool) -> Result<Vec<ImageSummary>> {
        let docker = self.client().await?;
        let options = ListImagesOptions { all, ..ListImagesOptions::default() };
        let list = docker
            .list_images(Some(options))
            .await
            .map_err(|e| classify(&self.selected(), "listing images", e))?;
        Ok(list.into_iter().map(lists::image).collect())
    }

    async fn pull(
        &self,
        image: &str,
        progress: tokio::sync::mpsc::UnboundedSender<(f64, String)>,
    ) -> Result<()> {
        let mut layers = PullProgress::default();
        let login = self.login_for(image).await?;
        let docker = self.client().await?;
        // The reference carries its tag or digest: Docker pulls every tag when neither is given.
        let options =
            CreateImageOptions { from_image: Some(image.to_owned()), ..CreateImageOptions::default() };
        let header = match &login {
            PullLogin::Send(registry, c) => Some(c.to_docker(registry)),
            _ => None,
        };
        let mut stream = docker.create_image(Some(options), None, header);
        while let Some(item) = stream.next().await {
            let refusal = match item {
                Ok(info) => {
                    if let (Some(id), Some(status)) = (&info.id, &info.status) {
                        let detail = info.progress_detail.as_ref();
                        let (current, total) = (detail.and_then(|d| d.current), detail.and_then(|d| d.total));
                        if let Some(report) = layers.update(id, status, current, total) {
                            let _ = progress.send(report);
                        }
                    }
                    match info.error_detail.and_then(|d| d.message) {
                        Some(detail) => detail,
                        None => continue,
                    }
                }
                // The registry's refusal (unknown manifest, no such repository, no login) arrives
                // either as an error status or inside the progress stream.
                Err(BollardError::DockerStreamError { error: message })
                | Err(BollardError::DockerResponseServerError { message, .. }) => message,
                Err(e) => return Err(classify(&self.selected(), &format!("pulling {image:?}"), e)),
            };
            return Err(self.pull_refused(image, &login, &refusal));
        }
        Ok(())
    }

    async fn remove_image(&self, image: &str) -> Result<bool> {
        let docker = self.client().await?;
        match docker.remove_image(image, None::<RemoveImageOptions>, None).await {
            Ok(items) => Ok(items.iter().any(|i| i.deleted.is_some())),
            Err(BollardError::DockerResponseServerError { status_code: 404, .. }) => Ok(false),
            Err(e) => Err(classify(&self.selected(), &format!("removing image {image:?}"), e)),
        }
    }

    async fn create(&self, request: CreateRequest<'_>) -> Result<String> {
        let body = create_body(request);
        let spec = request.spec;
        let options = spec
            .name
            .as_ref()
            .map(|n| bollard::query_parameters::CreateContainerOptionsBuilder::default().name(n).build());
        let docker = self.client().await?;
        docker.create_container(options, body).await.map(|r| r.id).map_err(|e| {
            classify(&self.selected(), &format!("creating a container from {}", request.image_id), e)
        })
    }

    async fn attach(&self, id: &str, stdin: bool) -> Result<Attached> {
        let docker = self.client().await?;
        let options =
            AttachContainerOptions { stdin, stdout: true, stderr: true, stream: true, ..Default::default() };
        let attached = docker
            .attach_container(id, Some(options))
            .await
            .map_err(|e| classify(&self.selected(), &format!("attaching to {id}"), e))?;
        let output = chunks(attached.output, self.selected(), "reading the container's output");
        Ok(Attached { output, input: attached.input })
    }

    async fn resize_tty(&self, id: &str, rows: u16, columns: u16) -> Result<()> {
        let docker = self.client().await?;
        let options = ResizeContainerTTYOptions { h: i32::from(rows), w: i32::from(columns) };
        docker
            .resize_container_tty(id, options)
            .await
            .map_err(|e| classify(&self.selected(), &format!("resizing the terminal of {id}"), e))
    }

    async fn start(&self, id: &str) -> Result<()> {
        let docker = self.client().await?;
        docker
            .start_container(id, None)
            .await
            .map_err(|e| classify(&self.selected(), &format!("starting container {id}"), e))
    }

    async fn wait(&self, id: &str) -> Result<i64> {
        let docker = self.client().await?;
        let mut stream = docker.wait_container(id, None);
        let mut code = 0;
        while let Some(item) = stream.next().await {
            match item {
                Ok(response) => code = response.status_code,
                // bollard reports a non-zero exit as an error; it is the container's status.
                Err(BollardError::DockerContainerWaitError { code: c, .. }) => code = c,
                Err(e) => return Err(classify(&self.selected(), &format!("waiting for container {id}"), e)),
            }
        }
        Ok(code)
    }

    async fn exit_code(&self, id: &str) -> Result<Option<i64>> {
        // 1.41: what podman 4 serves and Docker has served since 20.10; State is older than both.
        Ok(super::state::inspect(&self.selected(), "1.41", id).await?.ended())
    }

    async fn output_tail(&self, id: &str, limit: usize) -> Result<String> {
        let docker = self.client().await?;
        let options = LogsOptionsBuilder::default().stdout(true).stderr(true).follow(false).build();
        let mut stream = docker.logs(id, Some(options));
        let mut tail = Tail::new(limit);
        while let Some(item) = stream.next().await {
            let chunk =
                item.map_err(|e| classify(&self.selected(), &format!("reading output of {id}"), e))?;
            tail.push(&chunk.into_bytes());
        }
        Ok(tail.into_string())
    }

    async fn stop(&self, id: &str, timeout: u32) -> Result<()> {
        let docker = self.client().await?;
        let seconds = i32::try_from(timeout).unwrap_or(i32::MAX);
        let options = StopContainerOptionsBuilder::default().t(seconds).build();
        match docker.stop_container(id, Some(options)).await {
            // 304: it was not running.
            Ok(()) | Err(BollardError::DockerResponseServerError { status_code: 304, .. }) => Ok(()),
            Err(e) => Err(classify(&self.selected(), &format!("stopping container {id}"), e)),
        }
    }

    async fn remove(&self, id: &str, force: bool) -> Result<()> {
        let docker = self.client().await?;
        let options = RemoveContainerOptionsBuilder::default().force(force).build();
        match docker.remove_container(id, Some(options)).await {
            Ok(()) | Err(BollardError::DockerResponseServerError { status_code: 404, .. }) => Ok(()),
            Err(e) => Err(classify(&self.selected(), &format!("removing container {id}"), e)),
        }
    }

    async fn exec(&self, id: &str, command: &[String], streams: StreamSetup) -> Result<(String, Attached)> {
        let docker = self.client().await?;
        let socket = self.selected();
        let options = bollard::exec::CreateExecOptions {
            cmd: Some(command.to_vec()),
            attach_stdin: Some(streams.stdin),
            attach_stdout: Some(true),
            attach_stderr: Some(true),
            tty: Some(streams.tty),
            ..Default::default()
        };
        let created = docker
            .create_exec(id, options)
            .await
            .map_err(|e| classify(&socket, &format!("creating an exec in {id}"), e))?;
        let started = docker
            .start_exec(&created.id, None)
            .await
            .map_err(|e| classify(&socket, &format!("starting an exec in {id}"), e))?;
        match started {
            bollard::exec::StartExecResults::Attached { output, input } => Ok((
                created.id,
                Attached { output: chunks(output, socket, "reading the exec's output"), input },
            )),
            bollard::exec::StartExecResults::Detached => {
                Err(Error::EngineError(format!("the engine started the exec in {id} detached")))
            }
        }
    }

    async fn exec_detached(&self, id: &str, command: &[String]) -> Result<String> {
        let docker = self.client().await?;
        let socket = self.selected();
        let options = bollard::exec::CreateExecOptions::<String> {
            cmd: Some(command.to_vec()),
            attach_stdout: Some(false),
            attach_stderr: Some(false),
            ..Default::default()
        };
        let created = docker
            .create_exec(id, options)
            .await
            .map_err(|e| classify(&socket, &format!("creating an exec in {id}"), e))?;
        let detached = bollard::exec::StartExecOptions { detach: true, ..Default::default() };
        docker
            .start_exec(&created.id, Some(detached))
            .await
            .map_err(|e| classify(&socket, &format!("starting an exec in {id}"), e))?;
        Ok(created.id)
    }

    async fn exec_exit_code(&self, exec_id: &str) -> Result<i64> {
        let docker = self.client().await?;
        let inspected = docker
            .inspect_exec(exec_id)
            .await
            .map_err(|e| classify(&self.selected(), &format!("inspecting exec {exec_id}"), e))?;
        inspected.exit_code.ok_or_else(|| Error::EngineError(format!("exec {exec_id} reports no exit code")))
    }

    async fn read_file(&self, id: &str, path: &str, limit: usize) -> Result<Option<Vec<u8>>> {
        archive::read_file(&self.client().await?, &self.selected(), id, path, limit).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn podmans_stopped_state_is_waited_out_and_other_errors_are_not() {
        let stopped = || BollardError::JsonDataError {
            message: "unknown variant `stopped`, expected one of ``, `created`, `running`".into(),
            column: 178,
        };
        let mut calls = 0;
        let settled = past_stopped(|| {
            calls += 1;
            let answer = if calls < 3 { Err(stopped()) } else { Ok(calls) };
            async move { answer }
        })
        .await;
        assert_eq!(settled.ok(), Some(3));
        let mut calls = 0;
        let other = past_stopped(|| {
            calls += 1;
            async { Err::<(), _>(BollardError::RequestTimeoutError) }
        })
        .await;
        assert!(other.is_err());
        assert_eq!(calls, 1, "only podman's stopped state is retried");
    }
}
