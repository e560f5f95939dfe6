//! Running a host tool (rpm-ostree, bootc) without a shell, with the tail of its stderr in the
//! error when it fails; long runs report their output lines and stop on Cancel.

use std::process::Stdio;
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, AsyncReadExt, BufReader};
use tokio::process::Command;

use crate::error::{Error, Result, ToolFailure};
use crate::system::control::Control;
use crate::text::dbus_safe;

/// How long a cancelled tool may take to wind down after SIGINT before it is killed: inside the
/// unit's TimeoutStopSec (30 s), since a SIGTERM cancels every job on the way out.
const CANCEL_GRACE: Duration = Duration::from_secs(20);

/// How much of a failing tool's stderr an error carries.
const STDERR_TAIL: usize = 2048;

/// Runs `program args...` and returns its stdout.
pub(super) async fn run(program: &str, args: &[&str]) -> Result<String> {
    let out = output(program, args).await?;
    if out.status.success() {
        return Ok(String::from_utf8_lossy(&out.stdout).into_owned());
    }
    Err(failure(program, args, out.status, &out.stderr))
}

/// Runs `program args...` to its end; only a program that cannot be run is an error, so the
/// caller reads the exit status itself.
pub(super) async fn output(program: &str, args: &[&str]) -> Result<std::process::Output> {
    Command::new(program)
        .args(args)
        .stdin(std::process::Stdio::null())
        .output()
        .await
        .map_err(|e| Error::io(format!("cannot run {program}"), e))
}

/// A tool's unsuccessful end, with the tail of its stderr.
pub(super) fn failure(
    program: &str,
    args: &[&str],
    status: std::process::ExitStatus,
    stderr: &[u8],
) -> Error {
    let stderr = String::from_utf8_lossy(stderr);
    let start = stderr.char_indices().rev().nth(STDERR_TAIL).map_or(0, |(i, _)| i);
    Error::Tool(ToolFailure {
        program: program.to_owned(),
        args: args.join(" "),
        status,
        stderr_tail: dbus_safe(stderr[start..].trim()).into_owned(),
    })
}

/// What one line a job's tool prints on stdout says.
#[derive(Debug, Clone, PartialEq)]
pub(super) enum Line {
    /// Progress (0..1, or -1 when unknown) and what is being done.
    Progress(f64, String),
    /// The tool passed its point of no return (Cancel no longer stops it): what it finishes.
    Committing(String),
    /// Part of the tool's answer.
    Output(String),
}

/// Every line is a progress message: rpm-ostree and bootc print what they do, one line at a time.
pub(super) fn message_line(line: &str) -> Line {
    Line::Progress(-1.0, line.to_owned())
}

/// Runs `program args...` for a job: each stdout line is sorted by `classify` into progress
/// (published on the job) or output (returned). On Cancel the tool gets SIGINT — rpm-ostree's
/// client then cancels its daemon's transaction, as on Ctrl-C — and is killed if it has not
/// ended within a grace period. A tool that still ends successfully finished before it could
/// be stopped, and its answer stands.
pub(super) async fn run_for_job(
    program: &str,
    args: &[&str],
    control: &Control,
    classify: fn(&str) -> Line,
) -> Result<String> {
    let mut child = Command::new(program)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .map_err(|e| Error::io(format!("cannot run {program}"), e))?;
    let (Some(stdout), Some(mut stderr)) = (child.stdout.take(), child.stderr.take()) else {
        return Err(Error::Failed(format!("cannot read the output of {program}")));
    };
    let reporter = control.clone();
    let lines = tokio::spawn(async move {
        let mut output = String::new();
        let mut lines = BufReader::new(stdout).lines();
        while let Ok(Some(line)) = lines.next_line().await {
            let line = dbus_safe(line.trim());
            match classify(&line) {
                Line::Progress(_, message) if message.is_empty() => {}
                Line::Progress(progress, message) => reporter.report(progress, message),
                Line::Committing(message) => reporter.point_of_no_return(message),
                Line::Output(text) => {
                    output.push_str(&text);
                    output.push('\n');
                }
            }
        }
        output
    });
    let errors = tokio::spawn(async move {
        let mut buf = Vec::new();
        let _ = stderr.read_to_end(&mut buf).await;
        buf
    });
    let mut cancelled = false;
    let status = tokio::select! {
        status = child.wait() => status,
        () = control.cancelled() => {
            cancelled = true;
            if let Some(pid) = child.id().and_then(|p| i32::try_from(p).ok()) {
                let _ = nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), nix::sys::signal::Signal::SIGINT);
            }
            match tokio::time::timeout(CANCEL_GRACE, child.wait()).await {
                Ok(status) => status,
                Err(_) => {
                    let _ = child.kill().await;
                    return Err(cancelled_error(program, args, "killed after it ignored SIGINT"));
                }
            }
        }
    }
    .map_err(|e| Error::io(format!("waiting for {program}"), e))?;
    let output = lines.await.unwrap_or_default();
    let stderr = errors.await.unwrap_or_default();
    if status.success() {
        Ok(output)
    } else if cancelled {
        Err(cancelled_error(program, args, "stopped"))
    } else {
        Err(failure(program, args, status, &stderr))
    }
}

/// A cancelled host command, in the words a user reads first: cancelled, host untouched (Cancel
/// is refused past the point of no return), then which command stopped.
fn cancelled_error(program: &str, args: &[&str], how: &str) -> Error {
    let name = std::path::Path::new(program).file_name().and_then(|n| n.to_str()).unwrap_or(program);
    Error::Cancelled(format!("cancelled; the host is as it was ({name} {} {how})", args.join(" ")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn stdout_on_success_and_stderr_tail_on_failure() {
        assert_eq!(run("echo", &["hi"]).await.unwrap_or_default(), "hi\n");
        match run("sh", &["-c", "echo out; echo broken >&2; exit 3"]).await {
            Err(Error::Tool(f)) => {
                assert_eq!((f.status.code(), f.stderr_tail.as_str()), (Some(3), "broken"));
                assert!(f.to_string().contains("exit status: 3"), "{f}");
            }
            other => panic!("{other:?}"),
        }
        match run("/nonexistent/tool", &[]).await {
            Err(e @ Error::Io { .. }) => {
                assert!(e.to_string().starts_with("cannot run /nonexistent/tool: "), "{e}");
                let cause = std::error::Error::source(&e).map(ToString::to_string).unwrap_or_default();
                assert!(cause.contains("No such file"), "the OS error is the cause: {cause}");
            }
            other => panic!("{other:?}"),
        }
    }

    #[tokio::test]
    async fn a_job_tool_reports_its_lines_and_stops_on_cancel() {
        let (control, cancel, mut reports) = Control::standalone();
        let script = "echo step one; echo step two; trap 'echo interrupted >&2; exit 130' INT; \
                      while :; do sleep 0.1; done";
        let started = std::time::Instant::now();
        let args = ["-c", script];
        let run = run_for_job("sh", &args, &control, message_line);
        let stop = async {
            tokio::time::sleep(Duration::from_millis(500)).await;
            let _ = cancel.send(true);
        };
        let (result, ()) = tokio::join!(run, stop);
        assert!(matches!(result, Err(Error::Cancelled(_))), "{result:?}");
        assert!(started.elapsed() < Duration::from_secs(10), "SIGINT did not stop the tool");
        assert_eq!(reports.recv().await.map(|r| r.1).as_deref(), Some("step one"));
        assert_eq!(reports.recv().await.map(|r| r.1).as_deref(), Some("step two"));

        let (control, _cancel, _) = Control::standalone();
        match run_for_job("sh", &["-c", "echo partial; echo broken >&2; exit 4"], &control, message_line)
            .await
        {
            Err(Error::Tool(f)) => assert_eq!((f.status.code(), f.stderr_tail.as_str()), (Some(4), "broken")),
            other => panic!("{other:?}"),
        }
        let answer = |l: &str| match l.strip_prefix("answer: ") {
            Some(a) => Line::Output(a.to_owned()),
            None => Line::Progress(0.5, l.to_owned()),
        };
        let out = run_for_job("sh", &["-c", "echo working; echo 'answer: 42'"], &control, answer).await;
        assert_eq!(out.ok().as_deref(), Some("42\n"));

        // Cancel that comes too late to stop the tool: its answer stands.
        let (control, cancel, mut reports) = Control::standalone();
        let script = "trap '' INT; echo ignoring; sleep 0.3; echo 'answer: done'";
        let args = ["-c", script];
        let cancel_when_ignored = async {
            let _ = reports.recv().await;
            let _ = cancel.send(true);
        };
        let (out, ()) = tokio::join!(run_for_job("sh", &args, &control, answer), cancel_when_ignored);
        assert_eq!(out.ok().as_deref(), Some("done\n"));
    }
}
