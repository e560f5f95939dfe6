//! The engine steps of a plan: create (after removing what `replace` removes), start, wait,
//! read the output, exec into an existing container, and clean up whatever never ran.

use futures_util::StreamExt;

use super::attach::{Bridge, CallerFds, EXIT_SIGPIPE};
use super::jobs::Job;
use super::plan::Plan;
use super::{Manager, OUTPUT_LIMIT};
use crate::engine::{Chunk, CreateRequest, StreamSetup};
use crate::error::Result;
use crate::label::{Ownership, RunSpec};
use crate::system::caller::Caller;
use crate::text::Tail;

/// How an exec ended: its exit code, and its output when no fds took it.
pub(super) struct ExecOutcome {
    /// The exec's exit code.
    pub code: i32,
    /// The last 64 KiB of its output, when it was not bridged to the caller.
    pub output: Option<String>,
}

/// An engine's exit code as the call reports it.
pub(super) fn exit_code(code: i64) -> i32 {
    i32::try_from(code).unwrap_or(i32::MAX)
}

/// The last 64 KiB of an attached stream's output, read until it ends; `None` when the job was
/// cancelled first.
pub(super) async fn output_tail_of(
    mut stream: std::pin::Pin<Box<dyn futures_util::Stream<Item = Result<Chunk>> + Send>>,
    job: &Job,
) -> Option<String> {
    let mut tail = Tail::new(OUTPUT_LIMIT);
    let read = async {
        while let Some(Ok(Chunk::Stdout(b) | Chunk::Stderr(b))) = stream.next().await {
            tail.push(&b);
            job.stream_output(&b).await;
        }
    };
    tokio::select! {
        () = read => Some(tail.into_string()),
        () = job.cancelled() => None,
    }
}

impl Manager {
    /// Creates the plan's container from the plan's image ID, marked as atomicd's, after
    /// removing the container it replaces.
    pub(super) async fn create(
        &self,
        caller: &Caller,
        plan: &Plan,
        spec: &RunSpec,
        replacing: Option<&str>,
        streams: StreamSetup,
    ) -> Result<String> {
        if let Some(old) = replacing {
            self.engine.remove(old, true).await?;
        }
        let owner = Ownership {
            image: plan.image.as_str().to_owned(),
            image_id: plan.image_id.clone(),
            name: plan.name.clone().unwrap_or_default(),
            operation: plan.operation.as_str().to_owned(),
            caller_uid: caller.uid,
            privileged: Some(!plan.privileges.is_empty()),
            // atomicd removes a waited --rm container; the engine removes a detached one.
            remove: spec.remove && !spec.detach,
        };
        self.engine.create(CreateRequest { spec, image_id: &plan.image_id, owner: &owner, streams }).await
    }

    /// Starts a container; one that was just created and never started is removed again.
    pub(super) async fn start_or_discard(&self, id: &str, created: bool) -> Result<()> {
        if let Err(e) = self.engine.start(id).await {
            if created {
                let _ = self.engine.remove(id, true).await;
            }
            return Err(e);
        }
        Ok(())
    }

    /// Creates the container of a plan's label line (INSTALL, HELP) and runs it: a detached one
    /// is started and left running (exit code 0), any other followed to its end (`run_label`).
    pub(super) async fn run_plan_line(
        &self,
        caller: &Caller,
        plan: &Plan,
        fds: CallerFds,
        job: &Job,
    ) -> Result<(i32, Option<String>)> {
        let spec =
            plan.spec.as_ref().ok_or_else(|| crate::error::Error::Failed("the plan has no line".into()))?;
        job.report(-1.0, &format!("running the {} label", plan.operation.as_str().to_uppercase())).await;
        let id = self.create(caller, plan, spec, None, StreamSetup::default()).await?;
        if spec.detach {
            self.start_or_discard(&id, true).await?;
            return Ok((0, None));
        }
        self.run_label(&id, spec.remove, fds, job).await
    }

    /// Starts a label's container (INSTALL, UNINSTALL, STOP) and runs it to its end: its output
    /// goes to the caller's fds as it comes when there are any (attached before the start, so
    /// nothing is missed), else its last 64 KiB come back. Removed when `remove`.
    pub(super) async fn run_label(
        &self,
        id: &str,
        remove: bool,
        fds: CallerFds,
        job: &Job,
    ) -> Result<(i32, Option<String>)> {
        if !fds.any() {
            self.start_or_discard(id, true).await?;
            let (code, output) = self.finish(id, remove, job).await?;
            return Ok((code, Some(output)));
        }
        let attached = match self.engine.attach(id, false).await {
            Ok(a) => a,
            Err(e) => {
                let _ = self.engine.remove(id, true).await;
                return Err(e);
            }
        };
        let bridge = Bridge::start(attached, fds);
        self.start_or_discard(id, true).await?;
        let waited = self.wait_or_cancel(id, job).await;
        bridge.finish().await;
        let waited = waited?;
        self.remove_after(id, remove, &waited).await?;
        Ok((exit_code(waited?), None))
    }

    /// Runs a started container to its end: exit code and output tail; removes it when `remove`.
    pub(super) async fn finish(&self, id: &str, remove: bool, job: &Job) -> Result<(i32, String)> {
        let waited = self.wait_or_cancel(id, job).await?;
        let output = self.engine.output_tail(id, OUTPUT_LIMIT).await;
        self.remove_after(id, remove, &waited).await?;
        Ok((exit_code(waited?), output?))
    }

    /// Removes a finished container when asked. When the wait itself failed (the engine went
    /// away) that failure is the one to report, so a removal failing for the same cause is not.
    pub(super) async fn remove_after(&self, id: &str, remove: bool, waited: &Result<i64>) -> Result<()> {
        match (remove, waited) {
            (false, _) => Ok(()),
            (true, Ok(_)) => self.engine.remove(id, true).await,
            (true, Err(_)) => {
                let _ = self.engine.remove(id, true).await;
                Ok(())
            }
        }
    }

    /// Waits for a container, unless the job is cancelled first: then the container is removed
    /// and the call ends with Cancelled.
    pub(super) async fn wait_or_cancel(&self, id: &str, job: &Job) -> Result<Result<i64>> {
        tokio::select! {
            waited = self.engine.wait(id) => Ok(waited),
            () = job.cancelled() => {
                let _ = self.engine.remove(id, true).await;
                Err(job.cancelled_error("the container"))
            }
        }
    }

    /// Runs `command` in a running container, bridged to the caller's fds when given; the
    /// exec's exit code is the call's.
    pub(super) async fn exec_in(
        &self,
        id: &str,
        command: &[String],
        fds: CallerFds,
        tty: bool,
        job: &Job,
    ) -> Result<ExecOutcome> {
        let attach = fds.any();
        let streams = StreamSetup { stdin: fds.stdin.is_some(), tty: attach && tty };
        let (exec_id, attached) = self.engine.exec(id, command, streams).await?;
        let output = if attach {
            let mut bridge = Bridge::start(attached, fds);
            let reader_gone = bridge.reader_gone();
            let gone = tokio::select! {
                () = bridge.output_ended() => false,
                () = reader_gone => true,
                () = job.cancelled() => return Err(job.cancelled_error("the exec")),
            };
            bridge.finish().await;
            if gone {
                // The exec's process cannot be killed through the API; its output has nowhere to go.
                return Ok(ExecOutcome { code: EXIT_SIGPIPE, output: None });
            }
            None
        } else {
            match output_tail_of(attached.output, job).await {
                Some(tail) => Some(tail),
                None => return Err(job.cancelled_error("the exec")),
            }
        };
        let code = self.engine.exec_exit_code(&exec_id).await?;
        Ok(ExecOutcome { code: exit_code(code), output })
    }
}
