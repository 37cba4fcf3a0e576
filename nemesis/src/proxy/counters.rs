//! Message counters per link and message type.

use crate::link::Link;
use crate::rule::Verdict;
use serde::Serialize;
use std::collections::BTreeMap;
use std::sync::Mutex;

/// What happened to the messages of one type on one link.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct LinkCounts {
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

impl LinkCounts {
    fn add(&mut self, o: &LinkCounts) {
        self.delivered += o.delivered;
        self.dropped += o.dropped;
        self.delayed += o.delayed;
        self.duplicated += o.duplicated;
        self.reordered += o.reordered;
        self.replayed += o.replayed;
    }

    /// Every message seen.
    pub fn total(&self) -> u64 {
        self.delivered
            + self.dropped
            + self.delayed
            + self.duplicated
            + self.reordered
            + self.replayed
    }
}

/// Counts by link and message type.
#[derive(Debug, Default)]
pub(crate) struct Counters {
    by: Mutex<BTreeMap<(Link, &'static str), LinkCounts>>,
}

impl Counters {
    pub(crate) fn count(&self, link: Link, kind: &'static str, verdict: Verdict) {
        let mut by = self.by.lock().expect("counters poisoned");
        let c = by.entry((link, kind)).or_default();
        match verdict {
            Verdict::Deliver => c.delivered += 1,
            Verdict::Drop => c.dropped += 1,
            Verdict::Delay(_) => c.delayed += 1,
            Verdict::Duplicate => c.duplicated += 1,
            Verdict::Hold => c.reordered += 1,
            Verdict::Replay => c.replayed += 1,
        }
    }

    /// `{link: {type: counts}}`.
    pub(crate) fn by_link(&self) -> BTreeMap<String, BTreeMap<&'static str, LinkCounts>> {
        let by = self.by.lock().expect("counters poisoned");
        let mut out: BTreeMap<String, BTreeMap<&'static str, LinkCounts>> = BTreeMap::new();
        for ((link, kind), c) in by.iter() {
            out.entry(link.to_string()).or_default().insert(kind, *c);
        }
        out
    }

    /// Totals by message type, and `"all"`.
    pub(crate) fn by_kind(&self) -> BTreeMap<&'static str, LinkCounts> {
        let by = self.by.lock().expect("counters poisoned");
        let mut out: BTreeMap<&'static str, LinkCounts> = BTreeMap::new();
        for ((_, kind), c) in by.iter() {
            out.entry(kind).or_default().add(c);
            out.entry("all").or_default().add(c);
        }
        out
    }
}
