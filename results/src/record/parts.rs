//! The parts of a [`super::RunRecord`] that say how the processes and the faults went.

use checker::oracles::Recovery;
use serde::{Deserialize, Serialize};

use super::MutationRecord;

/// How a replica process ended.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct ReplicaExit {
    /// Replica id.
    pub id: usize,
    /// Its last process id.
    pub pid: u32,
    /// How it ended ("exited 0", "killed by SIGKILL", ...).
    pub status: String,
}

/// A replica that exited without the nemesis killing it.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Crash {
    /// Replica id.
    pub replica: usize,
    /// When it was noticed, seconds of history time (`None`: when the cluster stopped).
    pub at_s: Option<f64>,
    /// How it ended.
    pub status: String,
    /// The end of its log.
    pub log_tail: String,
}

/// When a violation was first visible: seen by the online watch, or dated from the
/// evidence of a failed oracle.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct FirstViolation {
    /// The oracle that reported it.
    pub oracle: String,
    /// Seconds from the start of the workload until it was seen.
    pub at_s: f64,
    /// Its first piece of evidence.
    pub evidence: String,
}

/// What the nemesis did and what it cost.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct FaultReport {
    /// How clock faults were applied (`replica-clock`: through each replica's `/clock`).
    pub clock_mode: String,
    /// Fault windows scheduled.
    pub scheduled: usize,
    /// Nemesis actions taken (see schedule.json).
    pub actions: usize,
    /// Replicas that exited without the nemesis killing them.
    pub crashes: Vec<Crash>,
    /// View changes per replica (from `/status` at the end; `None`: no answer).
    pub view_changes: Vec<Option<u64>>,
    /// Per fault: time to the first completed operation, and to full throughput after
    /// the heal.
    pub recovery: Vec<Recovery>,
    /// Messages Byzantine replicas' mutators rewrote, per mutator and message type.
    pub byzantine: Option<MutationRecord>,
}
