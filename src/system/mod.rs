//! The system atomicd lives in, behind small traits where a fake stands in for tests: who is
//! calling, polkit (with a bound on checks left waiting), logind's reboot, the state store, logging,
//! the service's life cycle, fstrim, and systemd for the applications' units.

pub(crate) mod caller;
pub(crate) mod control;
pub(crate) mod lifecycle;
pub(crate) mod logging;
pub(crate) mod message_ids;
pub(crate) mod pending;
pub(crate) mod polkit;
pub(crate) mod power;
pub(crate) mod state;
pub(crate) mod systemd;
pub(crate) mod trim;
