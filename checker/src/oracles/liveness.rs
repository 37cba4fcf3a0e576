//! Liveness from the history: every final read completes after the final heal. (Progress
//! during the run is the availability oracle's.)

use super::OracleResult;
use crate::history::{Op, OpType, Process};

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
        "{} of {} final operations after the final heal and recovery window completed",
        invoked.len() - violations.len(),
        invoked.len()
    );
    OracleResult::from_violations("liveness", checked, violations)
}

#[cfg(test)]
mod tests {
    use super::*;
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
        assert!(r.summary.contains("1 of 2 final operations"), "{r:?}");
        assert_eq!(final_reads(&ops, 40 * S).verdict, Verdict::Unknown);
    }
}
