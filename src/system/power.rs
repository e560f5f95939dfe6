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
pub(crate) struct Logind {
    conn: zbus::Connection,
}

impl Logind {
    /// logind on `conn`'s bus.
    pub(crate) fn new(conn: zbus::Connection) -> Self {
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
            .map_err(|e| Error::Failed(refusal(&e)))
    }
}

/// The sentence for a Reboot that did not happen: logind absent (not running, not
/// activatable, or its activation failed) is told apart from logind saying no.
fn refusal(e: &zbus::Error) -> String {
    let absent = match e {
        zbus::Error::MethodError(name, _, _) => {
            let name = name.as_str();
            name == "org.freedesktop.DBus.Error.ServiceUnknown"
                || name == "org.freedesktop.DBus.Error.NameHasNoOwner"
                || name.starts_with("org.freedesktop.DBus.Error.Spawn.")
        }
        _ => false,
    };
    if absent {
        format!(
            "the new deployment is written and boots next, but there is no logind on the system bus \
             (org.freedesktop.login1) to reboot through: reboot by hand ({e})"
        )
    } else {
        format!("the new deployment is written and boots next, but logind refused to reboot: {e}")
    }
}
