//! The D-Bus object's own workings, beside its methods: its making, a method's caller, and
//! the properties' reads.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use zbus::message::Header;
use zbus::Connection;

use super::ManagerInterface;
use crate::error::Result;
use crate::manager::Manager;
use crate::system::caller::Caller;
use crate::system::lifecycle::{Activity, Busy};
use crate::wire::results::UpdateBlock;

impl ManagerInterface {
    /// Serves `manager`; `engine_available` is the first probe's answer.
    pub fn new(manager: Arc<Manager>, activity: Arc<Activity>, engine_available: bool) -> Self {
        ManagerInterface { manager, activity, engine_available: AtomicBool::new(engine_available) }
    }

    /// The caller of a method, and the call marked as running (for `--idle-exit`) until the
    /// guard drops.
    pub(super) async fn acting(&self, conn: &Connection, header: &Header<'_>) -> Result<(Busy<'_>, Caller)> {
        let busy = self.activity.enter();
        Ok((busy, Caller::from_header(conn, header).await?))
    }

    /// Records a new engine availability; true when it changed.
    pub fn set_engine_available(&self, available: bool) -> bool {
        self.engine_available.swap(available, Ordering::Relaxed) != available
    }

    /// The CachedUpdate property: the cached update, or an empty block when none (or when it
    /// cannot be read, which is logged).
    pub(super) async fn cached_update_block(&self) -> UpdateBlock {
        match self.manager.cached_update().await {
            Ok(update) => update.map(UpdateBlock::from).unwrap_or_default(),
            Err(e) => {
                tracing::warn!("cached update: {e}");
                UpdateBlock::default()
            }
        }
    }
}
