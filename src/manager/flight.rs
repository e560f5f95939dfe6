//! Single flight: callers who ask for the same thing while it is being fetched share that one
//! fetch, so an open method called by many at once starts one backend process, not one each.

use std::future::Future;
use std::sync::Mutex;

use futures_util::future::{self, BoxFuture, FutureExt};

use crate::error::Error;

/// At most one fetch of a `T` in flight; everyone who asks meanwhile gets its answer.
pub(super) struct SingleFlight<T: Clone> {
    current: Mutex<Option<future::Shared<BoxFuture<'static, T>>>>,
}

impl<T: Clone + Send + Sync + 'static> Default for SingleFlight<T> {
    fn default() -> Self {
        SingleFlight { current: Mutex::new(None) }
    }
}

impl<T: Clone + Send + Sync + 'static> SingleFlight<T> {
    /// Joins the fetch in flight, or starts `fetch` when there is none. A fetch that has
    /// ended is never reused: the next caller starts a new one.
    pub(super) async fn run<F>(&self, fetch: impl FnOnce() -> F) -> T
    where
        F: Future<Output = T> + Send + 'static,
    {
        let flight = {
            let mut current = self.current.lock().unwrap_or_else(|p| p.into_inner());
            match current.as_ref() {
                Some(f) => f.clone(),
                None => {
                    let f = fetch().boxed().shared();
                    *current = Some(f.clone());
                    f
                }
            }
        };
        let answer = flight.clone().await;
        let mut current = self.current.lock().unwrap_or_else(|p| p.into_inner());
        if current.as_ref().is_some_and(|f| f.ptr_eq(&flight)) {
            *current = None;
        }
        answer
    }
}

/// An error that can be handed to every caller of a shared fetch: its kind and sentence.
#[derive(Debug, Clone)]
pub struct Shared {
    name: &'static str,
    text: String,
}

impl From<Error> for Shared {
    fn from(e: Error) -> Self {
        Shared { name: e.dbus_name(), text: e.to_string() }
    }
}

impl From<Shared> for Error {
    fn from(s: Shared) -> Self {
        match s.name {
            "org.atomic.Error.EngineUnavailable" => Error::EngineUnavailable(s.text),
            "org.atomic.Error.EngineError" => Error::EngineError(s.text),
            "org.atomic.Error.HostNotSupported" => Error::HostNotSupported(s.text),
            _ => Error::Failed(s.text),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;
    use std::time::Duration;

    #[tokio::test]
    async fn concurrent_callers_share_one_fetch_and_later_ones_fetch_anew() {
        let flight: Arc<SingleFlight<usize>> = Arc::default();
        let fetches = Arc::new(AtomicUsize::new(0));
        let ask = |flight: Arc<SingleFlight<usize>>, fetches: Arc<AtomicUsize>| async move {
            flight
                .run(move || async move {
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    fetches.fetch_add(1, Ordering::SeqCst) + 1
                })
                .await
        };
        let many: Vec<_> = (0..50).map(|_| tokio::spawn(ask(flight.clone(), fetches.clone()))).collect();
        for t in many {
            assert_eq!(t.await.ok(), Some(1), "every caller got the one fetch's answer");
        }
        assert_eq!(fetches.load(Ordering::SeqCst), 1);
        assert_eq!(ask(flight.clone(), fetches.clone()).await, 2, "an ended fetch is not reused");
    }
}
