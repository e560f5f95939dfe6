//! Finding the engine and speaking to it as who: the socket a probe selects, the client for
//! it, and the registry login a pull sends.

use super::*;

impl DockerEngine {
    /// An engine found through `locator` that pulls with the logins in `auth`; nothing is
    /// contacted until the first call.
    pub(crate) fn new(locator: EngineLocator, auth: AuthFiles) -> Self {
        let first = locator.candidates().last().cloned().unwrap_or_default();
        DockerEngine {
            locator,
            auth,
            selected: Mutex::new(first),
            last_probe: tokio::sync::Mutex::new(None),
            versions: tokio::sync::Mutex::default(),
        }
    }

    /// What atomicd has for a pull of `image`: one read of the auth files, which the pull's
    /// header and, should the registry refuse, the error's sentence both use.
    pub(super) async fn login_for(&self, image: &str) -> Result<PullLogin> {
        // Docker reads a short name as Docker Hub's; podman searches registries.conf, so a
        // login for a short name could reach a registry it was not made for.
        let docker_hub_default = self.info().await.name != "podman";
        let Some(target) = auth::target(image, docker_hub_default) else { return Ok(PullLogin::NotSent) };
        let registry = target.registry.to_owned();
        match self.auth.lookup(&target) {
            Ok(Lookup::Login(c)) => {
                tracing::debug!(registry = target.registry, file = %c.source.display(), "sending a registry login");
                Ok(PullLogin::Send(registry, c))
            }
            Ok(Lookup::None { helpers }) => Ok(PullLogin::Missing(registry, helpers)),
            Err(bad) => Err(Error::RegistryAuth(format!(
                "cannot pull {image:?}: the registry auth file {} cannot be used: {}",
                bad.path.display(),
                dbus_safe(&bad.reason)
            ))),
        }
    }

    /// The error for a pull the engine or registry refused with `message`.
    pub(super) fn pull_refused(&self, image: &str, login: &PullLogin, message: &str) -> Error {
        let redacted = match login {
            PullLogin::Send(_, c) => c.redact(message),
            _ => message.to_owned(),
        };
        let said = dbus_safe(&redacted);
        if !auth::is_auth_failure(message) {
            return Error::ImageNotFound(format!("cannot pull {image:?}: {said}"));
        }
        Error::RegistryAuth(match login {
            PullLogin::Send(registry, c) => format!(
                "cannot pull {image:?}: {registry} refused the login atomicd read for it from {} ({said})",
                c.source.display()
            ),
            PullLogin::NotSent => format!(
                "cannot pull {image:?}: the registry wants a login, and atomicd sends one only for a reference \
                 that names its registry (podman resolves short names itself); give the full name ({said})"
            ),
            PullLogin::Missing(registry, helpers) => {
                let helpers = if helpers.is_empty() {
                    String::new()
                } else {
                    format!("; {}, which atomicd does not run", helpers.join("; "))
                };
                format!(
                    "cannot pull {image:?}: {registry} wants a login and atomicd has none for it \
                     (read {}{helpers}); log in as root with `podman login {registry}` or `docker login \
                     {registry}`, or start atomicd with --registry-auth FILE ({said})",
                    self.auth.describe()
                )
            }
        })
    }

    pub(super) fn selected(&self) -> String {
        self.selected.lock().map(|s| s.clone()).unwrap_or_default()
    }

    pub(super) fn select(&self, socket: &str) {
        if let Ok(mut s) = self.selected.lock() {
            socket.clone_into(&mut s);
        }
    }

    pub(super) fn connect(socket: &str) -> Result<Docker> {
        Docker::connect_with_unix(socket, REQUEST_TIMEOUT_SECS, API_DEFAULT_VERSION)
            .map_err(|e| unavailable(socket, &e))
    }

    /// A client for the selected socket; rediscovers when that socket has gone away.
    pub(super) async fn client(&self) -> Result<Docker> {
        let socket = self.selected();
        if !socket_exists(&socket) && self.locator == EngineLocator::Discover {
            self.info().await;
        }
        Self::connect(&self.selected())
    }

    /// Probes the candidates in order and selects the first that answers.
    pub(super) async fn probe_all(&self) -> EngineInfo {
        let candidates = self.locator.candidates();
        for socket in &candidates {
            if let Some(info) = self.probe(socket).await {
                self.select(socket);
                return info;
            }
        }
        let fallback = candidates.last().cloned().unwrap_or_default();
        self.select(&fallback);
        EngineInfo { socket: fallback, ..EngineInfo::default() }
    }

    /// Whether `socket` answers, with its name and version. The answer to `_ping` is the
    /// availability; the version (podman takes ~0.4 s to serve it) is asked again only after the
    /// engine was away or once a minute, since an engine that restarts shows up as away.
    pub(super) async fn probe(&self, socket: &str) -> Option<EngineInfo> {
        let docker = Self::connect(socket).ok()?;
        let alive = matches!(tokio::time::timeout(PROBE_TIMEOUT, docker.ping()).await, Ok(Ok(_)));
        let mut known = self.versions.lock().await;
        if !alive {
            known.remove(socket);
            return None;
        }
        if let Some((at, info)) = known.get(socket) {
            if at.elapsed() < VERSION_REFRESH {
                return Some(info.clone());
            }
        }
        let version = tokio::time::timeout(PROBE_TIMEOUT, docker.version()).await.ok()?.ok()?;
        let podman =
            version.components.iter().flatten().any(|c| c.name.to_ascii_lowercase().contains("podman"));
        let info = EngineInfo {
            name: if podman { "podman" } else { "docker" }.to_owned(),
            version: version.version.unwrap_or_default(),
            api_version: version.api_version.unwrap_or_default(),
            socket: socket.to_owned(),
            available: true,
        };
        known.insert(socket.to_owned(), (std::time::Instant::now(), info.clone()));
        Some(info)
    }
}

/// What a pull sends for its registry.
pub(super) enum PullLogin {
    /// This login, for this registry.
    Send(String, Credential),
    /// Nothing: the files have no login for this registry (`helpers` names the credential
    /// helpers they point at instead).
    Missing(String, Vec<String>),
    /// Nothing: a short name on podman, whose registry atomicd cannot know.
    NotSent,
}
