//! A faulty replica's messages, extra ones included, meet the rules, in the seed's
//! order; "the primary" follows the views.

use super::Proxy;
use crate::byzantine::{Byzantine, Mutator};
use crate::link::Link;
use crate::partition::Cut;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use ed25519_dalek::SigningKey;
use replica::crypto::Signed;
use replica::messages::{batch_digest, PeerMessage, PrePrepare, PrePrepareMsg, Request};
use replica::server::TAG_HEADER;
use replica::Operation;
use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};
use tokio::net::TcpListener;

/// What a stand-in replica got: each message with its tag, in arrival order.
type Got = Arc<Mutex<Vec<(Option<String>, PeerMessage)>>>;

/// A stand-in replica that keeps every `/pbft` body it gets, in arrival order.
async fn recording_replica() -> (String, Got) {
    let got: Got = Arc::default();
    let app = axum::Router::new()
        .route(
            "/pbft",
            post(
                |State(got): State<Got>, headers: HeaderMap, body: Bytes| async move {
                    let tag = headers
                        .get(TAG_HEADER)
                        .and_then(|t| t.to_str().ok())
                        .map(String::from);
                    if let Ok(m) = serde_json::from_slice(&body) {
                        got.lock().unwrap().push((tag, m));
                    }
                    StatusCode::ACCEPTED
                },
            ),
        )
        .with_state(Arc::clone(&got));
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    tokio::spawn(async move { axum::serve(listener, app).await });
    (addr, got)
}

fn key(i: usize) -> SigningKey {
    SigningKey::from_bytes(&[i as u8 + 1; 32])
}

/// Replica `from`'s PRE-PREPARE of one write, in `view`.
fn pre_prepare(from: usize, view: u64, seq: u64) -> String {
    let client = SigningKey::from_bytes(&[99; 32]);
    let req = Request {
        client: 7,
        timestamp: seq,
        op: Operation::Write {
            key: "k".into(),
            value: serde_json::json!(seq),
        },
    };
    let batch = vec![Signed::sign(req, &client)];
    let header = PrePrepare {
        view,
        seq,
        digest: batch_digest(&batch),
        replica: from as u32,
    };
    let msg = PeerMessage::PrePrepare(PrePrepareMsg {
        header: Signed::sign(header, &key(from)),
        batch,
    });
    serde_json::to_string(&msg).unwrap()
}

async fn send(addr: &str, body: String) -> u16 {
    reqwest::Client::new()
        .post(format!("http://{addr}/pbft"))
        .header("content-type", "application/json")
        .body(body)
        .send()
        .await
        .expect("the proxy answers")
        .status()
        .as_u16()
}

/// Batch sizes of the PRE-PREPAREs `got`, in arrival order.
fn batches(got: &Got) -> Vec<usize> {
    got.lock()
        .unwrap()
        .iter()
        .map(|(_, m)| match m {
            PeerMessage::PrePrepare(p) => p.batch.len(),
            _ => usize::MAX,
        })
        .collect()
}

fn twin(faulty: &[usize], seed: u64) -> Byzantine {
    let keys: BTreeMap<usize, SigningKey> = faulty.iter().map(|&i| (i, key(i))).collect();
    Byzantine::new(keys, vec![Mutator::Twin], 1, seed)
}

#[tokio::test]
async fn a_cut_isolates_a_byzantine_primary_s_twin_pre_prepares_too() {
    let (target, got) = recording_replica().await;
    let proxy = Proxy::start(vec![target; 4], 3).await.unwrap();
    let _byzantine = proxy.install_byzantine(twin(&[0], 3));
    let cut: BTreeSet<Link> = (1..4).map(|j| Link::peer(0, j)).collect();
    let guard = proxy.install(Cut::new(cut));
    for seq in 1..=5 {
        assert_eq!(
            send(&proxy.peer_addr(0, 1), pre_prepare(0, 0, seq)).await,
            202
        );
    }
    assert!(batches(&got).is_empty(), "nothing crossed the cut");
    let on_link = &proxy.counts_by_link()["0->1"]["pre-prepare"];
    assert_eq!(
        (on_link.delivered, on_link.dropped),
        (0, 10),
        "both PRE-PREPAREs of each of 5 counted, as dropped"
    );
    let counts = proxy.mutation_counts();
    assert_eq!(counts.dropped.get("twin"), Some(&10), "{counts:?}");
    assert_eq!(counts.delivered.get("twin"), Some(&0), "{counts:?}");

    // Healed: both arrive, one after the other.
    drop(guard);
    assert_eq!(
        send(&proxy.peer_addr(0, 1), pre_prepare(0, 0, 6)).await,
        202
    );
    let mut seen = batches(&got);
    seen.sort_unstable();
    assert_eq!(seen, [0, 1], "the null batch and the real one");
    let tags: Vec<Option<String>> = got.lock().unwrap().iter().map(|(t, _)| t.clone()).collect();
    assert_eq!(
        tags,
        [Some("twin".into()), Some("twin".into())],
        "labelled with their mutator"
    );
    assert_eq!(proxy.mutation_counts().delivered.get("twin"), Some(&2));
}

#[tokio::test]
async fn byzantine_behaviour_is_a_rule_acting_first_whatever_the_installation_order() {
    let (target, got) = recording_replica().await;
    let proxy = Proxy::start(vec![target; 4], 4).await.unwrap();
    // The cut goes in first: the faulty sender still mutates before the network
    // judges, so both of its PRE-PREPAREs are dropped, each counted once.
    let cut: BTreeSet<Link> = BTreeSet::from([Link::peer(0, 1)]);
    let guard = proxy.install(Cut::new(cut));
    let byzantine = proxy.install_byzantine(twin(&[0], 4));
    assert!(!proxy.is_healed());
    send(&proxy.peer_addr(0, 1), pre_prepare(0, 0, 1)).await;
    let on_link = proxy.counts_by_link()["0->1"]["pre-prepare"];
    assert_eq!((on_link.delivered, on_link.dropped), (0, 2), "{on_link:?}");
    assert_eq!(byzantine.counts().dropped.get("twin"), Some(&2));
    // The Byzantine rule healed alone: the cut stays, and what crosses another link
    // is the engine's message as it was sent.
    drop(byzantine);
    send(&proxy.peer_addr(0, 2), pre_prepare(0, 0, 2)).await;
    assert_eq!(batches(&got), [1], "one PRE-PREPARE, unmutated");
    assert!(got.lock().unwrap()[0].0.is_none(), "untagged");
    assert!(!proxy.is_healed(), "the cut is still in force");
    drop(guard);
    assert!(proxy.is_healed());
    // The final heal removes Byzantine behaviour with every other rule.
    let _byzantine = proxy.install_byzantine(twin(&[0], 4));
    proxy.heal_all();
    assert!(proxy.is_healed());
    send(&proxy.peer_addr(0, 3), pre_prepare(0, 0, 3)).await;
    assert_eq!(batches(&got), [1, 1], "healed: no twin");
}

#[tokio::test]
async fn a_twin_s_two_pre_prepares_arrive_in_the_order_the_seed_picks() {
    async fn order(seed: u64) -> Vec<usize> {
        let (target, got) = recording_replica().await;
        let proxy = Proxy::start(vec![target; 4], seed).await.unwrap();
        let _byzantine = proxy.install_byzantine(twin(&[0], seed));
        for seq in 1..=8 {
            send(&proxy.peer_addr(0, 1), pre_prepare(0, 0, seq)).await;
        }
        batches(&got)
    }
    let first = order(11).await;
    assert_eq!(first.len(), 16, "two PRE-PREPAREs per slot: {first:?}");
    for _ in 0..3 {
        assert_eq!(order(11).await, first, "the same seed, the same order");
    }
}

#[tokio::test]
async fn the_byzantine_primary_is_whoever_leads_the_view_in_force() {
    let (target, got) = recording_replica().await;
    let proxy = Proxy::start(vec![target; 4], 5).await.unwrap();
    let every_key: Vec<usize> = (0..4).collect();
    let live = twin(&every_key, 5).as_live_primary(4, 0);
    let byzantine = proxy.install_byzantine(live);
    // View 0: replica 0 leads and is the faulty one.
    send(&proxy.peer_addr(0, 2), pre_prepare(0, 0, 1)).await;
    assert_eq!(batches(&got).len(), 2, "replica 0 twins in view 0");
    assert_eq!(byzantine.byzantine().faulty(), BTreeSet::from([0]));
    // View 1: replica 1 leads; its PRE-PREPAREs are twinned, replica 0's no longer.
    send(&proxy.peer_addr(1, 2), pre_prepare(1, 1, 2)).await;
    assert_eq!(byzantine.byzantine().faulty(), BTreeSet::from([1]));
    assert_eq!(batches(&got).len(), 4, "replica 1 twins in view 1");
    send(&proxy.peer_addr(0, 2), pre_prepare(0, 0, 3)).await;
    assert_eq!(
        batches(&got).len(),
        5,
        "replica 0, a backup now, is correct"
    );
}

#[test]
fn equivocating_and_twin_pre_prepares_pass_the_receivers_verification() {
    use replica::verifier::Verifier;
    use replica::ClusterConfig;
    let keys: Vec<SigningKey> = (0..4).map(key).collect();
    let listen: Vec<String> = (0..4).map(|i| format!("127.0.0.1:{}", 9100 + i)).collect();
    let client = (7, SigningKey::from_bytes(&[99; 32]));
    let config = ClusterConfig::local(1, &keys, &listen, std::slice::from_ref(&client));
    let verifier = Verifier::new(&config).unwrap();
    for mutators in [
        vec![Mutator::Equivocate],
        vec![Mutator::Alternate],
        vec![Mutator::Twin],
        Mutator::ALL.to_vec(),
    ] {
        let faulty = BTreeMap::from([(0, key(0))]);
        let b = Byzantine::new(faulty, mutators.clone(), 1, 21);
        let mut sent = 0;
        for seq in 1..=30 {
            for to in 1..4 {
                let body = Bytes::from(pre_prepare(0, 0, seq));
                let Some(outcome) = b.on_peer(Link::peer(0, to), &body) else {
                    continue;
                };
                for out in outcome.send {
                    let msg: PeerMessage = serde_json::from_slice(&out).unwrap();
                    sent += 1;
                    if let Err(e) = verifier.verify_peer(msg) {
                        panic!("{mutators:?} at seq {seq} to {to}: {e}");
                    }
                }
            }
        }
        assert!(sent > 0, "{mutators:?} sent nothing");
    }
}

#[test]
fn a_fake_primary_s_pre_prepare_verifies_and_is_refused_for_its_sender() {
    use replica::core::rejection::Rejection;
    use replica::messages::{Checkpoint, Prepare};
    use replica::verifier::Verifier;
    use replica::{ClusterConfig, Input, Output, ProtocolConfig, Replica};
    let keys: Vec<SigningKey> = (0..4).map(key).collect();
    let listen: Vec<String> = (0..4).map(|i| format!("127.0.0.1:{}", 9200 + i)).collect();
    let config = ClusterConfig::local(1, &keys, &listen, &[]);
    let verifier = Verifier::new(&config).unwrap();
    // Replica 1, a backup of view 0, is faulty.
    let b = Byzantine::new(
        BTreeMap::from([(1, key(1))]),
        vec![Mutator::FakePrimary, Mutator::BadCheckpoint],
        1,
        4,
    );
    let prepare = PeerMessage::Prepare(Signed::sign(
        Prepare {
            view: 0,
            seq: 1,
            digest: batch_digest(&[]),
            replica: 1,
        },
        &key(1),
    ));
    let checkpoint = PeerMessage::Checkpoint(Signed::sign(
        Checkpoint {
            seq: 128,
            state_digest: replica::crypto::Digest::of(b"state"),
            replica: 1,
        },
        &key(1),
    ));
    let mutate = |msg: &PeerMessage| -> Vec<PeerMessage> {
        let body = Bytes::from(serde_json::to_vec(msg).unwrap());
        // Each acts on half the messages: try until one does.
        (0..64)
            .find_map(|_| b.on_peer(Link::peer(1, 2), &body))
            .expect("the mutator acts")
            .send
            .iter()
            .map(|m| serde_json::from_slice(m).unwrap())
            .collect()
    };
    let sent = mutate(&prepare);
    assert_eq!(sent.len(), 2, "a PRE-PREPARE, then the PREPARE: {sent:?}");
    assert_eq!(sent[1], prepare);
    let mut receiver = Replica::new(2, 4, ProtocolConfig::default(), key(2));
    let verified = verifier.verify_peer(sent[0].clone()).expect("well signed");
    let out = receiver.handle(Input::Peer(verified));
    assert!(
        out.iter().any(|o| matches!(
            o,
            Output::Rejected {
                why: Rejection::WrongSender,
                ..
            }
        )),
        "{out:?}"
    );
    let sent = mutate(&checkpoint);
    let PeerMessage::Checkpoint(c) = &sent[0] else {
        panic!("{sent:?}")
    };
    assert_ne!(c.body.state_digest, replica::crypto::Digest::of(b"state"));
    verifier.verify_peer(sent[0].clone()).expect("well signed");
}

#[test]
fn a_message_another_replica_signed_is_passed_on_unchanged() {
    // Replica 1 passes on the primary's PRE-PREPARE (a retransmission to a laggard):
    // re-signed with replica 1's key it would not verify, so it is left alone.
    let b = Byzantine::new(BTreeMap::from([(1, key(1))]), Mutator::ALL.to_vec(), 1, 8);
    for seq in 1..=20 {
        let body = Bytes::from(pre_prepare(0, 0, seq));
        assert!(b.on_peer(Link::peer(1, 2), &body).is_none(), "seq {seq}");
    }
    assert_eq!(b.counts().total, 0);
}

#[test]
fn a_lying_replica_lies_on_every_operation_kind_in_replies_that_verify() {
    use replica::messages::Reply;
    use replica::OpResult;
    let faulty = 1;
    let b = Byzantine::new(
        BTreeMap::from([(faulty, key(faulty))]),
        vec![Mutator::Lie],
        1,
        3,
    );
    let client = SigningKey::from_bytes(&[99; 32]);
    let request = |op: Operation| {
        let req = Request {
            client: 7,
            timestamp: 42,
            op,
        };
        Bytes::from(serde_json::to_vec(&Signed::sign(req, &client)).unwrap())
    };
    let reply = |result: OpResult| {
        let r = Reply {
            view: 0,
            timestamp: 42,
            client: 7,
            replica: faulty as u32,
            result,
        };
        Bytes::from(serde_json::to_vec(&Signed::sign(r, &key(faulty))).unwrap())
    };
    let verified = |body: &[u8]| {
        let r: Signed<Reply> = serde_json::from_slice(body).expect("a reply");
        r.verify_with(&key(faulty).verifying_key())
            .expect("signed by the faulty replica");
        assert_eq!((r.body.client, r.body.timestamp), (7, 42));
        r.body.result
    };
    let link = Link::client(faulty);
    // Writes and appends: acknowledged at once, the request never passed on.
    let write = Operation::Write {
        key: "k".into(),
        value: serde_json::json!(5),
    };
    let ack = b
        .acknowledges_unapplied(link, &request(write))
        .expect("an early ack");
    assert_eq!(verified(&ack), OpResult::Write);
    let append = Operation::Append {
        key: "k".into(),
        value: serde_json::json!(5),
    };
    let ack = b
        .acknowledges_unapplied(link, &request(append))
        .expect("an early ack");
    assert_eq!(verified(&ack), OpResult::Append);
    // Reads and cas go to the replica, and their replies are changed: another value,
    // a cas flipped either way.
    let read = Operation::Read { key: "k".into() };
    assert!(b.acknowledges_unapplied(link, &request(read)).is_none());
    let lied = b.on_reply(
        link,
        &reply(OpResult::Read {
            value: serde_json::json!(5),
        }),
    );
    assert_eq!(
        verified(&lied.unwrap()),
        OpResult::Read {
            value: serde_json::json!(6)
        }
    );
    for ok in [true, false] {
        let lied = b.on_reply(link, &reply(OpResult::Cas { ok })).unwrap();
        assert_eq!(verified(&lied), OpResult::Cas { ok: !ok });
    }
    // A write's honest reply is not turned into one of another kind.
    assert!(b.on_reply(link, &reply(OpResult::Write)).is_none());
    // A correct replica's traffic is left alone.
    let write = Operation::Write {
        key: "k".into(),
        value: serde_json::json!(5),
    };
    assert!(b
        .acknowledges_unapplied(Link::client(2), &request(write))
        .is_none());
    assert_eq!(b.counts().total, 5);
}

#[test]
fn a_spurious_view_change_verifies_and_does_not_move_the_view_alone() {
    use replica::messages::Commit;
    use replica::verifier::Verifier;
    use replica::{ClusterConfig, Input, ProtocolConfig, Replica};
    let keys: Vec<SigningKey> = (0..4).map(key).collect();
    let listen: Vec<String> = (0..4).map(|i| format!("127.0.0.1:{}", 9300 + i)).collect();
    let config = ClusterConfig::local(1, &keys, &listen, &[]);
    let verifier = Verifier::new(&config).unwrap();
    let b = Byzantine::new(
        BTreeMap::from([(1, key(1))]),
        vec![Mutator::SpuriousViewChange],
        1,
        5,
    );
    let commit = |seq| {
        let c = Commit {
            view: 0,
            seq,
            digest: batch_digest(&[]),
            replica: 1,
        };
        Bytes::from(serde_json::to_vec(&PeerMessage::Commit(Signed::sign(c, &key(1)))).unwrap())
    };
    let outcome = b.on_peer(Link::peer(1, 2), &commit(1)).expect("acts");
    assert_eq!(outcome.send.len(), 2, "a VIEW-CHANGE, then the COMMIT");
    assert_eq!(outcome.send[1], commit(1));
    let vc: PeerMessage = serde_json::from_slice(&outcome.send[0]).unwrap();
    let PeerMessage::ViewChange(v) = &vc else {
        panic!("{vc:?}")
    };
    assert_eq!((v.body.view, v.body.replica), (1, 1));
    // Once per view and receiver.
    assert!(b.on_peer(Link::peer(1, 2), &commit(2)).is_none());
    assert!(b.on_peer(Link::peer(1, 3), &commit(2)).is_some());
    let mut receiver = Replica::new(2, 4, ProtocolConfig::default(), key(2));
    let verified = verifier.verify_peer(vc).expect("well signed");
    let out = receiver.handle(Input::Peer(verified));
    assert!(
        !out.iter()
            .any(|o| matches!(o, replica::Output::Rejected { .. })),
        "a well-formed VIEW-CHANGE is accepted: {out:?}"
    );
    assert_eq!(receiver.view(), 0, "one replica alone moved the view");
    assert!(receiver.status().view_active, "{:?}", receiver.status());
}

#[test]
fn a_duplicated_request_and_a_bad_state_verify_and_carry_their_lie() {
    use replica::messages::StateReply;
    use replica::state_machine::KvStore;
    use replica::verifier::Verifier;
    use replica::ClusterConfig;
    let keys: Vec<SigningKey> = (0..4).map(key).collect();
    let listen: Vec<String> = (0..4).map(|i| format!("127.0.0.1:{}", 9400 + i)).collect();
    let client = (7, SigningKey::from_bytes(&[99; 32]));
    let config = ClusterConfig::local(1, &keys, &listen, std::slice::from_ref(&client));
    let verifier = Verifier::new(&config).unwrap();
    let b = Byzantine::new(
        BTreeMap::from([(0, key(0))]),
        vec![Mutator::DuplicateRequest],
        1,
        6,
    );
    let outcome = b
        .on_peer(Link::peer(0, 1), &Bytes::from(pre_prepare(0, 0, 1)))
        .expect("acts");
    let msg: PeerMessage = serde_json::from_slice(&outcome.send[0]).unwrap();
    let PeerMessage::PrePrepare(p) = &msg else {
        panic!("{msg:?}")
    };
    assert_eq!(p.batch.len(), 2);
    assert_eq!(p.batch[0], p.batch[1], "the same request twice");
    verifier
        .verify_peer(msg)
        .expect("well signed, digest matching");

    let b = Byzantine::new(BTreeMap::from([(1, key(1))]), vec![Mutator::BadState], 1, 6);
    let honest = StateReply {
        seq: 0,
        state: KvStore::new(),
        proof: Vec::new(),
        history: vec![(1, batch_digest(&[]))],
        replica: 1,
    };
    let body = PeerMessage::State(Box::new(Signed::sign(honest.clone(), &key(1))));
    let body = Bytes::from(serde_json::to_vec(&body).unwrap());
    let (mut changed_state, mut changed_history) = (false, false);
    for _ in 0..16 {
        let outcome = b.on_peer(Link::peer(1, 2), &body).expect("acts");
        let msg: PeerMessage = serde_json::from_slice(&outcome.send[0]).unwrap();
        let PeerMessage::State(s) = &msg else {
            panic!("{msg:?}")
        };
        changed_state |= s.body.state.digest() != honest.state.digest();
        changed_history |= s.body.history != honest.history;
        verifier.verify_peer(msg).expect("well signed");
    }
    assert!(
        changed_state && changed_history,
        "both lies told in 16 tries"
    );
}

#[test]
fn a_live_byzantine_primary_lies_about_a_request_only_once_across_views() {
    // Two primaries in turn lying about one request would be two faulty replicas to
    // that client (f+1 matching lies): only the first to lie about it does.
    let every_key: BTreeMap<usize, SigningKey> = (0..4).map(|i| (i, key(i))).collect();
    let b = Byzantine::new(every_key, vec![Mutator::Lie], 1, 9).as_live_primary(4, 0);
    let client = SigningKey::from_bytes(&[99; 32]);
    let write = |timestamp| {
        let req = Request {
            client: 7,
            timestamp,
            op: Operation::Write {
                key: "k".into(),
                value: serde_json::json!(1),
            },
        };
        Bytes::from(serde_json::to_vec(&Signed::sign(req, &client)).unwrap())
    };
    assert!(b
        .acknowledges_unapplied(Link::client(0), &write(1))
        .is_some());
    // The view moves on: replica 1 leads, and is the faulty one now.
    let view_1 = Bytes::from(pre_prepare(1, 1, 2));
    b.observe(&crate::message::Message::peer(Link::peer(1, 2), &view_1));
    assert!(
        b.acknowledges_unapplied(Link::client(1), &write(1))
            .is_none(),
        "a second replica lied about request 1"
    );
    assert!(b
        .acknowledges_unapplied(Link::client(1), &write(2))
        .is_some());
    assert!(b
        .acknowledges_unapplied(Link::client(0), &write(2))
        .is_none());
}

#[test]
fn amnesia_forgets_every_other_prepared_certificate_a_lone_one_included() {
    use replica::messages::{Prepare, PreparedCert, ViewChange};
    use replica::verifier::Verifier;
    use replica::ClusterConfig;
    let keys: Vec<SigningKey> = (0..4).map(key).collect();
    let listen: Vec<String> = (0..4).map(|i| format!("127.0.0.1:{}", 9400 + i)).collect();
    let client = [(7, SigningKey::from_bytes(&[99; 32]))];
    let verifier = Verifier::new(&ClusterConfig::local(1, &keys, &listen, &client)).unwrap();
    let cert = |seq: u64| {
        let PeerMessage::PrePrepare(pre_prepare) =
            serde_json::from_str(&pre_prepare(0, 0, seq)).unwrap()
        else {
            unreachable!()
        };
        let prepares = [1u32, 2]
            .iter()
            .map(|&r| {
                let p = Prepare {
                    view: 0,
                    seq,
                    digest: pre_prepare.header.body.digest,
                    replica: r,
                };
                Signed::sign(p, &key(r as usize))
            })
            .collect();
        PreparedCert {
            pre_prepare,
            prepares,
        }
    };
    let view_change = |seqs: &[u64]| {
        let vc = ViewChange {
            view: 1,
            stable_seq: 0,
            checkpoint_proof: Vec::new(),
            prepared: seqs.iter().map(|&s| cert(s)).collect(),
            replica: 3,
        };
        Bytes::from(
            serde_json::to_vec(&PeerMessage::ViewChange(Signed::sign(vc, &key(3)))).unwrap(),
        )
    };
    let b = Byzantine::new(BTreeMap::from([(3, key(3))]), vec![Mutator::Amnesia], 1, 9);
    let kept = |seqs: &[u64]| -> Option<Vec<u64>> {
        let outcome = b.on_peer(Link::peer(3, 1), &view_change(seqs))?;
        assert_eq!(outcome.send.len(), 1);
        let msg: PeerMessage = serde_json::from_slice(&outcome.send[0]).unwrap();
        let verified = verifier
            .verify_peer(msg)
            .expect("a forgetful VIEW-CHANGE verifies");
        let PeerMessage::ViewChange(v) = verified.get() else {
            panic!("not a VIEW-CHANGE")
        };
        Some(
            v.body
                .prepared
                .iter()
                .map(|c| c.pre_prepare.header.body.seq)
                .collect(),
        )
    };
    assert_eq!(kept(&[1]), Some(vec![]), "a lone certificate is forgotten");
    assert_eq!(kept(&[1, 2, 3, 4]), Some(vec![2, 4]));
    assert_eq!(kept(&[]), None, "nothing to forget");
}
