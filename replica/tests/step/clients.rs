//! Clients: exactly-once execution per (client, timestamp), the stored reply for a
//! repeated request, stale timestamps refused, relays from backups to the primary,
//! and a client that accepts a result only on f+1 matching signed replies.

use replica::client::ClientProtocol;
use replica::crypto::Signed;
use replica::messages::{PeerMessage, Reply};
use replica::state_machine::OpResult;
use serde_json::json;

use super::actions::{batch_ids, lines, pre_prepares};
use super::net::{append, read, write, Net};

#[test]
fn duplicate_of_an_executed_request_gets_the_stored_reply_and_is_not_applied_again() {
    let mut net = Net::new();
    let r = net.request(0, 1, append("list", 7));
    net.submit(0, r.clone());
    net.deliver_all();
    for i in 0..4 {
        let out = net.submit(i, r.clone());
        assert_eq!(
            lines(&out),
            ["reply to c0 t1"],
            "expected replica {i} to answer the repeat from its client table, nothing else"
        );
    }
    assert!(
        net.in_flight().is_empty(),
        "expected no new PRE-PREPARE for a repeat"
    );
    for i in 0..4 {
        assert_eq!(
            (
                net.replicas[i].last_executed(),
                net.replicas[i].state().get("list")
            ),
            (1, Some(&json!([7]))),
            "expected replica {i} to have applied the append once"
        );
    }
    let replies = net.replies_to(0, 1);
    let repeats = &replies[4..];
    assert!(
        repeats.iter().all(|(_, r)| r.result == OpResult::Append),
        "expected the stored result in every repeated reply: {repeats:?}"
    );
}

#[test]
fn request_with_a_stale_timestamp_is_rejected() {
    let mut net = Net::new();
    let newer = net.request(0, 2, write("k", 2));
    net.submit(0, newer);
    net.deliver_all();
    let older = net.request(0, 1, write("k", 1));
    let out = net.submit(0, older);
    assert_eq!(
        lines(&out),
        ["reject request"],
        "expected t 1 < t 2 rejected, not ordered"
    );
    assert_eq!(
        net.rejected_by(0, "request"),
        ["stale timestamp 1 from client 0"],
        "expected the reason to name the timestamp and client"
    );
    assert_eq!(
        net.replicas[0].state().get("k"),
        Some(&json!(2)),
        "expected the newer write to stand"
    );
}

#[test]
fn request_repeated_while_in_progress_is_ordered_once() {
    let mut net = Net::new();
    let first = net.request(0, 1, write("a", 1));
    let r = net.request(1, 1, append("list", 1));
    net.submit(0, first);
    assert!(
        pre_prepares(&net.submit(0, r.clone())).is_empty(),
        "expected the request to wait behind seq 1"
    );
    assert!(
        pre_prepares(&net.submit(0, r.clone())).is_empty(),
        "expected a repeat of a pending request not to be ordered"
    );
    assert_eq!(
        net.status(0).pending_requests,
        1,
        "expected it pending once"
    );
    net.deliver_all();
    assert!(
        net.submit(0, r)
            .iter()
            .all(|o| !matches!(o, replica::core::Output::Broadcast(_))),
        "expected no PRE-PREPARE for the request after it executed"
    );
    net.deliver_all();
    net.assert_agreement(&[0, 1, 2, 3]);
    assert_eq!(
        net.replicas[2].state().get("list"),
        Some(&json!([1])),
        "expected the append applied once"
    );
}

#[test]
fn backup_relays_a_repeated_request_to_the_primary() {
    let mut net = Net::new();
    let r = net.request(0, 1, write("k", 3));
    assert!(
        net.submit(2, r.clone()).is_empty(),
        "expected a backup to hold a first copy without relaying it"
    );
    let out = net.submit(2, r);
    assert_eq!(
        lines(&out),
        ["send relay to 0"],
        "expected the client's retransmission relayed to the primary"
    );
    let relay = net.take(|e| e.msg.kind() == "relay").remove(0);
    let out = net.deliver(relay);
    assert_eq!(
        pre_prepares(&out).iter().map(batch_ids).collect::<Vec<_>>(),
        [vec![(0, 1)]],
        "expected the primary to order the relayed request"
    );
    net.deliver_all();
    assert_eq!(
        net.replies_to(0, 1).len(),
        4,
        "expected all 4 replicas to execute and reply"
    );
}

#[test]
fn client_accepts_a_result_on_f_plus_1_matching_signed_replies_only() {
    let mut net = Net::new();
    let w = net.request(0, 1, write("k", 1));
    net.submit(0, w);
    net.deliver_all();
    let mut client = ClientProtocol::new(&net.config, 1, net.client_key(1).clone())
        .expect("client 1 is in the cluster");
    let r = client.start(read("k"), 10);
    let t = r.body.timestamp;
    net.submit(0, r);
    net.deliver_all();
    let genuine = |net: &Net, i: usize| -> Signed<Reply> {
        let (_, reply) = net
            .replies_to(1, t)
            .into_iter()
            .find(|(from, _)| *from == i)
            .expect("every replica replied");
        Signed::sign(reply, &net.keys[i])
    };
    let mut lie = genuine(&net, 3).body;
    lie.result = OpResult::Read { value: json!(666) };
    let lie = Signed::sign(lie, &net.keys[3]);
    assert_eq!(
        client.on_reply(&lie),
        None,
        "expected one reply (f) not to be enough"
    );
    assert_eq!(
        client.on_reply(&genuine(&net, 1)),
        None,
        "expected one true and one false reply not to match"
    );
    let forged_2 = Signed::sign(genuine(&net, 2).body, &net.keys[3]);
    assert_eq!(
        client.on_reply(&forged_2),
        None,
        "expected a reply from 2 signed by 3 to be ignored"
    );
    assert_eq!(
        client.on_reply(&genuine(&net, 2)),
        Some(OpResult::Read { value: json!(1) }),
        "expected the result once 1 and 2 (f+1) sent matching replies"
    );
}

#[test]
fn request_ordered_twice_by_a_byzantine_primary_is_applied_once() {
    let mut net = Net::new();
    net.pause(0);
    let r = net.request(0, 1, append("list", 5));
    let twice = [
        net.forge_pre_prepare(0, 0, 1, vec![r.clone()]),
        net.forge_pre_prepare(0, 0, 2, vec![r]),
    ];
    for pp in twice {
        for i in 1..4 {
            net.inject(i, PeerMessage::PrePrepare(pp.clone()))
                .expect("signed by primary 0");
        }
    }
    net.deliver_all();
    net.assert_agreement(&[1, 2, 3]);
    for i in 1..4 {
        let applied: Vec<usize> = net.executed[i].iter().map(|e| e.requests.len()).collect();
        assert_eq!(
            applied,
            [1, 0],
            "expected replica {i} to apply the request at seq 1 and skip it at seq 2"
        );
        assert_eq!(
            net.replicas[i].state().get("list"),
            Some(&json!([5])),
            "expected replica {i} to append once"
        );
    }
    assert_eq!(
        net.replies_to(0, 1).len(),
        3,
        "expected one reply per replica"
    );
}
