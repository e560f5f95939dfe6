//! systemd in memory: units by name with their state, and a log of what was asked. A start
//! makes a unit active, a stop inactive; `failing` makes the next call of that kind fail.

use std::collections::HashMap;
use std::sync::Mutex;

use async_trait::async_trait;

use crate::error::{Error, Result};
use crate::system::systemd::{Systemd, UnitState};

/// What a unit's ExecStart does when systemd starts it, given the unit's name.
pub(super) type UnitRuns = std::sync::Arc<dyn Fn(String) + Send + Sync>;

#[derive(Default)]
pub(super) struct FakeSystemd {
    pub(super) units: Mutex<HashMap<String, UnitState>>,
    pub(super) calls: Mutex<Vec<String>>,
    /// A call kind (`enable`, `start`...) that fails once.
    pub(super) failing: Mutex<Option<&'static str>>,
    /// What a restarted unit's ExecStart does (the test hands in the manager's StartApplication).
    pub(super) restarted: Mutex<Option<UnitRuns>>,
}

impl FakeSystemd {
    fn act(&self, kind: &'static str, unit: &str, active: Option<&str>) -> Result<()> {
        self.calls
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(format!("{kind} {unit}").trim_end().to_owned());
        let mut failing = self.failing.lock().unwrap_or_else(|p| p.into_inner());
        if *failing == Some(kind) {
            *failing = None;
            return Err(Error::Failed(format!("systemd: cannot {kind} {unit}: refused by the test")));
        }
        if let Some(active) = active {
            let mut units = self.units.lock().unwrap_or_else(|p| p.into_inner());
            let state = units.entry(unit.to_owned()).or_default();
            state.load = "loaded".into();
            state.active = active.into();
        }
        Ok(())
    }

    /// A unit systemd has from a file atomicd did not write.
    pub(super) fn has(&self, unit: &str, file: &str) {
        let state = UnitState {
            load: "loaded".into(),
            active: "inactive".into(),
            sub: "dead".into(),
            file: file.into(),
        };
        self.units.lock().unwrap_or_else(|p| p.into_inner()).insert(unit.to_owned(), state);
    }

    pub(super) fn calls(&self) -> Vec<String> {
        self.calls.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }
}

#[async_trait]
impl Systemd for FakeSystemd {
    async fn reload(&self) -> Result<()> {
        self.act("reload", "", None)
    }
    async fn enable(&self, unit: &str) -> Result<()> {
        self.act("enable", unit, None)
    }
    async fn disable(&self, unit: &str) -> Result<()> {
        self.act("disable", unit, None)
    }
    async fn start(&self, unit: &str) -> Result<()> {
        self.act("start", unit, Some("active"))
    }
    async fn stop(&self, unit: &str) -> Result<()> {
        self.act("stop", unit, Some("inactive"))
    }
    async fn restart(&self, unit: &str) -> Result<()> {
        self.act("restart", unit, Some("active"))?;
        let restarted = self.restarted.lock().unwrap_or_else(|p| p.into_inner()).clone();
        if let Some(unit_runs) = restarted {
            unit_runs(unit.to_owned());
        }
        Ok(())
    }
    async fn state(&self, unit: &str) -> Result<UnitState> {
        let units = self.units.lock().unwrap_or_else(|p| p.into_inner());
        Ok(units
            .get(unit)
            .cloned()
            .unwrap_or_else(|| UnitState { load: "not-found".into(), ..UnitState::default() }))
    }
}
