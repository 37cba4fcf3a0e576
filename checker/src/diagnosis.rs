//! Telling a wrong option from a real violation: a history that fails at its very first
//! operations was more likely checked with the wrong initial value or read semantics.
//!
//! Only a hint, never a verdict: the history is invalid under the options given either
//! way, and a real bug can fail early too.

use crate::history::{split_independent, Call};
use crate::model::{NilRead, Val};
use crate::verdict::{CheckResult, OpRef, Verdict};
use crate::OpType;
use std::borrow::Cow;

/// An option that may not fit the history, judged from where its check failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Suspect {
    /// A read among the first operations returned `nil` from a register that held a value,
    /// and reads of `nil` were checked as values ([`NilRead::Value`]). In a Knossos
    /// history such a read means "unknown" ([`NilRead::Any`]).
    NilRead {
        /// The initial value the check assumed.
        initial: Val,
        /// Whether the register still held its initial value (only reads came before).
        untouched: bool,
        /// The model state the read could not be placed in, as the counterexample
        /// describes it.
        state: String,
    },
    /// The history was not split into independent keys, but every operation's value,
    /// reads' included, is a pair: it looks like a `jepsen.independent` history of
    /// `[key value]` tuples.
    Independent,
    /// The first read, or the first cas, expected a value while the register still held
    /// its initial value, and no operation in the history (on its key) writes that value,
    /// whatever its outcome.
    Initial {
        /// The initial value the check assumed.
        initial: Val,
        /// What the operation read, or the value its cas expected.
        seen: Val,
        /// The operation's function (read, get, cas).
        f: String,
    },
}

/// How many operations may precede the stuck one for a failure to count as early.
pub const EARLY: usize = 8;

/// Whether `op` leaves the state as it found it (a read).
fn is_read(op: &OpRef) -> bool {
    matches!(op.f.as_str(), "read" | "get")
}

/// Whether any call on `key` in `calls` writes `v` (write, put, or the new value of a cas),
/// whatever its outcome.
fn written_anywhere(calls: &[Call], key: Option<&str>, v: &Val) -> bool {
    calls
        .iter()
        .filter(|c| c.key.as_deref() == key)
        .any(|c| match c.f.as_str() {
            "write" | "put" => Val::from_json(&c.input) == *v,
            "cas" => c
                .input
                .as_array()
                .filter(|a| a.len() == 2)
                .is_some_and(|a| Val::from_json(&a[1]) == *v),
            _ => false,
        })
}

/// Looks at an invalid result whose counterexample got stuck among the history's first
/// operations, and names the option that would most plausibly explain it. `calls` are
/// the calls that were checked and `initial` the initial value the check assumed.
///
/// A history whose every value is a pair, reads' included, suspects `jepsen.independent`
/// tuples checked as plain values. "First operations": at most [`EARLY`] operations were
/// linearized before the stuck one.
/// A read of `nil` there, checked as a value, suspects the read semantics. A read, or a
/// cas, that expected another value than the initial one before anything but reads took
/// effect, a value that no operation on its key writes, suspects the initial value.
pub fn suspect(result: &CheckResult, calls: &[Call], initial: &Val) -> Option<Suspect> {
    if result.verdict != Verdict::Invalid {
        return None;
    }
    if !result.independent && looks_independent(calls) {
        return Some(Suspect::Independent);
    }
    let c = result.counterexample.as_ref()?;
    let op = &c.unplaceable;
    // The prefix tail holds the whole prefix when it is short enough.
    let early =
        c.linearized_prefix.len() <= EARLY && c.linearized_prefix.len() == c.prefix_tail.len();
    if !early || op.outcome != OpType::Ok {
        return None;
    }
    let untouched = c.prefix_tail.iter().all(is_read);
    match op.f.as_str() {
        "read" | "get" if op.output.is_null() => (result.nil_read == Some(NilRead::Value)
            && c.state != "nil")
            .then(|| Suspect::NilRead {
                initial: initial.clone(),
                untouched,
                state: c.state.clone(),
            }),
        _ if !untouched => None,
        "read" | "get" => {
            let seen = Val::from_json(&op.output);
            (seen != *initial && !written(result, calls, c.key.as_deref(), &seen)).then(|| {
                Suspect::Initial {
                    initial: initial.clone(),
                    seen,
                    f: op.f.clone(),
                }
            })
        }
        "cas" if op.output != serde_json::Value::Bool(false) => {
            let from = op.value.as_array().filter(|a| a.len() == 2)?;
            let seen = Val::from_json(&from[0]);
            (seen != *initial && !written(result, calls, c.key.as_deref(), &seen)).then(|| {
                Suspect::Initial {
                    initial: initial.clone(),
                    seen,
                    f: op.f.clone(),
                }
            })
        }
        _ => None,
    }
}

/// Whether every call's invocation value is a pair and there are reads among them (a
/// plain read's value is `nil`; a plain cas's `[from to]` is a pair too).
fn looks_independent(calls: &[Call]) -> bool {
    let pair = |c: &Call| c.input.as_array().is_some_and(|a| a.len() == 2);
    calls.iter().any(|c| matches!(c.f.as_str(), "read" | "get"))
        && calls.iter().all(|c| c.key.is_none() && pair(c))
}

/// [`written_anywhere`] on the calls as they were checked (split, for independent keys).
fn written(result: &CheckResult, calls: &[Call], key: Option<&str>, v: &Val) -> bool {
    let calls: Cow<'_, [Call]> = if result.independent {
        match split_independent(calls) {
            Ok(split) => Cow::Owned(split),
            // Not what was checked: do not guess.
            Err(_) => return true,
        }
    } else {
        Cow::Borrowed(calls)
    };
    written_anywhere(&calls, key, v)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::history::{pair, Op, Process};
    use crate::{check_kind, CheckOptions, ModelKind};
    use serde_json::{json, Value};

    /// The suspect of a cas-register check of `ops`.
    fn suspect_of(
        ops: &[(u64, OpType, &str, Value)],
        initial: &Val,
        nil_read: NilRead,
    ) -> Option<Suspect> {
        let ops: Vec<Op> = ops
            .iter()
            .enumerate()
            .map(|(i, (p, t, f, v))| Op::new(i as u64, Process::Client(*p), *t, f, v.clone(), 0))
            .collect();
        let calls = pair(ops).unwrap();
        let options = CheckOptions {
            nil_read,
            ..CheckOptions::default()
        };
        let result = check_kind(
            ModelKind::CasRegister,
            Some(initial.clone()),
            &calls,
            &options,
        )
        .unwrap();
        let found = suspect(&result, &calls, initial);
        assert!(found.is_none() || result.verdict == Verdict::Invalid);
        found
    }

    #[test]
    fn a_first_nil_read_suspects_the_nil_read_meaning() {
        use OpType::*;
        let ops = [
            (0, Invoke, "read", Value::Null),
            (0, Ok, "read", Value::Null),
        ];
        let zero = Val::Int(0);
        assert_eq!(
            suspect_of(&ops, &zero, NilRead::Value),
            Some(Suspect::NilRead {
                initial: zero.clone(),
                untouched: true,
                state: "0".into()
            })
        );
        let after_a_write = [
            (1, Invoke, "write", json!(4)),
            (1, Ok, "write", json!(4)),
            (0, Invoke, "read", Value::Null),
            (0, Ok, "read", Value::Null),
        ];
        assert!(matches!(
            suspect_of(&after_a_write, &zero, NilRead::Value),
            Some(Suspect::NilRead { untouched: false, state, .. }) if state == "4"
        ));
        // Under `any` the same history is valid: nothing to suspect.
        assert_eq!(suspect_of(&ops, &zero, NilRead::Any), None);
    }

    #[test]
    fn a_first_read_of_an_unwritten_value_suspects_the_initial_value() {
        use OpType::*;
        let ops = [
            (1, Invoke, "read", Value::Null),
            (1, Ok, "read", json!(0)),
            (0, Invoke, "cas", json!([0, 2])),
            (0, Ok, "cas", json!([0, 2])),
        ];
        assert_eq!(
            suspect_of(&ops, &Val::Nil, NilRead::Value),
            Some(Suspect::Initial {
                initial: Val::Nil,
                seen: Val::Int(0),
                f: "read".into()
            })
        );
        let cas_first = [
            (0, Invoke, "cas", json!([0, 2])),
            (0, Ok, "cas", json!([0, 2])),
        ];
        assert!(matches!(
            suspect_of(&cas_first, &Val::Nil, NilRead::Value),
            Some(Suspect::Initial { f, .. }) if f == "cas"
        ));
    }

    #[test]
    fn tuples_everywhere_suspect_independent_keys() {
        use OpType::*;
        let ops = [
            (0, Invoke, "write", json!([1, 4])),
            (0, Ok, "write", json!([1, 4])),
            (1, Invoke, "read", json!([2, null])),
            (1, Ok, "read", json!([2, 0])),
        ];
        assert_eq!(
            suspect_of(&ops, &Val::Int(0), NilRead::Value),
            Some(Suspect::Independent)
        );
        // A plain read's value is nil: a plain history is not suspected.
        let plain = [
            (0, Invoke, "cas", json!([1, 4])),
            (0, Ok, "cas", json!([1, 4])),
            (1, Invoke, "read", Value::Null),
            (1, Ok, "read", json!(4)),
        ];
        assert_ne!(
            suspect_of(&plain, &Val::Int(0), NilRead::Value),
            Some(Suspect::Independent)
        );
    }

    #[test]
    fn a_nil_read_of_an_empty_register_suspects_nothing() {
        use OpType::*;
        // Initial nil, a write of 4 that may come after: valid, nothing to suspect.
        let ops = [
            (0, Invoke, "read", Value::Null),
            (0, Ok, "read", Value::Null),
        ];
        assert_eq!(suspect_of(&ops, &Val::Nil, NilRead::Value), None);
    }

    #[test]
    fn a_late_failure_suspects_nothing() {
        use OpType::*;
        // A write, then a stale read: a real violation after the state changed.
        let ops = [
            (0, Invoke, "write", json!(1)),
            (0, Ok, "write", json!(1)),
            (1, Invoke, "read", Value::Null),
            (1, Ok, "read", json!(0)),
        ];
        let zero = Val::Int(0);
        assert_eq!(suspect_of(&ops, &zero, NilRead::Value), None);
        // A read of nil after more than EARLY writes.
        let mut long: Vec<(u64, OpType, &str, Value)> = (0..=EARLY as i64)
            .flat_map(|i| [(0, Invoke, "write", json!(i)), (0, Ok, "write", json!(i))])
            .collect();
        long.extend([
            (1, Invoke, "read", Value::Null),
            (1, Ok, "read", Value::Null),
        ]);
        assert_eq!(suspect_of(&long, &zero, NilRead::Value), None);
        // Knossos's immediate-failure: the read of 3 follows a write of 3 that failed.
        // The value is written in the history, so the initial value is not suspect.
        let failed_write = [
            (1, Invoke, "read", Value::Null),
            (101, Invoke, "write", json!(3)),
            (101, Fail, "write", json!(3)),
            (1, Ok, "read", json!(3)),
        ];
        assert_eq!(suspect_of(&failed_write, &zero, NilRead::Value), None);
    }
}
