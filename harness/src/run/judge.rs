//! The oracles of a run, beside linearizability: what is fetched from the replicas
//! before they stop (executed logs, status), and the verdicts built from it, from the
//! history and from how the processes ended.

use super::status::{replica_states, Settled};
use anyhow::{Context, Result};
use checker::oracles::{
    agreement, availability, convergence, exactly_once, final_reads, validity, ExecutedEntry,
    ExecutedRequest, Lost, OracleResult, ProgressBound, ReplicaLog,
};
use checker::{CheckResult, Op, Verdict};
use results::record::Crash;
use std::collections::BTreeSet;
use std::path::Path;
use std::time::Duration;

/// How long fetching one replica's log or status may take.
const FETCH_TIMEOUT: Duration = Duration::from_secs(20);

/// What the replicas said at the end of the run.
#[derive(Debug, Default)]
pub(crate) struct ClusterEvidence {
    /// The executed logs of the replicas that answered.
    pub(crate) logs: Vec<ReplicaLog>,
    /// Replicas whose log could not be fetched, and why.
    pub(crate) missing: Vec<(usize, String)>,
    /// Each replica's view changes (`/status`), if it answered.
    pub(crate) view_changes: Vec<Option<u64>>,
    /// Where the replicas stood once they settled.
    pub(crate) settled: Settled,
}

impl ClusterEvidence {
    /// Fetches `GET /log` from every replica at `addrs`, and saves each log as
    /// `replicas/<i>/executed.json` in `run_dir`; `settled` says where each stood.
    pub(crate) async fn collect(
        addrs: &[String],
        run_dir: &Path,
        settled: Settled,
    ) -> ClusterEvidence {
        let http = reqwest::Client::new();
        let mut out = ClusterEvidence {
            view_changes: settled
                .statuses
                .iter()
                .map(|s| s.as_ref().map(|s| s.view_changes))
                .collect(),
            settled,
            ..ClusterEvidence::default()
        };
        for (i, addr) in addrs.iter().enumerate() {
            match fetch_log(&http, addr).await {
                Ok(entries) => {
                    let path = run_dir
                        .join("replicas")
                        .join(i.to_string())
                        .join("executed.json");
                    if let Err(e) = results::store::write_json(&path, &entries) {
                        tracing::warn!(error = %format!("{e:#}"), "cannot save a replica log");
                    }
                    out.logs.push(ReplicaLog {
                        replica: i,
                        entries,
                    });
                }
                Err(e) => out.missing.push((i, format!("{e:#}"))),
            }
        }
        out
    }
}

async fn fetch_log(http: &reqwest::Client, addr: &str) -> Result<Vec<ExecutedEntry>> {
    let resp = http
        .get(format!("http://{addr}/log"))
        .timeout(FETCH_TIMEOUT)
        .send()
        .await
        .context("GET /log")?;
    resp.json().await.context("GET /log: bad JSON")
}

/// Everything the oracles judge.
pub(crate) struct Judged<'a> {
    /// The linearizability check.
    pub(crate) check: &'a CheckResult,
    /// The history.
    pub(crate) ops: &'a [Op],
    /// The replicas' logs.
    pub(crate) evidence: &'a ClusterEvidence,
    /// Requests the clients sent.
    pub(crate) invoked: &'a BTreeSet<ExecutedRequest>,
    /// Replicas that exited on their own.
    pub(crate) crashes: &'a [Crash],
    /// The workload phase (history ns), where progress is promised.
    pub(crate) workload: (u64, u64),
    /// Fault bound f (n = 3f+1).
    pub(crate) f: usize,
    /// When the final reads began (history ns); `None` if there were none.
    pub(crate) final_reads_from: Option<u64>,
    /// The availability bound.
    pub(crate) bound: ProgressBound,
}

impl Judged<'_> {
    /// Every oracle's result; the run's verdict is the worst of them.
    pub(crate) fn oracles(&self) -> Vec<OracleResult> {
        let mut out = vec![self.linearizability()];
        let logs = &self.evidence.logs;
        if logs.is_empty() {
            for name in ["agreement", "validity", "exactly-once"] {
                out.push(OracleResult::unknown(
                    name,
                    "no replica log could be fetched",
                ));
            }
        } else {
            // A replica whose log could not be read is not judged: the verdict is
            // unknown at best.
            let mut with_missing = |mut r: OracleResult| {
                for (i, why) in &self.evidence.missing {
                    r.summary
                        .push_str(&format!("; replica {i} not judged: {why}"));
                    if r.verdict == Verdict::Valid {
                        r.verdict = Verdict::Unknown;
                    }
                }
                out.push(r);
            };
            with_missing(agreement(logs));
            with_missing(validity(logs, self.invoked));
            with_missing(exactly_once(logs));
        }
        out.push(self.crash_oracle());
        out.push(match self.final_reads_from {
            Some(from) => final_reads(self.ops, from),
            None => OracleResult::unknown("liveness", "the run ended before the final reads"),
        });
        out.push(self.availability());
        out.push(self.convergence());
        out.push(checker::oracles::durability(self.ops));
        out
    }

    fn availability(&self) -> OracleResult {
        let lost: Vec<Lost> = self
            .crashes
            .iter()
            .filter_map(|c| {
                let at = c.at_s? * 1e9;
                Some(Lost {
                    replica: c.replica,
                    at: at as u64,
                })
            })
            .collect();
        let n = 3 * self.f + 1;
        availability(self.ops, n, self.f, self.workload, &lost, &self.bound)
    }

    fn convergence(&self) -> OracleResult {
        let settled = &self.evidence.settled;
        let states = replica_states(&settled.statuses);
        if self.final_reads_from.is_none() {
            return OracleResult::unknown("convergence", "the run ended before the final reads");
        }
        convergence(
            &states,
            &self.evidence.logs,
            settled.waited.as_secs_f64(),
            settled.bound.as_secs_f64(),
        )
    }

    fn linearizability(&self) -> OracleResult {
        let c = self.check;
        let mut evidence = Vec::new();
        if c.verdict == Verdict::Invalid {
            evidence.push("see check.counterexample in results.json".to_string());
        }
        OracleResult {
            name: "linearizability".into(),
            verdict: c.verdict,
            summary: format!(
                "{} ops on {} key(s), {} model, {:.1} ms",
                c.ops, c.keys, c.model, c.elapsed_ms
            ),
            evidence,
        }
    }

    fn crash_oracle(&self) -> OracleResult {
        let violations = self
            .crashes
            .iter()
            .map(|c| {
                let at = c.at_s.map_or(String::new(), |s| format!(" at {s:.1} s"));
                format!(
                    "replica {} {}{at} without the nemesis killing it; its log ends:\n{}",
                    c.replica, c.status, c.log_tail
                )
            })
            .collect();
        OracleResult::from_violations(
            "crashes",
            "every replica exit was the nemesis's or the final stop's".into(),
            violations,
        )
    }
}
