//! Docker references in the normalised form containers-policy.json(5) and containers-signature(5)
//! compare: `docker.io/library/busybox:latest`, the registry always named, Docker Hub's
//! `library/` always written.

use crate::label::{registry_of, ImageRef};

/// A checked, normalised Docker reference.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Named {
    /// The registry: `docker.io` when the reference names none.
    pub domain: String,
    /// The repository's path in it (`library/busybox`).
    pub path: String,
    /// The tag, if one is written.
    pub tag: Option<String>,
    /// The digest, if one is written (`sha256:...`).
    pub digest: Option<String>,
}

/// Docker Hub, as references name it once normalised.
const HUB: &str = "docker.io";

impl Named {
    /// Parses and normalises `text`; `None` when it is not a reference.
    pub fn parse(text: &str) -> Option<Named> {
        ImageRef::parse(text).ok()?;
        let (rest, digest) = match text.split_once('@') {
            Some((n, d)) => (n, Some(d.to_owned())),
            None => (text, None),
        };
        let last = rest.rfind('/').map_or(0, |i| i + 1);
        let (name, tag) = match rest[last..].rfind(':') {
            Some(i) => (&rest[..last + i], Some(rest[last + i + 1..].to_owned())),
            None => (rest, None),
        };
        let (domain, path) = match registry_of(name) {
            Some(host) => (host.to_owned(), name[host.len() + 1..].to_owned()),
            None => (HUB.to_owned(), name.to_owned()),
        };
        // Docker Hub's own spellings all mean docker.io, and its single-component names are in
        // library/.
        let domain = if domain == "index.docker.io" { HUB.to_owned() } else { domain };
        let path = if domain == HUB && !path.contains('/') { format!("library/{path}") } else { path };
        Some(Named { domain, path, tag, digest })
    }

    /// As the engine's pull would read it: `latest` when neither tag nor digest is written.
    pub fn with_default_tag(mut self) -> Named {
        if self.tag.is_none() && self.digest.is_none() {
            self.tag = Some("latest".to_owned());
        }
        self
    }

    /// `domain/path`: the repository, without tag or digest.
    pub fn repository(&self) -> String {
        format!("{}/{}", self.domain, self.path)
    }

    /// The whole normalised reference.
    pub fn full(&self) -> String {
        let mut s = self.repository();
        if let Some(t) = &self.tag {
            s.push(':');
            s.push_str(t);
        }
        if let Some(d) = &self.digest {
            s.push('@');
            s.push_str(d);
        }
        s
    }
}

/// The most manifest digests of one image tried for a signature.
const DIGESTS_TRIED: usize = 4;

/// The digests, among an image's RepoDigests (`repo@sha256:...`), that its registry gave it for
/// `named`'s repository, the one `named` writes first; none for an image built here or pulled
/// from another repository. An image pulled through a multi-arch index has two (the index's and
/// its platform manifest's), and a signature may be on either.
pub(super) fn digests_for(repo_digests: &[String], named: &Named) -> Vec<String> {
    let repository = named.repository();
    let mut found: Vec<String> = repo_digests
        .iter()
        .filter_map(|rd| {
            let n = Named::parse(rd)?;
            (n.repository() == repository).then_some(n.digest?)
        })
        .collect();
    found.sort_by_key(|d| Some(d) != named.digest.as_ref());
    found.dedup();
    found.truncate(DIGESTS_TRIED);
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn references_normalise_as_the_policy_compares_them() {
        let table = [
            ("busybox", "docker.io/library/busybox:latest"),
            ("docker.io/busybox:1", "docker.io/library/busybox:1"),
            ("index.docker.io/team/app", "docker.io/team/app:latest"),
            ("127.0.0.1:5000/atomic-test/app:v1", "127.0.0.1:5000/atomic-test/app:v1"),
            ("localhost/app", "localhost/app:latest"),
        ];
        for (text, full) in table {
            let named = Named::parse(text).map(Named::with_default_tag);
            assert_eq!(named.map(|n| n.full()).as_deref(), Some(full), "{text}");
        }
        let hex = "0".repeat(64);
        let digested = Named::parse(&format!("quay.io/a/b@sha256:{hex}")).map(Named::with_default_tag);
        assert_eq!(digested.and_then(|n| n.tag), None, "a digest needs no tag");
        assert_eq!(Named::parse("Not A Ref"), None);
    }

    #[test]
    fn the_digest_is_the_one_of_the_reference_s_repository() {
        let hex = |c: &str| c.repeat(64);
        let digests = vec![
            format!("quay.io/other/app@sha256:{}", hex("1")),
            format!("127.0.0.1:5000/atomic-test/app@sha256:{}", hex("2")),
        ];
        let named = |t: &str| Named::parse(t).unwrap_or_else(|| panic!("{t}"));
        let want = format!("sha256:{}", hex("2"));
        assert_eq!(
            digests_for(&digests, &named("127.0.0.1:5000/atomic-test/app")),
            std::slice::from_ref(&want)
        );
        assert!(digests_for(&digests, &named("docker.io/library/app")).is_empty());
        assert!(digests_for(&[], &named("quay.io/other/app")).is_empty());
        // Two manifests of one image (index and platform): the one the reference names first.
        let both = vec![
            format!("127.0.0.1:5000/atomic-test/app@sha256:{}", hex("3")),
            format!("127.0.0.1:5000/atomic-test/app@sha256:{}", hex("2")),
        ];
        let pinned = named(&format!("127.0.0.1:5000/atomic-test/app@{want}"));
        assert_eq!(digests_for(&both, &pinned)[0], want);
        assert_eq!(digests_for(&both, &named("127.0.0.1:5000/atomic-test/app")).len(), 2);
    }
}
