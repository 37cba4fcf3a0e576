//! The runner against stand-in replicas: it keeps to its schedule when replicas are
//! slow, a fault that fails half-way is recorded and healed for what it did, and a
//! replica it cannot bring back (its start fails, or once started it does not answer
//! `/status` within the restart wait) is reported lost.

mod support;

use nemesis::replica_http::CALL_TIMEOUT;
use nemesis::{ClockFault, Fault, Runner, Target};
use replica::clock::ClockSettings;
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
/// The restart wait of the lost-replica tests.
const WAIT_MS: u64 = 600;

fn ms(ms: u64) -> Duration {
    Duration::from_millis(ms)
}

fn kill(nodes: &[usize]) -> Fault {
    Fault::Kill {
        target: Target::Nodes(nodes.to_vec()),
    }
}

fn pause(nodes: &[usize]) -> Fault {
    Fault::Pause {
        target: Target::Nodes(nodes.to_vec()),
    }
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
#[tokio::test]
async fn a_kill_that_fails_half_way_keeps_what_it_killed_and_restarts_exactly_those() {
    let cluster = Cluster::start(&[0, 0, 0, 0]).await;
    let processes = cluster.processes();
    processes.fail("kill", 1);
    let observer = FakeObserver::default();
    let s = schedule(vec![(
        50,
        300,
        Fault::Kill {
            target: Target::Nodes(vec![0, 1, 2]),
        },
    )]);
    let runner = Runner::new(s, None, cluster.http(), &processes, &observer, SEED);
    play(runner, ms(1_000)).await;
    assert_eq!(
        processes.calls(),
        [
            ("kill", 0),
            ("kill", 1),
            ("kill", 2),
            ("start", 0),
            ("start", 2)
        ]
    );
    assert_eq!(observer.names(), ["kill", "error", "start"]);
    let kill = &observer.values("kill")[0];
    assert_eq!(kill["nodes"], json!([0, 2]));
    assert_eq!(kill["failed"], json!([1]));
    let error = &observer.values("error")[0];
    assert_eq!(error["fault"], json!("kill nodes [0, 1, 2]"));
    assert_eq!(error["nodes"], json!([1]));
    assert!(error["error"]
        .as_str()
        .unwrap()
        .contains("kill told to fail"));
    assert_eq!(observer.values("start")[0]["nodes"], json!([0, 2]));
}

#[tokio::test]
async fn a_pause_that_fails_half_way_resumes_exactly_what_it_paused() {
    let cluster = Cluster::start(&[0, 0, 0, 0]).await;
    let processes = cluster.processes();
    processes.fail("pause", 2);
    let observer = FakeObserver::default();
    let s = schedule(vec![(
        50,
        300,
        Fault::Pause {
            target: Target::Nodes(vec![1, 2, 3]),
        },
    )]);
    let runner = Runner::new(s, None, cluster.http(), &processes, &observer, SEED);
    play(runner, ms(1_000)).await;
    assert_eq!(
        processes.calls(),
        [
            ("pause", 1),
            ("pause", 2),
            ("pause", 3),
            ("resume", 1),
            ("resume", 3)
        ]
    );
    assert_eq!(observer.names(), ["pause", "error", "resume"]);
    let pause = &observer.values("pause")[0];
    assert_eq!(pause["nodes"], json!([1, 3]));
    assert_eq!(pause["failed"], json!([2]));
    assert_eq!(observer.values("error")[0]["nodes"], json!([2]));
    assert_eq!(observer.values("resume")[0]["nodes"], json!([1, 3]));
}

#[tokio::test]
async fn a_kill_that_fails_everywhere_records_the_error_and_heals_nothing() {
    let cluster = Cluster::start(&[0, 0, 0, 0]).await;
    let processes = cluster.processes();
    processes.fail("kill", 0);
    processes.fail("kill", 3);
    let observer = FakeObserver::default();
    let s = schedule(vec![(
        50,
        300,
        Fault::Kill {
            target: Target::Nodes(vec![0, 3]),
        },
    )]);
    let runner = Runner::new(s, None, cluster.http(), &processes, &observer, SEED);
    play(runner, ms(1_000)).await;
    assert_eq!(processes.calls(), [("kill", 0), ("kill", 3)]);
    assert_eq!(observer.names(), ["error"]);
    assert_eq!(observer.values("error")[0]["nodes"], json!([0, 3]));
}

#[tokio::test]
async fn a_clock_fault_that_fails_on_one_replica_still_skews_and_resets_the_others() {
    let cluster = Cluster::start(&[0, 0, 0, 0]).await;
    // Replica 1 refuses the skew (but accepts the reset).
    cluster.replicas[1].script_clock(&[false]);
    let processes = cluster.processes();
    let observer = FakeObserver::default();
    let s = schedule(vec![(50, 300, bump(&[0, 1, 2], 700))]);
    let runner = Runner::new(s, None, cluster.http(), &processes, &observer, SEED);
    play(runner, ms(1_000)).await;
    assert_eq!(observer.names(), ["bump-clock", "error", "reset-clock"]);
    let bumped = &observer.values("bump-clock")[0];
    assert_eq!(bumped["nodes"], json!([0, 2]));
    assert_eq!(bumped["failed"], json!([1]));
    assert_eq!(observer.values("error")[0]["nodes"], json!([1]));
    let skew = ClockSettings {
        offset_ms: 700,
        rate: 1.0,
    };
    let normal = ClockSettings::default();
    assert_eq!(cluster.replicas[0].clocks(), [skew, normal]);
    assert_eq!(cluster.replicas[2].clocks(), [skew, normal]);
    // A failed call may still have landed: its clock is reset too.
    assert_eq!(cluster.replicas[1].clocks(), [normal]);
    assert!(cluster.replicas[3].clocks().is_empty());
    assert_eq!(observer.values("reset-clock")[0]["nodes"], json!([0, 1, 2]));
}

#[tokio::test]
async fn a_clock_reset_that_fails_on_one_replica_still_resets_the_others() {
    let cluster = Cluster::start(&[0, 0, 0, 0]).await;
    // Replica 0 takes the skew but refuses the reset.
    cluster.replicas[0].script_clock(&[true, false]);
    let processes = cluster.processes();
    let observer = FakeObserver::default();
    let s = schedule(vec![(50, 300, bump(&[0, 1, 2], -400))]);
    let runner = Runner::new(s, None, cluster.http(), &processes, &observer, SEED);
    play(runner, ms(1_000)).await;
    assert_eq!(observer.names(), ["bump-clock", "reset-clock", "error"]);
    let normal = ClockSettings::default();
    for i in [1, 2] {
        assert_eq!(cluster.replicas[i].clocks().last(), Some(&normal));
    }
    let reset = &observer.values("reset-clock")[0];
    assert_eq!(reset["nodes"], json!([1, 2]));
    assert_eq!(reset["failed"], json!([0]));
    let error = &observer.values("error")[0];
    assert_eq!(error["heal"], json!("clock bump -400 ms nodes [0, 1, 2]"));
    assert_eq!(error["nodes"], json!([0]));
}

#[tokio::test]
async fn a_resume_that_fails_on_one_replica_still_resumes_the_others_and_names_it() {
    let cluster = Cluster::start(&[0, 0, 0, 0]).await;
    let processes = cluster.processes();
    processes.fail("resume", 1);
    let observer = FakeObserver::default();
    let s = schedule(vec![(
        50,
        300,
        Fault::Pause {
            target: Target::Nodes(vec![1, 2]),
        },
    )]);
    let runner = Runner::new(s, None, cluster.http(), &processes, &observer, SEED);
    play(runner, ms(1_000)).await;
    assert_eq!(
        processes.calls(),
        [("pause", 1), ("pause", 2), ("resume", 1), ("resume", 2)]
    );
    assert_eq!(observer.names(), ["pause", "resume", "error"]);
    let resume = &observer.values("resume")[0];
    assert_eq!(resume["nodes"], json!([2]));
    assert_eq!(resume["failed"], json!([1]));
    let error = &observer.values("error")[0];
    assert_eq!(error["heal"], json!("pause nodes [1, 2]"));
    assert_eq!(error["nodes"], json!([1]));
}

#[tokio::test]
async fn a_restart_that_fails_reports_the_replica_lost() {
    let cluster = Cluster::start(&[0, 0, 0, 0]).await;
    let processes = cluster.processes();
    processes.fail("start", 2);
    let observer = FakeObserver::default();
    let s = schedule(vec![(50, 300, kill(&[1, 2]))]);
    let runner = Runner::new(s, None, cluster.http(), &processes, &observer, SEED)
        .with_restart_wait(ms(WAIT_MS));
    play(runner, ms(1_000)).await;
    assert_eq!(
        processes.calls(),
        [("kill", 1), ("kill", 2), ("start", 1), ("start", 2)]
    );
    assert_eq!(observer.names(), ["kill", "start", "error", "replica-lost"]);
    let start = &observer.values("start")[0];
    assert_eq!(start["nodes"], json!([1]));
    assert_eq!(start["failed"], json!([2]));
    let lost = observer.lost();
    assert_eq!(lost.len(), 1, "{lost:?}");
    assert_eq!(lost[0].0, 2);
    assert!(lost[0].1.contains("restart failed"), "{}", lost[0].1);
    assert!(lost[0].1.contains("start told to fail"), "{}", lost[0].1);
    let op = &observer.values("replica-lost")[0];
    assert_eq!(op["node"], json!(2));
    assert_eq!(op["fault"], json!("kill nodes [1, 2]"));
    assert_eq!(op["reason"], json!(lost[0].1));
}

#[tokio::test]
async fn a_restarted_replica_that_never_answers_is_reported_lost_without_holding_up_the_schedule() {
    let cluster = Cluster::start(&[0, 0, 0, 0]).await;
    let processes = cluster.processes();
    // Replica 1 starts without error but never answers; replica 2 comes back.
    processes.stay_down(1);
    let observer = FakeObserver::default();
    let s = schedule(vec![
        (50, 300, kill(&[1, 2])),
        (400, 500, pause(&[3])),
        (1_500, 1_600, pause(&[3])),
    ]);
    let runner = Runner::new(s, None, cluster.http(), &processes, &observer, SEED)
        .with_restart_wait(ms(WAIT_MS));
    let applied = play(runner, ms(2_500)).await;
    let names: Vec<&str> = applied.iter().map(|a| a.f.as_str()).collect();
    assert_eq!(
        names,
        [
            "kill",
            "start",
            "pause",
            "resume",
            "replica-lost",
            "pause",
            "resume"
        ]
    );
    // The first pause came on time although replica 1 had not answered yet.
    assert!(applied[2].at_ms < 400 + 200, "{applied:?}");
    // Replica 1 was reported once the wait was over, during the schedule.
    assert!(applied[4].at_ms >= 300 + WAIT_MS, "{applied:?}");
    assert!(applied[4].at_ms < 1_500, "{applied:?}");
    let lost = observer.lost();
    assert_eq!(lost.len(), 1, "{lost:?}");
    assert_eq!(lost[0].0, 1);
    assert!(lost[0].1.contains("did not answer"), "{}", lost[0].1);
    assert_eq!(
        observer.values("replica-lost")[0]["fault"],
        json!("kill nodes [1, 2]")
    );
}

#[tokio::test]
async fn the_final_heal_waits_for_restarted_replicas_up_to_the_restart_wait() {
    let cluster = Cluster::start(&[0, 0, 0, 0]).await;
    let processes = cluster.processes();
    processes.stay_down(0);
    let observer = FakeObserver::default();
    // The workload ends while replica 0 is down: the final heal restarts it.
    let s = schedule(vec![(50, 10_000, kill(&[0]))]);
    let runner = Runner::new(s, None, cluster.http(), &processes, &observer, SEED)
        .with_restart_wait(ms(WAIT_MS));
    let t = Instant::now();
    play(runner, ms(300)).await;
    let took = t.elapsed().as_millis() as u64;
    assert_eq!(observer.names(), ["kill", "start", "replica-lost"]);
    assert_eq!(observer.lost()[0].0, 0);
    assert!(took >= 300 + WAIT_MS, "returned after {took} ms");
    assert!(took < 300 + WAIT_MS + 1_500, "returned after {took} ms");
}

#[tokio::test]
async fn a_rolling_restart_whose_start_fails_reports_the_replica_lost_and_stops() {
    let cluster = Cluster::start(&[0, 0, 0, 0]).await;
    let processes = cluster.processes();
    processes.fail("start", 1);
    let observer = FakeObserver::default();
    let s = schedule(vec![(50, 5_000, Fault::RollingRestart)]);
    let runner = Runner::new(s, None, cluster.http(), &processes, &observer, SEED)
        .with_restart_wait(ms(WAIT_MS));
    play(runner, ms(1_000)).await;
    assert_eq!(
        processes.calls(),
        [("kill", 0), ("start", 0), ("kill", 1), ("start", 1)]
    );
    assert_eq!(
        observer.names(),
        ["kill", "start", "kill", "error", "replica-lost"]
    );
    let error = &observer.values("error")[0];
    assert_eq!(error["fault"], json!("rolling restart"));
    assert_eq!(error["nodes"], json!([1]));
    let lost = observer.lost();
    assert_eq!(lost.len(), 1, "{lost:?}");
    assert_eq!(lost[0].0, 1);
    assert!(lost[0].1.contains("start told to fail"), "{}", lost[0].1);
}

#[tokio::test]
async fn a_rolling_restart_reports_a_replica_that_never_answers_and_goes_on() {
    let cluster = Cluster::start(&[0, 0, 0, 0]).await;
    let processes = cluster.processes();
    processes.stay_down(2);
    let observer = FakeObserver::default();
    let s = schedule(vec![(50, 5_000, Fault::RollingRestart)]);
    let runner = Runner::new(s, None, cluster.http(), &processes, &observer, SEED)
        .with_restart_wait(ms(WAIT_MS));
    play(runner, ms(3_000)).await;
    let calls = processes.calls();
    assert_eq!(calls.len(), 8, "{calls:?}");
    let lost = observer.lost();
    assert_eq!(lost.len(), 1, "{lost:?}");
    assert_eq!(lost[0].0, 2);
    assert!(lost[0].1.contains("did not answer"), "{}", lost[0].1);
    assert_eq!(
        observer.values("replica-lost")[0]["fault"],
        json!("rolling restart")
    );
}

#[tokio::test]
async fn a_restarted_replica_paused_before_it_answers_is_waited_for_again_on_resume() {
    let cluster = Cluster::start(&[0, 0, 0, 0]).await;
    let processes = cluster.processes();
    // Both restarted at 200 ms and paused at 300 ms, before they answer; after the
    // resume at 1 s replica 1 answers, replica 2 never does.
    processes.start_slowly(1, ms(300));
    processes.stay_down(2);
    let observer = FakeObserver::default();
    let s = schedule(vec![(50, 200, kill(&[1, 2])), (300, 1_000, pause(&[1, 2]))]);
    let runner = Runner::new(s, None, cluster.http(), &processes, &observer, SEED)
        .with_restart_wait(ms(WAIT_MS));
    let applied = play(runner, ms(3_000)).await;
    let names: Vec<&str> = applied.iter().map(|a| a.f.as_str()).collect();
    assert_eq!(names, ["kill", "start", "pause", "resume", "replica-lost"]);
    let lost = observer.lost();
    assert_eq!(lost.len(), 1, "{lost:?}");
    assert_eq!(lost[0].0, 2);
    assert!(applied[4].at_ms >= 1_000 + WAIT_MS, "{applied:?}");
}
