//! The arguments of `atomic apps`: the applications installed as services.

use clap::{Args, Subcommand};

/// `atomic apps [list | run | stop | rollback | policy]`
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
    /// Run the image before the last update again (`atomic update IMAGE` updates).
    Rollback(AppName),
    /// Set an application's update policy (`[apps.NAME]` of /etc/atomic/atomicd.toml).
    Policy(PolicyArgs),
}

/// `atomic apps policy`
#[derive(Debug, Args)]
pub struct PolicyArgs {
    /// The application.
    pub name: String,
    /// What a round does with a new image.
    #[arg(long, value_name = "none|check|apply")]
    pub auto_update: Option<String>,
    /// How often a round looks ("1h").
    #[arg(long, value_name = "DURATION")]
    pub interval: Option<String>,
    /// An image without HEALTHCHECK is healthy once it ran this long ("10s").
    #[arg(long, value_name = "DURATION")]
    pub healthy_after: Option<String>,
    /// One with a HEALTHCHECK must say healthy within this ("60s").
    #[arg(long, value_name = "DURATION")]
    pub health_timeout: Option<String>,
    /// Apply only inside [updates.periodic]'s maintenance windows.
    #[arg(long, value_name = "BOOL")]
    pub windows: Option<bool>,
    /// Take the fleet's lock around the restart.
    #[arg(long, value_name = "BOOL")]
    pub fleet_lock: Option<bool>,
    /// The lock's group (default atomic-app-NAME).
    #[arg(long)]
    pub group: Option<String>,
}

/// An application, by name.
#[derive(Debug, Args)]
pub struct AppName {
    /// The application's name (its unit is atomic-app-NAME.service).
    pub name: String,
}
