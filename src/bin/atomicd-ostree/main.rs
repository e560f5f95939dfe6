//! atomicd's ostree helper: the libostree half of the ostree host backend, in a process of its
//! own so the daemon does not keep libostree's libraries resident (src/host/ostree.rs says why).
//! atomicd runs it once per operation. It answers in JSON lines on stdout (progress lines while
//! it works, then one answer), puts errors on stderr with exit status 1, and stops on SIGINT or
//! SIGTERM through libostree's own cancellation (exit status 130).
//!
//!     atomicd-ostree --sysroot PATH status | upgrade [--check] | rollback | deploy REVISION
//!                    | rebase REFSPEC [--revision REV] | pin ID [--unpin] | cleanup [--rollback] [--pending]

mod sysroot;

use std::path::PathBuf;
use std::process::ExitCode;

use atomicd::HelperLine;
use clap::{Parser, Subcommand};
use nix::sys::signal::{SigSet, Signal};
use ostree::gio;
use ostree::gio::prelude::CancellableExt;
use ostree::glib;

#[derive(Parser)]
#[command(version, about = "libostree operations for atomicd (not meant to be run by hand)")]
struct Args {
    /// The sysroot (`/` on a booted host).
    #[arg(long, default_value = "/")]
    sysroot: PathBuf,
    #[command(subcommand)]
    op: Op,
}

#[derive(Subcommand)]
enum Op {
    /// The deployments, default first.
    Status,
    /// Pull the default deployment's origin and deploy it; with --check only look.
    Upgrade {
        #[arg(long)]
        check: bool,
    },
    /// Make the previous deployment the default.
    Rollback,
    /// Deploy a version or checksum of the default deployment's origin.
    Deploy { revision: String },
    /// Switch to another refspec.
    Rebase {
        refspec: String,
        #[arg(long)]
        revision: Option<String>,
    },
    /// Pin (or with --unpin, unpin) a deployment.
    Pin {
        id: String,
        #[arg(long)]
        unpin: bool,
    },
    /// Remove the rollback and/or the pending deployment.
    Cleanup {
        #[arg(long)]
        rollback: bool,
        #[arg(long)]
        pending: bool,
    },
}

/// Reports as JSON lines on stdout.
#[derive(Clone, Copy)]
struct Lines;

impl sysroot::Report for Lines {
    fn progress(&self, progress: f64, message: String) {
        emit(&HelperLine::Progress(progress, message));
    }

    fn committing(&self, message: String) {
        emit(&HelperLine::Committing(message));
    }
}

/// Runs `op` with a main context of this thread's own, for libostree's pull loop and its
/// progress signal.
fn in_context<T>(op: impl FnOnce() -> sysroot::Result<T>) -> sysroot::Result<T> {
    glib::MainContext::new()
        .with_thread_default(op)
        .unwrap_or_else(|e| Err(sysroot::Failure { message: e.to_string(), cancelled: false }))
}

fn emit(line: &HelperLine) {
    match serde_json::to_string(line) {
        Ok(json) => println!("{json}"),
        Err(e) => eprintln!("cannot encode {line:?}: {e}"),
    }
}

fn main() -> ExitCode {
    let args = Args::parse();
    // SIGINT and SIGTERM are taken by a thread of ours (sigwait), blocked before any other
    // thread exists, so a Cancel reaches libostree as its GCancellable wherever it is.
    let signals: SigSet = [Signal::SIGINT, Signal::SIGTERM].into_iter().collect();
    if let Err(e) = signals.thread_block() {
        eprintln!("cannot block signals: {e}");
        return ExitCode::FAILURE;
    }
    let cancellable = gio::Cancellable::new();
    {
        let cancellable = cancellable.clone();
        std::thread::spawn(move || {
            if signals.wait().is_ok() {
                cancellable.cancel();
            }
        });
    }
    let path = args.sysroot;
    let answer = match args.op {
        Op::Status => sysroot::status(&path).map(HelperLine::Deployments),
        Op::Upgrade { check } => {
            in_context(|| sysroot::upgrade(&path, check, Lines, &cancellable)).map(HelperLine::Upgraded)
        }
        Op::Rollback => sysroot::rollback(&path).map(HelperLine::Deployed),
        Op::Deploy { revision } => {
            in_context(|| sysroot::deploy(&path, &revision, Lines, &cancellable)).map(HelperLine::Deployed)
        }
        Op::Rebase { refspec, revision } => {
            in_context(|| sysroot::rebase(&path, &refspec, revision.as_deref(), Lines, &cancellable))
                .map(HelperLine::Deployed)
        }
        Op::Pin { id, unpin } => sysroot::pin(&path, &id, !unpin).map(|()| HelperLine::Done),
        Op::Cleanup { rollback, pending } => {
            sysroot::cleanup(&path, atomicd::Cleanup { rollback, pending }).map(HelperLine::Removed)
        }
    };
    match answer {
        Ok(line) => {
            emit(&line);
            ExitCode::SUCCESS
        }
        Err(f) => {
            eprintln!("{}", f.message);
            ExitCode::from(if f.cancelled { 130 } else { 1 })
        }
    }
}
