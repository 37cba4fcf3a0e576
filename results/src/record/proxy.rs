//! `proxy.json` and the proxy's part of `results.json`: message counters per link and
//! type, and what Byzantine replicas' mutators rewrote.

use super::{Versioned, FORMAT};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// What happened to the messages of one type (on one link, or summed).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct MessageCounts {
    /// Forwarded at once.
    pub delivered: u64,
    /// Lost.
    pub dropped: u64,
    /// Forwarded late.
    pub delayed: u64,
    /// Forwarded twice.
    pub duplicated: u64,
    /// Held back past a later message.
    pub reordered: u64,
    /// Delivered along with a replay of an earlier message.
    pub replayed: u64,
}

impl MessageCounts {
    /// The column names, in the order the report shows them.
    pub const COLUMNS: [&'static str; 6] = [
        "delivered",
        "dropped",
        "delayed",
        "duplicated",
        "reordered",
        "replayed",
    ];

    /// The counts in [`MessageCounts::COLUMNS`] order.
    pub fn values(&self) -> [u64; 6] {
        [
            self.delivered,
            self.dropped,
            self.delayed,
            self.duplicated,
            self.reordered,
            self.replayed,
        ]
    }
}

/// Messages Byzantine replicas' mutators rewrote.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct MutationRecord {
    /// Per mutator, per message type.
    pub by_mutator: BTreeMap<String, BTreeMap<String, u64>>,
    /// All mutated messages.
    pub total: u64,
}

/// `proxy.json`: every counter of the run's proxy.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct ProxyRecord {
    /// The record format ([`FORMAT`]; 0 before records carried one).
    #[serde(default = "super::unversioned")]
    pub format: u32,
    /// `{link: {message type: counts}}` (links as `0->1`, `clients->2`).
    pub links: BTreeMap<String, BTreeMap<String, MessageCounts>>,
    /// What Byzantine replicas mutated.
    pub byzantine: MutationRecord,
}

impl Default for ProxyRecord {
    fn default() -> Self {
        ProxyRecord {
            format: FORMAT,
            links: BTreeMap::new(),
            byzantine: MutationRecord::default(),
        }
    }
}

impl Versioned for ProxyRecord {
    fn format(&self) -> u32 {
        self.format
    }
}
