//! Counts and latencies of a run, kept as operations go by (the history recorder
//! feeds every operation to [`Stats::observe`]), and the figures `results.json` keeps
//! of them.

use crate::histogram::{new_histogram, LatencyHistograms};
use checker::{Op, OpType, Process};
use hdrhistogram::Histogram;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Completions of one kind of operation.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Counts {
    /// Took effect.
    pub ok: u64,
    /// Definitely did not take effect.
    pub fail: u64,
    /// Unknown.
    pub info: u64,
}

impl Counts {
    fn add(&mut self, other: Counts) {
        self.ok += other.ok;
        self.fail += other.fail;
        self.info += other.info;
    }

    /// All completions.
    pub fn completed(&self) -> u64 {
        self.ok + self.fail + self.info
    }
}

/// Latency quantiles in microseconds.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Latency {
    /// Operations measured.
    pub count: u64,
    /// Median.
    pub p50: u64,
    /// 95th percentile.
    pub p95: u64,
    /// 99th percentile.
    pub p99: u64,
    /// Slowest.
    pub max: u64,
}

impl Latency {
    fn of(h: &Histogram<u64>) -> Latency {
        Latency {
            count: h.len(),
            p50: h.value_at_quantile(0.50),
            p95: h.value_at_quantile(0.95),
            p99: h.value_at_quantile(0.99),
            max: h.max(),
        }
    }
}

/// What has been seen of a run so far.
#[derive(Debug, Clone)]
pub struct Stats {
    by_f: BTreeMap<String, Counts>,
    pending: BTreeMap<u64, u64>,
    ok_latency: BTreeMap<String, Histogram<u64>>,
    all_ok: Histogram<u64>,
    nemesis: u64,
    histograms: LatencyHistograms,
}

impl Default for Stats {
    fn default() -> Self {
        Stats {
            by_f: BTreeMap::new(),
            pending: BTreeMap::new(),
            ok_latency: BTreeMap::new(),
            all_ok: new_histogram(),
            nemesis: 0,
            histograms: LatencyHistograms::default(),
        }
    }
}

impl Stats {
    /// Takes one history operation into account (in history order).
    pub fn observe(&mut self, op: &Op) {
        self.histograms.observe(op);
        let Process::Client(process) = op.process else {
            self.nemesis += 1;
            return;
        };
        if op.kind == OpType::Invoke {
            self.pending.insert(process, op.time);
            return;
        }
        let counts = self.by_f.entry(op.f.clone()).or_default();
        match op.kind {
            OpType::Ok => counts.ok += 1,
            OpType::Fail => counts.fail += 1,
            OpType::Info => counts.info += 1,
            OpType::Invoke => {}
        }
        if let Some(invoked) = self.pending.remove(&process) {
            if op.kind == OpType::Ok {
                let micros = op.time.saturating_sub(invoked) / 1000;
                self.all_ok.saturating_record(micros);
                self.ok_latency
                    .entry(op.f.clone())
                    .or_insert_with(new_histogram)
                    .saturating_record(micros);
            }
        }
    }

    /// Completions of every kind.
    pub fn total(&self) -> Counts {
        let mut total = Counts::default();
        for c in self.by_f.values() {
            total.add(*c);
        }
        total
    }

    /// Completions by function, plus a `total` entry (as `results.json` keeps them).
    pub fn counts(&self) -> BTreeMap<String, Counts> {
        let mut counts = self.by_f.clone();
        counts.insert("total".into(), self.total());
        counts
    }

    /// Latency of every `ok` operation.
    pub fn latency(&self) -> Latency {
        Latency::of(&self.all_ok)
    }

    /// Latency of `ok` operations by function.
    pub fn latency_by_f(&self) -> BTreeMap<String, Latency> {
        self.ok_latency
            .iter()
            .map(|(f, h)| (f.clone(), Latency::of(h)))
            .collect()
    }

    /// Latency histograms by operation kind, outcome and fault phase.
    pub fn histograms(&self) -> &LatencyHistograms {
        &self.histograms
    }

    /// Nemesis operations recorded.
    pub fn nemesis_ops(&self) -> u64 {
        self.nemesis
    }
}

/// The phase of a run whose throughput is reported, in history nanoseconds.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Window {
    /// When the workload started.
    pub start: u64,
    /// When it ended (before the final reads).
    pub end: u64,
}

impl Window {
    /// Client completions within the window per second.
    pub fn ops_per_sec(&self, ops: &[Op]) -> f64 {
        let done = ops
            .iter()
            .filter(|op| {
                matches!(op.process, Process::Client(_))
                    && op.kind != OpType::Invoke
                    && (self.start..=self.end).contains(&op.time)
            })
            .count();
        done as f64 / self.seconds().max(1e-9)
    }

    /// The window's length.
    pub fn seconds(&self) -> f64 {
        self.end.saturating_sub(self.start) as f64 / 1e9
    }
}

/// Client process ids that appear in a history.
pub fn processes(ops: &[Op]) -> u64 {
    let mut ids: Vec<u64> = ops
        .iter()
        .filter_map(|op| match op.process {
            Process::Client(p) => Some(p),
            Process::Nemesis => None,
        })
        .collect();
    ids.sort_unstable();
    ids.dedup();
    ids.len() as u64
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Value;

    #[test]
    fn counts_and_latencies() {
        let mut s = Stats::default();
        let op = |process, kind, f: &str, time| {
            Op::new(0, Process::Client(process), kind, f, Value::Null, time)
        };
        s.observe(&op(1, OpType::Invoke, "read", 0));
        s.observe(&op(2, OpType::Invoke, "cas", 0));
        s.observe(&op(1, OpType::Ok, "read", 3_000_000));
        s.observe(&op(2, OpType::Fail, "cas", 5_000_000));
        s.observe(&op(3, OpType::Invoke, "write", 0));
        assert_eq!(
            s.total(),
            Counts {
                ok: 1,
                fail: 1,
                info: 0
            }
        );
        let l = s.latency();
        assert_eq!(l.count, 1);
        assert!((2990..=3010).contains(&l.p50), "{l:?}");
        assert_eq!(s.counts()["cas"].fail, 1);
        assert_eq!(s.counts()["total"].ok, 1);
    }
}
