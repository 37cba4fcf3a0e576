//! The normal case, one step at a time: REQUEST -> PRE-PREPARE -> PREPARE -> COMMIT
//! -> execute in sequence order -> REPLY; and agreement on one commit order when the
//! network delivers messages in any (seeded) order.

use rand::Rng;
use replica::messages::PeerMessage;
use replica::state_machine::OpResult;
use serde_json::json;

use super::actions::{batch_ids, lines, pre_prepares};
use super::net::{append, cas, params, read, seed_from_env, write, Envelope, Net};

fn is_kind(e: &Envelope, kind: &str) -> bool {
    e.msg.kind() == kind
}

/// Takes the in-flight message of `kind` from `from` to `to`.
fn take_one(net: &mut Net, kind: &str, from: usize, to: usize) -> Envelope {
    let mut taken = net.take(|e| is_kind(e, kind) && e.from == from && e.to == to);
    assert_eq!(
        taken.len(),
        1,
        "expected exactly one {kind} from {from} to {to} in flight"
    );
    taken.remove(0)
}

#[test]
fn primary_orders_a_request_with_a_pre_prepare_persisted_before_it_is_sent() {
    let mut net = Net::new();
    let r = net.request(0, 1, write("k", 1));
    let out = net.submit(0, r.clone());
    assert_eq!(
        lines(&out),
        ["persist pre-prepare", "broadcast pre-prepare v0 n1"],
        "expected the primary to persist, then broadcast, a PRE-PREPARE for seq 1"
    );
    let pp = &pre_prepares(&out)[0];
    assert_eq!(pp.batch, vec![r], "expected the batch to hold the request");
    assert_eq!(
        pp.header.body.digest,
        replica::messages::batch_digest(&pp.batch),
        "expected the signed digest to be the batch's"
    );
    assert_eq!(
        net.in_flight().len(),
        3,
        "expected one PRE-PREPARE in flight to each backup"
    );
}

#[test]
fn backup_prepares_on_the_pre_prepare_and_commits_after_2f_matching_prepares() {
    let mut net = Net::new();
    let r = net.request(0, 1, write("k", 1));
    net.submit(0, r);
    let pp_to_1 = take_one(&mut net, "pre-prepare", 0, 1);
    let out = net.deliver(pp_to_1);
    assert_eq!(
        lines(&out),
        [
            "persist pre-prepare",
            "persist prepare",
            "broadcast prepare v0 n1"
        ],
        "expected backup 1 to persist the PRE-PREPARE and its PREPARE, then send it"
    );
    let pp_to_2 = take_one(&mut net, "pre-prepare", 0, 2);
    net.deliver(pp_to_2);
    let prepare_2_to_1 = take_one(&mut net, "prepare", 2, 1);
    let out = net.deliver(prepare_2_to_1);
    assert_eq!(
        lines(&out),
        [
            "persist prepares",
            "persist commit",
            "broadcast commit v0 n1"
        ],
        "expected backup 1, prepared with its own and 2's PREPARE (2f), to persist the \
         certificate and its COMMIT, then send the COMMIT"
    );
}

#[test]
fn replica_executes_on_2f_plus_1_commits_and_then_replies() {
    let mut net = Net::new();
    net.hold(|e| e.msg.kind() == "commit");
    let r = net.request(0, 1, write("k", 1));
    net.submit(0, r);
    net.deliver_all();
    assert!(
        net.executed.iter().all(Vec::is_empty),
        "expected no execution while every COMMIT is held"
    );
    let mut to_3 = net.take_held(|e| e.to == 3);
    to_3.sort_by_key(|e| e.from);
    assert_eq!(to_3.len(), 3, "expected a COMMIT from 0, 1 and 2 to 3");
    let first = net.deliver(to_3.remove(0));
    assert_eq!(
        lines(&first),
        Vec::<String>::new(),
        "expected no execution on 2 COMMITs (3's own and 0's)"
    );
    let second = net.deliver(to_3.remove(0));
    assert_eq!(
        lines(&second),
        ["persist executed", "execute n1", "reply to c0 t1"],
        "expected replica 3 to execute seq 1 on the third COMMIT (2f+1), then reply"
    );
    assert_eq!(
        net.replicas[3].state().get("k"),
        Some(&json!(1)),
        "expected the write applied at replica 3"
    );
}

#[test]
fn one_write_executes_at_seq_1_everywhere_and_every_replica_replies() {
    let mut net = Net::new();
    let r = net.request(1, 7, write("k", 42));
    net.submit_to_all(&r);
    net.deliver_all();
    net.assert_agreement(&[0, 1, 2, 3]);
    for i in 0..4 {
        let log = &net.executed[i];
        assert_eq!(log.len(), 1, "expected replica {i} to execute one batch");
        assert_eq!(
            log[0]
                .requests
                .iter()
                .map(|q| (q.client, q.timestamp))
                .collect::<Vec<_>>(),
            [(1, 7)],
            "expected replica {i}'s seq 1 to hold the request of client 1, t 7"
        );
    }
    let mut replies = net.replies_to(1, 7);
    replies.sort_by_key(|(i, _)| *i);
    assert_eq!(
        replies.iter().map(|(i, _)| *i).collect::<Vec<_>>(),
        [0, 1, 2, 3],
        "expected one reply from each of the 4 replicas"
    );
    for (i, reply) in &replies {
        assert_eq!(
            (reply.view, reply.replica as usize, &reply.result),
            (0, *i, &OpResult::Write),
            "expected replica {i}'s reply to carry view 0, its id and the write's result"
        );
    }
}

/// Three clients append to one list, each waiting for f+1 replies before sending its
/// next request; the seeded RNG decides when each sends and which message moves next.
fn concurrent_appends(seed: u64) -> Net {
    const PER_CLIENT: u64 = 5;
    let mut net = Net::with(seed, params());
    let mut sent = [0u64; 3];
    for _ in 0..10_000 {
        for c in 0..3u64 {
            let t = sent[c as usize];
            let answered = t == 0 || net.replies_to(c, t).len() >= 2;
            if t < PER_CLIENT && answered && net.rng().gen_bool(0.3) {
                let value = (100 * c + t + 1) as i64;
                let r = net.request(c, t + 1, append("list", value));
                net.submit_to_all(&r);
                sent[c as usize] += 1;
            }
        }
        let finished = (0..3).all(|c| net.replies_to(c, PER_CLIENT).len() >= 2);
        if finished {
            net.deliver_all();
            return net;
        }
        if !net.deliver_one() {
            net.advance(super::net::TICK_MS);
        }
    }
    panic!("expected three clients to finish {PER_CLIENT} appends each (seed {seed})");
}

#[test]
fn concurrent_clients_agree_on_one_commit_order_under_seeded_reordering() {
    let base = seed_from_env(11);
    for seed in [base, base + 1, base + 2] {
        let net = concurrent_appends(seed);
        net.assert_agreement(&[0, 1, 2, 3]);
        let list = net.replicas[0].state().get("list").cloned();
        let items: Vec<u64> = list
            .and_then(|l| l.as_array().cloned())
            .unwrap_or_default()
            .iter()
            .filter_map(|v| v.as_u64())
            .collect();
        assert_eq!(
            items.len(),
            15,
            "expected 15 appends applied once each, got {items:?} (seed {seed})"
        );
        for c in 0..3u64 {
            let mine: Vec<u64> = items.iter().copied().filter(|v| v / 100 == c).collect();
            let expected: Vec<u64> = (1..=5).map(|t| 100 * c + t).collect();
            assert_eq!(
                mine, expected,
                "expected client {c}'s appends once each in its own order (seed {seed})"
            );
        }
        for i in 1..4 {
            assert_eq!(
                net.replicas[i].state(),
                net.replicas[0].state(),
                "expected replica {i} to end in replica 0's state (seed {seed})"
            );
        }
    }
}

#[test]
fn same_seed_gives_the_same_run_and_another_seed_another_order() {
    let seed = seed_from_env(21);
    let a = concurrent_appends(seed);
    let b = concurrent_appends(seed);
    assert!(!a.trace.is_empty(), "expected a trace of the run");
    assert_eq!(
        a.trace, b.trace,
        "expected two runs with seed {seed} to deliver and emit exactly the same"
    );
    let c = concurrent_appends(seed + 1);
    assert_ne!(
        a.trace,
        c.trace,
        "expected seeds {seed} and {} to order the network differently",
        seed + 1
    );
}

#[test]
fn results_follow_the_agreed_order() {
    let mut net = Net::new();
    let first = net.request(0, 1, cas("k", None, 1));
    let second = net.request(1, 1, cas("k", None, 2));
    let out_first = net.submit(0, first);
    let out_second = net.submit(0, second);
    assert_eq!(
        pre_prepares(&out_first)
            .iter()
            .map(batch_ids)
            .collect::<Vec<_>>(),
        [vec![(0, 1)]],
        "expected client 0's cas ordered first, alone, at seq 1"
    );
    assert!(
        pre_prepares(&out_second).is_empty(),
        "expected client 1's cas to wait while seq 1 is in flight (pipeline depth 1)"
    );
    net.deliver_all();
    let reader = net.request(2, 1, read("k"));
    net.submit(0, reader);
    net.deliver_all();
    net.assert_agreement(&[0, 1, 2, 3]);
    for (c, ok) in [(0, true), (1, false)] {
        let replies = net.replies_to(c, 1);
        assert_eq!(replies.len(), 4, "expected 4 replies to client {c}");
        assert!(
            replies
                .iter()
                .all(|(_, r)| r.result == OpResult::Cas { ok }),
            "expected every replica to answer client {c}'s cas with ok = {ok}: {replies:?}"
        );
    }
    assert!(
        net.replies_to(2, 1)
            .iter()
            .all(|(_, r)| r.result == OpResult::Read { value: json!(1) }),
        "expected the read after both cas to return 1 everywhere"
    );
}

#[test]
fn replica_that_missed_the_pre_prepare_catches_up_by_status() {
    let mut net = Net::new();
    net.hold(|e| e.to == 3 && matches!(e.msg, PeerMessage::PrePrepare(_)));
    let r = net.request(0, 1, write("k", 5));
    net.submit(0, r);
    net.deliver_all();
    assert_eq!(
        [0, 1, 2].map(|i| net.replicas[i].last_executed()),
        [1, 1, 1],
        "expected 0, 1 and 2 to commit seq 1 among themselves (2f+1)"
    );
    assert_eq!(
        net.replicas[3].last_executed(),
        0,
        "expected replica 3 not to execute on votes without the PRE-PREPARE"
    );
    net.take_held(|_| true);
    net.release();
    let caught_up = net.run_until(1_000, |n| n.replicas[3].last_executed() == 1);
    assert!(
        caught_up,
        "expected replica 3 to fetch seq 1 within 1 s by STATUS"
    );
    assert!(
        net.first_output(3, "broadcast status").is_some(),
        "expected replica 3 to have asked with a STATUS"
    );
    net.assert_agreement(&[0, 1, 2, 3]);
}
