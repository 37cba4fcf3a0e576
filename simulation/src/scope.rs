//! Small-scope random schedules in the spirit of ByzzFuzz: a few partitions, a window
//! of packet faults, one kill and restart, and f Byzantine replicas with a few
//! mutators early in the run, never more than f replicas faulty at once (the Byzantine
//! window and the kill window do not overlap). The result is an ordinary
//! [`nemesis::Schedule`], so it can be written out and run against real processes.

use nemesis::byzantine::Mutator;
use nemesis::{ClientSide, Fault, Faulty, PacketSpec, Schedule, Target, Topology, Window};
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// The ChaCha stream small-scope schedules draw from.
pub const STREAM: u64 = 1 << 47;

/// A small-scope schedule for a cluster of `n = 3f+1` replicas and a workload phase of
/// `time_limit_ms` (at least 2 s), drawn from `seed`.
pub fn small_scope(seed: u64, f: usize, time_limit_ms: u64) -> Schedule {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    rng.set_stream(STREAM);
    let n = 3 * f + 1;
    let t = time_limit_ms.max(2_000);
    let half = t / 2;
    let mut windows = Vec::new();
    // Byzantine replicas in the first half, from early on.
    let mut nodes: Vec<usize> = (0..n).collect();
    nodes.shuffle(&mut rng);
    let mut faulty = nodes[..f].to_vec();
    faulty.sort_unstable();
    let mut mutators = Mutator::ALL.to_vec();
    mutators.shuffle(&mut rng);
    mutators.truncate(rng.gen_range(1..=3));
    mutators.sort();
    windows.push(Window {
        start_ms: rng.gen_range(0..t / 10).max(1),
        stop_ms: half,
        fault: Fault::Byzantine {
            faulty: Faulty::Nodes(faulty),
            mutators,
        },
    });
    // One kill and restart in the second half.
    let kill_at = half + rng.gen_range(0..t / 4);
    windows.push(Window {
        start_ms: kill_at,
        stop_ms: (kill_at + rng.gen_range(t / 20..=t / 5)).min(t),
        fault: Fault::Kill {
            target: Target::Nodes(vec![rng.gen_range(0..n)]),
        },
    });
    // Two partitions, one after the other.
    let mut at = rng.gen_range(0..t / 4);
    for _ in 0..2 {
        let topology = Topology::NAMED
            .choose(&mut rng)
            .and_then(|name| name.parse::<Topology>().ok())
            .unwrap_or(Topology::Primary);
        let len = rng.gen_range(t / 20..=t / 5);
        let stop = (at + len).min(t);
        if at >= stop {
            break;
        }
        windows.push(Window {
            start_ms: at,
            stop_ms: stop,
            fault: Fault::Partition {
                topology,
                clients: if rng.gen_bool(0.2) {
                    ClientSide::Isolated
                } else {
                    ClientSide::All
                },
            },
        });
        at = stop + rng.gen_range(0..t / 4);
        if at >= t {
            break;
        }
    }
    // A window of packet faults.
    let drop = [0.02, 0.05, 0.1][rng.gen_range(0..3)];
    let spec: PacketSpec = format!("drop={drop},duplicate=0.05,delay=20ms~10ms@0.3,reorder=0.05")
        .parse()
        .unwrap_or_default();
    let p_at = rng.gen_range(0..half);
    windows.push(Window {
        start_ms: p_at,
        stop_ms: (p_at + rng.gen_range(t / 10..=t / 2)).min(t),
        fault: Fault::Packet { spec },
    });
    windows.sort_by_key(|w| w.start_ms);
    Schedule { windows }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn small_scope_schedules_are_valid_and_seeded() {
        for seed in 0..50 {
            let s = small_scope(seed, 1, 10_000);
            s.validate(4, 10_000).unwrap();
            assert_eq!(s, small_scope(seed, 1, 10_000));
        }
        assert_ne!(small_scope(1, 1, 10_000), small_scope(2, 1, 10_000));
    }
}
