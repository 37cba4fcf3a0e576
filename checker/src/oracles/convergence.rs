//! The convergence oracle: after the final heal, the recovery and the final reads,
//! the replicas must agree on their state at a common checkpoint within a bound. PBFT
//! lets a correct replica trail the others by less than a checkpoint interval in an
//! idle cluster (it learns of what it missed only from later traffic), so the promise
//! judged is: every replica has executed at least up to the newest checkpoint any
//! replica holds as stable, and wherever two replicas report a state for the same
//! sequence number (their last executed one, or their stable checkpoint) the digests
//! agree. A replica that never catches up after a restart, or whose state diverged (a
//! wrong state transfer, non-deterministic execution, a wrong `cas`) while client
//! replies still agreed by f+1 votes, is named, with the sequence number from which it
//! may differ.
//!
//! The replicas' logs add the past: each reports its state digest at every checkpoint
//! it executed itself, and wherever two report one checkpoint the digests must agree
//! too. A replica whose state drifted and was then repaired by a state transfer (it
//! falls out of the checkpoint quorum, so its log window fills and it fetches the
//! others' state) ends in agreement, and only this comparison sees it.

use super::availability::view_changes_factor;
use super::{OracleResult, ReplicaLog};
use crate::Verdict;
use std::collections::BTreeMap;
use std::time::Duration;

/// What the convergence bound adds to the view changes' timeouts.
pub const SETTLE_BASE: Duration = Duration::from_secs(15);

/// The longest any bound waits, however far T backed off (a cluster whose view
/// changes keep failing is judged, not waited for).
pub const LONGEST_WAIT: Duration = Duration::from_secs(60);

/// How long the replicas get to converge after the final reads, for fault bound `f`
/// and a view-change timeout of `t_ms` as backed off: `(2^(f+2) - 1) T + 15 s`, at
/// most a minute. A real run and the simulator use the same bound.
pub fn settle_bound(f: usize, t_ms: u64) -> Duration {
    (Duration::from_millis(view_changes_factor(f) * t_ms) + SETTLE_BASE).min(LONGEST_WAIT)
}

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
/// wait of `waited_s` seconds against a bound of `bound_s` (a replica behind the
/// common checkpoint before the bound passed makes the verdict unknown, not invalid),
/// and the states their `logs` report at checkpoints over the run.
pub fn convergence(
    replicas: &[Option<ReplicaState>],
    logs: &[ReplicaLog],
    waited_s: f64,
    bound_s: f64,
) -> OracleResult {
    let answered: Vec<(usize, &ReplicaState)> = replicas
        .iter()
        .enumerate()
        .filter_map(|(i, r)| r.as_ref().map(|r| (i, r)))
        .collect();
    let silent: Vec<usize> = (0..replicas.len())
        .filter(|i| replicas[*i].is_none())
        .collect();
    let Some(common) = answered.iter().map(|(_, r)| r.stable_checkpoint).max() else {
        return OracleResult::unknown("convergence", "no replica answered GET /status");
    };
    let mut violations = Vec::new();
    // A replica behind the common checkpoint is a laggard only once the bound passed
    // (a run stopped on a violation is not waited for).
    let waited_out = waited_s >= bound_s;
    let mut trailing = Vec::new();
    for (i, r) in &answered {
        if r.last_executed < common {
            let text = format!(
                "replica {i} executed up to seq {} but seq {common} is a stable checkpoint \
                 elsewhere (its own is {})",
                r.last_executed, r.stable_checkpoint
            );
            if waited_out {
                violations.push(format!("{text}: it did not catch up within {bound_s:.1} s"));
            } else {
                trailing.push(format!("{text} after {waited_s:.1} s, not waited for"));
            }
        }
    }
    // Every state reported for a sequence number, by digest.
    let mut states: BTreeMap<u64, BTreeMap<&str, Vec<usize>>> = BTreeMap::new();
    for (i, r) in &answered {
        for (seq, digest) in [
            (r.last_executed, r.state_digest.as_str()),
            (r.stable_checkpoint, r.stable_digest.as_str()),
        ] {
            let ids = states.entry(seq).or_default().entry(digest).or_default();
            if !ids.contains(i) {
                ids.push(*i);
            }
        }
    }
    let mut divergent: Vec<usize> = Vec::new();
    for (seq, digests) in &states {
        if digests.len() < 2 {
            continue;
        }
        let (agreed, agreeing) = digests
            .iter()
            .max_by_key(|(_, ids)| ids.len())
            .map(|(d, ids)| (*d, ids.clone()))
            .unwrap_or_default();
        for (digest, ids) in digests.iter().filter(|(d, _)| **d != agreed) {
            for &i in ids {
                if divergent.contains(&i) {
                    continue;
                }
                divergent.push(i);
                let from = first_possible_difference(i, &answered, &states, *seq);
                violations.push(format!(
                    "replica {i} reports state {} at seq {seq} but replicas {agreeing:?} \
                     report {}: its state differs from seq {from} on (after the last \
                     checkpoint it shares)",
                    short(digest),
                    short(agreed)
                ));
            }
        }
    }
    let (compared, drifted) = checkpoint_states(logs);
    violations.extend(drifted);
    let checked = format!(
        "{} replicas at or past the common stable checkpoint {common}, one state per \
         sequence number reported, after {waited_s:.1} s (bound {bound_s:.1} s); {compared} \
         checkpoints compared across the logs",
        answered.len()
    );
    let mut result = OracleResult::from_violations("convergence", checked, violations);
    if result.verdict == Verdict::Valid && !(silent.is_empty() && trailing.is_empty()) {
        result.verdict = Verdict::Unknown;
        if !silent.is_empty() {
            result.summary = format!("replicas {silent:?} did not answer; {}", result.summary);
        }
        if !trailing.is_empty() {
            result.summary = format!("{}; {}", trailing.join("; "), result.summary);
        }
    }
    result
}

/// Compares the state digests the logs report at checkpoints: how many checkpoints
/// two or more replicas reported, and one violation per replica whose state differed
/// from the others' at one, naming the first such checkpoint and the last one before
/// it at which the replica agreed.
fn checkpoint_states(logs: &[ReplicaLog]) -> (usize, Vec<String>) {
    let mut by_seq: BTreeMap<u64, BTreeMap<&str, Vec<usize>>> = BTreeMap::new();
    for log in logs {
        for e in log.executed() {
            if let Some(d) = &e.state_digest {
                by_seq
                    .entry(e.seq)
                    .or_default()
                    .entry(d.as_str())
                    .or_default()
                    .push(log.replica);
            }
        }
    }
    let mut compared = 0;
    // Per replica: the last checkpoint it agreed at, and its first disagreement.
    let mut agreed_until: BTreeMap<usize, u64> = BTreeMap::new();
    let mut first_drift: BTreeMap<usize, String> = BTreeMap::new();
    let mut drifts: BTreeMap<usize, usize> = BTreeMap::new();
    for (seq, digests) in &by_seq {
        if digests.values().map(Vec::len).sum::<usize>() < 2 {
            continue;
        }
        compared += 1;
        let (agreed, agreeing) = digests
            .iter()
            .max_by_key(|(_, ids)| ids.len())
            .map(|(d, ids)| (*d, ids.clone()))
            .unwrap_or_default();
        for (digest, ids) in digests {
            for &i in ids {
                if *digest == agreed {
                    if !first_drift.contains_key(&i) {
                        agreed_until.insert(i, *seq);
                    }
                    continue;
                }
                *drifts.entry(i).or_default() += 1;
                first_drift.entry(i).or_insert_with(|| {
                    let since = agreed_until.get(&i).copied().unwrap_or(0);
                    format!(
                        "replica {i}'s state after seq {seq} (its CHECKPOINT digest) was {} \
                         but replicas {agreeing:?} report {}: it first differed somewhere in \
                         seqs {}..={seq}",
                        short(digest),
                        short(agreed),
                        since + 1
                    )
                });
            }
        }
    }
    let violations = first_drift
        .into_iter()
        .map(|(i, text)| {
            let n = drifts.get(&i).copied().unwrap_or(1);
            if n > 1 {
                format!("{text} ({n} checkpoints differ)")
            } else {
                text
            }
        })
        .collect();
    (compared, violations)
}

/// One past the newest sequence number below `seq` at which replica `i`'s reported
/// state agrees with every other report (1 if there is none).
fn first_possible_difference(
    i: usize,
    answered: &[(usize, &ReplicaState)],
    states: &BTreeMap<u64, BTreeMap<&str, Vec<usize>>>,
    seq: u64,
) -> u64 {
    let Some((_, r)) = answered.iter().find(|(j, _)| *j == i) else {
        return 1;
    };
    [r.stable_checkpoint, r.last_executed]
        .into_iter()
        .filter(|s| *s < seq && states.get(s).is_some_and(|d| d.len() == 1))
        .max()
        .map_or(1, |s| s + 1)
}

fn short(digest: &str) -> &str {
    digest.get(..12).unwrap_or(digest)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::oracles::ExecutedEntry;

    fn at(last: u64, digest: &str, cp: u64, cp_digest: &str) -> Option<ReplicaState> {
        Some(ReplicaState {
            last_executed: last,
            state_digest: digest.into(),
            stable_checkpoint: cp,
            stable_digest: cp_digest.into(),
        })
    }

    #[test]
    fn replicas_at_one_state_converge_even_if_one_trails_within_a_checkpoint() {
        let mut all = vec![at(40, "aa", 32, "c"); 4];
        assert_eq!(convergence(&all, &[], 0.3, 20.0).verdict, Verdict::Valid);
        all[1] = at(32, "c", 32, "c");
        let r = convergence(&all, &[], 0.3, 20.0);
        assert_eq!(r.verdict, Verdict::Valid, "{r:?}");
    }

    #[test]
    fn a_laggard_behind_the_common_checkpoint_is_named() {
        let mut all = vec![at(40, "aa", 32, "c"); 4];
        all[2] = at(12, "bb", 0, "z");
        let r = convergence(&all, &[], 20.0, 20.0);
        assert_eq!(r.verdict, Verdict::Invalid);
        assert!(
            r.evidence[0].starts_with("replica 2 executed up to seq 12"),
            "{r:?}"
        );
    }

    #[test]
    fn a_replica_behind_before_the_bound_passed_is_not_yet_a_laggard() {
        let mut all = vec![at(40, "aa", 32, "c"); 4];
        all[2] = at(12, "bb", 0, "z");
        let r = convergence(&all, &[], 2.0, 20.0);
        assert_eq!(r.verdict, Verdict::Unknown, "{r:?}");
        assert!(
            r.summary.contains("replica 2 executed up to seq 12"),
            "{r:?}"
        );
        assert!(r.summary.contains("not waited for"), "{r:?}");
        // A divergent state is a violation however short the wait.
        all[3] = at(40, "dd", 32, "c");
        assert_eq!(convergence(&all, &[], 2.0, 20.0).verdict, Verdict::Invalid);
    }

    #[test]
    fn a_divergent_state_is_named_with_the_first_seq_it_may_differ_at() {
        let mut all = vec![at(40, "aaaa", 32, "c"); 4];
        all[3] = at(40, "bbbb", 32, "c");
        let r = convergence(&all, &[], 20.0, 20.0);
        assert_eq!(r.verdict, Verdict::Invalid);
        assert!(
            r.evidence[0].contains("replica 3 reports state bbbb at seq 40"),
            "{r:?}"
        );
        assert!(r.evidence[0].contains("from seq 33 on"), "{r:?}");
        // Stuck at its own unmatched checkpoint: its state there differs from theirs.
        all[3] = at(32, "dddd", 0, "z");
        let r = convergence(&all, &[], 20.0, 20.0);
        assert!(
            r.evidence[0].contains("replica 3 reports state dddd at seq 32"),
            "{r:?}"
        );
        assert!(r.evidence[0].contains("from seq 1 on"), "{r:?}");
    }

    fn log(replica: usize, checkpoints: &[(u64, &str)]) -> ReplicaLog {
        ReplicaLog {
            replica,
            entries: checkpoints
                .iter()
                .map(|(seq, d)| ExecutedEntry {
                    seq: *seq,
                    digest: format!("batch{seq}"),
                    requests: vec![],
                    transferred: false,
                    state_digest: Some(d.to_string()),
                })
                .collect(),
        }
    }

    #[test]
    fn a_state_that_drifted_and_was_repaired_by_transfer_is_named_from_the_logs() {
        // At the end all four agree (replica 3 fetched the others' state) ...
        let all = vec![at(300, "ffff", 256, "eeee"); 4];
        let mut logs: Vec<ReplicaLog> = (0..3)
            .map(|i| log(i, &[(128, "aaaa"), (256, "eeee")]))
            .collect();
        // ... but its own CHECKPOINT at 256 carried another state.
        logs.push(log(3, &[(128, "aaaa"), (256, "9999")]));
        let r = convergence(&all, &logs, 1.0, 20.0);
        assert_eq!(r.verdict, Verdict::Invalid, "{r:?}");
        assert_eq!(r.evidence.len(), 1, "{r:?}");
        assert!(
            r.evidence[0].contains("replica 3's state after seq 256")
                && r.evidence[0].contains("seqs 129..=256"),
            "{r:?}"
        );
        // Transferred entries are a peer's word, not the replica's state.
        let mut transferred = log(3, &[(128, "aaaa"), (256, "9999")]);
        transferred.entries[1].transferred = true;
        logs[3] = transferred;
        let r = convergence(&all, &logs, 1.0, 20.0);
        assert_eq!(r.verdict, Verdict::Valid, "{r:?}");
        assert!(r.summary.contains("2 checkpoints compared"), "{r:?}");
    }

    #[test]
    fn a_silent_replica_makes_the_verdict_unknown_at_least() {
        let mut all = vec![at(40, "aa", 32, "c"); 4];
        all[1] = None;
        let r = convergence(&all, &[], 20.0, 20.0);
        assert_eq!(r.verdict, Verdict::Unknown, "{r:?}");
        assert!(r.summary.contains("[1] did not answer"), "{r:?}");
    }
}
