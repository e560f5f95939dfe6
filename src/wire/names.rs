//! The bus name and object paths of atomicd, defined once for the service, the CLI and tests.

/// The well-known bus name.
pub const BUS_NAME: &str = "org.atomic";
/// The object path of the manager (and of its ObjectManager).
pub const MANAGER_PATH: &str = "/org/atomic/Manager";
/// Where jobs live: `JOBS_PATH/N`.
pub const JOBS_PATH: &str = "/org/atomic/Manager/jobs";
