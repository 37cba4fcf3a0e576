//! Pairing each invocation with its completion, as the checker needs them.

use super::op::{Op, OpType, Process};
use crate::error::{Error, Result};
use serde_json::Value;
use std::collections::HashMap;

/// One client operation: an invocation and, if it had one, its completion.
///
/// `call` and `ret` are positions in the history (the order of lines), which is the
/// real-time order the checker uses; `time` is kept only for reports.
#[derive(Debug, Clone, PartialEq)]
pub struct Call {
    /// The client process that performed it.
    pub process: u64,
    /// The function (read, write, cas, ...).
    pub f: String,
    /// The key, for multi-key workloads.
    pub key: Option<String>,
    /// The invocation's value: the argument.
    pub input: Value,
    /// The completion's value: the result (null when there was no completion).
    pub output: Value,
    /// `Ok`, `Fail`, or `Info` (also for an invocation that never completed).
    pub outcome: OpType,
    /// Position of the invocation in the history.
    pub call: usize,
    /// Position of the completion, if any.
    pub ret: Option<usize>,
    /// The `index` field of the invocation.
    pub invoke_index: u64,
    /// The `index` field of the completion, if any.
    pub complete_index: Option<u64>,
    /// The invocation's time, nanoseconds since the test started.
    pub invoke_time: u64,
    /// The completion's time, if any.
    pub complete_time: Option<u64>,
    /// The completion's error, if any.
    pub error: Option<String>,
}

/// Pairs invocations with completions, in invocation order.
///
/// Nemesis operations are skipped. An invocation that never completed becomes an `Info`
/// call (it may take effect at any time after it began, or never). A completion without a
/// pending invocation on its process, an invocation on a process that already has one in
/// flight, or a completion of another function is an error.
pub fn pair(ops: Vec<Op>) -> Result<Vec<Call>> {
    let mut calls: Vec<Call> = Vec::with_capacity(ops.len() / 2 + 1);
    let mut open: HashMap<u64, usize> = HashMap::new();
    for (pos, op) in ops.into_iter().enumerate() {
        let Process::Client(process) = op.process else {
            continue;
        };
        match op.kind {
            OpType::Invoke => {
                if let Some(&prev) = open.get(&process) {
                    return Err(Error::Malformed {
                        index: op.index,
                        message: format!(
                            "process {process} invoked {} while its invocation at index {} is still in flight",
                            op.f, calls[prev].invoke_index
                        ),
                    });
                }
                open.insert(process, calls.len());
                calls.push(Call {
                    process,
                    f: op.f,
                    key: op.key,
                    input: op.value,
                    output: Value::Null,
                    outcome: OpType::Info,
                    call: pos,
                    ret: None,
                    invoke_index: op.index,
                    complete_index: None,
                    invoke_time: op.time,
                    complete_time: None,
                    error: None,
                });
            }
            kind => {
                let Some(at) = open.remove(&process) else {
                    return Err(Error::Malformed {
                        index: op.index,
                        message: format!(
                            "{kind:?} completion of {} on process {process} without an invocation",
                            op.f
                        ),
                    });
                };
                let c = &mut calls[at];
                if c.f != op.f {
                    return Err(Error::Malformed {
                        index: op.index,
                        message: format!(
                            "completion is for {} but process {process} invoked {}",
                            op.f, c.f
                        ),
                    });
                }
                if c.key.is_none() {
                    c.key = op.key;
                }
                c.output = op.value;
                c.outcome = kind;
                c.ret = Some(pos);
                c.complete_index = Some(op.index);
                c.complete_time = Some(op.time);
                c.error = op.error;
            }
        }
    }
    Ok(calls)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn op(i: u64, p: u64, kind: OpType, f: &str, v: Value) -> Op {
        Op::new(i, Process::Client(p), kind, f, v, i * 10)
    }

    #[test]
    fn pairs_and_leaves_pending_as_info() {
        let ops = vec![
            op(0, 1, OpType::Invoke, "write", json!(3)),
            op(1, 2, OpType::Invoke, "read", Value::Null),
            Op::new(2, Process::Nemesis, OpType::Info, "kill", Value::Null, 5),
            op(3, 1, OpType::Ok, "write", json!(3)),
        ];
        let calls = pair(ops).unwrap();
        assert_eq!(calls.len(), 2);
        assert_eq!(calls[0].outcome, OpType::Ok);
        assert_eq!(calls[0].ret, Some(3));
        assert_eq!(calls[1].outcome, OpType::Info);
        assert_eq!(calls[1].ret, None);
    }

    #[test]
    fn rejects_completion_without_invocation() {
        let err = pair(vec![op(7, 1, OpType::Ok, "read", json!(1))]).unwrap_err();
        assert!(err.to_string().contains("operation 7"), "{err}");
    }

    #[test]
    fn rejects_two_invocations_in_flight() {
        let err = pair(vec![
            op(0, 1, OpType::Invoke, "read", Value::Null),
            op(1, 1, OpType::Invoke, "read", Value::Null),
        ])
        .unwrap_err();
        assert!(err.to_string().contains("still in flight"), "{err}");
    }
}
