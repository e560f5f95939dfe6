//! The arguments of `atomic apps`: the applications installed as services.

use clap::{Args, Subcommand};

/// `atomic apps [list | run | stop]`
#[derive(Debug, Args)]
#[command(args_conflicts_with_subcommands = true)]
pub struct AppsArgs {
    /// What to do; listing when none is named.
    #[command(subcommand)]
    pub action: Option<AppsCommand>,
    /// Print JSON instead of a table.
    #[arg(long)]
    pub json: bool,
}

/// What `atomic apps` does besides listing.
#[derive(Debug, Subcommand)]
pub enum AppsCommand {
    /// List the applications installed as services (what `atomic apps` alone does).
    List(super::JsonArg),
    /// Run an application from atomicd's record and follow it to its end: what its unit's
    /// ExecStart runs (start it with `systemctl start atomic-app-NAME`).
    Run(AppName),
    /// Stop an application's container: what its unit's ExecStop runs.
    Stop(AppName),
}

/// An application, by name.
#[derive(Debug, Args)]
pub struct AppName {
    /// The application's name (its unit is atomic-app-NAME.service).
    pub name: String,
}
