//! The runner against stand-in replicas: it keeps to its schedule when replicas are
//! slow, and a fault that fails half-way is recorded and healed for what it did.

mod support;

use nemesis::replica_http::CALL_TIMEOUT;
use nemesis::{ClockFault, Fault, Runner, Target};
use serde_json::json;
use std::time::Duration;
use support::{play, schedule, Cluster, FakeObserver};
use tokio::time::Instant;

/// The per-call timeout of the runner's `/status` and `/clock` calls.
const CALL_TIMEOUT_MS: u64 = CALL_TIMEOUT.as_millis() as u64;
/// Scheduling slack allowed on a loaded machine.
const SLACK_MS: u64 = 400;
/// The run's seed.
const SEED: u64 = 7;

fn ms(ms: u64) -> Duration {
    Duration::from_millis(ms)
}

fn bump(nodes: &[usize], delta_ms: i64) -> Fault {
    Fault::Clock {
        target: Target::Nodes(nodes.to_vec()),
        fault: ClockFault::Bump { delta_ms },
    }
}

#[tokio::test]
async fn primary_asks_every_replica_at_once_and_the_highest_view_wins() {
    let cluster = Cluster::start(&[3, 7, 10, 5]).await;
    // Two replicas slower than the call timeout (their views do not count), one
    // slow but within it (its view, the highest, does).
    cluster.replicas[0].slow(1_500);
    cluster.replicas[3].slow(1_500);
    cluster.replicas[2].slow(300);
    let http = cluster.http();
    let t = Instant::now();
    let primary = tokio::time::timeout(ms(10_000), http.primary())
        .await
        .unwrap();
    let took = t.elapsed().as_millis() as u64;
    assert_eq!(primary, 2, "view 10 is the highest that answered in time");
    assert!(
        took <= CALL_TIMEOUT_MS + SLACK_MS,
        "primary() took {took} ms, more than one call timeout"
    );
}

#[tokio::test]
async fn slow_status_delays_a_fault_by_at_most_one_call_timeout() {
    // Replicas 0 and 1 take 1.5 s to answer /status; 2 reports the highest view
    // of those that answer in time, so it is the primary.
    let cluster = Cluster::start(&[9, 9, 6, 5]).await;
    cluster.replicas[0].slow(1_500);
    cluster.replicas[1].slow(1_500);
    let processes = cluster.processes();
    let observer = FakeObserver::default();
    let s = schedule(vec![(
        100,
        2_000,
        Fault::Kill {
            target: Target::Primary,
        },
    )]);
    let runner = Runner::new(s, None, cluster.http(), &processes, &observer, SEED);
    let applied = play(runner, ms(2_500)).await;
    let kill = applied.iter().find(|a| a.f == "kill").expect("a kill");
    assert!(
        kill.at_ms <= 100 + CALL_TIMEOUT_MS + SLACK_MS,
        "the kill due at 100 ms came at {} ms",
        kill.at_ms
    );
    assert_eq!(kill.value["nodes"], json!([2]));
}

#[tokio::test]
async fn a_fault_whose_heal_time_passed_before_it_could_start_is_skipped() {
    // Finding the primary for the kill takes a call timeout, by which time the
    // clock bump's window (100-400 ms) is over: it is skipped, not applied for 0 ms.
    let cluster = Cluster::start(&[9, 9, 6, 5]).await;
    cluster.replicas[0].slow(1_500);
    cluster.replicas[1].slow(1_500);
    let processes = cluster.processes();
    let observer = FakeObserver::default();
    let s = schedule(vec![
        (
            0,
            1_500,
            Fault::Kill {
                target: Target::Primary,
            },
        ),
        (100, 400, bump(&[3], 500)),
    ]);
    let runner = Runner::new(s, None, cluster.http(), &processes, &observer, SEED);
    let applied = play(runner, ms(2_000)).await;
    let names: Vec<&str> = applied.iter().map(|a| a.f.as_str()).collect();
    assert_eq!(names, ["kill", "skip", "start"], "{applied:?}");
    let skip = &observer.values("skip")[0];
    assert_eq!(skip["fault"], json!("clock bump 500 ms nodes [3]"));
    assert_eq!(skip["start_ms"], json!(100));
    assert_eq!(skip["stop_ms"], json!(400));
    assert!(skip["late_ms"].as_u64().unwrap() >= 300, "{skip}");
    assert!(cluster.replicas[3].clocks().is_empty());
    assert!(observer
        .in_force
        .lock()
        .unwrap()
        .iter()
        .all(|f| !f.contains("clock")));
}

#[tokio::test]
async fn a_fault_whose_heal_time_passes_while_finding_the_primary_is_skipped() {
    let cluster = Cluster::start(&[9, 9, 6, 5]).await;
    cluster.replicas[0].slow(1_500);
    cluster.replicas[1].slow(1_500);
    let processes = cluster.processes();
    let observer = FakeObserver::default();
    let s = schedule(vec![(
        50,
        600,
        Fault::Pause {
            target: Target::Primary,
        },
    )]);
    let runner = Runner::new(s, None, cluster.http(), &processes, &observer, SEED);
    play(runner, ms(1_500)).await;
    assert_eq!(observer.names(), ["skip"]);
    assert!(processes.calls().is_empty());
    let skip = &observer.values("skip")[0];
    assert_eq!(skip["fault"], json!("pause primary"));
    assert!(skip["late_ms"].as_u64().unwrap() >= 550, "{skip}");
}
