//! Byzantine replicas through the proxy, end to end: each mutator on one faulty replica
//! of four keeps every oracle valid and clients making progress (and no lie is
//! accepted: the history stays linearizable); f+1 coordinated faulty replicas are
//! caught; more than f without --allow-unsafe-byzantine is refused.

mod common;

use common::run::{run, Outcome};
use common::HarnessRun;
use std::time::Duration;

/// One faulty replica (the first primary, so the mutators that need the primary act)
/// using `mutator` for the whole workload.
fn one_faulty(mutator: &str, seed: &str) -> Outcome {
    let out = run(
        &[
            "--seed",
            seed,
            "--byzantine-replicas",
            "0",
            "--byzantine-mutators",
            mutator,
        ],
        None,
    );
    // The whole workload is a fault window; progress must still be made in its
    // second half, and the final reads after the heal must complete.
    out.assert_healthy_after(5.0);
    let start = out.nemesis("start-byzantine");
    assert_eq!(start.len(), 1, "one start-byzantine op");
    assert_eq!(start[0].value["nodes"], serde_json::json!([0]));
    let stop = out.nemesis("stop-byzantine");
    assert_eq!(stop.len(), 1, "one stop-byzantine op");
    let mutated = &out.results["faults"]["byzantine"];
    assert!(
        mutated["by_mutator"][mutator].is_object(),
        "{mutator} mutated no message: {mutated:#}"
    );
    if !matches!(mutator, "lie" | "withhold" | "censor") {
        assert_reaches_the_protocol(&out, mutator);
    }
    out
}

/// The correct replicas received `mutator`'s messages, and either accepted at least
/// half of them or refused them for a protocol reason, not for format or signature
/// (a mutator refused there tests nothing).
fn assert_reaches_the_protocol(out: &Outcome, mutator: &str) -> Option<String> {
    let m = &out.results["faults"]["byzantine"];
    let received = m["received"][mutator].as_u64().unwrap_or(0);
    assert!(
        received > 0,
        "no replica received a {mutator} message: {m:#}"
    );
    let rejected: Vec<(String, u64)> = m["rejected"][mutator]
        .as_object()
        .map(|r| {
            let mut v: Vec<(String, u64)> = r
                .iter()
                .map(|(k, n)| (k.clone(), n.as_u64().unwrap_or(0)))
                .collect();
            v.sort_by_key(|(why, n)| (std::cmp::Reverse(*n), why.clone()));
            v
        })
        .unwrap_or_default();
    let refused: u64 = rejected.iter().map(|(_, n)| n).sum();
    let top = rejected.first().map(|(why, _)| why.clone());
    assert!(
        2 * (received - refused.min(received)) >= received
            || !matches!(top.as_deref(), Some("bad-signature" | "malformed")),
        "{mutator}: {refused} of {received} refused, mostly for {top:?}: {m:#}"
    );
    top
}

/// A 14-s schedule: replica 1 Byzantine with `mutators` from 0 to 13 s, and the first
/// primary (replica 0) cut off from 2 s to `heal` s, so a view change happens.
fn replica_1_faulty_while_the_primary_is_cut(mutators: &str, heal: u32) -> String {
    format!(
        "[[fault]]\nat = 0\nheal = 13\nkind = \"byzantine\"\nnodes = [1]\nmutators = \"{mutators}\"\n\n\
         [[fault]]\nat = 2\nheal = {heal}\nkind = \"partition\"\npartition = \"primary\"\n"
    )
}

#[test]
fn equivocate() {
    one_faulty("equivocate", "31");
}

#[test]
fn double_vote() {
    one_faulty("double-vote", "32");
}

#[test]
fn shift() {
    one_faulty("shift", "33");
}

#[test]
fn forge_view_change_and_bad_new_view() {
    // VIEW-CHANGE and NEW-VIEW messages flow only in a view change: isolating the
    // primary (replica 0) brings one about, and faulty replica 1 then sends a forged
    // VIEW-CHANGE and, as the next primary, a bad NEW-VIEW.
    let out = run(
        &["--seed", "34", "--time-limit", "14"],
        Some(&replica_1_faulty_while_the_primary_is_cut(
            "forge-view-change,bad-new-view",
            5,
        )),
    );
    out.assert_healthy_after(8.0);
    let m = &out.results["faults"]["byzantine"];
    for mutator in ["forge-view-change", "bad-new-view"] {
        assert!(m["by_mutator"][mutator].is_object(), "{mutator}: {m:#}");
        assert_reaches_the_protocol(&out, mutator);
    }
}

#[test]
fn fake_primary() {
    // A backup's own PRE-PREPAREs are refused for their sender: that is the test.
    let out = run(
        &[
            "--seed",
            "40",
            "--byzantine-replicas",
            "1",
            "--byzantine-mutators",
            "fake-primary",
        ],
        None,
    );
    out.assert_healthy_after(5.0);
    let top = assert_reaches_the_protocol(&out, "fake-primary");
    assert_eq!(top.as_deref(), Some("wrong-sender"));
}

#[test]
fn spurious_view_change() {
    // Each correct replica accepts the faulty replica's call for the next view (that
    // one replica alone cannot move the view is a unit test of the nemesis: a view
    // change of a loaded machine's own would blur it here).
    let out = one_faulty("spurious-view-change", "41");
    let top = assert_reaches_the_protocol(&out, "spurious-view-change");
    assert_eq!(top, None, "a well-formed VIEW-CHANGE was refused");
}

#[test]
fn duplicate_request() {
    // The faulty primary proposes requests twice in a batch: exactly-once holds.
    let out = one_faulty("duplicate-request", "42");
    assert_eq!(out.oracle("exactly-once")["verdict"], "valid");
}

#[test]
fn bad_state() {
    // Replica 0 is cut off while the others move more than a checkpoint interval on;
    // back, it fetches the state from replica 1 first (replicas ask their successor),
    // which is faulty and lies: the STATE must be refused for its proof, and replica 0
    // must catch up from another.
    let out = run(
        &[
            "--seed",
            "43",
            "--time-limit",
            "14",
            "--replica-arg=--checkpoint-interval",
            "--replica-arg=16",
            "--replica-arg=--log-window",
            "--replica-arg=32",
        ],
        Some(&replica_1_faulty_while_the_primary_is_cut("bad-state", 7)),
    );
    out.assert_healthy_after(9.0);
    let top = assert_reaches_the_protocol(&out, "bad-state");
    assert_eq!(top.as_deref(), Some("invalid-proof"));
}

#[test]
fn lie() {
    one_faulty("lie", "35");
}

#[test]
fn withhold() {
    one_faulty("withhold", "36");
}

#[test]
fn censor() {
    let out = one_faulty("censor", "37");
    // The censoring primary is replaced (before the per-request timer it never was:
    // the other clients' progress kept re-arming the backups' timers), and the
    // censored client's requests execute at the correct replicas.
    let censored = out.nemesis("start-byzantine")[0].value["censor"]
        .as_u64()
        .unwrap();
    let views: u64 = out.results["faults"]["view_changes"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(serde_json::Value::as_u64)
        .sum();
    assert!(views > 0, "no view change replaced the censoring primary");
    let log: serde_json::Value = serde_json::from_slice(
        &std::fs::read(out.dir.path().join("store/latest/replicas/2/executed.json")).unwrap(),
    )
    .unwrap();
    let served = log
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|e| e["requests"].as_array().cloned().unwrap_or_default())
        .filter(|r| r["client"] == censored)
        .count();
    assert!(
        served > 0,
        "replica 2 executed no request of censored client {censored}"
    );
}

#[test]
fn replay() {
    one_faulty("replay", "38");
}

#[test]
fn fuzz() {
    one_faulty("fuzz", "39");
}

#[test]
fn f_plus_one_coordinated_faulty_replicas_are_caught() {
    // The primary equivocates and a second faulty replica votes, to each receiver, for
    // what the primary sent it: with f+1 = 2 faulty of 4, correct replicas can commit
    // different batches at one sequence number, or the cluster stops for good.
    let out = run(
        &[
            "--seed",
            "2",
            "--byzantine-replicas",
            "0,1",
            // `alternate`, not `equivocate`: the correct replicas 2 and 3 are told
            // different batches at every sequence number, not at half of them.
            "--byzantine-mutators",
            "alternate,double-vote",
            "--allow-unsafe-byzantine",
            "--time-limit",
            "20",
        ],
        None,
    );
    assert_eq!(out.status, Some(1), "stderr:\n{}", out.stderr);
    let bad: Vec<&str> = out.results["oracles"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|o| o["verdict"] == "invalid")
        .map(|o| o["name"].as_str().unwrap())
        .collect();
    assert!(
        bad.contains(&"agreement") || bad.contains(&"linearizability"),
        "a safety oracle must catch f+1 faulty replicas; invalid: {bad:?}"
    );
}

#[test]
fn more_than_f_byzantine_replicas_are_refused_without_the_flag() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("store");
    let mut harness = HarnessRun::start(&store, &["--byzantine", "2"]);
    let status = harness.wait(Duration::from_secs(30));
    assert_eq!(status.code(), Some(254), "stderr:\n{}", harness.stderr());
    assert!(
        harness.stderr().contains("--allow-unsafe-byzantine"),
        "{}",
        harness.stderr()
    );
    assert!(!store.exists(), "a run directory was made");
    let mut bad = HarnessRun::start(&store, &["--byzantine-mutators", "gaslight"]);
    assert_eq!(bad.wait(Duration::from_secs(30)).code(), Some(254));
    assert!(
        bad.stderr().contains("unknown Byzantine mutator"),
        "{}",
        bad.stderr()
    );
}
