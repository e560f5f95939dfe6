//! atomicd: the `org.atomic` system service that runs container images as their labels say,
//! runs super-privileged containers, and upgrades and rolls back image-based hosts, with polkit
//! deciding who may do what.
//!
//! Layers, read top down. A module imports only modules of the lines below its own (the test
//! `tests/layers.rs` reads this list and holds the code to it), so the import graph has no
//! circle and no import runs back up:
//! - `cli`, `daemon`: the two processes, `atomic` (a bus client) and `atomicd`;
//! - `dbus`: the D-Bus surface, translating calls to the manager and its answers back;
//! - `manager`: one plan per call, authorized, carried out as a job; the automatic updates;
//! - `wire`: what crosses the bus, as types: names, options, results;
//! - `updates`: the configuration file, the fleet's reboot locks, maintenance windows;
//! - `trust`: containers-policy.json's rules, pure, beside the one trait signatures come through;
//! - `engine`, `host`: the container engine and the image-based host, each behind a trait;
//! - `label`, `system`: the label core (pure: how a label becomes a plan's line), and the
//!   system atomicd lives in (callers, polkit, logind, the state store, a job's control);
//! - `net`: HTTP out, bounded, over rustls;
//! - `text`, `error`: what every layer uses: display-safe text and the typed errors.

// `pub` says "used outside the crate" (the binaries, the tests); the rest says pub(crate).
#![warn(unreachable_pub)]

pub mod cli;
pub mod daemon;
pub mod dbus;
mod engine;
mod error;
mod host;
mod label;
mod manager;
pub mod net;
mod system;
mod text;
/// Public only for `examples/trust_bench`, which measures the verifier alone.
#[doc(hidden)]
pub mod trust;
pub mod updates;
pub mod wire;

/// The line protocol between atomicd and its `atomicd-ostree` helper.
#[doc(hidden)]
pub use host::{cleanup_victims, CachedUpdate, Cleanup, Deployment, HelperLine, UpdateDiff, UpgradeOutcome};

/// atomicd's version, reported by Status and the `Version` property.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");
