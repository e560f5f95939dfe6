//! atomicd: the `org.atomic` system service that runs container images as their labels say,
//! runs super-privileged containers, and upgrades and rolls back image-based hosts, with polkit
//! deciding who may do what.

pub mod api;
pub mod bridge;
pub mod caller;
pub mod cli;
pub mod client;
pub mod daemon;
pub mod engine;
pub mod error;
pub mod host;
pub mod jobs;
pub mod label;
pub mod lifecycle;
pub mod logging;
pub mod manager;
pub mod options;
pub mod polkit;
pub mod power;
pub mod reference;
pub mod runspec;
pub mod service;
pub mod state;
pub mod substitute;
pub mod text;

/// atomicd's version, reported by Status and the `Version` property.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");
