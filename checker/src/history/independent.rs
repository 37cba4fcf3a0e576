//! Jepsen's independent keys: calls whose values are `[key value]` tuples.
//!
//! `jepsen.independent` runs one generator per key and lifts each operation's value into a
//! tuple, so a cas on key 3 reads `{:f :cas, :value [3 [1 2]]}` and its read
//! `{:f :read, :value [3 nil]}` completes as `{:type :ok, :f :read, :value [3 4]}`. The
//! keys are independent by construction, so the history is linearizable iff every key's
//! subhistory is; each subhistory holds plain values and is checked with the usual model.

use super::op::OpType;
use super::pairing::Call;
use crate::error::{Error, Result};
use serde_json::Value;

/// The key and value of a `[key value]` tuple.
fn tuple(value: &Value) -> Option<(&Value, &Value)> {
    match value.as_array().map(Vec::as_slice) {
        Some([key, inner]) => Some((key, inner)),
        _ => None,
    }
}

/// A tuple key as a history key: a string as itself, anything else as its JSON text.
fn key_name(key: &Value) -> String {
    match key {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// Splits every call's `[key value]` tuples: the key goes to `key`, the inner values to
/// `input` and `output`.
///
/// The invocation's value must be a tuple. A completion that is `ok` must carry a tuple
/// with the same key; a `fail` or `info` completion may carry anything else (Jepsen often
/// leaves it `nil`), and then its output is `null`, which such a completion never
/// constrains. A call that already has a key is an error: its history is not a
/// `jepsen.independent` one. Errors are [`Error::Malformed`] naming the operation.
pub fn split_independent(calls: &[Call]) -> Result<Vec<Call>> {
    calls
        .iter()
        .map(|call| {
            let malformed = |index: u64, message: String| Error::Malformed { index, message };
            if call.key.is_some() {
                return Err(malformed(
                    call.invoke_index,
                    format!(
                        "{} already has a key ({:?}); --independent is for histories whose \
                         values are jepsen.independent [key value] tuples",
                        call.f,
                        call.key.as_deref().unwrap_or_default()
                    ),
                ));
            }
            let (key, input) = tuple(&call.input).ok_or_else(|| {
                malformed(
                    call.invoke_index,
                    format!(
                        "{} value {} is not a jepsen.independent [key value] tuple",
                        call.f, call.input
                    ),
                )
            })?;
            let output = match tuple(&call.output) {
                Some((k, inner)) if k == key => inner.clone(),
                _ if call.outcome != OpType::Ok => Value::Null,
                _ => {
                    return Err(malformed(
                        call.complete_index.unwrap_or(call.invoke_index),
                        format!(
                            "{} completed with {}, not a [key value] tuple for key {key}",
                            call.f, call.output
                        ),
                    ))
                }
            };
            Ok(Call {
                key: Some(key_name(key)),
                input: input.clone(),
                output,
                ..call.clone()
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::history::{pair, Op, Process};
    use serde_json::json;

    fn op(i: u64, p: u64, kind: OpType, f: &str, v: Value) -> Op {
        Op::new(i, Process::Client(p), kind, f, v, i)
    }

    #[test]
    fn splits_keys_and_values() {
        let calls = pair(vec![
            op(0, 0, OpType::Invoke, "cas", json!([3, [1, 2]])),
            op(1, 1, OpType::Invoke, "read", json!(["a", null])),
            op(2, 0, OpType::Ok, "cas", json!([3, [1, 2]])),
            op(3, 1, OpType::Ok, "read", json!(["a", 4])),
            op(4, 2, OpType::Invoke, "write", json!([3, 5])),
            op(5, 2, OpType::Info, "write", Value::Null),
        ])
        .unwrap();
        let split = split_independent(&calls).unwrap();
        assert_eq!(split[0].key.as_deref(), Some("3"));
        assert_eq!(split[0].input, json!([1, 2]));
        assert_eq!(split[0].output, json!([1, 2]));
        assert_eq!(split[1].key.as_deref(), Some("a"));
        assert_eq!(split[1].input, Value::Null);
        assert_eq!(split[1].output, json!(4));
        assert_eq!(split[2].input, json!(5));
        assert_eq!(split[2].output, Value::Null);
    }

    #[test]
    fn rejects_what_is_not_a_tuple() {
        let plain = pair(vec![op(0, 0, OpType::Invoke, "write", json!(3))]).unwrap();
        let err = split_independent(&plain).unwrap_err();
        assert!(
            err.to_string().contains("not a jepsen.independent"),
            "{err}"
        );

        let other_key = pair(vec![
            op(0, 0, OpType::Invoke, "read", json!([1, null])),
            op(1, 0, OpType::Ok, "read", json!([2, 4])),
        ])
        .unwrap();
        let err = split_independent(&other_key).unwrap_err();
        assert!(err.to_string().contains("operation 1"), "{err}");

        let keyed = pair(vec![
            op(0, 0, OpType::Invoke, "read", json!([1, null])).with_key("k")
        ])
        .unwrap();
        let err = split_independent(&keyed).unwrap_err();
        assert!(err.to_string().contains("already has a key"), "{err}");
    }
}
