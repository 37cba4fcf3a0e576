//! Oracles beyond linearizability: BFT safety over the replicas' executed logs, and
//! health over the history itself. Each returns an [`OracleResult`] with its own
//! verdict and evidence; a run's verdict is the [`worst`] of them. None of them knows
//! which fault was injected: they judge what happened, not what was planned.
//!
//! - [`logs`]: the executed log of a replica (`GET /log`).
//! - [`agreement`]: no two replicas executed different batches at one sequence number.
//! - [`validity`]: every executed request was invoked, and none executed twice.
//! - [`faults`]: the fault windows a history's `nemesis` operations describe.
//! - [`availability`]: progress whenever at most f replicas are touched by a fault.
//! - [`convergence`]: every replica ends at the same executed prefix and state.
//! - [`durability`]: a power loss of every replica forgets nothing f+1 had executed.
//! - [`liveness`]: the final reads complete.
//! - [`recovery`]: per fault, time to the first completed operation and to full
//!   throughput after the heal.

pub mod agreement;
pub mod availability;
pub mod convergence;
pub mod durability;
pub mod faults;
pub mod liveness;
pub mod logs;
pub mod recovery;
pub mod validity;

pub use agreement::agreement;
pub use availability::{availability, quorum_timeout, view_changes_factor, Lost, ProgressBound};
pub use convergence::{convergence, settle_bound, ReplicaState, LONGEST_WAIT, SETTLE_BASE};
pub use durability::durability;
pub use faults::{active_at, fault_windows, heal_of, FaultWindow};
pub use liveness::final_reads;
pub use logs::{ExecutedEntry, ExecutedRequest, ReplicaLog};
pub use recovery::{recovery, Recovery};
pub use validity::{exactly_once, validity};

use crate::verdict::Verdict;
use serde::{Deserialize, Serialize};

/// One oracle's judgement.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OracleResult {
    /// The oracle's name (`agreement`, `validity`, ...).
    pub name: String,
    /// Its verdict.
    pub verdict: Verdict,
    /// One line saying what was judged and found.
    pub summary: String,
    /// The evidence of a violation (empty when valid).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub evidence: Vec<String>,
}

impl OracleResult {
    /// A verdict built from found violations: valid if none.
    pub fn from_violations(name: &str, checked: String, violations: Vec<String>) -> Self {
        let verdict = if violations.is_empty() {
            Verdict::Valid
        } else {
            Verdict::Invalid
        };
        let summary = if violations.is_empty() {
            checked
        } else {
            format!("{} violation(s); {checked}", violations.len())
        };
        OracleResult {
            name: name.into(),
            verdict,
            summary,
            evidence: violations.into_iter().take(EVIDENCE_KEPT).collect(),
        }
    }

    /// An oracle that could not judge.
    pub fn unknown(name: &str, why: impl Into<String>) -> Self {
        OracleResult {
            name: name.into(),
            verdict: Verdict::Unknown,
            summary: why.into(),
            evidence: Vec::new(),
        }
    }
}

/// Violations listed as evidence, at most.
const EVIDENCE_KEPT: usize = 20;

/// The worst verdict: invalid over unknown over valid.
pub fn worst(verdicts: impl IntoIterator<Item = Verdict>) -> Verdict {
    let mut out = Verdict::Valid;
    for v in verdicts {
        out = match (out, v) {
            (Verdict::Invalid, _) | (_, Verdict::Invalid) => Verdict::Invalid,
            (Verdict::Unknown, _) | (_, Verdict::Unknown) => Verdict::Unknown,
            _ => Verdict::Valid,
        };
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_worst_verdict_wins() {
        use Verdict::*;
        assert_eq!(worst([Valid, Valid]), Valid);
        assert_eq!(worst([Valid, Unknown]), Unknown);
        assert_eq!(worst([Unknown, Invalid, Valid]), Invalid);
        assert_eq!(worst([]), Valid);
    }
}
