//! Bad input is refused: forged signatures by the receiver's verifier, and by the
//! core every authentic message that breaks the protocol (wrong sender, view, digest,
//! window, second votes, malformed certificates, numbers past the wire bound), with
//! no effect on the replica's state.

use replica::crypto::{Digest, Signed};
use replica::messages::{PeerMessage, PreparedCert, ViewChange, MAX_WIRE_NUMBER};
use replica::state_machine::Operation;

use super::actions::lines;
use super::net::{write, Net};

/// Delivers `msg` to backup 1; panics if its verifier refuses it.
fn to_backup(net: &mut Net, msg: PeerMessage) -> Vec<String> {
    lines(&net.inject(1, msg).expect("a validly signed message"))
}

/// Asserts that replica 1 rejected a `kind` message, and why.
fn assert_rejected(net: &Net, out: &[String], kind: &str, reason: &str) {
    assert_eq!(
        out,
        [format!("reject {kind}")],
        "expected the {kind} rejected, nothing else"
    );
    assert_eq!(
        net.rejected_by(1, kind).last().map(String::as_str),
        Some(reason),
        "expected the {kind} rejected because: {reason}"
    );
}

#[test]
fn forged_signatures_are_refused_before_the_core_sees_them() {
    let mut net = Net::new();
    let r = net.request(0, 1, write("k", 1));
    let pp = net.forge_pre_prepare(0, 0, 1, vec![r.clone()]);
    let mut as_2 = net.forge_prepare(3, 0, 1, pp.header.body.digest);
    as_2.body.replica = 2;
    assert!(
        net.inject(1, PeerMessage::Prepare(as_2)).is_err(),
        "expected a PREPARE claiming replica 2 but signed by 3 refused"
    );
    let mut altered = pp.clone();
    altered.batch[0].body.op = Operation::Write {
        key: "k".into(),
        value: 666.into(),
    };
    assert!(
        net.inject(1, PeerMessage::PrePrepare(altered)).is_err(),
        "expected a batch with a request altered after the client signed it refused"
    );
    let stranger = Signed::sign(
        replica::messages::Request {
            client: 99,
            ..r.body.clone()
        },
        net.client_key(0),
    );
    assert!(
        net.inject(1, PeerMessage::Relay(stranger)).is_err(),
        "expected a request from an unknown client refused"
    );
    let s = net.status(1);
    assert_eq!(
        (s.log_slots, s.rejected, net.refused),
        (0, 0, 0),
        "expected the core untouched by refused messages"
    );
}

#[test]
fn pre_prepare_from_a_backup_is_rejected() {
    let mut net = Net::new();
    let r = net.request(0, 1, write("k", 1));
    let pp = net.forge_pre_prepare(2, 0, 1, vec![r]);
    let out = to_backup(&mut net, PeerMessage::PrePrepare(pp));
    assert_rejected(&net, &out, "pre-prepare", "sender 2 is not the primary");
    assert_eq!(net.status(1).log_slots, 0, "expected no slot for it");
}

#[test]
fn pre_prepare_whose_batch_does_not_match_its_digest_is_rejected() {
    let mut net = Net::new();
    let r = net.request(0, 1, write("k", 1));
    let extra = net.request(1, 1, write("k", 2));
    let mut pp = net.forge_pre_prepare(0, 0, 1, vec![r]);
    pp.batch.push(extra);
    let out = to_backup(&mut net, PeerMessage::PrePrepare(pp));
    assert_rejected(&net, &out, "pre-prepare", "digest does not match the batch");
}

#[test]
fn pre_prepare_outside_the_watermarks_is_rejected() {
    let mut net = Net::new();
    let r = net.request(0, 1, write("k", 1));
    for seq in [9, 0] {
        let pp = net.forge_pre_prepare(0, 0, seq, vec![r.clone()]);
        let out = to_backup(&mut net, PeerMessage::PrePrepare(pp));
        assert_rejected(
            &net,
            &out,
            "pre-prepare",
            &format!("seq {seq} outside (0, 8]"),
        );
    }
}

#[test]
fn messages_for_another_view_are_rejected() {
    let mut net = Net::new();
    let r = net.request(0, 1, write("k", 1));
    let pp = net.forge_pre_prepare(1, 1, 1, vec![r]);
    let d = pp.header.body.digest;
    let out = to_backup(&mut net, PeerMessage::PrePrepare(pp));
    assert_rejected(&net, &out, "pre-prepare", "view 1 != 0");
    let msg = PeerMessage::Prepare(net.forge_prepare(2, 5, 1, d));
    let out = to_backup(&mut net, msg);
    assert_rejected(&net, &out, "prepare", "view 5 != 0");
    let msg = PeerMessage::Commit(net.forge_commit(2, 5, 1, d));
    let out = to_backup(&mut net, msg);
    assert_rejected(&net, &out, "commit", "view 5 != 0");
}

#[test]
fn each_sender_votes_once_and_the_primary_does_not_prepare() {
    let mut net = Net::new();
    let r = net.request(0, 1, write("k", 1));
    let pp = net.forge_pre_prepare(0, 0, 1, vec![r]);
    let d = pp.header.body.digest;
    let other = Digest::of(b"another batch");
    to_backup(&mut net, PeerMessage::PrePrepare(pp.clone()));
    assert_eq!(
        to_backup(&mut net, PeerMessage::PrePrepare(pp)),
        Vec::<String>::new(),
        "expected a replayed PRE-PREPARE to change nothing"
    );
    let prepare = PeerMessage::Prepare(net.forge_prepare(2, 0, 1, d));
    assert!(
        to_backup(&mut net, prepare.clone()).contains(&"broadcast commit v0 n1".to_string()),
        "expected 2's PREPARE to make replica 1 prepared"
    );
    assert_eq!(
        to_backup(&mut net, prepare),
        Vec::<String>::new(),
        "expected a replayed PREPARE to change nothing"
    );
    let msg = PeerMessage::Prepare(net.forge_prepare(2, 0, 1, other));
    let out = to_backup(&mut net, msg);
    assert_rejected(&net, &out, "prepare", "second vote from 2 for seq 1");
    let msg = PeerMessage::Prepare(net.forge_prepare(0, 0, 1, d));
    let out = to_backup(&mut net, msg);
    assert_rejected(&net, &out, "prepare", "the primary does not send PREPARE");
    let commit = PeerMessage::Commit(net.forge_commit(2, 0, 1, d));
    assert!(
        to_backup(&mut net, commit.clone()).is_empty(),
        "expected 2 of 3 COMMITs"
    );
    assert!(
        to_backup(&mut net, commit).is_empty(),
        "expected a replayed COMMIT ignored"
    );
    let msg = PeerMessage::Commit(net.forge_commit(2, 0, 1, other));
    let out = to_backup(&mut net, msg);
    assert_rejected(&net, &out, "commit", "second vote from 2 for seq 1");
    assert_eq!(
        net.replicas[1].last_executed(),
        0,
        "expected no execution: 2's repeated COMMITs count once"
    );
}

#[test]
fn checkpoint_off_the_interval_is_rejected() {
    let mut net = Net::new();
    let c = net.forge_checkpoint(2, 3, Digest::of(b"state"));
    let out = to_backup(&mut net, PeerMessage::Checkpoint(c));
    assert_rejected(&net, &out, "checkpoint", "seq 3 is not a multiple of K");
}

#[test]
fn view_change_with_a_short_certificate_or_checkpoint_proof_is_rejected() {
    let mut net = Net::new();
    let r = net.request(0, 1, write("k", 1));
    let pre_prepare = net.forge_pre_prepare(0, 0, 1, vec![r]);
    let d = pre_prepare.header.body.digest;
    let cert = PreparedCert {
        pre_prepare,
        prepares: vec![net.forge_prepare(2, 0, 1, d)],
    };
    let vc = |stable_seq, checkpoint_proof, prepared| ViewChange {
        view: 1,
        stable_seq,
        checkpoint_proof,
        prepared,
        replica: 2,
    };
    let short_cert = Signed::sign(vc(0, vec![], vec![cert]), &net.keys[2]);
    let out = to_backup(&mut net, PeerMessage::ViewChange(short_cert));
    assert_rejected(
        &net,
        &out,
        "view-change",
        "certificate for seq 1 has 1 of 2 PREPAREs",
    );
    let proof = [0, 2]
        .map(|i| net.forge_checkpoint(i, 4, Digest::of(b"state")))
        .to_vec();
    let short_proof = Signed::sign(vc(4, proof, vec![]), &net.keys[2]);
    let out = to_backup(&mut net, PeerMessage::ViewChange(short_proof));
    assert_rejected(
        &net,
        &out,
        "view-change",
        "checkpoint proof for 4 has 2 of 3 CHECKPOINTs",
    );
    assert_eq!(
        (net.status(1).view, net.status(1).view_active),
        (0, true),
        "expected replica 1 to stay in view 0"
    );
}

#[test]
fn numbers_past_the_wire_bound_and_oversized_batches_are_rejected() {
    let mut net = Net::new();
    let huge = net.forge_prepare(2, MAX_WIRE_NUMBER + 1, 1, Digest::of(b"x"));
    let out = to_backup(&mut net, PeerMessage::Prepare(huge));
    assert_rejected(
        &net,
        &out,
        "prepare",
        "view or sequence number out of range",
    );
    let batch: Vec<_> = (1..=5)
        .map(|t| net.request(0, t, write("k", t as i64)))
        .collect();
    let pp = net.forge_pre_prepare(0, 0, 1, batch);
    let out = to_backup(&mut net, PeerMessage::PrePrepare(pp));
    assert_rejected(&net, &out, "pre-prepare", "batch of 5 > 4");
}
