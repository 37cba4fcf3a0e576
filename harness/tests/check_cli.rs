//! `harness check` as a user runs it: verdicts as exit statuses, JSON on stdout, clear
//! errors with a 254 status for bad input.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn harness(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_harness"))
        .args(args)
        .output()
        .expect("harness runs")
}

fn data(rel: &str) -> Option<PathBuf> {
    let p = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../shared/data")
        .join(rel);
    p.exists().then_some(p)
}

fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, text).unwrap();
    p
}

fn json(out: &Output) -> serde_json::Value {
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "stdout is not JSON ({e}): {}\nstderr: {}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    })
}

#[test]
fn valid_jsonl_history_exits_0() {
    let dir = tempfile::tempdir().unwrap();
    let file = write(
        dir.path(),
        "h.jsonl",
        r#"{"index":0,"process":0,"type":"invoke","f":"write","value":1,"time":1}
{"index":1,"process":1,"type":"invoke","f":"read","value":null,"time":2}
{"index":2,"process":0,"type":"ok","f":"write","value":1,"time":3}
{"index":3,"process":1,"type":"ok","f":"read","value":1,"time":4}
"#,
    );
    let out = harness(&[
        "check",
        file.to_str().unwrap(),
        "--model",
        "register",
        "--witness",
    ]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let result = json(&out);
    assert_eq!(result["verdict"], "valid");
    assert_eq!(result["witness"][0]["order"], serde_json::json!([0, 1]));
}

#[test]
fn stale_read_exits_1_with_a_counterexample() {
    let dir = tempfile::tempdir().unwrap();
    let file = write(
        dir.path(),
        "h.jsonl",
        r#"{"index":0,"process":0,"type":"invoke","f":"write","value":1,"time":1}
{"index":1,"process":0,"type":"ok","f":"write","value":1,"time":2}
{"index":2,"process":1,"type":"invoke","f":"read","value":null,"time":3}
{"index":3,"process":1,"type":"ok","f":"read","value":0,"time":4}
"#,
    );
    let out = harness(&["check", file.to_str().unwrap(), "--initial", "0"]);
    assert_eq!(out.status.code(), Some(1));
    let result = json(&out);
    assert_eq!(result["verdict"], "invalid");
    assert_eq!(result["model"], "cas-register");
    assert_eq!(result["counterexample"]["unplaceable"]["index"], 2);
    assert_eq!(result["counterexample"]["state"], "1");
}

#[test]
fn malformed_line_exits_254_naming_the_line() {
    let dir = tempfile::tempdir().unwrap();
    let file = write(
        dir.path(),
        "h.jsonl",
        "{\"index\":0,\"process\":0,\"type\":\"invoke\",\"f\":\"read\"}\n{\"index\":1,\"process\":0,\"type\":\"ok\",\n",
    );
    let out = harness(&["check", file.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(254));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("h.jsonl:2:"), "{err}");
}

#[test]
fn bad_arguments_exit_254() {
    let dir = tempfile::tempdir().unwrap();
    let file = write(dir.path(), "h.jsonl", "");
    for args in [
        vec!["check", file.to_str().unwrap(), "--model", "queue"],
        vec!["check", file.to_str().unwrap(), "--format", "xml"],
        vec!["check", "/nonexistent/history.jsonl"],
        vec!["check", file.to_str().unwrap(), "--no-such-flag"],
    ] {
        let out = harness(&args);
        assert_eq!(
            out.status.code(),
            Some(254),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(!out.stderr.is_empty());
    }
}

#[test]
fn model_mismatch_exits_254() {
    let dir = tempfile::tempdir().unwrap();
    let file = write(
        dir.path(),
        "h.jsonl",
        "{\"index\":0,\"process\":0,\"type\":\"invoke\",\"f\":\"cas\",\"value\":7}\n",
    );
    let out = harness(&["check", file.to_str().unwrap(), "--model", "cas-register"]);
    assert_eq!(out.status.code(), Some(254));
    assert!(String::from_utf8_lossy(&out.stderr).contains("[from, to]"));
}

#[test]
fn etcd_log_and_knossos_edn_get_their_verdicts() {
    let (Some(etcd), Some(knossos)) = (data("etcd/etcd_002.log"), data("knossos/cas-failure.edn"))
    else {
        eprintln!("skipping: shared/data is absent");
        return;
    };
    let out = harness(&["check", etcd.to_str().unwrap(), "--model", "cas-register"]);
    assert_eq!(out.status.code(), Some(0));
    let out = harness(&[
        "check",
        knossos.to_str().unwrap(),
        "--model",
        "cas-register",
        "--initial",
        "0",
    ]);
    assert_eq!(out.status.code(), Some(1));
}

#[test]
fn budget_exhaustion_is_unknown_not_a_guess() {
    let Some(kv) = data("kv/c50-ok.txt") else {
        eprintln!("skipping: shared/data is absent");
        return;
    };
    // The plain whole-state search cannot decide this file; with a short limit it must
    // answer unknown (exit 2), never valid or invalid.
    let out = harness(&[
        "check",
        kv.to_str().unwrap(),
        "--model",
        "kv",
        "--initial",
        "\"\"",
        "--no-partition",
        "--plain-search",
        "--timeout",
        "0.5",
    ]);
    assert_eq!(
        out.status.code(),
        Some(2),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let result = json(&out);
    assert_eq!(result["verdict"], "unknown");
    assert!(result["reason"].as_str().unwrap().contains("time limit"));
}

/// A write of 4 that completed, then a read that returned nil: Knossos calls this
/// linearizable (the read is unknown), Porcupine's etcd model does not (nil is empty).
const NIL_READ_EDN: &str = "[{:process 0, :type :invoke, :f :write, :value 4}
 {:process 0, :type :ok, :f :write, :value 4}
 {:process 1, :type :invoke, :f :read, :value nil}
 {:process 1, :type :ok, :f :read, :value nil}]
";

/// The same history as this project's JSON Lines.
const NIL_READ_JSONL: &str = r#"{"index":0,"process":0,"type":"invoke","f":"write","value":4,"time":1}
{"index":1,"process":0,"type":"ok","f":"write","value":4,"time":2}
{"index":2,"process":1,"type":"invoke","f":"read","value":null,"time":3}
{"index":3,"process":1,"type":"ok","f":"read","value":null,"time":4}
"#;

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[test]
fn nil_read_defaults_to_any_for_edn_and_value_for_jsonl() {
    let dir = tempfile::tempdir().unwrap();
    let edn = write(dir.path(), "h.edn", NIL_READ_EDN);
    let jsonl = write(dir.path(), "h.jsonl", NIL_READ_JSONL);
    let edn = edn.to_str().unwrap();
    let jsonl = jsonl.to_str().unwrap();
    let cases: [(&[&str], i32, &str); 6] = [
        (&[edn], 0, "any"),
        (&[edn, "--nil-read", "value"], 1, "value"),
        (&[edn, "--nil-read", "any"], 0, "any"),
        (&[jsonl], 1, "value"),
        (&[jsonl, "--nil-read", "any"], 0, "any"),
        // Explicit --format counts like a detected one.
        (&[jsonl, "--format", "jsonl"], 1, "value"),
    ];
    for (args, code, nil_read) in cases {
        let mut all = vec!["check", "--model", "cas-register", "--initial", "0"];
        all.extend_from_slice(args);
        let out = harness(&all);
        assert_eq!(out.status.code(), Some(code), "{all:?}: {}", stderr(&out));
        let result = json(&out);
        assert_eq!(result["nil_read"], nil_read, "{all:?}");
    }
    // The plain register model follows the same default.
    let out = harness(&["check", edn, "--model", "register", "--initial", "0"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(json(&out)["nil_read"], "any");
}

#[test]
fn an_early_nil_read_under_value_hints_at_nil_read_any() {
    let dir = tempfile::tempdir().unwrap();
    let file = write(
        dir.path(),
        "h.jsonl",
        r#"{"index":0,"process":1,"type":"invoke","f":"read","value":null,"time":1}
{"index":1,"process":1,"type":"ok","f":"read","value":null,"time":2}
"#,
    );
    let out = harness(&["check", file.to_str().unwrap(), "--initial", "0"]);
    assert_eq!(out.status.code(), Some(1));
    let hint = json(&out)["hint"].as_str().unwrap_or_default().to_string();
    assert!(
        hint.contains("the first read returned nil from an initial value 0")
            && hint.contains("--nil-read any"),
        "{hint}"
    );
    assert!(
        stderr(&out).contains("hint: the first read"),
        "{}",
        stderr(&out)
    );
    // With the option it suggests, the same file is valid and nothing is hinted.
    let out = harness(&[
        "check",
        file.to_str().unwrap(),
        "--initial",
        "0",
        "--nil-read",
        "any",
    ]);
    assert_eq!(out.status.code(), Some(0));
    assert!(json(&out).get("hint").is_none());
}

#[test]
fn an_early_read_of_an_unwritten_value_hints_at_the_initial_value() {
    let Some(kv) = data("kv/c01-ok.txt") else {
        eprintln!("skipping: shared/data is absent");
        return;
    };
    // Porcupine's kv keys start as "", not nil.
    let out = harness(&["check", kv.to_str().unwrap(), "--model", "kv"]);
    assert_eq!(out.status.code(), Some(1));
    let result = json(&out);
    let hint = result["hint"].as_str().unwrap_or_default();
    assert!(hint.contains(r#"try --initial '""'"#), "{hint}");
    let out = harness(&[
        "check",
        kv.to_str().unwrap(),
        "--model",
        "kv",
        "--initial",
        "\"\"",
    ]);
    assert_eq!(out.status.code(), Some(0));
}

#[test]
fn bad_nil_read_and_independent_arguments_exit_254() {
    let dir = tempfile::tempdir().unwrap();
    let file = write(dir.path(), "h.edn", NIL_READ_EDN);
    let file = file.to_str().unwrap();
    for (args, says) in [
        (vec!["check", file, "--nil-read", "maybe"], "any, value"),
        (
            vec!["check", file, "--independent", "--no-partition"],
            "--no-partition",
        ),
        // Plain values are not [key value] tuples.
        (vec!["check", file, "--independent"], "jepsen.independent"),
    ] {
        let out = harness(&args);
        assert_eq!(out.status.code(), Some(254), "{args:?}: {}", stderr(&out));
        assert!(stderr(&out).contains(says), "{args:?}: {}", stderr(&out));
    }
}

/// A jepsen.independent cas-register history over keys 1 and 2; `read_2` is the value
/// key 2's read returned.
fn independent_edn(read_2: &str) -> String {
    format!(
        "[{{:process 0, :type :invoke, :f :write, :value [1 1]}}
 {{:process 1, :type :invoke, :f :cas, :value [2 [0 3]]}}
 {{:process 0, :type :ok, :f :write, :value [1 1]}}
 {{:process 1, :type :ok, :f :cas, :value [2 [0 3]]}}
 {{:process 0, :type :invoke, :f :read, :value [1 nil]}}
 {{:process 1, :type :invoke, :f :read, :value [2 nil]}}
 {{:process 0, :type :ok, :f :read, :value [1 1]}}
 {{:process 1, :type :ok, :f :read, :value [2 {read_2}]}}]
"
    )
}

#[test]
fn independent_history_is_checked_per_key() {
    let dir = tempfile::tempdir().unwrap();
    let good = write(dir.path(), "good.edn", &independent_edn("3"));
    let bad = write(dir.path(), "bad.edn", &independent_edn("0"));
    let args = ["--model", "cas-register", "--initial", "0", "--independent"];
    let out = harness(&[&["check", good.to_str().unwrap()], &args[..]].concat());
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let result = json(&out);
    assert_eq!(result["independent"], true);
    assert_eq!(result["keys"], 2);
    let out = harness(&[&["check", bad.to_str().unwrap()], &args[..]].concat());
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let result = json(&out);
    assert_eq!(result["counterexample"]["key"], "2");
    assert_eq!(result["counterexample"]["unplaceable"]["output"], 0);
}

#[test]
fn every_known_verdict_holds_through_the_cli_with_default_semantics() {
    let Some(table) = data("VERDICTS.tsv") else {
        eprintln!("skipping: shared/data is absent");
        return;
    };
    let dir = table.parent().unwrap();
    let cases = checker::corpus::read_known_cases(dir).unwrap();
    assert!(cases.len() > 100, "{} rows", cases.len());
    let mut wrong = Vec::new();
    for case in &cases {
        let path = case.path(dir);
        let initial = case.initial.to_json().to_string();
        // No --format and no --nil-read: both come from the file as a user would give it.
        let mut args = vec![
            "check",
            path.to_str().unwrap(),
            "--model",
            case.model.name(),
            "--initial",
            &initial,
            "--timeout",
            "120",
        ];
        if !case.partition {
            args.push("--no-partition");
        }
        if !case.fail_cas_returned_false {
            args.push("--fail-cas-did-not-happen");
        }
        let out = harness(&args);
        let expected = case.expected.exit_code();
        if out.status.code() != Some(expected) {
            wrong.push(format!(
                "{} (partition {}): exit {:?}, expected {expected}: {}",
                case.file,
                case.partition,
                out.status.code(),
                stderr(&out)
            ));
            continue;
        }
        // The mutex has no reads: nothing to report.
        let nil_read = match case.model {
            checker::ModelKind::Mutex => serde_json::Value::Null,
            _ => case.nil_read.name().into(),
        };
        assert_eq!(json(&out)["nil_read"], nil_read, "{}", case.file);
    }
    assert!(wrong.is_empty(), "wrong verdicts:\n{}", wrong.join("\n"));
}

#[test]
fn tuples_checked_as_plain_values_hint_at_independent() {
    let file =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../checker/tests/data/independent-cas.edn");
    let file = file.to_str().unwrap();
    let out = harness(&["check", file, "--initial", "0"]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(
        json(&out)["hint"]
            .as_str()
            .is_some_and(|h| h.contains("try --independent")),
        "{}",
        stderr(&out)
    );
    let out = harness(&["check", file, "--initial", "0", "--independent"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(json(&out)["keys"], 3);
}
