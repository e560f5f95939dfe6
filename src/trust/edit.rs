//! TrustAdd, TrustRemove and TrustDefault: one change to the policy, validated whole, then the
//! file replaced atomically. A change that does not validate leaves the file as it was.

use std::path::Path;

use super::policy::{paths, Empty, Policy, Requirement, DOCKER};
use super::{cosign, gpg, read_bytes_bounded, Verifier, FILE_MAX};
use crate::error::{Error, Result};

/// One change to the policy.
#[derive(Debug, Clone, PartialEq)]
pub enum Edit {
    /// The docker scope's requirements become `[requirement]`.
    Add {
        /// The scope (`quay.io/team`).
        scope: String,
        /// What it requires.
        requirement: Requirement,
        /// Where its GPG signatures are (registries.d's `lookaside`), when the caller says.
        lookaside: Option<String>,
    },
    /// The docker scope goes.
    Remove {
        /// The scope.
        scope: String,
    },
    /// The default becomes accept (insecureAcceptAnything) or reject.
    Default {
        /// Accept rather than reject.
        accept: bool,
    },
}

/// A requirement as a caller sends it: the policy file's own keys, as JSON.
pub type RequirementInput = serde_json::Map<String, serde_json::Value>;

impl Edit {
    /// An Add from a caller's requirement, read by the policy file's own rules: an unknown key,
    /// a wrong type or a missing key is named. No file is read here: the key files are read
    /// once the change is authorized (`Verifier::edit`), so an unauthorized caller cannot make
    /// atomicd open paths of its choosing.
    pub fn add(scope: &str, mut input: RequirementInput, lookaside: Option<String>) -> Result<Edit> {
        if let Some(url) = lookaside.as_deref() {
            if !["file:///", "http://", "https://"].iter().any(|p| url.starts_with(p)) {
                return Err(Error::InvalidArgument(format!(
                    "lookaside {:?} is not a file:///, http:// or https:// URL",
                    crate::text::truncate_for_message(url)
                )));
            }
        }
        if input.get("type").and_then(|t| t.as_str()) == Some("signedBy") && !input.contains_key("keyType") {
            input.insert("keyType".into(), "GPGKeys".into());
        }
        let requirement: Requirement = serde_json::from_value(serde_json::Value::Object(input))
            .map_err(|e| Error::InvalidArgument(format!("the requirement is not valid: {e}")))?;
        requirement
            .validate()
            .map_err(|e| Error::InvalidArgument(format!("the requirement is not valid: {e}")))?;
        Ok(Edit::Add { scope: scope.to_owned(), requirement, lookaside })
    }

    /// The change in a few words, for polkit's message and the log.
    pub fn describe(&self) -> String {
        match self {
            Edit::Add { scope, requirement, lookaside } => {
                let keys = requirement.keys();
                let keys = if keys.is_empty() { String::new() } else { format!(" with {}", keys.join(", ")) };
                let at = lookaside.as_ref().map(|l| format!(", signatures at {l}")).unwrap_or_default();
                format!("{} for {scope}{keys}{at}", requirement.kind())
            }
            Edit::Remove { scope } => format!("remove the scope {scope}"),
            Edit::Default { accept: true } => "accept images of no scope".to_owned(),
            Edit::Default { accept: false } => "reject images of no scope".to_owned(),
        }
    }

    /// TrustDefault's argument: `accept` (insecureAcceptAnything) or `reject`.
    pub fn default_named(default: &str) -> Result<Edit> {
        match default {
            "accept" => Ok(Edit::Default { accept: true }),
            "reject" => Ok(Edit::Default { accept: false }),
            other => Err(crate::error::Error::InvalidArgument(format!(
                "the default is \"accept\" or \"reject\", not {:?}",
                crate::text::truncate_for_message(other)
            ))),
        }
    }

    fn apply(&self, policy: &mut Policy) -> Result<()> {
        let docker = || DOCKER.to_owned();
        match self {
            Edit::Add { scope, requirement, .. } => {
                if scope.is_empty() {
                    return Err(Error::InvalidArgument(
                        "the scope is empty: name a registry or repository, or use TrustDefault".into(),
                    ));
                }
                policy
                    .transports
                    .entry(docker())
                    .or_default()
                    .insert(scope.clone(), vec![requirement.clone()]);
            }
            Edit::Remove { scope } => {
                let removed = policy.transports.get_mut(DOCKER).and_then(|s| s.remove(scope));
                if removed.is_none() {
                    return Err(Error::InvalidArgument(format!("the policy has no docker scope {scope:?}")));
                }
                if policy.transports.get(DOCKER).is_some_and(|s| s.is_empty()) {
                    policy.transports.remove(DOCKER);
                }
            }
            Edit::Default { accept } => {
                let requirement = match accept {
                    true => Requirement::InsecureAcceptAnything(Empty {}),
                    false => Requirement::Reject(Empty {}),
                };
                policy.default = vec![requirement];
            }
        }
        policy.validate().map_err(|e| Error::InvalidArgument(format!("the policy would not be valid: {e}")))
    }
}

/// The key files a requirement names must hold keys of its kind, now.
fn check_keys(requirement: &Requirement) -> Result<()> {
    let (files, gpg) = match requirement {
        Requirement::SignedBy(s) => (paths(s.key_path.as_ref(), s.key_paths.as_ref()), true),
        Requirement::SigstoreSigned(s) => (paths(s.key_path.as_ref(), s.key_paths.as_ref()), false),
        _ => return Ok(()),
    };
    for file in files {
        if !file.starts_with('/') {
            return Err(Error::InvalidArgument(format!("keyPath {file:?} is not an absolute path")));
        }
        // Not a FIFO or device, whose open or read would not end.
        if !std::fs::metadata(&file).is_ok_and(|m| m.is_file()) {
            return Err(Error::InvalidArgument(format!("keyPath {file:?} is not a file")));
        }
        let bytes = read_bytes_bounded(Path::new(&file), FILE_MAX)
            .map_err(|e| Error::InvalidArgument(format!("keyPath {file:?} cannot be read: {e}")))?;
        let parsed = match gpg {
            true => gpg::Keyring::parse(&bytes).map(drop),
            false => cosign::Keys::parse(&[bytes]).map(drop),
        };
        parsed.map_err(|e| Error::InvalidArgument(format!("keyPath {file:?}: {e}")))?;
    }
    Ok(())
}

impl Verifier {
    /// Applies `edit` to the policy file and returns the new policy. A missing file starts as
    /// one that accepts anything, which is what its absence meant; a file that cannot be read
    /// is not replaced.
    pub async fn edit(&self, edit: &Edit) -> Result<Policy> {
        let _one_at_a_time = self.edits.lock().await;
        let path = &self.settings.policy;
        let mut policy = match self.load() {
            Ok(Some(loaded)) => loaded.policy,
            Ok(None) => Policy {
                default: vec![Requirement::InsecureAcceptAnything(Empty {})],
                transports: Default::default(),
            },
            Err(why) => {
                return Err(Error::Failed(format!(
                "the signature policy {} cannot be read ({why}); fix it by hand first, it is left as it is",
                path.display()
            )))
            }
        };
        if let Edit::Add { requirement, .. } = edit {
            check_keys(requirement)?;
        }
        edit.apply(&mut policy)?;
        // Where the signatures are first: alone it only says where to look, never what to trust.
        if let Some(text) = self.registries_text(edit)? {
            let dir = &self.settings.registries_d;
            std::fs::create_dir_all(dir)
                .map_err(|e| Error::io(format!("cannot create {}", dir.display()), e))?;
            crate::system::state::replace_file(&dir.join(super::registries::OWN_FILE), text.as_bytes())?;
        }
        crate::system::state::replace_file(path, policy.to_text().as_bytes())?;
        tracing::info!(policy = %path.display(), "signature policy changed: {}", edit.describe());
        Ok(policy)
    }
}

impl Verifier {
    /// atomicd's registries.d file as the edit needs it: a lookaside the caller named and, for
    /// sigstoreSigned, `use-sigstore-attachments`, without which no cosign signature is read.
    fn registries_text(&self, edit: &Edit) -> Result<Option<String>> {
        let dir = &self.settings.registries_d;
        let wanted = match edit {
            Edit::Add { scope, requirement, lookaside } => {
                let attachments = matches!(requirement, Requirement::SigstoreSigned(_));
                if lookaside.is_none() && !attachments {
                    return Ok(None);
                }
                let settings = super::registries::Lookaside {
                    lookaside: lookaside.clone(),
                    use_sigstore_attachments: attachments.then_some(true),
                    ..Default::default()
                };
                return super::registries::own_file_with(dir, scope, Some(&settings))
                    .map_err(|e| Error::InvalidArgument(format!("registries.d: {e}")));
            }
            Edit::Remove { scope } => scope,
            Edit::Default { .. } => return Ok(None),
        };
        super::registries::own_file_with(dir, wanted, None)
            .map_err(|e| Error::InvalidArgument(format!("registries.d: {e}")))
    }
}
