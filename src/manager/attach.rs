//! Connects a container's attach stream to the file descriptors a caller passed, for as long as
//! the container runs, then lets go of them.
//!
//! The fds may be the caller's own terminal, whose open file description the caller shares: they
//! are used in blocking mode on threads of their own (never switched to O_NONBLOCK under the
//! caller), and stdin is polled with a timeout so atomicd stops reading the moment the container
//! is gone rather than stealing the next keystroke.

use std::io::{Read, Write};
use std::os::fd::{AsFd, OwnedFd};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use futures_util::StreamExt;
use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
use tokio::io::AsyncWriteExt;
use tokio::sync::mpsc;

use crate::engine::{Attached, Chunk};

/// How often the stdin thread looks at the stop flag.
const STDIN_POLL: u16 = 100;

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

/// A running bridge; [`Bridge::finish`] ends it once the container has exited.
pub struct Bridge {
    stop: Arc<AtomicBool>,
    output: Option<tokio::task::JoinHandle<()>>,
    input: Option<tokio::task::JoinHandle<()>>,
    writers: Vec<std::thread::JoinHandle<()>>,
}

fn writer_thread(fd: OwnedFd) -> (mpsc::UnboundedSender<Vec<u8>>, std::thread::JoinHandle<()>) {
    let (tx, mut rx) = mpsc::unbounded_channel::<Vec<u8>>();
    let handle = std::thread::spawn(move || {
        let mut file = std::fs::File::from(fd);
        while let Some(chunk) = rx.blocking_recv() {
            if file.write_all(&chunk).and_then(|()| file.flush()).is_err() {
                // The caller went away; keep draining so the container is never blocked.
                while rx.blocking_recv().is_some() {}
                return;
            }
        }
    });
    (tx, handle)
}

fn reader_thread(fd: OwnedFd, stop: Arc<AtomicBool>) -> mpsc::Receiver<Vec<u8>> {
    let (tx, rx) = mpsc::channel::<Vec<u8>>(16);
    std::thread::spawn(move || {
        let mut file = std::fs::File::from(fd);
        let mut buf = vec![0u8; 4096];
        while !stop.load(Ordering::Relaxed) {
            let mut fds = [PollFd::new(file.as_fd(), PollFlags::POLLIN)];
            match poll(&mut fds, PollTimeout::from(STDIN_POLL)) {
                Ok(0) => continue,
                Ok(_) => {}
                Err(nix::errno::Errno::EINTR) => continue,
                Err(_) => return,
            }
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
    pub fn start(attached: Attached, fds: CallerFds) -> Bridge {
        let stop = Arc::new(AtomicBool::new(false));
        let Attached { mut output, mut input } = attached;
        let (out, out_writer) = fds.stdout.map(writer_thread).unzip();
        let (err, err_writer) = fds.stderr.map(writer_thread).unzip();
        let writers = out_writer.into_iter().chain(err_writer).collect();
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
                if let Some(tx) = target {
                    let _ = tx.send(chunk);
                }
            }
        });
        let input = fds.stdin.map(|fd| {
            let mut rx = reader_thread(fd, stop.clone());
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
        Bridge { stop, output: Some(output), input, writers }
    }

    /// Resolves when the attached stream has ended (an exec's process exited).
    pub async fn output_ended(&mut self) {
        if let Some(output) = self.output.take() {
            let _ = output.await;
        }
    }

    /// Called once the container has exited: lets the remaining output through (bounded), stops
    /// reading stdin and drops every descriptor of the caller's.
    pub async fn finish(self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(mut output) = self.output {
            if tokio::time::timeout(Duration::from_secs(5), &mut output).await.is_err() {
                output.abort();
            }
        }
        if let Some(input) = self.input {
            input.abort();
        }
        // Everything written before the call returns, so the caller's prompt comes after it.
        let writers = self.writers;
        let joined = tokio::task::spawn_blocking(move || writers.into_iter().for_each(|w| drop(w.join())));
        let _ = tokio::time::timeout(Duration::from_secs(5), joined).await;
    }
}
