//! Latency histograms recorded as a run goes: one per (operation kind, outcome, phase),
//! where the phase is the whole run, "during a fault" or "no fault". Fed one history
//! operation at a time, in history order (one pass, nothing sorted at the end).
//!
//! An operation counts as "during a fault" if a fault was in force at its invocation or
//! one started before it completed; the fault windows are read from the `nemesis`
//! operations in the same stream (Jepsen's start/heal pairs, [`checker::oracles::heal_of`]).

use crate::error::{io, Result};
use crate::hgrm::percentile_distribution;
use checker::oracles::heal_of;
use checker::{Op, OpType, Process};
use hdrhistogram::Histogram;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::Path;

/// The aggregate operation kind that every operation is also recorded under.
pub const ALL: &str = "all";

/// Which part of the run a histogram covers.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Phase {
    /// Every operation.
    #[default]
    All,
    /// Operations that overlapped a fault.
    Fault,
    /// Operations that did not.
    NoFault,
}

impl Phase {
    /// The name used in file names and results.json.
    pub fn name(self) -> &'static str {
        match self {
            Phase::All => "all",
            Phase::Fault => "fault",
            Phase::NoFault => "nofault",
        }
    }
}

/// Names one histogram.
#[derive(Debug, Clone, Default, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(default)]
pub struct HistogramKey {
    /// The operation's function (`read`, `write`, ...), or [`ALL`].
    pub f: String,
    /// `ok`, `fail` or `info`.
    pub outcome: String,
    /// The phase.
    pub phase: Phase,
}

impl HistogramKey {
    /// The `.hgrm` file name: `<f>-<outcome>-<phase>.hgrm`.
    pub fn file_name(&self) -> String {
        format!("{}-{}-{}.hgrm", self.f, self.outcome, self.phase.name())
    }
}

/// One histogram's figures for results.json, in milliseconds.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct LatencySummary {
    /// Which histogram.
    #[serde(flatten)]
    pub key: HistogramKey,
    /// Operations recorded.
    pub count: u64,
    /// Median, ms.
    pub p50: f64,
    /// 90th percentile, ms.
    pub p90: f64,
    /// 99th percentile, ms.
    pub p99: f64,
    /// 99.9th percentile, ms.
    pub p999: f64,
    /// Slowest, ms.
    pub max: f64,
    /// The `.hgrm` file, relative to the run directory.
    pub file: String,
}

/// Where an invoked operation stands.
#[derive(Debug, Clone, Copy)]
struct Pending {
    time: u64,
    in_fault: bool,
    fault_starts: u64,
}

/// The histograms of a run, fed op by op.
#[derive(Debug, Clone, Default)]
pub struct LatencyHistograms {
    histograms: BTreeMap<HistogramKey, Histogram<u64>>,
    pending: BTreeMap<u64, Pending>,
    open_faults: Vec<String>,
    fault_starts: u64,
}

/// The folder of a run directory holding the `.hgrm` files.
pub const HGRM_DIR: &str = "latency";

/// A latency histogram in microseconds: 1 µs to one hour, 3 significant figures.
pub fn new_histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, 3_600_000_000, 3).expect("valid histogram bounds")
}

impl LatencyHistograms {
    /// Takes one history operation into account (operations must come in history order).
    pub fn observe(&mut self, op: &Op) {
        let process = match op.process {
            Process::Nemesis => {
                self.nemesis(&op.f);
                return;
            }
            Process::Client(p) => p,
        };
        if op.kind == OpType::Invoke {
            self.pending.insert(
                process,
                Pending {
                    time: op.time,
                    in_fault: !self.open_faults.is_empty(),
                    fault_starts: self.fault_starts,
                },
            );
            return;
        }
        let Some(p) = self.pending.remove(&process) else {
            return;
        };
        let outcome = match op.kind {
            OpType::Ok => "ok",
            OpType::Fail => "fail",
            OpType::Info => "info",
            OpType::Invoke => return,
        };
        let phase = if p.in_fault || p.fault_starts != self.fault_starts {
            Phase::Fault
        } else {
            Phase::NoFault
        };
        let micros = op.time.saturating_sub(p.time) / 1000;
        for f in [op.f.as_str(), ALL] {
            for phase in [Phase::All, phase] {
                self.histograms
                    .entry(HistogramKey {
                        f: f.to_string(),
                        outcome: outcome.to_string(),
                        phase,
                    })
                    .or_insert_with(new_histogram)
                    .saturating_record(micros);
            }
        }
    }

    fn nemesis(&mut self, f: &str) {
        if heal_of(f).is_some() {
            self.open_faults.push(f.to_string());
            self.fault_starts += 1;
        } else if let Some(i) = self
            .open_faults
            .iter()
            .position(|open| heal_of(open) == Some(f))
        {
            self.open_faults.remove(i);
        }
    }

    /// One histogram, if anything was recorded in it.
    pub fn get(&self, key: &HistogramKey) -> Option<&Histogram<u64>> {
        self.histograms.get(key)
    }

    /// Every histogram, in key order.
    pub fn iter(&self) -> impl Iterator<Item = (&HistogramKey, &Histogram<u64>)> {
        self.histograms.iter()
    }

    /// The figures of every histogram, in key order.
    pub fn summaries(&self) -> Vec<LatencySummary> {
        self.histograms
            .iter()
            .map(|(key, h)| {
                let ms = |v: u64| v as f64 / 1000.0;
                LatencySummary {
                    key: key.clone(),
                    count: h.len(),
                    p50: ms(h.value_at_quantile(0.50)),
                    p90: ms(h.value_at_quantile(0.90)),
                    p99: ms(h.value_at_quantile(0.99)),
                    p999: ms(h.value_at_quantile(0.999)),
                    max: ms(h.max()),
                    file: format!("{HGRM_DIR}/{}", key.file_name()),
                }
            })
            .collect()
    }

    /// Writes every histogram as `<run_dir>/latency/<f>-<outcome>-<phase>.hgrm`, values in
    /// milliseconds.
    pub fn write_hgrm_files(&self, run_dir: &Path) -> Result<()> {
        let dir = run_dir.join(HGRM_DIR);
        std::fs::create_dir_all(&dir).map_err(io(&dir))?;
        for (key, h) in &self.histograms {
            let path = dir.join(key.file_name());
            std::fs::write(&path, percentile_distribution(h, 1000.0)).map_err(io(&path))?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Value;

    fn op(process: Process, kind: OpType, f: &str, ms: u64) -> Op {
        Op::new(0, process, kind, f, Value::Null, ms * 1_000_000)
    }

    #[test]
    fn operations_are_split_by_kind_outcome_and_fault() {
        let mut h = LatencyHistograms::default();
        let c = Process::Client;
        for o in [
            op(c(1), OpType::Invoke, "read", 0),
            op(c(1), OpType::Ok, "read", 10),
            op(c(2), OpType::Invoke, "write", 20),
            op(Process::Nemesis, OpType::Info, "start-partition", 25),
            op(c(2), OpType::Ok, "write", 70),
            op(c(1), OpType::Invoke, "read", 80),
            op(c(1), OpType::Info, "read", 2080),
            op(Process::Nemesis, OpType::Info, "stop-partition", 2100),
            op(c(3), OpType::Invoke, "cas", 2200),
            op(c(3), OpType::Fail, "cas", 2205),
        ] {
            h.observe(&o);
        }
        let key = |f: &str, outcome: &str, phase| HistogramKey {
            f: f.into(),
            outcome: outcome.into(),
            phase,
        };
        let count = |k: HistogramKey| h.get(&k).map_or(0, |h| h.len());
        assert_eq!(count(key("read", "ok", Phase::NoFault)), 1);
        assert_eq!(
            count(key("write", "ok", Phase::Fault)),
            1,
            "fault began mid-op"
        );
        assert_eq!(count(key("read", "info", Phase::Fault)), 1);
        assert_eq!(
            count(key("cas", "fail", Phase::NoFault)),
            1,
            "after the heal"
        );
        assert_eq!(count(key(ALL, "ok", Phase::All)), 2);
        assert_eq!(count(key(ALL, "ok", Phase::Fault)), 1);
        let s = h.summaries();
        let w = s
            .iter()
            .find(|s| s.key == key("write", "ok", Phase::All))
            .unwrap();
        assert!((w.p50 - 50.0).abs() < 0.1, "{w:?}");
        assert_eq!(w.file, "latency/write-ok-all.hgrm");
        let dir = tempfile::tempdir().unwrap();
        h.write_hgrm_files(dir.path()).unwrap();
        let text = std::fs::read_to_string(dir.path().join("latency/write-ok-all.hgrm")).unwrap();
        assert!(text.contains("Total count    =            1]"), "{text}");
    }
}
