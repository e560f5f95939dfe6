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
}

impl App {
    /// The unit that runs it.
    pub(crate) fn unit(&self) -> String {
        super::unit::unit_name(&self.name)
    }
}
