//! Writing a history as EDN, one operation map per line (the `history.edn` layout that
//! Jepsen and Knossos read).

use super::edn::{write_edn_float, write_edn_string};
use crate::history::{Op, OpType, Process};
use serde_json::Value;
use std::fmt::{self, Write as _};
use std::io::Write;

/// Writes `ops` as EDN, one map per line, such as
/// `{:index 0, :process 3, :type :ok, :f :write, :key "k", :value 5, :time 12}`.
///
/// `:key` and `:error` appear only when present. Values convert from JSON: null is `nil`,
/// strings are EDN strings, arrays are vectors, and objects are maps whose keys are
/// keywords when the key is a plain keyword name and strings otherwise. Integers above
/// `i64::MAX` are written as such but cannot be read back by this crate's EDN reader.
pub fn write_edn_history<W: Write>(ops: &[Op], out: W) -> std::io::Result<()> {
    let mut out = std::io::BufWriter::new(out);
    for op in ops {
        out.write_all(op_to_edn(op).as_bytes())?;
        out.write_all(b"\n")?;
    }
    out.flush()
}

/// One operation as a single-line EDN map (no trailing newline).
pub fn op_to_edn(op: &Op) -> String {
    let mut s = String::with_capacity(96);
    // Writing into a String cannot fail.
    let _ = write_op(&mut s, op);
    s
}

fn write_op(s: &mut String, op: &Op) -> fmt::Result {
    write!(s, "{{:index {}, :process ", op.index)?;
    match op.process {
        Process::Client(p) => write!(s, "{p}")?,
        Process::Nemesis => s.push_str(":nemesis"),
    }
    s.push_str(", :type ");
    s.push_str(match op.kind {
        OpType::Invoke => ":invoke",
        OpType::Ok => ":ok",
        OpType::Fail => ":fail",
        OpType::Info => ":info",
    });
    s.push_str(", :f ");
    write_name(s, &op.f)?;
    if let Some(key) = &op.key {
        s.push_str(", :key ");
        write_edn_string(s, key)?;
    }
    s.push_str(", :value ");
    write_value(s, &op.value)?;
    write!(s, ", :time {}", op.time)?;
    if let Some(error) = &op.error {
        s.push_str(", :error ");
        write_edn_string(s, error)?;
    }
    s.push('}');
    Ok(())
}

/// True when `name` can be written as `:name` and read back as the same name.
fn is_keyword_name(name: &str) -> bool {
    let mut chars = name.chars();
    let Some(first) = chars.next() else {
        return false;
    };
    (first.is_ascii_alphabetic() || matches!(first, '*' | '!' | '_' | '?' | '<' | '>' | '='))
        && chars.all(|c| {
            c.is_ascii_alphanumeric()
                || matches!(c, '*' | '+' | '!' | '-' | '_' | '?' | '<' | '>' | '=' | '.')
        })
}

/// A name as a keyword when possible, else as a string.
fn write_name(s: &mut String, name: &str) -> fmt::Result {
    if is_keyword_name(name) {
        s.push(':');
        s.push_str(name);
        Ok(())
    } else {
        write_edn_string(s, name)
    }
}

fn write_value(s: &mut String, v: &Value) -> fmt::Result {
    match v {
        Value::Null => s.push_str("nil"),
        Value::Bool(b) => write!(s, "{b}")?,
        Value::Number(n) => {
            if let Some(i) = n.as_i64() {
                write!(s, "{i}")?;
            } else if let Some(u) = n.as_u64() {
                write!(s, "{u}N")?;
            } else if let Some(x) = n.as_f64() {
                write_edn_float(s, x)?;
            } else {
                write!(s, "{n}")?;
            }
        }
        Value::String(text) => write_edn_string(s, text)?,
        Value::Array(items) => {
            s.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    s.push(' ');
                }
                write_value(s, item)?;
            }
            s.push(']');
        }
        Value::Object(map) => {
            s.push('{');
            for (i, (k, item)) in map.iter().enumerate() {
                if i > 0 {
                    s.push_str(", ");
                }
                write_name(s, k)?;
                s.push(' ');
                write_value(s, item)?;
            }
            s.push('}');
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::import::parse_edn_history;
    use proptest::prelude::*;
    use serde_json::json;

    #[test]
    fn writes_the_documented_layout() {
        let op = Op::new(0, Process::Client(3), OpType::Ok, "write", json!(5), 12).with_key("k");
        assert_eq!(
            op_to_edn(&op),
            r#"{:index 0, :process 3, :type :ok, :f :write, :key "k", :value 5, :time 12}"#
        );
        let mut nem = Op::new(
            1,
            Process::Nemesis,
            OpType::Info,
            "start",
            json!({"isolate": [0], "odd key": "a\"b\\c\n", "n": null, "x": 1.5}),
            4,
        );
        nem.error = Some("not-held".into());
        assert_eq!(
            op_to_edn(&nem),
            r#"{:index 1, :process :nemesis, :type :info, :f :start, :value {:isolate [0], :n nil, "odd key" "a\"b\\c\n", :x 1.5}, :time 4, :error "not-held"}"#
        );
        let odd_f = Op::new(
            2,
            Process::Client(0),
            OpType::Invoke,
            "two words",
            Value::Null,
            0,
        );
        assert!(op_to_edn(&odd_f).contains(r#":f "two words""#));
    }

    #[test]
    fn write_edn_history_one_line_per_op() {
        let ops = vec![
            Op::new(
                0,
                Process::Client(1),
                OpType::Invoke,
                "cas",
                json!([1, 2]),
                10,
            ),
            Op::new(1, Process::Client(1), OpType::Ok, "cas", json!([1, 2]), 20),
        ];
        let mut buf = Vec::new();
        write_edn_history(&ops, &mut buf).unwrap();
        let text = String::from_utf8(buf).unwrap();
        assert_eq!(text.lines().count(), 2);
        assert_eq!(parse_edn_history(&text, "mem").unwrap(), ops);
    }

    fn arb_string() -> impl Strategy<Value = String> {
        prop_oneof![
            "[a-z][a-z0-9-]{0,8}",
            "[ -~]{0,10}",
            "[a\"\\\\\n\t\r\u{1}é😀 ]{0,6}",
        ]
    }

    fn arb_value() -> impl Strategy<Value = Value> {
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::Bool),
            any::<i64>().prop_map(Value::from),
            (-1e12f64..1e12).prop_map(Value::from),
            arb_string().prop_map(Value::String),
        ];
        leaf.prop_recursive(4, 32, 5, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..5).prop_map(Value::Array),
                prop::collection::btree_map(arb_string(), inner, 0..4)
                    .prop_map(|m| Value::Object(m.into_iter().collect())),
            ]
        })
    }

    fn arb_op() -> impl Strategy<Value = Op> {
        let process = prop_oneof![
            (0u64..1000).prop_map(Process::Client),
            Just(Process::Nemesis),
            (0..i64::MAX as u64).prop_map(Process::Client),
        ];
        let kind = prop_oneof![
            Just(OpType::Invoke),
            Just(OpType::Ok),
            Just(OpType::Fail),
            Just(OpType::Info),
        ];
        (
            0..=i64::MAX as u64,
            process,
            kind,
            prop_oneof!["read|write|cas|append|txn|acquire", arb_string()],
            prop::option::of(arb_string()),
            arb_value(),
            0..=i64::MAX as u64,
            prop::option::of(arb_string()),
        )
            .prop_map(|(index, process, kind, f, key, value, time, error)| Op {
                index,
                process,
                kind,
                f,
                key,
                value,
                time,
                error,
            })
    }

    proptest! {
        #[test]
        fn edn_round_trip(ops in prop::collection::vec(arb_op(), 0..20)) {
            let mut buf = Vec::new();
            write_edn_history(&ops, &mut buf).unwrap();
            let text = String::from_utf8(buf).unwrap();
            let back = parse_edn_history(&text, "roundtrip").unwrap();
            prop_assert_eq!(back, ops);
        }
    }
}
