//! systemd, for the units of installed applications: reload, enable, start, stop, disable, and
//! what a unit is now, through systemd's own D-Bus API (`org.freedesktop.systemd1`), as
//! `systemctl` does. No `systemctl` is run: its exit codes and sentences would have to be parsed
//! back, and the calls would wait on a process atomicd's own unit may not start.

use async_trait::async_trait;
use zbus::zvariant::OwnedObjectPath;

use crate::error::{Error, Result};

/// A unit as systemd sees it now.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UnitState {
    /// `loaded`, `not-found`, `masked`, ...
    pub load: String,
    /// `active`, `inactive`, `failed`, `activating`, ...
    pub active: String,
    /// `running`, `dead`, `exited`, `auto-restart`, ...
    pub sub: String,
    /// The unit's file as systemd loaded it ("" when none).
    pub file: String,
}

impl UnitState {
    /// systemd has a unit of this name from some file or generator.
    pub fn exists(&self) -> bool {
        !self.load.is_empty() && self.load != "not-found"
    }
}

/// The systemd manager, as atomicd uses it.
#[async_trait]
pub trait Systemd: Send + Sync {
    /// Reads unit files anew (`daemon-reload`).
    async fn reload(&self) -> Result<()>;
    /// Enables a unit (its `[Install]` section), as `systemctl enable`.
    async fn enable(&self, unit: &str) -> Result<()>;
    /// Disables it.
    async fn disable(&self, unit: &str) -> Result<()>;
    /// Queues its start and returns (the unit's own process calls back into atomicd).
    async fn start(&self, unit: &str) -> Result<()>;
    /// Queues its stop and returns.
    async fn stop(&self, unit: &str) -> Result<()>;
    /// Queues its restart and returns: units that `Requires=` or `BindsTo=` it restart too.
    async fn restart(&self, unit: &str) -> Result<()>;
    /// What the unit is now.
    async fn state(&self, unit: &str) -> Result<UnitState>;
}

const DEST: &str = "org.freedesktop.systemd1";
const PATH: &str = "/org/freedesktop/systemd1";
const MANAGER: &str = "org.freedesktop.systemd1.Manager";
const UNIT: &str = "org.freedesktop.systemd1.Unit";

/// systemd on the system bus.
pub(crate) struct Systemd1 {
    conn: zbus::Connection,
}

impl Systemd1 {
    /// systemd on `conn`'s bus.
    pub(crate) fn new(conn: zbus::Connection) -> Self {
        Systemd1 { conn }
    }

    async fn call<B>(&self, method: &str, body: &B, what: &str) -> Result<zbus::Message>
    where
        B: serde::Serialize + zbus::zvariant::DynamicType,
    {
        self.conn
            .call_method(Some(DEST), PATH, Some(MANAGER), method, body)
            .await
            .map_err(|e| Error::Failed(format!("systemd: cannot {what}: {e}")))
    }

    async fn unit_property(&self, path: &OwnedObjectPath, name: &str) -> Result<String> {
        let proxy = zbus::Proxy::new(&self.conn, DEST, path.as_str(), UNIT)
            .await
            .map_err(|e| Error::Failed(format!("systemd: {e}")))?;
        proxy.get_property::<String>(name).await.map_err(|e| Error::Failed(format!("systemd: {name}: {e}")))
    }
}

#[async_trait]
impl Systemd for Systemd1 {
    async fn reload(&self) -> Result<()> {
        self.call("Reload", &(), "reload unit files").await.map(drop)
    }

    async fn enable(&self, unit: &str) -> Result<()> {
        // runtime=false: under /etc, kept across reboots; force=false: an existing link of
        // another unit is not replaced.
        self.call("EnableUnitFiles", &(vec![unit], false, false), &format!("enable {unit}")).await.map(drop)
    }

    async fn disable(&self, unit: &str) -> Result<()> {
        self.call("DisableUnitFiles", &(vec![unit], false), &format!("disable {unit}")).await.map(drop)
    }

    async fn start(&self, unit: &str) -> Result<()> {
        self.call("StartUnit", &(unit, "replace"), &format!("start {unit}")).await.map(drop)
    }

    async fn stop(&self, unit: &str) -> Result<()> {
        self.call("StopUnit", &(unit, "replace"), &format!("stop {unit}")).await.map(drop)
    }

    async fn restart(&self, unit: &str) -> Result<()> {
        self.call("RestartUnit", &(unit, "replace"), &format!("restart {unit}")).await.map(drop)
    }

    async fn state(&self, unit: &str) -> Result<UnitState> {
        // LoadUnit answers for a unit that is not loaded yet, and for one that has no file.
        let reply = self.call("LoadUnit", &(unit,), &format!("look up {unit}")).await?;
        let path: OwnedObjectPath =
            reply.body().deserialize().map_err(|e| Error::Failed(format!("systemd: LoadUnit: {e}")))?;
        Ok(UnitState {
            load: self.unit_property(&path, "LoadState").await?,
            active: self.unit_property(&path, "ActiveState").await?,
            sub: self.unit_property(&path, "SubState").await?,
            file: self.unit_property(&path, "FragmentPath").await?,
        })
    }
}
