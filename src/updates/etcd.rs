//! The reboot semaphore kept in etcd without a lock server, through etcd's v3 JSON gateway
//! (`/v3/kv/range`, `/v3/kv/txn`): airlock's key and document, changed only by a transaction
//! comparing the key's version, so atomicd hosts and an airlock server count slots in one etcd.
//! A holder that crashes keeps its slot until it reports steady state or an admin releases it.

use base64::Engine as _;
use serde::de::DeserializeOwned;
use serde_json::{json, Value};

use std::time::Duration;

use super::config::UpdatesConfig;
use super::gateway::{RangeAnswer, TxnAnswer};
use super::semaphore::{key, Semaphore, Take};
use crate::net::http::JsonClient;
use crate::net::tls::TlsError;

/// How often a compare-and-swap that lost the race is tried again before giving up.
const SWAP_ATTEMPTS: usize = 16;

/// What went wrong with etcd.
#[derive(Debug, thiserror::Error)]
pub enum EtcdError {
    /// No endpoint could serve the request: each did not answer, or answered that it cannot
    /// now (a member shutting down, without a leader).
    #[error("no etcd endpoint could serve the request: {}", .0.join("; "))]
    Unreachable(Vec<String>),
    /// etcd answered with an error.
    #[error("etcd at {endpoint} answered {status}: {body}")]
    Server {
        /// The endpoint.
        endpoint: String,
        /// The HTTP status.
        status: u16,
        /// Its message.
        body: String,
    },
    /// The key holds something that is not a semaphore.
    #[error("the semaphore at {key} is not airlock's document: {detail}")]
    Document {
        /// The key.
        key: String,
        /// What is wrong with it.
        detail: String,
    },
    /// Other hosts kept winning the compare-and-swap.
    #[error("the semaphore at {0} changed under every one of {SWAP_ATTEMPTS} attempts")]
    Contended(String),
}

/// One group's semaphore in one cluster.
pub struct EtcdSemaphore {
    endpoints: Vec<String>,
    key: String,
    slots: u64,
    http: JsonClient,
}

fn b64(text: &str) -> String {
    base64::engine::general_purpose::STANDARD.encode(text)
}

impl EtcdSemaphore {
    /// The semaphore of `group` with `slots` slots (used only when it does not exist yet).
    pub fn new(endpoints: &[String], group: &str, slots: u64, http: JsonClient) -> Self {
        let endpoints = endpoints.iter().map(|e| e.trim_end_matches('/').to_owned()).collect();
        EtcdSemaphore { endpoints, key: key(group), slots, http }
    }

    /// The semaphore the configuration names: its endpoints, group, slots and TLS files, each
    /// request bounded by `timeout`.
    pub fn configured(c: &UpdatesConfig, timeout: Duration) -> Result<Self, TlsError> {
        let http = JsonClient::for_urls(timeout, c.etcd_endpoints.iter().map(String::as_str), &c.etcd_tls)?;
        Ok(Self::new(&c.etcd_endpoints, &c.group, c.slots, http))
    }

    /// POSTs to the first endpoint that serves the request. A member that cannot serve it now
    /// (408, 5xx: shutting down, no leader) is passed over like one that does not answer. A
    /// transaction it may still have applied is safe to send again: its compare on the
    /// version then fails, and the caller reads again.
    async fn call<T: DeserializeOwned>(&self, path: &str, body: &Value) -> Result<T, EtcdError> {
        let mut failures = Vec::new();
        for endpoint in &self.endpoints {
            let url = format!("{endpoint}{path}");
            match self.http.post(&url, &[], body.to_string().into_bytes()).await {
                Ok(answer) if answer.status == 200 => {
                    return serde_json::from_slice(&answer.body).map_err(|e| EtcdError::Server {
                        endpoint: endpoint.clone(),
                        status: 200,
                        body: e.to_string(),
                    });
                }
                Ok(answer) if answer.status == 408 || answer.status >= 500 => failures.push(format!(
                    "{endpoint} answered {}: {}",
                    answer.status,
                    String::from_utf8_lossy(&answer.body).chars().take(200).collect::<String>()
                )),
                Ok(answer) => {
                    return Err(EtcdError::Server {
                        endpoint: endpoint.clone(),
                        status: answer.status,
                        body: String::from_utf8_lossy(&answer.body).chars().take(300).collect(),
                    })
                }
                Err(e) => failures.push(e.to_string()),
            }
        }
        Err(EtcdError::Unreachable(failures))
    }

    /// Creates the semaphore when the key does not exist (version 0), as airlock does.
    async fn ensure(&self) -> Result<(), EtcdError> {
        let value = serde_json::to_string(&Semaphore::new(self.slots)).unwrap_or_default();
        let txn = json!({
            "compare": [{"key": b64(&self.key), "target": "VERSION", "result": "EQUAL", "version": "0"}],
            "success": [{"request_put": {"key": b64(&self.key), "value": b64(&value)}}],
        });
        self.call::<TxnAnswer>("/v3/kv/txn", &txn).await.map(|_| ())
    }

    /// The semaphore at `revision` (0: now) with its version, or None when the key did not exist.
    pub async fn read_at(&self, revision: i64) -> Result<Option<(Semaphore, i64)>, EtcdError> {
        let mut range = json!({"key": b64(&self.key)});
        if revision > 0 {
            range["revision"] = json!(revision.to_string());
        }
        let answer: RangeAnswer = self.call("/v3/kv/range", &range).await?;
        let Some(kv) = answer.kvs.first() else { return Ok(None) };
        let bad = |detail: String| EtcdError::Document { key: self.key.clone(), detail };
        let raw = kv.bytes().map_err(|e| bad(e.to_string()))?;
        let semaphore = serde_json::from_slice(&raw).map_err(|e| bad(e.to_string()))?;
        Ok(Some((semaphore, kv.version)))
    }

    /// The current semaphore and its version, created first when missing.
    pub async fn read(&self) -> Result<(Semaphore, i64), EtcdError> {
        if let Some(found) = self.read_at(0).await? {
            return Ok(found);
        }
        self.ensure().await?;
        self.read_at(0).await?.ok_or_else(|| EtcdError::Document {
            key: self.key.clone(),
            detail: "it vanished right after it was created".into(),
        })
    }

    /// Writes `semaphore` if the key is still at `version`; whether it was.
    async fn swap(&self, semaphore: &Semaphore, version: i64) -> Result<bool, EtcdError> {
        let value = serde_json::to_string(semaphore).unwrap_or_default();
        let txn = json!({
            "compare": [{"key": b64(&self.key), "target": "VERSION", "result": "EQUAL", "version": version.to_string()}],
            "success": [{"request_put": {"key": b64(&self.key), "value": b64(&value)}}],
        });
        let answer: TxnAnswer = self.call("/v3/kv/txn", &txn).await?;
        Ok(answer.succeeded)
    }

    /// Takes a slot for `id` when one is free.
    pub async fn take(&self, id: &str) -> Result<Take, EtcdError> {
        self.change(|s| {
            let took = s.take(id);
            (took, took == Take::Taken)
        })
        .await
    }

    /// Frees `id`'s slot (its steady state, or an admin's release); whether it held one.
    pub async fn release(&self, id: &str) -> Result<bool, EtcdError> {
        self.change(|s| {
            let held = s.release(id);
            (held, held)
        })
        .await
    }

    /// Reads, applies `edit` (its answer, and whether it changed the document) and swaps,
    /// again while another host changed it in between.
    async fn change<T>(&self, mut edit: impl FnMut(&mut Semaphore) -> (T, bool)) -> Result<T, EtcdError> {
        for _ in 0..SWAP_ATTEMPTS {
            let (mut semaphore, version) = self.read().await?;
            let (answer, changed) = edit(&mut semaphore);
            if !changed || self.swap(&semaphore, version).await? {
                return Ok(answer);
            }
        }
        Err(EtcdError::Contended(self.key.clone()))
    }

    /// The revisions at which the semaphore was written, oldest first (while etcd keeps them).
    pub async fn history(&self) -> Result<Vec<(i64, Semaphore)>, EtcdError> {
        let answer: RangeAnswer = self.call("/v3/kv/range", &json!({"key": b64(&self.key)})).await?;
        let Some(kv) = answer.kvs.first() else { return Ok(Vec::new()) };
        let (first, last) = (kv.create_revision, kv.mod_revision);
        let mut seen = Vec::new();
        let mut previous = 0;
        for revision in first..=last {
            if let Some((semaphore, version)) = self.read_at(revision).await? {
                if version != previous {
                    previous = version;
                    seen.push((revision, semaphore));
                }
            }
        }
        Ok(seen)
    }
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};

    use super::*;
    use crate::net::stub::{closed_url, Seen, Stub};

    /// One key of etcd's gateway as the semaphore uses it: range, and a txn that puts only when
    /// the key's version is the one compared (`fail_txn` makes every compare lose).
    #[derive(Default)]
    struct FakeKey {
        value: Option<(String, i64)>,
        fail_txn: bool,
    }

    fn gateway(key: Arc<Mutex<FakeKey>>) -> impl Fn(&Seen) -> (u16, Vec<u8>) + Send + Sync {
        move |seen| {
            let mut k = key.lock().unwrap();
            let body = seen.json();
            let answer = match seen.path.as_str() {
                "/v3/kv/range" => match &k.value {
                    Some((value, version)) => json!({"kvs": [{"value": value, "version": version.to_string(),
                        "create_revision": "1", "mod_revision": version.to_string()}]}),
                    None => json!({}),
                },
                "/v3/kv/txn" => {
                    let want: i64 =
                        body["compare"][0]["version"].as_str().unwrap_or("0").parse().unwrap_or(-1);
                    let now = k.value.as_ref().map_or(0, |v| v.1);
                    if want == now && !k.fail_txn {
                        let value =
                            body["success"][0]["request_put"]["value"].as_str().unwrap_or("").to_owned();
                        k.value = Some((value, now + 1));
                        json!({"succeeded": true})
                    } else {
                        json!({})
                    }
                }
                _ => return (404, b"no such path".to_vec()),
            };
            (200, answer.to_string().into_bytes())
        }
    }

    fn semaphore(endpoints: &[&str], slots: u64) -> EtcdSemaphore {
        let endpoints: Vec<String> = endpoints.iter().map(|e| (*e).to_owned()).collect();
        EtcdSemaphore::new(&endpoints, "workers", slots, JsonClient::new(Duration::from_secs(5)))
    }

    #[tokio::test]
    async fn slots_are_taken_in_turn_and_given_back() {
        let key = Arc::new(Mutex::new(FakeKey::default()));
        let etcd = Stub::start(gateway(key.clone())).await;
        let sem = semaphore(&[&etcd.url], 1);
        assert_eq!(sem.take("a").await.unwrap(), Take::Taken, "the first take makes the document");
        assert_eq!(sem.take("a").await.unwrap(), Take::AlreadyHeld);
        assert_eq!(sem.take("b").await.unwrap(), Take::Full);
        assert!(sem.release("a").await.unwrap());
        assert!(!sem.release("a").await.unwrap(), "giving back what is not held is fine");
        assert_eq!(sem.take("b").await.unwrap(), Take::Taken);
        // As the automatic updates see it: a slot, or not now.
        let slot = |id: &str| crate::updates::lock::EtcdSlot {
            semaphore: semaphore(&[&etcd.url], 1),
            id: id.into(),
        };
        use crate::updates::lock::RebootLock as _;
        assert_eq!(slot("b").take().await, Ok(true), "held already counts as held");
        assert_eq!(slot("c").take().await, Ok(false), "full is not now, not an error");
        let (doc, _) = sem.read().await.unwrap();
        assert_eq!((doc.total_slots, doc.holders.as_slice()), (1, ["b".to_owned()].as_slice()));
        // Every write compared the version it read: the gateway saw only transactions that held.
        let key_b64 = b64(&super::key("workers"));
        for txn in etcd.seen().iter().filter(|s| s.path == "/v3/kv/txn") {
            assert_eq!(txn.json()["compare"][0]["key"], json!(key_b64));
            assert_eq!(txn.json()["compare"][0]["target"], json!("VERSION"));
        }
    }

    #[tokio::test]
    async fn a_member_down_or_failing_is_passed_over_and_a_refusal_is_not() {
        let key = Arc::new(Mutex::new(FakeKey::default()));
        let etcd = Stub::start(gateway(key)).await;
        let failing = Stub::start(|_| (503, b"etcdserver: leader changed".to_vec())).await;
        let sem = semaphore(&[&closed_url(), &failing.url, &etcd.url], 2);
        assert_eq!(sem.take("a").await.unwrap(), Take::Taken);
        let all_down = semaphore(&[&closed_url(), &failing.url], 2).take("a").await;
        assert!(matches!(&all_down, Err(EtcdError::Unreachable(f)) if f.len() == 2), "{all_down:?}");
        let refusing = Stub::start(|_| (400, b"bad request".to_vec())).await;
        let refused = semaphore(&[&refusing.url, &etcd.url], 2).take("a").await;
        assert!(
            matches!(refused, Err(EtcdError::Server { status: 400, .. })),
            "a refusal is an answer: {refused:?}"
        );
    }

    #[tokio::test]
    async fn another_document_or_endless_contention_is_an_error_not_a_slot() {
        let key = Arc::new(Mutex::new(FakeKey { value: Some((b64("not json"), 3)), fail_txn: false }));
        let etcd = Stub::start(gateway(key.clone())).await;
        let read = semaphore(&[&etcd.url], 1).take("a").await;
        assert!(matches!(read, Err(EtcdError::Document { .. })), "{read:?}");
        *key.lock().unwrap() = FakeKey { value: None, fail_txn: true };
        let contended = semaphore(&[&etcd.url], 1).take("a").await;
        assert!(
            matches!(contended, Err(EtcdError::Document { .. } | EtcdError::Contended(_))),
            "{contended:?}"
        );
        let doc = serde_json::to_string(&Semaphore::new(1)).unwrap();
        *key.lock().unwrap() = FakeKey { value: Some((b64(&doc), 1)), fail_txn: true };
        let contended = semaphore(&[&etcd.url], 1).take("a").await;
        assert!(matches!(contended, Err(EtcdError::Contended(_))), "{contended:?}");
        let attempts = etcd.seen().iter().filter(|s| s.path == "/v3/kv/txn").count();
        assert!(attempts >= SWAP_ATTEMPTS, "{attempts} transactions");
    }
}
