//! Checking a recorded history with the model of its workload.

use anyhow::{Context, Result};
use checker::history::{pair, read_jsonl};
use checker::{check_kind, CheckOptions, CheckResult, Op};
use std::path::Path;
use std::time::Duration;
use workloads::WorkloadKind;

/// Reads a `history.jsonl`.
pub(crate) fn read_history(path: &Path) -> Result<Vec<Op>> {
    read_jsonl(path).with_context(|| format!("cannot read the history {}", path.display()))
}

/// Checks `ops` against `workload`'s model, giving up with `unknown` after `timeout`
/// seconds (0: never).
pub(crate) fn check_history(
    ops: Vec<Op>,
    workload: WorkloadKind,
    timeout: u64,
) -> Result<CheckResult> {
    let calls = pair(ops).context("the history is malformed")?;
    let options = CheckOptions {
        timeout: (timeout > 0).then(|| Duration::from_secs(timeout)),
        ..CheckOptions::default()
    };
    check_kind(workload.model(), Some(workload.initial()), &calls, &options)
        .context("the history does not fit the workload's model")
}
