//! Validity (every request a replica executed was invoked by a client of the history)
//! and exactly-once (no replica executed a request twice).

use super::logs::{ExecutedRequest, ReplicaLog};
use super::OracleResult;
use std::collections::{BTreeMap, BTreeSet};

/// Every executed request is one of `invoked` (the `(client, timestamp)` of every
/// request the clients sent).
pub fn validity(logs: &[ReplicaLog], invoked: &BTreeSet<ExecutedRequest>) -> OracleResult {
    let mut violations = Vec::new();
    let mut executed = 0usize;
    for log in logs {
        for e in log.executed() {
            for r in &e.requests {
                executed += 1;
                if !invoked.contains(r) {
                    violations.push(format!(
                        "replica {} executed request (client {}, timestamp {}) at seq {}, which no client invoked",
                        log.replica, r.client, r.timestamp, e.seq
                    ));
                }
            }
        }
    }
    let checked = format!(
        "{executed} executed requests checked against {} invoked",
        invoked.len()
    );
    OracleResult::from_violations("validity", checked, violations)
}

/// No replica executed one `(client, timestamp)` at two sequence numbers (or twice in
/// one batch).
pub fn exactly_once(logs: &[ReplicaLog]) -> OracleResult {
    let mut violations = Vec::new();
    let mut distinct = 0usize;
    for log in logs {
        let mut first: BTreeMap<ExecutedRequest, u64> = BTreeMap::new();
        for e in log.executed() {
            for r in &e.requests {
                if let Some(seq) = first.insert(*r, e.seq) {
                    violations.push(format!(
                        "replica {} executed request (client {}, timestamp {}) at seq {seq} and again at seq {}",
                        log.replica, r.client, r.timestamp, e.seq
                    ));
                }
            }
        }
        distinct = distinct.max(first.len());
    }
    let checked = format!(
        "{} replica logs, up to {distinct} distinct requests each",
        logs.len()
    );
    OracleResult::from_violations("exactly-once", checked, violations)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::oracles::ExecutedEntry;
    use crate::Verdict;

    fn req(client: u64, timestamp: u64) -> ExecutedRequest {
        ExecutedRequest { client, timestamp }
    }

    fn log(replica: usize, batches: &[&[(u64, u64)]]) -> ReplicaLog {
        ReplicaLog {
            replica,
            entries: batches
                .iter()
                .enumerate()
                .map(|(i, b)| ExecutedEntry {
                    seq: i as u64 + 1,
                    digest: format!("d{i}"),
                    requests: b.iter().map(|&(c, t)| req(c, t)).collect(),
                    transferred: false,
                    state_digest: None,
                })
                .collect(),
        }
    }

    #[test]
    fn a_request_nobody_sent_is_invalid() {
        let invoked: BTreeSet<_> = [req(0, 1), req(1, 1)].into();
        let ok = validity(&[log(0, &[&[(0, 1)], &[(1, 1)]])], &invoked);
        assert_eq!(ok.verdict, Verdict::Valid);
        let bad = validity(&[log(2, &[&[(0, 1), (7, 9)]])], &invoked);
        assert_eq!(bad.verdict, Verdict::Invalid);
        assert!(bad.evidence[0].contains("client 7"), "{bad:?}");
    }

    #[test]
    fn executing_twice_is_invalid() {
        let ok = exactly_once(&[log(0, &[&[(0, 1)], &[(0, 2)]])]);
        assert_eq!(ok.verdict, Verdict::Valid);
        let bad = exactly_once(&[log(0, &[&[(0, 1)], &[], &[(0, 1)]])]);
        assert_eq!(bad.verdict, Verdict::Invalid);
        assert!(
            bad.evidence[0].contains("seq 1 and again at seq 3"),
            "{bad:?}"
        );
    }
}
