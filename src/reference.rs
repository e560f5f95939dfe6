//! Validation of image references and of container names given by callers.

use oci_spec::distribution::Reference;

use crate::error::{Error, Result};
use crate::text::truncate_for_message;

/// An image reference as the caller wrote it, checked against the Docker/OCI grammar.
///
/// The engine is always handed the caller's own spelling (podman resolves short names through
/// registries.conf, which the parsed, normalised form would defeat); the parsed form only
/// validates and yields the default container name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageRef {
    text: String,
    repository: String,
}

impl ImageRef {
    /// Parses `text`, naming it in the error when it is not a reference.
    pub fn parse(text: &str) -> Result<Self> {
        let parsed = Reference::try_from(text).map_err(|e| {
            Error::InvalidArgument(format!(
                "{:?} is not a valid image reference: {e}",
                truncate_for_message(text)
            ))
        })?;
        Ok(ImageRef { text: text.to_owned(), repository: parsed.repository().to_owned() })
    }

    /// The reference exactly as the caller wrote it.
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// The default container name: the last path component, without tag or digest.
    pub fn default_name(&self) -> &str {
        self.repository.rsplit('/').next().unwrap_or(&self.repository)
    }
}

/// Checks a container name the way Docker does (`[a-zA-Z0-9][a-zA-Z0-9_.-]*`), with a length
/// bound so a name always fits in messages and engine paths.
pub fn validate_container_name(name: &str) -> Result<()> {
    const MAX: usize = 253;
    let mut chars = name.chars();
    let valid = match chars.next() {
        Some(first) => {
            first.is_ascii_alphanumeric()
                && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'))
                && name.len() <= MAX
        }
        None => false,
    };
    if valid {
        Ok(())
    } else {
        Err(Error::InvalidArgument(format!(
            "{:?} is not a valid container name (letters, digits, '_', '.', '-', first a letter \
             or digit, at most {MAX} characters)",
            truncate_for_message(name)
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn references_and_their_default_names() {
        let table = [
            ("busybox", "busybox"),
            ("tools:latest", "tools"),
            ("127.0.0.1:5000/tools", "tools"),
            ("localhost/team/ntpd:1.2", "ntpd"),
            ("quay.io/a/b/c@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef", "c"),
        ];
        for (text, name) in table {
            let r = ImageRef::parse(text).unwrap_or_else(|e| panic!("{text}: {e}"));
            assert_eq!(r.as_str(), text);
            assert_eq!(r.default_name(), name, "{text}");
        }
    }

    #[test]
    fn non_references_are_invalid_arguments() {
        let long_tag = format!("tools:{}", "a".repeat(300));
        let table = ["", "../x", "a b", "UPPER", "tools:", ":tag", "x@sha256:12", long_tag.as_str(), "a;rm"];
        for text in table {
            match ImageRef::parse(text) {
                Err(Error::InvalidArgument(msg)) => {
                    assert!(msg.contains("not a valid image reference"))
                }
                other => panic!("{text:?} gave {other:?}"),
            }
        }
    }

    #[test]
    fn container_names() {
        for ok in ["a", "tools-spc", "A.b_c-1"] {
            assert!(validate_container_name(ok).is_ok(), "{ok}");
        }
        let long = "a".repeat(254);
        for bad in ["", "-x", "a b", "a/b", "é", long.as_str()] {
            assert!(matches!(validate_container_name(bad), Err(Error::InvalidArgument(_))), "{bad:?}");
        }
    }
}
