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

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::net::stub::{closed_url, Stub};
    use crate::updates::lock::{FleetLockSlot, RebootLock};

    fn client(base: &str) -> FleetLock {
        FleetLock::new(&format!("{base}/"), "workers", "host-7", JsonClient::new(Duration::from_secs(5)))
    }

    #[tokio::test]
    async fn both_calls_speak_the_protocol_as_zincati_does() {
        let stub = Stub::start(|_| (200, Vec::new())).await;
        let lock = client(&stub.url);
        lock.pre_reboot().await.unwrap();
        lock.steady_state().await.unwrap();
        let seen = stub.seen();
        let paths: Vec<&str> = seen.iter().map(|s| s.path.as_str()).collect();
        assert_eq!(paths, ["/v1/pre-reboot", "/v1/steady-state"], "one slash, whatever the base ends with");
        for s in &seen {
            assert_eq!(s.method, "POST");
            assert_eq!(s.header("fleet-lock-protocol"), Some("true"));
            assert_eq!(s.json(), serde_json::json!({"client_params": {"id": "host-7", "group": "workers"}}));
        }
    }

    #[tokio::test]
    async fn a_full_semaphore_is_not_now_and_anything_else_is_an_error() {
        let full =
            Stub::start(|_| (409, br#"{"kind":"failed_lock","value":"semaphore is full"}"#.to_vec())).await;
        let refused = client(&full.url).pre_reboot().await;
        assert!(
            matches!(&refused, Err(FleetLockError::Refused { what: "pre-reboot", status: 409, kind, value })
                if kind == "failed_lock" && value == "semaphore is full"),
            "{refused:?}"
        );
        let slot = FleetLockSlot(client(&full.url));
        assert_eq!(slot.take().await, Ok(false), "a refusal waits for the next round");

        let broken = Stub::start(|_| (500, b"<html>proxy error</html>".to_vec())).await;
        let said = client(&broken.url).pre_reboot().await;
        assert!(
            matches!(&said, Err(FleetLockError::Protocol { status: 500, body, .. }) if body.contains("proxy")),
            "{said:?}"
        );
        assert!(FleetLockSlot(client(&broken.url)).take().await.is_err());

        let gone = client(&closed_url()).steady_state().await;
        assert!(matches!(gone, Err(FleetLockError::Http(_))), "{gone:?}");
    }
}
