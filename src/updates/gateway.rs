//! The answers of etcd's v3 JSON gateway that the semaphore reads, typed. The gateway writes
//! int64s as strings and, as proto3 does, leaves out fields at their default: a range that
//! found nothing has no `kvs`, a transaction whose compare failed has no `succeeded`.

use base64::Engine as _;
use serde::{Deserialize, Deserializer};

/// `/v3/kv/range`'s answer.
#[derive(Debug, Default, Deserialize)]
pub(super) struct RangeAnswer {
    /// The keys found, with their values.
    #[serde(default)]
    pub kvs: Vec<KeyValue>,
}

/// One key of a range.
#[derive(Debug, Default, Deserialize)]
pub(super) struct KeyValue {
    /// The value, base64.
    #[serde(default)]
    pub value: String,
    /// How many times the key was written since it was created.
    #[serde(default, deserialize_with = "int64")]
    pub version: i64,
    /// The revision that created it.
    #[serde(default, deserialize_with = "int64")]
    pub create_revision: i64,
    /// The revision that last wrote it.
    #[serde(default, deserialize_with = "int64")]
    pub mod_revision: i64,
}

impl KeyValue {
    /// The value's bytes.
    pub(super) fn bytes(&self) -> Result<Vec<u8>, base64::DecodeError> {
        base64::engine::general_purpose::STANDARD.decode(&self.value)
    }
}

/// `/v3/kv/txn`'s answer.
#[derive(Debug, Default, Deserialize)]
pub(super) struct TxnAnswer {
    /// Whether the compare held (and the success branch ran).
    #[serde(default)]
    pub succeeded: bool,
}

/// An int64 as the gateway writes it ("42"), or as a number.
fn int64<'de, D: Deserializer<'de>>(d: D) -> Result<i64, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Int {
        Text(String),
        Number(i64),
    }
    match Int::deserialize(d)? {
        Int::Number(n) => Ok(n),
        Int::Text(t) => t.parse().map_err(serde::de::Error::custom),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // Recorded from etcd 3.4.23's gateway (tests/world.sh's TLS member), as curl received them.
    const RANGE_FOUND: &str = include_str!("../../tests/fixtures/etcd/range-found.json");
    const RANGE_MISSING: &str = include_str!("../../tests/fixtures/etcd/range-missing.json");
    const TXN_SUCCEEDED: &str = include_str!("../../tests/fixtures/etcd/txn-succeeded.json");
    const TXN_FAILED: &str = include_str!("../../tests/fixtures/etcd/txn-failed.json");

    #[test]
    fn recorded_answers_read_as_etcd_meant_them() {
        let found: RangeAnswer = serde_json::from_str(RANGE_FOUND).unwrap_or_default();
        let kv = found.kvs.first().unwrap_or_else(|| panic!("no kvs in {RANGE_FOUND}"));
        assert_eq!((kv.version, kv.create_revision, kv.mod_revision), (2, 49, 50));
        let value = kv.bytes().unwrap_or_default();
        assert_eq!(String::from_utf8_lossy(&value), r#"{"total_slots":2,"holders":["host-a"]}"#);
        let missing: RangeAnswer = serde_json::from_str(RANGE_MISSING).unwrap();
        assert!(missing.kvs.is_empty());
        let txn = |text: &str| serde_json::from_str::<TxnAnswer>(text).map(|t| t.succeeded).ok();
        assert_eq!((txn(TXN_SUCCEEDED), txn(TXN_FAILED)), (Some(true), Some(false)));
    }

    #[test]
    fn a_version_that_is_no_number_is_an_error_not_zero() {
        // Zero would make every compare-and-swap fail and end as "contended", hiding the cause.
        for text in [r#"{"kvs":[{"version":"two"}]}"#, r#"{"kvs":[{"version":true}]}"#] {
            assert!(serde_json::from_str::<RangeAnswer>(text).is_err(), "{text}");
        }
        let number: RangeAnswer = serde_json::from_str(r#"{"kvs":[{"version":3}]}"#).unwrap_or_default();
        assert_eq!(number.kvs.first().map(|kv| kv.version), Some(3));
    }
}
