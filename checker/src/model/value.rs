//! A compact, hashable value for model states, converted from history JSON.

use serde_json::Value;
use std::fmt;
use std::sync::Arc;

/// A value a model state can hold: cheap to clone, hash and compare.
///
/// Strings and lists are reference-counted so that cloning a state never copies them.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Val {
    /// No value (EDN `nil`, JSON `null`).
    Nil,
    /// A boolean.
    Bool(bool),
    /// An integer.
    Int(i64),
    /// A string.
    Str(Arc<str>),
    /// A list (the result of appends, or a read of one).
    List(Arc<[Val]>),
    /// Anything else (floats, objects), kept as canonical JSON text and compared as such.
    Other(Arc<str>),
}

impl Val {
    /// Converts a JSON value.
    pub fn from_json(v: &Value) -> Val {
        match v {
            Value::Null => Val::Nil,
            Value::Bool(b) => Val::Bool(*b),
            Value::Number(n) => match n.as_i64() {
                Some(i) => Val::Int(i),
                None => Val::Other(n.to_string().into()),
            },
            Value::String(s) => Val::Str(s.as_str().into()),
            Value::Array(items) => Val::List(items.iter().map(Val::from_json).collect()),
            Value::Object(_) => Val::Other(v.to_string().into()),
        }
    }

    /// Converts back to JSON, for reports.
    pub fn to_json(&self) -> Value {
        match self {
            Val::Nil => Value::Null,
            Val::Bool(b) => Value::Bool(*b),
            Val::Int(i) => Value::from(*i),
            Val::Str(s) => Value::String(s.to_string()),
            Val::List(items) => Value::Array(items.iter().map(Val::to_json).collect()),
            Val::Other(text) => serde_json::from_str(text).unwrap_or(Value::Null),
        }
    }

    /// Parses a value given on a command line: `nil`/`null`, any JSON, or else the text
    /// itself as a string.
    pub fn parse_cli(text: &str) -> Val {
        match text.trim() {
            "nil" | "null" => Val::Nil,
            t => match serde_json::from_str::<Value>(t) {
                Ok(v) => Val::from_json(&v),
                Err(_) => Val::Str(text.into()),
            },
        }
    }

    /// The result of appending `item` to this value: string concatenation for strings,
    /// a longer list otherwise (`nil` counts as the empty list, or the empty string when
    /// `item` is a string).
    pub fn appended(&self, item: &Val) -> Option<Val> {
        match (self, item) {
            (Val::Nil, Val::Str(s)) => Some(Val::Str(s.clone())),
            (Val::Str(a), Val::Str(b)) => {
                let mut s = String::with_capacity(a.len() + b.len());
                s.push_str(a);
                s.push_str(b);
                Some(Val::Str(s.into()))
            }
            (Val::Nil, x) => Some(Val::List(Arc::from(vec![x.clone()]))),
            (Val::List(items), x) => {
                let mut v = Vec::with_capacity(items.len() + 1);
                v.extend(items.iter().cloned());
                v.push(x.clone());
                Some(Val::List(v.into()))
            }
            _ => None,
        }
    }
}

impl fmt::Display for Val {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Val::Nil => f.write_str("nil"),
            Val::Bool(b) => write!(f, "{b}"),
            Val::Int(i) => write!(f, "{i}"),
            Val::Str(s) => write!(f, "{s:?}"),
            Val::List(items) => {
                f.write_str("[")?;
                for (i, v) in items.iter().enumerate() {
                    if i > 0 {
                        f.write_str(" ")?;
                    }
                    write!(f, "{v}")?;
                }
                f.write_str("]")
            }
            Val::Other(t) => f.write_str(t),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn json_round_trip() {
        for v in [
            json!(null),
            json!(3),
            json!("x"),
            json!([1, [2, "a"]]),
            json!(true),
        ] {
            assert_eq!(Val::from_json(&v).to_json(), v);
        }
    }

    #[test]
    fn appends_strings_and_lists() {
        let s = Val::Nil.appended(&Val::Str("ab".into())).unwrap();
        assert_eq!(
            s.appended(&Val::Str("c".into())),
            Some(Val::Str("abc".into()))
        );
        let l = Val::Nil.appended(&Val::Int(1)).unwrap();
        assert_eq!(l.appended(&Val::Int(2)).unwrap().to_json(), json!([1, 2]));
        assert_eq!(Val::Int(1).appended(&Val::Int(2)), None);
    }

    #[test]
    fn cli_values() {
        assert_eq!(Val::parse_cli("nil"), Val::Nil);
        assert_eq!(Val::parse_cli("0"), Val::Int(0));
        assert_eq!(Val::parse_cli("\"\""), Val::Str("".into()));
        assert_eq!(Val::parse_cli("abc"), Val::Str("abc".into()));
    }
}
