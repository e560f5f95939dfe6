//! `atomic host fleet status|release`: the etcd reboot semaphore of the configured group, read
//! and changed directly, as airlock's and locksmith's admin commands do: a host that died
//! holding a slot keeps it until someone frees it here. And `atomic host fleet lock|unlock
//! --app ID`: a slot for a service of this host, which atomicd takes and gives back.

use std::time::Duration;

use super::args::{FleetCommand, LocalFleetCommand};
use super::Failure;
use crate::dbus::proxy::ManagerProxy;
use crate::updates::config::{self, Strategy};
use crate::updates::etcd::EtcdSemaphore;

/// Runs `atomic host fleet status` or `release`, which need no atomicd.
pub(super) async fn dispatch(command: LocalFleetCommand) -> Result<u8, Failure> {
    let (LocalFleetCommand::Status { config } | LocalFleetCommand::Release { config, .. }) = &command;
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
    if let LocalFleetCommand::Release { id, .. } = command {
        return if semaphore.release(&id).await.map_err(failed)? {
            println!("Released {id}'s slot in group {}.", c.group);
            Ok(0)
        } else {
            Err(Failure::new(format!("{id} holds no slot in group {}", c.group), 1))
        };
    }
    let (s, _) = semaphore.read().await.map_err(failed)?;
    println!("Group {}: {} of {} slots held", c.group, s.holders.len(), s.total_slots);
    for holder in s.holders {
        println!("  {holder}");
    }
    Ok(0)
}

/// `lock` and `unlock`, through atomicd: 0 when done, 75 (EX_TEMPFAIL) while every slot is held.
pub(super) async fn through_atomicd(proxy: &ManagerProxy<'_>, command: FleetCommand) -> Result<u8, Failure> {
    match command {
        FleetCommand::Lock { app } => {
            if proxy.fleet_lock(&app).await? {
                println!("{app} holds a slot of the fleet's lock.");
                Ok(0)
            } else {
                eprintln!(
                    "atomic: every slot of the fleet's lock is held; {app} holds none (try again later)"
                );
                Ok(75)
            }
        }
        FleetCommand::Unlock { app } => {
            proxy.fleet_unlock(&app).await?;
            println!("{app} holds no slot of the fleet's lock.");
            Ok(0)
        }
        FleetCommand::Local(local) => dispatch(local).await,
    }
}
