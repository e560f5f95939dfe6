//! Registry credentials read from the engines' own auth files and chosen for one registry at a
//! time, so a pull through the Docker API carries the login an admin already made with
//! `podman login` or `docker login`, and no other registry ever sees it.
//!
//! The format is the `auths` map shared by containers-auth.json(5) and Docker's config.json:
//! keys are a registry (`host[:port]`), optionally with a namespace or repository path, or a
//! legacy URL (`https://index.docker.io/v1/`); values carry `auth` (base64 of `user:password`),
//! or `username`/`password`, or an `identitytoken`. Credential helpers (`credsStore`,
//! `credHelpers`) are programs; atomicd does not run them and says so when one is all there is.

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

use base64::Engine as _;
use serde::Deserialize;

/// One registry login. Its Debug output hides the secret, so no log line can carry it.
#[derive(Clone, PartialEq, Eq)]
pub struct Credential {
    /// The user name (empty with an identity token).
    pub username: String,
    /// The password, or the identity token's refresh token.
    secret: Secret,
    /// The file it came from, for sentences.
    pub source: PathBuf,
}

#[derive(Clone, PartialEq, Eq)]
enum Secret {
    Password(String),
    IdentityToken(String),
}

impl fmt::Debug for Credential {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Credential")
            .field("username", &self.username)
            .field("secret", &"<hidden>")
            .field("source", &self.source)
            .finish()
    }
}

impl Credential {
    /// What the engine's `X-Registry-Auth` header carries for this login to `registry`.
    pub fn to_docker(&self, registry: &str) -> bollard::auth::DockerCredentials {
        let mut out = bollard::auth::DockerCredentials {
            serveraddress: Some(registry.to_owned()),
            ..Default::default()
        };
        match &self.secret {
            Secret::Password(p) => {
                out.username = Some(self.username.clone());
                out.password = Some(p.clone());
            }
            Secret::IdentityToken(t) => out.identitytoken = Some(t.clone()),
        }
        out
    }

    /// The `Authorization: Basic` value of this login, for atomicd's own registry reads (the
    /// signatures of `trust`); `None` for an identity token, which only the engines exchange.
    pub fn basic(&self) -> Option<String> {
        match &self.secret {
            Secret::Password(p) => Some(format!(
                "Basic {}",
                base64::engine::general_purpose::STANDARD.encode(format!("{}:{p}", self.username))
            )),
            Secret::IdentityToken(_) => None,
        }
    }

    /// `text` with every spelling of this login's secret replaced, for engine messages that
    /// might echo what they were sent.
    pub fn redact(&self, text: &str) -> String {
        let secret = match &self.secret {
            Secret::Password(p) | Secret::IdentityToken(p) => p,
        };
        let encoded = base64::engine::general_purpose::STANDARD.encode(format!("{}:{secret}", self.username));
        let mut out = text.to_owned();
        for needle in [encoded.as_str(), secret.as_str()] {
            if !needle.is_empty() {
                out = out.replace(needle, "<hidden>");
            }
        }
        out
    }
}

/// Where an image comes from, as far as credentials go.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target<'a> {
    /// `host[:port]`, with Docker Hub's several names folded to `docker.io`.
    pub registry: &'a str,
    /// The repository path inside it (`library/busybox`, `atomic-test/app`).
    pub repository: String,
}

/// The registry and repository of a validated reference that names its registry, split by the
/// one rule the engines use ([`crate::label::registry_of`]: `Sechost/x` is the host `Sechost`).
/// A short name is `None`: podman resolves it through registries.conf, so atomicd cannot know
/// which registry would receive a login; Docker's `docker.io` is asked for explicitly.
pub(crate) fn target(reference: &str, short_names_are_docker_hub: bool) -> Option<Target<'_>> {
    // Tag and digest are not part of the repository.
    let name = reference.split('@').next().unwrap_or(reference);
    let name = match name.rsplit_once(':') {
        Some((head, tag)) if !tag.contains('/') => head,
        _ => name,
    };
    match (crate::label::registry_of(name), name.split_once('/')) {
        (Some(first), Some((_, rest))) => {
            Some(Target { registry: hub_folded(first), repository: rest.to_owned() })
        }
        _ if short_names_are_docker_hub => {
            let repository = if name.contains('/') { name.to_owned() } else { format!("library/{name}") };
            Some(Target { registry: "docker.io", repository })
        }
        _ => None,
    }
}

fn hub_folded(host: &str) -> &str {
    match host {
        "index.docker.io" | "registry-1.docker.io" => "docker.io",
        other => other,
    }
}

/// An `auths` key without scheme, API suffix or trailing slash: `host[:port][/path]`.
fn normalized_key(key: &str) -> String {
    let key = key.trim();
    let key = key.strip_prefix("https://").or_else(|| key.strip_prefix("http://")).unwrap_or(key);
    let key = key.trim_end_matches('/');
    let key = key.strip_suffix("/v1").or_else(|| key.strip_suffix("/v2")).unwrap_or(key);
    match key.split_once('/') {
        Some((host, path)) => format!("{}/{path}", hub_folded(host)),
        None => hub_folded(key).to_owned(),
    }
}

#[derive(Debug, Default, Deserialize)]
struct AuthFile {
    #[serde(default)]
    auths: BTreeMap<String, Entry>,
    #[serde(default, rename = "credsStore")]
    creds_store: Option<String>,
    #[serde(default, rename = "credHelpers")]
    cred_helpers: BTreeMap<String, String>,
}

#[derive(Debug, Default, Deserialize)]
struct Entry {
    #[serde(default)]
    auth: Option<String>,
    #[serde(default)]
    username: Option<String>,
    #[serde(default)]
    password: Option<String>,
    #[serde(default)]
    identitytoken: Option<String>,
}

/// What one file says about one registry.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Found {
    /// A login.
    Login(Credential),
    /// Only a credential helper atomicd does not run (its name).
    HelperOnly(String),
    /// Nothing.
    Nothing,
}

/// Why a file could not be used. Never quotes the file's content.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{path}: {reason}")]
pub struct BadAuthFile {
    /// The file.
    pub path: PathBuf,
    /// What is wrong with it.
    pub reason: String,
}

/// Reads the login for `target` out of one file's text (the most specific key wins:
/// `host/ns/repo` before `host/ns` before `host`).
pub(super) fn find(text: &str, path: &Path, target: &Target<'_>) -> Result<Found, BadAuthFile> {
    let bad = |reason: String| BadAuthFile { path: path.to_owned(), reason };
    // serde_json's messages give a position, never the text around it.
    let file: AuthFile = serde_json::from_str(text).map_err(|e| bad(format!("not an auth file ({e})")))?;
    let by_key: BTreeMap<String, &Entry> = file.auths.iter().map(|(k, v)| (normalized_key(k), v)).collect();
    let mut scope = format!("{}/{}", target.registry, target.repository);
    loop {
        if let Some(entry) = by_key.get(&scope) {
            if let Some(login) = login(entry, path).map_err(bad)? {
                return Ok(Found::Login(login));
            }
        }
        match scope.rsplit_once('/') {
            Some((shorter, _)) => scope = shorter.to_owned(),
            None => break,
        }
    }
    let helper = file
        .cred_helpers
        .iter()
        .find(|(k, _)| normalized_key(k) == target.registry)
        .map(|(_, v)| v.clone())
        .or(file.creds_store);
    Ok(helper.map_or(Found::Nothing, Found::HelperOnly))
}

fn login(entry: &Entry, path: &Path) -> Result<Option<Credential>, String> {
    let source = path.to_owned();
    if let Some(token) = entry.identitytoken.as_ref().filter(|t| !t.is_empty()) {
        let username = entry.username.clone().unwrap_or_default();
        return Ok(Some(Credential { username, secret: Secret::IdentityToken(token.clone()), source }));
    }
    if let Some(auth) = entry.auth.as_ref().filter(|a| !a.is_empty()) {
        let decoded = base64::engine::general_purpose::STANDARD
            .decode(auth.trim())
            .ok()
            .and_then(|bytes| String::from_utf8(bytes).ok())
            .ok_or("an \"auth\" value is not base64 of user:password")?;
        let (user, password) = decoded.split_once(':').ok_or("an \"auth\" value has no user:password")?;
        return Ok(Some(Credential {
            username: user.to_owned(),
            secret: Secret::Password(password.to_owned()),
            source,
        }));
    }
    match (&entry.username, &entry.password) {
        (Some(u), Some(p)) if !u.is_empty() => {
            Ok(Some(Credential { username: u.clone(), secret: Secret::Password(p.clone()), source }))
        }
        _ => Ok(None),
    }
}

/// The auth files atomicd reads, in order; the first with a login for the registry wins.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthFiles {
    paths: Vec<PathBuf>,
}

/// Where each engine keeps root's logins, as their documentation gives them.
#[derive(Debug, Default, Clone)]
pub struct AuthEnv {
    /// `REGISTRY_AUTH_FILE`, podman's override.
    pub registry_auth_file: Option<PathBuf>,
    /// `XDG_RUNTIME_DIR`: podman keeps `containers/auth.json` there (root's is `/run/containers/0`).
    pub xdg_runtime_dir: Option<PathBuf>,
    /// `DOCKER_CONFIG`: the directory of Docker's `config.json` (root's is `/root/.docker`).
    pub docker_config: Option<PathBuf>,
}

impl AuthEnv {
    /// The daemon's own environment.
    pub fn from_process() -> Self {
        let var = |k: &str| std::env::var_os(k).filter(|v| !v.is_empty()).map(PathBuf::from);
        AuthEnv {
            registry_auth_file: var("REGISTRY_AUTH_FILE"),
            xdg_runtime_dir: var("XDG_RUNTIME_DIR"),
            docker_config: var("DOCKER_CONFIG"),
        }
    }
}

impl AuthFiles {
    /// `explicit` alone when given (`--registry-auth`), else podman's files then Docker's.
    pub fn new(explicit: Option<PathBuf>, env: &AuthEnv) -> Self {
        if let Some(file) = explicit {
            return AuthFiles { paths: vec![file] };
        }
        let mut paths = Vec::new();
        paths.extend(env.registry_auth_file.clone());
        paths.push(match &env.xdg_runtime_dir {
            Some(dir) => dir.join("containers/auth.json"),
            None => PathBuf::from("/run/containers/0/auth.json"),
        });
        paths.push(PathBuf::from("/etc/containers/auth.json"));
        let docker = env.docker_config.clone().unwrap_or_else(|| PathBuf::from("/root/.docker"));
        paths.push(docker.join("config.json"));
        AuthFiles { paths }
    }

    /// The login for `target`, read afresh (a `podman login` counts from the next pull). A file
    /// that does not exist is skipped; one that cannot be read or parsed is an error, since
    /// pulling without the login it holds would fail later with a less useful sentence.
    pub fn lookup(&self, target: &Target<'_>) -> Result<Lookup, BadAuthFile> {
        let mut helpers = Vec::new();
        for path in &self.paths {
            let text = match std::fs::read_to_string(path) {
                Ok(t) => t,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
                Err(e) => return Err(BadAuthFile { path: path.clone(), reason: e.to_string() }),
            };
            match find(&text, path, target)? {
                Found::Login(c) => return Ok(Lookup::Login(c)),
                Found::HelperOnly(h) => {
                    helpers.push(format!("{} names credential helper {h:?}", path.display()))
                }
                Found::Nothing => {}
            }
        }
        Ok(Lookup::None { helpers })
    }

    /// The files as a sentence's list.
    pub fn describe(&self) -> String {
        self.paths.iter().map(|p| p.display().to_string()).collect::<Vec<_>>().join(", ")
    }
}

/// The outcome of a lookup.
#[derive(Debug, PartialEq, Eq)]
pub enum Lookup {
    /// A login for the registry.
    Login(Credential),
    /// None; `helpers` lists files that point at a credential helper instead.
    None {
        /// "FILE names credential helper NAME" for each.
        helpers: Vec<String>,
    },
}

/// Whether an engine's pull error means the registry wants (other) credentials. Docker and podman
/// pass the registry's own words on: `unauthorized: authentication required`, `no basic auth
/// credentials`, `denied: requested access to the resource is denied`.
pub(super) fn is_auth_failure(message: &str) -> bool {
    let m = message.to_ascii_lowercase();
    [
        "unauthorized",
        "authentication required",
        "no basic auth credentials",
        "requested access to the resource is denied",
    ]
    .iter()
    .any(|needle| m.contains(needle))
}

#[cfg(test)]
mod tests;
