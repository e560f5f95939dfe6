//! What atomicd records of a container it creates: which image (reference and ID) it was made
//! from, under which name, by which operation and for which caller. atomicd keeps this in its own
//! record (`manager/owned.rs`), by container ID; the same facts are written on the container as
//! engine labels for people (`podman ps --filter label=org.atomic.managed=1`), but labels are
//! never read back: an image's author can set any label, so a label proves nothing.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};

/// Every engine label atomicd sets starts with this; a label line may not set any of them.
pub(crate) const OWNER_LABEL_PREFIX: &str = "org.atomic.";

const MANAGED: &str = "org.atomic.managed";
const IMAGE: &str = "org.atomic.image";
const IMAGE_ID: &str = "org.atomic.image-id";
const NAME: &str = "org.atomic.name";
const OPERATION: &str = "org.atomic.operation";
const CALLER_UID: &str = "org.atomic.caller-uid";
const PRIVILEGED: &str = "org.atomic.privileged";
const REMOVE: &str = "org.atomic.remove";

/// What atomicd records on a container it creates.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Ownership {
    /// The image as the caller named it.
    pub image: String,
    /// The image ID the container was created from.
    pub image_id: String,
    /// The container name, empty when it has none.
    pub name: String,
    /// Run, Install or Uninstall.
    pub operation: String,
    /// The uid of the caller that made it.
    pub caller_uid: u32,
    /// Whether its line reaches the host (`None` on containers made before atomicd said so).
    pub privileged: Option<bool>,
    /// Whether atomicd removes it once it has exited (a waited `--rm`).
    pub remove: bool,
}

impl Ownership {
    /// The engine labels for a create request, for people to read. Every key is always written,
    /// so none of them is inherited from an image that sets it.
    pub fn to_labels(&self) -> HashMap<String, String> {
        let flag = |on: bool| if on { "1" } else { "0" }.to_owned();
        HashMap::from([
            (MANAGED.to_owned(), "1".to_owned()),
            (IMAGE.to_owned(), self.image.clone()),
            (IMAGE_ID.to_owned(), self.image_id.clone()),
            (NAME.to_owned(), self.name.clone()),
            (OPERATION.to_owned(), self.operation.clone()),
            (CALLER_UID.to_owned(), self.caller_uid.to_string()),
            (PRIVILEGED.to_owned(), flag(self.privileged == Some(true))),
            (REMOVE.to_owned(), flag(self.remove)),
        ])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_label_is_written_so_none_is_inherited_from_the_image() {
        let kept = Ownership { name: "app".into(), remove: false, ..Default::default() };
        let labels = kept.to_labels();
        assert_eq!(labels.get(REMOVE).map(String::as_str), Some("0"), "an image's remove=1 is overwritten");
        assert_eq!(labels.get(PRIVILEGED).map(String::as_str), Some("0"));
        assert!(labels.keys().all(|k| k.starts_with(OWNER_LABEL_PREFIX)));
        assert_eq!(labels.len(), 8);
    }
}
