//! The history a simulation records: the same JSON-lines operations a real run writes
//! (`checker::Op`), with virtual time in nanoseconds since the start.

use checker::{Op, OpType, Process};
use serde_json::Value;
use workloads::{Completion, Invocation};

/// The recorded operations, in the order they happened.
#[derive(Clone, Debug, Default)]
pub struct History {
    ops: Vec<Op>,
}

impl History {
    /// Records that `process` invokes `invocation` at `time_ns`.
    pub fn invoke(&mut self, process: u64, invocation: &Invocation, time_ns: u64) {
        let mut op = Op::new(
            self.ops.len() as u64,
            Process::Client(process),
            OpType::Invoke,
            invocation.f.name(),
            invocation.value.clone(),
            time_ns,
        );
        op.key = Some(invocation.key.clone());
        self.ops.push(op);
    }

    /// Records how `process`'s `invocation` ended.
    pub fn complete(
        &mut self,
        process: u64,
        invocation: &Invocation,
        completion: Completion,
        time_ns: u64,
    ) {
        let mut op = Op::new(
            self.ops.len() as u64,
            Process::Client(process),
            completion.kind,
            invocation.f.name(),
            completion.value,
            time_ns,
        );
        op.key = Some(invocation.key.clone());
        op.error = completion.error;
        self.ops.push(op);
    }

    /// Records a nemesis action (`f` in Jepsen's words: `start-partition`, `kill`, ...).
    pub fn nemesis(&mut self, f: &str, value: Value, time_ns: u64) {
        self.ops.push(Op::new(
            self.ops.len() as u64,
            Process::Nemesis,
            OpType::Info,
            f,
            value,
            time_ns,
        ));
    }

    /// The operations.
    pub fn ops(&self) -> &[Op] {
        &self.ops
    }

    /// The operations, as JSON lines.
    pub fn to_jsonl(&self) -> String {
        let mut out = String::new();
        for op in &self.ops {
            if let Ok(line) = serde_json::to_string(op) {
                out.push_str(&line);
                out.push('\n');
            }
        }
        out
    }
}
