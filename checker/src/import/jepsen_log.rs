//! Jepsen log files: one operation per `jepsen.util` log line, such as
//! `INFO  jepsen.util - 3 :ok :cas [1 4]`, the fields separated by tabs (or spaces).

use super::edn::{Edn, EdnReader};
use super::edn_history::{abbreviate, op_type};
use crate::error::Result;
use crate::history::{Op, OpType, Process};
use serde_json::Value;

/// The marker that introduces an operation on a log line.
const MARKER: &str = "jepsen.util - ";

/// How to interpret a Jepsen log.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct JepsenLogOptions {
    /// Read a `:fail` completion of a `:cas` as "the CAS ran and returned false".
    ///
    /// In Jepsen's etcd logs (and Porcupine's copy of them), `:fail :cas` means the
    /// compare-and-set was executed and its comparison failed, which says the register did
    /// not hold `from` at that moment; it is not "did not happen". When this is true (the
    /// default), such a completion becomes an `ok` completion whose value is `false`, which
    /// the checker's models read as "ran, returned false". A `:fail :cas` that carries an
    /// error (such as `:timed-out`) stays a fail.
    pub fail_cas_returned_false: bool,
}

impl Default for JepsenLogOptions {
    fn default() -> Self {
        JepsenLogOptions {
            fail_cas_returned_false: true,
        }
    }
}

/// Reads a Jepsen log with the default [`JepsenLogOptions`].
pub fn parse_jepsen_log(text: &str, source_name: &str) -> Result<Vec<Op>> {
    parse_jepsen_log_with(text, source_name, &JepsenLogOptions::default())
}

/// Reads a Jepsen log.
///
/// Only lines containing `jepsen.util - ` are read; everything else in the log is
/// ignored. After the marker come the process (an integer, or `:nemesis`), the type, the
/// function and, optionally, the value as an EDN form, then optionally an error; fields
/// are separated by tabs or runs of spaces. A completion (`:info` or `:fail`) whose value
/// is a keyword such as `:timed-out` gets that keyword as its `error` and a null value.
/// Operations are numbered 0, 1, ... in file order, and `time` is that number times 1000
/// (the log has no usable clock; only the order matters to the checker).
pub fn parse_jepsen_log_with(
    text: &str,
    source_name: &str,
    options: &JepsenLogOptions,
) -> Result<Vec<Op>> {
    let mut ops = Vec::new();
    for (i, raw) in text.lines().enumerate() {
        let line_no = i + 1;
        let Some(at) = raw.find(MARKER) else {
            continue;
        };
        let fields = &raw[at + MARKER.len()..];
        let n = ops.len() as u64;
        ops.push(parse_line(fields, source_name, line_no, n, options)?);
    }
    Ok(ops)
}

fn parse_line(
    fields: &str,
    source_name: &str,
    line_no: usize,
    n: u64,
    options: &JepsenLogOptions,
) -> Result<Op> {
    let mut r = EdnReader::new(fields, source_name, line_no);
    let err = |r: &EdnReader<'_>, message: String| r.error(line_no, message);

    let field = |r: &mut EdnReader<'_>, what: &str| -> Result<Edn> {
        r.skip_ws()?;
        if r.at_end() {
            return Err(err(r, format!("log line has no {what} field")));
        }
        r.read_form()
    };

    let process = match field(&mut r, "process")? {
        Edn::Integer(p) if p >= 0 => Process::Client(p as u64),
        Edn::Keyword(_) | Edn::Symbol(_) | Edn::String(_) => Process::Nemesis,
        other => {
            return Err(err(
                &r,
                format!(
                    "process must be a non-negative integer or :nemesis, found `{}`",
                    abbreviate(&other)
                ),
            ))
        }
    };
    let type_form = field(&mut r, "type")?;
    let Some(mut kind) = (match &type_form {
        Edn::Keyword(k) | Edn::Symbol(k) => op_type(k),
        _ => None,
    }) else {
        return Err(err(
            &r,
            format!(
                "type must be :invoke, :ok, :fail or :info, found `{}`",
                abbreviate(&type_form)
            ),
        ));
    };
    let f = match field(&mut r, "function")? {
        Edn::Keyword(f) | Edn::Symbol(f) | Edn::String(f) => f,
        other => {
            return Err(err(
                &r,
                format!("function must be a keyword, found `{}`", abbreviate(&other)),
            ))
        }
    };

    r.skip_ws()?;
    let mut value = if r.at_end() { Edn::Nil } else { r.read_form()? };
    r.skip_ws()?;
    let rest = r.rest().trim();
    let mut error = if rest.is_empty() {
        None
    } else {
        // Jepsen prints the error with `str`, so it need not be EDN; keep the text if not.
        Some(match super::edn::parse_edn(rest, source_name) {
            Ok(e) => e.key_string(),
            Err(_) => rest.to_string(),
        })
    };

    if matches!(kind, OpType::Info | OpType::Fail) {
        if let Edn::Keyword(k) = &value {
            if error.is_none() {
                error = Some(k.clone());
            }
            value = Edn::Nil;
        }
    }
    let mut value = value.to_json();
    if options.fail_cas_returned_false && kind == OpType::Fail && f == "cas" && error.is_none() {
        kind = OpType::Ok;
        value = Value::Bool(false);
    }
    Ok(Op {
        index: n,
        process,
        kind,
        f,
        key: None,
        value,
        time: n * 1000,
        error,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::Error;
    use serde_json::json;

    #[test]
    fn reads_tabs_spaces_nemesis_and_missing_values() {
        let log = "2014-01-01 INFO  jepsen.core - Running test\n\
                   INFO  jepsen.util - 0\t:invoke\t:read\tnil\n\
                   INFO  jepsen.util - 1   :invoke :cas    [1 2]\n\
                   some unrelated line\n\
                   INFO  jepsen.util - :nemesis\t:info\t:start\n\
                   INFO  jepsen.util - 0\t:ok\t:read\t3\n\
                   INFO  jepsen.util - 1   :ok     :cas    [1 2]\n\
                   INFO  jepsen.util - 4\t:info\t:write\t:timed-out\n\
                   INFO  jepsen.util - :nemesis\t:info\t:stop\t\"fully connected\"\n";
        let ops = parse_jepsen_log(log, "e.log").unwrap();
        assert_eq!(ops.len(), 7);
        assert_eq!(
            ops[0],
            Op::new(
                0,
                Process::Client(0),
                OpType::Invoke,
                "read",
                Value::Null,
                0
            )
        );
        assert_eq!(
            ops[1],
            Op::new(
                1,
                Process::Client(1),
                OpType::Invoke,
                "cas",
                json!([1, 2]),
                1000
            )
        );
        assert_eq!(
            ops[2],
            Op::new(
                2,
                Process::Nemesis,
                OpType::Info,
                "start",
                Value::Null,
                2000
            )
        );
        assert_eq!(ops[3].value, json!(3));
        assert_eq!(ops[4].kind, OpType::Ok);
        assert_eq!(ops[4].value, json!([1, 2]));
        assert_eq!(ops[5].kind, OpType::Info);
        assert_eq!(ops[5].value, Value::Null);
        assert_eq!(ops[5].error.as_deref(), Some("timed-out"));
        assert_eq!(ops[6].process, Process::Nemesis);
        assert_eq!(ops[6].value, json!("fully connected"));
        assert_eq!(ops[6].index, 6);
        assert_eq!(ops[6].time, 6000);
    }

    #[test]
    fn fail_cas_means_returned_false_by_default() {
        let log = "INFO  jepsen.util - 1\t:invoke\t:cas\t[0 3]\n\
                   INFO  jepsen.util - 1\t:fail\t:cas\t[0 3]\n\
                   INFO  jepsen.util - 2\t:invoke\t:read\tnil\n\
                   INFO  jepsen.util - 2\t:fail\t:read\t:timed-out\n";
        let ops = parse_jepsen_log(log, "e.log").unwrap();
        assert_eq!(ops[1].kind, OpType::Ok);
        assert_eq!(ops[1].value, Value::Bool(false));
        assert_eq!(ops[3].kind, OpType::Fail);
        assert_eq!(ops[3].error.as_deref(), Some("timed-out"));
        assert_eq!(ops[3].value, Value::Null);

        let plain = JepsenLogOptions {
            fail_cas_returned_false: false,
        };
        let ops = parse_jepsen_log_with(log, "e.log", &plain).unwrap();
        assert_eq!(ops[1].kind, OpType::Fail);
        assert_eq!(ops[1].value, json!([0, 3]));
    }

    #[test]
    fn a_trailing_error_field_is_kept() {
        let log = "INFO  jepsen.util - 3\t:info\t:cas\t[1 4]\t:timed-out\n\
                   INFO  jepsen.util - 3\t:fail\t:cas\t[1 4]\tindeterminate: read timed out\n";
        let ops = parse_jepsen_log(log, "e.log").unwrap();
        assert_eq!(ops[0].error.as_deref(), Some("timed-out"));
        assert_eq!(ops[0].value, json!([1, 4]));
        assert_eq!(ops[1].kind, OpType::Fail);
        assert_eq!(
            ops[1].error.as_deref(),
            Some("indeterminate: read timed out")
        );
    }

    #[test]
    fn malformed_lines_report_their_number() {
        for (log, want) in [
            ("x\nINFO  jepsen.util - 1\t:done\t:read\tnil\n", "type"),
            ("x\nINFO  jepsen.util - 1\t:invoke\n", "function"),
            ("x\nINFO  jepsen.util - \n", "process"),
            ("x\nINFO  jepsen.util - -1\t:invoke\t:read\n", "process"),
            (
                "x\nINFO  jepsen.util - 1\t:invoke\t:cas\t[1 2\n",
                "never closed",
            ),
            ("x\nINFO  jepsen.util - 1\t:invoke\t5\tnil\n", "function"),
        ] {
            match parse_jepsen_log(log, "e.log") {
                Err(Error::Parse { line, message, .. }) => {
                    assert_eq!(line, 2, "{log:?}: {message}");
                    assert!(message.contains(want), "{log:?}: {message}");
                }
                other => panic!("{log:?}: expected an error, got {other:?}"),
            }
        }
    }

    #[test]
    fn ignores_everything_else() {
        assert!(parse_jepsen_log("", "e").unwrap().is_empty());
        assert!(parse_jepsen_log("INFO jepsen.core - hi\n\n   \n", "e")
            .unwrap()
            .is_empty());
    }
}
