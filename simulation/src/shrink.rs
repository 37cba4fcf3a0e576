//! Shrinking a failing case: the smallest case found, by greedy passes, on which the
//! same oracle still fails with the same seed.
//!
//! Each pass proposes smaller cases, keeps the first that still fails and goes on from
//! it until none of its proposals fails; the passes repeat until none makes progress
//! or the run budget is spent (a case is never tried twice):
//!
//! 1. drop a window (the last first);
//! 2. shorten the workload to just past the last window's start (whole seconds), then
//!    halve it;
//! 3. halve a window (keep its first half, then its second);
//! 4. drop one mutator of a Byzantine window, one component of a packet fault;
//! 5. fewer clients (1, then half), a lower rate (half).
//!
//! The predicate decides what "still fails" means; [`still_fails`] is the usual one
//! (the named oracle's verdict is invalid). Every proposal is a valid schedule within
//! the fault bound, so the result can be run against real processes as it is.

use crate::case::Case;
use crate::explore::draw::is_valid;
use crate::simulate;
use checker::Verdict;
use nemesis::{Fault, PacketSpec};
use std::collections::BTreeSet;

/// How much shrinking may cost.
#[derive(Clone, Copy, Debug)]
pub struct ShrinkLimits {
    /// Most cases tried (each one simulation).
    pub max_runs: usize,
}

impl Default for ShrinkLimits {
    fn default() -> Self {
        ShrinkLimits { max_runs: 120 }
    }
}

/// What shrinking came to.
#[derive(Clone, Debug)]
pub struct Shrunk {
    /// The smallest failing case found.
    pub case: Case,
    /// Cases tried.
    pub runs: usize,
    /// Proposals that still failed (and were kept).
    pub steps: usize,
}

/// Whether `case` still makes the oracle called `oracle` answer invalid.
pub fn still_fails(case: &Case, oracle: &str) -> bool {
    let Ok(config) = case.config() else {
        return false;
    };
    simulate(config).is_ok_and(|r| {
        r.oracle(oracle)
            .is_some_and(|o| o.verdict == Verdict::Invalid)
    })
}

/// Shrinks `case`, which `fails`, while `fails` holds.
pub fn shrink(case: &Case, limits: ShrinkLimits, mut fails: impl FnMut(&Case) -> bool) -> Shrunk {
    let passes: [fn(&Case) -> Vec<Case>; 5] = [
        drop_windows,
        shorten_time,
        halve_windows,
        simplify_faults,
        lighten_load,
    ];
    let mut best = case.clone();
    let mut tried: BTreeSet<String> = BTreeSet::from([case.to_json()]);
    let mut runs = 0;
    let mut steps = 0;
    loop {
        let mut progressed = false;
        for pass in passes {
            // A pass goes on from each case it kept until none of its proposals fails.
            'pass: loop {
                for proposal in pass(&best) {
                    if runs >= limits.max_runs {
                        return Shrunk {
                            case: best,
                            runs,
                            steps,
                        };
                    }
                    let valid = is_valid(&proposal.schedule, proposal.f, proposal.time_limit_ms());
                    if !valid || !tried.insert(proposal.to_json()) {
                        continue;
                    }
                    runs += 1;
                    if fails(&proposal) {
                        best = proposal;
                        steps += 1;
                        progressed = true;
                        continue 'pass;
                    }
                }
                break;
            }
        }
        if !progressed {
            return Shrunk {
                case: best,
                runs,
                steps,
            };
        }
    }
}

/// The case without window i, for each i (the last first).
fn drop_windows(case: &Case) -> Vec<Case> {
    (0..case.schedule.windows.len())
        .rev()
        .map(|i| {
            let mut c = case.clone();
            c.schedule.windows.remove(i);
            c
        })
        .collect()
}

/// A shorter workload: just past the last window's start (or a second more), then
/// half as long.
fn shorten_time(case: &Case) -> Vec<Case> {
    let last_start = case.schedule.windows.iter().map(|w| w.start_ms).max();
    let needed = last_start.map_or(1, |s| s / 1000 + 1);
    let mut limits = vec![
        needed.max(1),
        needed + 1,
        (case.time_limit_s / 2).max(needed).max(1),
    ];
    limits.retain(|&t| t < case.time_limit_s);
    limits.dedup();
    limits
        .into_iter()
        .map(|t| {
            let mut c = case.clone();
            c.time_limit_s = t;
            for w in &mut c.schedule.windows {
                w.stop_ms = w.stop_ms.min(t * 1000);
            }
            c
        })
        .collect()
}

/// Each window halved: its first half, then its second.
fn halve_windows(case: &Case) -> Vec<Case> {
    let mut out = Vec::new();
    for (i, w) in case.schedule.windows.iter().enumerate() {
        let len = w.stop_ms - w.start_ms;
        if len < 100 {
            continue;
        }
        let mid = w.start_ms + len / 2;
        let mut first = case.clone();
        first.schedule.windows[i].stop_ms = mid;
        let mut second = case.clone();
        second.schedule.windows[i].start_ms = mid;
        second.schedule.windows.sort_by_key(|w| w.start_ms);
        out.push(first);
        out.push(second);
    }
    out
}

/// One Byzantine mutator fewer, one packet fault component fewer.
fn simplify_faults(case: &Case) -> Vec<Case> {
    let mut out = Vec::new();
    for (i, w) in case.schedule.windows.iter().enumerate() {
        match &w.fault {
            Fault::Byzantine { faulty, mutators } if mutators.len() > 1 => {
                for k in 0..mutators.len() {
                    let mut fewer = mutators.clone();
                    fewer.remove(k);
                    let mut c = case.clone();
                    c.schedule.windows[i].fault = Fault::Byzantine {
                        faulty: faulty.clone(),
                        mutators: fewer,
                    };
                    out.push(c);
                }
            }
            Fault::Packet { spec } => {
                for simpler in simpler_packets(spec) {
                    let mut c = case.clone();
                    c.schedule.windows[i].fault = Fault::Packet { spec: simpler };
                    out.push(c);
                }
            }
            _ => {}
        }
    }
    out
}

/// The spec with one of its faults (drop, duplicate, reorder, replay, delay) removed,
/// for each one it has, as long as one remains.
fn simpler_packets(spec: &PacketSpec) -> Vec<PacketSpec> {
    let mut out = Vec::new();
    let active = [spec.drop, spec.duplicate, spec.reorder, spec.replay]
        .iter()
        .filter(|p| **p > 0.0)
        .count()
        + usize::from(spec.delay.is_some());
    if active < 2 {
        return out;
    }
    for k in 0..5 {
        let mut s = spec.clone();
        let changed = match k {
            0 => std::mem::replace(&mut s.drop, 0.0) > 0.0,
            1 => std::mem::replace(&mut s.duplicate, 0.0) > 0.0,
            2 => std::mem::replace(&mut s.reorder, 0.0) > 0.0,
            3 => std::mem::replace(&mut s.replay, 0.0) > 0.0,
            _ => s.delay.take().is_some(),
        };
        if changed {
            out.push(s);
        }
    }
    out
}

/// Fewer clients (one, then half), a lower rate (half, at least 5 ops/s).
fn lighten_load(case: &Case) -> Vec<Case> {
    let mut out = Vec::new();
    for clients in [1, case.clients / 2] {
        if clients >= 1 && clients < case.clients {
            let mut c = case.clone();
            c.clients = clients;
            out.push(c);
        }
    }
    let rate = (case.rate / 2.0).max(5.0);
    if rate < case.rate {
        let mut c = case.clone();
        c.rate = rate;
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use nemesis::byzantine::Mutator;
    use nemesis::{Faulty, Schedule, Target, Topology, Window};

    fn noisy_case() -> Case {
        let mut case = Case::new(5, 12);
        case.schedule = Schedule {
            windows: vec![
                Window {
                    start_ms: 500,
                    stop_ms: 6_000,
                    fault: Fault::Partition {
                        topology: Topology::Primary,
                        clients: nemesis::ClientSide::All,
                    },
                },
                Window {
                    start_ms: 1_000,
                    stop_ms: 2_000,
                    fault: Fault::Byzantine {
                        faulty: Faulty::Nodes(vec![2]),
                        mutators: vec![Mutator::Equivocate, Mutator::Lie, Mutator::Replay],
                    },
                },
                Window {
                    start_ms: 2_500,
                    stop_ms: 9_000,
                    fault: Fault::Kill {
                        target: Target::Nodes(vec![1]),
                    },
                },
                Window {
                    start_ms: 3_000,
                    stop_ms: 11_000,
                    fault: Fault::Packet {
                        spec: "drop=0.1,duplicate=0.2,delay=20ms~10ms".parse().unwrap(),
                    },
                },
            ],
        };
        case
    }

    /// Fails when a kill is in force at 3 s and a Byzantine window lies, with at
    /// least two clients.
    fn synthetic_bug(case: &Case) -> bool {
        let kill_at_3s = case.schedule.windows.iter().any(|w| {
            matches!(w.fault, Fault::Kill { .. }) && w.start_ms <= 3_000 && 3_000 < w.stop_ms
        });
        let lies = case.schedule.windows.iter().any(|w| {
            matches!(&w.fault, Fault::Byzantine { mutators, .. } if mutators.contains(&Mutator::Lie))
        });
        kill_at_3s && lies && case.clients >= 2
    }

    #[test]
    fn shrinking_keeps_what_the_failure_needs_and_drops_the_rest() {
        let case = noisy_case();
        assert!(synthetic_bug(&case));
        let shrunk = shrink(&case, ShrinkLimits::default(), synthetic_bug);
        let c = &shrunk.case;
        assert!(synthetic_bug(c));
        assert_eq!(c.schedule.windows.len(), 2, "{:?}", c.schedule);
        let byz = c
            .schedule
            .windows
            .iter()
            .find_map(|w| match &w.fault {
                Fault::Byzantine { mutators, .. } => Some(mutators.clone()),
                _ => None,
            })
            .unwrap();
        assert_eq!(byz, vec![Mutator::Lie]);
        assert_eq!(c.clients, 2);
        assert!(c.rate < case.rate);
        assert!(c.time_limit_s <= 4, "time limit {}", c.time_limit_s);
        let kill = c
            .schedule
            .windows
            .iter()
            .find(|w| matches!(w.fault, Fault::Kill { .. }))
            .unwrap();
        assert!(kill.stop_ms - kill.start_ms < 6_500);
        assert!(shrunk.steps > 0 && shrunk.runs >= shrunk.steps);
        assert!(is_valid(&c.schedule, c.f, c.time_limit_ms()));
    }

    #[test]
    fn shrinking_stops_at_its_run_budget() {
        let mut calls = 0;
        let shrunk = shrink(&noisy_case(), ShrinkLimits { max_runs: 3 }, |c| {
            calls += 1;
            synthetic_bug(c)
        });
        assert_eq!(calls, 3);
        assert_eq!(shrunk.runs, 3);
        assert!(synthetic_bug(&shrunk.case));
    }

    #[test]
    fn a_case_that_only_fails_as_it_is_comes_back_unchanged() {
        let case = noisy_case();
        let original = case.clone();
        let shrunk = shrink(&case, ShrinkLimits::default(), |c| *c == original);
        assert_eq!(shrunk.case, case);
        assert_eq!(shrunk.steps, 0);
    }
}
