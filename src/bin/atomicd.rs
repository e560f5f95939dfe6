//! The atomicd system service.

use clap::Parser;

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let args = atomicd::daemon::Args::parse();
    match atomicd::daemon::run(args).await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("atomicd: {e}");
            tracing::error!("{e}");
            std::process::ExitCode::FAILURE
        }
    }
}
