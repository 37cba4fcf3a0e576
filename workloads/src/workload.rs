//! The workload kinds and the checker model each one is judged by.

use crate::error::{Error, Result};
use checker::{ModelKind, Val};
use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// Which workload a run drives.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum WorkloadKind {
    /// One key; read, write and compare-and-set with small integer values.
    Register,
    /// Many independent keys; read, write and compare-and-set.
    Kv,
    /// List append with unique elements, and reads of the lists: not idempotent, so a
    /// request executed twice (or lost) shows in what reads return.
    Append,
}

impl WorkloadKind {
    /// The names accepted on the command line.
    pub const NAMES: &'static str = "register, kv, append";

    /// Every workload, in the order of [`WorkloadKind::NAMES`].
    pub const ALL: [WorkloadKind; 3] = [
        WorkloadKind::Register,
        WorkloadKind::Kv,
        WorkloadKind::Append,
    ];

    /// The workload's name.
    pub fn name(self) -> &'static str {
        match self {
            WorkloadKind::Register => "register",
            WorkloadKind::Kv => "kv",
            WorkloadKind::Append => "append",
        }
    }

    /// The consistency model that judges this workload's histories.
    ///
    /// `register` is a cas-register; `kv` is the kv model (checked one key at a time,
    /// each key a cas-register); `append` uses the kv model's list semantics.
    pub fn model(self) -> ModelKind {
        match self {
            WorkloadKind::Register => ModelKind::CasRegister,
            WorkloadKind::Kv | WorkloadKind::Append => ModelKind::Kv,
        }
    }

    /// The name of [`WorkloadKind::model`], as `harness check --model` takes it.
    pub fn model_name(self) -> &'static str {
        match self.model() {
            ModelKind::Register => "register",
            ModelKind::CasRegister => "cas-register",
            ModelKind::Kv => "kv",
            ModelKind::Mutex => "mutex",
            ModelKind::MultiRegister => "multi-register",
        }
    }

    /// The value of every key before the run: the store reads a missing key as `null`.
    pub fn initial(self) -> Val {
        Val::Nil
    }
}

impl fmt::Display for WorkloadKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for WorkloadKind {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self> {
        WorkloadKind::ALL
            .into_iter()
            .find(|w| w.name() == s)
            .ok_or_else(|| Error::UnknownName {
                what: "workload",
                name: s.to_string(),
                expected: WorkloadKind::NAMES,
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for w in WorkloadKind::ALL {
            assert_eq!(w.name().parse::<WorkloadKind>().unwrap(), w);
        }
        assert!("bank".parse::<WorkloadKind>().is_err());
        for w in WorkloadKind::ALL {
            assert_eq!(w.model_name().parse::<ModelKind>().unwrap(), w.model());
        }
    }
}
