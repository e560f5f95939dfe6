//! The service half of Install and Uninstall: the RUN line an application runs as a service,
//! planned and checked before anything is written; its record and unit written once the
//! Install succeeded; both gone at Uninstall, the unit stopped and disabled first.

use std::collections::HashMap;
use std::time::Duration;

use super::record::{App, Inputs, Release};
use super::unit::{check_name, unit_name};
use crate::engine::ImageInfo;
use crate::error::{Error, Result};
use crate::label::{ImageRef, Vars};
use crate::manager::plan::{self, Plan};
use crate::manager::{now, Manager};
use crate::system::caller::Caller;

/// The label with which an image asks to be installed as a service.
pub(crate) const SERVICE_LABEL: &str = "org.atomic.service";

/// How long Uninstall waits for the unit to stop (its TimeoutStopSec, and a little).
const UNIT_STOP_WAIT: Duration = Duration::from_secs(80);

/// Whether an Install makes a service: the caller's `service` option when given (so `false`
/// declines an image's request), else the image's `org.atomic.service` label, which asks only
/// when it is exactly `true`.
pub(crate) fn wants_service(option: Option<bool>, labels: &HashMap<String, String>) -> bool {
    option.unwrap_or_else(|| labels.get(SERVICE_LABEL).is_some_and(|v| v == "true"))
}

impl Manager {
    /// The plan of the RUN line an Install records as the application `name`, checked before
    /// anything runs or is written: a valid unit name, a RUN line that is detached and names
    /// its container NAME, reads no env file (nobody sends one at boot), and a unit name
    /// neither another application nor anything else of systemd's has.
    pub(crate) async fn plan_service(
        &self,
        image: &ImageRef,
        info: &ImageInfo,
        vars: &Vars,
        name: &str,
    ) -> Result<Plan> {
        check_name(name)?;
        let mut plan = self.checked_service_line(image, info, vars, name)?;
        let unit = unit_name(name);
        match self.applications()?.get(name) {
            Some(app) if app.image != image.as_str() => {
                return Err(Error::Failed(format!(
                    "the application {name:?} is installed from {:?}; uninstall it first or pass another name",
                    app.image
                )))
            }
            // A new Install of the same application writes its own unit again.
            Some(_) => {}
            None if self.units.exists(name) => {
                return Err(Error::Failed(format!(
                    "{} exists and atomicd did not write it: it is left alone; remove it yourself or pass another name",
                    self.units.dir.join(&unit).display()
                )))
            }
            None => {
                let state = self.systemd.state(&unit).await?;
                if state.exists() {
                    return Err(Error::Failed(format!(
                        "systemd already has a unit {unit} ({}) that atomicd did not write; pass another name",
                        if state.file.is_empty() { state.load.as_str() } else { state.file.as_str() }
                    )));
                }
            }
        }
        plan.service = Some(unit);
        Ok(plan)
    }

    /// The RUN line of `image` as the application `name` would run it, refused unless it is
    /// detached, names its container NAME and reads no env file (nobody sends one at boot).
    pub(crate) fn checked_service_line(
        &self,
        image: &ImageRef,
        info: &ImageInfo,
        vars: &Vars,
        name: &str,
    ) -> Result<Plan> {
        let plan = plan::service_line(image.clone(), info, vars)?.ok_or_else(|| {
            Error::LabelMissing(format!(
                "image {:?} has no RUN label: an application runs as a service by its RUN line",
                image.as_str()
            ))
        })?;
        let spec = plan.spec.as_ref().ok_or_else(|| Error::Failed("the plan has no line".into()))?;
        let refuse = |why: &str| {
            Err(Error::UnsupportedLabel(format!(
                "the RUN label of {:?} cannot run as a service: {why}",
                image.as_str()
            )))
        };
        if !spec.detach {
            return refuse("its line is not detached (-d), so it is a command that ends, not a service");
        }
        if spec.name.as_deref() != Some(name) {
            return refuse(&format!("its line must name its container {name:?} (--name NAME)"));
        }
        if !spec.env_files.is_empty() {
            return refuse("its line reads env files, which nobody sends when the unit starts at boot");
        }
        Ok(plan)
    }

    /// After a successful Install: the record, then the unit, enabled and started. A unit that
    /// cannot be written or loaded takes the record with it; one that does not start stays
    /// (systemctl status says why) and the call warns.
    pub(crate) async fn install_service(
        &self,
        caller: &Caller,
        plan: &Plan,
        name: &str,
        inputs: Inputs,
    ) -> Result<Vec<String>> {
        let old = self.applications()?.remove(name);
        let current = Release {
            image_id: plan.image_id.clone(),
            argv: plan.argv.clone(),
            privileges: plan.privileges.clone(),
        };
        let previous = old.map(|o| o.current).filter(|r| r.image_id != current.image_id);
        let app = App {
            name: name.to_owned(),
            image: plan.image.as_str().to_owned(),
            installed_by: caller.uid,
            installed_at: now(),
            current,
            previous,
            last_result: "installed".into(),
            last_change: now(),
            inputs,
            last_check: 0,
            update_available: String::new(),
            rollbacks_in_a_row: 0,
            updating: None,
        };
        let unit = app.unit();
        self.put_application(name, Some(app)).await?;
        let loaded = async {
            let path = self.units.write(name)?;
            self.systemd.reload().await?;
            self.systemd.enable(&unit).await?;
            Ok::<_, Error>(path)
        };
        let path = match loaded.await {
            Ok(path) => path,
            Err(e) => {
                let _ = self.units.remove(name);
                let _ = self.systemd.reload().await;
                self.put_application(name, None).await?;
                return Err(Error::Failed(format!(
                    "the application {name:?} is installed, but its unit could not be set up ({e}); \
                     it is not a service: uninstall it, or install it again"
                )));
            }
        };
        tracing::info!(application = name, unit = %path.display(), "application installed as a service");
        match self.systemd.start(&unit).await {
            Ok(()) => Ok(Vec::new()),
            Err(e) => {
                Ok(vec![format!("{unit} is enabled but did not start ({e}): see systemctl status {unit}")])
            }
        }
    }

    /// The unit of an application that is being uninstalled, if it has one.
    pub(crate) fn service_of(&self, image: &ImageRef, name: &str) -> Result<Option<String>> {
        Ok(self.applications()?.get(name).filter(|a| a.image == image.as_str()).map(App::unit))
    }

    /// Uninstall's first step for an application: its unit stopped (its ExecStop stops the
    /// container), disabled and removed, then its record.
    pub(crate) async fn remove_service(&self, name: &str) -> Result<()> {
        let unit = unit_name(name);
        self.systemd.stop(&unit).await?;
        let deadline = tokio::time::Instant::now() + UNIT_STOP_WAIT;
        loop {
            let state = self.systemd.state(&unit).await?;
            if !matches!(state.active.as_str(), "active" | "activating" | "deactivating" | "reloading") {
                break;
            }
            if tokio::time::Instant::now() >= deadline {
                return Err(Error::Failed(format!(
                    "{unit} did not stop within {} s; nothing was removed",
                    UNIT_STOP_WAIT.as_secs()
                )));
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        self.systemd.disable(&unit).await?;
        self.units.remove(name)?;
        self.systemd.reload().await?;
        self.put_application(name, None).await?;
        tracing::info!(application = name, unit = %unit, "application's unit removed");
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_option_wins_over_the_label_which_asks_only_with_true() {
        let labels = |v: &str| HashMap::from([(SERVICE_LABEL.to_owned(), v.to_owned())]);
        assert!(wants_service(None, &labels("true")));
        assert!(!wants_service(Some(false), &labels("true")));
        assert!(wants_service(Some(true), &HashMap::new()));
        for v in ["yes", "1", "TRUE", "true ", ""] {
            assert!(!wants_service(None, &labels(v)), "{v:?} asked for a service");
        }
        assert!(!wants_service(None, &HashMap::new()));
    }
}
