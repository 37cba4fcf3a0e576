//! Histories written as EDN maps: Knossos fixtures (one vector or list of maps), Jepsen's
//! `history.edn` and Porcupine's kv files (one map after another, usually one per line).

use super::edn::{Edn, EdnReader};
use crate::error::Result;
use crate::history::{Op, OpType, Process};
use serde_json::Value;

/// Reads an EDN history: either one top-level vector or list of operation maps, or a
/// sequence of operation maps.
///
/// Each map becomes an [`Op`]: `:process` (an integer; a keyword such as `:nemesis`, or a
/// non-numeric string, is the nemesis), `:type` (`:invoke`, `:ok`, `:fail` or `:info`;
/// required), `:f` (a keyword or string; required), `:key` (optional; a string, keyword or
/// number), `:value` (converted with [`Edn::to_json`]; null when missing), `:time`
/// (optional non-negative integer, else 0), `:index` (optional; else the map's position in
/// the file, from 0) and `:error` (optional; a keyword without its colon, a string as is,
/// anything else as its EDN text; `nil` is no error). Other keys are ignored. Errors name
/// the line on which the offending map starts.
pub fn parse_edn_history(text: &str, source_name: &str) -> Result<Vec<Op>> {
    let mut r = EdnReader::new(text, source_name, 1);
    let mut ops = Vec::new();
    r.skip_ws()?;
    match r.peek() {
        None => return Ok(ops),
        Some(open @ ('[' | '(')) => {
            let close = if open == '[' { ']' } else { ')' };
            let open_line = r.line();
            r.bump();
            loop {
                r.skip_ws()?;
                let line = r.line();
                match r.peek() {
                    None => {
                        return Err(r.error(
                            open_line,
                            format!(
                                "the history's `{open}` opened on line {open_line} is never closed"
                            ),
                        ))
                    }
                    Some(c) if c == close => {
                        r.bump();
                        break;
                    }
                    Some(_) => {
                        let form = r.read_form()?;
                        ops.push(op_from_edn(&form, ops.len() as u64, &r, line)?);
                    }
                }
            }
            r.skip_ws()?;
            if !r.at_end() {
                return Err(r.error(
                    r.line(),
                    "unexpected content after the history's closing bracket",
                ));
            }
        }
        Some(_) => loop {
            r.skip_ws()?;
            if r.at_end() {
                break;
            }
            let line = r.line();
            let form = r.read_form()?;
            ops.push(op_from_edn(&form, ops.len() as u64, &r, line)?);
        },
    }
    Ok(ops)
}

/// A name given as a keyword, string or symbol.
fn name_of(v: &Edn) -> Option<&str> {
    match v {
        Edn::Keyword(s) | Edn::String(s) | Edn::Symbol(s) => Some(s),
        _ => None,
    }
}

/// Converts one operation map; `position` is its 0-based place in the file, `line` the
/// line it starts on.
fn op_from_edn(form: &Edn, position: u64, r: &EdnReader<'_>, line: usize) -> Result<Op> {
    let Edn::Map(pairs) = form else {
        return Err(r.error(
            line,
            format!("expected an operation map, found `{}`", abbreviate(form)),
        ));
    };
    let get = |key: &str| {
        pairs
            .iter()
            .rev()
            .find(|(k, _)| name_of(k) == Some(key))
            .map(|(_, v)| v)
            .filter(|v| **v != Edn::Nil)
    };
    let err = |message: String| r.error(line, message);

    let process = match get("process") {
        None => return Err(err("operation has no :process".into())),
        Some(v) => process_of(v).ok_or_else(|| {
            err(format!(
                ":process must be a non-negative integer or a name such as :nemesis, found `{}`",
                abbreviate(v)
            ))
        })?,
    };
    let kind = match get("type") {
        None => return Err(err("operation has no :type".into())),
        Some(v) => name_of(v).and_then(op_type).ok_or_else(|| {
            err(format!(
                ":type must be :invoke, :ok, :fail or :info, found `{}`",
                abbreviate(v)
            ))
        })?,
    };
    let f = match get("f") {
        None => return Err(err("operation has no :f".into())),
        Some(v) => name_of(v)
            .ok_or_else(|| {
                err(format!(
                    ":f must be a keyword or string, found `{}`",
                    abbreviate(v)
                ))
            })?
            .to_string(),
    };
    let key = match get("key") {
        None => None,
        Some(v @ (Edn::Keyword(_) | Edn::String(_) | Edn::Symbol(_) | Edn::Integer(_))) => {
            Some(v.key_string())
        }
        Some(Edn::Float(x)) => Some(x.to_string()),
        Some(v) => {
            return Err(err(format!(
                ":key must be a string, keyword or number, found `{}`",
                abbreviate(v)
            )))
        }
    };
    let value = get("value").map_or(Value::Null, Edn::to_json);
    let time = non_negative(get("time"), "time", r, line)?.unwrap_or(0);
    let index = non_negative(get("index"), "index", r, line)?.unwrap_or(position);
    let error = get("error").map(Edn::key_string);
    Ok(Op {
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

fn process_of(v: &Edn) -> Option<Process> {
    match v {
        Edn::Integer(n) => u64::try_from(*n).ok().map(Process::Client),
        Edn::String(s) => Some(s.parse().map_or(Process::Nemesis, Process::Client)),
        Edn::Keyword(_) | Edn::Symbol(_) => Some(Process::Nemesis),
        _ => None,
    }
}

/// Parses an operation type name.
pub(crate) fn op_type(name: &str) -> Option<OpType> {
    match name {
        "invoke" => Some(OpType::Invoke),
        "ok" => Some(OpType::Ok),
        "fail" => Some(OpType::Fail),
        "info" => Some(OpType::Info),
        _ => None,
    }
}

fn non_negative(
    v: Option<&Edn>,
    what: &str,
    r: &EdnReader<'_>,
    line: usize,
) -> Result<Option<u64>> {
    match v {
        None => Ok(None),
        Some(Edn::Integer(n)) if *n >= 0 => Ok(Some(*n as u64)),
        Some(v) => Err(r.error(
            line,
            format!(
                ":{what} must be a non-negative integer, found `{}`",
                abbreviate(v)
            ),
        )),
    }
}

/// A value's EDN text, shortened for error messages.
pub(crate) fn abbreviate(v: &Edn) -> String {
    let text = v.to_string();
    if text.chars().count() <= 60 {
        text
    } else {
        let mut short: String = text.chars().take(57).collect();
        short.push_str("...");
        short
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::Error;
    use serde_json::json;

    fn parse(text: &str) -> Vec<Op> {
        parse_edn_history(text, "h.edn").unwrap()
    }

    fn err(text: &str) -> (usize, String) {
        match parse_edn_history(text, "h.edn") {
            Err(Error::Parse { line, message, .. }) => (line, message),
            other => panic!("expected a parse error, got {other:?}"),
        }
    }

    #[test]
    fn knossos_vector_with_comments_and_nemesis() {
        let ops = parse(
            "; header\n[{:process 4, :type :invoke, :f :write, :value 2}\n ; c\n {:process 22  :type :ok, :f :write, :value 2, :time 9}\n {:process :nemesis, :type :info, :f :start, :value \"Cut off {:n1 #{:n2}}\"}]\n",
        );
        assert_eq!(ops.len(), 3);
        assert_eq!(
            ops[0],
            Op::new(0, Process::Client(4), OpType::Invoke, "write", json!(2), 0)
        );
        assert_eq!(ops[1].process, Process::Client(22));
        assert_eq!(ops[1].time, 9);
        assert_eq!(ops[1].index, 1);
        assert_eq!(ops[2].process, Process::Nemesis);
        assert_eq!(ops[2].value, json!("Cut off {:n1 #{:n2}}"));
    }

    #[test]
    fn list_and_line_sequence_forms() {
        let list = parse("({:type :invoke, :f :read, :value nil, :process 1}\n {:type :ok, :f :read, :value 3, :process 1})");
        assert_eq!(list.len(), 2);
        assert_eq!(list[0].value, Value::Null);
        assert_eq!(list[1].value, json!(3));
        let seq = parse(
            "{:process 0, :type :invoke, :f :get, :key \"5\", :value nil}\n{:process 0, :type :ok, :f :get, :key \"5\", :value \"\"}\n",
        );
        assert_eq!(seq.len(), 2);
        assert_eq!(seq[1].key.as_deref(), Some("5"));
        assert_eq!(seq[1].value, json!(""));
        assert_eq!(seq[1].index, 1);
        assert!(parse("  ; only a comment\n").is_empty());
        assert!(parse("[]").is_empty());
    }

    #[test]
    fn fields_convert() {
        let ops = parse(
            r#"{:type :fail, :f :release, :process 1, :time 342667129, :error :not-held, :index 7, :extra {:ignored true}}
{:type :fail, :f :write, :process 101, :value 3, :error [:temporarily-unavailable nil]}
{:type :fail, :f :read, :process 17, :error nil, :key :k}
{:type :info, :f :txn, :process "nemesis", :value [[:read :x nil] [:write :y 2]], :key 12}
{:type "ok", :f "cas", :process "3", :value {:a 1, "b" [1 2], 3 nil}}"#,
        );
        assert_eq!(ops[0].error.as_deref(), Some("not-held"));
        assert_eq!(ops[0].index, 7);
        assert_eq!(ops[0].time, 342667129);
        assert_eq!(ops[0].value, Value::Null);
        assert_eq!(
            ops[1].error.as_deref(),
            Some("[:temporarily-unavailable nil]")
        );
        assert_eq!(ops[1].index, 1);
        assert_eq!(ops[2].error, None);
        assert_eq!(ops[2].key.as_deref(), Some("k"));
        assert_eq!(ops[3].process, Process::Nemesis);
        assert_eq!(
            ops[3].value,
            json!([["read", "x", null], ["write", "y", 2]])
        );
        assert_eq!(ops[3].key.as_deref(), Some("12"));
        assert_eq!(ops[4].process, Process::Client(3));
        assert_eq!(ops[4].kind, OpType::Ok);
        assert_eq!(ops[4].value, json!({"a": 1, "b": [1, 2], "3": null}));
    }

    #[test]
    fn errors_name_the_line_of_the_map() {
        let (line, msg) =
            err("[{:process 1, :type :invoke, :f :read}\n {:process 1,\n  :type :done, :f :read}]");
        assert_eq!(line, 2, "{msg}");
        assert!(msg.contains(":type"), "{msg}");
        let (line, msg) = err("{:process 1, :type :invoke, :f :read}\n\n{:type :ok, :f :read}\n");
        assert_eq!(line, 3);
        assert!(msg.contains(":process"), "{msg}");
        let (line, msg) = err("{:process 1, :type :invoke}");
        assert_eq!(line, 1);
        assert!(msg.contains(":f"), "{msg}");
        let (line, msg) = err("{:process -1, :type :invoke, :f :read}");
        assert_eq!(line, 1);
        assert!(msg.contains(":process"), "{msg}");
        let (line, msg) = err("{:process 1, :type :invoke, :f :read, :time -5}");
        assert_eq!(line, 1);
        assert!(msg.contains(":time"), "{msg}");
        let (line, msg) = err("[{:process 1, :type :invoke, :f :read}\n 42]");
        assert_eq!(line, 2);
        assert!(msg.contains("operation map"), "{msg}");
        let (line, msg) = err("[{:process 1, :type :invoke, :f :read}\n");
        assert_eq!(line, 1);
        assert!(msg.contains("never closed"), "{msg}");
        let (line, msg) = err("[]\n{:process 1}");
        assert_eq!(line, 2);
        assert!(msg.contains("after"), "{msg}");
        let (line, _) = err("{:process 1, :type :invoke, :f :read, :key [1]}");
        assert_eq!(line, 1);
        let (line, _) = err("{:process 1, :type :invoke, :f 5}");
        assert_eq!(line, 1);
    }
}
