//! The system atomicd lives in, behind small traits where a fake stands in for tests: who is
//! calling, polkit (with a bound on checks left waiting), logind's reboot, the state store, logging, and the service's life cycle.

pub mod caller;
pub mod control;
pub mod lifecycle;
pub mod logging;
pub mod message_ids;
pub mod pending;
pub mod polkit;
pub mod power;
pub mod state;
