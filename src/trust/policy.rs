//! containers-policy.json(5), read strictly: a requirement type, key or field atomicd does not
//! understand makes the whole file unusable, so it can never be read as an accept.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::reference::Named;

/// The transport whose scopes apply to images pulled from registries: the only one atomicd
/// verifies for. The others' requirements are read (and must be valid) and kept as written.
pub(super) const DOCKER: &str = "docker";

/// The transports containers-policy.json(5) names.
const TRANSPORTS: [&str; 11] = [
    "atomic",
    "containers-storage",
    "dir",
    "docker",
    "docker-archive",
    "docker-daemon",
    "oci",
    "oci-archive",
    "ostree",
    "sif",
    "tarball",
];

/// The whole policy file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Policy {
    /// What applies where no scope does.
    pub default: Vec<Requirement>,
    /// Per transport, per scope.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub transports: BTreeMap<String, BTreeMap<String, Vec<Requirement>>>,
}

/// One requirement; every requirement of a scope must be satisfied.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "camelCase")]
pub enum Requirement {
    /// Any image, signed or not.
    InsecureAcceptAnything(Empty),
    /// No image.
    Reject(Empty),
    /// A GPG "simple signing" signature by one of the keys.
    SignedBy(SignedBy),
    /// A cosign signature, stored in the registry, by one of the keys.
    SigstoreSigned(SigstoreSigned),
}

/// A requirement without fields.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Empty {}

/// `signedBy`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct SignedBy {
    /// Only `GPGKeys`.
    pub key_type: String,
    /// A keyring file.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key_path: Option<String>,
    /// Several keyring files.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key_paths: Option<Vec<String>>,
    /// A keyring, base64.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key_data: Option<String>,
    /// Which identity the signature must claim.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signed_identity: Option<Identity>,
}

/// `sigstoreSigned`, with public keys (Fulcio certificates and Rekor are not read by atomicd,
/// and a requirement that names them is refused as not understood).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct SigstoreSigned {
    /// A PEM public key file.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key_path: Option<String>,
    /// Several.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key_paths: Option<Vec<String>>,
    /// A PEM public key, base64.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key_data: Option<String>,
    /// Several.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key_datas: Option<Vec<String>>,
    /// Which identity the signature must claim.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signed_identity: Option<Identity>,
}

/// `signedIdentity`: how the identity a signature claims must relate to the image's reference.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "camelCase", deny_unknown_fields)]
// The variants are the file's own names (remapIdentity).
#[allow(clippy::enum_variant_names)]
pub enum Identity {
    /// The same reference, tag or digest included.
    MatchExact,
    /// The same repository for a digested reference, else the same reference (the default).
    MatchRepoDigestOrExact,
    /// The same repository, any tag.
    MatchRepository,
    /// Exactly this reference, whatever the image was called.
    #[serde(rename_all = "camelCase")]
    ExactReference {
        /// The reference.
        docker_reference: String,
    },
    /// This repository, whatever the image was called.
    #[serde(rename_all = "camelCase")]
    ExactRepository {
        /// The repository.
        docker_repository: String,
    },
    /// Images under `prefix` are signed as under `signed_prefix`.
    #[serde(rename_all = "camelCase")]
    RemapIdentity {
        /// What the image's reference starts with.
        prefix: String,
        /// What the signature's starts with instead.
        signed_prefix: String,
    },
}

/// Which requirements apply to an image, and where they came from.
#[derive(Debug, Clone, PartialEq)]
pub struct Applied<'a> {
    /// `docker:quay.io/team`, `docker:` (the transport's default) or `default`.
    pub scope: String,
    /// The requirements.
    pub requirements: &'a [Requirement],
}

impl Policy {
    /// Parses and validates a policy file's text.
    pub fn parse(text: &str) -> Result<Policy, String> {
        let policy: Policy = serde_json::from_str(text).map_err(|e| e.to_string())?;
        policy.validate()?;
        Ok(policy)
    }

    /// Every rule serde cannot express: no empty list, known transports, valid docker scopes,
    /// exactly one key source, identities that parse.
    pub fn validate(&self) -> Result<(), String> {
        check_list("default", &self.default)?;
        for (transport, scopes) in &self.transports {
            if !TRANSPORTS.contains(&transport.as_str()) {
                return Err(format!("unknown transport {transport:?}"));
            }
            for (scope, requirements) in scopes {
                if transport == DOCKER {
                    check_docker_scope(scope)?;
                }
                check_list(&format!("{transport}:{scope}"), requirements)?;
            }
        }
        Ok(())
    }

    /// The requirements for an image of this reference, most specific scope first, as
    /// containers-policy.json(5) orders them.
    pub fn for_image(&self, named: &Named) -> Applied<'_> {
        if let Some(scopes) = self.transports.get(DOCKER) {
            for scope in scopes_of(named) {
                if let Some(requirements) = scopes.get(&scope) {
                    return Applied { scope: format!("{DOCKER}:{scope}"), requirements };
                }
            }
        }
        Applied { scope: "default".to_owned(), requirements: &self.default }
    }

    /// The policy as a file: pretty, as admins read it.
    pub fn to_text(&self) -> String {
        let mut text = serde_json::to_string_pretty(self).unwrap_or_default();
        text.push('\n');
        text
    }
}

/// Every key file the policy names, each once.
pub(super) fn key_files(policy: &Policy) -> Vec<String> {
    let all = policy.default.iter().chain(policy.transports.values().flat_map(|s| s.values().flatten()));
    let mut files: Vec<String> = all
        .flat_map(|r| match r {
            Requirement::SignedBy(s) => paths(s.key_path.as_ref(), s.key_paths.as_ref()),
            Requirement::SigstoreSigned(s) => paths(s.key_path.as_ref(), s.key_paths.as_ref()),
            _ => Vec::new(),
        })
        .collect();
    files.sort();
    files.dedup();
    files
}

/// `keyPath` and `keyPaths` together.
pub(super) fn paths(one: Option<&String>, many: Option<&Vec<String>>) -> Vec<String> {
    one.into_iter().chain(many.into_iter().flatten()).cloned().collect()
}

/// The scopes that may apply to `named`, most specific first; `""` (the transport's default) last.
fn scopes_of(named: &Named) -> Vec<String> {
    let repository = named.repository();
    let mut scopes = Vec::new();
    if let Some(d) = &named.digest {
        scopes.push(format!("{repository}@{d}"));
    }
    if let Some(t) = &named.tag {
        scopes.push(format!("{repository}:{t}"));
    }
    let mut prefix = repository.as_str();
    loop {
        scopes.push(prefix.to_owned());
        match prefix.rfind('/') {
            Some(i) => prefix = &prefix[..i],
            None => break,
        }
    }
    // `*.example.com` matches hosts under example.com, the longest suffix first.
    let host = named.domain.split(':').next().unwrap_or_default();
    let mut rest = host;
    while let Some((_, tail)) = rest.split_once('.') {
        scopes.push(format!("*.{tail}"));
        rest = tail;
    }
    scopes.push(String::new());
    scopes
}

fn check_docker_scope(scope: &str) -> Result<(), String> {
    if scope.is_empty() {
        return Ok(());
    }
    if let Some(suffix) = scope.strip_prefix("*.") {
        let ok = !suffix.is_empty()
            && suffix
                .split('.')
                .all(|c| !c.is_empty() && c.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-'));
        return if ok { Ok(()) } else { Err(format!("docker scope {scope:?} is not a valid wildcard")) };
    }
    // A scope is a registry (a host, maybe with a port), or a reference's repository, or a
    // whole reference; Named normalises all three the same way when a path follows the host.
    let host_only = !scope.contains('/');
    let valid = if host_only {
        crate::label::ImageRef::parse(&format!("{scope}/x")).is_ok()
            && (scope.contains(['.', ':']) || scope == "localhost")
    } else {
        Named::parse(scope).is_some_and(|n| n.full() == scope || n.repository() == scope)
    };
    if valid {
        Ok(())
    } else {
        Err(format!(
            "docker scope {scope:?} is not a registry, repository or reference written in full \
             (e.g. docker.io/library/busybox)"
        ))
    }
}

fn check_list(scope: &str, requirements: &[Requirement]) -> Result<(), String> {
    if requirements.is_empty() {
        return Err(format!(
            "{scope}: an empty list of requirements (write insecureAcceptAnything or reject)"
        ));
    }
    requirements.iter().try_for_each(|r| r.validate().map_err(|why| format!("{scope}: {why}")))
}

impl Requirement {
    /// The rules of one requirement serde cannot express.
    pub fn validate(&self) -> Result<(), String> {
        match self {
            Requirement::InsecureAcceptAnything(_) | Requirement::Reject(_) => Ok(()),
            Requirement::SignedBy(s) => {
                if s.key_type != "GPGKeys" {
                    return Err(format!("signedBy keyType {:?}: only GPGKeys is supported", s.key_type));
                }
                one_source("signedBy", [s.key_path.is_some(), s.key_paths.is_some(), s.key_data.is_some()])?;
                check_identity(s.signed_identity.as_ref())
            }
            Requirement::SigstoreSigned(s) => {
                one_source(
                    "sigstoreSigned",
                    [
                        s.key_path.is_some(),
                        s.key_paths.is_some(),
                        s.key_data.is_some(),
                        s.key_datas.is_some(),
                    ],
                )?;
                check_identity(s.signed_identity.as_ref())
            }
        }
    }

    /// Its keys as people read them: the files, or `keyData` for inline ones.
    pub fn keys(&self) -> Vec<String> {
        let (files, inline) = match self {
            Requirement::SignedBy(s) => {
                (paths(s.key_path.as_ref(), s.key_paths.as_ref()), usize::from(s.key_data.is_some()))
            }
            Requirement::SigstoreSigned(s) => (
                paths(s.key_path.as_ref(), s.key_paths.as_ref()),
                usize::from(s.key_data.is_some()) + s.key_datas.as_ref().map_or(0, Vec::len),
            ),
            _ => return Vec::new(),
        };
        files.into_iter().chain((0..inline).map(|n| format!("keyData {}", n + 1))).collect()
    }

    /// The requirement's type as the file writes it.
    pub fn kind(&self) -> &'static str {
        match self {
            Requirement::InsecureAcceptAnything(_) => "insecureAcceptAnything",
            Requirement::Reject(_) => "reject",
            Requirement::SignedBy(_) => "signedBy",
            Requirement::SigstoreSigned(_) => "sigstoreSigned",
        }
    }
}

fn one_source<const N: usize>(kind: &str, given: [bool; N]) -> Result<(), String> {
    match given.iter().filter(|g| **g).count() {
        1 => Ok(()),
        0 => Err(format!("{kind} names no key (keyPath, keyPaths or keyData)")),
        _ => Err(format!("{kind} names its keys more than one way: use one of keyPath, keyPaths, keyData")),
    }
}

fn check_identity(identity: Option<&Identity>) -> Result<(), String> {
    let bad =
        |what: &str, value: &str| Err(format!("signedIdentity {what} {value:?} is not a Docker reference"));
    match identity {
        Some(Identity::ExactReference { docker_reference: r }) => match Named::parse(r) {
            Some(n) if n.tag.is_some() || n.digest.is_some() => Ok(()),
            _ => bad("dockerReference", r),
        },
        Some(Identity::ExactRepository { docker_repository: r }) => match Named::parse(r) {
            Some(n) if n.tag.is_none() && n.digest.is_none() => Ok(()),
            _ => bad("dockerRepository", r),
        },
        Some(Identity::RemapIdentity { prefix, signed_prefix }) => {
            for p in [prefix, signed_prefix] {
                if Named::parse(p).is_none() && !p.contains(['.', ':']) {
                    return bad("prefix", p);
                }
            }
            Ok(())
        }
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn named(text: &str) -> Named {
        Named::parse(text).map(Named::with_default_tag).unwrap_or_else(|| panic!("{text}"))
    }

    const FEDORA: &str = r#"{
        "default": [{"type": "reject"}],
        "transports": {
            "docker": {
                "registry.example.com": [{"type": "signedBy", "keyType": "GPGKeys", "keyPath": "/k.gpg"}],
                "registry.example.com/team/app": [{"type": "insecureAcceptAnything"}],
                "registry.example.com/team/app:v2": [{"type": "reject"}],
                "*.quay.io": [{"type": "sigstoreSigned", "keyPath": "/c.pub", "signedIdentity": {"type": "matchRepository"}}],
                "": [{"type": "insecureAcceptAnything"}]
            },
            "docker-daemon": {"": [{"type": "insecureAcceptAnything"}]}
        }
    }"#;

    #[test]
    fn the_most_specific_scope_applies() {
        let policy = Policy::parse(FEDORA).unwrap();
        let scope = |r: &str| policy.for_image(&named(r)).scope;
        assert_eq!(scope("registry.example.com/team/app:v2"), "docker:registry.example.com/team/app:v2");
        assert_eq!(scope("registry.example.com/team/app:v1"), "docker:registry.example.com/team/app");
        assert_eq!(scope("registry.example.com/other/x"), "docker:registry.example.com");
        assert_eq!(scope("eu.quay.io/a/b"), "docker:*.quay.io");
        assert_eq!(scope("quay.io/a/b"), "docker:", "*.quay.io is for hosts under quay.io");
        assert_eq!(scope("busybox"), "docker:");
        let empty = Policy::parse(r#"{"default":[{"type":"reject"}]}"#).unwrap();
        assert_eq!(empty.for_image(&named("busybox")).scope, "default");
        // What it writes back reads the same.
        assert_eq!(Policy::parse(&policy.to_text()).as_ref(), Ok(&policy));
    }

    #[test]
    fn anything_not_understood_is_refused() {
        let cases = [
            (r#"{"default": []}"#, "empty list"),
            (r#"{"default": [{"type": "acceptEverything"}]}"#, "unknown variant"),
            (r#"{"default": [{"type": "reject", "x": 1}]}"#, "unknown field"),
            (r#"{"default": [{"type": "reject"}], "extra": {}}"#, "unknown field"),
            (r#"{"default": [{"type": "signedBy", "keyType": "X509", "keyPath": "/k"}]}"#, "only GPGKeys"),
            (r#"{"default": [{"type": "signedBy", "keyType": "GPGKeys"}]}"#, "names no key"),
            (
                r#"{"default": [{"type": "signedBy", "keyType": "GPGKeys", "keyPath": "/a", "keyData": "eA=="}]}"#,
                "more than one way",
            ),
            (r#"{"default": [{"type": "sigstoreSigned", "fulcio": {}}]}"#, "unknown field"),
            (
                r#"{"default": [{"type": "sigstoreSigned", "keyPath": "/k", "signedIdentity": {"type": "matchSomething"}}]}"#,
                "unknown variant",
            ),
            (
                r#"{"default": [{"type": "reject"}], "transports": {"ftp": {"": [{"type": "reject"}]}}}"#,
                "unknown transport",
            ),
            (
                r#"{"default": [{"type": "reject"}], "transports": {"docker": {"Not A Scope": [{"type": "reject"}]}}}"#,
                "not a registry",
            ),
            (
                r#"{"default": [{"type": "signedBy", "keyType": "GPGKeys", "keyPath": "/k", "signedIdentity": {"type": "exactReference", "dockerReference": "no tag"}}]}"#,
                "not a Docker reference",
            ),
        ];
        for (text, why) in cases {
            match Policy::parse(text) {
                Err(e) => assert!(e.contains(why), "{text}: {e}"),
                Ok(p) => panic!("{text} was accepted: {p:?}"),
            }
        }
    }
}
