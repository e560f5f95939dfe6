//! Deployment lists kept while the sysroot's `ostree/deploy` keeps its mtime: libostree bumps it
//! on every change of the deployment list (it is what its own `load_if_changed` reads), whoever
//! makes the change (atomicd, rpm-ostreed, bootc, an admin). A page polling Status then starts
//! no process per call.

use std::future::Future;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::SystemTime;

use super::Deployment;
use crate::error::Result;

/// The cache of one backend.
#[derive(Debug)]
pub(crate) struct StatusCache {
    /// `ostree/deploy` of a booted host's `/` and of the `/sysroot` it is mounted at: whichever
    /// exists is read.
    dirs: [PathBuf; 2],
    cached: Mutex<Option<(SystemTime, Vec<Deployment>)>>,
}

impl StatusCache {
    /// The cache for the sysroot at `sysroot` (`/` on a booted host).
    pub(crate) fn for_sysroot(sysroot: &Path) -> Self {
        StatusCache {
            dirs: [sysroot.join("ostree/deploy"), sysroot.join("sysroot/ostree/deploy")],
            cached: Mutex::new(None),
        }
    }

    fn mtime(&self) -> Option<SystemTime> {
        self.dirs.iter().find_map(|d| std::fs::metadata(d).and_then(|m| m.modified()).ok())
    }

    /// The cached list while the directory is unchanged, else what `load` reads (kept only
    /// when the directory exists to tell a later change).
    pub(crate) async fn read(
        &self,
        load: impl Future<Output = Result<Vec<Deployment>>>,
    ) -> Result<Vec<Deployment>> {
        let before = self.mtime();
        if let (Some(now), Ok(cache)) = (before, self.cached.lock()) {
            if let Some((_, list)) = cache.as_ref().filter(|(seen, _)| *seen == now) {
                return Ok(list.clone());
            }
        }
        let list = load.await?;
        // A change while reading may or may not be in `list`: keep it only if there was none.
        if let (Some(at), Ok(mut cache)) = (before.filter(|b| Some(*b) == self.mtime()), self.cached.lock()) {
            *cache = Some((at, list.clone()));
        }
        Ok(list)
    }

    /// Drops the cached list (after an operation of atomicd's own, whatever the mtime says).
    pub(crate) fn forget(&self) {
        if let Ok(mut cache) = self.cached.lock() {
            *cache = None;
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicU32, Ordering};

    use super::*;

    #[tokio::test]
    async fn reads_once_while_the_deploy_directory_is_unchanged() {
        let root = std::env::temp_dir().join(format!("atomicd-cache-{}", std::process::id()));
        let deploy = root.join("ostree/deploy");
        std::fs::create_dir_all(&deploy).unwrap();
        let cache = StatusCache::for_sysroot(&root);
        let loads = AtomicU32::new(0);
        let load = || async {
            loads.fetch_add(1, Ordering::SeqCst);
            Ok(vec![Deployment::default()])
        };
        for _ in 0..3 {
            assert_eq!(cache.read(load()).await.map(|l| l.len()).ok(), Some(1));
        }
        assert_eq!(loads.load(Ordering::SeqCst), 1);
        std::thread::sleep(std::time::Duration::from_millis(20));
        std::fs::create_dir(deploy.join("testos")).unwrap();
        let _ = cache.read(load()).await;
        assert_eq!(loads.load(Ordering::SeqCst), 2, "a changed directory is read again");
        cache.forget();
        let _ = cache.read(load()).await;
        assert_eq!(loads.load(Ordering::SeqCst), 3);
        // No directory, no cache: every read asks.
        let nowhere = StatusCache::for_sysroot(&root.join("missing"));
        let _ = nowhere.read(load()).await;
        let _ = nowhere.read(load()).await;
        assert_eq!(loads.load(Ordering::SeqCst), 5);
        let _ = std::fs::remove_dir_all(&root);
    }
}
