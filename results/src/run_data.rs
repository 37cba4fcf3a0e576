//! A stored run read back from its directory: the files `harness run` writes
//! (test.json, results.json, history.jsonl, proxy.json), with the history's operations
//! paired into spans. Everything the plots, the report and the timeline draw comes from
//! here, so they can be rebuilt from any stored run.

use crate::error::{Error, Result};
use crate::record::{
    read_optional, read_record, ProxyRecord, RunRecord, TestRecord, PROXY_FILE, RESULTS_FILE,
    TEST_FILE,
};
use checker::oracles::{fault_windows, FaultWindow};
use checker::{Op, OpType, Process};
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// One client operation, invocation to completion (history nanoseconds).
#[derive(Debug, Clone, PartialEq)]
pub struct Span {
    /// The invocation's index.
    pub index: u64,
    /// The client process.
    pub process: u64,
    /// The function.
    pub f: String,
    /// The key, if any.
    pub key: Option<String>,
    /// The invocation's value.
    pub value: Value,
    /// The completion's value.
    pub output: Value,
    /// `ok`, `fail` or `info`; `invoke` if it never completed.
    pub outcome: OpType,
    /// Invocation time.
    pub start: u64,
    /// Completion time (`None`: never completed).
    pub end: Option<u64>,
}

impl Span {
    /// Latency in milliseconds, if completed.
    pub fn latency_ms(&self) -> Option<f64> {
        self.end.map(|e| e.saturating_sub(self.start) as f64 / 1e6)
    }
}

/// The outcome's name in Jepsen's words.
pub fn outcome_name(kind: OpType) -> &'static str {
    match kind {
        OpType::Ok => "ok",
        OpType::Fail => "fail",
        OpType::Info => "info",
        OpType::Invoke => "pending",
    }
}

/// Pairs a history's client operations into spans, in invocation order.
pub fn spans(ops: &[Op]) -> Vec<Span> {
    let mut out: Vec<Span> = Vec::new();
    let mut open: BTreeMap<u64, usize> = BTreeMap::new();
    for op in ops {
        let Process::Client(p) = op.process else {
            continue;
        };
        if op.kind == OpType::Invoke {
            open.insert(p, out.len());
            out.push(Span {
                index: op.index,
                process: p,
                f: op.f.clone(),
                key: op.key.clone(),
                value: op.value.clone(),
                output: Value::Null,
                outcome: OpType::Invoke,
                start: op.time,
                end: None,
            });
        } else if let Some(i) = open.remove(&p) {
            let s = &mut out[i];
            s.outcome = op.kind;
            s.output = op.value.clone();
            s.end = Some(op.time);
        }
    }
    out
}

/// A run directory's contents.
#[derive(Debug, Clone)]
pub struct RunData {
    /// The run directory.
    pub dir: PathBuf,
    /// test.json.
    pub test: TestRecord,
    /// results.json (`None` if the run wrote none).
    pub results: Option<RunRecord>,
    /// proxy.json (`None` without the proxy).
    pub proxy: Option<ProxyRecord>,
    /// The history.
    pub ops: Vec<Op>,
    /// Client operations paired.
    pub spans: Vec<Span>,
    /// Fault windows from the nemesis operations.
    pub faults: Vec<FaultWindow>,
    /// The last time in the history, ns.
    pub end: u64,
}

impl RunData {
    /// Reads a run directory; it needs test.json and history.jsonl.
    pub fn load(dir: &Path) -> Result<RunData> {
        let test_path = dir.join(TEST_FILE);
        if !test_path.is_file() {
            return Err(Error::NotARun {
                path: dir.to_path_buf(),
                why: "not a run directory (no test.json)".into(),
            });
        }
        let test = read_record(&test_path)?;
        let results = read_optional(&dir.join(RESULTS_FILE))?;
        let proxy = read_optional(&dir.join(PROXY_FILE))?;
        let ops = checker::history::read_jsonl(&dir.join("history.jsonl"))?;
        let spans = spans(&ops);
        let faults = fault_windows(&ops);
        let end = ops.last().map_or(0, |o| o.time);
        Ok(RunData {
            dir: dir.to_path_buf(),
            test,
            results,
            proxy,
            ops,
            spans,
            faults,
            end,
        })
    }

    /// The history's length in seconds.
    pub fn seconds(&self) -> f64 {
        self.end as f64 / 1e9
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn invocations_pair_with_their_completions() {
        let c = Process::Client;
        let ops = vec![
            Op::new(0, c(1), OpType::Invoke, "read", Value::Null, 10),
            Op::new(1, c(2), OpType::Invoke, "write", Value::from(3), 20),
            Op::new(2, c(1), OpType::Ok, "read", Value::from(3), 30),
            Op::new(3, Process::Nemesis, OpType::Info, "kill", Value::Null, 35),
            Op::new(4, c(2), OpType::Info, "write", Value::from(3), 40),
            Op::new(5, c(1), OpType::Invoke, "read", Value::Null, 50),
        ];
        let s = spans(&ops);
        assert_eq!(s.len(), 3);
        assert_eq!((s[0].outcome, s[0].end), (OpType::Ok, Some(30)));
        assert_eq!(s[0].output, Value::from(3));
        assert_eq!(s[1].outcome, OpType::Info);
        assert_eq!((s[2].outcome, s[2].end), (OpType::Invoke, None));
    }
}
