//! Where signatures come from, behind a trait so the rules can be tested alone: GPG signatures
//! from a lookaside (file://, http://, https://), cosign signatures from the registry's
//! `sha256-<digest>.sig` attachment. Every read is bounded in time, count and size, since a
//! lookaside or registry may answer forever or with a gigabyte.
//!
//! The registry is read with the project's own HTTP client (updates/http.rs) rather than an OCI
//! client crate, so that each answer's size is bounded before it is buffered; it reads exactly a
//! manifest and its blobs.

use std::time::Duration;

use async_trait::async_trait;
use sha2::Digest as _;

use super::reference::Named;
use crate::net::http::{Answer, JsonClient};

/// The largest signature (and payload) read: what the containers tools accept.
pub const SIGNATURE_MAX: usize = 4 * 1024 * 1024;
/// The most signatures read for one image.
pub const SIGNATURES_MAX: usize = 16;
/// The most bytes of signatures held for one image, whatever their number: with four
/// verifications at once, a hostile lookaside makes atomicd hold at most four times this.
pub const SIGNATURES_TOTAL_MAX: usize = 8 * 1024 * 1024;
/// The largest manifest or token answer read.
const MANIFEST_MAX: usize = 1024 * 1024;
/// How long one request may take, all of it.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);
/// cosign's annotation with the signature.
const COSIGN_ANNOTATION: &str = "dev.cosignproject.cosign/signature";

/// A cosign signature as stored in the registry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attachment {
    /// The signature, base64, from the layer's annotation.
    pub signature: String,
    /// The layer: the signed payload.
    pub payload: Vec<u8>,
}

/// Where signatures are read from.
#[async_trait]
pub trait SignatureSource: Send + Sync {
    /// The GPG signatures of `digest` in the lookaside at `base` (`signature-1`, `-2`, ... until
    /// the first one missing), for repository path `path`.
    async fn lookaside(&self, base: &str, path: &str, digest: &str) -> Result<Vec<Vec<u8>>, String>;
    /// The cosign signatures of `digest` in `named`'s repository; none when there is no
    /// attachment.
    async fn attachments(&self, named: &Named, digest: &str) -> Result<Vec<Attachment>, String>;
}

/// The real source: files and HTTP(S).
pub struct HttpSource {
    /// The logins the engines pull with: a private registry's signatures need the same.
    auth: Option<crate::engine::AuthFiles>,
    client: JsonClient,
}

impl HttpSource {
    /// A source that trusts the system's CA certificates for https:// (plain http:// only, when
    /// the system has none).
    pub fn new() -> Self {
        let client = JsonClient::with_tls(REQUEST_TIMEOUT, &crate::net::tls::TlsFiles::default())
            .unwrap_or_else(|_| JsonClient::new(REQUEST_TIMEOUT));
        HttpSource { auth: None, client }
    }

    /// The same, reading registry logins from `auth` (as the engines' pulls do).
    pub fn with_auth(auth: crate::engine::AuthFiles) -> Self {
        HttpSource { auth: Some(auth), ..HttpSource::new() }
    }

    /// The `Authorization: Basic` value of the login for `named`'s registry, if any. A login
    /// file that cannot be read is an error, as for a pull.
    fn login(&self, named: &Named) -> Result<Option<String>, String> {
        let Some(auth) = &self.auth else { return Ok(None) };
        let reference = named.repository();
        let Some(target) = crate::engine::auth_target(&reference, true) else { return Ok(None) };
        match auth.lookup(&target) {
            Ok(crate::engine::Lookup::Login(c)) => Ok(c.basic()),
            Ok(crate::engine::Lookup::None { .. }) => Ok(None),
            Err(e) => Err(e.to_string()),
        }
    }

    /// GETs `url`, reading at most `limit` bytes of the body.
    async fn get(&self, url: &str, headers: &[(&str, String)], limit: usize) -> Result<Answer, String> {
        let headers: Vec<(&str, &str)> = headers.iter().map(|(k, v)| (*k, v.as_str())).collect();
        self.client.get(url, &headers, limit).await.map_err(|e| e.to_string())
    }

    /// GETs a registry URL, answering a login challenge: Basic with the login, Bearer with a
    /// token got with the login (anonymously without one).
    async fn registry_get(
        &self,
        url: &str,
        accept: &str,
        limit: usize,
        login: Option<&str>,
    ) -> Result<Answer, String> {
        let mut headers = vec![("accept", accept.to_owned())];
        let got = self.get(url, &headers, limit).await?;
        let Some(challenge) = got.header("www-authenticate").filter(|_| got.status == 401).map(str::to_owned)
        else {
            return Ok(got);
        };
        let basic = challenge.to_ascii_lowercase().starts_with("basic");
        let authorization = match login {
            Some(login) if basic => login.to_owned(),
            None if basic => return Err(format!("{url} wants a login, and the auth files hold none for it")),
            _ => format!("Bearer {}", self.token(&challenge, login).await?),
        };
        headers.push(("authorization", authorization));
        let got = self.get(url, &headers, limit).await?;
        if got.status == 401 {
            return Err(format!("{url} refused the login from the auth files"));
        }
        Ok(got)
    }

    async fn token(&self, challenge: &str, login: Option<&str>) -> Result<String, String> {
        let params = bearer_params(challenge)
            .ok_or_else(|| format!("a login challenge atomicd cannot answer: {challenge}"))?;
        let realm = params
            .iter()
            .find(|(k, _)| k == "realm")
            .map(|(_, v)| v.clone())
            .ok_or("a challenge without realm")?;
        let query: Vec<String> = params
            .iter()
            .filter(|(k, _)| k == "service" || k == "scope")
            .map(|(k, v)| format!("{k}={}", v.replace(' ', "%20")))
            .collect();
        let url = if query.is_empty() { realm } else { format!("{realm}?{}", query.join("&")) };
        let headers: Vec<(&str, String)> =
            login.map(|l| ("authorization", l.to_owned())).into_iter().collect();
        let got = self.get(&url, &headers, MANIFEST_MAX).await?;
        if got.status != 200 {
            return Err(format!("{url} refused a token ({})", got.status));
        }
        let answer: serde_json::Value =
            serde_json::from_slice(&got.body).map_err(|e| format!("{url}: {e}"))?;
        answer
            .get("token")
            .or_else(|| answer.get("access_token"))
            .and_then(|t| t.as_str())
            .map(str::to_owned)
            .ok_or_else(|| format!("{url} answered no token"))
    }
}

impl Default for HttpSource {
    fn default() -> Self {
        Self::new()
    }
}

#[async_trait]
impl SignatureSource for HttpSource {
    async fn lookaside(&self, base: &str, path: &str, digest: &str) -> Result<Vec<Vec<u8>>, String> {
        let dir = format!("{}/{path}@{}", base.trim_end_matches('/'), digest.replacen(':', "=", 1));
        let mut found = Vec::new();
        for n in 1..=SIGNATURES_MAX {
            let url = format!("{dir}/signature-{n}");
            let signature = match url.strip_prefix("file://") {
                Some(file) => {
                    match super::read_bytes_bounded(std::path::Path::new(file), SIGNATURE_MAX as u64) {
                        Ok(bytes) => Some(bytes),
                        Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
                        Err(e) => return Err(format!("{url}: {e}")),
                    }
                }
                None if url.starts_with("http://") || url.starts_with("https://") => {
                    let got = self.get(&url, &[], SIGNATURE_MAX).await?;
                    match got.status {
                        200 => Some(got.body.to_vec()),
                        404 => None,
                        other => return Err(format!("{url} answered {other}")),
                    }
                }
                None => return Err(format!("lookaside {base:?} is not a file://, http:// or https:// URL")),
            };
            match signature {
                Some(s) => found.push(s),
                None => break,
            }
            if found.iter().map(Vec::len).sum::<usize>() > SIGNATURES_TOTAL_MAX {
                return Err(format!("{dir} holds more than {SIGNATURES_TOTAL_MAX} bytes of signatures"));
            }
        }
        Ok(found)
    }

    async fn attachments(&self, named: &Named, digest: &str) -> Result<Vec<Attachment>, String> {
        let base = registry_base(&named.domain);
        let tag = format!("{}.sig", digest.replacen(':', "-", 1));
        let url = format!("{base}/v2/{}/manifests/{tag}", named.path);
        let accept = "application/vnd.oci.image.manifest.v1+json, application/vnd.docker.distribution.manifest.v2+json";
        let login = self.login(named)?;
        let got = self.registry_get(&url, accept, MANIFEST_MAX, login.as_deref()).await?;
        match got.status {
            200 => {}
            404 => return Ok(Vec::new()),
            other => return Err(format!("{url} answered {other}")),
        }
        let manifest: Manifest =
            serde_json::from_slice(&got.body).map_err(|e| format!("{url}: not a manifest: {e}"))?;
        let mut found = Vec::new();
        for layer in manifest.layers.iter().take(SIGNATURES_MAX) {
            let Some(signature) = layer.annotations.get(COSIGN_ANNOTATION) else { continue };
            let blob = format!("{base}/v2/{}/blobs/{}", named.path, layer.digest);
            let mut got = self.registry_get(&blob, "*/*", SIGNATURE_MAX, login.as_deref()).await?;
            if (300..400).contains(&got.status) {
                // Registries with object storage send blobs from elsewhere.
                let location = got
                    .header("location")
                    .map(str::to_owned)
                    .ok_or_else(|| format!("{blob} redirected nowhere"))?;
                got = self.get(&location, &[], SIGNATURE_MAX).await?;
            }
            if got.status != 200 {
                return Err(format!("{blob} answered {}", got.status));
            }
            let actual = format!("sha256:{:x}", sha2::Sha256::digest(&got.body));
            if actual != layer.digest {
                return Err(format!("{blob} is not the blob its manifest names (it is {actual})"));
            }
            found.push(Attachment { signature: signature.clone(), payload: got.body.to_vec() });
            if found.iter().map(|a| a.payload.len()).sum::<usize>() > SIGNATURES_TOTAL_MAX {
                return Err(format!("{url} names more than {SIGNATURES_TOTAL_MAX} bytes of signatures"));
            }
        }
        Ok(found)
    }
}

#[derive(serde::Deserialize)]
struct Manifest {
    #[serde(default)]
    layers: Vec<Layer>,
}

#[derive(serde::Deserialize)]
struct Layer {
    digest: String,
    #[serde(default)]
    annotations: std::collections::HashMap<String, String>,
}

/// The registry's API root: Docker Hub's own host for docker.io; plain HTTP on loopback, as the
/// engines allow without configuration, HTTPS everywhere else.
fn registry_base(domain: &str) -> String {
    if domain == "docker.io" {
        return "https://registry-1.docker.io".to_owned();
    }
    let host = match domain.rsplit_once(':') {
        Some((h, p)) if p.bytes().all(|b| b.is_ascii_digit()) => h,
        _ => domain,
    };
    let loopback = host == "localhost"
        || host.parse::<std::net::IpAddr>().is_ok_and(|ip| ip.is_loopback())
        || host
            .trim_start_matches('[')
            .trim_end_matches(']')
            .parse::<std::net::Ipv6Addr>()
            .is_ok_and(|ip| ip.is_loopback());
    if loopback {
        format!("http://{domain}")
    } else {
        format!("https://{domain}")
    }
}

/// The parameters of `Bearer realm="...",service="...",scope="..."`.
fn bearer_params(challenge: &str) -> Option<Vec<(String, String)>> {
    let rest = challenge.strip_prefix("Bearer ").or_else(|| challenge.strip_prefix("bearer "))?;
    let mut params = Vec::new();
    let mut rest = rest.trim();
    while !rest.is_empty() {
        let (key, after) = rest.split_once('=')?;
        let after = after.strip_prefix('"')?;
        let (value, tail) = after.split_once('"')?;
        params.push((key.trim().to_owned(), value.to_owned()));
        rest = tail.trim_start_matches([',', ' ']);
    }
    Some(params)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn registries_are_reached_as_the_engines_reach_them() {
        assert_eq!(registry_base("127.0.0.1:5000"), "http://127.0.0.1:5000");
        assert_eq!(registry_base("localhost"), "http://localhost");
        assert_eq!(registry_base("quay.io"), "https://quay.io");
        assert_eq!(registry_base("docker.io"), "https://registry-1.docker.io");
    }

    #[test]
    fn a_bearer_challenge_is_read() {
        let got = bearer_params(
            r#"Bearer realm="https://auth.example/token",service="reg",scope="repository:a/b:pull""#,
        );
        assert_eq!(
            got,
            Some(vec![
                ("realm".into(), "https://auth.example/token".into()),
                ("service".into(), "reg".into()),
                ("scope".into(), "repository:a/b:pull".into()),
            ])
        );
        assert_eq!(bearer_params("Basic realm=\"x\""), None);
    }
}
