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
