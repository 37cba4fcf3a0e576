//! Reads every external history listed in `shared/data/VERDICTS.tsv` through the importers
//! and checks counts established independently with grep.

use checker::history::{pair, write_jsonl};
use checker::import::{
    detect, parse_edn_history, parse_jepsen_log, read_history, write_edn_history, HistoryFormat,
};
use checker::{Op, OpType, Process};
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

const DATA_DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../shared/data");

/// The data directory, or `None` (with a note) when this checkout does not have it.
fn data_dir() -> Option<PathBuf> {
    let dir = PathBuf::from(DATA_DIR);
    if dir.join("VERDICTS.tsv").is_file() {
        Some(dir)
    } else {
        eprintln!("note: {DATA_DIR} not found; skipping the external-data import tests");
        None
    }
}

/// Every distinct file in VERDICTS.tsv with its `ops` column (the same for every row of a
/// file).
fn listed_files(dir: &Path) -> BTreeMap<String, usize> {
    let tsv = std::fs::read_to_string(dir.join("VERDICTS.tsv")).unwrap();
    let mut files = BTreeMap::new();
    for line in tsv.lines().skip(1).filter(|l| !l.trim().is_empty()) {
        let cols: Vec<&str> = line.split('\t').collect();
        assert!(cols.len() >= 4, "short VERDICTS row {line:?}");
        let ops: usize = cols[3].parse().unwrap();
        if let Some(prev) = files.insert(cols[0].to_string(), ops) {
            assert_eq!(prev, ops, "{} listed with two sizes", cols[0]);
        }
    }
    files
}

fn parse(dir: &Path, file: &str) -> Vec<Op> {
    let path = dir.join(file);
    let text = std::fs::read_to_string(&path).unwrap();
    let result = if file.starts_with("etcd/") {
        parse_jepsen_log(&text, file)
    } else {
        parse_edn_history(&text, file)
    };
    result.unwrap_or_else(|e| panic!("{file}: {e}"))
}

fn count(ops: &[Op], pred: impl Fn(&Op) -> bool) -> usize {
    ops.iter().filter(|op| pred(op)).count()
}

fn is_client(op: &Op) -> bool {
    matches!(op.process, Process::Client(_))
}

#[test]
fn every_listed_file_parses_and_pairs() {
    let Some(dir) = data_dir() else { return };
    let files = listed_files(&dir);
    assert_eq!(files.len(), 82 + 6 + 9, "distinct files in VERDICTS.tsv");
    for (file, listed_ops) in &files {
        let ops = parse(&dir, file);
        assert!(!ops.is_empty(), "{file}");
        // VERDICTS' `ops` column counts all client invocations for the etcd and kv files
        // (including etcd_100..102's `:fail :read :timed-out`), but invocations minus
        // `:fail` completions for the Knossos fixtures.
        let invokes = count(&ops, |op| is_client(op) && op.kind == OpType::Invoke);
        let fails = count(&ops, |op| is_client(op) && op.kind == OpType::Fail);
        if file.starts_with("knossos/") {
            assert_eq!(
                invokes - fails,
                *listed_ops,
                "{file}: invocations minus failures"
            );
        } else {
            assert_eq!(invokes, *listed_ops, "{file}: invocations");
        }
        let calls = pair(ops.clone()).unwrap_or_else(|e| panic!("{file}: {e}"));
        assert_eq!(calls.len(), invokes, "{file}");

        // Detection picks the right format, and read_history agrees with the direct parse.
        let path = dir.join(file);
        let head = std::fs::read_to_string(&path).unwrap();
        let want = if file.starts_with("etcd/") {
            HistoryFormat::JepsenLog
        } else {
            HistoryFormat::Edn
        };
        assert_eq!(detect(&path, &head), want, "{file}");
        let read = read_history(&path, None).unwrap_or_else(|e| panic!("{file}: {e}"));
        assert_eq!(read, ops, "{file}: read_history with detection");
        assert_eq!(read_history(&path, Some(want)).unwrap(), ops, "{file}");

        // Exporting to EDN and reading back gives the same history.
        let mut buf = Vec::new();
        write_edn_history(&ops, &mut buf).unwrap();
        let back = parse_edn_history(std::str::from_utf8(&buf).unwrap(), "export").unwrap();
        assert_eq!(back, ops, "{file}: EDN export round trip");
    }
}

#[test]
fn etcd_logs() {
    let Some(dir) = data_dir() else { return };
    for (file, _) in listed_files(&dir).range("etcd/".to_string().."etcd0".to_string()) {
        let text = std::fs::read_to_string(dir.join(file)).unwrap();
        let ops = parse(&dir, file);
        // Every line of these logs is an operation line.
        assert_eq!(ops.len(), text.matches("jepsen.util - ").count(), "{file}");
        for (i, op) in ops.iter().enumerate() {
            assert_eq!(op.index, i as u64);
            assert_eq!(op.time, i as u64 * 1000);
            // Jepsen renumbers a crashed process (4 becomes 9, ...), so any client.
            assert!(is_client(op), "{file}: {op:?}");
            assert!(
                ["read", "write", "cas"].contains(&op.f.as_str()),
                "{file}: {op:?}"
            );
            if op.kind == OpType::Fail {
                // Only `:fail :read :timed-out` (etcd_100..102) stays a fail.
                assert_eq!(op.f, "read", "{file}: {op:?}");
                assert_eq!(op.error.as_deref(), Some("timed-out"), "{file}: {op:?}");
            }
            if op.kind == OpType::Info {
                assert_eq!(op.error.as_deref(), Some("timed-out"), "{file}: {op:?}");
                assert_eq!(op.value, Value::Null);
            }
            if op.f == "cas" && op.kind == OpType::Invoke {
                assert!(
                    op.value.as_array().is_some_and(|a| a.len() == 2),
                    "{file}: {op:?}"
                );
            }
        }
    }

    // Counted by hand with grep in etcd_000.log.
    let ops = parse(&dir, "etcd/etcd_000.log");
    assert_eq!(ops.len(), 170);
    assert_eq!(count(&ops, |op| op.kind == OpType::Invoke), 85);
    assert_eq!(count(&ops, |op| op.kind == OpType::Info), 16);
    let returned_false = count(&ops, |op| op.f == "cas" && op.value == Value::Bool(false));
    assert_eq!(returned_false, 20, "`:fail :cas` lines become ok false");
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
    assert_eq!(ops[19].value, serde_json::json!([3, 0]));

    // etcd_100..102 separate fields with runs of spaces instead of tabs.
    let ops = parse(&dir, "etcd/etcd_100.log");
    assert_eq!(ops.len(), 154);
    assert_eq!(ops[2].f, "cas");
    assert_eq!(ops[2].value, serde_json::json!([1, 2]));
    assert_eq!(
        count(&ops, |op| op.kind == OpType::Fail),
        5,
        "`:fail :read` stays"
    );
    assert_eq!(count(&ops, |op| op.value == Value::Bool(false)), 17);
}

#[test]
fn porcupine_kv_files() {
    let Some(dir) = data_dir() else { return };
    let expected = [
        ("kv/c01-bad.txt", 76),
        ("kv/c01-ok.txt", 116),
        ("kv/c10-bad.txt", 810),
        ("kv/c10-ok.txt", 674),
        ("kv/c50-bad.txt", 4048),
        ("kv/c50-ok.txt", 3424),
    ];
    for (file, n) in expected {
        let ops = parse(&dir, file);
        assert_eq!(ops.len(), n, "{file}");
        for (i, op) in ops.iter().enumerate() {
            assert_eq!(op.index, i as u64, "{file}");
            assert!(op.key.is_some(), "{file}: {op:?}");
            assert!(is_client(op), "{file}: {op:?}");
            assert!(
                ["get", "put", "append"].contains(&op.f.as_str()),
                "{file}: {op:?}"
            );
            match (op.f.as_str(), op.kind) {
                ("get", OpType::Invoke) => assert_eq!(op.value, Value::Null),
                _ => assert!(op.value.is_string(), "{file}: {op:?}"),
            }
        }
    }
    let ops = parse(&dir, "kv/c01-ok.txt");
    assert_eq!(ops[0].key.as_deref(), Some("0"));
    assert_eq!(ops[0].value, Value::String("x 0 0 y".into()));
}

#[test]
fn knossos_fixtures() {
    let Some(dir) = data_dir() else { return };
    // (file, operation maps, nemesis operations), counted with grep.
    for (file, n, nemesis) in [
        ("knossos/bad-analysis.edn", 16, 0),
        ("knossos/cas-failure.edn", 590, 8),
        ("knossos/cas-register-bug.edn", 11, 0),
        ("knossos/immediate-failure.edn", 4, 0),
        ("knossos/multi-register.edn", 250, 4),
        ("knossos/rethink-fail-minimal.edn", 8, 0),
        ("knossos/rethink-fail-smaller.edn", 500, 0),
        ("knossos/rethink-fail.edn", 500, 0),
        ("knossos/mutex/etcd.edn", 1135, 12),
    ] {
        let ops = parse(&dir, file);
        assert_eq!(ops.len(), n, "{file}");
        assert_eq!(
            count(&ops, |op| op.process == Process::Nemesis),
            nemesis,
            "{file}"
        );
        for op in ops.iter().filter(|op| op.process == Process::Nemesis) {
            assert_eq!(op.kind, OpType::Info, "{file}: {op:?}");
        }
    }

    // The two rethink files differ only in comments.
    assert_eq!(
        parse(&dir, "knossos/rethink-fail.edn"),
        parse(&dir, "knossos/rethink-fail-smaller.edn")
    );

    let ops = parse(&dir, "knossos/multi-register.edn");
    for op in ops.iter().filter(|op| is_client(op)) {
        assert_eq!(op.f, "txn");
        let mops = op.value.as_array().expect("txn value is an array");
        assert!(!mops.is_empty());
        for m in mops {
            let m = m.as_array().expect("micro-op is an array");
            assert_eq!(m.len(), 3, "{op:?}");
            assert!(m[0] == "read" || m[0] == "write", "{op:?}");
            assert!(m[1] == "x" || m[1] == "y", "{op:?}");
            if op.kind == OpType::Invoke && m[0] == "read" {
                assert_eq!(m[2], Value::Null);
            }
        }
    }
    assert_eq!(ops[0].value, serde_json::json!([["read", "x", null]]));
    assert_eq!(ops[0].time, 7686455705);

    let ops = parse(&dir, "knossos/mutex/etcd.edn");
    for (i, op) in ops.iter().enumerate() {
        assert_eq!(op.index, i as u64, "explicit :index values run 0..");
    }
    assert_eq!(
        count(&ops, |op| op.error.as_deref() == Some("not-held")),
        156
    );
    assert_eq!(
        count(&ops, |op| op.error.as_deref() == Some("already-held")),
        139
    );
    for op in ops
        .iter()
        .filter(|op| op.error.as_deref() == Some("not-held"))
    {
        assert_eq!(
            (op.kind, op.f.as_str()),
            (OpType::Fail, "release"),
            "{op:?}"
        );
    }
    assert_eq!(
        ops[1134].error.as_deref(),
        Some(r#"[:not-found "etcdserver: requested lease not found"]"#)
    );

    let ops = parse(&dir, "knossos/immediate-failure.edn");
    assert_eq!(
        ops[2].error.as_deref(),
        Some("[:temporarily-unavailable nil]")
    );
    let ops = parse(&dir, "knossos/rethink-fail.edn");
    assert_eq!(
        count(&ops, |op| op.error.is_some()),
        6,
        ":error nil is no error"
    );
}

#[test]
fn read_history_detects_jsonl() {
    let Some(dir) = data_dir() else { return };
    let ops = parse(&dir, "knossos/cas-failure.edn");
    let tmp = std::env::temp_dir().join(format!("checker-import-{}", std::process::id()));
    std::fs::create_dir_all(&tmp).unwrap();
    for name in ["h.jsonl", "h-no-extension"] {
        let path = tmp.join(name);
        write_jsonl(&path, &ops).unwrap();
        assert_eq!(read_history(&path, None).unwrap(), ops, "{name}");
        assert_eq!(
            read_history(&path, Some(HistoryFormat::Jsonl)).unwrap(),
            ops
        );
    }
    let _ = std::fs::remove_dir_all(&tmp);
}
