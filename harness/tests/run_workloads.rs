//! `harness run` end to end, one short run per workload against a real 4-replica cluster:
//! exit 0, a parseable history with ok operations, a valid verdict in results.json, and
//! the run directory laid out as documented.

mod common;

use checker::history::read_jsonl;
use checker::{OpType, Process};
use common::{replicas_of, HarnessRun};
use std::time::Duration;

fn run_workload(workload: &str) {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("store");
    let mut run = HarnessRun::start(
        &store,
        &[
            "--workload",
            workload,
            "--time-limit",
            "3",
            "--rate",
            "30",
            "--concurrency",
            "3",
            "--keys",
            "4",
            "--seed",
            "42",
            // Three clusters of four replicas share the test machine's cores.
            "--op-timeout-ms",
            "5000",
        ],
    );
    let status = run.wait(Duration::from_secs(60));
    assert_eq!(status.code(), Some(0), "stderr:\n{}", run.stderr());
    let run_dir = run.run_dir();
    let ops = read_jsonl(&run_dir.join("history.jsonl")).unwrap();
    let ok = ops.iter().filter(|op| op.kind == OpType::Ok).count();
    assert!(ok >= 5, "only {ok} ok ops in {} lines", ops.len());
    assert!(ops
        .iter()
        .all(|op| matches!(op.process, Process::Client(_))));
    assert!(ops.iter().all(|op| op.key.is_some()));
    let results: serde_json::Value =
        serde_json::from_slice(&std::fs::read(run_dir.join("results.json")).unwrap()).unwrap();
    assert_eq!(results["verdict"], "valid", "{results:#}");
    assert_eq!(results["seed"], 42);
    assert_eq!(results["replicas"].as_array().unwrap().len(), 4);
    assert_eq!(
        results["counts"]["total"]["ok"].as_u64().unwrap(),
        ok as u64
    );
    let test: serde_json::Value =
        serde_json::from_slice(&std::fs::read(run_dir.join("test.json")).unwrap()).unwrap();
    assert_eq!(test["config"]["workload"], workload);
    assert!(test["reproduce"].as_str().unwrap().contains("--seed 42"));
    for i in 0..4 {
        let log = run_dir.join(format!("replicas/{i}/replica.log"));
        assert!(log.is_file(), "{} missing", log.display());
    }
    assert!(
        replicas_of(&store).is_empty(),
        "replicas outlived a finished run"
    );
    // The stored run re-checks to the same verdict.
    let analyzed = std::process::Command::new(env!("CARGO_BIN_EXE_harness"))
        .arg("analyze")
        .arg(&run_dir)
        .output()
        .unwrap();
    assert_eq!(analyzed.status.code(), Some(0), "{analyzed:?}");
}

#[test]
fn register_workload_is_valid() {
    run_workload("register");
}

#[test]
fn kv_workload_is_valid() {
    run_workload("kv");
}

#[test]
fn append_workload_is_valid() {
    run_workload("append");
}

#[test]
fn indeterminate_ops_retire_their_process() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("store");
    // A 1 ms timeout: nearly every operation ends `info`.
    let mut run = HarnessRun::start(
        &store,
        &[
            "--time-limit",
            "2",
            "--rate",
            "20",
            "--concurrency",
            "2",
            "--op-timeout-ms",
            "1",
            "--stall",
            "1",
        ],
    );
    let status = run.wait(Duration::from_secs(60));
    // The history is linearizable, but no operation completes within 1 ms: with no
    // fault in force progress was promised, so the availability oracle (its bound
    // fixed at 1 s) fails the run (exit 1), and only it (the final reads get a timeout
    // that covers the cluster's view-change back-off, so they complete).
    let results: serde_json::Value =
        serde_json::from_slice(&std::fs::read(run.run_dir().join("results.json")).unwrap())
            .unwrap();
    for o in results["oracles"].as_array().unwrap() {
        let expected = if o["name"] == "availability" {
            "invalid"
        } else {
            "valid"
        };
        assert_eq!(o["verdict"], expected, "{o:#}\nstderr:\n{}", run.stderr());
    }
    assert_eq!(status.code(), Some(1), "stderr:\n{}", run.stderr());
    let ops = read_jsonl(&run.run_dir().join("history.jsonl")).unwrap();
    let infos: Vec<_> = ops.iter().filter(|op| op.kind == OpType::Info).collect();
    assert!(infos.len() >= 5, "{} info ops", infos.len());
    // No process invokes again after an info.
    for info in &infos {
        let later = ops
            .iter()
            .filter(|op| op.index > info.index && op.process == info.process)
            .count();
        assert_eq!(later, 0, "process {} was not retired", info.process);
    }
}

#[test]
fn the_seed_fixes_what_each_process_invokes() {
    let dir = tempfile::tempdir().unwrap();
    let invocations = |name: &str| {
        let store = dir.path().join(name);
        let args = [
            "--workload",
            "kv",
            "--time-limit",
            "2",
            "--rate",
            "40",
            "--seed",
            "7",
        ];
        let mut run = HarnessRun::start(&store, &args);
        let status = run.wait(Duration::from_secs(60));
        assert_eq!(status.code(), Some(0), "stderr:\n{}", run.stderr());
        let ops = read_jsonl(&run.run_dir().join("history.jsonl")).unwrap();
        ops.into_iter()
            .filter(|op| op.process == Process::Client(0) && op.kind == OpType::Invoke)
            .map(|op| (op.f, op.key, op.value))
            .collect::<Vec<_>>()
    };
    let (a, b) = (invocations("a"), invocations("b"));
    let common = a.len().min(b.len());
    assert!(common >= 5, "process 0 invoked only {common} ops");
    assert_eq!(a[..common], b[..common]);
}
