//! The availability oracle can fail the runs people use: the default run, and every
//! cell of the smoke and nightly suites, have stretches where progress is promised for
//! longer than the bound, so a cluster that stops for good there is caught. Judged on
//! the planned schedules, each fault touching the replicas its target resolves to
//! (as the runner resolves it, the primary taken to be replica 0), with a history in
//! which nothing completes after the start.

use super::suite::Suite;
use super::RunConfig;
use checker::oracles::{availability, ProgressBound};
use checker::{Op, OpType, Process, Verdict};
use nemesis::fault::Fault;
use nemesis::partition::ClientSide;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use serde_json::json;

const S: u64 = 1_000_000_000;

/// The history's nemesis operations for a plan, as the runner records them.
fn nemesis_ops(config: &RunConfig) -> Vec<Op> {
    let n = config.settings.n();
    let mut rng = ChaCha8Rng::seed_from_u64(config.settings.seed());
    let mut ops = Vec::new();
    for w in &config.schedule.windows {
        let (start, stop, value) = match &w.fault {
            Fault::Packet { spec } => (
                "start-packet",
                "stop-packet",
                json!({"packet": spec.to_string()}),
            ),
            Fault::Partition { topology, clients } => {
                let (_, components) = topology.resolve(n, 0, &mut rng);
                let clients = match clients {
                    ClientSide::All => "all",
                    ClientSide::Isolated => "isolated",
                };
                let value = json!({"components": components, "clients": clients});
                ("start-partition", "stop-partition", value)
            }
            Fault::Byzantine { faulty, .. } => {
                let nodes = faulty.resolve(n, 0, &mut rng);
                ("start-byzantine", "stop-byzantine", json!({"nodes": nodes}))
            }
            Fault::Kill { target } => {
                let nodes = target.resolve(n, 0, &mut rng);
                ("kill", "start", json!({"nodes": nodes}))
            }
            Fault::RollingRestart => ("kill", "start", json!({"nodes": [0]})),
            Fault::Pause { target } => {
                let nodes = target.resolve(n, 0, &mut rng);
                ("pause", "resume", json!({"nodes": nodes}))
            }
            Fault::Clock { target, .. } => {
                let nodes = target.resolve(n, 0, &mut rng);
                ("bump-clock", "reset-clock", json!({"nodes": nodes}))
            }
            Fault::Disk { target, fault } => {
                let nodes = target.resolve(n, 0, &mut rng);
                (fault.name(), "heal-disk", json!({"nodes": nodes}))
            }
        };
        let at = |ms: u64| ms * 1_000_000;
        ops.push(Op::new(
            0,
            Process::Nemesis,
            OpType::Info,
            start,
            value,
            at(w.start_ms),
        ));
        ops.push(Op::new(
            0,
            Process::Nemesis,
            OpType::Info,
            stop,
            json!({}),
            at(w.stop_ms),
        ));
    }
    ops
}

/// The availability verdict of a run that completes one operation at 0.1 s and then,
/// if `healthy`, one every half second, else none.
fn judged(config: &RunConfig, healthy: bool) -> Verdict {
    let s = &config.settings;
    let end = (s.time_limit + s.recovery_time) * S;
    let mut ops = nemesis_ops(config);
    let every = if healthy { S / 2 } else { end };
    let mut t = S / 10;
    while t < end {
        ops.push(Op::new(
            0,
            Process::Client(1),
            OpType::Ok,
            "read",
            json!(1),
            t,
        ));
        t += every;
    }
    ops.sort_by_key(|o| o.time);
    let bound = ProgressBound::Derived {
        f: s.f,
        base_ns: 5 * S,
        initial_t_ms: s.view_change_timeout(),
        samples: Vec::new(),
    };
    availability(&ops, s.n(), s.f, (0, end), &[], &bound).verdict
}

fn assert_can_fail(what: &str, config: &RunConfig) {
    assert_eq!(
        judged(config, false),
        Verdict::Invalid,
        "{what}: a cluster that stops for good must fail availability; its plan: {:?}",
        config.schedule
    );
    assert_eq!(
        judged(config, true),
        Verdict::Valid,
        "{what}: steady progress must pass"
    );
}

#[test]
fn the_default_run_and_every_suite_cell_can_fail_availability() {
    // The default run draws its plan from a seed taken from the clock: every seed's
    // plan must be able to fail (one in twenty or so once drew only faults touching
    // more than f replicas).
    for seed in 0..200 {
        let settings = super::RunSettings {
            seed: Some(seed),
            ..super::RunSettings::default()
        };
        let default = RunConfig::resolve(None, &settings, &[]).unwrap();
        assert_can_fail(&format!("the default run, seed {seed}"), &default);
    }
    let suites = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../suites");
    for file in ["smoke.toml", "nightly.toml"] {
        let suite = Suite::load(&suites.join(file), 1).unwrap();
        for cell in &suite.cells {
            assert_can_fail(&format!("{file} {}", cell.name), &cell.config);
        }
    }
}
