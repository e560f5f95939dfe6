//! The signature policy over the real bus, polkitd and both engines, with GPG signatures made by
//! gpg and skopeo into a lookaside served over http (tests/world.sh `signatures`) and cosign
//! signatures made here with the sigstore crate and pushed to the local registry as attachments.
// Its helpers are test code too, though outside a #[test] (which clippy.toml already allows).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::process::Command;

use common::*;

const TRUST: &str = "/var/tmp/atomicd-world/trust";
const REGISTRY: &str = "127.0.0.1:5000";

fn args(sock: &str, policy: &str) -> Vec<String> {
    ["--engine-socket", sock, "--policy", policy, "--registries-d", &format!("{TRUST}/registries.d")]
        .iter()
        .map(|s| (*s).to_owned())
        .collect()
}

fn daemon(sock: &str, policy: &str) -> Daemon {
    let a = args(sock, policy);
    Daemon::start(&a.iter().map(String::as_str).collect::<Vec<_>>())
}

fn image(name: &str) -> String {
    format!("{REGISTRY}/atomic-test/{name}:latest")
}

fn spc(uid: u32, name: &str) -> Reply {
    call_as(uid, &["Run", &image(name), "--cmd", "true", "--opt", "spc=true", "--opt", "pull=false"])
}

/// A signed SPC ran: on podman to its end; dockerd in this test world cannot start privileged
/// containers (see tests/labels.rs), so there the call must get past the policy to the engine.
fn passes(engine: &str, r: &Reply) {
    if engine == "docker" {
        let (error, message) = error_of(r);
        assert_eq!(error, "org.atomic.Error.EngineError", "{engine}: {r:?}");
        assert!(message.contains("operation not permitted"), "{engine}: {r:?}");
        return;
    }
    assert!(r.error.is_none(), "{engine}: {r:?}");
    assert_eq!(r.json["exit-code"], 0, "{engine}: {}", r.json);
    assert_eq!(r.json["signature"]["verdict"], "signed", "{engine}: {}", r.json);
}

fn error_of(r: &Reply) -> (&str, &str) {
    r.error.as_ref().map_or(("", ""), |(n, m)| (n.as_str(), m.as_str()))
}

/// Every way a GPG signature can fail, on both engines: the refusal names why, and nothing starts.
#[test]
#[ignore = "needs the test world (tests/world.sh up, as root); tests/run.sh runs it"]
fn only_signed_images_reach_the_host_and_each_refusal_says_why() {
    let policy = format!("{TRUST}/policy.json");
    let refused = [
        ("unsigned", "no signature"),
        ("wrongkey", "does not verify"),
        ("otherid", "someone-else"),
        ("retag", "another image"),
        ("garbage", "more than"),
        ("down", "does not answer"),
        ("closed", "rejects every image"),
        ("tampered", "does not verify"),
    ];
    for (sock, engine) in ENGINES {
        let d = daemon(sock, &policy);
        passes(engine, &spc(0, "signed"));
        let before = containers(engine).len();
        for (name, why) in refused {
            let r = spc(0, name);
            let (error, message) = error_of(&r);
            assert_eq!(error, "org.atomic.Error.Untrusted", "{engine} {name}: {r:?}");
            assert!(message.contains(why) && message.contains(&image(name)), "{engine} {name}: {message}");
        }
        // Tagged here and never pushed: Docker has no digest for the repository; podman names
        // every tag with the digest of the manifest it stored, which nobody signed.
        let built = spc(0, "built");
        let why = if engine == "docker" { "built or imported here" } else { "no signature" };
        assert_eq!(error_of(&built).0, "org.atomic.Error.Untrusted", "{engine}: {built:?}");
        assert!(error_of(&built).1.contains(why), "{engine}: {built:?}");
        assert_eq!(containers(engine).len(), before, "{engine}: a refused plan made a container");
        // A confined run of an unsigned image is verified and shown, not refused.
        let confined = call_as(0, &["Run", &image("unsigned"), "--cmd", "true", "--opt", "pull=false"]);
        assert_eq!(confined.json["exit-code"], 0, "{engine}: {confined:?}");
        assert_eq!(confined.json["signature"]["verdict"], "rejected", "{engine}: {}", confined.json);
        // Info, display and the journal record show the verdict too.
        let info = call_as(NOBODY, &["Info", &image("signed")]);
        assert_eq!(info.json["signature"]["verdict"], "signed", "{engine}: {}", info.json);
        let (code, _, err) = cli_as(0, &["run", "--display", "--spc", &image("unsigned"), "true"]);
        assert_eq!(code, 0, "{engine}: {err}");
        assert!(err.contains("signature: unsigned") && err.contains("would be refused"), "{engine}: {err}");
        let (code, out, _) = cli_as(NOBODY, &["verify", &image("wrongkey")]);
        assert_eq!(code, 1, "{engine}: {out}");
        assert!(out.contains("unsigned") && out.contains("sha256:"), "{engine}: {out}");
        assert!(d.log_text().contains("signature=\"signed by"), "{engine}: {}", d.log_text());
    }
}

/// The INSTALL label of an unsigned image writes to the host: refused, nothing runs, no record.
#[test]
#[ignore = "needs the test world (tests/world.sh up, as root); tests/run.sh runs it"]
fn an_unsigned_install_label_that_writes_to_the_host_is_refused() {
    let policy = format!("{TRUST}/policy.json");
    let written = "/var/tmp/atomicd-app/trustapp.installed";
    for (sock, engine) in ENGINES {
        let _ = std::fs::remove_file(written);
        let _d = daemon(sock, &policy);
        let r = call_as(
            0,
            &["Install", &format!("{REGISTRY}/atomic-test/app:latest"), "--opt", "name=\"trustapp\""],
        );
        let (error, message) = error_of(&r);
        assert_eq!(error, "org.atomic.Error.Untrusted", "{engine}: {r:?}");
        assert!(
            message.contains("Install") && message.contains("/var/tmp/atomicd-app"),
            "{engine}: {message}"
        );
        assert!(!std::path::Path::new(written).exists(), "{engine}: the INSTALL label ran");
        let status = call_as(NOBODY, &["Status"]);
        let names: Vec<String> = status.json["installed"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|i| i["name"].to_string())
            .collect();
        assert!(!names.iter().any(|n| n.contains("trustapp")), "{engine}: recorded: {names:?}");
    }
}

/// cosign: a signature made with the sigstore crate, stored as the registry's `.sig` attachment.
#[test]
#[ignore = "needs the test world (tests/world.sh up, as root); tests/run.sh runs it"]
fn a_cosign_signature_in_the_registry_lets_the_image_reach_the_host() {
    let signer = cosign_key(format!("{TRUST}/cosign.pub"));
    let digest = manifest_digest("atomic-test/cosign");
    let (payload, signature) = cosign_sign(&signer, &digest, &image("cosign"));
    push_attachment("atomic-test/cosign", &digest, payload.as_bytes(), &signature);
    let policy = format!("{TRUST}/policy.json");
    for (sock, engine) in ENGINES {
        let _d = daemon(sock, &policy);
        passes(engine, &spc(0, "cosign"));
        let shown = call_as(NOBODY, &["Info", &image("cosign")]);
        assert_eq!(
            shown.json["signature"]["signers"][0],
            format!("{TRUST}/cosign.pub"),
            "{engine}: {}",
            shown.json
        );
    }
    // Another key in the policy: the same attachment no longer verifies.
    cosign_key(format!("{TRUST}/cosign.pub"));
    let _d = daemon(PODMAN_SOCK, &policy);
    let r = spc(0, "cosign");
    assert_eq!(error_of(&r).0, "org.atomic.Error.Untrusted", "{r:?}");
    assert!(error_of(&r).1.contains("no key of the policy"), "{r:?}");
}

/// A private registry's cosign attachment is read with the login the pulls use
/// (`--registry-auth`); without it the refusal says the registry wants one.
#[test]
#[ignore = "needs the test world (tests/world.sh up, as root); tests/run.sh runs it"]
fn a_private_registry_s_signature_is_read_with_the_pull_login() {
    const PRIVATE: &str = "127.0.0.1:5001/atomic-test/private:latest";
    const CREDS: &str = "atomic-test:s3cret-Reg1stry-pw";
    let dir = std::env::temp_dir().join(format!("atomicd-trust-private-{}", unique()));
    std::fs::create_dir_all(dir.join("registries.d")).unwrap();
    let signer = cosign_key(dir.join("cosign.pub"));
    let policy = dir.join("policy.json");
    let scope = r#""127.0.0.1:5001/atomic-test/private": [{"type": "sigstoreSigned", "keyPath": "KEY"}]"#
        .replace("KEY", &dir.join("cosign.pub").display().to_string());
    let text = format!(
        r#"{{"default": [{{"type": "insecureAcceptAnything"}}], "transports": {{"docker": {{{scope}}}}}}}"#
    );
    std::fs::write(&policy, text).unwrap();
    std::fs::write(
        dir.join("registries.d/private.yaml"),
        "docker:\n  127.0.0.1:5001:\n    use-sigstore-attachments: true\n",
    )
    .unwrap();
    let login = dir.join("auth.json");
    use base64::Engine as _;
    let encoded = base64::engine::general_purpose::STANDARD.encode(CREDS);
    std::fs::write(&login, format!(r#"{{"auths": {{"127.0.0.1:5001": {{"auth": "{encoded}"}}}}}}"#)).unwrap();
    let digest = manifest_digest_at("127.0.0.1:5001", "atomic-test/private", Some(CREDS));
    let (payload, signature) = cosign_sign(&signer, &digest, PRIVATE);
    push_attachment_at(
        "127.0.0.1:5001",
        Some(CREDS),
        "atomic-test/private",
        &digest,
        payload.as_bytes(),
        &signature,
    );
    let registries = dir.join("registries.d").display().to_string();
    let policy = policy.display().to_string();
    let login = login.display().to_string();
    let empty = dir.join("none.json");
    std::fs::write(&empty, r#"{"auths": {}}"#).unwrap();
    let empty = empty.display().to_string();
    let start = |sock: &str, auth: &str| {
        Daemon::start(&[
            "--engine-socket",
            sock,
            "--policy",
            &policy,
            "--registries-d",
            &registries,
            "--registry-auth",
            auth,
        ])
    };
    for (sock, engine) in ENGINES {
        let d = start(sock, &login);
        let pulled = call_as(0, &["Pull", PRIVATE]);
        assert!(pulled.error.is_none(), "{engine}: {pulled:?}");
        let r = call_as(0, &["Run", PRIVATE, "--cmd", "true", "--opt", "spc=true", "--opt", "pull=false"]);
        passes(engine, &r);
        drop(d);
        let _d = start(sock, &empty);
        let r = call_as(0, &["Run", PRIVATE, "--cmd", "true", "--opt", "spc=true", "--opt", "pull=false"]);
        assert_eq!(error_of(&r).0, "org.atomic.Error.Untrusted", "{engine}: {r:?}");
        assert!(error_of(&r).1.contains("wants a login"), "{engine}: {r:?}");
    }
    let _ = std::fs::remove_dir_all(&dir);
}

/// TrustAdd and its kin: validated first, denied to a caller polkit refuses, the file kept whole.
#[test]
#[ignore = "needs the test world (tests/world.sh up, as root); tests/run.sh runs it"]
fn trust_edits_are_validated_and_authorized_and_keep_the_file_whole() {
    let dir = std::env::temp_dir().join(format!("atomicd-trust-{}", unique()));
    std::fs::create_dir_all(&dir).unwrap();
    let policy = dir.join("policy.json");
    std::fs::copy(format!("{TRUST}/policy.json"), &policy).unwrap();
    let registries = dir.join("registries.d");
    std::fs::create_dir_all(&registries).unwrap();
    std::fs::copy(format!("{TRUST}/registries.d/test.yaml"), registries.join("test.yaml")).unwrap();
    let before = std::fs::read_to_string(&policy).unwrap_or_default();
    let (policy_arg, registries_arg) = (policy.display().to_string(), registries.display().to_string());
    let _d = Daemon::start(&[
        "--engine-socket",
        PODMAN_SOCK,
        "--policy",
        &policy_arg,
        "--registries-d",
        &registries_arg,
    ]);
    let show = call_as(NOBODY, &["TrustShow"]);
    assert_eq!(show.json["present"], true, "{show:?}");
    assert_eq!(show.json["default"]["types"][0], "insecureAcceptAnything");
    let key = format!("{TRUST}/signer.gpg");
    let add = |uid: u32, scope: &str, extra: &str| {
        call_as(
            uid,
            &[
                "--interactive",
                "TrustAdd",
                scope,
                "--opt",
                "type=\"signedBy\"",
                "--opt",
                &format!("keyPath={key:?}"),
                "--opt",
                extra,
            ],
        )
    };
    let denied = add(NOBODY, "quay.io/team", "keyType=\"GPGKeys\"");
    assert_eq!(error_of(&denied).0, "org.freedesktop.DBus.Error.AccessDenied", "{denied:?}");
    let bad = add(0, "quay.io/team", "keyPathz=\"/x\"");
    assert_eq!(error_of(&bad).0, "org.atomic.Error.InvalidArgument", "{bad:?}");
    assert!(error_of(&bad).1.contains("keyPathz"), "{bad:?}");
    let bad = add(0, "Not A Scope", "keyType=\"GPGKeys\"");
    assert_eq!(error_of(&bad).0, "org.atomic.Error.InvalidArgument", "{bad:?}");
    let bad = call_as(
        0,
        &["TrustAdd", "quay.io/team", "--opt", "type=\"signedBy\"", "--opt", "keyPath=\"/nonexistent.gpg\""],
    );
    assert!(error_of(&bad).1.contains("/nonexistent.gpg"), "{bad:?}");
    assert_eq!(std::fs::read_to_string(&policy).unwrap_or_default(), before, "the file is unchanged");
    let added = add(0, "quay.io/team", "keyType=\"GPGKeys\"");
    assert!(added.error.is_none(), "{added:?}");
    let text = std::fs::read_to_string(&policy).unwrap_or_default();
    assert!(text.contains("quay.io/team") && text.contains(&key), "{text}");
    // The CLI as the original's: a cosign scope gets use-sigstore-attachments, a GPG one its lookaside.
    let pem = format!("{TRUST}/cosign-cli.pub");
    cosign_key(&pem);
    let (code, out, err) =
        cli_as(0, &["trust", "add", "quay.io/cosigned", "--type", "sigstoreSigned", "--pubkeys", &pem]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("quay.io/cosigned") && out.contains("cosign signatures from the registry"), "{out}");
    let (code, out, err) = cli_as(
        0,
        &[
            "trust",
            "add",
            "quay.io/gpg",
            "--type",
            "signedBy",
            "--pubkeys",
            &key,
            "--sigstore",
            "https://sigs.example.org",
        ],
    );
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("signatures at https://sigs.example.org"), "{out}");
    let own = std::fs::read_to_string(registries.join("atomic-trust.yaml")).unwrap_or_default();
    assert!(own.contains("quay.io/cosigned") && own.contains("use-sigstore-attachments: true"), "{own}");
    assert_eq!(
        std::fs::read_to_string(registries.join("test.yaml")).unwrap_or_default(),
        std::fs::read_to_string(format!("{TRUST}/registries.d/test.yaml")).unwrap_or_default(),
        "the admin's registries.d file is untouched"
    );
    let (code, out, err) = cli_as(0, &["trust", "default", "reject"]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("default") && out.contains("reject"), "{out}");
    let (code, out, err) = cli_as(0, &["trust", "delete", "quay.io/team"]);
    assert_eq!(code, 0, "{err}");
    assert!(!out.contains("quay.io/team"), "{out}");
    let _ = std::fs::remove_dir_all(&dir);
}

/// A new cosign key pair (ECDSA P-256, as `cosign generate-key-pair` makes), its public key
/// written to `public`.
fn cosign_key(public: impl AsRef<std::path::Path>) -> sigstore::crypto::SigStoreSigner {
    let signer = sigstore::crypto::SigningScheme::ECDSA_P256_SHA256_ASN1.create_signer().unwrap();
    let pem = signer.to_sigstore_keypair().and_then(|k| k.public_key_to_pem()).unwrap();
    std::fs::write(public, pem).unwrap();
    signer
}

/// cosign's payload for `digest` as `reference`, and its signature (base64, as the annotation holds it).
fn cosign_sign(signer: &sigstore::crypto::SigStoreSigner, digest: &str, reference: &str) -> (String, String) {
    use base64::Engine as _;
    let payload = serde_json::json!({
        "critical": {"identity": {"docker-reference": reference}, "image": {"docker-manifest-digest": digest}, "type": "cosign container image signature"},
        "optional": null
    })
    .to_string();
    let signature = signer.sign(payload.as_bytes()).unwrap();
    (payload, base64::engine::general_purpose::STANDARD.encode(signature))
}

fn manifest_digest(path: &str) -> String {
    manifest_digest_at(REGISTRY, path, None)
}

fn manifest_digest_at(registry: &str, path: &str, creds: Option<&str>) -> String {
    let creds: Vec<String> = creds.map(|c| format!("--creds={c}")).into_iter().collect();
    let out = Command::new("skopeo")
        .args(["inspect", "--raw", "--tls-verify=false"])
        .args(&creds)
        .arg(format!("docker://{registry}/{path}:latest"))
        .output()
        .unwrap_or_else(|e| panic!("skopeo: {e}"));
    use sha2::Digest as _;
    format!("sha256:{:x}", sha2::Sha256::digest(&out.stdout))
}

/// Pushes `payload` as the cosign attachment of `digest`: its blob, an empty config, and an OCI
/// manifest tagged `sha256-<hex>.sig` whose layer carries the signature annotation.
fn push_attachment(path: &str, digest: &str, payload: &[u8], signature: &str) {
    push_attachment_at(REGISTRY, None, path, digest, payload, signature);
}

fn push_attachment_at(
    registry: &str,
    creds: Option<&str>,
    path: &str,
    digest: &str,
    payload: &[u8],
    signature: &str,
) {
    use sha2::Digest as _;
    let login: Vec<String> = creds.map(|c| vec!["-u".to_owned(), c.to_owned()]).unwrap_or_default();
    let blob = |bytes: &[u8]| {
        let d = format!("sha256:{:x}", sha2::Sha256::digest(bytes));
        let file = std::env::temp_dir().join(format!("atomicd-blob-{}", unique()));
        std::fs::write(&file, bytes).unwrap();
        let location = Command::new("curl")
            .args(["-sf", "-X", "POST", "-o", "/dev/null", "-w", "%header{location}"])
            .args(&login)
            .arg(format!("http://{registry}/v2/{path}/blobs/uploads/"))
            .output()
            .unwrap_or_else(|e| panic!("curl: {e}"));
        let location = String::from_utf8_lossy(&location.stdout).trim().to_owned();
        let url =
            if location.starts_with("http") { location } else { format!("http://{REGISTRY}{location}") };
        let sep = if url.contains('?') { '&' } else { '?' };
        let put = Command::new("curl")
            .args(["-sf", "-X", "PUT", "-H", "Content-Type: application/octet-stream"])
            .args(&login)
            .arg("--data-binary")
            .arg(format!("@{}", file.display()))
            .arg(format!("{url}{sep}digest={d}"))
            .status();
        assert!(put.is_ok_and(|s| s.success()), "blob upload of {d}");
        let _ = std::fs::remove_file(&file);
        (d, bytes.len())
    };
    let (payload_digest, payload_size) = blob(payload);
    let (config_digest, config_size) = blob(b"{}");
    let manifest = serde_json::json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": config_digest, "size": config_size},
        "layers": [{
            "mediaType": "application/vnd.dev.cosign.simplesigning.v1+json",
            "digest": payload_digest, "size": payload_size,
            "annotations": {"dev.cosignproject.cosign/signature": signature}
        }]
    })
    .to_string();
    let tag = digest.replacen(':', "-", 1) + ".sig";
    let put = Command::new("curl")
        .args([
            "-sf",
            "-X",
            "PUT",
            "-H",
            "Content-Type: application/vnd.oci.image.manifest.v1+json",
            "--data-binary",
            &manifest,
        ])
        .args(&login)
        .arg(format!("http://{registry}/v2/{path}/manifests/{tag}"))
        .status();
    assert!(put.is_ok_and(|s| s.success()), "manifest {tag}");
}
