//! The `atomic` CLI: a thin D-Bus client of atomicd with no engine access of its own.

mod apps;
pub mod args;
mod env_files;
mod fleet;
pub mod generated;
mod help;
mod host;
pub mod job;
mod remove;
pub mod render;
mod run;
mod tables;
pub mod terminal;
mod trust;

use std::collections::HashMap;
use std::process::ExitCode;

use std::os::fd::AsFd;

use zbus::zvariant::OwnedFd;

use crate::dbus::proxy::{
    dict_to_json, InfoOptions, InstallOptions, ListOptions, ManagerProxy, PullOptions, RunOptions, RunResult,
    StopOptions, UninstallOptions, UpdateOptions,
};
use args::{Cli, Command};
use run::run;

/// Exit status when polkit refused (as a shell does for "cannot execute").
pub const EXIT_DENIED: u8 = 126;
/// Exit status after Ctrl-C cancelled the job (as a shell reports death by SIGINT).
pub const EXIT_INTERRUPTED: u8 = 130;

/// A failed call, already in the words the user should read.
#[derive(Debug)]
pub struct Failure {
    /// The sentence for stderr.
    pub message: String,
    /// The process exit status.
    pub code: u8,
    /// The env files the line reads, when atomicd asked for them.
    needs: Option<Vec<String>>,
    /// The RUN_OPTS_FILE whose words the RUN label takes, when atomicd asked for them.
    run_opts_file: Option<String>,
}

impl Failure {
    fn new(message: String, code: u8) -> Self {
        Failure { message, code, needs: None, run_opts_file: None }
    }
}

impl From<zbus::Error> for Failure {
    fn from(e: zbus::Error) -> Self {
        match &e {
            zbus::Error::MethodError(name, detail, _) => {
                let denied = matches!(
                    name.as_str(),
                    "org.freedesktop.DBus.Error.AccessDenied"
                        | "org.freedesktop.DBus.Error.InteractiveAuthorizationRequired"
                );
                let message = detail.clone().unwrap_or_else(|| name.to_string());
                let mut failure = Failure::new(message, if denied { EXIT_DENIED } else { 1 });
                if let zbus::Error::MethodError(name, _, reply) = &e {
                    if name.as_str() == "org.atomic.Error.EnvFilesNeeded" {
                        failure.needs =
                            reply.body().deserialize::<(String, Vec<String>)>().ok().map(|(_, p)| p);
                    }
                    if name.as_str() == "org.atomic.Error.RunOptsNeeded" {
                        failure.run_opts_file =
                            reply.body().deserialize::<(String, String)>().ok().map(|(_, p)| p);
                    }
                }
                failure
            }
            _ => Failure::new(format!("cannot reach atomicd: {e}"), 1),
        }
    }
}

/// `true` or absent, as D-Bus options are sent: a default is never spelled out.
fn flag(on: bool) -> Option<bool> {
    on.then_some(true)
}

fn print_command(command: &[String]) {
    println!("{}", crate::text::display_line(command));
}

fn print_warnings(warnings: &[String]) {
    for w in warnings {
        eprintln!("atomic: warning: {}", job::printable(w));
    }
}

/// What the caller read for a line because atomicd asked (before anything was authorized or
/// run): the env files it reads, and the words of the RUN label's RUN_OPTS_FILE.
#[derive(Debug, Clone, Default)]
struct Sent {
    env_files: Option<HashMap<String, String>>,
    run_opts: Option<Vec<String>>,
}

/// Makes a call; when atomicd answers that the line needs files the caller reads, reads those it
/// may and calls again with them: the RUN_OPTS_FILE first (its words may name env files), then
/// the env files, each at most once.
async fn with_files<T>(
    allowed: &[std::path::PathBuf],
    mut call: impl AsyncFnMut(Sent) -> Result<T, Failure>,
) -> Result<T, Failure> {
    let mut sent = Sent::default();
    loop {
        match call(sent.clone()).await {
            Err(Failure { run_opts_file: Some(path), .. }) if sent.run_opts.is_none() => {
                sent.run_opts = Some(env_files::run_opts(&path, allowed)?);
            }
            Err(Failure { needs: Some(paths), .. }) if sent.env_files.is_none() => {
                sent.env_files = Some(env_files::read(&paths, allowed)?);
            }
            other => return other,
        }
    }
}

/// [`with_files`] for the methods whose lines have no `${RUN_OPTS}`: env files only.
async fn with_env_files<T>(
    allowed: &[std::path::PathBuf],
    mut call: impl AsyncFnMut(Option<HashMap<String, String>>) -> Result<T, Failure>,
) -> Result<T, Failure> {
    with_files(allowed, async |sent: Sent| call(sent.env_files).await).await
}

/// The label's `$OPT1`..`$OPT3` as the CLI was given them.
fn opt_values(o: &args::OptArgs) -> [Option<String>; 3] {
    [o.opt1.clone(), o.opt2.clone(), o.opt3.clone()]
}

/// Prints an Install/Uninstall answer: the line with `display`, else the label's output;
/// returns the label container's exit code.
fn report(
    command: &[String],
    warnings: &[String],
    output: Option<&str>,
    exit_code: Option<i32>,
    display: bool,
) -> u8 {
    print_warnings(warnings);
    if display {
        print_command(command);
        return 0;
    }
    if let Some(out) = output {
        print!("{out}");
    }
    exit_status(exit_code)
}

/// A container's exit code as this process's exit status.
fn exit_status(code: Option<i32>) -> u8 {
    u8::try_from(code.unwrap_or(0).clamp(0, 255)).unwrap_or(1)
}

/// The failure of a call, told as the user's own cancellation when Ctrl-C caused it.
fn failure(e: zbus::Error, interrupted: bool) -> Failure {
    let mut f = Failure::from(e);
    if interrupted {
        f.code = EXIT_INTERRUPTED;
    }
    f
}

/// Awaits a call that runs as a job, showing the job's progress; Ctrl-C cancels the job, and
/// the CLI leaves once atomicd has answered.
async fn follow<T>(
    proxy: &ManagerProxy<'_>,
    quiet: bool,
    call: impl std::future::Future<Output = zbus::Result<T>>,
) -> Result<T, Failure> {
    let watch = job::JobWatch::start(proxy.inner().connection(), job::Display::for_stderr(), !quiet).await?;
    tokio::pin!(call);
    let mut interrupted = false;
    let answer = loop {
        tokio::select! {
            answer = &mut call => break answer,
            Ok(()) = tokio::signal::ctrl_c() => {
                interrupted = true;
                watch.cancel().await;
            }
        }
    };
    drop(watch);
    answer.map_err(|e| failure(e, interrupted))
}

/// Resolves on SIGTERM or SIGHUP, so the terminal is restored before the CLI dies.
async fn terminated() {
    use tokio::signal::unix::{signal, SignalKind};
    match (signal(SignalKind::terminate()), signal(SignalKind::hangup())) {
        (Ok(mut term), Ok(mut hup)) => {
            tokio::select! {
                _ = term.recv() => {}
                _ = hup.recv() => {}
            }
        }
        _ => std::future::pending::<()>().await,
    }
}

/// Runs one CLI invocation and returns its exit status.
pub async fn main(cli: Cli) -> ExitCode {
    match dispatch(cli).await {
        Ok(code) => ExitCode::from(code),
        Err(f) => {
            eprintln!("atomic: {}", job::printable(&f.message));
            ExitCode::from(f.code)
        }
    }
}

async fn dispatch(cli: Cli) -> Result<u8, Failure> {
    if let Command::GenerateFiles { dir } = &cli.command {
        // Needs no bus: it describes the CLI, not atomicd.
        return generated::write_all(dir)
            .map(|()| 0)
            .map_err(|e| Failure::new(format!("cannot write into {}: {e}", dir.display()), 1));
    }
    // Needs no bus either: it talks to the fleet's etcd.
    if let Command::Host(args::HostCommand::Fleet(args::FleetCommand::Local(c))) = cli.command {
        return fleet::dispatch(c).await;
    }
    let conn = zbus::Connection::system()
        .await
        .map_err(|e| Failure::new(format!("cannot connect to the system bus: {e}"), 1))?;
    let proxy = ManagerProxy::new(&conn).await?;
    match cli.command {
        Command::Status(a) => {
            if a.json {
                let json = dict_to_json(&proxy.status_dict().await?);
                println!("{}", serde_json::to_string_pretty(&json).unwrap_or_default());
            } else {
                print!("{}", render::status(&proxy.status().await?));
            }
            Ok(0)
        }
        Command::Host(command) => host::dispatch(&proxy, command).await,
        Command::Install(a) => install(&proxy, a).await,
        Command::Uninstall(a) => uninstall(&proxy, a).await,
        Command::Run(a) => run(&proxy, a).await,
        Command::Pull(a) => pull(&proxy, &a.image).await,
        Command::Info(a) => info(&proxy, a).await,
        Command::Help(a) => help::help(&proxy, a).await,
        Command::Images(a) => images(&proxy, a).await,
        Command::Containers(a) => containers(&proxy, a).await,
        Command::Stop(a) => stop(&proxy, a).await,
        Command::Apps(a) => apps::dispatch(&proxy, a).await,
        Command::Update(a) => update(&proxy, a).await,
        Command::Trust(command) => trust::dispatch(&proxy, command).await,
        Command::Verify(a) => trust::verify(&proxy, &a.image).await,
        Command::GenerateFiles { .. } => Ok(0),
    }
}

/// `atomic update`
async fn update(proxy: &ManagerProxy<'_>, a: args::UpdateArgs) -> Result<u8, Failure> {
    let options = UpdateOptions { force: flag(a.force), reinstall: flag(a.reinstall) };
    let r = follow(proxy, false, proxy.update(&a.image, &options)).await?;
    print_warnings(&r.warnings);
    if !r.applications.is_empty() {
        r.applications.iter().for_each(|line| eprintln!("atomic: {}", job::printable(line)));
        return Ok(0);
    }
    let image = job::printable(&a.image);
    if !r.changed {
        eprintln!("atomic: {image} is up to date ({})", render::short(&r.image_id));
        return Ok(0);
    }
    eprintln!(
        "atomic: updated {image}: {} -> {}",
        render::short(&r.old_image_id),
        render::short(&r.image_id)
    );
    for id in &r.removed {
        eprintln!("atomic: removed {}", render::short(id));
    }
    if !r.outdated.is_empty() {
        eprintln!("atomic: still on the old image: {}", job::printable(&r.outdated.join(", ")));
    }
    Ok(0)
}

/// `atomic stop`
async fn stop(proxy: &ManagerProxy<'_>, a: args::StopArgs) -> Result<u8, Failure> {
    let [opt1, opt2, opt3] = opt_values(&a.opts);
    let options = StopOptions { timeout: Some(a.timeout), display: flag(a.display), opt1, opt2, opt3 };
    let r = follow(proxy, false, proxy.stop(&a.name, &options)).await?;
    Ok(report(&r.command, &[], r.output.as_deref(), r.exit_code, a.display))
}

/// `atomic pull`
async fn pull(proxy: &ManagerProxy<'_>, image: &str) -> Result<u8, Failure> {
    let r = follow(proxy, false, proxy.pull(image, &PullOptions::default())).await?;
    let said = if r.changed { "pulled" } else { "already up to date:" };
    eprintln!("atomic: {said} {} ({})", job::printable(image), render::short(&r.image_id));
    Ok(0)
}

/// `atomic info`
async fn info(proxy: &ManagerProxy<'_>, a: args::InfoArgs) -> Result<u8, Failure> {
    let [opt1, opt2, opt3] = opt_values(&a.opts);
    let options = InfoOptions { name: a.name.clone(), opt1, opt2, opt3 };
    if a.json {
        let info = dict_to_json(&proxy.info_dict(&a.image, &options).await?);
        println!("{}", serde_json::to_string_pretty(&info).unwrap_or_default());
    } else {
        print!("{}", tables::info(&proxy.info(&a.image, &options).await?));
    }
    Ok(0)
}

/// `atomic images`
async fn images(proxy: &ManagerProxy<'_>, a: args::ImagesArgs) -> Result<u8, Failure> {
    let a = match a.action {
        None => a.list,
        Some(args::ImagesCommand::List(list)) => list,
        Some(args::ImagesCommand::Delete(d)) => return remove::delete_images(proxy, d).await,
        Some(args::ImagesCommand::Prune(p)) => return remove::prune_images(proxy, p).await,
    };
    let options = ListOptions { all: flag(a.all) };
    if a.json {
        let list: Vec<serde_json::Value> =
            proxy.list_images_dicts(&options).await?.iter().map(dict_to_json).collect();
        println!("{}", serde_json::to_string_pretty(&list).unwrap_or_default());
    } else {
        print!("{}", tables::images(&proxy.list_images(&options).await?));
    }
    Ok(0)
}

/// `atomic containers`
async fn containers(proxy: &ManagerProxy<'_>, a: args::ContainersArgs) -> Result<u8, Failure> {
    let a = match a.action {
        None => a.list,
        Some(args::ContainersCommand::List(list)) => list,
        Some(args::ContainersCommand::Delete(d)) => return remove::delete_containers(proxy, d).await,
        Some(args::ContainersCommand::Trim(t)) => return remove::trim_containers(proxy, t).await,
    };
    let options = ListOptions { all: flag(a.all) };
    if a.json {
        let list: Vec<serde_json::Value> =
            proxy.list_containers_dicts(&options).await?.iter().map(dict_to_json).collect();
        println!("{}", serde_json::to_string_pretty(&list).unwrap_or_default());
    } else {
        print!("{}", tables::containers(&proxy.list_containers(&options).await?));
    }
    Ok(0)
}

/// `atomic install`: one Install call (two when the line reads env files).
async fn install(proxy: &ManagerProxy<'_>, a: args::InstallArgs) -> Result<u8, Failure> {
    let [opt1, opt2, opt3] = opt_values(&a.opts);
    let options = |env_files| InstallOptions {
        stdout: label_output(std::io::stdout().as_fd(), a.display),
        stderr: label_output(std::io::stderr().as_fd(), a.display),
        pwd: working_dir(),
        sudo_uid: sudo("SUDO_UID"),
        sudo_gid: sudo("SUDO_GID"),
        name: a.name.clone(),
        args: (!a.args.is_empty()).then(|| a.args.clone()),
        pull: a.no_pull.then_some(false),
        display: flag(a.display),
        opt1: opt1.clone(),
        opt2: opt2.clone(),
        opt3: opt3.clone(),
        env_files,
        service: match (a.service, a.no_service) {
            (true, _) => Some(true),
            (_, true) => Some(false),
            _ => None,
        },
    };
    let r = with_env_files(&a.opts.allow_env_file, async |env_files| {
        follow(proxy, a.quiet, proxy.install(&a.image, &options(env_files))).await
    })
    .await?;
    if a.display {
        trust::print_signature(r.signature.as_ref());
    }
    apps::print_service(&r, a.display);
    Ok(report(&r.command, &r.warnings, r.output.as_deref(), r.exit_code, a.display))
}

/// `atomic uninstall`
async fn uninstall(proxy: &ManagerProxy<'_>, a: args::UninstallArgs) -> Result<u8, Failure> {
    let [opt1, opt2, opt3] = opt_values(&a.opts);
    let options = |env_files| UninstallOptions {
        stdout: label_output(std::io::stdout().as_fd(), a.display),
        stderr: label_output(std::io::stderr().as_fd(), a.display),
        pwd: working_dir(),
        sudo_uid: sudo("SUDO_UID"),
        sudo_gid: sudo("SUDO_GID"),
        name: a.name.clone(),
        args: (!a.args.is_empty()).then(|| a.args.clone()),
        force: flag(a.force),
        keep_image: flag(a.keep_image),
        display: flag(a.display),
        opt1: opt1.clone(),
        opt2: opt2.clone(),
        opt3: opt3.clone(),
        env_files,
    };
    let r = with_env_files(&a.opts.allow_env_file, async |env_files| {
        follow(proxy, a.quiet, proxy.uninstall(&a.image, &options(env_files))).await
    })
    .await?;
    for id in &r.removed {
        eprintln!("atomic: removed {}", render::short(id));
    }
    if a.display {
        trust::print_signature(r.signature.as_ref());
    }
    Ok(report(&r.command, &r.warnings, r.output.as_deref(), r.exit_code, a.display))
}

/// Our stdout or stderr for an INSTALL or UNINSTALL label's output, which atomicd streams
/// there as it comes; none with `--display`, which runs nothing.
fn label_output(fd: std::os::fd::BorrowedFd<'_>, display: bool) -> Option<OwnedFd> {
    if display {
        return None;
    }
    fd.try_clone_to_owned().ok().map(OwnedFd::from)
}

/// The working directory, for a label's `$PWD`.
fn working_dir() -> Option<String> {
    std::env::current_dir().ok().map(|p| p.to_string_lossy().into_owned())
}

/// Under sudo, root passes the invoking user's ids for `$SUDO_UID`/`$SUDO_GID`; atomicd refuses
/// them from anyone but root, so only root sends them.
fn sudo(var: &str) -> Option<u32> {
    nix::unistd::Uid::effective()
        .is_root()
        .then(|| std::env::var(var).ok().and_then(|v| v.parse().ok()))
        .flatten()
}
