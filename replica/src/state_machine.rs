//! The replicated state machine: a key-value map with read, write, cas and append,
//! plus the per-client table of last replies that makes execution exactly-once.
//!
//! Operations on the wire (`serde`, tagged by `"op"`):
//! `{"op":"read","key":"k"}`, `{"op":"write","key":"k","value":V}`,
//! `{"op":"cas","key":"k","from":V,"to":V}`, `{"op":"append","key":"k","value":V}`.
//! Results: `{"op":"read","value":V|null}`, `{"op":"write"}`,
//! `{"op":"cas","ok":bool}` (false is a definite "did not apply"), `{"op":"append"}`.
//! Appending to a missing key creates the list `[V]`; to a non-list value `x`, `[x, V]`.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::crypto::Digest;

/// A client id.
pub type ClientId = u64;

/// An operation a client asks the service to execute.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
#[serde(tag = "op", rename_all = "snake_case")]
pub enum Operation {
    /// Read a key; a missing key reads as `null`.
    Read {
        /// Key.
        key: String,
    },
    /// Overwrite a key.
    Write {
        /// Key.
        key: String,
        /// New value.
        value: Value,
    },
    /// Compare-and-set: set `to` if the current value equals `from` (missing = null).
    Cas {
        /// Key.
        key: String,
        /// Expected value.
        from: Value,
        /// New value.
        to: Value,
    },
    /// Append to the list stored at a key.
    Append {
        /// Key.
        key: String,
        /// Element appended.
        value: Value,
    },
}

impl Operation {
    /// The key the operation touches.
    pub fn key(&self) -> &str {
        match self {
            Operation::Read { key }
            | Operation::Write { key, .. }
            | Operation::Cas { key, .. }
            | Operation::Append { key, .. } => key,
        }
    }
}

/// The result of executing an [`Operation`].
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
#[serde(tag = "op", rename_all = "snake_case")]
pub enum OpResult {
    /// The value read (`null` if missing).
    Read {
        /// Value.
        value: Value,
    },
    /// The write applied.
    Write,
    /// Whether the cas applied.
    Cas {
        /// True if applied.
        ok: bool,
    },
    /// The append applied.
    Append,
}

/// What the replica remembers about a client: its last executed request.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct LastReply {
    /// Timestamp of the last executed request.
    pub timestamp: u64,
    /// Its result.
    pub result: OpResult,
}

/// The key-value state plus the client table and the hash chain of executed batch
/// digests (all part of the checkpointed state, so a checkpoint certifies them).
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct KvStore {
    data: BTreeMap<String, Value>,
    clients: BTreeMap<ClientId, LastReply>,
    /// `chain(seq, d) = H(previous, seq, d)` over every executed sequence number.
    #[serde(default)]
    history: Digest,
}

/// One link of the executed-history chain: the head after executing batch `digest`
/// at `seq` on a state whose head was `head`.
pub fn chain_link(head: Digest, seq: u64, digest: Digest) -> Digest {
    Digest::of_parts([&head.0[..], &seq.to_le_bytes()[..], &digest.0[..]])
}

impl KvStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    /// Applies an operation (no duplicate check; see [`KvStore::execute`]).
    pub fn apply(&mut self, op: &Operation) -> OpResult {
        self.apply_as(op, false)
    }

    /// [`KvStore::apply`]; with `diverge` (the seeded bug `diverge-state` only) a
    /// successful cas keeps the old value but still reports `ok: true`.
    fn apply_as(&mut self, op: &Operation, diverge: bool) -> OpResult {
        match op {
            Operation::Read { key } => OpResult::Read {
                value: self.data.get(key).cloned().unwrap_or(Value::Null),
            },
            Operation::Write { key, value } => {
                self.data.insert(key.clone(), value.clone());
                OpResult::Write
            }
            Operation::Cas { key, from, to } => {
                let current = self.data.get(key).unwrap_or(&Value::Null);
                let ok = current == from;
                if ok && !diverge {
                    self.data.insert(key.clone(), to.clone());
                }
                OpResult::Cas { ok }
            }
            Operation::Append { key, value } => {
                let slot = self.data.entry(key.clone()).or_insert(Value::Null);
                match slot {
                    Value::Array(items) => items.push(value.clone()),
                    Value::Null => *slot = Value::Array(vec![value.clone()]),
                    other => *other = Value::Array(vec![other.take(), value.clone()]),
                }
                OpResult::Append
            }
        }
    }

    /// Executes a client's request exactly once: a timestamp not above the client's
    /// last one is not applied again. Returns the result if it was applied now.
    ///
    /// `again` (the seeded bug `no-client-dedupe` only) applies a repeat of the last
    /// timestamp once more. `diverge` (the seeded bug `diverge-state` only) applies a
    /// successful cas wrongly: it keeps the old value. The result returned and
    /// remembered for the client is the correct one (`ok: true`).
    pub fn execute(
        &mut self,
        client: ClientId,
        timestamp: u64,
        op: &Operation,
        again: bool,
        diverge: bool,
    ) -> Option<OpResult> {
        if let Some(last) = self.clients.get(&client) {
            if timestamp < last.timestamp || (timestamp == last.timestamp && !again) {
                return None;
            }
        }
        let result = self.apply_as(op, diverge);
        self.clients.insert(
            client,
            LastReply {
                timestamp,
                result: result.clone(),
            },
        );
        Some(result)
    }

    /// Extends the executed-history chain with the batch executed at `seq`.
    pub fn record_batch(&mut self, seq: u64, digest: Digest) {
        self.history = chain_link(self.history, seq, digest);
    }

    /// Head of the executed-history chain (covers every batch executed so far).
    pub fn history_head(&self) -> Digest {
        self.history
    }

    /// The client's last executed request, if any.
    pub fn last_reply(&self, client: ClientId) -> Option<&LastReply> {
        self.clients.get(&client)
    }

    /// Reads a key directly (for tests and status).
    pub fn get(&self, key: &str) -> Option<&Value> {
        self.data.get(key)
    }

    /// Digest of the whole state (data and client table).
    pub fn digest(&self) -> Digest {
        Digest::of(&serde_json::to_vec(self).expect("state serializes"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn operations_have_documented_json() {
        let op: Operation =
            serde_json::from_value(json!({"op":"cas","key":"k","from":1,"to":2})).unwrap();
        assert_eq!(
            op,
            Operation::Cas {
                key: "k".into(),
                from: json!(1),
                to: json!(2)
            }
        );
        assert_eq!(
            serde_json::to_value(OpResult::Cas { ok: false }).unwrap(),
            json!({"op":"cas","ok":false})
        );
        assert_eq!(
            serde_json::to_value(OpResult::Write).unwrap(),
            json!({"op":"write"})
        );
    }

    #[test]
    fn semantics_and_exactly_once() {
        let mut s = KvStore::new();
        let w = Operation::Write {
            key: "a".into(),
            value: json!(1),
        };
        assert_eq!(s.execute(1, 10, &w, false, false), Some(OpResult::Write));
        assert_eq!(s.execute(1, 10, &w, false, false), None);
        let cas = Operation::Cas {
            key: "a".into(),
            from: json!(2),
            to: json!(3),
        };
        assert_eq!(
            s.execute(1, 11, &cas, false, false),
            Some(OpResult::Cas { ok: false })
        );
        let app = Operation::Append {
            key: "l".into(),
            value: json!(5),
        };
        s.execute(2, 1, &app, false, false);
        s.execute(2, 2, &app, false, false);
        assert_eq!(s.get("l"), Some(&json!([5, 5])));
        let r = Operation::Read { key: "zz".into() };
        assert_eq!(s.apply(&r), OpResult::Read { value: Value::Null });
    }

    /// Client 1's requests: a write, a cas that succeeds, a cas that fails, an append.
    fn ops_with_a_successful_cas() -> Vec<Operation> {
        vec![
            Operation::Write {
                key: "a".into(),
                value: json!(1),
            },
            Operation::Cas {
                key: "a".into(),
                from: json!(1),
                to: json!(2),
            },
            Operation::Cas {
                key: "a".into(),
                from: json!(7),
                to: json!(8),
            },
            Operation::Append {
                key: "l".into(),
                value: json!(3),
            },
        ]
    }

    /// Executes [`ops_with_a_successful_cas`] on a fresh store (`diverge` as the
    /// seeded bug `diverge-state` passes it); returns the store and the results.
    fn run(diverge: bool) -> (KvStore, Vec<Option<OpResult>>) {
        let mut s = KvStore::new();
        let results = ops_with_a_successful_cas()
            .iter()
            .zip(1..)
            .map(|(op, t)| s.execute(1, t, op, false, diverge))
            .collect();
        (s, results)
    }

    #[test]
    fn a_diverged_cas_replies_correctly_but_changes_the_state_digest() {
        let (correct, want) = run(false);
        let (diverged, got) = run(true);
        assert_eq!(
            want[1],
            Some(OpResult::Cas { ok: true }),
            "the cas succeeds"
        );
        assert_eq!(
            got, want,
            "every reply, the cas's included, is the correct one"
        );
        assert_eq!(diverged.last_reply(1), correct.last_reply(1));
        assert_eq!(correct.get("a"), Some(&json!(2)));
        assert_eq!(
            diverged.get("a"),
            Some(&json!(1)),
            "the cas kept the old value"
        );
        assert_ne!(diverged.digest(), correct.digest());
    }

    #[test]
    fn without_the_diverged_cas_the_digests_agree() {
        let (a, ra) = run(false);
        let (b, rb) = run(false);
        assert_eq!((a.digest(), ra), (b.digest(), rb));
        // A failed cas changes nothing, diverged or not.
        let failed = Operation::Cas {
            key: "a".into(),
            from: json!(9),
            to: json!(10),
        };
        let (mut c, mut d) = (a.clone(), a.clone());
        assert_eq!(
            c.execute(1, 9, &failed, false, false),
            d.execute(1, 9, &failed, false, true)
        );
        assert_eq!(c.digest(), d.digest());
    }
}
