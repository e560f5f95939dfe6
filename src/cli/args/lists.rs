//! The arguments of `atomic images` and `atomic containers`: listing, and the removals.

use clap::{Args, Subcommand};

/// `atomic images [list | delete | prune]`
#[derive(Debug, Args)]
#[command(args_conflicts_with_subcommands = true)]
pub struct ImagesArgs {
    /// What to do; listing when none is named.
    #[command(subcommand)]
    pub action: Option<ImagesCommand>,
    /// The listing's options.
    #[command(flatten)]
    pub list: ListArgs,
}

/// What `atomic images` does besides listing.
#[derive(Debug, Subcommand)]
pub enum ImagesCommand {
    /// List the local images (what `atomic images` alone does).
    List(ListArgs),
    /// Remove images by name or id: not while a container uses one.
    #[command(alias = "rm")]
    Delete(DeleteImagesArgs),
    /// Remove the dangling images (no name) no container and no installed application uses.
    Prune(DisplayArg),
}

/// `atomic images delete`
#[derive(Debug, Args)]
pub struct DeleteImagesArgs {
    /// Remove an image though an installed application uses it (its record stays).
    #[arg(long, short = 'f')]
    pub force: bool,
    /// Say what would be removed; remove nothing.
    #[arg(long)]
    pub display: bool,
    /// The images.
    #[arg(required = true)]
    pub images: Vec<String>,
}

/// `atomic containers [list | delete]`
#[derive(Debug, Args)]
#[command(args_conflicts_with_subcommands = true)]
pub struct ContainersArgs {
    /// What to do; listing when none is named.
    #[command(subcommand)]
    pub action: Option<ContainersCommand>,
    /// The listing's options.
    #[command(flatten)]
    pub list: ListArgs,
}

/// What `atomic containers` does besides listing.
#[derive(Debug, Subcommand)]
pub enum ContainersCommand {
    /// List the containers atomicd made (what `atomic containers` alone does).
    List(ListArgs),
    /// Remove containers atomicd made, by name.
    #[command(alias = "rm")]
    Delete(DeleteContainersArgs),
    /// Discard unused blocks (fstrim) of the filesystems under atomicd's running containers.
    Trim(DisplayArg),
}

/// `atomic containers delete`
#[derive(Debug, Args)]
pub struct DeleteContainersArgs {
    /// Remove running ones too (the engine kills them first).
    #[arg(long, short = 'f')]
    pub force: bool,
    /// Every stopped container atomicd made for you (with --force, running ones too).
    #[arg(long, conflicts_with = "names")]
    pub all: bool,
    /// Say what would be removed; remove nothing.
    #[arg(long)]
    pub display: bool,
    /// The containers.
    #[arg(required_unless_present = "all")]
    pub names: Vec<String>,
}

/// A `--display` alone.
#[derive(Debug, Args)]
pub struct DisplayArg {
    /// Say what would be removed; remove nothing.
    #[arg(long)]
    pub display: bool,
}

/// `atomic images` and `atomic containers`
#[derive(Debug, Args)]
pub struct ListArgs {
    /// Images: intermediate ones too. Containers: also those atomicd did not make.
    #[arg(long, short = 'a')]
    pub all: bool,
    /// Print JSON.
    #[arg(long)]
    pub json: bool,
}
