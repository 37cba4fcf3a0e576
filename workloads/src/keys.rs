//! Key distributions over a fixed set of keys `k0 .. k{n-1}`.

use crate::error::{Error, Result};
use rand::Rng;
use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// How operations pick their key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
#[serde(rename_all = "kebab-case")]
pub enum KeyDist {
    /// Every key equally likely.
    #[default]
    Uniform,
    /// Key `i` (0-based) with probability proportional to `1 / (i + 1)^s`: a few hot keys.
    Zipf,
}

impl KeyDist {
    /// The names accepted on the command line.
    pub const NAMES: &'static str = "uniform, zipf";

    /// The distribution's name.
    pub fn name(self) -> &'static str {
        match self {
            KeyDist::Uniform => "uniform",
            KeyDist::Zipf => "zipf",
        }
    }
}

impl fmt::Display for KeyDist {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for KeyDist {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self> {
        match s {
            "uniform" => Ok(KeyDist::Uniform),
            "zipf" => Ok(KeyDist::Zipf),
            _ => Err(Error::UnknownName {
                what: "key distribution",
                name: s.to_string(),
                expected: KeyDist::NAMES,
            }),
        }
    }
}

/// The name of key number `i`.
pub fn key_name(i: usize) -> String {
    format!("k{i}")
}

/// Picks key indices `0..n` from a distribution (a precomputed cumulative table).
#[derive(Debug, Clone)]
pub struct KeyChooser {
    cumulative: Vec<f64>,
}

impl KeyChooser {
    /// A chooser over `n >= 1` keys; `exponent` is used by [`KeyDist::Zipf`] only and
    /// must be positive.
    pub fn new(n: usize, dist: KeyDist, exponent: f64) -> Result<Self> {
        if n == 0 {
            return Err(Error::Invalid {
                field: "keys",
                message: "need at least one key".into(),
            });
        }
        if dist == KeyDist::Zipf && !(exponent.is_finite() && exponent > 0.0) {
            return Err(Error::Invalid {
                field: "zipf exponent",
                message: format!("must be a positive number, got {exponent}"),
            });
        }
        let weights = (0..n).map(|i| match dist {
            KeyDist::Uniform => 1.0,
            KeyDist::Zipf => 1.0 / ((i + 1) as f64).powf(exponent),
        });
        let mut total = 0.0;
        let mut cumulative: Vec<f64> = weights
            .map(|w| {
                total += w;
                total
            })
            .collect();
        for c in &mut cumulative {
            *c /= total;
        }
        Ok(KeyChooser { cumulative })
    }

    /// How many keys there are.
    pub fn len(&self) -> usize {
        self.cumulative.len()
    }

    /// Always false: a chooser has at least one key.
    pub fn is_empty(&self) -> bool {
        self.cumulative.is_empty()
    }

    /// Picks a key index.
    pub fn pick(&self, rng: &mut impl Rng) -> usize {
        let u: f64 = rng.gen();
        self.cumulative
            .partition_point(|&c| c <= u)
            .min(self.cumulative.len() - 1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;

    #[test]
    fn zipf_prefers_the_first_keys_and_uniform_does_not() {
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        let count = |chooser: &KeyChooser, rng: &mut ChaCha8Rng| {
            let mut counts = vec![0usize; chooser.len()];
            for _ in 0..20_000 {
                counts[chooser.pick(rng)] += 1;
            }
            counts
        };
        let zipf = count(&KeyChooser::new(10, KeyDist::Zipf, 1.0).unwrap(), &mut rng);
        assert!(zipf[0] > 3 * zipf[9], "{zipf:?}");
        assert!(zipf.iter().all(|&c| c > 0), "{zipf:?}");
        let uniform = count(
            &KeyChooser::new(10, KeyDist::Uniform, 1.0).unwrap(),
            &mut rng,
        );
        assert!(
            uniform.iter().all(|&c| (1500..2500).contains(&c)),
            "{uniform:?}"
        );
    }

    #[test]
    fn rejects_bad_parameters() {
        assert!(KeyChooser::new(0, KeyDist::Uniform, 1.0).is_err());
        assert!(KeyChooser::new(3, KeyDist::Zipf, 0.0).is_err());
        assert_eq!("zipf".parse::<KeyDist>().unwrap(), KeyDist::Zipf);
        assert!("hot".parse::<KeyDist>().is_err());
    }
}
