//! Agreement: no two replicas executed different batches at one sequence number.
//! Entries learnt by state transfer are not executions, but their digests (what the
//! transferred state certifies was executed there) must match the executed ones too.

use super::logs::{ExecutedEntry, ReplicaLog};
use super::OracleResult;
use std::collections::BTreeMap;

/// Compares every sequence number across `logs`.
pub fn agreement(logs: &[ReplicaLog]) -> OracleResult {
    // Per seq, per digest: the replicas that executed it, and one of their entries.
    let mut by_seq: BTreeMap<u64, BTreeMap<&str, (Vec<usize>, &ExecutedEntry)>> = BTreeMap::new();
    for log in logs {
        for e in &log.entries {
            by_seq
                .entry(e.seq)
                .or_default()
                .entry(&e.digest)
                .or_insert_with(|| (Vec::new(), e))
                .0
                .push(log.replica);
        }
    }
    let mut violations = Vec::new();
    for (seq, digests) in &by_seq {
        if digests.len() > 1 {
            let sides: Vec<String> = digests
                .iter()
                .map(|(d, (rs, e))| {
                    let how = if e.transferred {
                        "learnt by state transfer"
                    } else {
                        "executed"
                    };
                    format!(
                        "replicas {rs:?} {how} {} {}",
                        &d[..d.len().min(16)],
                        batch_text(e)
                    )
                })
                .collect();
            violations.push(format!("seq {seq}: {}", sides.join("; ")));
        }
    }
    let checked = format!(
        "{} sequence numbers compared across {} replica logs",
        by_seq.len(),
        logs.len()
    );
    OracleResult::from_violations("agreement", checked, violations)
}

/// The requests of an executed batch, briefly: `[client c t=ts, ...]` (the first few),
/// or `(null batch)`, or unknown for an entry learnt by state transfer.
fn batch_text(e: &ExecutedEntry) -> String {
    const SHOWN: usize = 4;
    if e.transferred {
        return "(its requests unknown)".into();
    }
    if e.requests.is_empty() {
        return "(null batch)".into();
    }
    let mut parts: Vec<String> = e
        .requests
        .iter()
        .take(SHOWN)
        .map(|r| format!("client {} t={}", r.client, r.timestamp))
        .collect();
    if e.requests.len() > SHOWN {
        parts.push(format!("{} more", e.requests.len() - SHOWN));
    }
    format!("[{}]", parts.join(", "))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::oracles::ExecutedEntry;
    use crate::Verdict;

    pub(crate) fn log(replica: usize, digests: &[&str]) -> ReplicaLog {
        ReplicaLog {
            replica,
            entries: digests
                .iter()
                .enumerate()
                .map(|(i, d)| ExecutedEntry {
                    seq: i as u64 + 1,
                    digest: d.to_string(),
                    requests: vec![],
                    transferred: false,
                    state_digest: None,
                })
                .collect(),
        }
    }

    #[test]
    fn equal_prefixes_agree() {
        let r = agreement(&[log(0, &["a", "b", "c"]), log(1, &["a", "b"]), log(2, &[])]);
        assert_eq!(r.verdict, Verdict::Valid, "{r:?}");
    }

    #[test]
    fn diverging_logs_are_a_violation_naming_the_seq_and_replicas() {
        let r = agreement(&[
            log(0, &["a", "b"]),
            log(1, &["a", "x"]),
            log(2, &["a", "b"]),
        ]);
        assert_eq!(r.verdict, Verdict::Invalid);
        assert_eq!(r.evidence.len(), 1);
        assert!(
            r.evidence[0].contains("seq 2") && r.evidence[0].contains("[0, 2]"),
            "{r:?}"
        );
        assert!(r.evidence[0].contains("(null batch)"), "{r:?}");
    }

    #[test]
    fn a_violation_shows_the_requests_of_both_batches() {
        let mut a = log(0, &["a"]);
        a.entries[0].requests = vec![crate::oracles::ExecutedRequest {
            client: 7,
            timestamp: 42,
        }];
        let r = agreement(&[a, log(1, &["b"])]);
        assert!(
            r.evidence[0].contains("client 7 t=42") && r.evidence[0].contains("(null batch)"),
            "{r:?}"
        );
    }

    #[test]
    fn transferred_entries_are_checked_against_the_executed_digests() {
        let mut same = log(1, &["a", "b"]);
        same.entries[1].transferred = true;
        let r = agreement(&[log(0, &["a", "b"]), same]);
        assert_eq!(r.verdict, Verdict::Valid, "{r:?}");
        let mut odd = log(1, &["a", "x"]);
        odd.entries[1].transferred = true;
        let r = agreement(&[log(0, &["a", "b"]), odd]);
        assert_eq!(r.verdict, Verdict::Invalid, "{r:?}");
        assert!(
            r.evidence[0].contains("learnt by state transfer x"),
            "{r:?}"
        );
    }
}
