//! Batching at the primary: a batch leaves when it is full, or when the pipeline has
//! room and its oldest request waited the batch delay; requests that arrive while
//! batches are in flight form the next batch.

use replica::config::ProtocolConfig;

use super::actions::{batch_ids, lines, pre_prepares, timers};
use super::net::{params, seed_from_env, write, Net};

fn with(f: impl FnOnce(&mut ProtocolConfig)) -> Net {
    let mut p = params();
    f(&mut p);
    Net::with(seed_from_env(7), p)
}

/// Submits a write from `client` (timestamp 1) to the primary; the batches it sent.
fn to_primary(net: &mut Net, client: u64) -> Vec<Vec<(u64, u64)>> {
    let r = net.request(client, 1, write("k", client as i64));
    let out = net.submit(0, r);
    pre_prepares(&out).iter().map(batch_ids).collect()
}

#[test]
fn requests_arriving_while_a_batch_is_in_flight_form_the_next_batch() {
    let mut net = Net::new();
    assert_eq!(
        to_primary(&mut net, 0),
        [vec![(0, 1)]],
        "expected the first request to leave at once, alone"
    );
    for c in 1..4 {
        assert_eq!(
            to_primary(&mut net, c),
            Vec::<Vec<(u64, u64)>>::new(),
            "expected request {c} to wait: pipeline depth 1 and seq 1 in flight"
        );
    }
    assert_eq!(
        net.status(0).pending_requests,
        3,
        "expected three requests pending"
    );
    net.deliver_all();
    net.assert_agreement(&[0, 1, 2, 3]);
    let seq2: Vec<(u64, u64)> = net.executed[0][1]
        .requests
        .iter()
        .map(|q| (q.client, q.timestamp))
        .collect();
    assert_eq!(
        seq2,
        [(1, 1), (2, 1), (3, 1)],
        "expected the three waiting requests, in arrival order, to form the batch at seq 2"
    );
    assert_eq!(
        net.replicas[0].last_executed(),
        2,
        "expected two batches for four requests"
    );
}

#[test]
fn a_full_batch_leaves_even_when_the_pipeline_is_full() {
    let mut net = with(|p| p.batch_size = 2);
    to_primary(&mut net, 0);
    assert!(
        to_primary(&mut net, 1).is_empty(),
        "expected a lone request to wait while seq 1 is in flight"
    );
    assert_eq!(
        to_primary(&mut net, 2),
        [vec![(1, 1), (2, 1)]],
        "expected a full batch (2 requests) to leave at once though seq 1 is in flight"
    );
    net.deliver_all();
    net.assert_agreement(&[0, 1, 2, 3]);
    assert_eq!(
        net.replicas[3].last_executed(),
        2,
        "expected both batches executed"
    );
}

#[test]
fn batch_delay_holds_a_partial_batch_until_its_deadline() {
    let mut net = with(|p| p.batch_delay_ms = 5);
    let a = net.request(0, 1, write("a", 1));
    assert_eq!(
        lines(&net.submit(0, a)),
        ["timer 5"],
        "expected the primary to wait for the batch delay (deadline 0 + 5 ms)"
    );
    net.now = 3;
    net.tick(0);
    let b = net.request(1, 1, write("b", 1));
    assert_eq!(
        lines(&net.submit(0, b)),
        ["timer 5"],
        "expected a second request to join the waiting batch, same deadline"
    );
    net.now = 4;
    assert_eq!(
        lines(&net.tick(0)),
        ["timer 5"],
        "expected no batch 1 ms before the deadline"
    );
    net.now = 5;
    let out = net.tick(0);
    assert_eq!(
        pre_prepares(&out).iter().map(batch_ids).collect::<Vec<_>>(),
        [vec![(0, 1), (1, 1)]],
        "expected one batch with both requests at the deadline"
    );
    net.deliver_all();
    net.assert_agreement(&[0, 1, 2, 3]);
}

#[test]
fn pipeline_depth_bounds_the_batches_in_flight() {
    let mut net = with(|p| p.pipeline_depth = 2);
    let mut batches = Vec::new();
    for c in 0..4 {
        batches.extend(to_primary(&mut net, c));
    }
    assert_eq!(
        batches,
        [vec![(0, 1)], vec![(1, 1)]],
        "expected two batches in flight (pipeline depth 2) and two requests waiting"
    );
    net.deliver_all();
    net.assert_agreement(&[0, 1, 2, 3]);
    let seq3: Vec<(u64, u64)> = net.executed[2][2]
        .requests
        .iter()
        .map(|q| (q.client, q.timestamp))
        .collect();
    assert_eq!(
        seq3,
        [(2, 1), (3, 1)],
        "expected the two waiting requests to form seq 3 once a batch executed"
    );
}

/// Regression: with its pipeline full and the batch delay passed, the primary asked
/// for a timer at the passed deadline (`pending_since + batch_delay <= now`) on every
/// request and tick. The shell ticks at once for a passed deadline, so the core spun
/// in a busy loop until a batch executed. Only a commit or execution can make room:
/// the primary must wait for it, with no timer in the past.
#[test]
fn primary_with_full_pipeline_sets_no_timer_in_the_past() {
    for delay in [0, 5] {
        let mut net = with(|p| p.batch_delay_ms = delay);
        let a = net.request(0, 1, write("a", 1));
        net.submit(0, a);
        net.now = delay;
        net.tick(0);
        assert_eq!(
            net.in_flight().len(),
            3,
            "expected seq 1 sent once the batch delay ({delay} ms) passed"
        );
        net.now += 1;
        net.tick(0);
        let b = net.request(1, 1, write("b", 1));
        let arrived = net.now;
        let out = net.submit(0, b);
        assert!(
            pre_prepares(&out).is_empty(),
            "expected the second request to wait: seq 1 fills the pipeline (depth 1)"
        );
        let expected: Vec<u64> = if delay > 0 {
            vec![arrived + delay]
        } else {
            vec![]
        };
        assert_eq!(
            timers(&out),
            expected,
            "expected a timer only for a batch delay not yet passed (delay {delay} ms, \
             request at {arrived} ms)"
        );
        for later in [arrived + delay, arrived + delay + 1, arrived + 50] {
            net.now = later;
            let out = net.tick(0);
            assert_eq!(
                timers(&out),
                Vec::<u64>::new(),
                "expected no timer at {later} ms: the delay passed and only an execution \
                 can make room in the pipeline; got {:?}",
                lines(&out)
            );
        }
        net.deliver_all();
        net.assert_agreement(&[0, 1, 2, 3]);
        assert_eq!(
            net.replicas[0].last_executed(),
            2,
            "expected the execution of seq 1 to send the waiting request as seq 2"
        );
    }
}
