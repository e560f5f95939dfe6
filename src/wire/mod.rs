//! What crosses the bus, as types: the names (once), every method's `a{sv}` options with the
//! checks each dictionary passes, and the typed results. The service, the proxies, the CLI and
//! the tests share them. It sits below the manager, which builds the results, and imports
//! nothing above itself.

pub mod names;
pub mod options;
pub mod results;
