//! What the signature policy says: of one image (`signature` in Info and the results), and the
//! policy whole (TrustShow and its edits).

use zbus::zvariant::{DeserializeDict, SerializeDict, Type};

/// What the signature policy says of an image (`signature` in Info and the results).
#[derive(Debug, Default, Clone, SerializeDict, DeserializeDict, Type)]
#[zvariant(signature = "a{sv}", rename_all = "kebab-case")]
pub struct SignatureBlock {
    /// `signed`, `accepted`, `unverified`, `unverifiable` or `rejected`
    pub verdict: String,
    /// whether a plan that must have a trusted image may run from it
    pub trusted: bool,
    /// one line, as polkit and the CLI show it
    pub shown: String,
    /// why, and for a refusal what to do
    pub reason: String,
    /// the manifest digest it is for
    pub digest: Option<String>,
    /// the policy scope that applied
    pub scope: Option<String>,
    /// who signed it (OpenPGP fingerprints, cosign key files)
    pub signers: Vec<String>,
    /// the identity the signatures claim
    pub identity: Option<String>,
}

impl From<&crate::trust::Verdict> for SignatureBlock {
    fn from(v: &crate::trust::Verdict) -> Self {
        SignatureBlock {
            verdict: v.state.as_str().to_owned(),
            trusted: v.trusted(),
            shown: v.shown(),
            reason: v.reason.clone(),
            digest: v.digest.clone(),
            scope: v.scope.clone(),
            signers: v.signers.clone(),
            identity: v.identity.clone(),
        }
    }
}

/// TrustShow's answer: the signature policy as atomicd reads it now.
#[derive(Debug, Default, Clone, SerializeDict, DeserializeDict, Type)]
#[zvariant(signature = "a{sv}", rename_all = "kebab-case")]
pub struct TrustReport {
    /// the policy file
    pub path: String,
    /// whether it exists (without it nothing is verified and nothing refused)
    pub present: bool,
    /// `[trust] require`: host, all or none
    pub require: String,
    /// why the file cannot be used, when it cannot (then nothing that needs trust runs)
    pub error: Option<String>,
    /// the default requirements
    pub default: TrustScope,
    /// every transport's scopes
    pub scopes: Vec<TrustScope>,
    /// the policy as atomicd would write it
    pub text: String,
}

/// One scope of the policy.
#[derive(Debug, Default, Clone, SerializeDict, DeserializeDict, Type)]
#[zvariant(signature = "a{sv}", rename_all = "kebab-case")]
pub struct TrustScope {
    /// `docker`, ...; empty for the default
    pub transport: String,
    /// the scope (`quay.io/team`), `default` for the default
    pub scope: String,
    /// its requirements' types
    pub types: Vec<String>,
    /// the keys they name
    pub keys: Vec<String>,
    /// docker scopes: where registries.d says their GPG signatures are
    pub lookaside: Option<String>,
    /// docker scopes: whether their cosign signatures are read from the registry
    pub attachments: bool,
}
