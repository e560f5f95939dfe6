//! The D-Bus surface and nothing else: the `org.atomic.Manager` and `org.atomic.Job` objects,
//! the size and schema checks every call passes, the options → request conversion, and the
//! proxies that the CLI and the tests share. Every method only translates to and from the
//! manager; the types on the wire are `crate::wire`'s.

mod checked;
mod interface;
mod job;
pub mod proxy;
mod requests;
mod schema;

pub use checked::{Checked, OptionsSchema};
pub use interface::ManagerInterface;
pub use job::BusJobs;
