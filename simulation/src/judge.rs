//! The oracles, the checker's own code: linearizability of the history against the
//! workload's model, and agreement, validity and exactly-once over the executed logs of
//! the correct replicas (those whose messages no Byzantine mutator touched), and the
//! liveness of the final reads and the convergence of every replica after them.

use checker::history::pair;
use checker::oracles::{
    agreement, convergence, exactly_once, final_reads, validity, ExecutedEntry, ExecutedRequest,
    OracleResult, ReplicaLog, ReplicaState,
};
use checker::{check_kind, CheckOptions, Op, Verdict};
use replica::core::record::LogEntry;
use std::collections::BTreeSet;
use std::time::Duration;
use workloads::GeneratorConfig;

/// What the oracles judge.
#[derive(Debug)]
pub struct Evidence<'a> {
    /// The history.
    pub ops: &'a [Op],
    /// Each replica's executed log, by replica id.
    pub logs: &'a [Vec<LogEntry>],
    /// Replicas that were Byzantine at some point (not judged by the BFT oracles).
    pub byzantine: &'a BTreeSet<usize>,
    /// Every request the clients sent.
    pub invoked: &'a BTreeSet<ExecutedRequest>,
    /// The workload (its model).
    pub workload: &'a GeneratorConfig,
    /// When the final reads began (ns), if they did.
    pub final_reads_from: Option<u64>,
    /// The linearizability check's time budget.
    pub check_timeout: Duration,
    /// Where each replica stood at the end (every replica, as a real run's `/status`).
    pub states: &'a [Option<ReplicaState>],
    /// How long the replicas were given to converge, and the bound (seconds).
    pub settle: (f64, f64),
}

/// A replica's executed log as `GET /log` shows it.
pub fn replica_log(replica: usize, entries: &[LogEntry]) -> ReplicaLog {
    ReplicaLog {
        replica,
        entries: entries
            .iter()
            .map(|e| ExecutedEntry {
                seq: e.seq,
                digest: e.digest.to_hex(),
                requests: e
                    .requests
                    .iter()
                    .map(|r| ExecutedRequest {
                        client: r.client,
                        timestamp: r.timestamp,
                    })
                    .collect(),
                transferred: e.transferred,
                state_digest: e.state_digest.map(|d| d.to_hex()),
            })
            .collect(),
    }
}

impl Evidence<'_> {
    /// Every oracle's result.
    pub fn oracles(&self) -> Vec<OracleResult> {
        let mut out = vec![self.linearizability()];
        let logs: Vec<ReplicaLog> = self
            .logs
            .iter()
            .enumerate()
            .filter(|(i, _)| !self.byzantine.contains(i))
            .map(|(i, e)| replica_log(i, e))
            .collect();
        out.push(agreement(&logs));
        out.push(validity(&logs, self.invoked));
        out.push(exactly_once(&logs));
        out.push(match self.final_reads_from {
            Some(from) => final_reads(self.ops, from),
            None => OracleResult::unknown("liveness", "the run ended before the final reads"),
        });
        // Convergence judges every replica, as in a real run: a Byzantine replica's
        // engine is the correct one, only its messages were rewritten on the wire.
        let all: Vec<ReplicaLog> = self
            .logs
            .iter()
            .enumerate()
            .map(|(i, e)| replica_log(i, e))
            .collect();
        out.push(match self.final_reads_from {
            Some(_) => convergence(self.states, &all, self.settle.0, self.settle.1),
            None => OracleResult::unknown("convergence", "the run ended before the final reads"),
        });
        out
    }

    fn linearizability(&self) -> OracleResult {
        let client_ops: Vec<Op> = self
            .ops
            .iter()
            .filter(|o| o.process != checker::Process::Nemesis)
            .cloned()
            .collect();
        let calls = match pair(client_ops) {
            Ok(c) => c,
            Err(e) => return OracleResult::unknown("linearizability", e.to_string()),
        };
        let options = CheckOptions {
            timeout: Some(self.check_timeout),
            threads: 1,
            ..CheckOptions::default()
        };
        let kind = self.workload.workload;
        match check_kind(kind.model(), Some(kind.initial()), &calls, &options) {
            Ok(r) => {
                let evidence = match (&r.verdict, &r.counterexample) {
                    (Verdict::Invalid, Some(c)) => vec![format!("{c:?}")],
                    _ => Vec::new(),
                };
                OracleResult {
                    name: "linearizability".into(),
                    verdict: r.verdict,
                    summary: format!(
                        "{} ops on {} key(s) with the {} model",
                        r.ops, r.keys, r.model
                    ),
                    evidence,
                }
            }
            Err(e) => OracleResult::unknown("linearizability", e.to_string()),
        }
    }
}
