//! What keeps atomicd running and what systemd hears of it: calls in flight, idle exit without
//! losing a call, the watchdog, and STATUS= lines.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Counts method calls in flight and remembers when the last one ended.
#[derive(Debug)]
pub struct Activity {
    in_flight: AtomicUsize,
    last: Mutex<Instant>,
}

/// Held for the length of one method call.
pub struct Busy<'a>(&'a Activity);

impl Default for Activity {
    fn default() -> Self {
        Activity { in_flight: AtomicUsize::new(0), last: Mutex::new(Instant::now()) }
    }
}

impl Activity {
    /// Marks a call as running until the guard drops.
    pub fn enter(&self) -> Busy<'_> {
        self.in_flight.fetch_add(1, Ordering::SeqCst);
        Busy(self)
    }

    /// How long nothing has run; `None` while a call runs.
    pub fn idle_for(&self) -> Option<Duration> {
        if self.in_flight.load(Ordering::SeqCst) > 0 {
            return None;
        }
        self.last.lock().ok().map(|t| t.elapsed())
    }
}

impl Drop for Busy<'_> {
    fn drop(&mut self) {
        if let Ok(mut last) = self.0.last.lock() {
            *last = Instant::now();
        }
        self.0.in_flight.fetch_sub(1, Ordering::SeqCst);
    }
}

/// Sends sd_notify states; a missing NOTIFY_SOCKET is not an error.
pub(crate) fn notify(states: &[sd_notify::NotifyState<'_>]) {
    if let Err(e) = sd_notify::notify(states) {
        tracing::debug!("sd_notify: {e}");
    }
}

/// Pings the systemd watchdog at half its interval, when the unit has one.
pub(crate) async fn watchdog() {
    let Some(interval) = sd_notify::watchdog_enabled() else {
        return std::future::pending().await;
    };
    let mut tick = tokio::time::interval(interval / 2);
    loop {
        tick.tick().await;
        notify(&[sd_notify::NotifyState::Watchdog]);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn idle_only_when_nothing_runs() {
        let a = Activity::default();
        let busy = a.enter();
        assert_eq!(a.idle_for(), None);
        let nested = a.enter();
        drop(busy);
        assert_eq!(a.idle_for(), None);
        drop(nested);
        assert!(a.idle_for().is_some_and(|d| d < Duration::from_secs(1)));
    }
}
