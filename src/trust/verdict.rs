//! A verdict on one image digest, and how the policy's requirements reach it.

use std::path::Path;

use base64::Engine as _;

use super::fetch::{SignatureSource, SIGNATURE_MAX};
use super::policy::{paths, Requirement, SignedBy, SigstoreSigned};
use super::reference::Named;
use super::{cosign, gpg, identity, payload, Loaded};

/// What the policy says of an image.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum State {
    /// Signed as every requirement of its scope demands.
    Signed,
    /// Its scope accepts anything (insecureAcceptAnything).
    Accepted,
    /// There is no policy file: nothing is verified, nothing refused.
    Unverified,
    /// No digest from the registry its reference names (built or imported here).
    Unverifiable,
    /// The policy refuses it: rejected scope, no signature, a wrong one, a broken policy.
    Rejected,
}

impl State {
    /// As answers and the CLI write it.
    pub fn as_str(self) -> &'static str {
        match self {
            State::Signed => "signed",
            State::Accepted => "accepted",
            State::Unverified => "unverified",
            State::Unverifiable => "unverifiable",
            State::Rejected => "rejected",
        }
    }
}

/// The verdict, with what it was decided on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verdict {
    /// What it comes to.
    pub state: State,
    /// The manifest digest it is for.
    pub digest: Option<String>,
    /// The policy scope that applied (`docker:quay.io/team`, `default`).
    pub scope: Option<String>,
    /// Who signed it: OpenPGP fingerprints, cosign key files.
    pub signers: Vec<String>,
    /// The identity the signatures claim.
    pub identity: Option<String>,
    /// One sentence: why, and for a refusal what to do.
    pub reason: String,
}

impl Verdict {
    /// Whether a plan that must have a trusted image may run from it.
    pub fn trusted(&self) -> bool {
        matches!(self.state, State::Signed | State::Accepted | State::Unverified)
    }

    /// What polkit, the job and the display show, in one line.
    pub fn shown(&self) -> String {
        match self.state {
            State::Signed => format!(
                "signed by {} as {}",
                self.signers.join(", "),
                self.identity.as_deref().unwrap_or_default()
            ),
            State::Accepted => {
                format!("unsigned, accepted by the policy ({})", self.scope.as_deref().unwrap_or_default())
            }
            State::Unverified => "unverified (no signature policy)".to_owned(),
            State::Unverifiable => format!("unsigned: {}", self.reason),
            State::Rejected => format!("unsigned: {}", self.reason),
        }
    }

    pub(super) fn unverified(policy: &Path) -> Verdict {
        Verdict {
            state: State::Unverified,
            reason: format!("there is no signature policy ({} does not exist)", policy.display()),
            ..Verdict::empty()
        }
    }

    pub(super) fn broken_policy(policy: &Path, why: &str) -> Verdict {
        Verdict::rejected(
            None,
            None,
            format!("the signature policy {} cannot be used: {why}", policy.display()),
        )
    }

    pub(super) fn accepted(scope: &str) -> Verdict {
        Verdict {
            state: State::Accepted,
            scope: Some(scope.to_owned()),
            reason: format!("the policy accepts any image of scope {scope} (insecureAcceptAnything)"),
            ..Verdict::empty()
        }
    }

    pub(super) fn rejected(scope: Option<&str>, digest: Option<&str>, reason: String) -> Verdict {
        Verdict {
            state: State::Rejected,
            scope: scope.map(str::to_owned),
            digest: digest.map(str::to_owned),
            reason,
            ..Verdict::empty()
        }
    }

    pub(super) fn unverifiable(named: &Named, scope: &str) -> Verdict {
        Verdict {
            state: State::Unverifiable,
            scope: Some(scope.to_owned()),
            reason: format!(
                "the image has no digest from {} (it was built or imported here, or pulled under another \
                 name), so no signature can be for it; pull it, signed, from {}",
                named.repository(),
                named.repository()
            ),
            ..Verdict::empty()
        }
    }

    fn empty() -> Verdict {
        Verdict {
            state: State::Unverified,
            digest: None,
            scope: None,
            signers: Vec::new(),
            identity: None,
            reason: String::new(),
        }
    }
}

/// Checks every requirement (all must hold) for `digest` of `named`.
pub(super) async fn decide(
    loaded: &Loaded,
    source: &dyn SignatureSource,
    named: &Named,
    digest: &str,
    scope: &str,
    requirements: &[Requirement],
) -> Verdict {
    let mut signers = Vec::new();
    let mut claimed = None;
    for requirement in requirements {
        let outcome = match requirement {
            Requirement::InsecureAcceptAnything(_) => continue,
            Requirement::Reject(_) => Err("the policy rejects it".to_owned()),
            Requirement::SignedBy(s) => signed_by(loaded, source, named, digest, s).await,
            Requirement::SigstoreSigned(s) => sigstore_signed(loaded, source, named, digest, s).await,
        };
        match outcome {
            Ok((signer, identity)) => {
                signers.push(signer);
                claimed = Some(identity);
            }
            Err(why) => {
                let reason = format!("{} {digest} is not trusted by scope {scope}: {why}", named.full());
                return Verdict::rejected(Some(scope), Some(digest), reason);
            }
        }
    }
    Verdict {
        state: State::Signed,
        digest: Some(digest.to_owned()),
        scope: Some(scope.to_owned()),
        identity: claimed,
        reason: format!("{} {digest} is signed as scope {scope} requires", named.full()),
        signers,
    }
}

/// The key files' contents, then the inline keys; a file that could not be read is an error.
fn key_material(
    loaded: &Loaded,
    files: Vec<String>,
    inline: Vec<&String>,
) -> Result<Vec<(String, Vec<u8>)>, String> {
    let mut out = Vec::new();
    for file in files {
        match loaded.keys.get(&file).filter(|k| !k.is_empty()) {
            Some(bytes) => out.push((file, bytes.clone())),
            None => return Err(format!("the key file {file} cannot be read")),
        }
    }
    for (n, data) in inline.into_iter().enumerate() {
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(data.trim())
            .map_err(|e| format!("keyData is not base64: {e}"))?;
        out.push((format!("keyData {}", n + 1), bytes));
    }
    Ok(out)
}

async fn signed_by(
    loaded: &Loaded,
    source: &dyn SignatureSource,
    named: &Named,
    digest: &str,
    req: &SignedBy,
) -> Result<(String, String), String> {
    let material = key_material(
        loaded,
        paths(req.key_path.as_ref(), req.key_paths.as_ref()),
        req.key_data.iter().collect(),
    )?;
    let rings = material
        .iter()
        .map(|(name, bytes)| gpg::Keyring::parse(bytes).map_err(|e| format!("{name}: {e}")))
        .collect::<Result<Vec<_>, _>>()?;
    let ring = gpg::Keyring::join(rings);
    let settings = loaded.registries.for_image(named);
    let Some(base) = settings.and_then(|s| s.url()) else {
        return Err(format!(
            "registries.d names no lookaside for {}, so its GPG signatures cannot be found",
            named.repository()
        ));
    };
    let signatures = source
        .lookaside(base, &named.path, digest)
        .await
        .map_err(|e| format!("the lookaside cannot be read: {e}"))?;
    if signatures.is_empty() {
        return Err(format!("it has no signature (none in the lookaside {base})"));
    }
    let mut why = Vec::new();
    for signature in &signatures {
        let checked = ring.verify(signature, SIGNATURE_MAX).and_then(|v| {
            let claim = payload::read(&v.payload, payload::SIMPLE_SIGNING)?;
            check_claim(&claim, named, digest, req.signed_identity.as_ref())?;
            Ok((v.signer, claim.reference))
        });
        match checked {
            Ok(found) => return Ok(found),
            Err(e) => why.push(e),
        }
    }
    Err(summary(why))
}

async fn sigstore_signed(
    loaded: &Loaded,
    source: &dyn SignatureSource,
    named: &Named,
    digest: &str,
    req: &SigstoreSigned,
) -> Result<(String, String), String> {
    let inline: Vec<&String> = req.key_data.iter().chain(req.key_datas.iter().flatten()).collect();
    let material = key_material(loaded, paths(req.key_path.as_ref(), req.key_paths.as_ref()), inline)?;
    let pems: Vec<Vec<u8>> = material.iter().map(|(_, b)| b.clone()).collect();
    let keys = cosign::Keys::parse(&pems)?;
    let attachments_on =
        loaded.registries.for_image(named).and_then(|s| s.use_sigstore_attachments) == Some(true);
    if !attachments_on {
        return Err(format!(
            "registries.d does not set use-sigstore-attachments for {}, so its cosign signatures are not read",
            named.repository()
        ));
    }
    let attachments = source
        .attachments(named, digest)
        .await
        .map_err(|e| format!("the registry's signatures cannot be read: {e}"))?;
    if attachments.is_empty() {
        return Err(format!("it has no signature (no {}.sig attachment)", digest.replacen(':', "-", 1)));
    }
    let mut why = Vec::new();
    for attachment in &attachments {
        let Some(index) = keys.verify(&attachment.signature, &attachment.payload) else {
            why.push("it is signed by no key of the policy".to_owned());
            continue;
        };
        let checked = payload::read(&attachment.payload, payload::COSIGN).and_then(|claim| {
            check_claim(&claim, named, digest, req.signed_identity.as_ref()).map(|()| claim)
        });
        match checked {
            Ok(claim) => return Ok((material[index].0.clone(), claim.reference)),
            Err(e) => why.push(e),
        }
    }
    Err(summary(why))
}

fn check_claim(
    claim: &payload::Claim,
    named: &Named,
    digest: &str,
    rule: Option<&super::policy::Identity>,
) -> Result<(), String> {
    if claim.digest != digest {
        return Err(format!("the signature is of another image (digest {})", claim.digest));
    }
    identity::check(rule, named, &claim.reference)
}

/// Why no signature satisfied the requirement: each reason once.
fn summary(mut why: Vec<String>) -> String {
    why.dedup();
    why.join("; ")
}
