//! The system atomicd lives in, behind small traits where a fake stands in for tests: who is
//! calling, polkit (with a bound on checks left waiting), logind's reboot, the state store, logging,
//! the service's life cycle, and fstrim.

pub(crate) mod caller;
pub(crate) mod control;
pub(crate) mod lifecycle;
pub(crate) mod logging;
pub(crate) mod message_ids;
pub(crate) mod pending;
pub(crate) mod polkit;
pub(crate) mod power;
pub(crate) mod state;
pub(crate) mod trim;
