//! The container engine atomicd drives, behind a small trait so the manager can be tested alone.

mod auth;
mod create;
mod docker;
mod lists;
mod locate;
#[cfg(test)]
mod props;
mod pull;
#[cfg(test)]
mod round_trip;
mod state;

use std::collections::HashMap;

use async_trait::async_trait;

pub(crate) use auth::{target as auth_target, AuthEnv, AuthFiles, Lookup};
#[cfg(test)]
pub(crate) use create::{create_body, host_flags};
pub(crate) use docker::DockerEngine;
pub(crate) use locate::EngineLocator;

use crate::error::Result;
use crate::label::{Ownership, RunSpec};

/// Whether two image ids name the same image: podman leaves the `sha256:` prefix off in some
/// answers where Docker keeps it.
pub(crate) fn same_image(a: &str, b: &str) -> bool {
    let bare = |id: &str| id.strip_prefix("sha256:").unwrap_or(id).to_owned();
    bare(a) == bare(b)
}

/// What Status reports of the engine.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EngineInfo {
    /// `docker` or `podman`; empty when nothing answers.
    pub name: String,
    /// The engine's own version.
    pub version: String,
    /// The Docker API version it serves.
    pub api_version: String,
    /// The socket atomicd talks to.
    pub socket: String,
    /// Whether the engine answered just now.
    pub available: bool,
}

/// A local image: its id and labels.
#[derive(Debug, Clone, Default)]
pub struct ImageInfo {
    /// `sha256:...`
    pub id: String,
    /// The image's labels.
    pub labels: HashMap<String, String>,
    /// When it was built, in seconds since the epoch (0 when the engine does not say).
    pub created: u64,
    /// Its size in bytes.
    pub size: u64,
    /// The manifest digests registries gave it (`repo@sha256:...`): what a signature signs.
    pub repo_digests: Vec<String>,
    /// It has a HEALTHCHECK (one that is not `NONE`).
    pub healthcheck: bool,
}

/// What the engine's event stream says changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EngineChange {
    /// An image was pulled, tagged, removed, ...
    Image,
    /// A container was created, started, died, removed, ...
    Container,
}

/// A local image as the engine lists it.
#[derive(Debug, Clone, Default)]
pub struct ImageSummary {
    /// `sha256:...`
    pub id: String,
    /// Its `repository:tag` names; none for a dangling image.
    pub tags: Vec<String>,
    /// When it was built, in seconds since the epoch.
    pub created: u64,
    /// Its size in bytes.
    pub size: u64,
    /// The image's labels.
    pub labels: HashMap<String, String>,
    /// The manifest digests registries gave it.
    pub repo_digests: Vec<String>,
}

/// An existing container, found by its exact name.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ContainerInfo {
    /// Its id.
    pub id: String,
    /// Its name, without the leading `/`.
    pub name: String,
    /// The id of the image it was made from.
    pub image_id: String,
    /// Whether it runs now.
    pub running: bool,
    /// What atomicd recorded when it made it: always `None` from an engine; the manager fills it
    /// from its own record (`manager/owned.rs`). `None` there: atomicd did not make it.
    pub owner: Option<Ownership>,
    /// Its host configuration as the `docker run` flags that would ask for it, so that what it
    /// may do to the host is judged by the same table as a label's line.
    pub host_flags: Vec<String>,
    /// It was created with its stdin open (`-i`): a restart can take the caller's stdin.
    pub open_stdin: bool,
    /// It was created with a terminal (`-t`).
    pub tty: bool,
    /// The host directory of its writable layer (the storage driver's upper directory, else
    /// its merged one), when the engine says: where TrimContainers finds its filesystem.
    pub rootfs: Option<String>,
    /// What its HEALTHCHECK says now (`starting`, `healthy`, `unhealthy`), when it has one.
    pub health: Option<String>,
}

/// A container made from some image.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ContainerSummary {
    /// Its id.
    pub id: String,
    /// Its name, without the leading `/`.
    pub name: String,
    /// Whether it runs now.
    pub running: bool,
    /// What atomicd recorded when it made it: `None` from an engine, filled by the manager.
    pub owner: Option<Ownership>,
    /// The image as the engine names it.
    pub image: String,
    /// The id of the image it was made from.
    pub image_id: String,
    /// `created`, `running`, `exited`, ...
    pub state: String,
    /// How it ended, when it has (read from the engine's status line, "Exited (3) ...").
    pub exit_code: Option<i32>,
    /// When it was created, in seconds since the epoch.
    pub created: u64,
}

/// What a create asks for: the line's container, from exactly the image ID that was inspected
/// and authorized (never by name: a re-tag in between would run something else), marked as
/// atomicd's own.
#[derive(Debug, Clone, Copy)]
pub struct CreateRequest<'a> {
    /// The parsed line.
    pub spec: &'a RunSpec,
    /// The image ID the plan resolved.
    pub image_id: &'a str,
    /// The ownership labels.
    pub owner: &'a Ownership,
    /// What the caller attached.
    pub streams: StreamSetup,
}

/// A piece of a container's output.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Chunk {
    /// Standard output, or the terminal when the container has one.
    Stdout(Vec<u8>),
    /// Standard error.
    Stderr(Vec<u8>),
}

/// A live attachment to a container's standard streams.
pub struct Attached {
    /// What the container writes, until it exits.
    pub output: std::pin::Pin<Box<dyn futures_util::Stream<Item = Result<Chunk>> + Send>>,
    /// Its standard input.
    pub input: std::pin::Pin<Box<dyn tokio::io::AsyncWrite + Send>>,
}

/// Where a created container's standard streams go.
#[derive(Debug, Clone, Copy, Default)]
pub struct StreamSetup {
    /// Keep stdin open for an attached client.
    pub stdin: bool,
    /// Allocate a terminal.
    pub tty: bool,
}

/// The operations atomicd needs from a Docker-API engine.
#[async_trait]
pub trait Engine: Send + Sync {
    /// Probes the engine; never fails, `available` says whether it answered.
    async fn info(&self) -> EngineInfo;
    /// A local image, or `ImageNotFound`.
    async fn inspect_image(&self, image: &str) -> Result<ImageInfo>;
    /// The container named exactly `name`, if there is one (never one whose ID starts so).
    async fn find_container(&self, name: &str) -> Result<Option<ContainerInfo>>;
    /// Every container, running or not, made from the image with this id.
    async fn containers_of(&self, image_id: &str) -> Result<Vec<ContainerSummary>> {
        // Filtered here: podman 4.3's "ancestor" filter does not match `sha256:`-prefixed ids.
        let all = self.list_containers().await?;
        Ok(all.into_iter().filter(|c| same_image(&c.image_id, image_id)).collect())
    }
    /// Every container of the engine, running or not: one round trip.
    async fn list_containers(&self) -> Result<Vec<ContainerSummary>>;
    /// Every local image (`all`: intermediate layers too): one round trip.
    async fn list_images(&self, all: bool) -> Result<Vec<ImageSummary>>;
    /// The engine's events about images and containers, as they come, until the engine goes.
    async fn events(&self) -> Result<futures_util::stream::BoxStream<'static, EngineChange>>;
    /// Pulls exactly `reference` (see `ImageRef::pull_reference`), sending (progress 0..1 or -1, message) as it goes; `ImageNotFound` when
    /// no registry has it.
    async fn pull(
        &self,
        reference: &str,
        progress: tokio::sync::mpsc::UnboundedSender<(f64, String)>,
    ) -> Result<()>;
    /// Removes an image (by the name given: other tags stay); true when its content was deleted,
    /// false when only that tag went or it was already gone.
    async fn remove_image(&self, image: &str) -> Result<bool>;
    /// Creates the container a request describes and returns its id.
    async fn create(&self, request: CreateRequest<'_>) -> Result<String>;
    /// Attaches to a created container's streams (before it starts, so nothing is missed).
    async fn attach(&self, id: &str, stdin: bool) -> Result<Attached>;
    /// Sets the size of the container's terminal.
    async fn resize_tty(&self, id: &str, rows: u16, columns: u16) -> Result<()>;
    /// Starts a created container.
    async fn start(&self, id: &str) -> Result<()>;
    /// Stops a container: SIGTERM, then SIGKILL after `timeout` seconds.
    async fn stop(&self, id: &str, timeout: u32) -> Result<()>;
    /// Waits for the container to stop and returns its exit code.
    async fn wait(&self, id: &str) -> Result<i64>;
    /// The exit code of a container whose process has ended, as its state says now; `None`
    /// while the engine still counts it as running. One inspect, no waiting.
    async fn exit_code(&self, id: &str) -> Result<Option<i64>>;
    /// The last `limit` bytes of the container's output, stdout and stderr interleaved.
    async fn output_tail(&self, id: &str, limit: usize) -> Result<String>;
    /// Removes a container, killing it first when `force`.
    async fn remove(&self, id: &str, force: bool) -> Result<()>;
    /// Runs `command` in a running container, attached; returns the exec's id and its streams.
    async fn exec(&self, id: &str, command: &[String], streams: StreamSetup) -> Result<(String, Attached)>;
    /// Starts `command` in a running container and returns at once, as `docker exec -d`.
    async fn exec_detached(&self, id: &str, command: &[String]) -> Result<String>;
    /// The exit code of a finished exec.
    async fn exec_exit_code(&self, exec_id: &str) -> Result<i64>;
    /// The regular file at `path` in a (created, not necessarily started) container, read
    /// through the engine's archive API; `None` when there is no such file. Past `limit` bytes
    /// it is refused and read no further.
    async fn read_file(&self, id: &str, path: &str, limit: usize) -> Result<Option<Vec<u8>>>;
}
