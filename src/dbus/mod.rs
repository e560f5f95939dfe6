//! The D-Bus surface and nothing else: the names (once), the `org.atomic.Manager` interface,
//! the checked options and the typed results, and the proxies that the CLI and the tests share.
//! Every method only translates to and from the manager.

mod checked;
mod interface;
pub mod names;
pub mod options;
pub mod proxy;
pub mod results;

pub use checked::{Checked, OptionsSchema};
pub use interface::ManagerInterface;
