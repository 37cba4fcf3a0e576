//! Checkpoints every K = 4: stable on 2f+1 matching CHECKPOINTs, then the low
//! watermark moves, the log below it is garbage-collected, and the primary may
//! propose up to the new high watermark; a replica left behind the stable
//! checkpoint catches up by state transfer.

use replica::core::Output;
use replica::crypto::Digest;
use replica::messages::PeerMessage;

use super::actions::{lines, pre_prepares};
use super::net::{params, seed_from_env, write, Envelope, Net};

/// Client 0 writes `k = t` for t in `from..=to`, one request at a time, each sent to
/// the primary and every message delivered before the next.
fn writes(net: &mut Net, from: u64, to: u64) {
    for t in from..=to {
        let r = net.request(0, t, write("k", t as i64));
        net.submit(0, r);
        net.deliver_all();
    }
}

fn checkpoint_from(e: &Envelope, senders: &[usize]) -> bool {
    matches!(e.msg, PeerMessage::Checkpoint(_)) && senders.contains(&e.from)
}

fn persisted_stable(out: &[Output]) -> bool {
    lines(out).iter().any(|l| l == "persist stable")
}

#[test]
fn checkpoint_is_stable_on_2f_plus_1_votes_and_the_log_below_is_collected() {
    let mut net = Net::new();
    writes(&mut net, 1, 3);
    for i in 0..4 {
        let s = net.status(i);
        assert_eq!(
            (s.stable_checkpoint, s.log_slots),
            (0, 3),
            "expected replica {i} to keep 3 slots before checkpoint 4"
        );
    }
    writes(&mut net, 4, 4);
    for i in 0..4 {
        let s = net.status(i);
        assert_eq!(
            (s.stable_checkpoint, s.low_watermark, s.high_watermark),
            (4, 4, 12),
            "expected replica {i} to make checkpoint 4 stable and move its window to (4, 12]"
        );
        assert_eq!(
            s.log_slots, 0,
            "expected replica {i} to garbage-collect the slots up to 4"
        );
        assert_eq!(
            s.stable_digest, s.state_digest,
            "expected replica {i}'s stable state to be its state after seq 4"
        );
        assert!(
            net.first_output(i, "persist stable").is_some(),
            "expected replica {i} to persist the stable snapshot"
        );
    }
}

#[test]
fn checkpoint_with_2f_votes_is_not_stable_until_the_third_arrives() {
    let mut net = Net::new();
    net.hold(|e| checkpoint_from(e, &[2, 3]));
    writes(&mut net, 1, 4);
    for i in [0, 1] {
        assert_eq!(
            (net.status(i).stable_checkpoint, net.status(i).log_slots),
            (0, 4),
            "expected replica {i}, with its own and one other CHECKPOINT (2f), to keep its log"
        );
    }
    for i in [2, 3] {
        assert_eq!(
            net.status(i).stable_checkpoint,
            4,
            "expected replica {i}, with 0's, 1's and its own CHECKPOINT, to be stable at 4"
        );
    }
    let from_2 = net.take_held(|e| e.from == 2 && e.to == 0).remove(0);
    let out = net.deliver(from_2);
    assert!(
        persisted_stable(&out),
        "expected the third CHECKPOINT to make 4 stable at replica 0: {:?}",
        lines(&out)
    );
    assert_eq!(
        (net.status(0).low_watermark, net.status(0).log_slots),
        (4, 0),
        "expected replica 0 to move h to 4 and drop its log"
    );
}

#[test]
fn checkpoint_vote_with_another_digest_does_not_count_and_cannot_be_changed() {
    let mut net = Net::new();
    net.hold(|e| checkpoint_from(e, &[2, 3]));
    writes(&mut net, 1, 4);
    let forged = net.forge_checkpoint(3, 4, Digest::of(b"a state nobody has"));
    let out = net
        .inject(0, PeerMessage::Checkpoint(forged))
        .expect("signed with replica 3's key");
    assert!(
        !persisted_stable(&out) && net.status(0).stable_checkpoint == 0,
        "expected a CHECKPOINT with another digest not to count towards 2f+1"
    );
    let genuine_3 = net.take_held(|e| e.from == 3 && e.to == 0).remove(0);
    let out = net.deliver(genuine_3);
    assert_eq!(
        lines(&out),
        ["reject checkpoint"],
        "expected replica 3's second CHECKPOINT for 4 to be rejected as a second vote"
    );
    assert_eq!(
        net.status(0).stable_checkpoint,
        0,
        "expected checkpoint 4 still not stable at replica 0"
    );
    let genuine_2 = net.take_held(|e| e.from == 2 && e.to == 0).remove(0);
    assert!(
        persisted_stable(&net.deliver(genuine_2)),
        "expected replica 2's matching CHECKPOINT to make 4 stable at replica 0"
    );
}

#[test]
fn primary_stops_at_the_high_watermark_and_goes_on_once_a_checkpoint_is_stable() {
    let mut p = params();
    p.batch_size = 1;
    let mut net = Net::with(seed_from_env(7), p);
    let mut proposed = Vec::new();
    for t in 1..=10 {
        let r = net.request(0, t, write("k", t as i64));
        let out = net.submit(0, r);
        proposed.extend(pre_prepares(&out).iter().map(|pp| pp.header.body.seq));
    }
    assert_eq!(
        proposed,
        (1..=8).collect::<Vec<u64>>(),
        "expected full one-request batches up to H = 8 and no further"
    );
    assert_eq!(
        net.status(0).pending_requests,
        2,
        "expected two requests waiting"
    );
    let done = net.run_until(3_000, |n| {
        (0..4).all(|i| n.replicas[i].last_executed() == 10)
    });
    assert!(
        done,
        "expected all ten requests executed everywhere within 3 s"
    );
    net.assert_agreement(&[0, 1, 2, 3]);
    let stable = net.first_output(0, "persist stable");
    let ninth = net.first_output(0, "broadcast pre-prepare v0 n9");
    assert!(
        matches!((stable, ninth), (Some(s), Some(n)) if s < n),
        "expected the primary to propose seq 9 only after checkpoint 4 was stable there"
    );
    for i in 0..4 {
        assert_eq!(
            (net.status(i).low_watermark, net.status(i).high_watermark),
            (8, 16),
            "expected replica {i}'s window to be (8, 16] after checkpoint 8"
        );
    }
}

#[test]
fn votes_below_the_low_watermark_are_ignored_and_pre_prepares_rejected() {
    let mut net = Net::new();
    writes(&mut net, 1, 4);
    assert_eq!(
        net.status(1).low_watermark,
        4,
        "expected h = 4 at replica 1"
    );
    let d = Digest::of(b"old");
    let prepare = net.forge_prepare(2, 0, 2, d);
    let commit = net.forge_commit(2, 0, 2, d);
    for msg in [PeerMessage::Prepare(prepare), PeerMessage::Commit(commit)] {
        let out = net.inject(1, msg).expect("signed by replica 2");
        assert!(
            out.is_empty(),
            "expected a vote for garbage-collected seq 2 to be ignored: {:?}",
            lines(&out)
        );
    }
    let r = net.request(1, 1, write("x", 1));
    let pp = net.forge_pre_prepare(0, 0, 2, vec![r]);
    let out = net
        .inject(1, PeerMessage::PrePrepare(pp))
        .expect("signed by the primary");
    assert_eq!(
        lines(&out),
        ["reject pre-prepare"],
        "expected seq 2 <= h rejected"
    );
    assert_eq!(
        net.rejected_by(1, "pre-prepare"),
        ["seq 2 outside (4, 12]"],
        "expected the reason to name the window"
    );
    assert_eq!(
        net.status(1).log_slots,
        0,
        "expected no slot created below h"
    );
}

#[test]
fn replica_behind_the_stable_checkpoint_catches_up_by_state_transfer() {
    let mut net = Net::new();
    net.pause(3);
    writes(&mut net, 1, 12);
    for i in 0..3 {
        assert_eq!(
            net.status(i).stable_checkpoint,
            12,
            "expected replica {i} stable at 12 without replica 3"
        );
    }
    net.resume(3);
    let r = net.request(0, 13, write("k", 13));
    net.submit(0, r);
    let caught_up = net.run_until(5_000, |n| n.replicas[3].last_executed() == 13);
    assert!(
        caught_up,
        "expected replica 3 to fetch checkpoint 12 and execute seq 13 within 5 s"
    );
    let s = net.status(3);
    assert_eq!(
        (s.state_transfers, s.stable_checkpoint),
        (1, 12),
        "expected one state transfer, of checkpoint 12"
    );
    net.assert_agreement(&[0, 1, 2, 3]);
    let transferred: Vec<bool> = net.executed[3].iter().map(|e| e.transferred).collect();
    let mut expected = vec![true; 12];
    expected.push(false);
    assert_eq!(
        transferred, expected,
        "expected seqs 1..=12 learnt by state transfer and 13 executed"
    );
}
