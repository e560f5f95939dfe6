//! Running a host tool (rpm-ostree, bootc) without a shell, with the tail of its stderr in the
//! error when it fails.

use tokio::process::Command;

use crate::error::{Error, Result};
use crate::text::dbus_safe;

/// How much of a failing tool's stderr an error carries.
const STDERR_TAIL: usize = 2048;

/// Runs `program args...` and returns its stdout.
pub async fn run(program: &str, args: &[&str]) -> Result<String> {
    let out = Command::new(program)
        .args(args)
        .stdin(std::process::Stdio::null())
        .output()
        .await
        .map_err(|e| Error::Failed(format!("cannot run {program}: {e}")))?;
    if out.status.success() {
        return Ok(String::from_utf8_lossy(&out.stdout).into_owned());
    }
    let stderr = String::from_utf8_lossy(&out.stderr);
    let start = stderr.char_indices().rev().nth(STDERR_TAIL).map_or(0, |(i, _)| i);
    Err(Error::Failed(format!(
        "{program} {} failed ({}): {}",
        args.join(" "),
        out.status,
        dbus_safe(stderr[start..].trim())
    )))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn stdout_on_success_and_stderr_tail_on_failure() {
        assert_eq!(run("echo", &["hi"]).await.unwrap_or_default(), "hi\n");
        match run("sh", &["-c", "echo out; echo broken >&2; exit 3"]).await {
            Err(Error::Failed(msg)) => {
                assert!(msg.contains("broken") && msg.contains("exit status: 3"), "{msg}")
            }
            other => panic!("{other:?}"),
        }
        assert!(
            matches!(run("/nonexistent/tool", &[]).await, Err(Error::Failed(m)) if m.contains("cannot run"))
        );
    }
}
