//! Fresh random schedules for the explorer, wider than [`crate::scope::small_scope`]:
//! any subset of the fault families, zero to three windows of each at random times
//! and lengths, partitions of every topology (or an explicit node set, sometimes with
//! the clients cut off with the isolated side), packet faults restricted to one
//! receiver or a few message types, kills and pauses of one replica or the primary,
//! clock bumps, strobes and rates, and Byzantine replicas with one to three mutators.
//!
//! Never more than f replicas are faulty at once: a window that kills, pauses or
//! makes replicas Byzantine is only added if, with every such window it overlaps, it
//! touches at most f replicas ([`within_fault_bound`]). Partitions, packet and clock
//! faults leave replicas correct.

use nemesis::byzantine::Mutator;
use nemesis::{
    ClientSide, ClockFault, Fault, Faulty, PacketSpec, Schedule, Target, Topology, Window,
};
use rand::seq::SliceRandom;
use rand::Rng;
use rand_chacha::ChaCha8Rng;

/// The message types packet faults may be restricted to.
const PACKET_KINDS: [&str; 8] = [
    "pre-prepare",
    "prepare",
    "commit",
    "checkpoint",
    "view-change",
    "new-view",
    "fetch-state",
    "state",
];

/// The fault families, as the explorer draws them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Kind {
    Partition,
    Packet,
    Process,
    Clock,
    Byzantine,
}

impl Kind {
    pub(crate) const ALL: [Kind; 5] = [
        Kind::Partition,
        Kind::Packet,
        Kind::Process,
        Kind::Clock,
        Kind::Byzantine,
    ];
}

/// A fresh schedule for n = 3f+1 replicas and a workload of `time_limit_ms`.
pub fn draw_schedule(rng: &mut ChaCha8Rng, f: usize, time_limit_ms: u64) -> Schedule {
    let mut schedule = Schedule::none();
    let t = time_limit_ms.max(1_000);
    for kind in Kind::ALL {
        let most = match kind {
            Kind::Partition => 3,
            Kind::Packet | Kind::Process => 2,
            Kind::Clock | Kind::Byzantine => 1,
        };
        if !rng.gen_bool(0.6) {
            continue;
        }
        let count = rng.gen_range(1..=most);
        for _ in 0..count {
            let window = draw_window(rng, kind, f, t);
            add_if_valid(&mut schedule, window, f, t);
        }
    }
    schedule.windows.sort_by_key(|w| w.start_ms);
    schedule
}

/// Adds `window` to `schedule` if the result is a valid schedule within the fault
/// bound; returns whether it did.
pub(crate) fn add_if_valid(schedule: &mut Schedule, window: Window, f: usize, t: u64) -> bool {
    let mut next = schedule.clone();
    next.windows.push(window);
    next.windows.sort_by_key(|w| w.start_ms);
    if is_valid(&next, f, t) {
        *schedule = next;
        true
    } else {
        false
    }
}

/// Whether `schedule` is valid for n = 3f+1 replicas and a workload of `t` ms, and
/// keeps within the fault bound.
pub fn is_valid(schedule: &Schedule, f: usize, t: u64) -> bool {
    schedule.validate(3 * f + 1, t).is_ok() && within_fault_bound(schedule, f)
}

/// How many replicas a window makes faulty (killed, paused or Byzantine).
fn faulty_count(fault: &Fault) -> usize {
    match fault {
        Fault::Kill { target } | Fault::Pause { target } => match target {
            Target::Nodes(v) => v.len(),
            Target::One | Target::Primary => 1,
            // Minority, majority, all: more than anyone can count on.
            _ => usize::MAX / 4,
        },
        Fault::RollingRestart => 1,
        Fault::Disk { target, .. } => match target {
            Target::Nodes(v) => v.len(),
            Target::One | Target::Primary => 1,
            _ => usize::MAX / 4,
        },
        Fault::Byzantine { faulty, .. } => faulty.count(),
        Fault::Partition { .. } | Fault::Packet { .. } | Fault::Clock { .. } => 0,
    }
}

/// Whether at every moment the windows in force make at most f replicas faulty.
pub fn within_fault_bound(schedule: &Schedule, f: usize) -> bool {
    let windows = &schedule.windows;
    windows.iter().all(|w| {
        let here = faulty_count(&w.fault);
        if here == 0 {
            return true;
        }
        // The load at w's start: every faulty window in force then.
        let load: usize = windows
            .iter()
            .filter(|o| o.start_ms <= w.start_ms && w.start_ms < o.stop_ms)
            .map(|o| faulty_count(&o.fault))
            .sum();
        load <= f
    })
}

/// A window of `kind` somewhere in `0..t`.
pub(crate) fn draw_window(rng: &mut ChaCha8Rng, kind: Kind, f: usize, t: u64) -> Window {
    let start_ms = rng.gen_range(0..t);
    let len = rng.gen_range((t / 20).max(50)..=(t / 2).max(100));
    Window {
        start_ms,
        stop_ms: (start_ms + len).min(t).max(start_ms + 1),
        fault: draw_fault(rng, kind, f),
    }
}

/// A fault of `kind` for n = 3f+1 replicas.
pub(crate) fn draw_fault(rng: &mut ChaCha8Rng, kind: Kind, f: usize) -> Fault {
    let n = 3 * f + 1;
    match kind {
        Kind::Partition => Fault::Partition {
            topology: draw_topology(rng, n),
            clients: if rng.gen_bool(0.2) {
                ClientSide::Isolated
            } else {
                ClientSide::All
            },
        },
        Kind::Packet => Fault::Packet {
            spec: draw_packet(rng, n),
        },
        Kind::Process => {
            let target = draw_target(rng, n);
            match rng.gen_range(0..10) {
                0 => Fault::RollingRestart,
                1..=5 => Fault::Kill { target },
                _ => Fault::Pause { target },
            }
        }
        Kind::Clock => Fault::Clock {
            target: draw_target(rng, n),
            fault: match rng.gen_range(0..3) {
                0 => ClockFault::Bump {
                    delta_ms: *[-10_000, -2_000, 500, 2_000, 10_000]
                        .choose(rng)
                        .unwrap_or(&2_000),
                },
                1 => ClockFault::Strobe {
                    delta_ms: *[200, 2_000].choose(rng).unwrap_or(&200),
                    period_ms: *[50, 200, 1_000].choose(rng).unwrap_or(&200),
                },
                _ => ClockFault::Rate {
                    rate: *[0.5, 2.0, 4.0].choose(rng).unwrap_or(&2.0),
                },
            },
        },
        Kind::Byzantine => Fault::Byzantine {
            faulty: draw_faulty(rng, f),
            mutators: draw_mutators(rng),
        },
    }
}

/// One replica, or the primary.
pub(crate) fn draw_target(rng: &mut ChaCha8Rng, n: usize) -> Target {
    if rng.gen_bool(0.35) {
        Target::Primary
    } else {
        Target::Nodes(vec![rng.gen_range(0..n)])
    }
}

/// f replicas by id, or whoever is primary.
pub(crate) fn draw_faulty(rng: &mut ChaCha8Rng, f: usize) -> Faulty {
    if rng.gen_bool(0.3) {
        return Faulty::Primary;
    }
    let mut nodes: Vec<usize> = (0..3 * f + 1).collect();
    nodes.shuffle(rng);
    let mut faulty = nodes[..rng.gen_range(1..=f)].to_vec();
    faulty.sort_unstable();
    Faulty::Nodes(faulty)
}

/// One to three mutators, sorted.
pub(crate) fn draw_mutators(rng: &mut ChaCha8Rng) -> Vec<Mutator> {
    let mut mutators = Mutator::ALL.to_vec();
    mutators.shuffle(rng);
    mutators.truncate(rng.gen_range(1..=3));
    mutators.sort();
    mutators
}

/// A named topology, or (one time in five) an explicit side of 1..n-1 nodes.
pub(crate) fn draw_topology(rng: &mut ChaCha8Rng, n: usize) -> Topology {
    if rng.gen_bool(0.2) {
        let mut nodes: Vec<usize> = (0..n).collect();
        nodes.shuffle(rng);
        let mut side = nodes[..rng.gen_range(1..n)].to_vec();
        side.sort_unstable();
        return Topology::Nodes(side);
    }
    Topology::NAMED
        .choose(rng)
        .and_then(|name| name.parse::<Topology>().ok())
        .unwrap_or(Topology::Primary)
}

/// Packet faults: a few of drop, duplicate, reorder, replay and delay, sometimes only
/// towards one replica or for a few message types; or (one time in four) a selective
/// omission: every message of one or two protocol types lost on the way into one to
/// f+1 replicas (the starvation that lets a quorum form without them).
pub(crate) fn draw_packet(rng: &mut ChaCha8Rng, n: usize) -> PacketSpec {
    if rng.gen_bool(0.25) {
        let kinds = *[
            "prepare",
            "commit",
            "prepare+commit",
            "pre-prepare",
            "checkpoint",
            "view-change",
            "new-view",
        ]
        .choose(rng)
        .unwrap_or(&"prepare+commit");
        let mut nodes: Vec<usize> = (0..n).collect();
        nodes.shuffle(rng);
        let most = ((n - 1) / 3 + 1).max(1);
        let mut to = nodes[..rng.gen_range(1..=most)].to_vec();
        to.sort_unstable();
        let to: Vec<String> = to.iter().map(|i| i.to_string()).collect();
        if let Ok(spec) = format!("drop=1,kinds={kinds},to={}", to.join("+")).parse() {
            return spec;
        }
    }
    let mut parts: Vec<String> = Vec::new();
    let pick = |rng: &mut ChaCha8Rng, choices: &[f64]| *choices.choose(rng).unwrap_or(&0.0);
    for (key, choices) in [
        ("drop", &[0.0, 0.02, 0.1, 0.3, 1.0][..]),
        ("duplicate", &[0.0, 0.05, 0.2][..]),
        ("reorder", &[0.0, 0.05, 0.2][..]),
        ("replay", &[0.0, 0.02, 0.1][..]),
    ] {
        let p = pick(rng, choices);
        if p > 0.0 {
            parts.push(format!("{key}={p}"));
        }
    }
    if rng.gen_bool(0.4) {
        let fixed = *[5u64, 20, 100, 400].choose(rng).unwrap_or(&20);
        parts.push(format!("delay={fixed}ms~{}ms@0.5", fixed / 2));
    }
    if parts.is_empty() {
        parts.push("drop=0.05".into());
    }
    if rng.gen_bool(0.3) {
        parts.push(format!("to={}", rng.gen_range(0..n)));
    }
    if rng.gen_bool(0.3) {
        let mut kinds = PACKET_KINDS.to_vec();
        kinds.shuffle(rng);
        kinds.truncate(rng.gen_range(1..=2));
        parts.push(format!("kinds={}", kinds.join("+")));
    } else if rng.gen_bool(0.15) {
        parts.push("links=clients".into());
    }
    parts
        .join(",")
        .parse()
        .unwrap_or_else(|_| PacketSpec::default_faults())
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    #[test]
    fn drawn_schedules_are_valid_varied_and_within_the_fault_bound() {
        let mut families = std::collections::BTreeSet::new();
        let mut sizes = std::collections::BTreeSet::new();
        for seed in 0..300 {
            let mut rng = ChaCha8Rng::seed_from_u64(seed);
            let s = draw_schedule(&mut rng, 1, 8_000);
            assert!(is_valid(&s, 1, 8_000), "{s:?}");
            sizes.insert(s.windows.len());
            families.extend(s.families());
            let mut again = ChaCha8Rng::seed_from_u64(seed);
            assert_eq!(draw_schedule(&mut again, 1, 8_000), s);
        }
        // Every family but the disk faults, which need real files (FUSE).
        let simulated = nemesis::Family::ALL
            .iter()
            .filter(|f| !f.needs_disk_layer())
            .count();
        assert_eq!(families.len(), simulated);
        assert!(sizes.len() >= 5, "window counts drawn: {sizes:?}");
    }

    #[test]
    fn the_fault_bound_counts_overlapping_faulty_windows() {
        let kill = |a, b, i| Window {
            start_ms: a,
            stop_ms: b,
            fault: Fault::Kill {
                target: Target::Nodes(vec![i]),
            },
        };
        let byz = |a, b| Window {
            start_ms: a,
            stop_ms: b,
            fault: Fault::Byzantine {
                faulty: Faulty::Nodes(vec![0]),
                mutators: vec![Mutator::Lie],
            },
        };
        let apart = Schedule {
            windows: vec![kill(0, 100, 1), byz(100, 200)],
        };
        assert!(within_fault_bound(&apart, 1));
        let overlapping = Schedule {
            windows: vec![byz(0, 150), kill(100, 200, 1)],
        };
        assert!(!within_fault_bound(&overlapping, 1));
        assert!(within_fault_bound(&overlapping, 2));
    }
}
