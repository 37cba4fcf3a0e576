//! Liveness from the history: no stall (a stretch with no completed operation) while
//! no fault is in force, and every final read completes after the final heal.

use super::faults::fault_windows;
use super::OracleResult;
use crate::history::{Op, OpType, Process};

/// Fails if, between `from` and `to` (history nanoseconds), a stretch of at least
/// `stall` nanoseconds with no fault in force passes without any client operation
/// completing definitely (`ok` or `fail`; an `info` is a timeout, not progress).
pub fn stall(ops: &[Op], from: u64, to: u64, stall: u64) -> OracleResult {
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
    for (a, b) in quiet_stretches(ops, from, to) {
        // The gaps between completions inside the stretch, and at its two ends.
        let inside = &done[done.partition_point(|&t| t <= a)..done.partition_point(|&t| t < b)];
        let points = std::iter::once(a)
            .chain(inside.iter().copied())
            .chain(std::iter::once(b));
        let mut prev = a;
        for t in points.skip(1) {
            let gap = t - prev;
            longest = longest.max(gap);
            if gap >= stall {
                violations.push(format!(
                    "no operation completed from {:.1} s to {:.1} s (history time) while no fault was in force",
                    prev as f64 / 1e9,
                    t as f64 / 1e9
                ));
            }
            prev = t;
        }
    }
    let checked = format!(
        "longest fault-free stretch without a completed operation: {:.1} s (limit {:.1} s)",
        longest as f64 / 1e9,
        stall as f64 / 1e9
    );
    OracleResult::from_violations("stall", checked, violations)
}

/// The stretches of `[from, to]` in which no fault is in force.
fn quiet_stretches(ops: &[Op], from: u64, to: u64) -> Vec<(u64, u64)> {
    let mut faults: Vec<(u64, u64)> = fault_windows(ops)
        .iter()
        .map(|w| (w.start, w.stop.unwrap_or(u64::MAX)))
        .collect();
    faults.sort_unstable();
    let mut out = Vec::new();
    let mut t = from;
    for (start, stop) in faults {
        if start > t {
            out.push((t, start.min(to)));
        }
        t = t.max(stop);
        if t >= to {
            break;
        }
    }
    if t < to {
        out.push((t, to));
    }
    out.retain(|(a, b)| a < b);
    out
}

/// Every client operation invoked at or after `from` (the final reads, after the final
/// heal and recovery window) completed definitely. Unknown if there were none.
pub fn final_reads(ops: &[Op], from: u64) -> OracleResult {
    let invoked: Vec<&Op> = ops
        .iter()
        .filter(|o| {
            matches!(o.process, Process::Client(_)) && o.kind == OpType::Invoke && o.time >= from
        })
        .collect();
    if invoked.is_empty() {
        return OracleResult::unknown("liveness", "no final reads were made");
    }
    let processes: Vec<Process> = invoked.iter().map(|o| o.process).collect();
    let mut violations = Vec::new();
    for p in processes {
        let end = ops
            .iter()
            .rev()
            .find(|o| o.process == p && o.kind != OpType::Invoke && o.time >= from);
        match end {
            Some(o) if matches!(o.kind, OpType::Ok | OpType::Fail) => {}
            Some(o) => violations.push(format!(
                "the final {} of process {p} timed out ({})",
                o.f,
                o.error.as_deref().unwrap_or("info")
            )),
            None => violations.push(format!(
                "the final operation of process {p} never completed"
            )),
        }
    }
    let checked = format!(
        "{} final operations after the final heal and recovery window all completed",
        invoked.len()
    );
    OracleResult::from_violations("liveness", checked, violations)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::oracles::faults::tests::nemesis;
    use crate::Verdict;
    use serde_json::json;

    fn done(p: u64, secs: f64) -> Op {
        Op::new(
            0,
            Process::Client(p),
            OpType::Ok,
            "read",
            json!(1),
            (secs * 1e9) as u64,
        )
    }

    fn invoke(p: u64, secs: f64) -> Op {
        Op::new(
            0,
            Process::Client(p),
            OpType::Invoke,
            "read",
            json!(null),
            (secs * 1e9) as u64,
        )
    }

    const S: u64 = 1_000_000_000;

    #[test]
    fn steady_progress_is_no_stall() {
        let ops: Vec<Op> = (0..100).map(|i| done(0, i as f64 * 0.2)).collect();
        assert_eq!(stall(&ops, 0, 20 * S, 5 * S).verdict, Verdict::Valid);
    }

    #[test]
    fn a_quiet_stretch_without_faults_is_a_stall() {
        let mut ops: Vec<Op> = (0..10).map(|i| done(0, i as f64)).collect();
        ops.push(done(0, 20.0));
        let r = stall(&ops, 0, 21 * S, 5 * S);
        assert_eq!(r.verdict, Verdict::Invalid, "{r:?}");
        assert!(r.evidence[0].contains("from 9.0 s"), "{r:?}");
    }

    #[test]
    fn no_progress_during_a_fault_is_no_stall() {
        let mut ops: Vec<Op> = (0..10).map(|i| done(0, i as f64)).collect();
        ops.push(nemesis("kill", 9.5));
        ops.push(nemesis("start", 18.0));
        ops.extend((19..25).map(|i| done(0, i as f64)));
        assert_eq!(stall(&ops, 0, 24 * S, 5 * S).verdict, Verdict::Valid);
        // ...but the same gap after the heal is.
        let mut late = ops.clone();
        late.retain(|o| o.time < 9 * S || o.process == Process::Nemesis);
        late.push(done(0, 24.0));
        assert_eq!(stall(&late, 0, 24 * S, 5 * S).verdict, Verdict::Invalid);
    }

    #[test]
    fn final_reads_must_complete() {
        let mut ops = vec![invoke(7, 30.0), done(7, 30.1)];
        assert_eq!(final_reads(&ops, 29 * S).verdict, Verdict::Valid);
        ops.push(invoke(8, 30.2));
        let mut timeout = done(8, 32.0);
        timeout.kind = OpType::Info;
        ops.push(timeout);
        let r = final_reads(&ops, 29 * S);
        assert_eq!(r.verdict, Verdict::Invalid);
        assert!(r.evidence[0].contains("process 8"), "{r:?}");
        assert_eq!(final_reads(&ops, 40 * S).verdict, Verdict::Unknown);
    }
}
