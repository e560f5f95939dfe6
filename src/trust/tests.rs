//! The verifier against a fake signature source: every way a signature can fail, and the cache.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use async_trait::async_trait;

use super::fetch::{Attachment, SignatureSource};
use super::*;

type Lookaside = (String, String);

/// Signatures held in memory, by (repository path, digest); counts its reads.
#[derive(Default)]
pub(crate) struct FakeSource {
    /// GPG signatures by (repository path, digest).
    pub(crate) gpg: Mutex<HashMap<Lookaside, Vec<Vec<u8>>>>,
    pub(crate) cosign: Mutex<HashMap<String, Vec<Attachment>>>,
    pub(crate) down: std::sync::atomic::AtomicBool,
    pub(crate) reads: AtomicUsize,
}

#[async_trait]
impl SignatureSource for FakeSource {
    async fn lookaside(&self, _base: &str, path: &str, digest: &str) -> Result<Vec<Vec<u8>>, String> {
        self.reads.fetch_add(1, Ordering::SeqCst);
        if self.down.load(Ordering::SeqCst) {
            return Err("http://127.0.0.1:9/x does not answer: connection refused".into());
        }
        Ok(self
            .gpg
            .lock()
            .map(|m| m.get(&(path.to_owned(), digest.to_owned())).cloned().unwrap_or_default())
            .unwrap_or_default())
    }

    async fn attachments(&self, _named: &Named, digest: &str) -> Result<Vec<Attachment>, String> {
        self.reads.fetch_add(1, Ordering::SeqCst);
        Ok(self.cosign.lock().map(|m| m.get(digest).cloned().unwrap_or_default()).unwrap_or_default())
    }
}

/// A scratch directory with a policy, registries.d and keys.
pub(crate) struct Scene {
    pub(crate) dir: PathBuf,
    pub(crate) source: Arc<FakeSource>,
    pub(crate) verifier: Arc<Verifier>,
    pub(crate) gpg: sequoia_openpgp::Cert,
    pub(crate) cosign: sigstore::crypto::SigStoreSigner,
}

pub(crate) const REPO: &str = "127.0.0.1:5000/atomic-test/app";

pub(crate) fn digest(c: char) -> String {
    format!("sha256:{}", c.to_string().repeat(64))
}

pub(crate) fn payload(kind: &str, digest: &str, reference: &str) -> Vec<u8> {
    serde_json::json!({
        "critical": {"type": kind, "image": {"docker-manifest-digest": digest}, "identity": {"docker-reference": reference}},
        "optional": {"creator": "atomicd tests"}
    })
    .to_string()
    .into_bytes()
}

impl Scene {
    /// `docker: 127.0.0.1:5000/atomic-test/gpg*` signedBy, `.../cosign` sigstoreSigned, `.../open`
    /// accept, `.../closed` reject, the rest by `default`.
    pub(crate) fn new(default: &str) -> Scene {
        Scene::requiring(default, Require::Host)
    }

    /// The same, with `[trust] require`.
    pub(crate) fn requiring(default: &str, require: Require) -> Scene {
        static N: AtomicUsize = AtomicUsize::new(0);
        let dir = std::env::temp_dir().join(format!(
            "atomicd-trust-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::SeqCst)
        ));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(dir.join("registries.d")).unwrap();
        let (gpg, ring) = gpg::tests::key("signer <s@example.org>");
        let (cosign, pem) = cosign::tests::key();
        std::fs::write(dir.join("signer.gpg"), ring).unwrap();
        std::fs::write(dir.join("cosign.pub"), pem).unwrap();
        let d = dir.display();
        let policy = format!(
            r#"{{"default": [{default}], "transports": {{"docker": {{
                "{REPO}": [{{"type": "signedBy", "keyType": "GPGKeys", "keyPath": "{d}/signer.gpg"}}],
                "127.0.0.1:5000/atomic-test/cosign": [{{"type": "sigstoreSigned", "keyPath": "{d}/cosign.pub"}}],
                "127.0.0.1:5000/atomic-test/open": [{{"type": "insecureAcceptAnything"}}],
                "127.0.0.1:5000/atomic-test/closed": [{{"type": "reject"}}]
            }}}}}}"#
        );
        std::fs::write(dir.join("policy.json"), policy).unwrap();
        std::fs::write(
            dir.join("registries.d/test.yaml"),
            "docker:\n  127.0.0.1:5000:\n    lookaside: http://127.0.0.1:5080\n    use-sigstore-attachments: true\n",
        )
        .unwrap();
        let source = Arc::new(FakeSource::default());
        let settings =
            Settings { policy: dir.join("policy.json"), registries_d: dir.join("registries.d"), require };
        let verifier = Arc::new(Verifier::new(settings, source.clone()));
        Scene { dir, source, verifier, gpg, cosign }
    }

    /// A GPG signature of `digest` as `reference`, in the lookaside of `path`.
    pub(crate) fn sign_gpg(&self, path: &str, digest: &str, reference: &str) {
        let signature = gpg::tests::sign(&self.gpg, &payload(payload::SIMPLE_SIGNING, digest, reference));
        self.source.gpg.lock().unwrap().entry((path.into(), digest.into())).or_default().push(signature);
    }

    pub(crate) fn sign_cosign(&self, digest: &str, reference: &str) {
        let payload = payload(payload::COSIGN, digest, reference);
        let signature = cosign::tests::sign(&self.cosign, &payload);
        self.source
            .cosign
            .lock()
            .unwrap()
            .entry(digest.into())
            .or_default()
            .push(Attachment { signature, payload });
    }

    pub(crate) async fn verify(&self, reference: &str, digest: &str) -> Verdict {
        let repository = Named::parse(reference).map(|n| n.repository()).unwrap_or_default();
        self.verifier.verify(reference, &[format!("{repository}@{digest}")]).await
    }
}

fn block_on<F: std::future::Future>(f: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(f)
}

#[test]
fn a_gpg_signature_of_the_digest_by_the_policy_s_key_is_signed() {
    let s = Scene::new(r#"{"type": "reject"}"#);
    let (d, other) = (digest('a'), digest('b'));
    s.sign_gpg("atomic-test/app", &d, &format!("{REPO}:1"));
    let v = block_on(s.verify(&format!("{REPO}:1"), &d));
    assert_eq!(v.state, State::Signed, "{v:?}");
    assert_eq!(v.signers, [s.gpg.fingerprint().to_hex()]);
    assert_eq!(v.digest.as_deref(), Some(d.as_str()));
    assert!(v.shown().starts_with("signed by "), "{}", v.shown());

    // Another tag: the default identity rule wants the same reference.
    let v = block_on(s.verify(&format!("{REPO}:2"), &d));
    assert_eq!(v.state, State::Rejected);
    assert!(v.reason.contains("the signature is for"), "{}", v.reason);

    // The signature copied beside another digest (a re-tag) is of another image.
    let copied =
        s.source.gpg.lock().ok().and_then(|m| m.get(&("atomic-test/app".to_owned(), d.clone())).cloned());
    s.source
        .gpg
        .lock()
        .unwrap()
        .insert(("atomic-test/app".into(), other.clone()), copied.unwrap_or_default());
    let v = block_on(s.verify(&format!("{REPO}:1"), &other));
    assert_eq!(v.state, State::Rejected);
    assert!(v.reason.contains("another image"), "{}", v.reason);

    // Nothing in the lookaside.
    let v = block_on(s.verify(&format!("{REPO}:1"), &digest('c')));
    assert!(v.reason.contains("no signature"), "{}", v.reason);
}

#[test]
fn a_wrong_key_a_tampered_payload_and_a_dead_lookaside_are_refused_with_their_reason() {
    let s = Scene::new(r#"{"type": "reject"}"#);
    let d = digest('a');
    let (stranger, _) = gpg::tests::key("stranger <x@example.org>");
    let forged = gpg::tests::sign(&stranger, &payload(payload::SIMPLE_SIGNING, &d, &format!("{REPO}:1")));
    s.source.gpg.lock().unwrap().insert(("atomic-test/app".into(), d.clone()), vec![forged]);
    let v = block_on(s.verify(&format!("{REPO}:1"), &d));
    assert_eq!(v.state, State::Rejected);
    assert!(v.reason.contains("does not verify"), "{}", v.reason);

    let d = digest('e');
    s.sign_gpg("atomic-test/app", &d, &format!("{REPO}:1"));
    if let Ok(mut m) = s.source.gpg.lock() {
        for sig in m.values_mut().flatten() {
            if let Some(i) = sig.windows(6).position(|w| w == b"sha256") {
                sig[i] = b'S';
            }
        }
    }
    let v = block_on(s.verify(&format!("{REPO}:1"), &d));
    assert_eq!(v.state, State::Rejected, "a tampered payload: {v:?}");

    s.source.down.store(true, Ordering::SeqCst);
    let v = block_on(s.verify(&format!("{REPO}:1"), &digest('f')));
    assert!(
        v.reason.contains("lookaside cannot be read") && v.reason.contains("does not answer"),
        "{}",
        v.reason
    );
}

#[test]
fn cosign_signatures_verify_with_the_policy_s_public_key() {
    let s = Scene::new(r#"{"type": "reject"}"#);
    let image = "127.0.0.1:5000/atomic-test/cosign:1";
    let d = digest('a');
    s.sign_cosign(&d, image);
    let v = block_on(s.verify(image, &d));
    assert_eq!(v.state, State::Signed, "{v:?}");
    assert_eq!(v.signers, [format!("{}/cosign.pub", s.dir.display())]);
    let v = block_on(s.verify(image, &digest('b')));
    assert!(v.reason.contains("no signature"), "{}", v.reason);
    // Signed by a key the policy does not name.
    let (stranger, _) = cosign::tests::key();
    let p = payload(payload::COSIGN, &digest('c'), image);
    let signature = cosign::tests::sign(&stranger, &p);
    s.source.cosign.lock().unwrap().insert(digest('c'), vec![Attachment { signature, payload: p }]);
    let v = block_on(s.verify(image, &digest('c')));
    assert!(v.reason.contains("no key of the policy"), "{}", v.reason);
    // A GPG payload type is not a cosign one.
    s.sign_cosign(&digest('d'), image);
    let v = block_on(s.verify(image, &digest('d')));
    assert_eq!(v.state, State::Signed);
}

#[test]
fn scopes_decide_before_any_signature_is_read() {
    let s = Scene::new(r#"{"type": "insecureAcceptAnything"}"#);
    let open = block_on(s.verifier.verify("127.0.0.1:5000/atomic-test/open:1", &[]));
    assert_eq!(open.state, State::Accepted);
    assert!(open.trusted());
    let closed = block_on(s.verify("127.0.0.1:5000/atomic-test/closed:1", &digest('a')));
    assert_eq!(closed.state, State::Rejected);
    assert!(closed.reason.contains("rejects every image"), "{}", closed.reason);
    assert_eq!(block_on(s.verifier.verify("busybox", &[])).state, State::Accepted, "the default");
    // Built here: no digest for its repository.
    let built = block_on(s.verifier.verify(&format!("{REPO}:1"), &[]));
    assert_eq!(built.state, State::Unverifiable);
    assert!(!built.trusted());
    assert!(built.reason.contains("built or imported here"), "{}", built.reason);
    assert_eq!(s.source.reads.load(Ordering::SeqCst), 0, "nothing was fetched");
}

#[test]
fn verdicts_are_kept_while_the_policy_is_unchanged() {
    let s = Scene::new(r#"{"type": "reject"}"#);
    let d = digest('a');
    s.sign_gpg("atomic-test/app", &d, &format!("{REPO}:1"));
    for _ in 0..3 {
        assert_eq!(block_on(s.verify(&format!("{REPO}:1"), &d)).state, State::Signed);
    }
    assert_eq!(s.source.reads.load(Ordering::SeqCst), 1, "read once");
    // A changed key file is a changed policy.
    let (_, other) = gpg::tests::key("other <o@example.org>");
    std::fs::write(s.dir.join("signer.gpg"), other).unwrap();
    assert_eq!(block_on(s.verify(&format!("{REPO}:1"), &d)).state, State::Rejected);
    assert_eq!(s.source.reads.load(Ordering::SeqCst), 2);
}

#[test]
fn no_policy_refuses_nothing_and_a_broken_one_trusts_nothing() {
    let s = Scene::new(r#"{"type": "reject"}"#);
    std::fs::remove_file(s.dir.join("policy.json")).unwrap();
    let v = block_on(s.verifier.verify("busybox", &[]));
    assert_eq!(v.state, State::Unverified);
    assert!(v.trusted());
    std::fs::write(s.dir.join("policy.json"), r#"{"default": [{"type": "acceptAll"}]}"#).unwrap();
    let v = block_on(s.verifier.verify("busybox", &[]));
    assert_eq!(v.state, State::Rejected);
    assert!(v.reason.contains("cannot be used"), "{}", v.reason);
}

#[test]
fn edits_validate_first_and_keep_the_file_when_they_fail() {
    let s = Scene::new(r#"{"type": "reject"}"#);
    let path = s.dir.join("policy.json");
    let before = std::fs::read_to_string(&path).unwrap_or_default();
    let input = |v: serde_json::Value| v.as_object().cloned().unwrap_or_default();
    let bad = [
        input(serde_json::json!({"type": "signedBy", "keyPathz": "/x"})),
        input(serde_json::json!({"type": "signedBy", "keyPath": "/nonexistent.gpg"})),
        input(
            serde_json::json!({"type": "sigstoreSigned", "keyPath": format!("{}/signer.gpg", s.dir.display())}),
        ),
        input(serde_json::json!({"type": "trustMe"})),
        input(serde_json::json!({"type": "signedBy", "keyPath": s.dir.join("fifo").display().to_string()})),
    ];
    let made = std::process::Command::new("mkfifo").arg(s.dir.join("fifo")).status();
    assert!(made.is_ok_and(|m| m.success()), "mkfifo");
    for requirement in bad {
        // Read as the caller sent it, then (only once authorized) with its key files.
        let r = Edit::add("quay.io/team", requirement.clone(), None)
            .and_then(|e| block_on(s.verifier.edit(&e)).map(drop));
        assert!(matches!(&r, Err(crate::error::Error::InvalidArgument(_))), "{requirement:?}: {r:?}");
    }
    // Parsing opens no file: a missing key file is found only by the edit itself.
    let missing = input(serde_json::json!({"type": "signedBy", "keyPath": "/nonexistent.gpg"}));
    assert!(Edit::add("quay.io/team", missing, None).is_ok());
    assert!(Edit::add("quay.io/team", input(serde_json::json!({"type": "reject"})), Some("ftp://x".into()))
        .is_err());
    let bad_scope = Edit::add("Not A Scope", input(serde_json::json!({"type": "reject"})), None).unwrap();
    let r = block_on(s.verifier.edit(&bad_scope));
    assert!(
        matches!(&r, Err(crate::error::Error::InvalidArgument(m)) if m.contains("not a registry")),
        "{r:?}"
    );
    assert_eq!(std::fs::read_to_string(&path).unwrap_or_default(), before, "the file is unchanged");

    let add = Edit::add(
        "quay.io/team",
        input(serde_json::json!({"type": "signedBy", "keyPath": format!("{}/signer.gpg", s.dir.display())})),
        Some("https://sigs.example.org".into()),
    )
    .unwrap();
    let policy = block_on(s.verifier.edit(&add)).unwrap();
    assert!(policy.transports[policy::DOCKER].contains_key("quay.io/team"));
    // Where its signatures are went to atomicd's own registries.d file, the admin's kept.
    let own = std::fs::read_to_string(s.dir.join("registries.d/atomic-trust.yaml")).unwrap_or_default();
    assert!(own.contains("quay.io/team") && own.contains("https://sigs.example.org"), "{own}");
    assert!(
        std::fs::read_to_string(s.dir.join("registries.d/test.yaml")).is_ok_and(|t| !t.contains("quay.io"))
    );
    // A sigstoreSigned scope gets use-sigstore-attachments, over the registry's own settings.
    let cosign = Edit::add(
        "127.0.0.1:5000/atomic-test/new",
        input(serde_json::json!({"type": "sigstoreSigned", "keyPath": format!("{}/cosign.pub", s.dir.display())})),
        None,
    )
    .unwrap();
    let policy = block_on(s.verifier.edit(&cosign)).unwrap();
    let all = registries::Registries::read(&s.dir.join("registries.d")).unwrap();
    let new = all.for_scope("127.0.0.1:5000/atomic-test/new");
    assert_eq!(new.and_then(|l| l.use_sigstore_attachments), Some(true));
    assert_eq!(
        new.and_then(registries::Lookaside::url),
        Some("http://127.0.0.1:5080"),
        "the registry's lookaside kept"
    );
    let reread = Policy::parse(&std::fs::read_to_string(&path).unwrap_or_default()).unwrap();
    assert_eq!(reread, policy, "written as returned");
    let policy = block_on(s.verifier.edit(&Edit::Default { accept: true })).unwrap();
    assert_eq!(policy.default, [Requirement::InsecureAcceptAnything(policy::Empty {})]);
    let policy = block_on(s.verifier.edit(&Edit::Remove { scope: "quay.io/team".into() })).unwrap();
    assert!(!policy.transports[policy::DOCKER].contains_key("quay.io/team"));
    let r = block_on(s.verifier.edit(&Edit::Remove { scope: "quay.io/team".into() }));
    assert!(matches!(r, Err(crate::error::Error::InvalidArgument(_))));
}

#[test]
fn a_signature_on_any_manifest_the_engine_recorded_for_the_repository_counts() {
    let s = Scene::new(r#"{"type": "reject"}"#);
    let reference = format!("{REPO}:1");
    // Pulled through an index: the engine recorded the index's digest and the platform's.
    let (index, platform) = (digest('a'), digest('b'));
    s.sign_gpg("atomic-test/app", &platform, &reference);
    let recorded = [format!("{REPO}@{index}"), format!("{REPO}@{platform}")];
    let v = block_on(s.verifier.verify(&reference, &recorded));
    assert_eq!((v.state, v.digest.as_deref()), (State::Signed, Some(platform.as_str())), "{v:?}");
    // Neither signed: the refusal is the first digest's.
    let v = block_on(
        s.verifier
            .verify(&reference, &[format!("{REPO}@{}", digest('c')), format!("{REPO}@{}", digest('d'))]),
    );
    assert_eq!((v.state, v.digest), (State::Rejected, Some(digest('c'))));
}
