//! Rebooting into a new deployment, through logind (never by running `reboot`).

use async_trait::async_trait;

use crate::error::{Error, Result};

/// Reboots the machine.
#[async_trait]
pub trait Power: Send + Sync {
    /// Asks for a reboot; returns once it was accepted.
    async fn reboot(&self) -> Result<()>;
}

/// `org.freedesktop.login1.Manager.Reboot` on the system bus.
pub struct Logind {
    conn: zbus::Connection,
}

impl Logind {
    /// logind on `conn`'s bus.
    pub fn new(conn: zbus::Connection) -> Self {
        Logind { conn }
    }
}

#[async_trait]
impl Power for Logind {
    async fn reboot(&self) -> Result<()> {
        self.conn
            .call_method(
                Some("org.freedesktop.login1"),
                "/org/freedesktop/login1",
                Some("org.freedesktop.login1.Manager"),
                "Reboot",
                &(false,),
            )
            .await
            .map(drop)
            .map_err(|e| {
                Error::Failed(format!("the new deployment is written, but logind refused to reboot: {e}"))
            })
    }
}
