//! What atomicd keeps of an application installed as a service: the plan that was authorized
//! (the image ID and the RUN line as resolved then, with what it may do to the host), the image
//! before it, and its update policy and progress. The unit runs this record, nothing else.

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::label::RunSpec;

/// One image of an application with the line it runs, as authorized.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Release {
    /// The image ID the container is created from (never the tag, which may move).
    pub image_id: String,
    /// The RUN line's words as resolved when this release was authorized.
    pub argv: Vec<String>,
    /// What polkit was told the line may do to the host.
    pub privileges: Vec<String>,
}

impl Release {
    /// The line, read by the one parser; a record whose line now reads as reaching further
    /// than what was authorized (an edited state file, a changed table) is refused.
    pub(crate) fn spec(&self, name: &str) -> Result<RunSpec> {
        let spec = RunSpec::from_argv(&self.argv)?;
        if spec.privileges != self.privileges {
            return Err(Error::Failed(format!(
                "the record of application {name:?} no longer matches what was authorized \
                 (its line now reads as: {}); install it again",
                if spec.privileges.is_empty() {
                    "no host access".to_owned()
                } else {
                    spec.privileges.join("; ")
                }
            )));
        }
        Ok(spec)
    }
}

/// An application installed as a service.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct App {
    /// Its name: the container's and the unit's (`atomic-app-NAME.service`).
    pub name: String,
    /// The image as the installing caller named it: where updates come from.
    pub image: String,
    /// The installing caller; another needs `org.atomic.manage-any` to act on it.
    pub installed_by: u32,
    /// Seconds since the epoch.
    pub installed_at: u64,
    /// What runs.
    pub current: Release,
    /// What ran before the last update, for a rollback.
    #[serde(default)]
    pub previous: Option<Release>,
    /// The last result said of it (`installed`, `updated`, `rolled back: ...`).
    #[serde(default)]
    pub last_result: String,
    /// When that was (seconds since the epoch).
    #[serde(default)]
    pub last_change: u64,
    /// The variables the RUN line was resolved with at install, for planning a new image's.
    #[serde(default)]
    pub inputs: Inputs,
    /// The last update check (seconds since the epoch; 0: none yet).
    #[serde(default)]
    pub last_check: u64,
    /// A newer image found and not applied (its ID; "" when none).
    #[serde(default)]
    pub update_available: String,
    /// Rollbacks in a row; at [`MAX_ROLLBACKS`] automatic updates stop until a person acts.
    #[serde(default)]
    pub rollbacks_in_a_row: u32,
    /// An update under way: written before the unit restarts on the new image, dropped once
    /// it was found healthy or rolled back. Found at start, the health gate runs again.
    #[serde(default)]
    pub updating: Option<Updating>,
}

/// Automatic updates of an application stop after this many rollbacks in a row.
pub(crate) const MAX_ROLLBACKS: u32 = 3;

/// What an application's RUN line was resolved with (the caller's part of the variables).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Inputs {
    /// `$OPT1`..`$OPT3`
    pub opts: [Option<String>; 3],
    /// `$PWD`
    pub pwd: Option<String>,
    /// `$SUDO_UID`, `$SUDO_GID` as a root caller gave them.
    pub sudo_uid: Option<u32>,
    /// See `sudo_uid`.
    pub sudo_gid: Option<u32>,
}

/// An update under way: from which image to which.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Updating {
    /// The image ID that ran before.
    pub from: String,
    /// The image ID that runs now (the record's `current`).
    pub to: String,
    /// Since when.
    pub since: u64,
}

impl App {
    /// The unit that runs it.
    pub(crate) fn unit(&self) -> String {
        super::unit::unit_name(&self.name)
    }

    /// Automatic updates are stopped until a person updates, rolls back or sets its policy.
    pub(crate) fn held(&self) -> bool {
        self.rollbacks_in_a_row >= MAX_ROLLBACKS
    }
}
