//! `atomic run`: the plan shown first when asked, then the call with the terminal's fds or an
//! attached session, and the exit status the container's command gave.

use super::*;

pub(super) async fn run(proxy: &ManagerProxy<'_>, a: args::RunArgs) -> Result<u8, Failure> {
    let pwd = working_dir();
    let [opt1, opt2, opt3] = opt_values(&a.opts);
    let base = RunOptions {
        spc: flag(a.spc),
        name: a.name.clone(),
        detach: flag(a.detach),
        replace: flag(a.replace),
        opt1,
        opt2,
        opt3,
        pwd,
        sudo_uid: sudo("SUDO_UID"),
        sudo_gid: sudo("SUDO_GID"),
        ..RunOptions::default()
    };
    if a.display {
        let plan = with_files(&a.opts.allow_env_file, async |sent: Sent| {
            let options = RunOptions { display: Some(true), ..inputs(&base, sent) };
            proxy.run(&a.image, &a.command, &options).await.map_err(Failure::from)
        })
        .await?;
        print_command(&plan.command);
        trust::print_signature(plan.signature.as_ref());
        print_warnings(&plan.warnings);
        return Ok(0);
    }
    let tty = !a.detach && terminal::interactive();
    let size = if tty { terminal::size() } else { None };
    // The container's streams are bridged straight to ours by atomicd.
    let fd = |f: std::os::fd::BorrowedFd<'_>| -> Result<Option<OwnedFd>, Failure> {
        if a.detach {
            return Ok(None);
        }
        f.try_clone_to_owned()
            .map(|f| Some(OwnedFd::from(f)))
            .map_err(|e| Failure::new(format!("cannot pass the terminal to atomicd: {e}"), 1))
    };
    let (stdin, stdout, stderr) = (std::io::stdin(), std::io::stdout(), std::io::stderr());
    let options = |sent: Sent| -> Result<RunOptions, Failure> {
        Ok(RunOptions {
            stdin: fd(stdin.as_fd())?,
            stdout: fd(stdout.as_fd())?,
            stderr: fd(stderr.as_fd())?,
            tty: flag(tty),
            tty_size: size,
            ..inputs(&base, sent)
        })
    };
    // One call: the plan it runs is shown from its job (the banner) as atomicd announces it.
    with_files(&a.opts.allow_env_file, async |sent: Sent| attached(proxy, &a, options(sent)?, tty).await)
        .await
        .map(|answer| finish_run(&answer, a.detach))
}

/// The call's inputs: the CLI's own (`base`) and what it read for the line because atomicd
/// asked; the same for the plan shown and the call made.
fn inputs(base: &RunOptions, sent: Sent) -> RunOptions {
    RunOptions {
        run_opts: sent.run_opts,
        env_files: sent.env_files,
        spc: base.spc,
        name: base.name.clone(),
        detach: base.detach,
        replace: base.replace,
        opt1: base.opt1.clone(),
        opt2: base.opt2.clone(),
        opt3: base.opt3.clone(),
        pwd: base.pwd.clone(),
        sudo_uid: base.sudo_uid,
        sudo_gid: base.sudo_gid,
        ..RunOptions::default()
    }
}

/// One attached Run call: the terminal in raw mode, resizes forwarded, Ctrl-C cancels.
async fn attached(
    proxy: &ManagerProxy<'_>,
    a: &args::RunArgs,
    options: RunOptions,
    tty: bool,
) -> Result<RunResult, Failure> {
    // The container's output owns the terminal: no bar over it.
    let watch = job::JobWatch::start(proxy.inner().connection(), job::Display::Silent, !a.quiet).await?;
    let raw = (tty && !a.detach).then(terminal::RawMode::enter).flatten();
    let mut interrupted = false;
    let answer = {
        let call = proxy.run(&a.image, &a.command, &options);
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
fn finish_run(answer: &RunResult, detach: bool) -> u8 {
    print_warnings(&answer.warnings);
    if let Some(out) = &answer.output {
        print!("{out}");
    }
    if detach {
        if let Some(id) = &answer.container_id {
            println!("{id}");
        }
        return 0;
    }
    exit_status(answer.exit_code)
}
