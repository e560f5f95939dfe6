//! JSON over HTTP or HTTPS with a deadline: what the FleetLock and etcd clients send, and the
//! bounded GETs of the signature source (`trust::fetch`). A lock server that hangs costs one
//! timeout, never a stuck update.

use std::time::Duration;

use http_body_util::{BodyExt, Full};
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;

use super::tls::{client_config, TlsError, TlsFiles};

/// How a request failed before any answer.
#[derive(Debug, thiserror::Error)]
pub enum HttpError {
    /// The URL is not one this client can use.
    #[error("{url}: {why}")]
    BadUrl {
        /// The URL.
        url: String,
        /// Why not.
        why: &'static str,
    },
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
    /// The body was longer than the caller reads.
    #[error("{url} answered with more than {limit} bytes")]
    TooLarge {
        /// Where.
        url: String,
        /// The most the caller reads.
        limit: usize,
    },
}

/// An answer: status, headers and body.
#[derive(Debug)]
pub struct Answer {
    /// The HTTP status.
    pub status: u16,
    /// The headers.
    pub headers: hyper::HeaderMap,
    /// The body, whole.
    pub body: bytes::Bytes,
}

impl Answer {
    /// A header's value, when it is text.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
}

type Body = Full<bytes::Bytes>;

#[derive(Clone)]
enum Transport {
    Plain(Client<HttpConnector, Body>),
    Tls(Client<HttpsConnector<HttpConnector>, Body>),
}

/// A client for one kind of peer; cheap to clone.
#[derive(Clone)]
pub struct JsonClient {
    transport: Transport,
    timeout: Duration,
}

impl JsonClient {
    /// A client of http:// URLs whose every request (connect, send, whole answer) ends within
    /// `timeout`.
    pub fn new(timeout: Duration) -> Self {
        let transport = Transport::Plain(Client::builder(TokioExecutor::new()).build(connector(timeout)));
        JsonClient { transport, timeout }
    }

    /// A client of http:// and https:// URLs, trusting and showing what `files` name.
    pub fn with_tls(timeout: Duration, files: &TlsFiles) -> Result<Self, TlsError> {
        let https = hyper_rustls::HttpsConnectorBuilder::new()
            .with_tls_config(client_config(files)?)
            .https_or_http()
            .enable_http1()
            .wrap_connector({
                let mut plain = connector(timeout);
                // https:// URLs reach it through the TLS connector.
                plain.enforce_http(false);
                plain
            });
        let transport = Transport::Tls(Client::builder(TokioExecutor::new()).build(https));
        Ok(JsonClient { transport, timeout })
    }

    /// The client `urls` need: TLS when one of them is https://, reading `files` only then.
    pub fn for_urls<'a>(
        timeout: Duration,
        mut urls: impl Iterator<Item = &'a str>,
        files: &TlsFiles,
    ) -> Result<Self, TlsError> {
        if urls.any(|u| u.starts_with("https://")) {
            Self::with_tls(timeout, files)
        } else {
            Ok(Self::new(timeout))
        }
    }

    /// POSTs `body` as JSON to `url` with `headers`.
    pub async fn post(
        &self,
        url: &str,
        headers: &[(&str, &str)],
        body: Vec<u8>,
    ) -> Result<Answer, HttpError> {
        let request = hyper::Request::post(url).header("content-type", "application/json");
        self.send(url, request, headers, bytes::Bytes::from(body), None).await
    }

    /// GETs `url` with `headers`, reading at most `limit` bytes of the body.
    pub async fn get(&self, url: &str, headers: &[(&str, &str)], limit: usize) -> Result<Answer, HttpError> {
        self.send(url, hyper::Request::get(url), headers, bytes::Bytes::new(), Some(limit)).await
    }

    async fn send(
        &self,
        url: &str,
        mut request: hyper::http::request::Builder,
        headers: &[(&str, &str)],
        body: bytes::Bytes,
        limit: Option<usize>,
    ) -> Result<Answer, HttpError> {
        let tls = matches!(self.transport, Transport::Tls(_));
        if url.starts_with("https://") && !tls {
            return Err(HttpError::BadUrl {
                url: url.into(),
                why: "an https:// URL on a client made without TLS",
            });
        }
        if !url.starts_with("http://") && !url.starts_with("https://") {
            return Err(HttpError::BadUrl { url: url.into(), why: "not an http:// or https:// URL" });
        }
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        let request = request
            .body(Full::new(body))
            .map_err(|_| HttpError::BadUrl { url: url.into(), why: "not a URL a request can go to" })?;
        let unreachable = |detail: String| HttpError::Unreachable { url: url.to_owned(), detail };
        let exchange = async {
            let response = match &self.transport {
                Transport::Plain(client) => client.request(request).await,
                Transport::Tls(client) => client.request(request).await,
            }
            .map_err(|e| unreachable(causes(&e)))?;
            let status = response.status().as_u16();
            let (parts, body) = response.into_parts();
            let body = match limit {
                None => body.collect().await.map_err(|e| unreachable(e.to_string()))?.to_bytes(),
                Some(limit) => http_body_util::Limited::new(body, limit)
                    .collect()
                    .await
                    .map_err(|e| match e.downcast_ref::<http_body_util::LengthLimitError>() {
                        Some(_) => HttpError::TooLarge { url: url.to_owned(), limit },
                        None => unreachable(e.to_string()),
                    })?
                    .to_bytes(),
            };
            Ok(Answer { status, headers: parts.headers, body })
        };
        tokio::time::timeout(self.timeout, exchange)
            .await
            .unwrap_or_else(|_| Err(HttpError::Timeout { url: url.to_owned(), after: self.timeout }))
    }
}

fn connector(timeout: Duration) -> HttpConnector {
    let mut connector = HttpConnector::new();
    connector.set_connect_timeout(Some(timeout));
    connector
}

/// The error with its causes: hyper's own sentence is "client error (Connect)", the reason
/// (refused, a certificate of an unknown issuer) is further down.
fn causes(error: &dyn std::error::Error) -> String {
    let mut sentence = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        sentence.push_str(": ");
        sentence.push_str(&cause.to_string());
        source = cause.source();
    }
    sentence
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::net::stub::{closed_url, Stub};

    #[tokio::test]
    async fn a_post_carries_its_json_and_headers_and_returns_status_headers_and_body() {
        let stub = Stub::start(|_| (201, b"{\"ok\":true}".to_vec())).await;
        let client = JsonClient::new(Duration::from_secs(5));
        let answer =
            client.post(&format!("{}/v1/x", stub.url), &[("x-test", "1")], b"{\"a\":1}".to_vec()).await;
        let answer = answer.unwrap();
        assert_eq!((answer.status, answer.body.as_ref()), (201, b"{\"ok\":true}".as_ref()));
        let seen = stub.seen();
        assert_eq!((seen[0].method.as_str(), seen[0].path.as_str()), ("POST", "/v1/x"));
        assert_eq!(seen[0].header("content-type"), Some("application/json"));
        assert_eq!(seen[0].header("x-test"), Some("1"));
        assert_eq!(seen[0].json(), serde_json::json!({"a": 1}));
    }

    #[tokio::test]
    async fn a_get_reads_no_more_than_its_limit() {
        let stub = Stub::start(|_| (200, vec![b'x'; 4096])).await;
        let client = JsonClient::new(Duration::from_secs(5));
        let small = client.get(&stub.url, &[], 100).await;
        assert!(matches!(small, Err(HttpError::TooLarge { limit: 100, .. })), "{small:?}");
        let whole = client.get(&stub.url, &[], 4096).await.unwrap();
        assert_eq!(whole.body.len(), 4096);
    }

    #[tokio::test(flavor = "multi_thread")]
    async fn a_peer_that_hangs_costs_one_timeout() {
        // A peer that takes the connection and never answers. It holds the socket on a task of
        // its own rather than blocking a runtime thread, which on a 2-CPU machine stalled the
        // client's own timer.
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let peer = tokio::spawn(async move {
            let held = listener.accept().await;
            tokio::time::sleep(Duration::from_secs(5)).await;
            drop(held);
        });
        let client = JsonClient::new(Duration::from_millis(300));
        let started = std::time::Instant::now();
        let answer = client.post(&url, &[], Vec::new()).await;
        peer.abort();
        assert!(matches!(answer, Err(HttpError::Timeout { .. })), "{answer:?}");
        assert!(started.elapsed() < Duration::from_secs(2), "{:?}", started.elapsed());
    }

    #[tokio::test]
    async fn no_peer_and_wrong_urls_are_told_apart() {
        let client = JsonClient::new(Duration::from_secs(5));
        let none = client.post(&closed_url(), &[], Vec::new()).await;
        assert!(
            matches!(&none, Err(HttpError::Unreachable { detail, .. }) if detail.contains("refused")),
            "{none:?}"
        );
        let tls = client.get("https://127.0.0.1:1/", &[], 10).await;
        assert!(matches!(tls, Err(HttpError::BadUrl { .. })), "https on a client without TLS: {tls:?}");
        let other = client.get("ftp://127.0.0.1/", &[], 10).await;
        assert!(matches!(other, Err(HttpError::BadUrl { .. })), "{other:?}");
    }
}
