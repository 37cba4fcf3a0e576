//! A replica's executed log, as `GET /log` returns it.

use serde::{Deserialize, Serialize};

/// One request of an executed batch.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct ExecutedRequest {
    /// The PBFT client identity.
    pub client: u64,
    /// The client's request timestamp.
    pub timestamp: u64,
}

/// One executed sequence number.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExecutedEntry {
    /// Sequence number.
    pub seq: u64,
    /// Digest of the batch (hex).
    pub digest: String,
    /// The batch's requests in execution order.
    #[serde(default)]
    pub requests: Vec<ExecutedRequest>,
    /// Learnt by state transfer: not executed by this replica, requests unknown.
    #[serde(default)]
    pub transferred: bool,
    /// At a checkpoint the replica executed itself: the digest of its state after the
    /// entry (hex).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub state_digest: Option<String>,
}

/// One replica's log.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReplicaLog {
    /// The replica id.
    pub replica: usize,
    /// Its entries, by sequence number.
    pub entries: Vec<ExecutedEntry>,
}

impl ReplicaLog {
    /// The entries this replica executed itself.
    pub fn executed(&self) -> impl Iterator<Item = &ExecutedEntry> {
        self.entries.iter().filter(|e| !e.transferred)
    }
}
