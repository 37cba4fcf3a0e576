//! One operation as the harness invokes it, and how it ended.
//!
//! History encodings (what the checker's models expect):
//!
//! | f | invoke value | ok value | fail |
//! |---|---|---|---|
//! | `read` | `null` | the value read (`null` for a missing key) | never |
//! | `write` | the value | the value | rejected |
//! | `cas` | `[from, to]` | `[from, to]` (it swapped) | it did not swap, or rejected |
//! | `append` | the element | the element | rejected |
//!
//! An operation whose outcome is unknown (a timeout) completes as `info` with its invoke
//! value.

use checker::OpType;
use replica::Operation;
use serde_json::{json, Value};
use std::fmt;

/// The function of an operation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Func {
    /// Read a key.
    Read,
    /// Overwrite a key.
    Write,
    /// Compare-and-set a key.
    Cas,
    /// Append an element to the list at a key.
    Append,
}

impl Func {
    /// The name used in histories (`f`).
    pub fn name(self) -> &'static str {
        match self {
            Func::Read => "read",
            Func::Write => "write",
            Func::Cas => "cas",
            Func::Append => "append",
        }
    }
}

impl fmt::Display for Func {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// An operation to perform: a function, a key and (except for reads) an argument.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Invocation {
    /// What to do.
    pub f: Func,
    /// The key it touches.
    pub key: String,
    /// The argument as recorded in the history: the value (write, append), `[from, to]`
    /// (cas), or `null` (read).
    pub value: Value,
}

impl Invocation {
    /// A read of `key`.
    pub fn read(key: impl Into<String>) -> Self {
        Invocation {
            f: Func::Read,
            key: key.into(),
            value: Value::Null,
        }
    }

    /// A write of `value` to `key`.
    pub fn write(key: impl Into<String>, value: Value) -> Self {
        Invocation {
            f: Func::Write,
            key: key.into(),
            value,
        }
    }

    /// A compare-and-set of `key` from `from` to `to`.
    pub fn cas(key: impl Into<String>, from: Value, to: Value) -> Self {
        Invocation {
            f: Func::Cas,
            key: key.into(),
            value: json!([from, to]),
        }
    }

    /// An append of `value` to the list at `key`.
    pub fn append(key: impl Into<String>, value: Value) -> Self {
        Invocation {
            f: Func::Append,
            key: key.into(),
            value,
        }
    }

    /// The replica's wire operation for this invocation.
    pub fn operation(&self) -> Operation {
        let key = self.key.clone();
        match self.f {
            Func::Read => Operation::Read { key },
            Func::Write => Operation::Write {
                key,
                value: self.value.clone(),
            },
            Func::Cas => {
                let (from, to) = match self.value.as_array().map(Vec::as_slice) {
                    Some([from, to]) => (from.clone(), to.clone()),
                    _ => (Value::Null, self.value.clone()),
                };
                Operation::Cas { key, from, to }
            }
            Func::Append => Operation::Append {
                key,
                value: self.value.clone(),
            },
        }
    }
}

/// How an operation ended: `ok`, `fail` (it definitely did not take effect) or `info`
/// (unknown: it may take effect at any time, or never).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Completion {
    /// ok, fail or info (never invoke).
    pub kind: OpType,
    /// The result as recorded in the history (see the module table).
    pub value: Value,
    /// Why it failed or is indeterminate.
    pub error: Option<String>,
}

impl Completion {
    /// A successful completion with this value.
    pub fn ok(value: Value) -> Self {
        Completion {
            kind: OpType::Ok,
            value,
            error: None,
        }
    }

    /// A definite failure.
    pub fn fail(value: Value, error: impl Into<String>) -> Self {
        Completion {
            kind: OpType::Fail,
            value,
            error: Some(error.into()),
        }
    }

    /// An indeterminate outcome.
    pub fn info(value: Value, error: impl Into<String>) -> Self {
        Completion {
            kind: OpType::Info,
            value,
            error: Some(error.into()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn operations_match_the_wire_format() {
        let cas = Invocation::cas("k", json!(1), json!(2));
        assert_eq!(cas.value, json!([1, 2]));
        assert_eq!(
            serde_json::to_value(cas.operation()).unwrap(),
            json!({"op":"cas","key":"k","from":1,"to":2})
        );
        assert_eq!(
            serde_json::to_value(Invocation::read("k").operation()).unwrap(),
            json!({"op":"read","key":"k"})
        );
        assert_eq!(
            serde_json::to_value(Invocation::append("k", json!(7)).operation()).unwrap(),
            json!({"op":"append","key":"k","value":7})
        );
        assert_eq!(
            serde_json::to_value(Invocation::write("k", json!(3)).operation()).unwrap(),
            json!({"op":"write","key":"k","value":3})
        );
    }
}
