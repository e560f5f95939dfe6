//! `atomic apps`: the applications installed as services, listed, rolled back and given a
//! policy; and what their units run,
//! `atomic apps run NAME` (ExecStart: atomicd runs its record, this process relays the output
//! to the unit's journal) and `atomic apps stop NAME` (ExecStop).

use std::io::Write;
use std::os::fd::OwnedFd;
use std::time::Duration;

use super::args::{AppsArgs, AppsCommand};
use super::{exit_status, tables, Failure};
use crate::dbus::proxy::{
    dict_to_json, AppPolicySettings, AppStartOptions, AppStopOptions, AppUpdateOptions, InstallResult,
    ManagerProxy,
};

/// How long `apps run` keeps asking while atomicd restarts before it gives up (and the unit's
/// Restart= takes over).
const REATTACH_FOR: Duration = Duration::from_secs(120);
/// A follow that lasted this long worked: atomicd going away after it starts a new series of
/// retries, so a host whose atomicd restarts now and then (upgrades, the watchdog) keeps its
/// application's unit running however long it has been up.
const FOLLOWED: Duration = Duration::from_secs(10);

/// Runs one `atomic apps` command.
pub(super) async fn dispatch(proxy: &ManagerProxy<'_>, a: AppsArgs) -> Result<u8, Failure> {
    match a.action {
        None => list(proxy, a.json).await,
        Some(AppsCommand::List(j)) => list(proxy, j.json).await,
        Some(AppsCommand::Run(app)) => run(proxy, &app.name).await,
        Some(AppsCommand::Stop(app)) => {
            let r = proxy.stop_application(&app.name, &AppStopOptions::default()).await?;
            if let Some(id) = r.stopped {
                eprintln!("atomic: stopped {}", super::render::short(&id));
            }
            Ok(0)
        }
        Some(AppsCommand::Rollback(app)) => {
            let r = proxy.rollback_application(&app.name, &AppUpdateOptions::default()).await?;
            eprintln!("atomic: {}", super::job::printable(&r.result));
            Ok(0)
        }
        Some(AppsCommand::Policy(p)) => {
            let settings = AppPolicySettings {
                auto_update: p.auto_update,
                interval: p.interval,
                healthy_after: p.healthy_after,
                health_timeout: p.health_timeout,
                windows: p.windows,
                fleet_lock: p.fleet_lock,
                group: p.group,
            };
            proxy.set_application_policy(&p.name, &settings).await?;
            Ok(0)
        }
    }
}

async fn list(proxy: &ManagerProxy<'_>, json: bool) -> Result<u8, Failure> {
    if json {
        let list: Vec<serde_json::Value> =
            proxy.list_applications_dicts().await?.iter().map(dict_to_json).collect();
        println!("{}", serde_json::to_string_pretty(&list).unwrap_or_default());
    } else {
        print!("{}", tables::apps(&proxy.list_applications().await?));
    }
    Ok(0)
}

/// A pipe whose write end goes to atomicd and whose read end this process copies to `out`:
/// journald credits each write to the process that makes it, so the container's output counts
/// as the unit's (`journalctl -u atomic-app-NAME`) only when the unit's own process writes it.
fn relay<W: Write + Send + 'static>(
    mut out: W,
) -> Result<(zbus::zvariant::OwnedFd, std::thread::JoinHandle<()>), Failure> {
    let (mut reader, writer) =
        std::io::pipe().map_err(|e| Failure::new(format!("cannot make a pipe for the output: {e}"), 1))?;
    let copier = std::thread::spawn(move || {
        let _ = std::io::copy(&mut reader, &mut out);
        let _ = out.flush();
    });
    Ok((zbus::zvariant::OwnedFd::from(OwnedFd::from(writer)), copier))
}

/// Whether a failed StartApplication is atomicd going away under the call (a restart, a
/// watchdog kill, its job cancelled at stop), after which the application still runs and is
/// followed again; anything else ends the unit's process.
fn atomicd_went_away(e: &zbus::Error) -> bool {
    match e {
        zbus::Error::MethodError(name, _, _) => {
            matches!(
                name.as_str(),
                "org.atomic.Error.Cancelled"
                    | "org.freedesktop.DBus.Error.NoReply"
                    | "org.freedesktop.DBus.Error.ServiceUnknown"
                    | "org.freedesktop.DBus.Error.NameHasNoOwner"
                    | "org.freedesktop.DBus.Error.Disconnected"
            ) || name.as_str().starts_with("org.freedesktop.DBus.Error.Spawn.")
        }
        _ => false,
    }
}

/// The unit's ExecStart: follows the application until its container ends, and exits with its
/// code; while atomicd restarts the container runs on, and is followed again.
async fn run(proxy: &ManagerProxy<'_>, name: &str) -> Result<u8, Failure> {
    // When atomicd first went away in this series of failed follows.
    let mut since = None::<std::time::Instant>;
    loop {
        let began = std::time::Instant::now();
        let (stdout, out_copier) = relay(std::io::stdout())?;
        let (stderr, err_copier) = relay(std::io::stderr())?;
        let options = AppStartOptions { stdout: Some(stdout), stderr: Some(stderr) };
        let answer = proxy.start_application(name, &options).await;
        // Our write ends close here, atomicd's when it answered: the copiers reach the end.
        drop(options);
        let _ = (out_copier.join(), err_copier.join());
        match answer {
            Ok(r) => return Ok(exit_status(r.exit_code)),
            Err(e) if atomicd_went_away(&e) => {
                let Some(first) = retries_from(since, began.elapsed(), std::time::Instant::now()) else {
                    return Err(e.into());
                };
                since = Some(first);
                eprintln!("atomic: atomicd stopped following {name} ({e}); following it again");
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
            Err(e) => return Err(e.into()),
        }
    }
}

/// When the series of failed follows that a follow of `lasted` ends began (None: it has been
/// going on for [`REATTACH_FOR`], give up). `since` is the series so far.
fn retries_from(
    since: Option<std::time::Instant>,
    lasted: Duration,
    now: std::time::Instant,
) -> Option<std::time::Instant> {
    let first = match since {
        Some(t) if lasted < FOLLOWED => t,
        _ => now,
    };
    (now.duration_since(first) < REATTACH_FOR).then_some(first)
}

/// What `atomic install` says of the service it set up, or would.
pub(super) fn print_service(r: &InstallResult, display: bool) {
    let Some(unit) = &r.service else { return };
    if display {
        println!("service {unit} runs: {}", crate::text::display_line(&r.service_command));
        if !r.service_privileges.is_empty() {
            println!("  which may: {}", super::job::printable(&r.service_privileges.join("; ")));
        }
    } else {
        eprintln!("atomic: installed as the service {unit} (systemctl status {unit}; atomic apps)");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_follow_that_worked_starts_a_new_series_of_retries() {
        let t0 = std::time::Instant::now();
        let at = |s: u64| t0 + Duration::from_secs(s);
        let quick = Duration::from_secs(1);
        // atomicd went away: retries for 120 s, then the unit's Restart= takes over.
        assert_eq!(retries_from(None, quick, at(0)), Some(at(0)));
        assert_eq!(retries_from(Some(at(0)), quick, at(119)), Some(at(0)));
        assert_eq!(retries_from(Some(at(0)), quick, at(120)), None);
        // Followed for an hour after the first outage: the next outage is a new one.
        assert_eq!(retries_from(Some(at(0)), Duration::from_secs(3600), at(3700)), Some(at(3700)));
    }
}
