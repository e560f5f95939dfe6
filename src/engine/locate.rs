//! Which engine socket atomicd talks to: `--engine-socket`, else `DOCKER_HOST`, else podman's
//! socket when it answers, else Docker's.

use std::path::Path;

/// Podman's rootful Docker-API socket.
pub(super) const PODMAN_SOCKET: &str = "/run/podman/podman.sock";
/// Docker's socket.
pub(super) const DOCKER_SOCKET: &str = "/var/run/docker.sock";

/// The configured choice of engine socket.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum EngineLocator {
    /// Given by `--engine-socket` or `DOCKER_HOST`: only this one is ever used.
    Fixed(String),
    /// Podman's socket when it answers, else Docker's; looked at again while neither answers.
    Discover,
}

impl EngineLocator {
    /// The flag beats `DOCKER_HOST`, which beats discovery.
    pub(crate) fn from_config(flag: Option<&str>, docker_host: Option<&str>) -> Self {
        match flag.or(docker_host).map(str::trim).filter(|s| !s.is_empty()) {
            Some(addr) => EngineLocator::Fixed(socket_path(addr).to_owned()),
            None => EngineLocator::Discover,
        }
    }

    /// The sockets to try, best first.
    pub(crate) fn candidates(&self) -> Vec<String> {
        match self {
            EngineLocator::Fixed(path) => vec![path.clone()],
            EngineLocator::Discover => vec![PODMAN_SOCKET.to_owned(), DOCKER_SOCKET.to_owned()],
        }
    }
}

/// `unix:///run/x.sock` and `/run/x.sock` both name the path `/run/x.sock`.
pub(super) fn socket_path(addr: &str) -> &str {
    addr.strip_prefix("unix://").unwrap_or(addr)
}

/// Whether a socket file is there at all (a cheap first test before connecting).
pub(super) fn socket_exists(path: &str) -> bool {
    Path::new(path).exists()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn precedence_flag_then_docker_host_then_discovery() {
        let table = [
            (Some("/tmp/a.sock"), Some("unix:///tmp/b.sock"), EngineLocator::Fixed("/tmp/a.sock".into())),
            (None, Some("unix:///tmp/b.sock"), EngineLocator::Fixed("/tmp/b.sock".into())),
            (None, Some(""), EngineLocator::Discover),
            (None, None, EngineLocator::Discover),
        ];
        for (flag, env, want) in table {
            assert_eq!(EngineLocator::from_config(flag, env), want);
        }
        assert_eq!(EngineLocator::Discover.candidates(), [PODMAN_SOCKET, DOCKER_SOCKET]);
    }
}
