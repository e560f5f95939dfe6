//! A host that keeps its deployments as a real backend does, and its power and fstrim, for
//! the manager's tests.

use super::*;

/// A host that keeps its deployments as a real backend does: upgrades (which wait for
/// `release` while `hold` is set, so Busy can be seen) deploy `available`, and a check reports
/// it; deploy, rebase, pin and cleanup change the list; `broken` makes every read fail.
pub(super) struct FakeHost {
    pub(super) release: tokio::sync::Notify,
    pub(super) hold: std::sync::atomic::AtomicBool,
    pub(super) broken: std::sync::atomic::AtomicBool,
    /// How many times the deployments were read.
    pub(super) reads: std::sync::atomic::AtomicUsize,
    pub(super) list: Mutex<Vec<Deployment>>,
    pub(super) available: Mutex<Option<CachedUpdate>>,
}

impl Default for FakeHost {
    fn default() -> Self {
        FakeHost {
            release: tokio::sync::Notify::new(),
            hold: std::sync::atomic::AtomicBool::new(false),
            broken: std::sync::atomic::AtomicBool::new(false),
            reads: std::sync::atomic::AtomicUsize::new(0),
            list: Mutex::new(vec![fake_deployment("1.0", true)]),
            available: Mutex::new(None),
        }
    }
}

pub(super) fn fake_deployment(version: &str, booted: bool) -> Deployment {
    Deployment {
        id: format!("os-c{version}.0"),
        checksum: format!("c{version}"),
        version: version.into(),
        origin: "o:os/stable".into(),
        booted,
        default: true,
        ..Deployment::default()
    }
}

impl FakeHost {
    pub(super) fn lock(&self) -> std::sync::MutexGuard<'_, Vec<Deployment>> {
        self.list.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Puts `new` first as the default, the rest after it.
    pub(super) fn push_default(&self, new: Deployment) -> Deployment {
        let mut list = self.lock();
        for d in list.iter_mut() {
            d.default = false;
        }
        list.insert(0, Deployment { default: true, ..new });
        list[0].clone()
    }

    pub(super) fn versions(&self) -> Vec<String> {
        self.lock().iter().map(|d| d.version.clone()).collect()
    }
}

#[async_trait]
impl HostBackend for FakeHost {
    fn kind(&self) -> BackendKind {
        BackendKind::Ostree
    }
    async fn deployments(&self) -> Result<Vec<Deployment>> {
        self.reads.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        // As slow as a process start, so concurrent callers overlap.
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        if self.broken.load(std::sync::atomic::Ordering::SeqCst) {
            return Err(Error::Failed(
                "rpm-ostree status --json failed (exit status: 1): error: daemon gone".into(),
            ));
        }
        Ok(self.lock().clone())
    }
    async fn upgrade(&self, check: bool, _: Control) -> Result<UpgradeOutcome> {
        if self.hold.load(std::sync::atomic::Ordering::SeqCst) {
            self.release.notified().await;
        }
        let available = self.available.lock().unwrap_or_else(|p| p.into_inner()).clone();
        let current = self.lock().first().cloned();
        match available {
            Some(u) if check => Ok(UpgradeOutcome { changed: true, deployment: current, update: Some(u) }),
            Some(u) => {
                let new =
                    self.push_default(Deployment { booted: false, ..fake_deployment(&u.version, false) });
                Ok(UpgradeOutcome { changed: true, deployment: Some(new), update: None })
            }
            None => Ok(UpgradeOutcome { changed: false, deployment: current, update: None }),
        }
    }
    async fn rollback(&self, control: Control) -> Result<Deployment> {
        assert!(control.committed(), "a rollback runs past its point of no return");
        let mut list = self.lock();
        if list.len() < 2 {
            return Err(Error::Failed("there is no previous deployment to roll back to".into()));
        }
        list.swap(0, 1);
        list[0].default = true;
        list[1].default = false;
        Ok(list[0].clone())
    }
    async fn deploy(&self, revision: &str, _: Control) -> Result<Deployment> {
        Ok(self.push_default(fake_deployment(revision, false)))
    }
    async fn rebase(&self, origin: &str, revision: Option<&str>, _: Control) -> Result<Deployment> {
        let d = fake_deployment(revision.unwrap_or("latest"), false);
        Ok(self.push_default(Deployment { origin: origin.into(), ..d }))
    }
    async fn pin(&self, id: &str, pinned: bool) -> Result<()> {
        for d in self.lock().iter_mut().filter(|d| d.id == id) {
            d.pinned = pinned;
        }
        Ok(())
    }
    async fn cleanup(&self, what: crate::host::Cleanup) -> Result<Vec<String>> {
        let victims = crate::host::cleanup_victims(&self.lock(), what);
        self.lock().retain(|d| !victims.contains(&d.id));
        Ok(victims)
    }
}

/// fstrim in memory: every directory is its own filesystem that gives back 4096 bytes, and
/// what was trimmed is recorded.
#[derive(Default)]
pub(super) struct FakeTrim {
    pub(super) trimmed: Mutex<Vec<String>>,
}

#[async_trait]
impl crate::system::trim::Trim for FakeTrim {
    async fn trim(&self, dirs: &[String]) -> Vec<crate::system::trim::Trimmed> {
        self.trimmed.lock().unwrap_or_else(|p| p.into_inner()).extend(dirs.iter().cloned());
        dirs.iter().map(|d| crate::system::trim::Trimmed { dirs: vec![d.clone()], bytes: Ok(4096) }).collect()
    }
}

#[derive(Default)]
pub(super) struct FakePower {
    pub(super) reboots: Mutex<u32>,
}

#[async_trait]
impl Power for FakePower {
    async fn reboot(&self) -> Result<()> {
        *self.reboots.lock().unwrap_or_else(|p| p.into_inner()) += 1;
        Ok(())
    }
}
