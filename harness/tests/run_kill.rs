//! Process hygiene: a harness killed with SIGKILL mid-run leaves no replica behind and a
//! history that parses.

mod common;

use checker::history::read_jsonl;
use common::{replicas_of, HarnessRun};
use std::time::{Duration, Instant};

#[test]
fn sigkill_of_the_harness_leaves_no_replica_and_a_readable_history() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("store");
    let mut run = HarnessRun::start(&store, &["--time-limit", "120", "--rate", "30"]);
    let history = store.join("latest").join("history.jsonl");
    let started = Instant::now();
    loop {
        let oks = std::fs::read_to_string(&history)
            .map(|text| text.matches("\"type\":\"ok\"").count())
            .unwrap_or(0);
        if oks >= 5 {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "no ok ops after 60 s; stderr:\n{}",
            run.stderr()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    let pids = std::fs::read_to_string(store.join("latest").join("pids")).unwrap();
    assert_eq!(pids.lines().count(), 4, "{pids}");
    assert_eq!(replicas_of(&store).len(), 4, "the replicas are running");
    let harness_pid = run.pid();
    run.kill();
    let killed = Instant::now();
    while !replicas_of(&store).is_empty() {
        assert!(
            killed.elapsed() < Duration::from_secs(5),
            "replicas {:?} survived the harness (pid {harness_pid})",
            replicas_of(&store)
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    let ops = read_jsonl(&history).expect("the history of a killed run parses");
    assert!(ops.len() >= 10, "{} ops", ops.len());
    checker::history::pair(ops).expect("and pairs");
}
