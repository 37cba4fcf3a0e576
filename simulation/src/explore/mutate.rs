//! Mutating a schedule that reached new coverage, so the search stays near it: add a
//! window, remove one, shift one, stretch or shrink one, or change what one does (its
//! topology, its target, its mutators, its packet faults). A mutant that is not a
//! valid schedule within the fault bound is discarded and another mutation tried.

use super::draw::{
    add_if_valid, draw_fault, draw_mutators, draw_packet, draw_target, draw_topology, draw_window,
    is_valid, Kind,
};
use nemesis::{Fault, Schedule};
use rand::seq::SliceRandom;
use rand::Rng;
use rand_chacha::ChaCha8Rng;

/// Attempts at a valid mutant before the parent is returned unchanged.
const ATTEMPTS: usize = 8;

/// One to three mutations of `parent` (n = 3f+1 replicas, a workload of `t` ms).
pub fn mutate_schedule(rng: &mut ChaCha8Rng, parent: &Schedule, f: usize, t: u64) -> Schedule {
    let mut s = parent.clone();
    for _ in 0..rng.gen_range(1..=3) {
        for _ in 0..ATTEMPTS {
            if let Some(next) = mutate_once(rng, &s, f, t) {
                s = next;
                break;
            }
        }
    }
    s.windows.sort_by_key(|w| w.start_ms);
    s
}

/// One mutation, or `None` if it made the schedule invalid.
fn mutate_once(rng: &mut ChaCha8Rng, s: &Schedule, f: usize, t: u64) -> Option<Schedule> {
    let mut next = s.clone();
    let empty = next.windows.is_empty();
    let op = if empty { 0 } else { rng.gen_range(0..6) };
    match op {
        0 => {
            let kind = *Kind::ALL.choose(rng)?;
            let window = draw_window(rng, kind, f, t);
            return add_if_valid(&mut next, window, f, t).then_some(next);
        }
        1 => {
            let i = rng.gen_range(0..next.windows.len());
            next.windows.remove(i);
        }
        2 => {
            // Shift: up to a quarter of the run either way.
            let i = rng.gen_range(0..next.windows.len());
            let w = &mut next.windows[i];
            let len = w.stop_ms - w.start_ms;
            let delta = rng.gen_range(0..=t / 4) as i64 * if rng.gen_bool(0.5) { 1 } else { -1 };
            let start = (w.start_ms as i64 + delta).clamp(0, t as i64 - 1) as u64;
            w.start_ms = start;
            w.stop_ms = (start + len).min(t).max(start + 1);
        }
        3 => {
            // Stretch or shrink: the length times 1/4 .. 2.
            let i = rng.gen_range(0..next.windows.len());
            let w = &mut next.windows[i];
            let len = (w.stop_ms - w.start_ms) as f64;
            let factor = *[0.25, 0.5, 1.5, 2.0].choose(rng)?;
            let new_len = ((len * factor) as u64).max(20);
            w.stop_ms = (w.start_ms + new_len).min(t).max(w.start_ms + 1);
        }
        _ => {
            let i = rng.gen_range(0..next.windows.len());
            let w = &mut next.windows[i];
            w.fault = change_fault(rng, &w.fault, f);
        }
    }
    is_valid(&next, f, t).then_some(next)
}

/// The same family of fault, doing something else.
fn change_fault(rng: &mut ChaCha8Rng, fault: &Fault, f: usize) -> Fault {
    let n = 3 * f + 1;
    match fault {
        Fault::Partition { clients, .. } => Fault::Partition {
            topology: draw_topology(rng, n),
            clients: *clients,
        },
        Fault::Packet { .. } => Fault::Packet {
            spec: draw_packet(rng, n),
        },
        Fault::Kill { .. } => Fault::Kill {
            target: draw_target(rng, n),
        },
        Fault::Pause { .. } => Fault::Pause {
            target: draw_target(rng, n),
        },
        // Not drawn by the explorer (the simulator models no real files); kept as is.
        Fault::Disk { .. } => fault.clone(),
        Fault::RollingRestart | Fault::Clock { .. } => {
            let kind = if matches!(fault, Fault::RollingRestart) {
                Kind::Process
            } else {
                Kind::Clock
            };
            draw_fault(rng, kind, f)
        }
        Fault::Byzantine { faulty, mutators } => {
            let mut mutators = mutators.clone();
            match rng.gen_range(0..3) {
                // Swap one mutator for another.
                0 => {
                    let i = rng.gen_range(0..mutators.len());
                    mutators[i] = *nemesis::Mutator::ALL.choose(rng).unwrap_or(&mutators[i]);
                }
                // Add one.
                1 => mutators.extend(draw_mutators(rng).into_iter().take(1)),
                // A fresh set.
                _ => mutators = draw_mutators(rng),
            }
            mutators.sort();
            mutators.dedup();
            Fault::Byzantine {
                faulty: if rng.gen_bool(0.3) {
                    super::draw::draw_faulty(rng, f)
                } else {
                    faulty.clone()
                },
                mutators,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::explore::draw::draw_schedule;
    use rand::SeedableRng;

    #[test]
    fn mutants_are_valid_and_usually_differ_from_their_parent() {
        let mut changed = 0;
        for seed in 0..200 {
            let mut rng = ChaCha8Rng::seed_from_u64(seed);
            let parent = draw_schedule(&mut rng, 1, 6_000);
            let child = mutate_schedule(&mut rng, &parent, 1, 6_000);
            assert!(is_valid(&child, 1, 6_000), "{child:?}");
            if child != parent {
                changed += 1;
            }
        }
        assert!(changed > 150, "only {changed} of 200 mutants changed");
    }
}
