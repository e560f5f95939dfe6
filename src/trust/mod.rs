//! Which images may reach the host: containers-policy.json(5) and registries.d(5), enforced by
//! atomicd itself for the manifest digest of the exact image a plan creates from.
//!
//! Pure parts (policy, registries, identity, payload, the two signature formats) beside one
//! outside-world trait, [`fetch::SignatureSource`], so the rules are tested without a network.

mod cosign;
mod edit;
pub mod fetch;
mod gpg;
mod identity;
mod payload;
mod policy;
mod reference;
mod registries;
mod verdict;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use sha2::Digest as _;

pub use edit::{Edit, RequirementInput};
pub use policy::{Policy, Requirement};
pub use reference::Named;
pub use verdict::{State, Verdict};

use fetch::SignatureSource;
use registries::Registries;

/// Which plans need an image the policy trusts (`[trust] require`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Deserialize, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Require {
    /// Every plan that reaches the host (any privilege), the default.
    #[default]
    Host,
    /// Every plan.
    All,
    /// None: verdicts are shown, nothing is refused for them.
    None,
}

impl Require {
    /// As the configuration writes it.
    pub fn as_str(self) -> &'static str {
        match self {
            Require::Host => "host",
            Require::All => "all",
            Require::None => "none",
        }
    }

    /// Whether a plan that reaches the host (`privileged`) or not must have a trusted image.
    pub fn applies(self, privileged: bool) -> bool {
        match self {
            Require::Host => privileged,
            Require::All => true,
            Require::None => false,
        }
    }
}

/// Where the policy is and what it demands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settings {
    /// containers-policy.json(5).
    pub policy: PathBuf,
    /// registries.d(5).
    pub registries_d: PathBuf,
    /// Which plans need a trusted image.
    pub require: Require,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            policy: PathBuf::from("/etc/containers/policy.json"),
            registries_d: PathBuf::from("/etc/containers/registries.d"),
            require: Require::Host,
        }
    }
}

/// The largest policy or key file read.
const FILE_MAX: u64 = 1024 * 1024;
/// How long a verdict that is not "signed" is kept: a signature may be added any time.
const REFUSAL_KEPT: Duration = Duration::from_secs(60);
/// Verifications that fetch at once; the others wait.
const AT_ONCE: usize = 4;
/// Verdicts kept at most.
const CACHE_MAX: usize = 4096;

/// The policy as read now, with everything that decides a verdict hashed into `generation`.
pub struct Loaded {
    pub(crate) policy: Policy,
    pub(crate) registries: Registries,
    /// Key files by path, read once per load.
    pub(crate) keys: HashMap<String, Vec<u8>>,
    generation: [u8; 32],
}

impl Loaded {
    /// The policy.
    pub fn policy(&self) -> &Policy {
        &self.policy
    }

    /// Where registries.d says the signatures of `scope` are: (lookaside, cosign attachments
    /// read).
    pub fn signatures_at(&self, scope: &str) -> (Option<String>, bool) {
        let found = self.registries.for_scope(scope);
        (
            found.and_then(|l| l.url()).map(str::to_owned),
            found.and_then(|l| l.use_sigstore_attachments) == Some(true),
        )
    }
}

/// What a verdict was decided on: the policy's generation, the digest, the reference.
type CacheKey = ([u8; 32], String, String);

/// Verifies images against the policy, caching verdicts per digest while nothing they were
/// decided by has changed.
pub struct Verifier {
    settings: Settings,
    source: Arc<dyn SignatureSource>,
    cache: Mutex<HashMap<CacheKey, (Instant, Verdict)>>,
    gate: tokio::sync::Semaphore,
    /// Serialises the edits of the policy file.
    edits: tokio::sync::Mutex<()>,
}

impl Verifier {
    /// A verifier reading `settings`' files and fetching signatures from `source`.
    pub fn new(settings: Settings, source: Arc<dyn SignatureSource>) -> Self {
        Verifier {
            settings,
            source,
            cache: Mutex::default(),
            gate: tokio::sync::Semaphore::new(AT_ONCE),
            edits: tokio::sync::Mutex::new(()),
        }
    }

    /// Its settings.
    pub fn settings(&self) -> &Settings {
        &self.settings
    }

    /// The verdict for the image a plan creates from: `reference` as the caller wrote it, and the
    /// RepoDigests of the image ID it resolved to.
    pub async fn verify(&self, reference: &str, repo_digests: &[String]) -> Verdict {
        match self.load_or_verdict() {
            Ok(loaded) => self.verify_with(&loaded, reference, repo_digests).await,
            Err(verdict) => *verdict,
        }
    }

    /// The verdicts of several images (reference, RepoDigests), the policy read once for all.
    pub async fn verify_all(&self, images: &[(&str, &[String])]) -> Vec<Verdict> {
        match self.load_or_verdict() {
            Ok(loaded) => {
                let each =
                    images.iter().map(|(reference, digests)| self.verify_with(&loaded, reference, digests));
                futures_util::future::join_all(each).await
            }
            Err(verdict) => vec![*verdict; images.len()],
        }
    }

    /// The policy as read now, or the verdict every image gets without a usable one.
    fn load_or_verdict(&self) -> Result<Loaded, Box<Verdict>> {
        match self.load() {
            Ok(Some(loaded)) => Ok(loaded),
            Ok(None) => Err(Box::new(Verdict::unverified(&self.settings.policy))),
            Err(why) => Err(Box::new(Verdict::broken_policy(&self.settings.policy, &why))),
        }
    }

    async fn verify_with(&self, loaded: &Loaded, reference: &str, repo_digests: &[String]) -> Verdict {
        let Some(named) = Named::parse(reference).map(Named::with_default_tag) else {
            return Verdict::rejected(None, None, format!("{reference:?} is not a Docker reference"));
        };
        let applied = loaded.policy.for_image(&named);
        let requirements = applied.requirements;
        let scope = applied.scope.clone();
        if requirements.iter().all(|r| matches!(r, Requirement::InsecureAcceptAnything(_))) {
            return Verdict::accepted(&scope);
        }
        if requirements.iter().any(|r| matches!(r, Requirement::Reject(_))) {
            return Verdict::rejected(
                Some(&scope),
                None,
                format!("the policy rejects every image of scope {scope}"),
            );
        }
        let digests = reference::digests_for(repo_digests, &named);
        let mut first_refusal = None;
        for digest in digests {
            let verdict = self.decide_cached(loaded, &named, &digest, &scope, requirements).await;
            if verdict.state == State::Signed {
                return verdict;
            }
            first_refusal.get_or_insert(verdict);
        }
        first_refusal.unwrap_or_else(|| Verdict::unverifiable(&named, &scope))
    }

    /// The verdict for one digest, from the cache when nothing it was decided on changed.
    async fn decide_cached(
        &self,
        loaded: &Loaded,
        named: &Named,
        digest: &str,
        scope: &str,
        requirements: &[Requirement],
    ) -> Verdict {
        let key = (loaded.generation, digest.to_owned(), named.full());
        if let Some(kept) = self.kept(&key) {
            return kept;
        }
        let verdict = {
            let _permit = self.gate.acquire().await;
            verdict::decide(loaded, self.source.as_ref(), named, digest, scope, requirements).await
        };
        self.keep(key, &verdict);
        verdict
    }

    fn kept(&self, key: &CacheKey) -> Option<Verdict> {
        let cache = self.cache.lock().ok()?;
        let (at, verdict) = cache.get(key)?;
        (verdict.state == State::Signed || at.elapsed() < REFUSAL_KEPT).then(|| verdict.clone())
    }

    fn keep(&self, key: CacheKey, verdict: &Verdict) {
        if let Ok(mut cache) = self.cache.lock() {
            if cache.len() >= CACHE_MAX {
                cache.clear();
            }
            cache.insert(key, (Instant::now(), verdict.clone()));
        }
    }

    /// The policy and registries.d as they read now: `None` when there is no policy file.
    pub fn current(&self) -> Result<Option<Loaded>, String> {
        self.load()
    }

    /// Reads the policy, registries.d and the keys the policy names; `None` when there is no
    /// policy file.
    pub(crate) fn load(&self) -> Result<Option<Loaded>, String> {
        let path = &self.settings.policy;
        let text = match read_bounded(path, FILE_MAX) {
            Ok(text) => text,
            Err(_) if !path.exists() => return Ok(None),
            Err(why) => return Err(why),
        };
        let policy = Policy::parse(&text)?;
        let registries = Registries::read(&self.settings.registries_d)?;
        let mut hash = sha2::Sha256::new();
        hash.update(text.as_bytes());
        hash.update(format!("{registries:?}").as_bytes());
        let mut keys = HashMap::new();
        for file in policy::key_files(&policy) {
            // A key file that cannot be read fails the requirements that name it, not the rest.
            let bytes = read_bytes_bounded(Path::new(&file), FILE_MAX).unwrap_or_default();
            hash.update(file.as_bytes());
            hash.update(sha2::Sha256::digest(&bytes));
            keys.insert(file, bytes);
        }
        Ok(Some(Loaded { policy, registries, keys, generation: hash.finalize().into() }))
    }
}

/// A text file of at most `limit` bytes, or why not.
pub(crate) fn read_bounded(path: &Path, limit: u64) -> Result<String, String> {
    let bytes = read_bytes_bounded(path, limit).map_err(|e| format!("{}: {e}", path.display()))?;
    String::from_utf8(bytes).map_err(|_| format!("{}: not UTF-8 text", path.display()))
}

/// A regular file of at most `limit` bytes (a FIFO or device named by a policy or lookaside
/// would never end).
pub(crate) fn read_bytes_bounded(path: &Path, limit: u64) -> std::io::Result<Vec<u8>> {
    use std::io::Read;
    if !std::fs::metadata(path)?.is_file() {
        return Err(std::io::Error::other("not a regular file"));
    }
    let mut bytes = Vec::new();
    std::fs::File::open(path)?.take(limit + 1).read_to_end(&mut bytes)?;
    if bytes.len() as u64 > limit {
        return Err(std::io::Error::other(format!("larger than {limit} bytes")));
    }
    Ok(bytes)
}

#[cfg(test)]
pub(crate) mod tests;
