//! What a run came to: `results.json` and the summary printed at the end.

use crate::cluster::control::Crash;
use crate::cluster::ReplicaExit;
use crate::safety_watch::FirstViolation;
use crate::stats::{Counts, Latency, Stats};
use ::results::LatencySummary;
use checker::oracles::{OracleResult, Recovery};
use checker::{CheckResult, Op, OpType, Process, Verdict};
use nemesis::LinkCounts;
use serde::Serialize;
use std::collections::BTreeMap;

/// The content of `results.json`.
#[derive(Debug, Serialize)]
pub(crate) struct RunResults {
    /// The run's verdict, the worst of the oracles'; `None` if the run broke before the
    /// history was checked.
    pub(crate) verdict: Option<Verdict>,
    /// Each oracle's verdict: linearizability, agreement, validity, exactly-once,
    /// crashes, liveness, stall.
    pub(crate) oracles: Vec<OracleResult>,
    /// Why the run broke, if it did.
    pub(crate) error: Option<String>,
    /// Whether a signal cut the run short (the history checked is partial).
    pub(crate) interrupted: bool,
    /// The workload.
    pub(crate) workload: String,
    /// The checker model.
    pub(crate) model: String,
    /// The run's seed.
    pub(crate) seed: u64,
    /// Completions by function, and in total.
    pub(crate) counts: BTreeMap<String, Counts>,
    /// Seconds of workload (time limit phase, without start-up and final reads).
    pub(crate) workload_seconds: f64,
    /// Completions per second during the workload phase.
    pub(crate) ops_per_sec: f64,
    /// Latency of `ok` operations, microseconds.
    pub(crate) latency_us: Latency,
    /// Latency of `ok` operations by function, microseconds.
    pub(crate) latency_us_by_f: BTreeMap<String, Latency>,
    /// Latency histograms (ms) by function, outcome and phase (all, during a fault, no
    /// fault), each also in `latency/<f>-<outcome>-<phase>.hgrm`.
    pub(crate) latency_histograms: Vec<LatencySummary>,
    /// Client process ids used (processes are retired after an `info`).
    pub(crate) processes: u64,
    /// Nemesis operations recorded.
    pub(crate) nemesis_ops: u64,
    /// How each replica process ended.
    pub(crate) replicas: Vec<ReplicaExit>,
    /// The command that repeats the run.
    pub(crate) reproduce: String,
    /// The checker's full result.
    pub(crate) check: Option<CheckResult>,
    /// The faults: what the nemesis did and how the cluster recovered.
    pub(crate) faults: FaultReport,
    /// Proxy counters by message type (`None` with `--no-proxy`).
    pub(crate) proxy: Option<BTreeMap<&'static str, LinkCounts>>,
    /// When a violation was first visible: seen by the online watch
    /// (`--stop-on-violation`), or dated from the evidence of a failed oracle.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) first_violation: Option<FirstViolation>,
}

/// What the nemesis did and what it cost, for results.json.
#[derive(Debug, Default, Serialize)]
pub(crate) struct FaultReport {
    /// How clock faults were applied: through each replica's `/clock` endpoint.
    pub(crate) clock_mode: &'static str,
    /// Fault windows scheduled.
    pub(crate) scheduled: usize,
    /// Nemesis actions taken (see schedule.json).
    pub(crate) actions: usize,
    /// Replicas that exited without the nemesis killing them.
    pub(crate) crashes: Vec<Crash>,
    /// View changes per replica (from `/status` at the end; `null`: no answer).
    pub(crate) view_changes: Vec<Option<u64>>,
    /// Per fault: time to the first completed operation, and to full throughput after
    /// the heal.
    pub(crate) recovery: Vec<Recovery>,
    /// Messages Byzantine replicas' mutators rewrote, per mutator and message type.
    pub(crate) byzantine: Option<nemesis::byzantine::MutationCounts>,
}

/// The phase of a run whose throughput is reported, in history nanoseconds.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Window {
    /// When the workload started.
    pub(crate) start: u64,
    /// When it ended (before the final reads).
    pub(crate) end: u64,
}

impl Window {
    /// Completions within the window per second.
    pub(crate) fn ops_per_sec(&self, ops: &[Op]) -> f64 {
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
    pub(crate) fn seconds(&self) -> f64 {
        self.end.saturating_sub(self.start) as f64 / 1e9
    }
}

/// Counts by function plus a `total` entry.
pub(crate) fn counts(stats: &Stats) -> BTreeMap<String, Counts> {
    let mut counts = stats.by_f().clone();
    counts.insert("total".into(), stats.total());
    counts
}

/// Client process ids that appear in a history.
pub(crate) fn processes(ops: &[Op]) -> u64 {
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

fn ms(micros: u64) -> String {
    format!("{:.1} ms", micros as f64 / 1000.0)
}

impl RunResults {
    /// The multi-line human summary.
    pub(crate) fn summary(&self) -> String {
        let total = self.counts.get("total").copied().unwrap_or_default();
        let verdict = match self.verdict {
            Some(v) => format!("{v:?}").to_lowercase(),
            None => "not checked".into(),
        };
        let mut text =
            format!(
            "{} run: {verdict}{}\n  {} ops: ok {}, fail {}, info {}; {:.1} ops/s over {:.1} s\n  \
             latency of ok ops: p50 {}, p95 {}, p99 {}, max {}",
            self.workload,
            if self.interrupted { " (interrupted)" } else { "" },
            total.completed(),
            total.ok,
            total.fail,
            total.info,
            self.ops_per_sec,
            self.workload_seconds,
            ms(self.latency_us.p50),
            ms(self.latency_us.p95),
            ms(self.latency_us.p99),
            ms(self.latency_us.max),
        );
        if let Some(check) = &self.check {
            text.push_str(&format!(
                "\n  checked {} ops on {} key(s) with the {} model in {:.1} ms",
                check.ops, check.keys, check.model, check.elapsed_ms
            ));
        }
        if !self.oracles.is_empty() {
            let line: Vec<String> = self
                .oracles
                .iter()
                .map(|o| format!("{} {}", o.name, format!("{:?}", o.verdict).to_lowercase()))
                .collect();
            text.push_str(&format!("\n  oracles: {}", line.join(", ")));
            for o in self.oracles.iter().filter(|o| o.verdict != Verdict::Valid) {
                text.push_str(&format!("\n    {}: {}", o.name, o.summary));
                for e in o.evidence.iter().take(3) {
                    text.push_str(&format!("\n      {}", e.replace('\n', "\n      ")));
                }
            }
        }
        let f = &self.faults;
        if f.scheduled > 0 {
            let vc: Vec<String> = f
                .view_changes
                .iter()
                .map(|v| v.map_or("?".into(), |v| v.to_string()))
                .collect();
            text.push_str(&format!(
                "\n  faults: {} scheduled, {} nemesis actions; view changes per replica: [{}]",
                f.scheduled,
                f.actions,
                vc.join(", ")
            ));
            if let Some(m) = &f.byzantine {
                let per: Vec<String> = m
                    .by_mutator
                    .iter()
                    .map(|(name, kinds)| format!("{name} {}", kinds.values().sum::<u64>()))
                    .collect();
                text.push_str(&format!(
                    "\n    byzantine: {} messages mutated ({})",
                    m.total,
                    per.join(", ")
                ));
            }
            for r in &f.recovery {
                let ms = |v: Option<f64>| v.map_or("never".into(), |v| format!("{v:.0} ms"));
                let back = if r.window.stop.is_none() {
                    "not healed".to_string()
                } else if r.pre_fault_ops_per_sec == 0.0 {
                    "no pre-fault throughput to compare".to_string()
                } else {
                    format!(
                        "full throughput {} after the heal",
                        ms(r.full_throughput_after_heal_ms)
                    )
                };
                text.push_str(&format!(
                    "\n    {} at {:.1} s: first ok op after {}, {back}",
                    r.window.fault,
                    r.window.start as f64 / 1e9,
                    ms(r.first_ok_after_start_ms),
                ));
            }
        }
        text
    }
}
