//! atomicd: the `org.atomic` system service that runs container images as their labels say,
//! runs super-privileged containers, and upgrades and rolls back image-based hosts, with polkit
//! deciding who may do what.
//!
//! Layers, read top down; nothing below imports upward: `dbus` (what the world can ask) →
//! `manager` (one plan per call, authorized, carried out as a job) → `label` (pure: how a label
//! becomes a plan's line) → the outside world behind traits: `engine`, `host`, `system`, and
//! `trust` (containers-policy.json's rules, pure, beside the one trait signatures come through).

pub mod cli;
pub mod daemon;
pub mod dbus;
mod engine;
mod error;
mod host;
mod label;
mod manager;
mod system;
mod text;
/// Public only for `examples/trust_bench`, which measures the verifier alone.
#[doc(hidden)]
pub mod trust;
pub mod updates;

/// The line protocol between atomicd and its `atomicd-ostree` helper.
#[doc(hidden)]
pub use host::{cleanup_victims, CachedUpdate, Cleanup, Deployment, HelperLine, UpdateDiff, UpgradeOutcome};

/// atomicd's version, reported by Status and the `Version` property.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");
