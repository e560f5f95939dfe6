//! The tests of `manager/jobs`.

use std::time::Duration;

use super::*;

struct AllowAll;

#[async_trait::async_trait]
impl Authority for AllowAll {
    async fn check(&self, _: &Caller, _: Action, _: &[(&str, &str)]) -> Result<()> {
        Ok(())
    }
}

/// Grants nothing, and counts what it was asked.
#[derive(Default)]
struct DenyAll(std::sync::Mutex<Vec<&'static str>>);

#[async_trait::async_trait]
impl Authority for DenyAll {
    async fn check(&self, _: &Caller, action: Action, _: &[(&str, &str)]) -> Result<()> {
        self.0.lock().unwrap().push(action.id());
        Err(Error::AccessDenied(format!("{} denied", action.id())))
    }
}

#[tokio::test]
async fn only_the_caller_or_cancel_any_may_cancel_and_only_the_caller_may_resize() {
    let polkit = Arc::new(DenyAll::default());
    let jobs = Jobs::new(None, polkit.clone());
    let owner = Caller { bus_name: ":1.7".into(), uid: 1000, allow_interactive: false };
    let stranger = Caller { bus_name: ":1.9".into(), uid: 1001, allow_interactive: false };
    let mut job = jobs.start("Run", "img", &owner, Shown::default()).await;
    let state = job.state.clone();
    assert!(matches!(state.cancel(&stranger).await, Err(Error::AccessDenied(_))));
    assert_eq!(*polkit.0.lock().unwrap(), ["org.atomic.cancel-any"]);
    assert!(matches!(state.resize(&stranger, 24, 80), Err(Error::AccessDenied(_))));
    let mut resizes = job.take_resizes().unwrap();
    state.resize(&owner, 24, 80).unwrap();
    assert_eq!(resizes.recv().await, Some((24, 80)));
    let (control, _reports) = job.control();
    control.point_of_no_return("writing the deployment list");
    let late = state.cancel(&owner).await;
    assert!(matches!(&late, Err(Error::Failed(m)) if m.contains("point of no return")), "{late:?}");
    assert!(!state.cancellable());
    assert_eq!(polkit.0.lock().unwrap().len(), 1, "the caller's own cancel asks polkit nothing");
}

#[tokio::test]
async fn a_cancel_sticks_when_nothing_is_waiting_for_it_yet() {
    let jobs = Jobs::new(None, Arc::new(AllowAll));
    let caller = Caller { bus_name: ":1.7".into(), uid: 0, allow_interactive: false };
    let job = jobs.start("Run", "atomic-test/plain", &caller, Shown::default()).await;
    jobs.cancel_all();
    let heard = tokio::time::timeout(Duration::from_secs(1), job.cancelled()).await;
    assert!(heard.is_ok(), "a Cancel made before anyone listened was lost");
    let (control, _) = job.control();
    assert!(tokio::time::timeout(Duration::from_secs(1), control.cancelled()).await.is_ok());
}
