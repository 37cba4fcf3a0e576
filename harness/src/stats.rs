//! Counts and latencies of a run, kept by the recorder as operations go by.

use ::results::LatencyHistograms;
use checker::{Op, OpType, Process};
use hdrhistogram::Histogram;
use serde::Serialize;
use std::collections::BTreeMap;

/// Completions of one kind of operation.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub(crate) struct Counts {
    /// Took effect.
    pub(crate) ok: u64,
    /// Definitely did not take effect.
    pub(crate) fail: u64,
    /// Unknown.
    pub(crate) info: u64,
}

impl Counts {
    fn add(&mut self, other: Counts) {
        self.ok += other.ok;
        self.fail += other.fail;
        self.info += other.info;
    }

    /// All completions.
    pub(crate) fn completed(&self) -> u64 {
        self.ok + self.fail + self.info
    }
}

/// Latency quantiles in microseconds.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub(crate) struct Latency {
    /// Operations measured.
    pub(crate) count: u64,
    /// Median.
    pub(crate) p50: u64,
    /// 95th percentile.
    pub(crate) p95: u64,
    /// 99th percentile.
    pub(crate) p99: u64,
    /// Slowest.
    pub(crate) max: u64,
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

/// What the recorder has seen so far.
#[derive(Debug, Clone)]
pub(crate) struct Stats {
    by_f: BTreeMap<String, Counts>,
    pending: BTreeMap<u64, u64>,
    ok_latency: BTreeMap<String, Histogram<u64>>,
    all_ok: Histogram<u64>,
    nemesis: u64,
    histograms: LatencyHistograms,
}

/// A latency histogram: 1 µs to one hour, 3 significant figures.
fn histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, 3_600_000_000, 3).expect("valid histogram bounds")
}

impl Default for Stats {
    fn default() -> Self {
        Stats {
            by_f: BTreeMap::new(),
            pending: BTreeMap::new(),
            ok_latency: BTreeMap::new(),
            all_ok: histogram(),
            nemesis: 0,
            histograms: LatencyHistograms::default(),
        }
    }
}

impl Stats {
    /// Takes one history operation into account.
    pub(crate) fn observe(&mut self, op: &Op) {
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
                    .or_insert_with(histogram)
                    .saturating_record(micros);
            }
        }
    }

    /// Completions of every kind.
    pub(crate) fn total(&self) -> Counts {
        let mut total = Counts::default();
        for c in self.by_f.values() {
            total.add(*c);
        }
        total
    }

    /// Completions by function.
    pub(crate) fn by_f(&self) -> &BTreeMap<String, Counts> {
        &self.by_f
    }

    /// Latency of every `ok` operation.
    pub(crate) fn latency(&self) -> Latency {
        Latency::of(&self.all_ok)
    }

    /// Latency of `ok` operations by function.
    pub(crate) fn latency_by_f(&self) -> BTreeMap<String, Latency> {
        self.ok_latency
            .iter()
            .map(|(f, h)| (f.clone(), Latency::of(h)))
            .collect()
    }

    /// Latency histograms by operation kind, outcome and fault phase.
    pub(crate) fn histograms(&self) -> &LatencyHistograms {
        &self.histograms
    }

    /// Nemesis operations recorded.
    pub(crate) fn nemesis_ops(&self) -> u64 {
        self.nemesis
    }
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
        assert_eq!(s.by_f()["cas"].fail, 1);
    }
}
