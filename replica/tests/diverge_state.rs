//! The seeded bug `diverge-state` in a simulated cluster: the last replica's state
//! drifts from the others' while every client result stays correct, its own
//! checkpoints never become stable, and state transfer repairs it only until the next
//! successful cas.
#![cfg(feature = "seeded-bugs")]

mod sim;

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::rc::Rc;

use replica::bugs::{Bug, Bugs};
use replica::crypto::Digest;
use replica::messages::PeerMessage;
use replica::state_machine::{OpResult, Operation};
use serde_json::json;
use sim::{seed_from_env, small_params, Faults, Sim};

/// Client `c` writes `k{c} = 0`, then moves it on by `cas(i, i + 1)`, `cases` times:
/// in a correct service every cas succeeds.
fn cas_chain(sim: &mut Sim, cases: u64) {
    for (c, client) in sim.clients.iter_mut().enumerate() {
        let key = format!("k{c}");
        client.ops = std::iter::once(Operation::Write {
            key: key.clone(),
            value: json!(0),
        })
        .chain((0..cases).map(|i| Operation::Cas {
            key: key.clone(),
            from: json!(i),
            to: json!(i + 1),
        }))
        .collect();
    }
}

/// CHECKPOINT digests by (seq, sender), as sent.
type Sent = Rc<RefCell<BTreeMap<(u64, u32), Digest>>>;

/// Records every CHECKPOINT a replica sends (delivering everything).
fn watch_checkpoints(sim: &mut Sim) -> Sent {
    let sent: Sent = Rc::default();
    let log = sent.clone();
    sim.link_filter = Some(Box::new(move |_, _, m| {
        if let PeerMessage::Checkpoint(c) = m {
            let c = &c.body;
            log.borrow_mut().insert((c.seq, c.replica), c.state_digest);
        }
        true
    }));
    sent
}

#[test]
fn the_last_replica_diverges_while_clients_see_correct_results() {
    let seed = seed_from_env(1);
    let mut params = small_params(400);
    params.bugs = Bugs::NONE.with(Bug::DivergeState);
    let faults = Faults {
        drop: 0.0,
        duplicate: 0.0,
        max_delay_ms: 3,
    };
    let mut sim = Sim::new(seed, 1, 3, faults, params);
    let cases = 40;
    cas_chain(&mut sim, cases);
    let sent = watch_checkpoints(&mut sim);
    assert!(sim.run(60_000), "clients finish; PBFT_SIM_SEED={seed}");
    sim.settle(2_000);
    sim.assert_agreement(seed);

    // f+1 matching replies: every cas succeeded, as in a correct service.
    for (c, client) in sim.clients.iter().enumerate() {
        let ok = client
            .done
            .iter()
            .filter(|r| **r == OpResult::Cas { ok: true })
            .count();
        assert_eq!(ok as u64, cases, "client {c}; PBFT_SIM_SEED={seed}");
    }
    let status: Vec<_> = sim.replicas.iter().map(|r| r.status()).collect();
    for s in &status[1..3] {
        assert_eq!(
            (&s.state_digest, s.low_watermark, s.state_transfers),
            (&status[0].state_digest, status[0].low_watermark, 0),
            "the correct replicas agree; PBFT_SIM_SEED={seed}"
        );
    }
    assert_eq!(
        sim.replicas[0].state().get("k0"),
        Some(&json!(cases)),
        "PBFT_SIM_SEED={seed}"
    );
    // Every checkpoint of replica 3 has a digest of its own (the correct replicas'
    // agree), so none becomes stable: it falls behind its window and fetches a
    // certified checkpoint, the correct state, by state transfer, then diverges again.
    let sent = sent.borrow();
    let mut of_3 = 0;
    for ((seq, from), digest) in sent.iter().filter(|((_, from), _)| *from < 3) {
        assert_eq!(
            Some(digest),
            sent.get(&(*seq, 0)),
            "seq {seq}, replica {from}"
        );
        // A checkpoint replica 3 reached by state transfer holds the certified state,
        // and it vouches for it with the correct digest; every other one differs.
        if let Some(d3) = sent.get(&(*seq, 3)) {
            if d3 != digest {
                of_3 += 1;
            }
        }
    }
    assert!(
        of_3 > 0,
        "replica 3 sent checkpoints of its own diverged state; PBFT_SIM_SEED={seed}"
    );
    assert!(status[3].state_transfers >= 1, "PBFT_SIM_SEED={seed}");
}
