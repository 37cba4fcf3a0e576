//! What a check returns: the verdict and its evidence, serializable for reports.

use crate::history::{Call, OpType};
use crate::model::NilRead;
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// The answer to "is this history linearizable?".
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Verdict {
    /// A linearization exists.
    Valid,
    /// No linearization exists.
    Invalid,
    /// The time or memory budget ran out first; nothing is claimed.
    Unknown,
}

impl Verdict {
    /// The process exit status for this verdict, as Jepsen uses: 0, 1, 2.
    pub fn exit_code(self) -> i32 {
        match self {
            Verdict::Valid => 0,
            Verdict::Invalid => 1,
            Verdict::Unknown => 2,
        }
    }
}

/// An operation as reported in evidence.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OpRef {
    /// The invocation's `index` in the history.
    pub index: u64,
    /// The completion's `index`, if it completed.
    pub complete_index: Option<u64>,
    /// The client process.
    pub process: u64,
    /// The function.
    pub f: String,
    /// The key, if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
    /// The invocation's value.
    pub value: Value,
    /// The completion's value.
    pub output: Value,
    /// ok, or info for an indeterminate operation.
    #[serde(rename = "type")]
    pub outcome: OpType,
    /// Invocation time, nanoseconds.
    pub invoke_time: u64,
    /// Completion time, nanoseconds.
    pub complete_time: Option<u64>,
}

impl OpRef {
    /// Describes a call.
    pub fn of(call: &Call) -> OpRef {
        OpRef {
            index: call.invoke_index,
            complete_index: call.complete_index,
            process: call.process,
            f: call.f.clone(),
            key: call.key.clone(),
            value: call.input.clone(),
            output: call.output.clone(),
            outcome: call.outcome,
            invoke_time: call.invoke_time,
            complete_time: call.complete_time,
        }
    }
}

/// Why a history is not linearizable: where the search got furthest, and what could not
/// be placed there. Enough to draw a per-process timeline with the bad operation marked.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Counterexample {
    /// The key whose subhistory failed, when checked per key.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
    /// The longest linearizable prefix found, as invocation indices in linearization order.
    pub linearized_prefix: Vec<u64>,
    /// The last few operations of that prefix, in full.
    pub prefix_tail: Vec<OpRef>,
    /// The model state after the prefix.
    pub state: String,
    /// The operation that had to take effect next and could not.
    pub unplaceable: OpRef,
    /// The other operations that could have gone next, none of which led anywhere.
    pub candidates: Vec<OpRef>,
    /// Every operation whose interval overlaps the unplaceable one: the concurrent window.
    pub window: Vec<OpRef>,
}

/// A witness linearization of one key (or of the whole history).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Witness {
    /// The key, when checked per key.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
    /// Invocation indices in an order that the model accepts and real time allows.
    pub order: Vec<u64>,
}

/// The full result of a check.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CheckResult {
    /// valid / invalid / unknown.
    pub verdict: Verdict,
    /// The model checked against.
    pub model: String,
    /// What a completed read of `nil` meant (`any` or `value`); `null` for a model
    /// without reads.
    pub nil_read: Option<NilRead>,
    /// Whether the values were `jepsen.independent` `[key value]` tuples, split by key.
    pub independent: bool,
    /// Whether the history was split by key (P-compositionality).
    pub partitioned: bool,
    /// How the search went: `per-key`, `whole-state`, or whole-state pruned by locality.
    pub strategy: String,
    /// Client operations in the history (invocations).
    pub ops: usize,
    /// Subhistories (keys) checked; 1 when not partitioned.
    pub keys: usize,
    /// Wall-clock time of the check, milliseconds.
    pub elapsed_ms: f64,
    /// Model steps the search attempted.
    pub steps: u64,
    /// Distinct search nodes memoised, summed over keys.
    pub nodes: u64,
    /// Why the verdict is unknown, when it is.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// Evidence for an invalid verdict.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub counterexample: Option<Counterexample>,
    /// Evidence for a valid verdict, when asked for.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub witness: Option<Vec<Witness>>,
}
