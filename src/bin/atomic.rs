//! The `atomic` command: a thin client of atomicd over the system bus.

use clap::Parser;

#[tokio::main(flavor = "current_thread")]
async fn main() -> std::process::ExitCode {
    atomicd::cli::main(atomicd::cli::args::Cli::parse()).await
}
