//! Who is calling: what the bus says of the sender of a method call.

use zbus::message::{Flags, Header};

use crate::error::{Error, Result};

/// The sender of one method call, as the bus daemon vouches for it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    /// The unique bus name (`:1.42`): the polkit subject.
    pub bus_name: String,
    /// The uid the bus daemon reports for that name.
    pub uid: u32,
    /// Whether the call carried ALLOW_INTERACTIVE_AUTHORIZATION.
    pub allow_interactive: bool,
}

impl Caller {
    /// Reads the sender from `header` and asks the bus for its uid.
    pub async fn from_header(conn: &zbus::Connection, header: &Header<'_>) -> Result<Self> {
        let sender = header
            .sender()
            .ok_or_else(|| Error::AccessDenied("the call carries no sender; use the bus".into()))?;
        let dbus = zbus::fdo::DBusProxy::new(conn).await?;
        let creds = dbus
            .get_connection_credentials(sender.clone().into())
            .await
            .map_err(|e| Error::Failed(format!("cannot identify caller {sender}: {e}")))?;
        let uid = creds
            .unix_user_id()
            .ok_or_else(|| Error::AccessDenied(format!("the bus reports no uid for {sender}")))?;
        Ok(Caller {
            bus_name: sender.to_string(),
            uid,
            allow_interactive: header.primary().flags().contains(Flags::AllowInteractiveAuth),
        })
    }
}

/// The caller's primary gid and home directory from the user database, when it has an entry.
pub(crate) fn account(uid: u32) -> (Option<u32>, Option<String>) {
    match nix::unistd::User::from_uid(nix::unistd::Uid::from_raw(uid)) {
        Ok(Some(user)) => (Some(user.gid.as_raw()), Some(user.dir.to_string_lossy().into_owned())),
        _ => (None, None),
    }
}
