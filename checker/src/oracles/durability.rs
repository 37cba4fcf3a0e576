//! Durability: a power loss of every replica must not make the cluster forget what it
//! executed and answered. The nemesis measures each replica's last executed sequence
//! number just before the power loss and once the replicas answer again, and its
//! `heal-disk` op says what was `forgotten` when f+1 replicas had executed up to `s`
//! before (their replies went out: enough for a client to accept a result) and every
//! replica came back below `s`. Linearizability sees the same loss only when a later
//! read cannot be explained otherwise (the register workload's indeterminate writes
//! often explain a rolled-back value); this oracle needs no read.

use super::OracleResult;
use crate::history::{Op, Process};

/// Judges every power loss of every replica in `ops`.
pub fn durability(ops: &[Op]) -> OracleResult {
    let mut judged = 0;
    let mut violations = Vec::new();
    for op in ops
        .iter()
        .filter(|o| o.process == Process::Nemesis && o.f == "heal-disk")
    {
        if op.value.get("executed_after").is_none() {
            continue;
        }
        judged += 1;
        if let Some(lost) = op.value.get("forgotten") {
            let seqs = &lost["seqs"];
            violations.push(format!(
                "healed at {:.1} s: before the power loss of every replica, f+1 of them had \
                 executed (and answered) up to seq {}; after it every replica came back at seq \
                 {} or below: sequence numbers {}..={} forgotten",
                op.time as f64 / 1e9,
                lost["executed_by_f_plus_1_before"],
                lost["recovered_at_most"],
                seqs[0],
                seqs[1]
            ));
        }
    }
    OracleResult::from_violations(
        "durability",
        format!("{judged} power loss(es) of every replica judged"),
        violations,
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::history::OpType;
    use crate::Verdict;
    use serde_json::json;

    fn heal(value: serde_json::Value) -> Op {
        Op::new(
            0,
            Process::Nemesis,
            OpType::Info,
            "heal-disk",
            value,
            9_000_000_000,
        )
    }

    #[test]
    fn a_forgotten_range_is_a_violation_with_its_numbers() {
        let kept = heal(json!({"executed_after": [300, 300, 300, 300]}));
        let lost = heal(json!({"executed_after": [256, 256, 256, 256],
            "forgotten": {"executed_by_f_plus_1_before": 300, "recovered_at_most": 256,
                          "seqs": [257, 300]}}));
        let other = heal(json!({"nodes": [1]}));
        assert_eq!(
            durability(&[kept.clone(), other.clone()]).verdict,
            Verdict::Valid
        );
        let r = durability(&[kept, lost, other]);
        assert_eq!(r.verdict, Verdict::Invalid);
        assert!(r.summary.contains("2 power loss"), "{}", r.summary);
        assert!(r.evidence[0].contains("257..=300"), "{:?}", r.evidence);
    }
}
