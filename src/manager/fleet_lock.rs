//! FleetLock and FleetUnlock: a slot of the fleet's reboot lock for another service of this
//! host (`podman auto-update`, an agent), from the same FleetLock server or etcd cluster and in
//! the same group as the host's own updates, so the host's slot and the services' slots are
//! never more than the group's `slots` together. Each service holds its slot by an ID derived
//! from the machine ID and its app ID, as the host's is, so the raw machine ID never leaves.

use super::Manager;
use crate::error::{Error, Result};
use crate::system::caller::Caller;
use crate::system::polkit::Action;

/// The longest app ID taken: a systemd app ID is 32 hex digits, a unit's name rarely more.
const APP_ID_MAX: usize = 64;

/// An app ID is letters, digits and `._-`, not starting with `-`: it is shown to polkit and in
/// the journal, and its hash (or itself) becomes the slot's ID.
fn check_app_id(app: &str) -> Result<()> {
    let allowed = |c: char| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-');
    if app.is_empty() || app.len() > APP_ID_MAX || app.starts_with('-') || !app.chars().all(allowed) {
        return Err(Error::InvalidArgument(format!(
            "{:?} is not an app ID: 1 to {APP_ID_MAX} letters, digits, '.', '_' or '-', not starting with '-'",
            crate::text::truncate_for_message(app)
        )));
    }
    Ok(())
}

impl Manager {
    /// Takes (`take`) or gives back the slot of service `app`; whether it holds one now.
    /// `org.atomic.fleet-lock`; polkit is shown the app, the group and the slot's ID.
    pub async fn fleet_lock(&self, caller: &Caller, app: &str, take: bool) -> Result<bool> {
        check_app_id(app)?;
        let group = self.updates.config().group;
        let id = self.updates.app_fleet_id(app).ok_or_else(|| {
            Error::Failed(
                "this host has no machine ID (/etc/machine-id) to derive a service's fleet ID from".into(),
            )
        })?;
        let operation = if take { "lock" } else { "unlock" };
        let details = [("operation", operation), ("app-id", app), ("group", &group), ("fleet-id", &id)];
        self.authority.check(caller, Action::FleetLock, &details).await?;
        let lock = self.updates.lock_for(&group, &id).map_err(|e| Error::Failed(e.to_string()))?.ok_or_else(
            || {
                Error::Failed(
                    "the fleet's lock needs [updates] strategy = \"fleet-lock\" (with its base_url) or \"etcd\"".into(),
                )
            },
        )?;
        let failed = |e: String| Error::Failed(format!("the fleet's lock ({}): {e}", lock.backend()));
        let held = if take {
            lock.take().await.map_err(failed)?
        } else {
            lock.give_back().await.map(|()| false).map_err(failed)?
        };
        tracing::info!(app_id = app, fleet_id = %id, group = %group, uid = caller.uid, held, "fleet lock {operation}");
        Ok(held)
    }
}

#[cfg(test)]
mod tests {
    use super::check_app_id;

    #[test]
    fn an_app_id_is_allowlisted() {
        for good in ["podman-auto-update", "de35106b6ec24688b63afddaa156679b", "a", "my_agent.v2"] {
            assert!(check_app_id(good).is_ok(), "{good:?}");
        }
        let long = "a".repeat(65);
        for bad in ["", "-x", "a b", "a/b", "x;reboot", "é", "web\u{202e}", "a\nb", &long] {
            assert!(check_app_id(bad).is_err(), "{bad:?}");
        }
    }
}
