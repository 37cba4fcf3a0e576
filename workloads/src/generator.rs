//! Seeded operation generators.
//!
//! A run has one seed; each worker slot draws from its own [`Generator`], a ChaCha8
//! stream of that seed numbered by the slot. So what a slot invokes, in order, depends on
//! the seed alone, never on how the slots' operations interleave in time.
//!
//! - `register`: one key; read, write and cas in equal parts, values `0..values` (small,
//!   so that a cas often finds the value it expects).
//! - `kv`: `keys` keys picked by the key distribution; read, write and cas as above.
//! - `append`: `keys` keys; 3 appends for every 2 reads; every appended element is unique
//!   in the whole run (slot `s` of `S` appends `s, s + S, s + 2S, ...`), so a request that
//!   executed twice or got lost shows in what reads return.

use crate::error::{Error, Result};
use crate::invocation::Invocation;
use crate::keys::{key_name, KeyChooser, KeyDist};
use crate::workload::WorkloadKind;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde_json::json;

/// What a generator produces: the workload and its parameters.
#[derive(Debug, Clone, PartialEq)]
pub struct GeneratorConfig {
    /// The workload.
    pub workload: WorkloadKind,
    /// Number of keys (`kv`, `append`; `register` always has one).
    pub keys: usize,
    /// How keys are picked.
    pub key_dist: KeyDist,
    /// The zipf exponent `s` (with [`KeyDist::Zipf`]).
    pub zipf_exponent: f64,
    /// Written and cas values are drawn from `0..values` (`register`, `kv`).
    pub values: u64,
}

impl GeneratorConfig {
    /// The default parameters of a workload: 10 keys, uniform, values `0..5`.
    pub fn new(workload: WorkloadKind) -> Self {
        GeneratorConfig {
            workload,
            keys: 10,
            key_dist: KeyDist::Uniform,
            zipf_exponent: 1.0,
            values: 5,
        }
    }

    /// How many keys the workload touches.
    pub fn key_count(&self) -> usize {
        match self.workload {
            WorkloadKind::Register => 1,
            WorkloadKind::Kv | WorkloadKind::Append => self.keys,
        }
    }

    /// Every key the workload touches, in order.
    pub fn key_names(&self) -> Vec<String> {
        (0..self.key_count()).map(key_name).collect()
    }

    /// The final read phase: one read of every key, so the final state is observed.
    pub fn final_reads(&self) -> Vec<Invocation> {
        self.key_names().into_iter().map(Invocation::read).collect()
    }

    /// Checks the parameters.
    pub fn validate(&self) -> Result<()> {
        KeyChooser::new(self.key_count(), self.key_dist, self.zipf_exponent)?;
        if self.values == 0 {
            return Err(Error::Invalid {
                field: "values",
                message: "need at least one value".into(),
            });
        }
        Ok(())
    }
}

/// One worker slot's stream of operations.
#[derive(Debug, Clone)]
pub struct Generator {
    workload: WorkloadKind,
    rng: ChaCha8Rng,
    chooser: KeyChooser,
    values: u64,
    next_element: u64,
    streams: u64,
}

impl Generator {
    /// Stream `stream` (of `streams`, one per worker slot) of the run seeded with `seed`.
    pub fn new(config: &GeneratorConfig, seed: u64, stream: u64, streams: u64) -> Result<Self> {
        config.validate()?;
        if stream >= streams {
            return Err(Error::Invalid {
                field: "stream",
                message: format!("stream {stream} of {streams}"),
            });
        }
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        rng.set_stream(stream);
        Ok(Generator {
            workload: config.workload,
            rng,
            chooser: KeyChooser::new(config.key_count(), config.key_dist, config.zipf_exponent)?,
            values: config.values,
            next_element: stream,
            streams,
        })
    }

    /// The next operation.
    pub fn next_invocation(&mut self) -> Invocation {
        let key = key_name(self.chooser.pick(&mut self.rng));
        match self.workload {
            WorkloadKind::Register | WorkloadKind::Kv => match self.rng.gen_range(0..3) {
                0 => Invocation::read(key),
                1 => Invocation::write(key, json!(self.value())),
                _ => {
                    let (from, to) = (self.value(), self.value());
                    Invocation::cas(key, json!(from), json!(to))
                }
            },
            WorkloadKind::Append => {
                if self.rng.gen_range(0..5) < 2 {
                    Invocation::read(key)
                } else {
                    let element = self.next_element;
                    self.next_element += self.streams;
                    Invocation::append(key, json!(element))
                }
            }
        }
    }

    fn value(&mut self) -> u64 {
        self.rng.gen_range(0..self.values)
    }
}

impl Iterator for Generator {
    type Item = Invocation;

    fn next(&mut self) -> Option<Invocation> {
        Some(self.next_invocation())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::invocation::Func;
    use std::collections::BTreeSet;

    fn take(config: &GeneratorConfig, seed: u64, stream: u64, n: usize) -> Vec<Invocation> {
        Generator::new(config, seed, stream, 4)
            .unwrap()
            .take(n)
            .collect()
    }

    #[test]
    fn deterministic_per_seed_and_stream() {
        for w in WorkloadKind::ALL {
            let config = GeneratorConfig::new(w);
            assert_eq!(take(&config, 7, 1, 200), take(&config, 7, 1, 200), "{w}");
            assert_ne!(take(&config, 7, 1, 200), take(&config, 8, 1, 200), "{w}");
            assert_ne!(take(&config, 7, 1, 200), take(&config, 7, 2, 200), "{w}");
        }
    }

    #[test]
    fn register_ops_have_the_right_shapes() {
        let ops = take(&GeneratorConfig::new(WorkloadKind::Register), 1, 0, 300);
        let funcs: BTreeSet<&str> = ops.iter().map(|op| op.f.name()).collect();
        assert_eq!(funcs, BTreeSet::from(["cas", "read", "write"]));
        for op in &ops {
            assert_eq!(op.key, "k0");
            match op.f {
                Func::Read => assert!(op.value.is_null()),
                Func::Write => assert!(op.value.as_u64().unwrap() < 5),
                Func::Cas => {
                    let pair = op.value.as_array().unwrap();
                    assert_eq!(pair.len(), 2);
                    assert!(pair.iter().all(|v| v.as_u64().unwrap() < 5));
                }
                Func::Append => panic!("register never appends"),
            }
        }
    }

    #[test]
    fn kv_spreads_over_the_configured_keys() {
        let config = GeneratorConfig {
            keys: 3,
            ..GeneratorConfig::new(WorkloadKind::Kv)
        };
        let ops = take(&config, 1, 0, 300);
        let keys: BTreeSet<&str> = ops.iter().map(|op| op.key.as_str()).collect();
        assert_eq!(keys, BTreeSet::from(["k0", "k1", "k2"]));
        assert!(ops.iter().all(|op| op.f != Func::Append));
        assert_eq!(config.final_reads().len(), 3);
    }

    #[test]
    fn append_elements_are_unique_across_streams() {
        let config = GeneratorConfig::new(WorkloadKind::Append);
        let mut seen = BTreeSet::new();
        let mut reads = 0;
        for stream in 0..4 {
            for op in take(&config, 3, stream, 500) {
                match op.f {
                    Func::Append => assert!(seen.insert(op.value.as_u64().unwrap())),
                    Func::Read => reads += 1,
                    other => panic!("append workload made a {other}"),
                }
            }
        }
        assert!(reads > 0 && seen.len() > reads / 2);
    }

    #[test]
    fn bad_parameters_are_rejected() {
        let config = GeneratorConfig {
            keys: 0,
            ..GeneratorConfig::new(WorkloadKind::Kv)
        };
        assert!(Generator::new(&config, 0, 0, 1).is_err());
        let config = GeneratorConfig::new(WorkloadKind::Kv);
        assert!(Generator::new(&config, 0, 1, 1).is_err());
    }
}
