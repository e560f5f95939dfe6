//! The `atomic` CLI: a thin D-Bus client of atomicd with no engine access of its own.

pub mod args;
pub mod job;
pub mod render;
pub mod terminal;

use std::collections::HashMap;
use std::process::ExitCode;

use std::os::fd::AsFd;

use zbus::zvariant::{Fd, OwnedValue, Value};

use crate::dbus::proxy::{dict_to_json, ManagerProxy};
use args::{Cli, Command, HostCommand};

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
}

impl Failure {
    fn new(message: String, code: u8) -> Self {
        Failure { message, code, needs: None }
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
                }
                failure
            }
            _ => Failure::new(format!("cannot reach atomicd: {e}"), 1),
        }
    }
}

type Answer = HashMap<String, OwnedValue>;

fn opts<'a>(pairs: impl IntoIterator<Item = (&'a str, Option<Value<'a>>)>) -> HashMap<&'a str, Value<'a>> {
    pairs.into_iter().filter_map(|(k, v)| v.map(|v| (k, v))).collect()
}

fn flag(on: bool) -> Option<Value<'static>> {
    on.then_some(Value::Bool(true))
}

fn print_command(answer: &Answer) {
    let argv: Vec<String> =
        answer.get("command").and_then(|v| <Vec<String>>::try_from(v.clone()).ok()).unwrap_or_default();
    println!("{}", crate::text::display_line(&argv));
}

fn strings(answer: &Answer, key: &str) -> Vec<String> {
    answer.get(key).and_then(|v| <Vec<String>>::try_from(v.clone()).ok()).unwrap_or_default()
}

fn print_warnings(answer: &Answer) {
    for w in strings(answer, "warnings") {
        eprintln!("atomic: warning: {w}");
    }
}

/// The contents of the env files a line reads, read here with the caller's own rights
/// (atomicd reads no files for callers); relative paths are from the working directory.
fn read_env_files(paths: &[String]) -> Result<Value<'static>, Failure> {
    let mut files: HashMap<String, String> = HashMap::new();
    for path in paths {
        let text = std::fs::read_to_string(path)
            .map_err(|e| Failure::new(format!("cannot read env file {path}: {e}"), 1))?;
        files.insert(path.clone(), text);
    }
    Ok(Value::from(files))
}

/// Makes a call once; when atomicd answers that the line reads env files (before anything was
/// authorized or run), reads them and makes it once more with their contents.
async fn with_env_files<'a>(
    options: &HashMap<&'a str, Value<'a>>,
    mut call: impl AsyncFnMut(HashMap<&'a str, Value<'a>>) -> Result<Answer, Failure>,
) -> Result<Answer, Failure> {
    match call(options.clone()).await {
        Err(Failure { needs: Some(paths), .. }) => {
            let mut options = options.clone();
            options.insert("env-files", read_env_files(&paths)?);
            call(options).await
        }
        other => other,
    }
}

fn opt_values(o: &args::OptArgs) -> HashMap<&str, Value<'_>> {
    opts([
        ("opt1", o.opt1.as_deref().map(Value::from)),
        ("opt2", o.opt2.as_deref().map(Value::from)),
        ("opt3", o.opt3.as_deref().map(Value::from)),
    ])
}

/// Prints an Install/Uninstall answer: the line with `display`, else the label's output;
/// returns the label container's exit code.
fn report(answer: &Answer, display: bool) -> u8 {
    print_warnings(answer);
    if display {
        print_command(answer);
        return 0;
    }
    if let Some(out) = answer.get("output").and_then(|v| String::try_from(v.clone()).ok()) {
        print!("{out}");
    }
    let code = answer.get("exit-code").and_then(|v| i32::try_from(v.clone()).ok()).unwrap_or(0);
    u8::try_from(code.clamp(0, 255)).unwrap_or(1)
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
            eprintln!("atomic: {}", f.message);
            ExitCode::from(f.code)
        }
    }
}

async fn dispatch(cli: Cli) -> Result<u8, Failure> {
    let conn = zbus::Connection::system()
        .await
        .map_err(|e| Failure::new(format!("cannot connect to the system bus: {e}"), 1))?;
    let proxy = ManagerProxy::new(&conn).await?;
    match cli.command {
        Command::Status(a) => {
            let json = dict_to_json(&proxy.status().await?);
            if a.json {
                println!("{}", serde_json::to_string_pretty(&json).unwrap_or_default());
            } else {
                print!("{}", render::status(&json));
            }
            Ok(0)
        }
        Command::Host(HostCommand::Status(a)) => {
            let json = dict_to_json(&proxy.status().await?);
            if a.json {
                println!("{}", serde_json::to_string_pretty(&json["host"]).unwrap_or_default());
            } else {
                print!("{}", render::host_status(&json["host"]));
            }
            Ok(0)
        }
        Command::Host(HostCommand::Upgrade { check, reboot }) => {
            let answer = follow(
                &proxy,
                true,
                proxy.host_upgrade(opts([("check", flag(check)), ("reboot", flag(reboot))])),
            )
            .await?;
            println!("{}", serde_json::to_string_pretty(&dict_to_json(&answer)).unwrap_or_default());
            Ok(0)
        }
        Command::Host(HostCommand::Rollback { reboot }) => {
            let answer = follow(&proxy, true, proxy.rollback(opts([("reboot", flag(reboot))]))).await?;
            println!("{}", serde_json::to_string_pretty(&dict_to_json(&answer)).unwrap_or_default());
            Ok(0)
        }
        Command::Install(a) => {
            let mut options = opts([
                ("name", a.name.as_deref().map(Value::from)),
                ("pull", a.no_pull.then_some(Value::Bool(false))),
                ("display", flag(a.display)),
            ]);
            options.extend(opt_values(&a.opts));
            let answer = with_env_files(&options, async |options| {
                follow(&proxy, a.quiet, proxy.install(&a.image, options)).await
            })
            .await?;
            Ok(report(&answer, a.display))
        }
        Command::Uninstall(a) => {
            let mut options = opts([
                ("name", a.name.as_deref().map(Value::from)),
                ("force", flag(a.force)),
                ("keep-image", flag(a.keep_image)),
                ("display", flag(a.display)),
            ]);
            options.extend(opt_values(&a.opts));
            let answer = with_env_files(&options, async |options| {
                follow(&proxy, a.quiet, proxy.uninstall(&a.image, options)).await
            })
            .await?;
            for id in strings(&answer, "removed") {
                eprintln!("atomic: removed {}", render::short(&id));
            }
            Ok(report(&answer, a.display))
        }
        Command::Run(a) => run(&proxy, a).await,
    }
}

async fn run(proxy: &ManagerProxy<'_>, a: args::RunArgs) -> Result<u8, Failure> {
    let pwd = std::env::current_dir().ok().map(|p| p.to_string_lossy().into_owned());
    // Under sudo, root passes the invoking user's ids for $SUDO_UID/$SUDO_GID; atomicd refuses
    // them from anyone but root, so only root sends them.
    let sudo = |var: &str| {
        nix::unistd::Uid::effective()
            .is_root()
            .then(|| std::env::var(var).ok().and_then(|v| v.parse::<u32>().ok()))
            .flatten()
    };
    let base = || {
        opts([
            ("spc", flag(a.spc)),
            ("name", a.name.as_deref().map(Value::from)),
            ("detach", flag(a.detach)),
            ("replace", flag(a.replace)),
            ("opt1", a.opts.opt1.as_deref().map(Value::from)),
            ("opt2", a.opts.opt2.as_deref().map(Value::from)),
            ("opt3", a.opts.opt3.as_deref().map(Value::from)),
            ("pwd", pwd.as_deref().map(Value::from)),
            ("sudo-uid", sudo("SUDO_UID").map(Value::from)),
            ("sudo-gid", sudo("SUDO_GID").map(Value::from)),
        ])
    };
    if a.display {
        let mut display = base();
        display.insert("display", Value::Bool(true));
        let plan = proxy.run(&a.image, &a.command, display).await?;
        print_command(&plan);
        print_warnings(&plan);
        return Ok(0);
    }
    let tty = terminal::interactive();
    let mut options = base();
    let (stdin, stdout, stderr) = (std::io::stdin(), std::io::stdout(), std::io::stderr());
    if !a.detach {
        // The container's streams are bridged straight to ours by atomicd.
        options.insert("stdin", Value::from(Fd::from(stdin.as_fd())));
        options.insert("stdout", Value::from(Fd::from(stdout.as_fd())));
        options.insert("stderr", Value::from(Fd::from(stderr.as_fd())));
        if tty {
            options.insert("tty", Value::Bool(true));
            if let Some(size) = terminal::size() {
                options.insert("tty-size", Value::from(size));
            }
        }
    }
    // One call: the plan it runs is shown from its job (the banner) as atomicd announces it.
    with_env_files(&options, async |options| attached(proxy, &a, options, tty).await)
        .await
        .map(|answer| finish_run(&answer, a.detach))
}

/// One attached Run call: the terminal in raw mode, resizes forwarded, Ctrl-C cancels.
async fn attached(
    proxy: &ManagerProxy<'_>,
    a: &args::RunArgs,
    options: HashMap<&str, Value<'_>>,
    tty: bool,
) -> Result<Answer, Failure> {
    // The container's output owns the terminal: no bar over it.
    let watch = job::JobWatch::start(proxy.inner().connection(), job::Display::Silent, !a.quiet).await?;
    let raw = (tty && !a.detach).then(terminal::RawMode::enter).flatten();
    let mut interrupted = false;
    let answer = {
        let call = proxy.run(&a.image, &a.command, options);
        tokio::pin!(call);
        let mut winch = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::window_change()).ok();
        loop {
            tokio::select! {
                answer = &mut call => break answer,
                Some(()) = async { match winch.as_mut() { Some(w) => w.recv().await, None => None } } => {
                    if let Some((rows, columns)) = terminal::size() {
                        watch.resize(rows, columns).await;
                    }
                }
                // In raw mode Ctrl-C reaches the container as a byte; otherwise it cancels the job.
                Ok(()) = tokio::signal::ctrl_c() => {
                    interrupted = true;
                    watch.cancel().await;
                }
                () = terminated() => {
                    drop(raw);
                    return Err(Failure::new("interrupted".into(), EXIT_INTERRUPTED));
                }
            }
        }
    };
    drop(raw);
    answer.map_err(|e| failure(e, interrupted))
}

/// Prints a Run's answer and returns the exit status: the container's code.
fn finish_run(answer: &Answer, detach: bool) -> u8 {
    print_warnings(answer);
    if let Some(out) = answer.get("output").and_then(|v| String::try_from(v.clone()).ok()) {
        print!("{out}");
    }
    if detach {
        if let Some(id) = answer.get("container-id").and_then(|v| String::try_from(v.clone()).ok()) {
            println!("{id}");
        }
        return 0;
    }
    let code = answer.get("exit-code").and_then(|v| i32::try_from(v.clone()).ok()).unwrap_or(0);
    u8::try_from(code.clamp(0, 255)).unwrap_or(1)
}
