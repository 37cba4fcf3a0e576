//! Deterministic simulations of the protocol core under reordering, duplication and
//! loss (seeded; `PBFT_SIM_SEED=<n>` reproduces a failure).

mod sim;

use replica::config::ProtocolConfig;
use replica::state_machine::Operation;
use serde_json::json;
use sim::{seed_from_env, small_params, Faults, Sim};

fn params() -> ProtocolConfig {
    small_params(400)
}

fn lossy() -> Faults {
    Faults {
        drop: 0.05,
        duplicate: 0.05,
        max_delay_ms: 8,
    }
}

fn run_cluster(seed: u64, f: usize, clients: usize, ops: usize) -> Sim {
    let mut sim = Sim::new(seed, f, clients, lossy(), params());
    sim.load_appends_and_writes(ops);
    let finished = sim.run(60_000);
    assert!(
        finished,
        "clients did not finish; reproduce with PBFT_SIM_SEED={seed}"
    );
    sim.settle(2_000);
    sim.assert_agreement(seed);
    // After the network settles every replica has caught up to the same state.
    let states = sim.states_by_replica();
    let first = states.values().next().unwrap().clone();
    for (i, s) in &states {
        assert_eq!(
            s, &first,
            "replica {i} did not converge; PBFT_SIM_SEED={seed}"
        );
    }
    sim
}

fn assert_exactly_once(sim: &Sim, seed: u64) {
    let list = sim.replicas[0]
        .state()
        .get("list")
        .cloned()
        .unwrap_or(json!([]));
    let items = list.as_array().unwrap();
    let mut expected: Vec<serde_json::Value> = Vec::new();
    for (c, client) in sim.clients.iter().enumerate() {
        for (k, _) in client.ops.iter().enumerate().filter(|(k, _)| k % 2 == 0) {
            expected.push(json!(c * 1000 + k));
        }
    }
    let mut got = items.clone();
    got.sort_by_key(|v| v.as_u64());
    expected.sort_by_key(|v| v.as_u64());
    assert_eq!(
        got, expected,
        "every append executed exactly once; PBFT_SIM_SEED={seed}"
    );
}

#[test]
fn n4_agrees_under_reordering_duplication_and_loss() {
    for seed in [seed_from_env(1), 2, 3] {
        let sim = run_cluster(seed, 1, 3, 24);
        assert_exactly_once(&sim, seed);
        assert!(
            sim.replicas[0].last_executed() > 8,
            "checkpoints were crossed"
        );
    }
}

#[test]
fn n7_agrees_under_reordering_duplication_and_loss() {
    let seed = seed_from_env(7);
    let sim = run_cluster(seed, 2, 3, 12);
    assert_exactly_once(&sim, seed);
}

#[test]
fn exactly_once_under_aggressive_client_retransmission() {
    let seed = seed_from_env(11);
    let mut sim = Sim::new(seed, 1, 4, lossy(), params());
    sim.retransmit_ms = 5; // clients resend long before the first attempt can finish
    sim.load_appends_and_writes(16);
    assert!(sim.run(60_000), "PBFT_SIM_SEED={seed}");
    sim.settle(1_000);
    sim.assert_agreement(seed);
    assert_exactly_once(&sim, seed);
}

#[test]
fn same_seed_same_history() {
    let a = run_cluster(5, 1, 2, 10);
    let b = run_cluster(5, 1, 2, 10);
    assert_eq!(a.executed, b.executed, "the simulation is deterministic");
}

#[test]
fn crash_and_recovery_of_f_replicas_loses_nothing() {
    let seed = seed_from_env(21);
    let mut sim = Sim::new(seed, 1, 3, lossy(), params());
    sim.load_appends_and_writes(24);
    // --- crash a backup, later the primary, each restarted from what it persisted
    assert!(!sim.run(150), "still running when the backup crashes");
    sim.crash_and_recover(2);
    assert!(!sim.run(150), "still running when the primary crashes");
    sim.crash_and_recover(0);
    assert!(
        sim.run(60_000),
        "clients finish after the crashes; PBFT_SIM_SEED={seed}"
    );
    sim.settle(2_000);
    sim.assert_agreement(seed);
    assert_exactly_once(&sim, seed);
    // Every acknowledged write is in the final state.
    for (c, client) in sim.clients.iter().enumerate() {
        let last_write = client
            .ops
            .iter()
            .rposition(|op| matches!(op, Operation::Write { .. }))
            .unwrap();
        let got = sim.replicas[1].state().get(&format!("k{c}")).cloned();
        assert_eq!(got, Some(json!(last_write)), "PBFT_SIM_SEED={seed}");
    }
}
