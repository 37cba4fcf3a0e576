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
    /// Per mutator, the messages it produced that the proxy's rules let through.
    pub delivered: BTreeMap<String, u64>,
    /// Per mutator, the messages it produced that a rule dropped.
    pub dropped: BTreeMap<String, u64>,
    /// Per mutator, its messages that reached a replica (the replicas count them by
    /// the tag the proxy puts on each, in `GET /status`).
    pub received: BTreeMap<String, u64>,
    /// Per mutator, the received ones the replicas rejected, by reason.
    pub rejected: BTreeMap<String, BTreeMap<String, u64>>,
}

/// One mutator's line of the acceptance table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MutatorRow {
    /// The mutator.
    pub name: String,
    /// Messages it rewrote, withheld or made.
    pub mutated: u64,
    /// Of the messages it produced, those the proxy's rules let through (`None`: not
    /// counted, as for `lie`, `censor` and `withhold`, which send nothing to replicas).
    pub delivered: Option<u64>,
    /// Those that reached a replica.
    pub received: Option<u64>,
    /// Received and not rejected.
    pub accepted: Option<u64>,
    /// Rejected, by reason, most frequent first.
    pub rejected: Vec<(String, u64)>,
}

impl MutationRecord {
    /// The acceptance table: one row per mutator.
    pub fn rows(&self) -> Vec<MutatorRow> {
        self.by_mutator
            .iter()
            .map(|(name, kinds)| {
                let mut rejected: Vec<(String, u64)> = self
                    .rejected
                    .get(name)
                    .map(|r| r.iter().map(|(k, v)| (k.clone(), *v)).collect())
                    .unwrap_or_default();
                rejected.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
                let received = self.received.get(name).copied();
                let refused: u64 = rejected.iter().map(|(_, n)| n).sum();
                MutatorRow {
                    name: name.clone(),
                    mutated: kinds.values().sum(),
                    delivered: self.delivered.get(name).copied(),
                    received,
                    accepted: received.map(|r| r.saturating_sub(refused)),
                    rejected,
                }
            })
            .collect()
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_mutator_s_row_counts_accepted_as_received_less_rejected_and_sorts_reasons() {
        let map = |pairs: &[(&str, u64)]| -> BTreeMap<String, u64> {
            pairs.iter().map(|(k, v)| (k.to_string(), *v)).collect()
        };
        let m = MutationRecord {
            by_mutator: BTreeMap::from([
                ("shift".to_string(), map(&[("prepare", 6), ("commit", 4)])),
                ("lie".to_string(), map(&[("reply", 3)])),
            ]),
            total: 13,
            delivered: map(&[("shift", 9)]),
            dropped: map(&[("shift", 1)]),
            received: map(&[("shift", 9)]),
            rejected: BTreeMap::from([(
                "shift".to_string(),
                map(&[("watermarks", 1), ("wrong-view", 5)]),
            )]),
        };
        let rows = m.rows();
        assert_eq!(rows[0].name, "lie");
        assert_eq!(
            (rows[0].delivered, rows[0].received, rows[0].accepted),
            (None, None, None),
            "lie sends nothing to replicas"
        );
        let shift = &rows[1];
        assert_eq!(
            (
                shift.mutated,
                shift.delivered,
                shift.received,
                shift.accepted
            ),
            (10, Some(9), Some(9), Some(3))
        );
        assert_eq!(
            shift.rejected,
            [("wrong-view".to_string(), 5), ("watermarks".to_string(), 1)]
        );
    }
}
