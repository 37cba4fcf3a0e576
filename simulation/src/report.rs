//! What one simulation came to: the trace hash, the verdicts, the history.

use crate::coverage::Point;
use crate::history::History;
use crate::judge::Evidence;
use crate::sim::Simulation;
use checker::oracles::OracleResult;
use checker::oracles::{worst, ReplicaState};
use checker::OpType;
use checker::Verdict;
use std::collections::BTreeSet;
use std::time::Duration;

/// Client operations by outcome.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct OpCounts {
    /// Invoked.
    pub invoked: u64,
    /// Completed and took effect.
    pub ok: u64,
    /// Definitely did not take effect.
    pub fail: u64,
    /// Outcome unknown (timed out).
    pub info: u64,
}

/// The result of one simulation.
#[derive(Clone, Debug)]
pub struct SimReport {
    /// The seed.
    pub seed: u64,
    /// SHA-256 over the event trace (hex): same seed and build, same hash.
    pub trace_hash: String,
    /// Events in the trace.
    pub events: u64,
    /// Virtual time simulated (ms).
    pub simulated_ms: u64,
    /// The worst of the oracles' verdicts.
    pub verdict: Verdict,
    /// Each oracle's verdict and evidence.
    pub oracles: Vec<OracleResult>,
    /// Client operations by outcome.
    pub ops: OpCounts,
    /// View changes per replica (its `/status` count at the end).
    pub view_changes: Vec<u64>,
    /// Each replica's last executed sequence number at the end.
    pub last_executed: Vec<u64>,
    /// Replicas a Byzantine mutator acted for (not judged by the BFT oracles).
    pub byzantine: BTreeSet<usize>,
    /// Faults of the schedule the simulator did not carry out, and why (none today:
    /// every fault of a schedule is simulated).
    pub skipped: Vec<String>,
    /// Messages the engines rejected.
    pub rejected: u64,
    /// Messages that did not decode or verify at their receiver.
    pub undecodable: u64,
    /// The history, in the format a real run writes.
    pub history: History,
    /// The abstract protocol states the run reached (see [`crate::coverage`]).
    pub coverage: BTreeSet<Point>,
}

impl SimReport {
    /// The verdict of the oracle called `name`.
    pub fn oracle(&self, name: &str) -> Option<&OracleResult> {
        self.oracles.iter().find(|o| o.name == name)
    }

    /// One line: seed, verdict, each oracle, operations, trace hash.
    pub fn summary(&self) -> String {
        let oracles: Vec<String> = self
            .oracles
            .iter()
            .map(|o| format!("{} {:?}", o.name, o.verdict).to_lowercase())
            .collect();
        format!(
            "seed {}: {:?}; {}; ops ok {} fail {} info {}; {} events in {} ms; trace {}",
            self.seed,
            self.verdict,
            oracles.join(", "),
            self.ops.ok,
            self.ops.fail,
            self.ops.info,
            self.events,
            self.simulated_ms,
            &self.trace_hash[..16.min(self.trace_hash.len())]
        )
    }
}

impl Simulation {
    pub(crate) fn report(self, waited_ns: u64, bound_ms: u64) -> SimReport {
        let logs: Vec<_> = self.nodes.iter().map(|n| n.executed.clone()).collect();
        let states: Vec<Option<ReplicaState>> = self
            .nodes
            .iter()
            .map(|n| {
                let s = n.engine.status();
                Some(ReplicaState {
                    last_executed: s.last_executed,
                    state_digest: s.state_digest,
                    stable_checkpoint: s.stable_checkpoint,
                    stable_digest: s.stable_digest,
                })
            })
            .collect();
        let evidence = Evidence {
            ops: self.history.ops(),
            logs: &logs,
            byzantine: &self.byzantine_acted,
            invoked: &self.invoked,
            workload: &self.config.workload,
            final_reads_from: self.final_reads_from,
            check_timeout: Duration::from_secs(30),
            states: &states,
            settle: (waited_ns as f64 / 1e9, bound_ms as f64 / 1e3),
        };
        let oracles = evidence.oracles();
        let verdict = worst(oracles.iter().map(|o| o.verdict));
        let mut ops = OpCounts::default();
        for op in self.history.ops() {
            if op.process == checker::Process::Nemesis {
                continue;
            }
            match op.kind {
                OpType::Invoke => ops.invoked += 1,
                OpType::Ok => ops.ok += 1,
                OpType::Fail => ops.fail += 1,
                OpType::Info => ops.info += 1,
            }
        }
        SimReport {
            seed: self.config.seed,
            trace_hash: self.trace.hash_hex(),
            events: self.trace.events(),
            simulated_ms: self.now / 1_000_000,
            verdict,
            oracles,
            ops,
            view_changes: self
                .nodes
                .iter()
                .map(|n| n.engine.status().view_changes)
                .collect(),
            last_executed: self
                .nodes
                .iter()
                .map(|n| n.engine.last_executed())
                .collect(),
            byzantine: self.byzantine_acted,
            skipped: self.skipped,
            rejected: self.rejected,
            undecodable: self.undecodable,
            history: self.history,
            coverage: self.coverage.finish(),
        }
    }
}
