//! Automatic host updates for a fleet: the policy's configuration, the app-specific machine ID
//! a host gives its fleet, and the two reboot semaphores it may wait on, a FleetLock server or
//! etcd directly; and the update policies of applications installed as services.

pub mod apps;
pub mod config;
pub mod etcd;
pub mod fleetlock;
mod gateway;
pub mod lock;
pub mod machine_id;
pub mod semaphore;
pub mod window;
