//! `atomic host fleet status|release`: the etcd reboot semaphore of the configured group, read
//! and changed directly, as airlock's and locksmith's admin commands do: a host that died
//! holding a slot keeps it until someone frees it here.

use std::time::Duration;

use super::args::FleetCommand;
use super::Failure;
use crate::updates::config::{self, Strategy};
use crate::updates::etcd::EtcdSemaphore;

/// Runs one `atomic host fleet` command.
pub(super) async fn dispatch(command: FleetCommand) -> Result<u8, Failure> {
    let (FleetCommand::Status { config } | FleetCommand::Release { config, .. }) = &command;
    let path = config.config.clone();
    let c = config::load(&path).map_err(|e| Failure::new(e.to_string(), 1))?;
    if c.strategy != Strategy::Etcd {
        return Err(Failure::new(
            format!("{}: the strategy is not etcd; a FleetLock server keeps its own slots", path.display()),
            1,
        ));
    }
    let semaphore =
        EtcdSemaphore::configured(&c, Duration::from_secs(10)).map_err(|e| Failure::new(e.to_string(), 1))?;
    let failed = |e: crate::updates::etcd::EtcdError| Failure::new(e.to_string(), 1);
    match command {
        FleetCommand::Status { .. } => {
            let (s, _) = semaphore.read().await.map_err(failed)?;
            println!("Group {}: {} of {} slots held", c.group, s.holders.len(), s.total_slots);
            for holder in s.holders {
                println!("  {holder}");
            }
            Ok(0)
        }
        FleetCommand::Release { id, .. } => {
            if semaphore.release(&id).await.map_err(failed)? {
                println!("Released {id}'s slot in group {}.", c.group);
                Ok(0)
            } else {
                Err(Failure::new(format!("{id} holds no slot in group {}", c.group), 1))
            }
        }
    }
}
