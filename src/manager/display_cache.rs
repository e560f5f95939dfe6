//! What `display` (a dry run, which authorizes nothing) reads about images and containers, kept
//! while the engine's event stream is followed and dropped by every event that could change it:
//! podman's image inspect alone costs more than display's 10 ms budget. A real Run never reads
//! it: what is authorized is always inspected afresh.

use std::collections::HashMap;
use std::sync::Mutex;

use crate::engine::{ContainerInfo, EngineChange, ImageInfo};

/// The cache; empty and unused while no event stream is followed.
#[derive(Default)]
pub(super) struct DisplayCache {
    inner: Mutex<Inner>,
}

#[derive(Default)]
struct Inner {
    /// Whether the event stream is followed now (else nothing is kept).
    following: bool,
    images: HashMap<String, ImageInfo>,
    containers: HashMap<String, Option<ContainerInfo>>,
}

impl DisplayCache {
    fn with<T>(&self, f: impl FnOnce(&mut Inner) -> T) -> Option<T> {
        self.inner.lock().ok().map(|mut inner| f(&mut inner))
    }

    /// The engine's event stream is followed from now on (`true`) or was lost (`false`);
    /// either way nothing kept so far can be trusted.
    pub(super) fn following(&self, now: bool) {
        self.with(|i| {
            i.following = now;
            i.images.clear();
            i.containers.clear();
        });
    }

    /// An event: what it may have changed is dropped.
    pub(super) fn changed(&self, change: EngineChange) {
        self.with(|i| match change {
            // A tag moved or an image went: every reference may resolve otherwise now.
            EngineChange::Image => i.images.clear(),
            EngineChange::Container => i.containers.clear(),
        });
    }

    /// The kept inspect of `image`.
    pub(super) fn image(&self, image: &str) -> Option<ImageInfo> {
        self.with(|i| i.images.get(image).cloned()).flatten()
    }

    /// Keeps an inspect of `image` (only while events are followed).
    pub(super) fn keep_image(&self, image: &str, info: &ImageInfo) {
        self.with(|i| {
            if i.following {
                i.images.insert(image.to_owned(), info.clone());
            }
        });
    }

    /// The kept lookup of container `name` (`Some(None)`: known not to exist).
    pub(super) fn container(&self, name: &str) -> Option<Option<ContainerInfo>> {
        self.with(|i| i.containers.get(name).cloned()).flatten()
    }

    /// Keeps a lookup of container `name` (only while events are followed).
    pub(super) fn keep_container(&self, name: &str, found: &Option<ContainerInfo>) {
        self.with(|i| {
            if i.following {
                i.containers.insert(name.to_owned(), found.clone());
            }
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kept_only_while_events_are_followed_and_dropped_by_them() {
        let cache = DisplayCache::default();
        let info = ImageInfo { id: "sha256:1".into(), ..ImageInfo::default() };
        cache.keep_image("app", &info);
        assert!(cache.image("app").is_none(), "nothing is kept without the event stream");
        cache.following(true);
        cache.keep_image("app", &info);
        cache.keep_container("app", &None);
        assert_eq!(cache.image("app").map(|i| i.id), Some("sha256:1".into()));
        assert_eq!(cache.container("app").map(|c| c.is_none()), Some(true));
        cache.changed(EngineChange::Container);
        assert!(cache.container("app").is_none() && cache.image("app").is_some());
        cache.changed(EngineChange::Image);
        assert!(cache.image("app").is_none());
        cache.keep_image("app", &info);
        cache.following(false);
        assert!(cache.image("app").is_none(), "a lost stream drops everything");
    }
}
