//! Tracing to journald when it is there, else to stderr.

use std::io::IsTerminal;

use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::EnvFilter;

/// Where log records go (`--log-target`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum LogTarget {
    /// journald when its socket exists, else stderr.
    Auto,
    /// journald only.
    Journald,
    /// stderr only.
    Stderr,
}

const JOURNALD_SOCKET: &str = "/run/systemd/journal/socket";

/// Installs the global subscriber; `RUST_LOG` filters, `info` by default. Returns where logs go.
pub(crate) fn init(target: LogTarget) -> Result<&'static str, String> {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let use_journald = match target {
        LogTarget::Stderr => false,
        LogTarget::Journald => true,
        LogTarget::Auto => std::path::Path::new(JOURNALD_SOCKET).exists(),
    };
    if use_journald {
        match tracing_journald::layer() {
            // Fields as systemd services name theirs (JOB=, OPERATION=), so `journalctl
            // OPERATION=Install` works; tracing-journald would write F_JOB= by default.
            Ok(layer) => {
                let layer = layer.with_field_prefix(None);
                tracing_subscriber::registry().with(filter).with(layer).init();
                return Ok("journald");
            }
            Err(e) if target == LogTarget::Journald => return Err(format!("journald: {e}")),
            Err(_) => {}
        }
    }
    tracing_subscriber::registry()
        .with(filter)
        .with(
            tracing_subscriber::fmt::layer()
                .with_writer(std::io::stderr)
                .with_target(false)
                // Colour codes only for a person at a terminal, not in a log file or pipe.
                .with_ansi(std::io::stderr().is_terminal()),
        )
        .init();
    Ok("stderr")
}
