//! The CLI's own job: found by its Caller (our unique bus name) as atomicd announces it, so the
//! CLI can show its progress, forward terminal resizes and cancel it on Ctrl-C.

use std::collections::HashMap;
use std::io::IsTerminal;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures_util::StreamExt;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use zbus::message::Type;
use zbus::zvariant::OwnedObjectPath;
use zbus::{MatchRule, MessageStream};

use crate::dbus::proxy::{JobProperties, JobProxy};
use crate::wire::names::{BUS_NAME, MANAGER_PATH};

/// How the job's progress is shown on stderr.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Display {
    /// A progress bar, redrawn in place: stderr is a terminal.
    Bar,
    /// One line per new message: stderr is a file or a pipe, whose reader wants lines.
    Lines,
    /// Nothing: the container's own output owns the terminal (attached Run).
    Silent,
}

impl Display {
    /// A bar on a terminal, plain lines otherwise.
    pub fn for_stderr() -> Self {
        if std::io::stderr().is_terminal() {
            Display::Bar
        } else {
            Display::Lines
        }
    }
}

/// What the watch knows of our job.
#[derive(Default)]
struct Found {
    path: Option<OwnedObjectPath>,
    /// Ctrl-C came before the job was announced: cancel it as soon as it is.
    cancel_pending: bool,
}

/// Follows this client's job while a call runs.
pub struct JobWatch {
    conn: zbus::Connection,
    found: Arc<Mutex<Found>>,
    bar: Option<ProgressBar>,
    task: tokio::task::JoinHandle<()>,
}

/// The bar's resolution: Progress is a fraction, the bar counts thousandths.
const BAR_STEPS: u64 = 1000;

fn bar_style(known: bool) -> ProgressStyle {
    let template =
        if known { "{spinner} {wide_msg} [{bar:30}] {percent:>3}%" } else { "{spinner} {wide_msg}" };
    ProgressStyle::with_template(template)
        .unwrap_or_else(|_| ProgressStyle::default_spinner())
        .progress_chars("=> ")
}

/// Shows the job's Progress and Message as the display asks.
struct Shown {
    display: Display,
    /// The container's output owns the terminal, but a pull before it shows its progress.
    silent_but_pulls: bool,
    /// Print what the job may do to the host when it is announced (`--quiet` turns it off).
    banner: bool,
    bar: Option<ProgressBar>,
    known: Option<bool>,
    last: String,
}

fn new_bar() -> ProgressBar {
    let bar = ProgressBar::with_draw_target(Some(BAR_STEPS), ProgressDrawTarget::stderr());
    bar.set_style(bar_style(false));
    bar.enable_steady_tick(Duration::from_millis(120));
    bar
}

/// Control characters in text from a label or the engine are shown escaped, so no such text
/// can move the cursor or erase what was printed before it.
pub fn printable(text: &str) -> String {
    crate::text::visible(text).into_owned()
}

impl Shown {
    /// A new job of ours was announced: a pull shows its progress even before an attached
    /// run; the run after it leaves the terminal to the container.
    fn announced(&mut self, operation: Option<&str>) {
        if !self.silent_but_pulls {
            return;
        }
        if operation == Some("Pull") {
            self.display = Display::for_stderr();
            if self.display == Display::Bar && self.bar.is_none() {
                self.bar = Some(new_bar());
                self.known = None;
            }
        } else {
            if let Some(bar) = self.bar.take() {
                bar.finish_and_clear();
            }
            self.display = Display::Silent;
        }
    }

    /// What the container may do to the host, before it runs.
    fn privileges(&self, list: &[String]) {
        if !self.banner || list.is_empty() {
            return;
        }
        let text: String = std::iter::once("atomic: this container may change the host:".to_owned())
            .chain(list.iter().map(|p| format!("  - {}", printable(p))))
            .collect::<Vec<_>>()
            .join("\n");
        match &self.bar {
            Some(bar) => bar.suspend(|| eprintln!("{text}")),
            None => eprintln!("{text}"),
        }
    }

    fn update(&mut self, progress: Option<f64>, message: Option<String>) {
        match (self.display, &self.bar) {
            (Display::Bar, Some(bar)) => {
                if let Some(p) = progress {
                    let known = p >= 0.0;
                    if self.known != Some(known) {
                        bar.set_style(bar_style(known));
                        self.known = Some(known);
                    }
                    if known {
                        // Truncation is the point: a fraction becomes whole thousandths.
                        #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
                        bar.set_position((p.clamp(0.0, 1.0) * BAR_STEPS as f64) as u64);
                    }
                }
                if let Some(m) = message {
                    bar.set_message(printable(&m));
                }
            }
            (Display::Lines, _) => {
                if let Some(m) = message {
                    if !m.is_empty() && m != self.last {
                        eprintln!("atomic: {}", printable(&m));
                        self.last = m;
                    }
                }
            }
            _ => {}
        }
    }
}

impl JobWatch {
    /// Subscribes before the call is made, so the job's announcement cannot be missed.
    pub async fn start(conn: &zbus::Connection, display: Display, banner: bool) -> zbus::Result<JobWatch> {
        let me = conn.unique_name().map(|n| n.to_string()).unwrap_or_default();
        let rule = MatchRule::builder()
            .msg_type(Type::Signal)
            .sender(BUS_NAME)?
            .path_namespace(MANAGER_PATH)?
            .build();
        let mut stream = MessageStream::for_match_rule(rule, conn, Some(64)).await?;
        let bar = (display == Display::Bar).then(new_bar);
        let silent_but_pulls = display == Display::Silent;
        let mut shown =
            Shown { display, silent_but_pulls, banner, bar: bar.clone(), known: None, last: String::new() };
        let found: Arc<Mutex<Found>> = Arc::default();
        let mine = found.clone();
        let canceller = conn.clone();
        let task = tokio::spawn(async move {
            while let Some(Ok(msg)) = stream.next().await {
                let header = msg.header();
                match header.member().map(|m| m.as_str()) {
                    Some("InterfacesAdded") => {
                        let Ok((object, mut ifaces)) =
                            msg.body().deserialize::<(OwnedObjectPath, HashMap<String, JobProperties>)>()
                        else {
                            continue;
                        };
                        let Some(job) = ifaces.remove("org.atomic.Job") else { continue };
                        if job.caller.as_deref() != Some(me.as_str()) {
                            continue;
                        }
                        shown.announced(job.operation.as_deref());
                        shown.privileges(job.privileges.as_deref().unwrap_or_default());
                        shown.update(job.progress, job.message);
                        let pending = mine.lock().is_ok_and(|mut f| {
                            f.path = Some(object.clone());
                            f.cancel_pending
                        });
                        if pending {
                            cancel(&canceller, &object).await;
                        }
                    }
                    Some("InterfacesRemoved") => {
                        // Our pull before an attached run has ended: its bar goes before anything
                        // else is printed.
                        let ours = mine.lock().ok().and_then(|f| f.path.clone());
                        let gone =
                            msg.body().deserialize::<(OwnedObjectPath, Vec<String>)>().ok().map(|(p, _)| p);
                        if ours.is_some() && ours == gone {
                            shown.announced(None);
                        }
                    }
                    Some("PropertiesChanged") => {
                        let ours = mine.lock().ok().and_then(|f| f.path.clone());
                        let here = header.path().map(|p| p.as_str().to_owned());
                        if ours.as_ref().map(|p| p.as_str().to_owned()) != here {
                            continue;
                        }
                        let Ok((_, changed, _)) =
                            msg.body().deserialize::<(String, JobProperties, Vec<String>)>()
                        else {
                            continue;
                        };
                        shown.update(changed.progress, changed.message);
                    }
                    _ => {}
                }
            }
        });
        Ok(JobWatch { conn: conn.clone(), found, bar, task })
    }

    fn path(&self) -> Option<OwnedObjectPath> {
        self.found.lock().ok().and_then(|f| f.path.clone())
    }

    /// Asks atomicd to resize our job's terminal.
    pub async fn resize(&self, rows: u16, columns: u16) {
        if let Some(path) = self.path() {
            if let Ok(job) = job_proxy(&self.conn, &path).await {
                let _ = job.resize_tty(rows, columns).await;
            }
        }
    }

    /// Cancels our job, now or as soon as atomicd announces it.
    pub async fn cancel(&self) {
        let path = self.found.lock().ok().and_then(|mut f| {
            f.cancel_pending = true;
            f.path.clone()
        });
        if let Some(path) = path {
            cancel(&self.conn, &path).await;
        }
    }
}

async fn job_proxy(conn: &zbus::Connection, path: &OwnedObjectPath) -> zbus::Result<JobProxy<'static>> {
    JobProxy::builder(conn)
        .path(path.clone())?
        .cache_properties(zbus::proxy::CacheProperties::No)
        .build()
        .await
}

/// Cancels the job at `path`; a job that already ended has nothing left to cancel.
async fn cancel(conn: &zbus::Connection, path: &OwnedObjectPath) {
    if let Ok(job) = job_proxy(conn, path).await {
        let _ = job.cancel().await;
    }
}

impl Drop for JobWatch {
    fn drop(&mut self) {
        self.task.abort();
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }
}
