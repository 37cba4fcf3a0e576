//! Every ChaCha stream drawn from a run's seed, in one place. Each consumer of
//! randomness seeds a `ChaCha8Rng` with the run seed and picks its own stream, so the
//! choices of one never shift another's: adding packet faults does not change the
//! schedule, and the limiter's jitter does not change the proxy's verdicts. A test
//! checks that the streams are distinct.
//!
//! Worker slot `s` (the workload generator of logical client slot `s`) draws stream
//! `s`; slots stay below [`WORKER_SLOTS_END`], and every named stream lies above it.

/// Worker slots draw streams `0..WORKER_SLOTS_END` (one per slot).
pub const WORKER_SLOTS_END: u64 = 1 << 32;

/// The replicas' and clients' key pairs.
pub const KEYS: u64 = 1 << 40;
/// The proxy's verdicts (drop, delay, duplicate, reorder, replay draws).
pub const PROXY: u64 = 1 << 41;
/// The seeded fault schedule.
pub const SCHEDULE: u64 = 1 << 42;
/// Which replicas a fault targets when it starts.
pub const TARGETS: u64 = 1 << 43;
/// Byzantine replicas' choices (withheld type, censored client, mutations).
pub const BYZANTINE: u64 = 1 << 44;
/// The rate limiter's jitter. (Until the streams were gathered here it was `1 << 41`,
/// the proxy's stream, so the two drew the same sequence.)
pub const LIMITER_JITTER: u64 = 1 << 45;

/// Every named stream, for the distinctness check and for documentation.
pub const ALL: [(&str, u64); 6] = [
    ("keys", KEYS),
    ("proxy", PROXY),
    ("schedule", SCHEDULE),
    ("targets", TARGETS),
    ("byzantine", BYZANTINE),
    ("limiter-jitter", LIMITER_JITTER),
];

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeSet;

    #[test]
    fn every_stream_is_distinct_and_above_the_worker_slots() {
        let values: BTreeSet<u64> = ALL.iter().map(|(_, s)| *s).collect();
        assert_eq!(
            values.len(),
            ALL.len(),
            "two streams share a number: {ALL:?}"
        );
        for (name, s) in ALL {
            assert!(
                s >= WORKER_SLOTS_END,
                "stream {name} ({s}) is a worker slot's"
            );
        }
    }
}
