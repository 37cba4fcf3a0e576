//! `results.json`: what a run came to.

use super::{FaultReport, FirstViolation, MessageCounts, ReplicaExit, Versioned, FORMAT};
use crate::histogram::LatencySummary;
use crate::stats::{Counts, Latency};
use checker::oracles::OracleResult;
use checker::{CheckResult, Verdict};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// The verdicts and figures of one run. Written at the end of the run (and, with the
/// error, when it breaks after its directory exists); `harness analyze` rewrites it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct RunRecord {
    /// The record format ([`FORMAT`]; 0 before records carried one).
    #[serde(default = "super::unversioned")]
    pub format: u32,
    /// The run's verdict, the worst of the oracles'; `None` if the run broke before the
    /// history was checked.
    pub verdict: Option<Verdict>,
    /// Each oracle's verdict: linearizability, agreement, validity, exactly-once,
    /// crashes, liveness, stall.
    pub oracles: Vec<OracleResult>,
    /// Why the run broke, if it did.
    pub error: Option<String>,
    /// Whether a signal cut the run short (the history checked is partial).
    pub interrupted: bool,
    /// The workload.
    pub workload: String,
    /// The checker model.
    pub model: String,
    /// The run's seed.
    pub seed: u64,
    /// Completions by function, and in total (`total`).
    pub counts: BTreeMap<String, Counts>,
    /// Seconds of workload (time limit phase, without start-up and final reads).
    pub workload_seconds: f64,
    /// Completions per second during the workload phase.
    pub ops_per_sec: f64,
    /// Latency of `ok` operations, microseconds.
    pub latency_us: Latency,
    /// Latency of `ok` operations by function, microseconds.
    pub latency_us_by_f: BTreeMap<String, Latency>,
    /// Latency histograms (ms) by function, outcome and phase (all, during a fault, no
    /// fault), each also in `latency/<f>-<outcome>-<phase>.hgrm`.
    pub latency_histograms: Vec<LatencySummary>,
    /// Client process ids used (processes are retired after an `info`).
    pub processes: u64,
    /// Nemesis operations recorded.
    pub nemesis_ops: u64,
    /// How each replica process ended.
    pub replicas: Vec<ReplicaExit>,
    /// The command that repeats the run.
    pub reproduce: String,
    /// The checker's full result.
    pub check: Option<CheckResult>,
    /// The faults: what the nemesis did and how the cluster recovered.
    pub faults: FaultReport,
    /// Proxy counters by message type, plus `all` (`None` with `--no-proxy`).
    pub proxy: Option<BTreeMap<String, MessageCounts>>,
    /// When a violation was first visible: seen by the online watch
    /// (`--stop-on-violation`), or dated from the evidence of a failed oracle.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub first_violation: Option<FirstViolation>,
    /// When `harness analyze` last re-checked the history (RFC 3339).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub analyzed_at: Option<String>,
}

impl Default for RunRecord {
    fn default() -> Self {
        RunRecord {
            format: FORMAT,
            verdict: None,
            oracles: Vec::new(),
            error: None,
            interrupted: false,
            workload: String::new(),
            model: String::new(),
            seed: 0,
            counts: BTreeMap::new(),
            workload_seconds: 0.0,
            ops_per_sec: 0.0,
            latency_us: Latency::default(),
            latency_us_by_f: BTreeMap::new(),
            latency_histograms: Vec::new(),
            processes: 0,
            nemesis_ops: 0,
            replicas: Vec::new(),
            reproduce: String::new(),
            check: None,
            faults: FaultReport::default(),
            proxy: None,
            first_violation: None,
            analyzed_at: None,
        }
    }
}

impl Versioned for RunRecord {
    fn format(&self) -> u32 {
        self.format
    }
}

impl RunRecord {
    /// The run's verdict as a word: `valid`, `invalid`, `unknown`, or `broken` when it
    /// has none.
    pub fn verdict_name(&self) -> &'static str {
        match self.verdict {
            Some(Verdict::Valid) => "valid",
            Some(Verdict::Invalid) => "invalid",
            Some(Verdict::Unknown) => "unknown",
            None => "broken",
        }
    }

    /// Completions of every kind (the `total` entry of [`RunRecord::counts`]).
    pub fn total(&self) -> Counts {
        self.counts.get("total").copied().unwrap_or_default()
    }

    /// The oracle called `name`, if it ran.
    pub fn oracle(&self, name: &str) -> Option<&OracleResult> {
        self.oracles.iter().find(|o| o.name == name)
    }

    /// The fault families that ran (from the recovery figures), sorted.
    pub fn fault_families(&self) -> Vec<String> {
        let mut faults: Vec<String> = self
            .faults
            .recovery
            .iter()
            .map(|r| crate::palette::fault_family(&r.window.fault).to_string())
            .collect();
        faults.sort();
        faults.dedup();
        faults
    }

    /// The latency summary of every `ok` operation in `phase` (`all`, `fault`,
    /// `nofault`), if recorded.
    pub fn ok_latency(&self, phase: crate::histogram::Phase) -> Option<&LatencySummary> {
        self.latency_histograms.iter().find(|h| {
            h.key.f == crate::histogram::ALL && h.key.outcome == "ok" && h.key.phase == phase
        })
    }
}
