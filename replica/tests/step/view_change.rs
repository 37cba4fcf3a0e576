//! View change: a backup whose request does not execute within T sends VIEW-CHANGE;
//! f+1 of them make the others join; the new primary's NEW-VIEW carries 2f+1 of
//! them and O, which keeps every prepared batch at its sequence number and fills
//! gaps with null requests; a missing NEW-VIEW doubles the timeout.

use replica::crypto::Signed;
use replica::messages::{batch_digest, NewView, PeerMessage};
use replica::state_machine::OpResult;
use serde_json::json;

use super::actions::{batch_ids, lines, pre_prepares, view_changes};
use super::net::{append, params, seed_from_env, write, Envelope, Net, T_MS};

fn view_0_commit(e: &Envelope) -> bool {
    matches!(&e.msg, PeerMessage::Commit(c) if c.body.view == 0)
}

fn new_view(e: &Envelope) -> bool {
    matches!(e.msg, PeerMessage::NewView(_))
}

/// Runs until replicas 1, 2 and 3 are active in `view`.
fn until_view(net: &mut Net, view: u64, limit_ms: u64) -> bool {
    net.run_until(limit_ms, |n| {
        (1..4).all(|i| n.status(i).view == view && n.status(i).view_active)
    })
}

/// The NEW-VIEWs held so far (they are taken out of the network).
fn take_new_views(net: &mut Net) -> Vec<(Envelope, Signed<NewView>)> {
    net.take_held(new_view)
        .into_iter()
        .map(|e| match &e.msg {
            PeerMessage::NewView(nv) => (e.clone(), nv.clone()),
            _ => unreachable!("selected NEW-VIEWs"),
        })
        .collect()
}

#[test]
fn silent_primary_is_replaced_after_the_view_change_timeout() {
    let mut net = Net::new();
    net.pause(0);
    let r = net.request(0, 1, write("k", 1));
    net.submit_to_all(&r);
    net.run_for(T_MS - 20);
    assert!(
        (1..4).all(|i| net.status(i).view == 0 && net.status(i).view_active),
        "expected no view change before T = {T_MS} ms after the request was first held"
    );
    assert!(
        until_view(&mut net, 1, 200),
        "expected view 1 installed at 1, 2 and 3 just after T"
    );
    let persisted = net.first_output(2, "persist view-change");
    let sent = net.first_output(2, "broadcast view-change v1");
    assert!(
        matches!((persisted, sent), (Some(p), Some(s)) if p < s),
        "expected replica 2 to persist its VIEW-CHANGE before sending it"
    );
    assert!(
        net.run_until(500, |n| (1..4).all(|i| n.replicas[i].last_executed() == 1)),
        "expected the held request to execute in view 1"
    );
    let mut views: Vec<(usize, u64)> = net
        .replies_to(0, 1)
        .iter()
        .map(|(i, r)| (*i, r.view))
        .collect();
    views.sort();
    assert_eq!(
        views,
        [(1, 1), (2, 1), (3, 1)],
        "expected replies from 1, 2 and 3 in view 1"
    );
}

#[test]
fn new_view_carries_2f_plus_1_view_changes_and_an_empty_o_when_nothing_prepared() {
    let mut net = Net::new();
    net.pause(0);
    net.hold(new_view);
    let r = net.request(0, 1, write("k", 1));
    net.submit_to_all(&r);
    assert!(
        net.run_until(2 * T_MS, |n| n.held().len() == 2),
        "expected the new primary's NEW-VIEW on its way to 2 and 3"
    );
    for i in [2, 3] {
        assert_eq!(
            (net.status(i).view, net.status(i).view_active),
            (1, false),
            "expected replica {i} to wait in view 1 for the NEW-VIEW"
        );
    }
    let nvs = take_new_views(&mut net);
    for (env, nv) in &nvs {
        let b = &nv.body;
        let mut senders: Vec<u32> = b.view_changes.iter().map(|vc| vc.body.replica).collect();
        senders.sort();
        assert_eq!(
            (env.from, b.view, b.replica),
            (1, 1, 1),
            "expected NEW-VIEW(1) from primary 1"
        );
        assert_eq!(
            senders,
            [1, 2, 3],
            "expected 2f+1 VIEW-CHANGEs from distinct replicas"
        );
        assert!(
            b.view_changes
                .iter()
                .all(|vc| vc.body.view == 1 && vc.body.prepared.is_empty()),
            "expected VIEW-CHANGEs for view 1 without certificates (nothing prepared)"
        );
        assert!(b.pre_prepares.is_empty(), "expected an empty O");
    }
    net.release();
    for (env, _) in nvs {
        net.deliver(env);
    }
    assert!(
        until_view(&mut net, 1, 10),
        "expected 2 and 3 to install view 1"
    );
    assert!(
        net.run_until(1_000, |n| (1..4)
            .all(|i| n.replicas[i].last_executed() == 1)),
        "expected the request to execute in view 1"
    );
}

#[test]
fn prepared_batch_keeps_its_sequence_number_across_the_view_change() {
    let mut net = Net::new();
    net.hold(|e| view_0_commit(e) || new_view(e));
    let r = net.request(0, 1, append("list", 1));
    let digest = pre_prepares(&net.submit(0, r.clone()))[0]
        .header
        .body
        .digest;
    for i in 1..4 {
        net.submit(i, r.clone());
    }
    net.deliver_all();
    net.pause(0);
    assert!(
        net.run_until(2 * T_MS, |n| n
            .held()
            .iter()
            .filter(|e| new_view(e))
            .count()
            == 2),
        "expected a NEW-VIEW for view 1"
    );
    let nvs = take_new_views(&mut net);
    for (_, nv) in &nvs {
        let o: Vec<(u64, u64)> = nv
            .body
            .pre_prepares
            .iter()
            .map(|p| (p.header.body.view, p.header.body.seq))
            .collect();
        assert_eq!(o, [(1, 1)], "expected O to re-propose seq 1 in view 1");
        assert_eq!(
            nv.body.pre_prepares[0].header.body.digest, digest,
            "expected O to keep the batch prepared in view 0 at seq 1"
        );
        assert!(
            nv.body
                .view_changes
                .iter()
                .all(|vc| vc.body.prepared.len() == 1),
            "expected every VIEW-CHANGE to carry the certificate for seq 1"
        );
    }
    for (env, _) in nvs {
        net.deliver(env);
    }
    assert!(
        net.run_until(1_000, |n| (1..4)
            .all(|i| n.replicas[i].last_executed() == 1)),
        "expected seq 1 executed in view 1"
    );
    net.assert_agreement(&[1, 2, 3]);
    assert_eq!(
        net.executed_digests(1),
        [(1, digest)],
        "expected the view-0 batch at seq 1"
    );
    net.run_for(200);
    for i in 1..4 {
        assert_eq!(
            (
                net.replicas[i].last_executed(),
                net.replicas[i].state().get("list")
            ),
            (1, Some(&json!([1]))),
            "expected replica {i} to apply the append once, at seq 1 only"
        );
    }
}

#[test]
fn new_view_fills_a_gap_in_o_with_a_null_request() {
    let mut p = params();
    p.batch_size = 1;
    let mut net = Net::with(seed_from_env(7), p);
    let seq_2_pre_prepare =
        |e: &Envelope| matches!(&e.msg, PeerMessage::PrePrepare(pp) if pp.header.body.seq == 2);
    net.hold(move |e| view_0_commit(e) || new_view(e) || seq_2_pre_prepare(e));
    let rs: Vec<_> = (0..3)
        .map(|c| net.request(c, 1, write("k", c as i64)))
        .collect();
    for r in &rs {
        net.submit(0, r.clone());
    }
    for r in &rs {
        for i in 1..4 {
            net.submit(i, r.clone());
        }
    }
    net.deliver_all();
    net.pause(0);
    assert!(
        net.run_until(2 * T_MS, |n| n
            .held()
            .iter()
            .filter(|e| new_view(e))
            .count()
            == 2),
        "expected a NEW-VIEW for view 1"
    );
    let nvs = take_new_views(&mut net);
    let o = &nvs[0].1.body.pre_prepares;
    let got: Vec<(u64, Vec<(u64, u64)>)> = o
        .iter()
        .map(|pp| (pp.header.body.seq, batch_ids(pp)))
        .collect();
    assert_eq!(
        got,
        [(1, vec![(0, 1)]), (2, vec![]), (3, vec![(2, 1)])],
        "expected O: the prepared batches at 1 and 3, a null request at the unprepared 2"
    );
    assert_eq!(
        o[1].header.body.digest,
        batch_digest(&[]),
        "expected the null batch's digest at 2"
    );
    for (env, _) in nvs {
        net.deliver(env);
    }
    assert!(
        net.run_until(1_000, |n| (1..4)
            .all(|i| n.replicas[i].last_executed() == 4)),
        "expected seqs 1-3 of O and the orphaned request at 4 executed"
    );
    net.assert_agreement(&[1, 2, 3]);
    let log = &net.executed[3];
    assert!(
        log[1].requests.is_empty(),
        "expected seq 2 to execute as a null request"
    );
    assert_eq!(
        log[3]
            .requests
            .iter()
            .map(|q| (q.client, q.timestamp))
            .collect::<Vec<_>>(),
        [(1, 1)],
        "expected client 1's request, handed to the new primary, at seq 4"
    );
}

#[test]
fn f_plus_1_view_changes_make_a_replica_join() {
    let mut net = Net::new();
    net.pause(0);
    net.hold(|e| e.to == 3 && matches!(e.msg, PeerMessage::ViewChange(_)));
    let r = net.request(0, 1, write("k", 1));
    net.submit(1, r.clone());
    net.submit(2, r);
    assert!(
        net.run_until(2 * T_MS, |n| n.held().len() >= 2),
        "expected VIEW-CHANGEs from 1 and 2"
    );
    assert_eq!(
        net.status(3).view,
        0,
        "expected replica 3, which holds no request, to stay in view 0"
    );
    let first = net.take_held(|e| e.from == 1).remove(0);
    let out = net.deliver(first);
    assert!(
        view_changes(&out).is_empty() && net.status(3).view == 0,
        "expected one VIEW-CHANGE (f) not to move replica 3: {:?}",
        lines(&out)
    );
    let second = net.take_held(|e| e.from == 2).remove(0);
    let out = net.deliver(second);
    assert_eq!(
        lines(&out)[..2],
        ["persist view-change", "broadcast view-change v1"],
        "expected replica 3 to join view 1 on the second VIEW-CHANGE (f+1)"
    );
    assert_eq!(
        (net.status(3).view, net.status(3).view_active),
        (1, false),
        "expected replica 3 changing to view 1"
    );
}

#[test]
fn missing_new_view_doubles_the_timeout_and_the_next_view_takes_over() {
    let mut net = Net::new();
    net.pause(0);
    // Replica 1, primary of view 1, withholds its NEW-VIEW and PRE-PREPAREs in view 1.
    net.hold(|e| {
        e.from == 1
            && match &e.msg {
                PeerMessage::NewView(nv) => nv.body.view == 1,
                PeerMessage::PrePrepare(pp) => pp.header.body.view == 1,
                _ => false,
            }
    });
    let r = net.request(0, 1, write("k", 1));
    net.submit_to_all(&r);
    net.run_for(2 * T_MS);
    for i in [2, 3] {
        let s = net.status(i);
        assert_eq!(
            (s.view, s.view_active, s.view_change_timeout_ms),
            (1, false, T_MS),
            "expected replica {i} waiting T for NEW-VIEW(1) (its timer started at 1010 ms)"
        );
    }
    net.now += 10;
    for i in [2, 3] {
        net.tick(i);
        let s = net.status(i);
        assert_eq!(
            (s.view, s.view_active, s.view_change_timeout_ms),
            (2, false, 2 * T_MS),
            "expected replica {i} to move to view 2 with the timeout doubled to 2T"
        );
    }
    assert!(
        until_view(&mut net, 2, 1_000),
        "expected view 2 installed at 1, 2 and 3"
    );
    assert!(
        net.run_until(1_000, |n| (1..4)
            .all(|i| n.replicas[i].last_executed() == 1)),
        "expected the request executed in view 2"
    );
    for (i, reply) in net.replies_to(0, 1) {
        assert_eq!(
            (reply.view, reply.result),
            (2, OpResult::Write),
            "expected replica {i} to reply in view 2"
        );
    }
    for i in [2, 3] {
        assert_eq!(
            net.status(i).view_change_timeout_ms,
            T_MS,
            "expected replica {i}'s timeout back to T once a request executed"
        );
    }
}

#[test]
fn equivocating_primary_commits_nothing_and_the_view_change_settles_seq_1() {
    let mut net = Net::new();
    net.pause(0);
    let a = net.request(0, 1, write("k", 1));
    let b = net.request(1, 1, write("k", 2));
    for i in 1..4 {
        net.submit(i, a.clone());
        net.submit(i, b.clone());
    }
    let pp_a = net.forge_pre_prepare(0, 0, 1, vec![a]);
    let pp_b = net.forge_pre_prepare(0, 0, 1, vec![b]);
    for (to, pp) in [(1, &pp_a), (2, &pp_a), (3, &pp_b)] {
        net.inject(to, PeerMessage::PrePrepare(pp.clone()))
            .expect("signed by primary 0");
    }
    net.deliver_all();
    assert!(
        (1..4).all(|i| net.replicas[i].last_executed() == 0),
        "expected no replica to execute either batch (no 2f+1 COMMITs for one digest)"
    );
    let out = net
        .inject(3, PeerMessage::PrePrepare(pp_a.clone()))
        .expect("signed by primary 0");
    assert_eq!(
        lines(&out),
        ["reject pre-prepare"],
        "expected a second PRE-PREPARE for (v0, n1) rejected"
    );
    assert!(
        until_view(&mut net, 1, 2 * T_MS),
        "expected view 1 installed"
    );
    assert!(
        net.run_until(1_000, |n| (1..4)
            .all(|i| n.replicas[i].last_executed() == 2)),
        "expected both requests executed in view 1"
    );
    net.assert_agreement(&[1, 2, 3]);
    assert_eq!(
        net.executed_digests(3)[0].1,
        pp_a.header.body.digest,
        "expected seq 1 to be A, the batch 1 and 2 prepared, at replica 3 too"
    );
    assert_eq!(
        net.replicas[3].state().get("k"),
        Some(&json!(2)),
        "expected B applied after A"
    );
}

#[test]
fn new_view_whose_o_differs_from_its_view_changes_is_rejected() {
    let mut net = Net::new();
    net.hold(|e| view_0_commit(e) || new_view(e));
    let r = net.request(0, 1, write("k", 1));
    net.submit_to_all(&r);
    net.deliver_all();
    net.pause(0);
    assert!(
        net.run_until(2 * T_MS, |n| n
            .held()
            .iter()
            .filter(|e| new_view(e))
            .count()
            == 2),
        "expected a NEW-VIEW for view 1"
    );
    let (genuine_env, genuine) = take_new_views(&mut net).remove(0);
    let key = net.keys[1].clone();
    let resign = |body: NewView| PeerMessage::NewView(Signed::sign(body, &key));
    let mut empty_o = genuine.body.clone();
    empty_o.pre_prepares.clear();
    let mut short_v = genuine.body.clone();
    short_v.view_changes.pop();
    let mut other_batch = genuine.body.clone();
    let other = net.request(3, 9, write("k", 666));
    other_batch.pre_prepares[0] = net.forge_pre_prepare(1, 1, 1, vec![other]);
    for (body, reason) in [
        (empty_o, "O has 0 pre-prepares, expected 1"),
        (short_v, "2 of 3 VIEW-CHANGEs"),
        (other_batch, "O differs at seq 1"),
    ] {
        let out = net
            .inject(genuine_env.to, resign(body))
            .expect("signed by replica 1");
        assert!(
            lines(&out).contains(&"reject new-view".to_string()),
            "expected '{reason}' rejected"
        );
        assert_eq!(
            net.rejected_by(genuine_env.to, "new-view")
                .last()
                .map(String::as_str),
            Some(reason),
            "expected the rejection to say why"
        );
        assert!(
            !net.status(genuine_env.to).view_active,
            "expected view 1 not installed"
        );
    }
    net.deliver(genuine_env.clone());
    assert!(
        net.status(genuine_env.to).view_active,
        "expected the genuine NEW-VIEW installed"
    );
}

#[test]
fn old_primary_that_missed_the_view_change_is_brought_forward_by_the_new_view() {
    let mut net = Net::new();
    net.pause(0);
    let first = net.request(0, 1, write("k", 1));
    net.submit_to_all(&first);
    assert!(
        until_view(&mut net, 1, 2 * T_MS),
        "expected view 1 without replica 0"
    );
    net.resume(0);
    let second = net.request(0, 2, write("k", 2));
    net.submit_to_all(&second);
    assert!(
        net.run_until(2_000, |n| n.status(0).view == 1
            && n.status(0).view_active
            && n.replicas[0].last_executed() == 2),
        "expected replica 0, back in view 0, to install view 1 from the NEW-VIEW and \
         execute both requests"
    );
    net.assert_agreement(&[0, 1, 2, 3]);
}

#[test]
fn view_change_after_a_stable_checkpoint_starts_o_above_it() {
    let mut net = Net::new();
    for t in 1..=4 {
        let r = net.request(0, t, write("k", t as i64));
        net.submit(0, r);
        net.deliver_all();
    }
    net.hold(|e| view_0_commit(e) || new_view(e));
    let fifth = net.request(0, 5, write("k", 5));
    net.submit_to_all(&fifth);
    net.deliver_all();
    net.pause(0);
    assert!(
        net.run_until(2 * T_MS, |n| n
            .held()
            .iter()
            .filter(|e| new_view(e))
            .count()
            == 2),
        "expected a NEW-VIEW for view 1"
    );
    let nvs = take_new_views(&mut net);
    let b = &nvs[0].1.body;
    assert!(
        b.view_changes
            .iter()
            .all(|vc| vc.body.stable_seq == 4 && vc.body.checkpoint_proof.len() == 3),
        "expected every VIEW-CHANGE to start from checkpoint 4 with 2f+1 CHECKPOINTs"
    );
    let o: Vec<u64> = b.pre_prepares.iter().map(|p| p.header.body.seq).collect();
    assert_eq!(
        o,
        [5],
        "expected O to hold only seq 5, above the stable checkpoint"
    );
    for (env, _) in nvs {
        net.deliver(env);
    }
    assert!(
        net.run_until(1_000, |n| (1..4)
            .all(|i| n.replicas[i].last_executed() == 5)),
        "expected seq 5 executed in view 1"
    );
    net.assert_agreement(&[1, 2, 3]);
}
