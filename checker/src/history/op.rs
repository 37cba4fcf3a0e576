//! One operation of a history: the line format every crate reads and writes.

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::Value;
use std::fmt;

/// Who performed an operation: a numbered client process, or the nemesis.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Process {
    /// A logical client process, numbered as in Jepsen.
    Client(u64),
    /// The fault injector; its operations are `info` and never checked.
    Nemesis,
}

impl fmt::Display for Process {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Process::Client(n) => write!(f, "{n}"),
            Process::Nemesis => f.write_str("nemesis"),
        }
    }
}

impl Serialize for Process {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Process::Client(n) => s.serialize_u64(*n),
            Process::Nemesis => s.serialize_str("nemesis"),
        }
    }
}

impl<'de> Deserialize<'de> for Process {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        match Value::deserialize(d)? {
            Value::Number(n) => n
                .as_u64()
                .map(Process::Client)
                .ok_or_else(|| serde::de::Error::custom("process must be a non-negative integer")),
            Value::String(s) if s == "nemesis" => Ok(Process::Nemesis),
            Value::String(s) => s
                .parse()
                .map(Process::Client)
                .map_err(|_| serde::de::Error::custom(format!("unknown process {s:?}"))),
            other => Err(serde::de::Error::custom(format!(
                "process must be a number or \"nemesis\", got {other}"
            ))),
        }
    }
}

/// The type of an operation record, as in Jepsen.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum OpType {
    /// The operation began.
    Invoke,
    /// The operation completed and took effect.
    Ok,
    /// The operation definitely did not take effect.
    Fail,
    /// The outcome is unknown: it may take effect at any time after its invocation, or never.
    Info,
}

/// One line of a history.
///
/// `value` is free-form JSON whose meaning the model defines (a register value, `[from, to]`
/// for a cas, a list of micro-operations for a transaction). `time` is nanoseconds since the
/// test started on the harness's monotonic clock.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Op {
    /// Position in the history, 0-based and increasing.
    pub index: u64,
    /// Who performed it.
    pub process: Process,
    /// invoke, ok, fail or info.
    #[serde(rename = "type")]
    pub kind: OpType,
    /// The function: read, write, cas, append, acquire, ...
    pub f: String,
    /// The key for multi-key workloads; absent for single-register histories.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
    /// The argument (on invoke) or the result (on completion).
    #[serde(default)]
    pub value: Value,
    /// Nanoseconds since the start of the test.
    #[serde(default)]
    pub time: u64,
    /// Why an operation failed or is indeterminate, when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

impl Op {
    /// A new operation record with no key and no error.
    pub fn new(index: u64, process: Process, kind: OpType, f: &str, value: Value, time: u64) -> Op {
        Op {
            index,
            process,
            kind,
            f: f.to_string(),
            key: None,
            value,
            time,
            error: None,
        }
    }

    /// The same record with a key.
    pub fn with_key(mut self, key: impl Into<String>) -> Op {
        self.key = Some(key.into());
        self
    }
}
