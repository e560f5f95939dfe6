//! The engine labels that mark a container as atomicd's own: which image (reference and ID) it
//! was made from, under which name, by which operation and for which caller. A container
//! without them is not atomicd's to start, exec into, replace or remove.

use std::collections::HashMap;

/// Every engine label atomicd sets starts with this; a label line may not set any of them.
pub const OWNER_LABEL_PREFIX: &str = "org.atomic.";

const MANAGED: &str = "org.atomic.managed";
const IMAGE: &str = "org.atomic.image";
const IMAGE_ID: &str = "org.atomic.image-id";
const NAME: &str = "org.atomic.name";
const OPERATION: &str = "org.atomic.operation";
const CALLER_UID: &str = "org.atomic.caller-uid";
const PRIVILEGED: &str = "org.atomic.privileged";
const REMOVE: &str = "org.atomic.remove";

/// What atomicd records on a container it creates.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
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
    /// The engine labels for a create request.
    pub fn to_labels(&self) -> HashMap<String, String> {
        let mut labels = HashMap::from([
            (MANAGED.to_owned(), "1".to_owned()),
            (IMAGE.to_owned(), self.image.clone()),
            (IMAGE_ID.to_owned(), self.image_id.clone()),
            (NAME.to_owned(), self.name.clone()),
            (OPERATION.to_owned(), self.operation.clone()),
            (CALLER_UID.to_owned(), self.caller_uid.to_string()),
            (PRIVILEGED.to_owned(), if self.privileged == Some(true) { "1" } else { "0" }.to_owned()),
        ]);
        if self.remove {
            labels.insert(REMOVE.to_owned(), "1".to_owned());
        }
        labels
    }

    /// The ownership a container's labels record; `None` when atomicd did not make it.
    pub fn from_labels(labels: &HashMap<String, String>) -> Option<Self> {
        if labels.get(MANAGED).map(String::as_str) != Some("1") {
            return None;
        }
        let get = |k: &str| labels.get(k).cloned().unwrap_or_default();
        Some(Ownership {
            image: get(IMAGE),
            image_id: get(IMAGE_ID),
            name: get(NAME),
            operation: get(OPERATION),
            caller_uid: get(CALLER_UID).parse().unwrap_or(u32::MAX),
            privileged: labels.get(PRIVILEGED).map(|v| v == "1"),
            remove: labels.get(REMOVE).is_some_and(|v| v == "1"),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ownership_round_trips_and_unmarked_containers_are_nobodys() {
        let o = Ownership {
            image: "atomic-test/app".into(),
            image_id: "sha256:ab".into(),
            name: "app".into(),
            operation: "Run".into(),
            caller_uid: 1000,
            privileged: Some(true),
            remove: true,
        };
        assert_eq!(Ownership::from_labels(&o.to_labels()), Some(o.clone()));
        let kept = Ownership { remove: false, ..o };
        assert_eq!(Ownership::from_labels(&kept.to_labels()), Some(kept));
        assert_eq!(Ownership::from_labels(&HashMap::new()), None);
        let forged = HashMap::from([(MANAGED.to_owned(), "yes".to_owned())]);
        assert_eq!(Ownership::from_labels(&forged), None);
        assert!(o_labels_all_prefixed());
    }

    fn o_labels_all_prefixed() -> bool {
        Ownership::default().to_labels().keys().all(|k| k.starts_with(OWNER_LABEL_PREFIX))
    }
}
