//! Connects a container's attach stream to the file descriptors a caller passed, for as long as
//! the container runs, then lets go of them.
//!
//! The fds may be the caller's own terminal or pipe, whose open file description the caller
//! shares: they stay in blocking mode (never switched to O_NONBLOCK under the caller) and are
//! used on threads of their own. Each thread polls with a timeout, so it stops within
//! [`POLL_MS`] of the job's end instead of outliving it in a blocked read or write. Output
//! passes through a bounded channel: a slow reader slows the engine's stream (and so the
//! container), it never grows atomicd. A reader that has gone away ends the run as SIGPIPE
//! ends a pipeline's writer.

use std::io::{Read, Write};
use std::os::fd::{AsFd, OwnedFd};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use futures_util::StreamExt;
use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
use tokio::io::AsyncWriteExt;
use tokio::sync::{mpsc, watch};

use crate::engine::{Attached, Chunk};

/// How often a descriptor thread looks at the stop flag, in milliseconds.
const POLL_MS: u16 = 100;

/// Chunks of output that may wait for a slow reader, per stream.
const OUTPUT_QUEUE: usize = 8;

/// At most this much is written per poll: a pipe that polls writable takes a page without
/// blocking.
const WRITE_PIECE: usize = 4096;

/// How long the output left after the container's exit may take to reach a slow reader.
const DRAIN: Duration = Duration::from_secs(5);

/// The exit status a pipeline reports for a writer killed by SIGPIPE (128 + 13).
pub(super) const EXIT_SIGPIPE: i32 = 141;

/// The caller's descriptors for one attached run.
#[derive(Debug, Default)]
pub struct CallerFds {
    /// Where the container's stdin comes from.
    pub stdin: Option<OwnedFd>,
    /// Where its stdout (and terminal) goes.
    pub stdout: Option<OwnedFd>,
    /// Where its stderr goes; stdout's fd when absent.
    pub stderr: Option<OwnedFd>,
}

impl CallerFds {
    /// Whether the caller passed any descriptor at all.
    pub fn any(&self) -> bool {
        self.stdin.is_some() || self.stdout.is_some() || self.stderr.is_some()
    }
}

/// A running bridge; [`Bridge::finish`] ends it once the container has exited. Dropped without
/// it, its threads still stop within [`POLL_MS`].
pub(super) struct Bridge {
    /// Stops the writers: their output is abandoned.
    stop_output: Arc<AtomicBool>,
    /// Stops reading the caller's stdin.
    stop_input: Arc<AtomicBool>,
    output: Option<tokio::task::JoinHandle<()>>,
    input: Option<tokio::task::JoinHandle<()>>,
    /// Closes when every writer thread has ended.
    writers: mpsc::Receiver<()>,
    /// Closes when the stdin thread (if any) has ended.
    reader: mpsc::Receiver<()>,
    reader_gone: watch::Receiver<bool>,
}

/// Waits until `fd` polls ready for `flags`, or `stop` is set (false then).
fn ready(fd: &std::fs::File, flags: PollFlags, stop: &AtomicBool) -> std::io::Result<bool> {
    loop {
        if stop.load(Ordering::Relaxed) {
            return Ok(false);
        }
        let mut fds = [PollFd::new(fd.as_fd(), flags)];
        match poll(&mut fds, PollTimeout::from(POLL_MS)) {
            Ok(0) | Err(nix::errno::Errno::EINTR) => continue,
            Ok(_) => {
                let got = fds[0].revents().unwrap_or(PollFlags::empty());
                if got.intersects(PollFlags::POLLERR | PollFlags::POLLNVAL) && !got.contains(flags) {
                    return Err(std::io::Error::from(std::io::ErrorKind::BrokenPipe));
                }
                return Ok(true);
            }
            Err(e) => return Err(e.into()),
        }
    }
}

/// Runs `work` on a thread of its own, holding `alive` until the thread ends: the receiving
/// end of `alive` sees the channel close once every such thread has ended.
fn spawn_thread(alive: mpsc::Sender<()>, work: impl FnOnce() + Send + 'static) {
    std::thread::spawn(move || {
        work();
        drop(alive);
    });
}

/// A thread writing chunks to `fd`; when the reader is gone it says so on `gone` and stops.
fn writer_thread(
    fd: OwnedFd,
    stop: Arc<AtomicBool>,
    gone: watch::Sender<bool>,
    alive: mpsc::Sender<()>,
) -> mpsc::Sender<Vec<u8>> {
    let (tx, mut rx) = mpsc::channel::<Vec<u8>>(OUTPUT_QUEUE);
    spawn_thread(alive, move || {
        let mut file = std::fs::File::from(fd);
        while let Some(chunk) = rx.blocking_recv() {
            for piece in chunk.chunks(WRITE_PIECE) {
                let written = match ready(&file, PollFlags::POLLOUT, &stop) {
                    Ok(true) => file.write_all(piece),
                    Ok(false) => return,
                    Err(e) => Err(e),
                };
                if written.is_err() {
                    let _ = gone.send(true);
                    return;
                }
            }
        }
    });
    tx
}

fn reader_thread(fd: OwnedFd, stop: Arc<AtomicBool>, alive: mpsc::Sender<()>) -> mpsc::Receiver<Vec<u8>> {
    let (tx, rx) = mpsc::channel::<Vec<u8>>(OUTPUT_QUEUE);
    spawn_thread(alive, move || {
        let mut file = std::fs::File::from(fd);
        let mut buf = vec![0u8; 4096];
        while let Ok(true) = ready(&file, PollFlags::POLLIN, &stop) {
            match file.read(&mut buf) {
                Ok(0) | Err(_) => return,
                Ok(n) => {
                    if tx.blocking_send(buf[..n].to_vec()).is_err() {
                        return;
                    }
                }
            }
        }
    });
    rx
}

impl Bridge {
    /// Starts copying between `attached` and `fds`.
    pub(super) fn start(attached: Attached, fds: CallerFds) -> Bridge {
        let (stop_output, stop_input) = (Arc::new(AtomicBool::new(false)), Arc::new(AtomicBool::new(false)));
        let (gone, reader_gone) = watch::channel(false);
        let Attached { mut output, mut input } = attached;
        let (writers_alive, writers) = mpsc::channel(1);
        let (reader_alive, reader) = mpsc::channel(1);
        let writer =
            |fd: OwnedFd| writer_thread(fd, stop_output.clone(), gone.clone(), writers_alive.clone());
        let out = fds.stdout.map(writer);
        let err = fds.stderr.map(writer);
        let output = tokio::spawn(async move {
            while let Some(item) = output.next().await {
                let (chunk, to_err) = match item {
                    Ok(Chunk::Stdout(b)) => (b, false),
                    Ok(Chunk::Stderr(b)) => (b, true),
                    Err(e) => {
                        tracing::debug!("attach stream ended: {e}");
                        break;
                    }
                };
                let target = if to_err { err.as_ref().or(out.as_ref()) } else { out.as_ref() };
                // Waiting here is the backpressure: the engine's stream is not read meanwhile.
                if let Some(tx) = target {
                    if tx.send(chunk).await.is_err() {
                        break;
                    }
                }
            }
        });
        let input = fds.stdin.map(|fd| {
            let mut rx = reader_thread(fd, stop_input.clone(), reader_alive);
            tokio::spawn(async move {
                while let Some(buf) = rx.recv().await {
                    if input.write_all(&buf).await.is_err() {
                        return;
                    }
                    let _ = input.flush().await;
                }
                // The caller's stdin ended: so does the container's.
                let _ = input.shutdown().await;
            })
        });
        Bridge { stop_output, stop_input, output: Some(output), input, writers, reader, reader_gone }
    }

    /// Resolves when the attached stream has ended (an exec's process exited).
    pub(super) async fn output_ended(&mut self) {
        if let Some(output) = self.output.take() {
            let _ = output.await;
        }
    }

    /// Whether the caller's output has lost its reader by now.
    pub(super) fn reader_is_gone(&self) -> bool {
        *self.reader_gone.borrow()
    }

    /// Resolves when the caller's output has no reader any more (EPIPE); never otherwise. The
    /// future does not borrow the bridge, so it can wait beside [`Bridge::output_ended`].
    pub(super) fn reader_gone(&self) -> impl std::future::Future<Output = ()> + Send + 'static {
        let mut gone = self.reader_gone.clone();
        async move {
            if gone.wait_for(|g| *g).await.is_err() {
                std::future::pending::<()>().await;
            }
        }
    }

    /// Called once the container has exited: lets the remaining output through (for at most
    /// [`DRAIN`]), stops reading stdin, and returns when every thread has ended and every
    /// descriptor of the caller's is closed.
    pub(super) async fn finish(mut self) {
        self.stop_input.store(true, Ordering::Relaxed);
        if let Some(input) = self.input.take() {
            input.abort();
        }
        let deadline = tokio::time::Instant::now() + DRAIN;
        if let Some(mut output) = self.output.take() {
            if tokio::time::timeout_at(deadline, &mut output).await.is_err() {
                output.abort();
            }
        }
        // With the stream read to its end the writers have their last chunks; each ends once
        // it has written them, or is stopped at the deadline.
        if tokio::time::timeout_at(deadline, self.writers.recv()).await.is_err() {
            tracing::debug!("a slow reader's output was cut after {} s", DRAIN.as_secs());
        }
        self.stop_output.store(true, Ordering::Relaxed);
        while self.writers.recv().await.is_some() {}
        while self.reader.recv().await.is_some() {}
    }
}

impl Drop for Bridge {
    fn drop(&mut self) {
        self.stop_output.store(true, Ordering::Relaxed);
        self.stop_input.store(true, Ordering::Relaxed);
        if let Some(output) = &self.output {
            output.abort();
        }
        if let Some(input) = &self.input {
            input.abort();
        }
    }
}
