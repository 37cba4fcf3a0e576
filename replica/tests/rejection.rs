//! A receiver rejects what the paper says it must: altered or re-signed messages
//! (signature check), a PRE-PREPARE from a non-primary, a batch that does not match
//! its digest, a second PRE-PREPARE for the same view and sequence number, a second
//! vote from one sender, sequence numbers outside the watermarks; replays change
//! nothing.

mod sim;

use replica::config::ProtocolConfig;
use replica::core::{Input, Output};
use replica::crypto::Signed;
use replica::messages::{batch_digest, PeerMessage, PrePrepare, PrePrepareMsg, Prepare, Request};
use replica::state_machine::{OpResult, Operation};
use serde_json::json;
use sim::{Faults, Sim};

fn quiet() -> Faults {
    Faults {
        drop: 0.0,
        duplicate: 0.0,
        max_delay_ms: 0,
    }
}

fn sim() -> Sim {
    Sim::new(42, 1, 2, quiet(), ProtocolConfig::default())
}

fn request(sim: &Sim, client: usize, t: u64, v: i64) -> Signed<Request> {
    let (id, key) = &sim.client_keys[client];
    Signed::sign(
        Request {
            client: *id,
            timestamp: t,
            op: Operation::Write {
                key: "k".into(),
                value: json!(v),
            },
        },
        key,
    )
}

fn pre_prepare(sim: &Sim, from: usize, seq: u64, batch: Vec<Signed<Request>>) -> PrePrepareMsg {
    let header = Signed::sign(
        PrePrepare {
            view: 0,
            seq,
            digest: batch_digest(&batch),
            replica: from as u32,
        },
        &sim.keys[from],
    );
    PrePrepareMsg { header, batch }
}

fn prepare(
    sim: &Sim,
    from: usize,
    signer: usize,
    seq: u64,
    digest: replica::crypto::Digest,
) -> Signed<Prepare> {
    Signed::sign(
        Prepare {
            view: 0,
            seq,
            digest,
            replica: from as u32,
        },
        &sim.keys[signer],
    )
}

/// Delivers to replica 1 (a backup) after verification; None if verification failed.
fn to_backup(sim: &mut Sim, m: PeerMessage) -> Option<Vec<Output>> {
    let v = sim.verify(m)?;
    Some(sim.deliver(1, Input::Peer(v)))
}

fn rejected(outs: &[Output]) -> bool {
    outs.iter().any(|o| matches!(o, Output::Rejected { .. }))
}

fn prepares_sent(outs: &[Output]) -> usize {
    outs.iter()
        .filter(|o| matches!(o, Output::Broadcast(PeerMessage::Prepare(_))))
        .count()
}

#[test]
fn altered_message_fails_verification() {
    let mut s = sim();
    let pp = pre_prepare(&s, 0, 1, vec![request(&s, 0, 1, 1)]);
    let mut p = prepare(&s, 2, 2, 1, pp.header.body.digest);
    p.body.seq = 2;
    assert!(s.verify(PeerMessage::Prepare(p)).is_none());
    // A request inside the batch altered after the client signed it.
    let mut pp2 = pre_prepare(&s, 0, 1, vec![request(&s, 0, 1, 1)]);
    pp2.batch[0].body.op = Operation::Write {
        key: "k".into(),
        value: json!(666),
    };
    assert!(s.verify(PeerMessage::PrePrepare(pp2)).is_none());
}

#[test]
fn message_re_signed_by_another_replica_fails_verification() {
    let mut s = sim();
    let pp = pre_prepare(&s, 0, 1, vec![request(&s, 0, 1, 1)]);
    let forged = prepare(&s, 2, 3, 1, pp.header.body.digest);
    assert!(s.verify(PeerMessage::Prepare(forged)).is_none());
    let mut forged_pp = pp.clone();
    forged_pp.header = Signed::sign(forged_pp.header.body.clone(), &s.keys[3]);
    assert!(s.verify(PeerMessage::PrePrepare(forged_pp)).is_none());
}

#[test]
fn pre_prepare_from_a_backup_is_rejected() {
    let mut s = sim();
    let pp = pre_prepare(&s, 2, 1, vec![request(&s, 0, 1, 1)]);
    let outs = to_backup(&mut s, PeerMessage::PrePrepare(pp)).expect("validly signed by replica 2");
    assert!(rejected(&outs));
    assert_eq!(prepares_sent(&outs), 0);
}

#[test]
fn batch_not_matching_its_digest_is_rejected() {
    let mut s = sim();
    let mut pp = pre_prepare(&s, 0, 1, vec![request(&s, 0, 1, 1)]);
    pp.batch.push(request(&s, 1, 1, 2));
    let outs = to_backup(&mut s, PeerMessage::PrePrepare(pp)).unwrap();
    assert!(rejected(&outs));
    assert_eq!(prepares_sent(&outs), 0);
}

#[test]
fn second_pre_prepare_with_another_digest_is_rejected_and_replay_ignored() {
    let mut s = sim();
    let a = pre_prepare(&s, 0, 1, vec![request(&s, 0, 1, 1)]);
    let b = pre_prepare(&s, 0, 1, vec![request(&s, 1, 1, 2)]);
    let outs = to_backup(&mut s, PeerMessage::PrePrepare(a.clone())).unwrap();
    assert_eq!(prepares_sent(&outs), 1);
    let outs = to_backup(&mut s, PeerMessage::PrePrepare(b)).unwrap();
    assert!(rejected(&outs));
    assert_eq!(prepares_sent(&outs), 0);
    let outs = to_backup(&mut s, PeerMessage::PrePrepare(a)).unwrap();
    assert!(
        outs.is_empty(),
        "a replayed pre-prepare changes nothing: {outs:?}"
    );
}

#[test]
fn one_vote_per_sender() {
    let mut s = sim();
    let pp = pre_prepare(&s, 0, 1, vec![request(&s, 0, 1, 1)]);
    let d = pp.header.body.digest;
    to_backup(&mut s, PeerMessage::PrePrepare(pp)).unwrap();
    let msg = PeerMessage::Prepare(prepare(&s, 2, 2, 1, d));
    let first = to_backup(&mut s, msg).unwrap();
    // 2f = 2 prepares (ours and replica 2's): prepared, so we commit.
    assert!(first
        .iter()
        .any(|o| matches!(o, Output::Broadcast(PeerMessage::Commit(_)))));
    let msg = PeerMessage::Prepare(prepare(&s, 2, 2, 1, d));
    let replay = to_backup(&mut s, msg).unwrap();
    assert!(replay.is_empty());
    let other = replica::crypto::Digest::of(b"other");
    let msg = PeerMessage::Prepare(prepare(&s, 2, 2, 1, other));
    let double = to_backup(&mut s, msg).unwrap();
    assert!(rejected(&double));
    // The primary does not vote with PREPARE.
    let msg = PeerMessage::Prepare(prepare(&s, 0, 0, 1, d));
    let from_primary = to_backup(&mut s, msg).unwrap();
    assert!(rejected(&from_primary));
}

#[test]
fn sequence_numbers_outside_the_watermarks_are_rejected() {
    let mut s = sim();
    let high = ProtocolConfig::default().log_window;
    let pp = pre_prepare(&s, 0, high + 1, vec![request(&s, 0, 1, 1)]);
    let outs = to_backup(&mut s, PeerMessage::PrePrepare(pp)).unwrap();
    assert!(rejected(&outs));
    let pp0 = pre_prepare(&s, 0, 0, vec![request(&s, 0, 1, 1)]);
    assert!(rejected(
        &to_backup(&mut s, PeerMessage::PrePrepare(pp0)).unwrap()
    ));
}

#[test]
fn wrong_view_is_rejected() {
    let mut s = sim();
    let batch = vec![request(&s, 0, 1, 1)];
    let header = Signed::sign(
        PrePrepare {
            view: 1,
            seq: 1,
            digest: batch_digest(&batch),
            replica: 1,
        },
        &s.keys[1],
    );
    let v = s
        .verify(PeerMessage::PrePrepare(PrePrepareMsg { header, batch }))
        .unwrap();
    let outs = s.deliver(2, Input::Peer(v));
    assert!(rejected(&outs));
}

#[test]
fn repeated_request_is_answered_from_the_client_table() {
    let mut s = sim();
    let req = request(&s, 0, 7, 5);
    s.clients[0].ops = vec![];
    for i in 0..4 {
        let v = s.verifier.verified_request(req.clone()).unwrap();
        s.deliver(i, Input::Request(v));
    }
    s.settle(200);
    for r in &s.replicas {
        assert_eq!(r.last_executed(), 1);
    }
    let digest_before = s.replicas[0].status().state_digest;
    let v = s.verifier.verified_request(req).unwrap();
    let outs = s.deliver(0, Input::Request(v));
    let replies: Vec<_> = outs
        .iter()
        .filter_map(|o| match o {
            Output::Reply { reply, .. } => Some(reply.result.clone()),
            _ => None,
        })
        .collect();
    assert_eq!(replies, vec![OpResult::Write]);
    assert!(
        !outs.iter().any(|o| matches!(o, Output::Broadcast(_))),
        "not ordered again"
    );
    assert_eq!(s.replicas[0].status().state_digest, digest_before);
    // An older timestamp is refused.
    let old = s.verifier.verified_request(request(&s, 0, 3, 9)).unwrap();
    assert!(rejected(&s.deliver(0, Input::Request(old))));
}

/// Regression (found by the harness's `shift` Byzantine mutator): a faulty primary
/// ordered one request at two sequence numbers; every replica applied it once (the
/// client table), but `/log` listed it in both batches, so the exactly-once oracle
/// saw a double execution that never happened. The log lists what took effect.
#[test]
fn request_ordered_at_two_seqs_is_logged_once() {
    let mut s = sim();
    let r = request(&s, 0, 1, 1);
    let mut logged = Vec::new();
    for seq in [1, 2] {
        let pp = pre_prepare(&s, 0, seq, vec![r.clone()]);
        let d = pp.header.body.digest;
        let mut outs = to_backup(&mut s, PeerMessage::PrePrepare(pp)).unwrap();
        for from in [2, 3] {
            let p = prepare(&s, from, from, seq, d);
            outs.extend(to_backup(&mut s, PeerMessage::Prepare(p)).unwrap());
        }
        for from in [0, 2, 3] {
            let c = Signed::sign(
                replica::messages::Commit {
                    view: 0,
                    seq,
                    digest: d,
                    replica: from as u32,
                },
                &s.keys[from],
            );
            outs.extend(to_backup(&mut s, PeerMessage::Commit(c)).unwrap());
        }
        for o in outs {
            if let Output::Executed(e) = o {
                logged.push((e.seq, e.requests.len()));
            }
        }
    }
    assert_eq!(
        logged,
        vec![(1, 1), (2, 0)],
        "seq 2 re-orders the request: executed, not applied"
    );
}
