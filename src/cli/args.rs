//! The `atomic` command line.

use clap::{Args, Parser, Subcommand};

mod apps;
mod lists;
pub use apps::*;
pub use lists::*;

/// atomic: run container images as their labels say, and manage the image-based host, through atomicd.
#[derive(Debug, Parser)]
// `atomic help IMAGE` is the image's help, as in the original tool; `atomic --help` and
// `atomic SUBCOMMAND --help` are the CLI's own.
#[command(name = "atomic", version = crate::VERSION, disable_help_subcommand = true)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run an image as its RUN label says (or by default, or as a super-privileged container).
    Run(RunArgs),
    /// Pull an image, run its INSTALL label and record the installation.
    Install(InstallArgs),
    /// Run an image's UNINSTALL label and remove its containers and the image.
    Uninstall(UninstallArgs),
    /// The image-based host.
    #[command(subcommand)]
    Host(HostCommand),
    /// atomicd's version, the engine, the host and installed images.
    Status(JsonArg),
    /// Pull an image (exactly the tag named; latest when none).
    Pull(PullArgs),
    /// What an image is and what each of its labels would do.
    Info(InfoArgs),
    /// An image's help: its HELP label run, or its /help.1 man page.
    Help(HelpArgs),
    /// The local images and the labels atomic acts on; `delete` and `prune` remove them.
    Images(ImagesArgs),
    /// The containers atomicd made; `delete` removes them.
    #[command(alias = "ps")]
    Containers(ContainersArgs),
    /// Stop a container atomicd made: its image's STOP label, else a stop.
    Stop(StopArgs),
    /// The applications installed as services (`atomic install --service`).
    Apps(AppsArgs),
    /// Pull an image anew and say what still runs the old one.
    Update(UpdateArgs),
    /// The signature policy: which images may reach the host.
    #[command(subcommand)]
    Trust(TrustCommand),
    /// What the signature policy says of an image (exit 1 when it does not trust it).
    Verify(PullArgs),
    /// Write the shell completions and the man page into DIR (used by `make build`).
    #[command(hide = true)]
    GenerateFiles {
        /// Where to write them.
        dir: std::path::PathBuf,
    },
}

/// `atomic trust`
#[derive(Debug, Subcommand)]
pub enum TrustCommand {
    /// The policy, scope by scope.
    Show(JsonArg),
    /// Make a registry or repository need a signature (or accept or reject it).
    Add {
        /// The registry, namespace or repository (quay.io, quay.io/team/app).
        scope: String,
        /// The requirement.
        #[arg(long = "type", value_name = "signedBy|sigstoreSigned|insecureAcceptAnything|reject")]
        kind: String,
        /// Public key files (GPG keyrings for signedBy, PEM for sigstoreSigned).
        #[arg(long, value_name = "FILE")]
        pubkeys: Vec<std::path::PathBuf>,
        /// Where the scope's GPG signatures are (registries.d's lookaside: file:///, http://, https://).
        #[arg(long, alias = "lookaside", value_name = "URL")]
        sigstore: Option<String>,
    },
    /// Remove a scope from the policy.
    #[command(alias = "remove")]
    Delete {
        /// The scope.
        scope: String,
    },
    /// What images of no scope get.
    Default {
        /// accept or reject
        #[arg(value_parser = ["accept", "reject"])]
        default: String,
    },
}

/// `atomic update`
#[derive(Debug, Args)]
pub struct UpdateArgs {
    /// Remove atomicd's containers of the old image.
    #[arg(long, short = 'f')]
    pub force: bool,
    /// Run the old UNINSTALL and the new INSTALL label, and move the installation record.
    #[arg(long)]
    pub reinstall: bool,
    /// The image.
    pub image: String,
}

/// `atomic stop`
#[derive(Debug, Args)]
pub struct StopArgs {
    /// Seconds between SIGTERM and SIGKILL when the image has no STOP label.
    #[arg(long, short = 't', default_value_t = 10)]
    pub timeout: u32,
    /// Print the resolved command line; stop nothing.
    #[arg(long)]
    pub display: bool,
    /// Values for $OPT1..$OPT3 in the STOP label.
    #[command(flatten)]
    pub opts: OptArgs,
    /// The container.
    pub name: String,
}

/// `atomic pull`
#[derive(Debug, Args)]
pub struct PullArgs {
    /// The image.
    pub image: String,
}

/// `atomic info`
#[derive(Debug, Args)]
pub struct InfoArgs {
    /// Container name the labels are resolved with (default: the image's name).
    #[arg(long, short = 'n')]
    pub name: Option<String>,
    /// Values for $OPT1..$OPT3 in the labels.
    #[command(flatten)]
    pub opts: OptArgs,
    /// Print JSON.
    #[arg(long)]
    pub json: bool,
    /// The image.
    pub image: String,
}

/// `atomic help`
#[derive(Debug, Args)]
pub struct HelpArgs {
    /// Container name the HELP label is resolved with (default: the image's name).
    #[arg(long, short = 'n')]
    pub name: Option<String>,
    /// Values for $OPT1..$OPT3 in the label.
    #[command(flatten)]
    pub opts: OptArgs,
    /// The image.
    pub image: String,
}

/// `atomic run`
#[derive(Debug, Args)]
pub struct RunArgs {
    /// Run as a super-privileged container: the host's namespaces, / at /host, privileged.
    #[arg(long)]
    pub spc: bool,
    /// Container name (default: the image's name).
    #[arg(long, short = 'n')]
    pub name: Option<String>,
    /// Print the resolved command line; run nothing.
    #[arg(long)]
    pub display: bool,
    /// Return at once, leaving the container running.
    #[arg(long, short = 'd')]
    pub detach: bool,
    /// Do not print what the container may do to the host.
    #[arg(long, short = 'q')]
    pub quiet: bool,
    /// Remove an existing container of the same name first.
    #[arg(long)]
    pub replace: bool,
    /// Values for $OPT1..$OPT3 in the label.
    #[command(flatten)]
    pub opts: OptArgs,
    /// The image.
    pub image: String,
    /// Command and arguments (appended to the RUN label, or replacing the image's command).
    #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
    pub command: Vec<String>,
}

/// `atomic install`
#[derive(Debug, Args)]
pub struct InstallArgs {
    /// Container name (default: the image's name).
    #[arg(long, short = 'n')]
    pub name: Option<String>,
    /// Print the resolved command line; run nothing.
    #[arg(long)]
    pub display: bool,
    /// Do not pull the image when it is not local.
    #[arg(long)]
    pub no_pull: bool,
    /// Also run the RUN line as a service, from the enabled unit atomic-app-NAME.service
    /// (the default when the image has the label org.atomic.service=true).
    #[arg(long, conflicts_with = "no_service")]
    pub service: bool,
    /// Do not install a service, though the image asks for one.
    #[arg(long)]
    pub no_service: bool,
    /// Do not print what the INSTALL container may do to the host.
    #[arg(long, short = 'q')]
    pub quiet: bool,
    /// Values for $OPT1..$OPT3 in the label.
    #[command(flatten)]
    pub opts: OptArgs,
    /// The image.
    pub image: String,
    /// Arguments appended after the INSTALL label's image, each one word as given.
    #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
    pub args: Vec<String>,
}

/// `atomic uninstall`
#[derive(Debug, Args)]
pub struct UninstallArgs {
    /// Container name (default: the image's name).
    #[arg(long, short = 'n')]
    pub name: Option<String>,
    /// Remove running containers too.
    #[arg(long, short = 'f')]
    pub force: bool,
    /// Print the resolved command line; run nothing.
    #[arg(long)]
    pub display: bool,
    /// Keep the image.
    #[arg(long)]
    pub keep_image: bool,
    /// Do not print what the UNINSTALL container may do to the host.
    #[arg(long, short = 'q')]
    pub quiet: bool,
    /// Values for $OPT1..$OPT3 in the label.
    #[command(flatten)]
    pub opts: OptArgs,
    /// The image.
    pub image: String,
    /// Arguments appended after the UNINSTALL label's image, each one word as given.
    #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
    pub args: Vec<String>,
}

/// `atomic host ...`
#[derive(Debug, Subcommand)]
pub enum HostCommand {
    /// The deployments of the host, and the update a check found.
    Status(JsonArg),
    /// Upgrade the host image (or with --check, look for an update and keep what is found).
    Upgrade {
        /// Only say whether an update is available.
        #[arg(long)]
        check: bool,
        /// Reboot into the new deployment when done.
        #[arg(long, short = 'r')]
        reboot: bool,
        /// `--json`
        #[command(flatten)]
        json: JsonArg,
    },
    /// Make the previous deployment the default.
    Rollback {
        /// Reboot into it when done.
        #[arg(long, short = 'r')]
        reboot: bool,
        /// `--json`
        #[command(flatten)]
        json: JsonArg,
    },
    /// Deploy a version or checksum of the current origin.
    Deploy {
        /// The version (e.g. 2.0) or commit checksum.
        revision: String,
        /// Reboot into it when done.
        #[arg(long, short = 'r')]
        reboot: bool,
        /// `--json`
        #[command(flatten)]
        json: JsonArg,
    },
    /// Switch to another origin: an ostree refspec, or an image (rpm-ostree, bootc).
    Rebase {
        /// The refspec (remote:branch) or image.
        origin: String,
        /// A version or checksum of the new origin (bootc: sha256:DIGEST) instead of its latest.
        #[arg(long)]
        revision: Option<String>,
        /// Reboot into it when done.
        #[arg(long, short = 'r')]
        reboot: bool,
        /// `--json`
        #[command(flatten)]
        json: JsonArg,
    },
    /// The automatic updates: policy, strategy, the last and next check, the window and the
    /// reboot slot; with a setting, change them (a drop-in atomicd writes).
    Updates {
        /// none, check, stage or apply.
        #[arg(long)]
        policy: Option<String>,
        /// immediate, periodic, fleet-lock or etcd.
        #[arg(long)]
        strategy: Option<String>,
        /// How often to check, e.g. 1h.
        #[arg(long)]
        interval: Option<String>,
        /// The reboot group (fleet-lock, etcd).
        #[arg(long)]
        group: Option<String>,
        /// The FleetLock server's URL.
        #[arg(long)]
        base_url: Option<String>,
        /// etcd's client URLs (repeat or separate with commas).
        #[arg(long, value_delimiter = ',')]
        endpoints: Vec<String>,
        /// The etcd semaphore's slots.
        #[arg(long)]
        slots: Option<u32>,
        /// `--json`
        #[command(flatten)]
        json: JsonArg,
    },
    /// The fleet's reboot lock: status and release read and change etcd directly (an admin's
    /// tool: no atomicd, only the configuration and etcd); lock and unlock a service's slot go
    /// through atomicd.
    #[command(subcommand)]
    Fleet(FleetCommand),
    /// Pin a deployment (its Id in `atomic host status`): cleanups and upgrades keep it.
    Pin {
        /// The deployment's id.
        id: String,
    },
    /// Unpin a deployment.
    Unpin {
        /// The deployment's id.
        id: String,
    },
    /// Remove the rollback (default) and/or the pending deployment; never the booted or a pinned one.
    Cleanup {
        /// Remove the rollback deployment (the default when neither is given).
        #[arg(long, short = 'r')]
        rollback: bool,
        /// Remove the pending deployment.
        #[arg(long, short = 'p')]
        pending: bool,
        /// `--json`
        #[command(flatten)]
        json: JsonArg,
    },
}

/// `--opt1`..`--opt3`
#[derive(Debug, Args, Default)]
pub struct OptArgs {
    /// Value for $OPT1 in the label.
    #[arg(long)]
    pub opt1: Option<String>,
    /// Value for $OPT2 in the label.
    #[arg(long)]
    pub opt2: Option<String>,
    /// Value for $OPT3 in the label.
    #[arg(long)]
    pub opt3: Option<String>,
    /// Let the label's --env-file PATH (or its RUN_OPTS_FILE) be read and sent, though it is
    /// outside the working directory (repeatable).
    #[arg(long, value_name = "PATH")]
    pub allow_env_file: Vec<std::path::PathBuf>,
}

/// `--json`
#[derive(Debug, Args)]
pub struct JsonArg {
    /// Print JSON instead of a table.
    #[arg(long)]
    pub json: bool,
}

/// `atomic host fleet`
#[derive(Debug, Subcommand)]
pub enum FleetCommand {
    /// `status` and `release`, which read and change etcd themselves.
    #[command(flatten)]
    Local(LocalFleetCommand),
    /// Takes a slot of the fleet's lock for a service of this host, through atomicd
    /// (FleetLock); exits 0 when held, 75 while every slot is held.
    Lock {
        /// The service's app ID: its systemd app ID, or a name (letters, digits, `._-`).
        #[arg(long = "app", value_name = "ID")]
        app: String,
    },
    /// Gives that slot back, through atomicd (FleetUnlock).
    Unlock {
        /// The service's app ID, as given to `lock`.
        #[arg(long = "app", value_name = "ID")]
        app: String,
    },
}

/// The `atomic host fleet` commands that need no atomicd.
#[derive(Debug, Subcommand)]
pub enum LocalFleetCommand {
    /// The group's slots and who holds them.
    Status {
        /// `--config`
        #[command(flatten)]
        config: ConfigArg,
    },
    /// Frees the slot of a host that will not give it back (it died holding it).
    Release {
        /// The host's fleet ID, as `atomic host fleet status` lists it.
        id: String,
        /// `--config`
        #[command(flatten)]
        config: ConfigArg,
    },
}

/// `--config`: atomicd's configuration, read by the admin commands that need no atomicd.
#[derive(Debug, Args)]
pub struct ConfigArg {
    /// The configuration naming the etcd endpoints and group.
    #[arg(long, default_value = crate::updates::config::DEFAULT_PATH)]
    pub config: std::path::PathBuf,
}
