//! The reboot semaphore as airlock keeps it in etcd: a JSON document of the slots and the
//! sorted IDs holding them, changed only by a compare-and-swap on the key's version.

use serde::{Deserialize, Serialize};

/// The etcd key of a group's semaphore, airlock's layout (the group query-escaped).
pub fn key(group: &str) -> String {
    let escaped: String = group
        .bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => (b as char).to_string(),
            b' ' => "+".to_owned(),
            other => format!("%{other:02X}"),
        })
        .collect();
    format!("com.coreos.airlock/groups/{escaped}/v1/semaphore")
}

/// The document.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Semaphore {
    /// How many may hold a slot at once.
    pub total_slots: u64,
    /// Who holds one, sorted.
    pub holders: Vec<String>,
}

/// What taking a slot came to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Take {
    /// `id` now holds a slot.
    Taken,
    /// `id` held one already (a host that rebooted before reporting steady state).
    AlreadyHeld,
    /// Every slot is held by others.
    Full,
}

impl Semaphore {
    /// A semaphore with `slots` slots, none held.
    pub fn new(slots: u64) -> Self {
        Semaphore { total_slots: slots, holders: Vec::new() }
    }

    /// Takes a slot for `id` when one is free.
    pub fn take(&mut self, id: &str) -> Take {
        match self.holders.binary_search_by(|h| h.as_str().cmp(id)) {
            Ok(_) => Take::AlreadyHeld,
            Err(_) if self.holders.len() as u64 >= self.total_slots => Take::Full,
            Err(at) => {
                self.holders.insert(at, id.to_owned());
                Take::Taken
            }
        }
    }

    /// Frees `id`'s slot; whether it held one.
    pub fn release(&mut self, id: &str) -> bool {
        match self.holders.binary_search_by(|h| h.as_str().cmp(id)) {
            Ok(at) => {
                self.holders.remove(at);
                true
            }
            Err(_) => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slots_are_taken_once_each_and_freed_by_their_holder() {
        let mut s = Semaphore::new(2);
        // (operation, id, expected)
        let table: [(&str, &str, &str); 8] = [
            ("take", "b", "Taken"),
            ("take", "a", "Taken"),
            ("take", "b", "AlreadyHeld"),
            ("take", "c", "Full"),
            ("release", "c", "false"),
            ("release", "a", "true"),
            ("take", "c", "Taken"),
            ("take", "a", "Full"),
        ];
        for (op, id, want) in table {
            let got = match op {
                "take" => format!("{:?}", s.take(id)),
                _ => s.release(id).to_string(),
            };
            assert_eq!(got, want, "{op} {id}");
        }
        assert_eq!(s.holders, ["b", "c"], "kept sorted");
    }

    #[test]
    fn the_document_and_key_are_airlocks() {
        let json = serde_json::to_string(&Semaphore { total_slots: 2, holders: vec!["x".into()] })
            .unwrap_or_default();
        assert_eq!(json, r#"{"total_slots":2,"holders":["x"]}"#);
        assert_eq!(key("default"), "com.coreos.airlock/groups/default/v1/semaphore");
        assert_eq!(key("workers a/b"), "com.coreos.airlock/groups/workers+a%2Fb/v1/semaphore");
    }
}
