//! Validation of image references and of container names given by callers.
//!
//! The reference grammar is the one of distribution/reference (`reference.go`), which Docker,
//! podman and the OCI crates implement with one large regular expression. Compiled by Rust's
//! `regex` with Unicode `\w`, that expression cost atomicd 12 MiB of memory on its first call,
//! more than the rest of the daemon together; the grammar is small enough to check directly.
//! `reference_parity.rs` beside it holds this parser to oci-spec's on generated references.

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

/// The longest repository name (without the registry) the grammar allows.
const NAME_TOTAL_LENGTH_MAX: usize = 255;
/// The longest tag.
const TAG_MAX: usize = 128;
/// The digest algorithms the OCI image spec registers, with their hex lengths.
const DIGESTS: [(&str, usize); 3] = [("sha256", 64), ("sha384", 96), ("sha512", 128)];

/// `[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9]`
fn is_domain_component(s: &str) -> bool {
    !s.is_empty()
        && s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
        && !s.starts_with('-')
        && !s.ends_with('-')
}

/// `domain-component ('.' domain-component)* [':' [0-9]+]`
fn is_domain(s: &str) -> bool {
    let (host, port) = match s.split_once(':') {
        Some((h, p)) => (h, Some(p)),
        None => (s, None),
    };
    host.split('.').all(is_domain_component)
        && port.is_none_or(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()))
}

/// `[a-z0-9]+ (([._]|__|[-]*) [a-z0-9]+)*`
fn is_path_component(s: &str) -> bool {
    let alnum = |b: u8| b.is_ascii_lowercase() || b.is_ascii_digit();
    if !s.bytes().next().is_some_and(alnum) || !s.bytes().last().is_some_and(alnum) {
        return false;
    }
    s.split(|c: char| c.is_ascii_lowercase() || c.is_ascii_digit())
        .all(|sep| matches!(sep, "" | "." | "_" | "__") || sep.bytes().all(|b| b == b'-'))
}

/// `[\w][\w.-]{0,127}` with `\w` as Go reads it: ASCII letters, digits, `_`.
fn is_tag(s: &str) -> bool {
    let word = |b: u8| b.is_ascii_alphanumeric() || b == b'_';
    s.len() <= TAG_MAX
        && s.bytes().next().is_some_and(word)
        && s.bytes().all(|b| word(b) || b == b'.' || b == b'-')
}

/// `algorithm ':' hex`, for a registered algorithm and its exact length.
pub(crate) fn is_digest(s: &str) -> bool {
    s.split_once(':').is_some_and(|(algorithm, hex)| {
        DIGESTS.iter().any(|(a, len)| *a == algorithm && hex.len() == *len)
            && hex.bytes().all(|b| b.is_ascii_hexdigit())
    })
}

/// The registry a reference's name names, exactly as Docker and podman split it
/// (`splitDockerDomain` of distribution/reference): its first component when another follows and
/// it has a `.` or `:`, is `localhost`, or has an upper-case letter (path components are lower
/// case, so `Sechost/x` is the host `Sechost`, not Docker Hub's `sechost/x`). `None`: a short name.
/// Whoever sends a login reads the registry here, so it goes where the engine will go.
pub(crate) fn registry_of(name: &str) -> Option<&str> {
    let (first, _) = name.split_once('/')?;
    let is_host =
        first.contains(['.', ':']) || first == "localhost" || first.bytes().any(|b| b.is_ascii_uppercase());
    is_host.then_some(first)
}

/// The repository path of a valid reference (with the `library/` Docker Hub would add, as
/// the length bound counts it), or why `text` is not a reference.
fn parse_reference(text: &str) -> std::result::Result<String, &'static str> {
    if text.is_empty() {
        return Err("it is empty");
    }
    let (name_and_tag, digest) = match text.split_once('@') {
        Some((n, d)) => (n, Some(d)),
        None => (text, None),
    };
    if digest.is_some_and(|d| !is_digest(d)) {
        return Err("the digest is not sha256, sha384 or sha512 with its full hex length");
    }
    // A tag is what follows a ':' in the last path component; an earlier ':' is a port.
    let last = name_and_tag.rfind('/').map_or(0, |i| i + 1);
    let (name, tag) = match name_and_tag[last..].rfind(':') {
        Some(i) => (&name_and_tag[..last + i], Some(&name_and_tag[last + i + 1..])),
        None => (name_and_tag, None),
    };
    if tag.is_some_and(|t| !is_tag(t)) {
        return Err("the tag is not 1-128 letters, digits, '_', '.', '-' (first not '.' or '-')");
    }
    let components: Vec<&str> = name.split('/').collect();
    let path = match components.as_slice() {
        [first, rest @ ..] if !rest.is_empty() && is_domain(first) && !is_path_component(first) => rest,
        all => all,
    };
    if !path.iter().all(|c| is_path_component(c)) {
        return Err(
            "the name is not lowercase path components ('a-z', '0-9', '.', '_', '-') after an optional registry",
        );
    }
    // The registry part, as the engines split it.
    let repository = match (registry_of(name), name.split_once('/')) {
        (Some(_), Some((_, rest))) => rest.to_owned(),
        (None, Some(_)) => name.to_owned(),
        (_, None) => format!("library/{name}"),
    };
    if repository.len() > NAME_TOTAL_LENGTH_MAX {
        return Err("the repository name is longer than 255 characters");
    }
    Ok(repository)
}

impl ImageRef {
    /// Parses `text`, naming it in the error when it is not a reference.
    pub fn parse(text: &str) -> Result<Self> {
        let repository = parse_reference(text).map_err(|why| {
            Error::InvalidArgument(format!(
                "{:?} is not a valid image reference: {why}",
                truncate_for_message(text)
            ))
        })?;
        Ok(ImageRef { text: text.to_owned(), repository })
    }

    /// The reference exactly as the caller wrote it.
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// What a pull asks the engine for: exactly this image, with `latest` when the caller gave no
    /// tag or digest (Docker pulls every tag of a bare repository name).
    pub fn pull_reference(&self) -> String {
        let last = self.text.rsplit('/').next().unwrap_or(&self.text);
        if self.text.contains('@') || last.contains(':') {
            self.text.clone()
        } else {
            format!("{}:latest", self.text)
        }
    }

    /// The default container name: the last path component, without tag or digest.
    pub fn default_name(&self) -> &str {
        self.repository.rsplit('/').next().unwrap_or(&self.repository)
    }
}

/// Checks a container name the way Docker does (`[a-zA-Z0-9][a-zA-Z0-9_.-]*`), with a length
/// bound so a name always fits in messages and engine paths.
pub(crate) fn validate_container_name(name: &str) -> Result<()> {
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

    /// The registry as the engines decide it, including the case that sent Docker Hub's login to
    /// a host named `Sechost`.
    #[test]
    fn the_registry_is_the_one_the_engine_will_contact() {
        let table = [
            ("busybox", None),
            ("library/busybox", None),
            ("team/app:1", None),
            ("localhost/app", Some("localhost")),
            ("127.0.0.1:5000/app", Some("127.0.0.1:5000")),
            ("quay.io/a/b", Some("quay.io")),
            ("Sechost/x", Some("Sechost")),
            ("sechost/x", None),
            ("LOCALHOST/x", Some("LOCALHOST")),
            ("myhost:5000/x", Some("myhost:5000")),
            ("a.b/c:tag", Some("a.b")),
        ];
        for (text, registry) in table {
            assert!(ImageRef::parse(text).is_ok(), "{text}");
            // A tag follows the last '/', so it never reads as part of the first component.
            assert_eq!(registry_of(text), registry, "{text}");
        }
        assert_eq!(
            ImageRef::parse("Sechost/x").map(|r| r.default_name().to_owned()).ok().as_deref(),
            Some("x")
        );
    }

    #[test]
    fn a_pull_asks_for_exactly_one_reference() {
        let table = [
            ("busybox", "busybox:latest"),
            ("tools:1.2", "tools:1.2"),
            ("127.0.0.1:5000/tools", "127.0.0.1:5000/tools:latest"),
            ("127.0.0.1:5000/tools:v1", "127.0.0.1:5000/tools:v1"),
            (
                "localhost/a@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
                "localhost/a@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
            ),
        ];
        for (text, pulled) in table {
            let r = ImageRef::parse(text).unwrap_or_else(|e| panic!("{text}: {e}"));
            assert_eq!(r.pull_reference(), pulled, "{text}");
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
