//! JSON over plain HTTP with a deadline: what the FleetLock and etcd clients send. A lock
//! server that hangs costs one timeout, never a stuck update.

use std::time::Duration;

use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;

/// How a request failed before any answer.
#[derive(Debug, thiserror::Error)]
pub enum HttpError {
    /// The URL is not an http:// URL this client can use.
    #[error("{0} is not an http:// URL")]
    BadUrl(String),
    /// No connection, or the connection broke.
    #[error("{url} does not answer: {detail}")]
    Unreachable {
        /// Where.
        url: String,
        /// What the connection said.
        detail: String,
    },
    /// No answer within the deadline.
    #[error("{url} gave no answer within {} s", .after.as_secs())]
    Timeout {
        /// Where.
        url: String,
        /// The deadline.
        after: Duration,
    },
}

/// An answer: status and body.
#[derive(Debug)]
pub struct Answer {
    /// The HTTP status.
    pub status: u16,
    /// The body, whole.
    pub body: bytes::Bytes,
}

/// A client for one kind of peer; cheap to clone.
#[derive(Clone)]
pub struct JsonClient {
    client: Client<HttpConnector, Full<bytes::Bytes>>,
    timeout: Duration,
}

impl JsonClient {
    /// A client whose every request (connect, send, whole answer) ends within `timeout`.
    pub fn new(timeout: Duration) -> Self {
        let mut connector = HttpConnector::new();
        connector.set_connect_timeout(Some(timeout));
        JsonClient { client: Client::builder(TokioExecutor::new()).build(connector), timeout }
    }

    /// POSTs `body` as JSON to `url` with `headers`.
    pub async fn post(
        &self,
        url: &str,
        headers: &[(&str, &str)],
        body: Vec<u8>,
    ) -> Result<Answer, HttpError> {
        if !url.starts_with("http://") {
            return Err(HttpError::BadUrl(url.to_owned()));
        }
        let mut request = hyper::Request::post(url).header("content-type", "application/json");
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        let request = request
            .body(Full::new(bytes::Bytes::from(body)))
            .map_err(|_| HttpError::BadUrl(url.to_owned()))?;
        let unreachable = |detail: String| HttpError::Unreachable { url: url.to_owned(), detail };
        let exchange = async {
            let response = self.client.request(request).await.map_err(|e| unreachable(e.to_string()))?;
            let status = response.status().as_u16();
            let body =
                response.into_body().collect().await.map_err(|e| unreachable(e.to_string()))?.to_bytes();
            Ok(Answer { status, body })
        };
        tokio::time::timeout(self.timeout, exchange)
            .await
            .unwrap_or_else(|_| Err(HttpError::Timeout { url: url.to_owned(), after: self.timeout }))
    }
}
