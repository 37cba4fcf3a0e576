//! Every history in shared/data/VERDICTS.tsv gets its known verdict (kv files both split
//! by key and as one map state, as the table lists them), with the default read semantics
//! of its format and model.

use checker::corpus::{read_known_cases, KnownCase};
use checker::history::pair;
use checker::import::{parse_jepsen_log_with, read_history, JepsenLogOptions};
use checker::{check_kind, CheckOptions, Verdict};
use std::path::{Path, PathBuf};
use std::time::Duration;

fn data_dir() -> Option<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/data");
    if dir.join("VERDICTS.tsv").exists() {
        Some(dir)
    } else {
        eprintln!("skipping: {} is absent", dir.display());
        None
    }
}

fn verdict_of(dir: &Path, case: &KnownCase) -> (Verdict, usize) {
    let path = case.path(dir);
    let ops = if case.format == "jepsen-log" {
        let text = std::fs::read_to_string(&path).unwrap();
        let options = JepsenLogOptions {
            fail_cas_returned_false: case.fail_cas_returned_false,
        };
        parse_jepsen_log_with(&text, &case.file, &options).unwrap()
    } else {
        read_history(&path, Some(case.format.parse().unwrap())).unwrap()
    };
    let calls = pair(ops).unwrap();
    let options = CheckOptions {
        partition: case.partition,
        timeout: Some(Duration::from_secs(120)),
        witness: true,
        nil_read: case.nil_read,
        ..CheckOptions::default()
    };
    let result = check_kind(case.model, Some(case.initial.clone()), &calls, &options).unwrap();
    match result.verdict {
        Verdict::Invalid => {
            let c = result
                .counterexample
                .as_ref()
                .expect("invalid comes with a counterexample");
            assert!(
                c.window.iter().any(|o| o.index == c.unplaceable.index),
                "{}: the window holds the unplaceable operation",
                case.file
            );
        }
        Verdict::Valid => assert!(
            result.witness.is_some(),
            "{}: valid comes with a witness",
            case.file
        ),
        Verdict::Unknown => {}
    }
    (result.verdict, calls.len())
}

fn check_matching(filter: impl Fn(&KnownCase) -> bool) {
    let Some(dir) = data_dir() else { return };
    let cases: Vec<KnownCase> = read_known_cases(&dir)
        .unwrap()
        .into_iter()
        .filter(|c| filter(c))
        .collect();
    assert!(!cases.is_empty());
    let mut wrong = Vec::new();
    for case in &cases {
        let (verdict, ops) = verdict_of(&dir, case);
        assert!(ops > 0, "{}: no operations read", case.file);
        if verdict != case.expected {
            wrong.push(format!(
                "{} (partition {}): expected {:?}, got {:?}",
                case.file, case.partition, case.expected, verdict
            ));
        }
    }
    assert!(wrong.is_empty(), "wrong verdicts:\n{}", wrong.join("\n"));
}

#[test]
fn etcd_logs() {
    check_matching(|c| c.file.starts_with("etcd/"));
}

#[test]
fn knossos_fixtures() {
    check_matching(|c| c.file.starts_with("knossos/"));
}

#[test]
fn porcupine_kv_split_by_key() {
    check_matching(|c| c.file.starts_with("kv/") && c.partition);
}

#[test]
fn porcupine_kv_small_whole() {
    check_matching(|c| c.file.starts_with("kv/") && !c.partition && !c.file.contains("c50"));
}

#[test]
fn porcupine_kv_c50_whole() {
    check_matching(|c| c.file.starts_with("kv/c50") && !c.partition);
}
