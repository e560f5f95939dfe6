//! The reboot slot a strategy waits for, behind one small trait: a FleetLock server or the
//! semaphore in etcd. Taking is idempotent (a holder asking again keeps its slot), and so is
//! giving back (steady state when nothing was held is fine).

use async_trait::async_trait;

use super::etcd::EtcdSemaphore;
use super::fleetlock::{FleetLock, FleetLockError};
use super::semaphore::Take;

/// A reboot slot.
#[async_trait]
pub trait RebootLock: Send + Sync {
    /// "fleet-lock" or "etcd".
    fn backend(&self) -> &'static str;
    /// Takes the slot: true once this host holds it, false while every slot is held.
    async fn take(&self) -> Result<bool, String>;
    /// Gives it back (steady state).
    async fn give_back(&self) -> Result<(), String>;
}

/// A FleetLock server's slot.
pub struct FleetLockSlot(pub FleetLock);

#[async_trait]
impl RebootLock for FleetLockSlot {
    fn backend(&self) -> &'static str {
        "fleet-lock"
    }

    async fn take(&self) -> Result<bool, String> {
        match self.0.pre_reboot().await {
            Ok(()) => Ok(true),
            // A refusal of the protocol is "not now"; the next check asks again.
            Err(FleetLockError::Refused { .. }) => Ok(false),
            Err(e) => Err(e.to_string()),
        }
    }

    async fn give_back(&self) -> Result<(), String> {
        self.0.steady_state().await.map_err(|e| e.to_string())
    }
}

/// A slot of the semaphore in etcd, for one host ID.
pub struct EtcdSlot {
    /// The semaphore.
    pub semaphore: EtcdSemaphore,
    /// This host's ID.
    pub id: String,
}

#[async_trait]
impl RebootLock for EtcdSlot {
    fn backend(&self) -> &'static str {
        "etcd"
    }

    async fn take(&self) -> Result<bool, String> {
        match self.semaphore.take(&self.id).await {
            Ok(Take::Taken | Take::AlreadyHeld) => Ok(true),
            Ok(Take::Full) => Ok(false),
            Err(e) => Err(e.to_string()),
        }
    }

    async fn give_back(&self) -> Result<(), String> {
        self.semaphore.release(&self.id).await.map(|_| ()).map_err(|e| e.to_string())
    }
}
