//! Authorization through polkit: every guarded call asks polkitd about the calling bus name.

use std::collections::HashMap;

use async_trait::async_trait;
use zbus::zvariant::OwnedValue;
use zbus_polkit::policykit1::{AuthorityProxy, CheckAuthorizationFlags, Subject};

use crate::error::{Error, Result};
use crate::system::caller::Caller;

/// The polkit actions of API.md.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// Run of a confined container.
    Run,
    /// Run of a container that may touch the host.
    RunPrivileged,
    /// Install.
    Install,
    /// Uninstall.
    Uninstall,
    /// HostUpgrade.
    HostUpgrade,
    /// Rollback.
    HostRollback,
    /// Cancel of another caller's job.
    CancelAny,
    /// Pull an image (Pull, and Run of an image that is not here yet).
    Pull,
    /// Stop a container atomicd made (its STOP label, or a stop).
    Stop,
    /// HostDeploy and HostRebase.
    HostDeploy,
    /// HostPin and HostCleanup.
    HostCleanup,
    /// SetUpdatePolicy.
    HostUpdatesConfig,
    /// Exec into, start, replace, stop or remove a container atomicd made for another caller.
    ManageAny,
    /// TrustAdd, TrustRemove, TrustDefault: change which images may reach the host.
    Trust,
    /// FleetLock and FleetUnlock: a slot of the fleet's reboot lock for a service.
    FleetLock,
}

impl Action {
    /// The action id in `polkit/org.atomic.policy`.
    pub fn id(self) -> &'static str {
        match self {
            Action::Run => "org.atomic.run",
            Action::RunPrivileged => "org.atomic.run-privileged",
            Action::Install => "org.atomic.install",
            Action::Uninstall => "org.atomic.uninstall",
            Action::HostUpgrade => "org.atomic.host-upgrade",
            Action::HostRollback => "org.atomic.host-rollback",
            Action::CancelAny => "org.atomic.cancel-any",
            Action::Pull => "org.atomic.pull",
            Action::Stop => "org.atomic.stop",
            Action::HostDeploy => "org.atomic.host-deploy",
            Action::HostCleanup => "org.atomic.host-cleanup",
            Action::HostUpdatesConfig => "org.atomic.host-updates-config",
            Action::ManageAny => "org.atomic.manage-any",
            Action::Trust => "org.atomic.trust",
            Action::FleetLock => "org.atomic.fleet-lock",
        }
    }

    /// Every action, for the policy file's test.
    pub const ALL: [Action; 15] = [
        Action::Run,
        Action::RunPrivileged,
        Action::Install,
        Action::Uninstall,
        Action::HostUpgrade,
        Action::HostRollback,
        Action::HostDeploy,
        Action::HostCleanup,
        Action::HostUpdatesConfig,
        Action::CancelAny,
        Action::Pull,
        Action::Stop,
        Action::ManageAny,
        Action::Trust,
        Action::FleetLock,
    ];
}

/// Decides whether a caller may perform an action.
#[async_trait]
pub trait Authority: Send + Sync {
    /// `Ok` when allowed; AccessDenied or InteractiveAuthorizationRequired otherwise.
    /// `details` (image, command) let an authentication dialog say what will run.
    async fn check(&self, caller: &Caller, action: Action, details: &[(&str, &str)]) -> Result<()>;
}

/// polkitd on the system bus.
#[derive(Debug)]
pub(crate) struct Polkit {
    conn: zbus::Connection,
    /// How long a check may wait for polkit (an authentication prompt) before it is cancelled.
    timeout: std::time::Duration,
    /// Numbers the checks, for CancelCheckAuthorization.
    checks: std::sync::atomic::AtomicU64,
}

impl Polkit {
    /// Uses the daemon's own bus connection, so the subject is resolved on the caller's bus.
    /// `timeout` bounds each check, the time a user has to answer a password prompt.
    pub(crate) fn new(conn: zbus::Connection, timeout: std::time::Duration) -> Self {
        Polkit { conn, timeout, checks: std::sync::atomic::AtomicU64::new(0) }
    }
}

#[async_trait]
impl Authority for Polkit {
    async fn check(&self, caller: &Caller, action: Action, details: &[(&str, &str)]) -> Result<()> {
        let name = OwnedValue::try_from(zbus::zvariant::Value::from(caller.bus_name.as_str()))
            .map_err(|e| Error::Failed(format!("polkit subject: {e}")))?;
        let subject = Subject {
            subject_kind: "system-bus-name".to_owned(),
            subject_details: HashMap::from([("name".to_owned(), name)]),
        };
        let details: HashMap<&str, &str> = details.iter().copied().collect();
        let flags = if caller.allow_interactive {
            CheckAuthorizationFlags::AllowUserInteraction.into()
        } else {
            Default::default()
        };
        let unreachable = |e: zbus::Error| {
            Error::AccessDenied(format!(
                "{} denied: polkit cannot be asked ({e}); no guarded call is allowed without it",
                action.id()
            ))
        };
        let authority = AuthorityProxy::new(&self.conn).await.map_err(unreachable)?;
        let n = self.checks.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let cancellation = format!("atomicd-{}-{n}", std::process::id());
        let asked = authority.check_authorization(&subject, action.id(), &details, flags, &cancellation);
        let result = match tokio::time::timeout(self.timeout, asked).await {
            Ok(answer) => answer.map_err(unreachable)?,
            Err(_) => {
                // polkit would keep the prompt (and its agent's dialog) open for ever otherwise.
                if let Err(e) = authority.cancel_check_authorization(&cancellation).await {
                    tracing::debug!("cancelling polkit check {cancellation}: {e}");
                }
                return Err(Error::AccessDenied(format!(
                    "{} denied: polkit gave no answer within {} s (an authentication prompt left open?)",
                    action.id(),
                    self.timeout.as_secs()
                )));
            }
        };
        if result.is_authorized {
            Ok(())
        } else if result.is_challenge && !caller.allow_interactive {
            Err(Error::InteractiveAuthorizationRequired(format!(
                "{} needs authentication; call again with interactive authorization allowed",
                action.id()
            )))
        } else {
            Err(Error::AccessDenied(format!("{} is not allowed for uid {}", action.id(), caller.uid)))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The code asks only for actions the policy file declares, and the file declares no other.
    #[test]
    fn every_action_is_declared_in_the_policy_file() {
        let policy = include_str!("../../polkit/org.atomic.policy");
        let declared: Vec<&str> =
            policy.split("<action id=\"").skip(1).filter_map(|rest| rest.split('"').next()).collect();
        let asked: Vec<&str> = Action::ALL.iter().map(|a| a.id()).collect();
        assert_eq!(declared, asked);
    }
}
