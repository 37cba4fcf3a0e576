//! The trace hash: a SHA-256 over every event the simulation carried out, in order.
//! Same seed and same build give the same hash; any difference in what was delivered,
//! to whom or when shows in it.

use sha2::{Digest as _, Sha256};

/// Accumulates the trace hash and counts the events.
#[derive(Clone, Debug, Default)]
pub struct Trace {
    hasher: Sha256,
    events: u64,
}

impl Trace {
    /// Adds one event: its time, its source and destination codes, its kind and the
    /// bytes it carried (hashed).
    pub fn record(&mut self, at_ns: u64, from: u64, to: u64, kind: &str, bytes: &[u8]) {
        let h = &mut self.hasher;
        h.update(at_ns.to_le_bytes());
        h.update(from.to_le_bytes());
        h.update(to.to_le_bytes());
        h.update((kind.len() as u64).to_le_bytes());
        h.update(kind.as_bytes());
        h.update(Sha256::digest(bytes));
        self.events += 1;
    }

    /// Events recorded.
    pub fn events(&self) -> u64 {
        self.events
    }

    /// The hash so far, in hex.
    pub fn hash_hex(&self) -> String {
        hex::encode(self.hasher.clone().finalize())
    }
}

/// The code of a replica in the trace.
pub fn replica_code(i: usize) -> u64 {
    i as u64
}

/// The code of client slot `c` in the trace (above every replica id).
pub fn client_code(c: usize) -> u64 {
    1_000_000 + c as u64
}

/// The code of the nemesis in the trace.
pub const NEMESIS: u64 = u64::MAX;
