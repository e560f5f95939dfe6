//! A FleetLock client, the protocol as zincati speaks it (its docs/development/fleetlock): the
//! host asks for a reboot slot with `POST {base}/v1/pre-reboot` and gives it back with `POST
//! {base}/v1/steady-state`, each with the header `fleet-lock-protocol: true` and the body
//! `{"client_params": {"id": ID, "group": GROUP}}`. 200 means yes; anything else is a no, with
//! `{"kind": ..., "value": ...}` saying why.

use serde::{Deserialize, Serialize};

use crate::net::http::{HttpError, JsonClient};

/// Why the server said no, or could not be asked.
#[derive(Debug, thiserror::Error)]
pub enum FleetLockError {
    /// The server answered with an error of the protocol (a full semaphore among them).
    #[error("the FleetLock server refused {what} ({status}): {kind}: {value}")]
    Refused {
        /// pre-reboot or steady-state.
        what: &'static str,
        /// The HTTP status.
        status: u16,
        /// The error's kind, e.g. `failed_lock`.
        kind: String,
        /// Its sentence.
        value: String,
    },
    /// The server answered with something the protocol does not have.
    #[error("the FleetLock server answered {what} with {status} and no protocol error: {body}")]
    Protocol {
        /// pre-reboot or steady-state.
        what: &'static str,
        /// The HTTP status.
        status: u16,
        /// The start of the body.
        body: String,
    },
    /// No answer.
    #[error(transparent)]
    Http(#[from] HttpError),
}

#[derive(Serialize)]
struct Body<'a> {
    client_params: ClientParams<'a>,
}

#[derive(Serialize)]
struct ClientParams<'a> {
    id: &'a str,
    group: &'a str,
}

#[derive(Deserialize)]
struct ProtocolError {
    kind: String,
    value: String,
}

/// One host's client of one server and group.
pub struct FleetLock {
    base: String,
    group: String,
    id: String,
    http: JsonClient,
}

impl FleetLock {
    /// A client of the server at `base_url` for host `id` in `group`.
    pub fn new(base_url: &str, group: &str, id: &str, http: JsonClient) -> Self {
        FleetLock {
            base: base_url.trim_end_matches('/').to_owned(),
            group: group.to_owned(),
            id: id.to_owned(),
            http,
        }
    }

    /// Asks for a reboot slot: Ok once it is this host's (again, if it held one already).
    pub async fn pre_reboot(&self) -> Result<(), FleetLockError> {
        self.post("pre-reboot").await
    }

    /// Gives the slot back once the new deployment is booted; Ok also when none was held.
    pub async fn steady_state(&self) -> Result<(), FleetLockError> {
        self.post("steady-state").await
    }

    async fn post(&self, what: &'static str) -> Result<(), FleetLockError> {
        let body =
            serde_json::to_vec(&Body { client_params: ClientParams { id: &self.id, group: &self.group } })
                .unwrap_or_default();
        let url = format!("{}/v1/{what}", self.base);
        let answer = self.http.post(&url, &[("fleet-lock-protocol", "true")], body).await?;
        if answer.status == 200 {
            return Ok(());
        }
        match serde_json::from_slice::<ProtocolError>(&answer.body) {
            Ok(e) => {
                Err(FleetLockError::Refused { what, status: answer.status, kind: e.kind, value: e.value })
            }
            Err(_) => Err(FleetLockError::Protocol {
                what,
                status: answer.status,
                body: String::from_utf8_lossy(&answer.body).chars().take(200).collect(),
            }),
        }
    }
}
