//! The availability oracle: what BFT promises about progress, judged over the whole
//! run. While at most f replicas are touched by a fault (crashed or killed, paused,
//! cut off from a quorum, Byzantine, clock-skewed, behind lossy links) and the rest can
//! talk to each other and to the clients, the cluster must complete an operation
//! within a bound. Stretches where more than f are touched promise nothing.
//!
//! Which replicas a fault touches is read from the history's `nemesis` operations (and
//! the crashes the harness saw), so a fault the nemesis did not plan, such as the whole
//! cluster stopped from outside, is judged like no fault at all.
//!
//! The bound follows from the view-change timeout T in force when the gap begins (the
//! quorum's: the 2f+1 replicas with the smallest T): a correct quorum that lost its
//! primary waits T and changes view; a view change that fails doubles T, and at most
//! f+1 views in a row can have a faulty primary, so progress comes within
//! `T + 2T + ... + 2^(f+1) T = (2^(f+2) - 1) T`, plus a base for the machine. T growing
//! during the gap does not extend it: view changes that keep failing while at most f
//! replicas are touched are the failure this oracle is for. A fixed bound (`--stall`)
//! overrides it.

use super::faults::fault_windows;
use super::OracleResult;
use crate::history::{Op, OpType, Process};
use serde_json::Value;

/// How the bound on a gap without progress is set.
#[derive(Debug, Clone, PartialEq)]
pub enum ProgressBound {
    /// This many nanoseconds, whatever the view-change timeout (`--stall`).
    Fixed(u64),
    /// `(2^(f+2) - 1) T + base_ns`, T the quorum's timeout when the gap begins (from
    /// the samples, or `initial_t_ms` before the first).
    Derived {
        /// Fault bound f.
        f: usize,
        /// Added to the view changes' timeouts (ns).
        base_ns: u64,
        /// The configured view-change timeout (ms), in force until a sample says
        /// otherwise.
        initial_t_ms: u64,
        /// `(history ns, the quorum's view-change timeout in ms)`, in time order.
        samples: Vec<(u64, u64)>,
    },
}

impl ProgressBound {
    /// The bound (ns) on a gap from `a` to `b`.
    pub fn at(&self, a: u64, b: u64) -> u64 {
        match self {
            ProgressBound::Fixed(ns) => *ns,
            ProgressBound::Derived {
                f,
                base_ns,
                initial_t_ms,
                samples,
            } => {
                let _ = b;
                let at_start = samples.iter().rev().find(|(t, _)| *t <= a).map(|s| s.1);
                let t_ms = at_start.unwrap_or(*initial_t_ms).max(*initial_t_ms);
                view_changes_factor(*f) * t_ms * 1_000_000 + base_ns
            }
        }
    }

    /// How the bound is set, for the summary.
    pub fn describe(&self) -> String {
        match self {
            ProgressBound::Fixed(ns) => format!("{:.1} s (--stall)", *ns as f64 / 1e9),
            ProgressBound::Derived {
                f,
                base_ns,
                initial_t_ms,
                samples,
            } => {
                let largest = samples.iter().map(|s| s.1).max().unwrap_or(0);
                format!(
                    "{} T + {:.1} s, T the quorum's view-change timeout when the stretch \
                     began ({} ms configured, {} ms largest seen)",
                    view_changes_factor(*f),
                    *base_ns as f64 / 1e9,
                    initial_t_ms,
                    largest.max(*initial_t_ms)
                )
            }
        }
    }
}

/// How many base timeouts f+1 failed view changes in a row can take, each doubling
/// the last: `2^(f+2) - 1`.
pub fn view_changes_factor(f: usize) -> u64 {
    (1u64 << (f as u32 + 2).min(20)) - 1
}

/// The quorum's view-change timeout of one sample: the (2f+1)-th smallest of the
/// replicas' timeouts (a replica cut off alone keeps doubling its own; the quorum's
/// is what progress waits for). `None` if fewer than 2f+1 answered.
pub fn quorum_timeout(timeouts: &[Option<u64>], f: usize) -> Option<u64> {
    let mut known: Vec<u64> = timeouts.iter().flatten().copied().collect();
    known.sort_unstable();
    known.get(2 * f).copied()
}

/// A replica the harness saw exit on its own, from `at` (history ns) on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Lost {
    /// The replica.
    pub replica: usize,
    /// When it was noticed.
    pub at: u64,
}

/// Judges progress over `[from, to]` (history ns) of a cluster of `n = 3f+1`
/// replicas.
pub fn availability(
    ops: &[Op],
    n: usize,
    f: usize,
    (from, to): (u64, u64),
    lost: &[Lost],
    bound: &ProgressBound,
) -> OracleResult {
    let promised = promised_stretches(ops, n, f, (from, to), lost);
    let mut done: Vec<u64> = ops
        .iter()
        .filter(|o| {
            matches!(o.process, Process::Client(_))
                && matches!(o.kind, OpType::Ok | OpType::Fail)
                && (from..=to).contains(&o.time)
        })
        .map(|o| o.time)
        .collect();
    done.sort_unstable();
    let mut violations = Vec::new();
    let mut longest = 0u64;
    let mut promised_ns = 0u64;
    for &(a, b) in &promised {
        promised_ns += b - a;
        let inside = &done[done.partition_point(|&t| t <= a)..done.partition_point(|&t| t < b)];
        let mut prev = a;
        for t in inside.iter().copied().chain(std::iter::once(b)) {
            let gap = t - prev;
            longest = longest.max(gap);
            let limit = bound.at(prev, t);
            if gap > limit {
                violations.push(format!(
                    "no operation completed from {:.1} s to {:.1} s (history time) while at \
                     most f = {f} replicas were touched by a fault and the rest could talk; \
                     the bound was {:.1} s",
                    prev as f64 / 1e9,
                    t as f64 / 1e9,
                    limit as f64 / 1e9
                ));
            }
            prev = t;
        }
    }
    let checked = format!(
        "progress promised for {:.1} s of {:.1} s; longest promised stretch without a \
         completed operation {:.1} s; bound {}",
        promised_ns as f64 / 1e9,
        to.saturating_sub(from) as f64 / 1e9,
        longest as f64 / 1e9,
        bound.describe()
    );
    OracleResult::from_violations("availability", checked, violations)
}

/// The stretches of `[from, to]` in which at most f replicas are touched.
pub fn promised_stretches(
    ops: &[Op],
    n: usize,
    f: usize,
    (from, to): (u64, u64),
    lost: &[Lost],
) -> Vec<(u64, u64)> {
    // Every instant the touched set may change, with the windows in force.
    let spans: Vec<(u64, u64, Vec<usize>)> = fault_windows(ops)
        .into_iter()
        .map(|w| {
            let touched = touched_by(&w.fault, &w.what, n, f);
            (w.start, w.stop.unwrap_or(u64::MAX), touched)
        })
        .chain(lost.iter().map(|l| (l.at, u64::MAX, vec![l.replica])))
        .collect();
    let mut edges: Vec<u64> = spans
        .iter()
        .flat_map(|s| [s.0, s.1])
        .filter(|t| (from..to).contains(t))
        .chain([from, to])
        .collect();
    edges.sort_unstable();
    edges.dedup();
    let mut out: Vec<(u64, u64)> = Vec::new();
    for pair in edges.windows(2) {
        let (a, b) = (pair[0], pair[1]);
        let mut touched: Vec<usize> = spans
            .iter()
            .filter(|s| s.0 <= a && a < s.1)
            .flat_map(|s| s.2.iter().copied())
            .collect();
        touched.sort_unstable();
        touched.dedup();
        if touched.len() <= f {
            match out.last_mut() {
                Some(last) if last.1 == a => last.1 = b,
                _ => out.push((a, b)),
            }
        }
    }
    out
}

/// The replicas a fault (its start operation's `f` and value) touches; all of them
/// when it leaves no quorum that can talk with the clients.
pub fn touched_by(fault: &str, what: &Value, n: usize, f: usize) -> Vec<usize> {
    let all: Vec<usize> = (0..n).collect();
    let nodes = || -> Vec<usize> {
        what.get("nodes")
            .and_then(Value::as_array)
            .map(|a| {
                a.iter()
                    .filter_map(Value::as_u64)
                    .map(|i| i as usize)
                    .collect()
            })
            .unwrap_or_else(|| all.clone())
    };
    match fault {
        "start-partition" => partition_touched(what, n, f),
        "start-packet" => what
            .get("packet")
            .and_then(Value::as_str)
            .map_or_else(|| all.clone(), |spec| packet_touched(spec, n)),
        // A Byzantine primary that follows the view changes is, over its window, every
        // replica in turn: more than f, outside the model (a fixed set of at most f),
        // so nothing is promised while it is active.
        "start-byzantine" if what.get("role").and_then(Value::as_str) == Some("primary") => all,
        "start-byzantine" | "kill" | "pause" | "bump-clock" | "strobe-clock" | "rate-clock"
        | "lose-unsynced" | "torn-write" | "corrupt" | "read-error" => nodes(),
        _ => all,
    }
}

/// Replicas outside the component of at least 2f+1 that the clients reach; all of
/// them if there is none.
fn partition_touched(what: &Value, n: usize, f: usize) -> Vec<usize> {
    let components: Vec<Vec<usize>> = what
        .get("components")
        .and_then(Value::as_array)
        .map(|cs| {
            cs.iter()
                .map(|c| {
                    c.as_array()
                        .map(|a| {
                            a.iter()
                                .filter_map(Value::as_u64)
                                .map(|i| i as usize)
                                .collect()
                        })
                        .unwrap_or_default()
                })
                .collect()
        })
        .unwrap_or_default();
    let clients_isolated = what.get("clients").and_then(Value::as_str) == Some("isolated");
    let quorum = components
        .iter()
        .enumerate()
        .find(|(i, c)| c.len() > 2 * f && (!clients_isolated || *i == 0));
    match quorum {
        Some((_, c)) => (0..n).filter(|i| !c.contains(i)).collect(),
        None => (0..n).collect(),
    }
}

/// The replicas a packet fault touches: those behind links that lose at least half
/// their messages or delay them by a second or more (all of them, or those in `to`);
/// milder faults only slow the cluster down.
fn packet_touched(spec: &str, n: usize) -> Vec<usize> {
    let mut severe = false;
    let mut to: Option<Vec<usize>> = None;
    for part in spec.split(',') {
        let Some((key, value)) = part.split_once('=') else {
            continue;
        };
        match key.trim() {
            "drop" => severe |= value.trim().parse::<f64>().is_ok_and(|p| p >= 0.5),
            "delay" => {
                let mean = value.split(['~', '@']).next().unwrap_or("");
                let ms = mean
                    .trim()
                    .strip_suffix("ms")
                    .and_then(|v| v.parse::<f64>().ok())
                    .or_else(|| {
                        mean.trim()
                            .strip_suffix('s')
                            .and_then(|v| v.parse::<f64>().ok())
                            .map(|s| s * 1000.0)
                    });
                severe |= ms.is_some_and(|ms| ms >= 1000.0);
            }
            "to" => {
                to = Some(
                    value
                        .split('+')
                        .filter_map(|v| v.trim().parse().ok())
                        .collect(),
                )
            }
            _ => {}
        }
    }
    match (severe, to) {
        (false, _) => Vec::new(),
        (true, Some(to)) => to,
        (true, None) => (0..n).collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Verdict;
    use serde_json::json;

    fn done(secs: f64) -> Op {
        Op::new(
            0,
            Process::Client(1),
            OpType::Ok,
            "read",
            json!(1),
            (secs * 1e9) as u64,
        )
    }

    fn nemesis(f: &str, value: Value, secs: f64) -> Op {
        Op::new(
            0,
            Process::Nemesis,
            OpType::Info,
            f,
            value,
            (secs * 1e9) as u64,
        )
    }

    const S: u64 = 1_000_000_000;

    fn ops_every_second_except(from: f64, to: f64) -> Vec<Op> {
        (0..40)
            .map(f64::from)
            .filter(|t| *t < from || *t > to)
            .map(done)
            .collect()
    }

    #[test]
    fn a_stall_with_no_fault_fails_and_its_bound_is_printed() {
        let ops = ops_every_second_except(10.0, 25.0);
        let bound = ProgressBound::Fixed(10 * S);
        let r = availability(&ops, 4, 1, (0, 40 * S), &[], &bound);
        assert_eq!(r.verdict, Verdict::Invalid, "{r:?}");
        assert!(r.evidence[0].contains("from 9.0 s to 26.0 s"), "{r:?}");
        assert!(r.summary.contains("10.0 s (--stall)"), "{r:?}");
    }

    #[test]
    fn a_stall_while_more_than_f_are_touched_promises_nothing() {
        let mut ops = ops_every_second_except(10.0, 25.0);
        ops.push(nemesis("pause", json!({"nodes": [0, 1]}), 9.5));
        ops.push(nemesis("resume", json!({"nodes": [0, 1]}), 25.5));
        let r = availability(&ops, 4, 1, (0, 40 * S), &[], &ProgressBound::Fixed(5 * S));
        assert_eq!(r.verdict, Verdict::Valid, "{r:?}");
    }

    #[test]
    fn a_stall_while_one_replica_is_touched_fails() {
        let mut ops = ops_every_second_except(10.0, 25.0);
        ops.push(nemesis("start-byzantine", json!({"nodes": [0]}), 9.5));
        ops.push(nemesis("stop-byzantine", json!({"nodes": [0]}), 39.0));
        let r = availability(&ops, 4, 1, (0, 40 * S), &[], &ProgressBound::Fixed(10 * S));
        assert_eq!(
            r.verdict,
            Verdict::Invalid,
            "a censoring primary must be caught: {r:?}"
        );
    }

    #[test]
    fn a_gap_counts_from_the_heal_and_crashes_touch_their_replica() {
        let mut ops = ops_every_second_except(10.0, 25.0);
        ops.push(nemesis(
            "start-partition",
            json!({"components": [[0, 1], [2, 3]], "clients": "all"}),
            9.5,
        ));
        ops.push(nemesis("stop-partition", json!({}), 20.0));
        let bound = ProgressBound::Fixed(8 * S);
        let r = availability(&ops, 4, 1, (0, 40 * S), &[], &bound);
        assert_eq!(
            r.verdict,
            Verdict::Valid,
            "healed at 20 s, ops again at 26 s: {r:?}"
        );
        let lost = [Lost {
            replica: 2,
            at: 5 * S,
        }];
        let r = availability(&ops, 4, 1, (0, 40 * S), &lost, &bound);
        assert_eq!(
            r.verdict,
            Verdict::Valid,
            "a crash plus a halving touches > f: {r:?}"
        );
        let lost = [Lost {
            replica: 2,
            at: 21 * S,
        }];
        let r = availability(&ops, 4, 1, (0, 40 * S), &lost, &ProgressBound::Fixed(4 * S));
        assert_eq!(
            r.verdict,
            Verdict::Invalid,
            "one crash still promises progress: {r:?}"
        );
    }

    #[test]
    fn a_partition_leaving_a_quorum_touches_only_the_minority() {
        let what = json!({"components": [[0], [1, 2, 3]], "clients": "all"});
        assert_eq!(touched_by("start-partition", &what, 4, 1), vec![0]);
        let isolated = json!({"components": [[0], [1, 2, 3]], "clients": "isolated"});
        assert_eq!(
            touched_by("start-partition", &isolated, 4, 1),
            vec![0, 1, 2, 3]
        );
        let halves = json!({"components": [[0, 1], [2, 3]]});
        assert_eq!(touched_by("start-partition", &halves, 4, 1).len(), 4);
        assert!(touched_by("start-packet", &json!({"packet": "drop=0.1"}), 4, 1).is_empty());
        // A Byzantine primary that follows the views is every replica in turn.
        let live = json!({"nodes": [0], "role": "primary"});
        assert_eq!(touched_by("start-byzantine", &live, 4, 1).len(), 4);
        assert_eq!(
            touched_by("start-byzantine", &json!({"nodes": [0]}), 4, 1),
            [0]
        );
        assert_eq!(
            touched_by(
                "start-packet",
                &json!({"packet": "drop=1,kinds=commit,to=1+2"}),
                4,
                1
            ),
            vec![1, 2]
        );
        assert_eq!(
            touched_by("start-packet", &json!({"packet": "delay=2s"}), 4, 1).len(),
            4
        );
    }

    #[test]
    fn the_derived_bound_follows_the_quorums_backed_off_timeout() {
        assert_eq!(
            quorum_timeout(&[Some(500), Some(8000), Some(1000), Some(500)], 1),
            Some(1000)
        );
        assert_eq!(quorum_timeout(&[Some(500), None, None, Some(500)], 1), None);
        let bound = ProgressBound::Derived {
            f: 1,
            base_ns: 2 * S,
            initial_t_ms: 500,
            samples: vec![(5 * S, 500), (9 * S, 2000), (12 * S, 64000), (30 * S, 500)],
        };
        assert_eq!(view_changes_factor(1), 7);
        assert_eq!(bound.at(0, 4 * S), 5_500_000_000, "7 x 0.5 s + 2 s");
        assert_eq!(
            bound.at(10 * S, 20 * S),
            16 * S,
            "7 x 2 s + 2 s, T at the start"
        );
        assert_eq!(bound.at(31 * S, 35 * S), 5_500_000_000);
        let ops = ops_every_second_except(10.0, 25.0);
        let r = availability(&ops, 4, 1, (0, 40 * S), &[], &bound);
        assert_eq!(
            r.verdict,
            Verdict::Invalid,
            "17 s past 16 s, however T grew: {r:?}"
        );
        let ops = ops_every_second_except(10.0, 23.0);
        let r = availability(&ops, 4, 1, (0, 40 * S), &[], &bound);
        assert_eq!(r.verdict, Verdict::Valid, "15 s within 16 s: {r:?}");
    }
}
