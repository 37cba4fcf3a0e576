//! View change, new view and state transfer under a faulty primary: deterministic
//! simulations (seeded, no sleeps; `PBFT_SIM_SEED=<n>` reproduces a failure), each
//! with n = 4 and n = 7. Every scenario checks the same invariants at the end:
//! correct replicas never executed different batches at one sequence number, every
//! client operation completed, and every append was executed exactly once.

mod sim;

use replica::config::ProtocolConfig;
use replica::crypto::Signed;
use replica::messages::{PeerMessage, ViewChange};
use serde_json::json;
use sim::byzantine::{equivocate, forge_view_change, poison_state, silent_primary, wrong_o};
use sim::{seed_from_env, small_params, Faults, Sim};
use tracing::info;

/// Base view-change timeout T in the simulations (ms).
const T: u64 = 400;

fn params() -> ProtocolConfig {
    small_params(T)
}

fn lossy() -> Faults {
    Faults {
        drop: 0.02,
        duplicate: 0.02,
        max_delay_ms: 8,
    }
}

fn init_tracing() {
    let _ = tracing_subscriber::fmt()
        .with_test_writer()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        .try_init();
}

/// A cluster of 3f+1 with `clients` clients, each with `ops` appends and writes.
fn cluster(seed: u64, f: usize, clients: usize, ops: usize) -> Sim {
    init_tracing();
    info!(seed, n = 3 * f + 1, "--- start");
    let mut sim = Sim::new(seed, f, clients, lossy(), params());
    sim.load_appends_and_writes(ops);
    sim
}

/// Agreement among `correct` replicas (no two executed different batches at one
/// sequence number, no gaps), and every append executed exactly once at each.
fn check_safety(sim: &Sim, correct: &[usize], seed: u64) {
    sim.assert_agreement_among(correct, seed);
    let mut expected: Vec<u64> = Vec::new();
    for (c, client) in sim.clients.iter().enumerate() {
        for k in (0..client.ops.len()).filter(|k| k % 2 == 0) {
            expected.push((c * 1000 + k) as u64);
        }
    }
    expected.sort_unstable();
    for i in correct {
        let list = sim.replicas[*i]
            .state()
            .get("list")
            .cloned()
            .unwrap_or(json!([]));
        let mut got: Vec<u64> = list
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_u64().unwrap())
            .collect();
        got.sort_unstable();
        assert_eq!(
            got, expected,
            "replica {i}: every append exactly once; PBFT_SIM_SEED={seed}"
        );
    }
}

/// Runs the clients to completion, lets retransmissions settle, checks safety and
/// that the correct replicas converged.
fn finish(sim: &mut Sim, correct: &[usize], seed: u64) {
    assert!(
        sim.run(120_000),
        "clients did not finish ({} ops done); PBFT_SIM_SEED={seed}",
        sim.completed()
    );
    info!(now = sim.now, delivered = ?sim.delivered, "--- clients done; settle");
    sim.settle(3_000);
    info!(now = sim.now, delivered = ?sim.delivered, "--- settled");
    // An idle cluster runs no view-change timer: not one VIEW-CHANGE or NEW-VIEW.
    let vc = |s: &Sim| {
        s.delivered.get("view-change").copied().unwrap_or(0)
            + s.delivered.get("new-view").copied().unwrap_or(0)
    };
    let before = vc(sim);
    sim.settle(2_000);
    assert_eq!(
        vc(sim),
        before,
        "no view-change traffic when idle; PBFT_SIM_SEED={seed}"
    );
    for r in &sim.replicas {
        info!(status = ?r.status(), "final");
    }
    check_safety(sim, correct, seed);
    let states = sim.states_by_replica();
    let first = &states[&correct[0]];
    for i in correct {
        assert_eq!(
            &states[i], first,
            "replica {i} did not converge; PBFT_SIM_SEED={seed}"
        );
    }
}

fn views(sim: &Sim, of: &[usize]) -> Vec<u64> {
    of.iter().map(|i| sim.replicas[*i].view()).collect()
}

// --- the primary crashes -------------------------------------------------------

fn primary_crash(seed: u64, f: usize) {
    let mut sim = cluster(seed, f, 3, 16);
    let n = 3 * f + 1;
    assert!(!sim.run(150), "still running when the primary crashes");
    info!("--- crash the primary (replica 0)");
    sim.stop(0);
    let correct: Vec<usize> = (1..n).collect();
    let before = sim.now;
    assert!(
        sim.run_until(20 * T, |s| !s.replicas[2].status().view_active),
        "replica 2 starts a view change; PBFT_SIM_SEED={seed}"
    );
    let leaving = sim.replicas[2].view();
    info!(
        leaving,
        "--- crash and restart replica 2 in the middle of its view change"
    );
    sim.crash_and_recover(2);
    let st = sim.replicas[2].status();
    assert!(
        st.view == leaving && !st.view_active,
        "the VIEW-CHANGE was persisted: no going back to an earlier view: {st:?}"
    );
    assert!(
        sim.run_until(20 * T, |s| correct.iter().all(|i| s.replicas[*i].view()
            >= 1
            && s.replicas[*i].status().view_active)),
        "a new view is installed; PBFT_SIM_SEED={seed}"
    );
    info!(
        after_ms = sim.now - before,
        "--- new view installed; finish the load"
    );
    finish(&mut sim, &correct, seed);
    for i in &correct {
        let st = sim.replicas[*i].status();
        assert!(st.view >= 1 && st.view_changes >= 1, "replica {i}: {st:?}");
    }
}

#[test]
fn n4_primary_crash_installs_new_view_and_completes_pending_requests() {
    primary_crash(seed_from_env(101), 1);
}

#[test]
fn n7_primary_crash_installs_new_view_and_completes_pending_requests() {
    primary_crash(seed_from_env(107), 2);
}

// --- the primary is partitioned away, then heals -----------------------------------

fn partitioned_primary(seed: u64, f: usize, poison: bool) {
    let mut sim = cluster(seed, f, 3, 40);
    let n = 3 * f + 1;
    if poison {
        info!("--- replica 1 poisons its state-transfer answers");
        sim.byzantine = Some((1, Box::new(poison_state)));
    }
    assert!(!sim.run(100));
    info!("--- isolate the primary (replica 0)");
    sim.isolate(0);
    let others: Vec<usize> = (1..n).collect();
    // Long enough for the others to move two checkpoints past the old primary.
    let low0 = sim.replicas[0].last_executed();
    assert!(
        sim.run_until(60_000, |s| s.replicas[1].status().stable_checkpoint
            > low0 + 2 * params().log_window),
        "the others make progress without the old primary; PBFT_SIM_SEED={seed}"
    );
    assert!(views(&sim, &others).iter().all(|v| *v >= 1));
    assert_eq!(
        sim.replicas[0].view(),
        0,
        "the isolated primary saw nothing"
    );
    info!(now = sim.now, "--- heal");
    sim.heal();
    let all: Vec<usize> = (0..n).collect();
    finish(&mut sim, &all, seed);
    let old = sim.replicas[0].status();
    info!(?old, "--- the old primary caught up");
    assert!(
        old.state_transfers >= 1,
        "caught up by state transfer: {old:?}"
    );
    assert_eq!(old.view, sim.replicas[1].view(), "and joined the new view");
}

#[test]
fn n4_partitioned_primary_heals_and_catches_up_by_state_transfer() {
    partitioned_primary(seed_from_env(201), 1, false);
}

#[test]
fn n7_partitioned_primary_heals_and_catches_up_by_state_transfer() {
    partitioned_primary(seed_from_env(207), 2, false);
}

#[test]
fn n4_poisoned_state_transfer_answer_is_refused_and_another_peer_asked() {
    partitioned_primary(seed_from_env(211), 1, true);
}

#[test]
fn n7_poisoned_state_transfer_answer_is_refused_and_another_peer_asked() {
    partitioned_primary(seed_from_env(217), 2, true);
}

// --- a Byzantine primary equivocates ---------------------------------------------

fn equivocating_primary(seed: u64, f: usize) {
    let mut sim = cluster(seed, f, 3, 12);
    let n = 3 * f + 1;
    info!("--- replica 0 (primary) equivocates");
    sim.byzantine = Some((0, Box::new(equivocate)));
    let correct: Vec<usize> = (1..n).collect();
    finish(&mut sim, &correct, seed);
    assert!(
        views(&sim, &correct).iter().all(|v| *v >= 1),
        "a view change followed; PBFT_SIM_SEED={seed}"
    );
}

#[test]
fn n4_equivocating_primary_never_splits_correct_replicas_and_is_replaced() {
    equivocating_primary(seed_from_env(301), 1);
}

#[test]
fn n7_equivocating_primary_never_splits_correct_replicas_and_is_replaced() {
    equivocating_primary(seed_from_env(307), 2);
}

// --- a primary that censors one client ------------------------------------------

/// Regression (issue 9, the `censor` mutator): the view-change timer was re-armed by
/// any execution, so a primary that ordered every client's requests but one was never
/// replaced and that client waited forever. The timer now waits for one request, and
/// only that request's execution stops it.
fn censoring_primary(seed: u64, f: usize) {
    // The other clients keep the primary busy far longer than the censored one waits.
    let mut sim = cluster(seed, f, 3, 400);
    sim.clients[1].ops.truncate(2);
    let n = 3 * f + 1;
    let censored = sim.client_keys[1].0;
    info!(
        censored,
        "--- replica 0 (primary) ignores one client's requests and relays of them"
    );
    sim.request_filter = Some(Box::new(move |to, r| {
        !(to == 0 && r.body.client == censored)
    }));
    sim.link_filter = Some(Box::new(move |_, to, m| {
        !(to == 0 && matches!(m, PeerMessage::Relay(r) if r.body.client == censored))
    }));
    assert!(
        sim.run_until(20 * T, |s| s.clients[1].done.len() == 2),
        "the censored client was not served within 20T while the others made progress \
         ({} ops done); PBFT_SIM_SEED={seed}",
        sim.completed()
    );
    assert!(
        sim.clients[0].done.len() < sim.clients[0].ops.len(),
        "the others were still busy: the timer fired despite their progress"
    );
    let correct: Vec<usize> = (1..n).collect();
    assert!(
        views(&sim, &correct).iter().all(|v| *v >= 1),
        "the censoring primary was replaced; PBFT_SIM_SEED={seed}"
    );
    sim.assert_agreement_among(&correct, seed);
}

#[test]
fn n4_censoring_primary_is_replaced_and_the_censored_client_served() {
    censoring_primary(seed_from_env(801), 1);
}

#[test]
fn n7_censoring_primary_is_replaced_and_the_censored_client_served() {
    censoring_primary(seed_from_env(807), 2);
}

/// Regression (found by `harness selftest`'s equivocation scenario against the correct
/// build): only a missing NEW-VIEW doubled the view-change timeout. A view that was
/// installed in time but then executed nothing was abandoned after T, and the next
/// one after T again: under load, re-preparing a long O took longer than T, so the
/// cluster changed views every T forever, even after the faults stopped. Here no
/// PRE-PREPARE is delivered (NEW-VIEWs are), so no view executes anything: the timeout
/// must grow, and once PRE-PREPAREs flow again every request completes.
fn views_that_execute_nothing(seed: u64, f: usize) {
    let mut sim = cluster(seed, f, 2, 6);
    let n = 3 * f + 1;
    info!("--- no PRE-PREPARE is delivered: every view executes nothing");
    sim.link_filter = Some(Box::new(|_, _, m| !matches!(m, PeerMessage::PrePrepare(_))));
    let all: Vec<usize> = (0..n).collect();
    assert!(
        sim.run_until(200 * T, |s| views(s, &all).iter().all(|v| *v >= 4)),
        "views did not keep changing while nothing executed (waited 200T for view 4 \
         everywhere, views {:?}); PBFT_SIM_SEED={seed}",
        views(&sim, &all)
    );
    let timeouts: Vec<u64> = sim
        .replicas
        .iter()
        .map(|r| r.status().view_change_timeout_ms)
        .collect();
    // Each replica doubles when its own timer expires (one that joined a view, or led
    // it, did not), so not all by as much.
    assert!(
        timeouts.iter().all(|t| *t >= 2 * T) && timeouts.iter().any(|t| *t >= 4 * T),
        "a view that executed nothing must double the timeout: after 4 such views every \
         replica waits at least 2T and some 4T, got {timeouts:?} (T = {T}); \
         PBFT_SIM_SEED={seed}"
    );
    info!("--- PRE-PREPAREs flow again");
    sim.link_filter = None;
    finish(&mut sim, &all, seed);
}

#[test]
fn n4_views_that_execute_nothing_double_the_view_change_timeout() {
    views_that_execute_nothing(seed_from_env(851), 1);
}

#[test]
fn n7_views_that_execute_nothing_double_the_view_change_timeout() {
    views_that_execute_nothing(seed_from_env(857), 2);
}

// --- forged VIEW-CHANGEs, wrong NEW-VIEW --------------------------------------------

fn forged_view_changes(seed: u64, f: usize) {
    let mut sim = cluster(seed, f, 3, 10);
    let n = 3 * f + 1;
    info!("--- replica 0 (primary) is silent, then forges VIEW-CHANGEs");
    sim.byzantine = Some((0, Box::new(forge_view_change)));
    let correct: Vec<usize> = (1..n).collect();
    finish(&mut sim, &correct, seed);
    assert!(views(&sim, &correct).iter().all(|v| *v >= 1));
    // Deterministically, whatever the schedule: both forgeries for the next view,
    // straight to every correct replica.
    info!("--- forged VIEW-CHANGEs for the next view, to every correct replica");
    let view = sim.replicas[1].view();
    for to in correct.clone() {
        for variant in [0usize, 1] {
            let vc = Signed::sign(
                ViewChange {
                    view: view + 1,
                    stable_seq: 0,
                    checkpoint_proof: Vec::new(),
                    prepared: Vec::new(),
                    replica: 0,
                },
                &sim.keys[0],
            );
            let forged = forge_view_change(variant, PeerMessage::ViewChange(vc), &sim.keys[0])
                .expect("rewritten");
            match sim.verify(forged) {
                None => assert_eq!(variant, 0, "only the re-labelled PREPAREs fail signatures"),
                Some(v) => {
                    assert_eq!(variant, 1);
                    let out = sim.deliver(to, replica::core::Input::Peer(v));
                    assert!(
                        out.iter().any(|o| matches!(
                            o,
                            replica::core::Output::Rejected {
                                kind: "view-change",
                                ..
                            }
                        )),
                        "replica {to} rejects an incomplete certificate: {out:?}"
                    );
                }
            }
        }
        assert_eq!(sim.replicas[to].view(), view, "nothing moved");
    }
}

#[test]
fn n4_forged_view_change_certificates_are_rejected() {
    forged_view_changes(seed_from_env(401), 1);
}

#[test]
fn n7_forged_view_change_certificates_are_rejected() {
    forged_view_changes(seed_from_env(407), 2);
}

fn wrong_new_view(seed: u64, f: usize) {
    let mut sim = cluster(seed, f, 3, 10);
    let n = 3 * f + 1;
    sim.byzantine = Some((1, Box::new(wrong_o)));
    assert!(!sim.run(100));
    info!("--- partition the primary away; replica 1, next primary, lies in NEW-VIEW");
    sim.isolate(0);
    let correct: Vec<usize> = (2..n).collect();
    assert!(
        sim.run_until(40 * T, |s| correct.iter().all(|i| s.replicas[*i].view()
            >= 2
            && s.replicas[*i].status().view_active)),
        "view 2 installed after the bad NEW-VIEW; PBFT_SIM_SEED={seed}"
    );
    let bad = sim.rejected_kinds.get("new-view").copied().unwrap_or(0);
    assert!(bad > 0, "the wrong NEW-VIEW was rejected");
    info!(bad, "--- heal");
    sim.heal();
    let mut all_correct = vec![0];
    all_correct.extend(correct);
    finish(&mut sim, &all_correct, seed);
}

#[test]
fn n4_new_view_with_wrong_o_is_rejected_and_next_view_follows() {
    wrong_new_view(seed_from_env(501), 1);
}

#[test]
fn n7_new_view_with_wrong_o_is_rejected_and_next_view_follows() {
    wrong_new_view(seed_from_env(507), 2);
}

// --- two view changes in a row -------------------------------------------------------

fn two_view_changes(seed: u64, f: usize) {
    let mut sim = cluster(seed, f, 3, 10);
    let n = 3 * f + 1;
    sim.byzantine = Some((1, Box::new(silent_primary)));
    assert!(!sim.run(100));
    info!("--- partition the primary away; the next primary is silent too");
    sim.isolate(0);
    let correct: Vec<usize> = (2..n).collect();
    let start = sim.now;
    let mut max_timeout = 0;
    let ok = sim.run_until(60 * T, |s| {
        for i in 2..n {
            max_timeout = max_timeout.max(s.replicas[i].status().view_change_timeout_ms);
        }
        (2..n).all(|i| s.replicas[i].view() == 2 && s.replicas[i].status().view_active)
    });
    assert!(
        ok,
        "the third primary installs view 2; PBFT_SIM_SEED={seed}"
    );
    info!(
        after_ms = sim.now - start,
        max_timeout, "--- view 2 installed"
    );
    assert_eq!(max_timeout, 2 * T, "the second view change waited 2T");
    sim.heal();
    let mut all_correct = vec![0];
    all_correct.extend(correct);
    finish(&mut sim, &all_correct, seed);
    assert!(views(&sim, &all_correct).iter().all(|v| *v == 2));
}

#[test]
fn n4_two_faulty_primaries_in_a_row_back_off_and_the_third_makes_progress() {
    two_view_changes(seed_from_env(601), 1);
}

#[test]
fn n7_two_faulty_primaries_in_a_row_back_off_and_the_third_makes_progress() {
    two_view_changes(seed_from_env(607), 2);
}

// --- committed at only f+1 correct replicas (concord-bft #50, CCF #839) ------------

/// The first batch commits at exactly f+1 correct replicas (plus the faulty ones):
/// PREPAREs and COMMITs never reach replicas 1..=f (1 is the next primary). Then
/// the faulty replicas stop; the batch must keep its sequence number in view 1.
fn committed_at_f_plus_one(seed: u64, f: usize) {
    let n = 3 * f + 1;
    let mut sim = cluster(seed, f, 1, 6);
    sim.faults = Faults {
        drop: 0.0,
        duplicate: 0.0,
        max_delay_ms: 4,
    };
    let faulty: Vec<usize> = std::iter::once(0)
        .chain((n - f + 1..n).take(f - 1))
        .collect();
    let starved: Vec<usize> = (1..=f).collect();
    let s2 = starved.clone();
    sim.link_filter = Some(Box::new(move |_, to, m| {
        !(s2.contains(&to) && matches!(m, PeerMessage::Prepare(_) | PeerMessage::Commit(_)))
    }));
    assert!(
        sim.run_until(5_000, |s| s.completed() >= 1),
        "the first operation completes; PBFT_SIM_SEED={seed}"
    );
    let (seq, digest) = (0..n)
        .find_map(|i| sim.executed[i].first().copied())
        .expect("someone executed it");
    let at: Vec<usize> = (0..n).filter(|i| !sim.executed[*i].is_empty()).collect();
    info!(
        ?at,
        ?faulty,
        "--- first batch executed; stop the faulty replicas"
    );
    for i in &starved {
        assert!(sim.executed[*i].is_empty(), "replica {i} must not have it");
    }
    for i in &faulty {
        sim.stop(*i);
    }
    sim.link_filter = None;
    let correct: Vec<usize> = (0..n).filter(|i| !faulty.contains(i)).collect();
    finish(&mut sim, &correct, seed);
    for i in &correct {
        assert_eq!(
            sim.executed[*i][0],
            (seq, digest),
            "replica {i} kept the batch at {seq}"
        );
        assert!(sim.replicas[*i].view() >= 1);
    }
}

#[test]
fn n4_request_committed_at_f_plus_one_correct_survives_view_change() {
    committed_at_f_plus_one(seed_from_env(701), 1);
}

#[test]
fn n7_request_committed_at_f_plus_one_correct_survives_view_change() {
    committed_at_f_plus_one(seed_from_env(707), 2);
}
