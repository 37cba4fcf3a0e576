//! The convergence oracle: after the final heal, the recovery and the final reads,
//! every replica must have executed the same prefix and reached the same state within
//! a bound. A replica that never catches up after a restart, or whose state diverged
//! (a wrong state transfer, non-deterministic execution, a wrong `cas`) while client
//! replies still agreed by f+1 votes, is named, with the first sequence number from
//! which it may differ.

use super::OracleResult;
use crate::Verdict;
use std::collections::BTreeMap;

/// Where one replica stood at the end (from its `/status`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReplicaState {
    /// Last executed sequence number.
    pub last_executed: u64,
    /// Digest of its state after it.
    pub state_digest: String,
    /// Its stable checkpoint.
    pub stable_checkpoint: u64,
    /// The stable checkpoint's state digest.
    pub stable_digest: String,
}

/// Judges the replicas' final states (`None`: the replica never answered) after a
/// wait of `waited_s` seconds against a bound of `bound_s`.
pub fn convergence(replicas: &[Option<ReplicaState>], waited_s: f64, bound_s: f64) -> OracleResult {
    let answered: Vec<(usize, &ReplicaState)> = replicas
        .iter()
        .enumerate()
        .filter_map(|(i, r)| r.as_ref().map(|r| (i, r)))
        .collect();
    let silent: Vec<usize> = (0..replicas.len())
        .filter(|i| replicas[*i].is_none())
        .collect();
    let Some(top) = answered.iter().map(|(_, r)| r.last_executed).max() else {
        return OracleResult::unknown("convergence", "no replica answered GET /status");
    };
    let mut violations = Vec::new();
    // The state most replicas at the top reached counts as the cluster's.
    let mut at_top: BTreeMap<&str, Vec<usize>> = BTreeMap::new();
    for (i, r) in &answered {
        if r.last_executed == top {
            at_top.entry(r.state_digest.as_str()).or_default().push(*i);
        }
    }
    let (agreed, agreeing) = at_top
        .iter()
        .max_by_key(|(_, ids)| ids.len())
        .map(|(d, ids)| (*d, ids.clone()))
        .unwrap_or_default();
    for (i, r) in &answered {
        if r.last_executed < top {
            violations.push(format!(
                "replica {i} executed up to seq {} while replicas {agreeing:?} reached {top} \
                 (its stable checkpoint is {}): it did not catch up within {bound_s:.1} s",
                r.last_executed, r.stable_checkpoint
            ));
        } else if r.state_digest != agreed {
            let from = first_possible_difference(r, &answered, &agreeing);
            violations.push(format!(
                "replica {i} reached seq {top} with state {} but replicas {agreeing:?} with {}: \
                 its state differs from seq {from} on (the last checkpoint it shares)",
                short(&r.state_digest),
                short(agreed)
            ));
        }
    }
    let checked = format!(
        "{} of {} replicas at seq {top} with one state after {waited_s:.1} s (bound {bound_s:.1} s)",
        agreeing.len(),
        replicas.len()
    );
    let mut result = OracleResult::from_violations("convergence", checked, violations);
    if !silent.is_empty() && result.verdict == Verdict::Valid {
        result.verdict = Verdict::Unknown;
        result.summary = format!("replicas {silent:?} did not answer; {}", result.summary);
    }
    result
}

/// The first sequence number from which `r` may differ from the agreeing replicas:
/// one past the newest stable checkpoint at which its digest matches theirs.
fn first_possible_difference(
    r: &ReplicaState,
    answered: &[(usize, &ReplicaState)],
    agreeing: &[usize],
) -> u64 {
    let shared = answered.iter().any(|(j, o)| {
        agreeing.contains(j)
            && o.stable_checkpoint == r.stable_checkpoint
            && o.stable_digest == r.stable_digest
    });
    if shared {
        r.stable_checkpoint + 1
    } else {
        1
    }
}

fn short(digest: &str) -> &str {
    digest.get(..12).unwrap_or(digest)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(last: u64, digest: &str, cp: u64, cp_digest: &str) -> Option<ReplicaState> {
        Some(ReplicaState {
            last_executed: last,
            state_digest: digest.into(),
            stable_checkpoint: cp,
            stable_digest: cp_digest.into(),
        })
    }

    #[test]
    fn replicas_at_one_state_converge() {
        let all = vec![at(40, "aa", 32, "c"); 4];
        let r = convergence(&all, 0.3, 20.0);
        assert_eq!(r.verdict, Verdict::Valid, "{r:?}");
    }

    #[test]
    fn a_laggard_is_named() {
        let mut all = vec![at(40, "aa", 32, "c"); 4];
        all[2] = at(12, "bb", 0, "z");
        let r = convergence(&all, 20.0, 20.0);
        assert_eq!(r.verdict, Verdict::Invalid);
        assert!(
            r.evidence[0].starts_with("replica 2 executed up to seq 12"),
            "{r:?}"
        );
    }

    #[test]
    fn a_divergent_state_is_named_with_the_first_seq_it_may_differ_at() {
        let mut all = vec![at(40, "aaaa", 32, "c"); 4];
        all[3] = at(40, "bbbb", 32, "c");
        let r = convergence(&all, 20.0, 20.0);
        assert_eq!(r.verdict, Verdict::Invalid);
        assert!(r.evidence[0].contains("replica 3 reached seq 40"), "{r:?}");
        assert!(r.evidence[0].contains("from seq 33 on"), "{r:?}");
        all[3] = at(40, "bbbb", 32, "d");
        let r = convergence(&all, 20.0, 20.0);
        assert!(r.evidence[0].contains("from seq 1 on"), "{r:?}");
    }

    #[test]
    fn a_silent_replica_makes_the_verdict_unknown_at_least() {
        let mut all = vec![at(40, "aa", 32, "c"); 4];
        all[1] = None;
        let r = convergence(&all, 20.0, 20.0);
        assert_eq!(r.verdict, Verdict::Unknown, "{r:?}");
        assert!(r.summary.contains("[1] did not answer"), "{r:?}");
    }
}
