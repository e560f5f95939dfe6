//! A container's state read as plain JSON. bollard's models reject a state they do not list,
//! and podman reports `stopped` between a container's exit and its cleanup (a quarter of a
//! second): exactly when a Run wants its exit code. This reads the same inspect answer through
//! the HTTP-over-unix-socket stack bollard itself uses, keeping only what it needs.

use http_body_util::{BodyExt, Empty};
use hyper_util::client::legacy::Client;
use hyperlocal::{UnixClientExt, UnixConnector};
use serde::Deserialize;

use crate::error::{Error, Result};

#[derive(Debug, Deserialize)]
struct Inspect {
    #[serde(rename = "State")]
    state: State,
}

/// `State` of a container inspect, as any engine spells it.
#[derive(Debug, Deserialize, PartialEq, Eq)]
pub(super) struct State {
    /// `created`, `running`, `stopped` (podman, before cleanup), `exited`, ...
    #[serde(rename = "Status", default)]
    pub status: String,
    /// Whether its process runs.
    #[serde(rename = "Running", default)]
    pub running: bool,
    /// How it ended, once it has.
    #[serde(rename = "ExitCode", default)]
    pub exit_code: i64,
}

impl State {
    /// The exit code when the process has ended (stopped, exited or dead), else `None`.
    pub(super) fn ended(&self) -> Option<i64> {
        let over = matches!(self.status.as_str(), "stopped" | "exited" | "dead");
        (over && !self.running).then_some(self.exit_code)
    }
}

/// Parses an inspect answer's state.
pub(super) fn parse(json: &[u8]) -> std::result::Result<State, serde_json::Error> {
    serde_json::from_slice::<Inspect>(json).map(|i| i.state)
}

/// `GET /containers/{id}/json` on `socket`, for its state.
pub(super) async fn inspect(socket: &str, api_version: &str, id: &str) -> Result<State> {
    let client: Client<UnixConnector, Empty<bytes::Bytes>> = Client::unix();
    let path = format!("/v{api_version}/containers/{id}/json");
    let failed = |what: String| Error::EngineError(format!("inspecting container {id}: {what}"));
    let response = client.get(hyperlocal::Uri::new(socket, &path).into()).await.map_err(|e| {
        if e.is_connect() {
            Error::EngineUnavailable(format!("the container engine at {socket} does not answer: {e}"))
        } else {
            failed(e.to_string())
        }
    })?;
    let status = response.status();
    let body = response.into_body().collect().await.map_err(|e| failed(e.to_string()))?.to_bytes();
    if !status.is_success() {
        return Err(failed(format!(
            "the engine answered {status}: {}",
            String::from_utf8_lossy(&body).trim()
        )));
    }
    parse(&body).map_err(|e| failed(format!("unreadable answer: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_engines_ended_states_give_the_exit_code() {
        for (json, ended) in [
            // podman 4.3 between the exit and its cleanup process
            (r#"{"State": {"Status": "stopped", "Running": false, "ExitCode": 3}}"#, Some(3)),
            (r#"{"State": {"Status": "exited", "Running": false, "ExitCode": 137}}"#, Some(137)),
            (r#"{"State": {"Status": "running", "Running": true, "ExitCode": 0}}"#, None),
            // created and never started: no exit code yet
            (r#"{"State": {"Status": "created", "Running": false, "ExitCode": 0}}"#, None),
        ] {
            assert_eq!(parse(json.as_bytes()).map(|s| s.ended()).ok(), Some(ended), "{json}");
        }
        assert!(parse(b"not json").is_err());
    }
}
