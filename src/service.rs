//! The `org.atomic.Manager` D-Bus object: reads the call, hands it to [`Manager`], and returns
//! its answer. No decisions are made here.

use std::collections::HashMap;
use std::sync::Arc;

use zbus::message::Header;
use zbus::zvariant::OwnedValue;
use zbus::{interface, Connection};

use crate::api::{InstallResult, RunResult, StatusReport, UninstallResult};
use crate::caller::Caller;
use crate::error::Result;
use crate::manager::{self, Manager};
use crate::options::Options;
use crate::polkit::Action;

/// The object path of the manager.
pub const MANAGER_PATH: &str = "/org/atomic/Manager";
/// The well-known bus name.
pub const BUS_NAME: &str = "org.atomic";

/// The D-Bus face of [`Manager`].
pub struct ManagerInterface {
    manager: Arc<Manager>,
    engine_available: bool,
}

impl ManagerInterface {
    /// Serves `manager`; `engine_available` is the first probe's answer.
    pub fn new(manager: Arc<Manager>, engine_available: bool) -> Self {
        ManagerInterface { manager, engine_available }
    }

    /// Records a new engine availability; true when it changed.
    pub fn set_engine_available(&mut self, available: bool) -> bool {
        std::mem::replace(&mut self.engine_available, available) != available
    }
}

type Dict = HashMap<String, OwnedValue>;
type EmptyResult = HashMap<String, OwnedValue>;

#[interface(name = "org.atomic.Manager")]
impl ManagerInterface {
    /// Runs an image as its RUN label says, or by default, or as a super-privileged container.
    #[zbus(out_args("result"))]
    async fn run(
        &self,
        image: String,
        command: Vec<String>,
        options: Dict,
        #[zbus(header)] header: Header<'_>,
        #[zbus(connection)] conn: &Connection,
    ) -> Result<RunResult> {
        let options = Options::parse(options, manager::RUN_OPTIONS)?;
        let caller = Caller::from_header(conn, &header).await?;
        self.manager.run(&caller, &image, command, options).await
    }

    /// Pulls an image, runs its INSTALL label and records the installation.
    #[zbus(out_args("result"))]
    async fn install(
        &self,
        image: String,
        options: Dict,
        #[zbus(header)] header: Header<'_>,
        #[zbus(connection)] conn: &Connection,
    ) -> Result<InstallResult> {
        let options = Options::parse(options, manager::INSTALL_OPTIONS)?;
        let caller = Caller::from_header(conn, &header).await?;
        self.manager.install(&caller, &image, options).await
    }

    /// Runs an image's UNINSTALL label, removes its containers and image, and drops the record.
    #[zbus(out_args("result"))]
    async fn uninstall(
        &self,
        image: String,
        options: Dict,
        #[zbus(header)] header: Header<'_>,
        #[zbus(connection)] conn: &Connection,
    ) -> Result<UninstallResult> {
        let options = Options::parse(options, manager::UNINSTALL_OPTIONS)?;
        let caller = Caller::from_header(conn, &header).await?;
        self.manager.uninstall(&caller, &image, options).await
    }

    /// Upgrades the image-based host.
    #[zbus(out_args("result"))]
    async fn host_upgrade(
        &self,
        options: Dict,
        #[zbus(header)] header: Header<'_>,
        #[zbus(connection)] conn: &Connection,
    ) -> Result<EmptyResult> {
        Options::parse(options, manager::UPGRADE_OPTIONS)?;
        let caller = Caller::from_header(conn, &header).await?;
        self.manager.not_implemented(&caller, Action::HostUpgrade, "HostUpgrade").await
    }

    /// Makes the previous deployment the default.
    #[zbus(out_args("result"))]
    async fn rollback(
        &self,
        options: Dict,
        #[zbus(header)] header: Header<'_>,
        #[zbus(connection)] conn: &Connection,
    ) -> Result<EmptyResult> {
        Options::parse(options, manager::ROLLBACK_OPTIONS)?;
        let caller = Caller::from_header(conn, &header).await?;
        self.manager.not_implemented(&caller, Action::HostRollback, "Rollback").await
    }

    /// Version, engine, host and installed images; open to every caller.
    #[zbus(out_args("status"))]
    async fn status(&self) -> Result<StatusReport> {
        self.manager.status().await
    }

    /// atomicd's version.
    #[zbus(property)]
    fn version(&self) -> String {
        crate::VERSION.to_owned()
    }

    /// Whether the container engine answers.
    #[zbus(property)]
    fn engine_available(&self) -> bool {
        self.engine_available
    }

    /// The host backend found at start.
    #[zbus(property)]
    fn host_backend(&self) -> String {
        self.manager.host_backend().to_owned()
    }
}
