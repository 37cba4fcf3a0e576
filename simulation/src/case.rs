//! One explored case: a seed, the few simulation parameters the explorer varies, the
//! planted bugs and a fault schedule. A case is what `harness explore` draws, mutates,
//! shrinks and writes to a replay file; [`Case::config`] turns it into the exact
//! [`SimConfig`] it runs (every other parameter is [`SimConfig::new`]'s).
//!
//! The replay file is JSON with the schedule as its `--nemesis-schedule` TOML text, so
//! the schedule in it is byte for byte what a real run reads.

use crate::config::SimConfig;
use crate::error::{Error, Result};
use nemesis::Schedule;
use replica::bugs::{Bug, Bugs};
use serde::{Deserialize, Serialize};

/// The replay file's format version.
pub const CASE_FORMAT: u32 = 1;

/// A simulation case.
#[derive(Clone, Debug, PartialEq)]
pub struct Case {
    /// The simulation's seed.
    pub seed: u64,
    /// Fault bound: n = 3f+1 replicas.
    pub f: usize,
    /// Planted replica bugs switched on.
    pub bugs: Vec<Bug>,
    /// Workload phase, whole seconds (a real run's `--time-limit`).
    pub time_limit_s: u64,
    /// Client worker slots (a real run's `--concurrency`).
    pub clients: usize,
    /// Operations per second over all clients.
    pub rate: f64,
    /// The faults.
    pub schedule: Schedule,
}

/// The case as written in a replay file.
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct CaseFile {
    format: u32,
    seed: u64,
    f: usize,
    bugs: Vec<String>,
    time_limit_s: u64,
    clients: usize,
    rate: f64,
    /// The `--nemesis-schedule` TOML text.
    schedule: String,
}

impl Case {
    /// A case of `seed` with the default simulation's cluster and workload, no bugs and
    /// no faults.
    pub fn new(seed: u64, time_limit_s: u64) -> Case {
        let base = SimConfig::new(seed);
        Case {
            seed,
            f: base.f,
            bugs: Vec::new(),
            time_limit_s,
            clients: base.clients,
            rate: base.rate,
            schedule: Schedule::none(),
        }
    }

    /// Workload phase in ms.
    pub fn time_limit_ms(&self) -> u64 {
        self.time_limit_s * 1000
    }

    /// Number of replicas.
    pub fn n(&self) -> usize {
        3 * self.f + 1
    }

    /// The planted bugs as the replica's switch set.
    pub fn bug_set(&self) -> Bugs {
        self.bugs.iter().fold(Bugs::NONE, |b, &bug| b.with(bug))
    }

    /// The simulation this case runs (validated).
    pub fn config(&self) -> Result<SimConfig> {
        let mut config = SimConfig::new(self.seed).with_bugs(self.bug_set());
        config.f = self.f;
        config.time_limit_ms = self.time_limit_ms();
        config.clients = self.clients;
        config.rate = self.rate;
        config.schedule = self.schedule.clone();
        config.validate()?;
        Ok(config)
    }

    /// The replay file's text (pretty JSON).
    pub fn to_json(&self) -> String {
        let file = CaseFile {
            format: CASE_FORMAT,
            seed: self.seed,
            f: self.f,
            bugs: self.bugs.iter().map(|b| b.name().to_string()).collect(),
            time_limit_s: self.time_limit_s,
            clients: self.clients,
            rate: self.rate,
            schedule: self.schedule.to_toml(),
        };
        serde_json::to_string_pretty(&file).unwrap_or_default()
    }

    /// Reads a replay file's text (a JSON object; the case may sit under a `case` key
    /// of a larger object, as `harness explore` writes it).
    pub fn from_json(text: &str) -> Result<Case> {
        let invalid = |message: String| Error::Invalid {
            field: "case",
            message,
        };
        let mut value: serde_json::Value =
            serde_json::from_str(text).map_err(|e| invalid(e.to_string()))?;
        if let Some(inner) = value.get_mut("case") {
            value = inner.take();
        }
        let file: CaseFile = serde_json::from_value(value).map_err(|e| invalid(e.to_string()))?;
        if file.format > CASE_FORMAT {
            return Err(invalid(format!(
                "written in format {}, newer than this build reads ({CASE_FORMAT})",
                file.format
            )));
        }
        let bugs = file
            .bugs
            .iter()
            .map(|b| Bug::parse(b))
            .collect::<std::result::Result<Vec<Bug>, String>>()
            .map_err(invalid)?;
        let schedule = Schedule::from_toml(&file.schedule, file.time_limit_s * 1000)?;
        let case = Case {
            seed: file.seed,
            f: file.f,
            bugs,
            time_limit_s: file.time_limit_s,
            clients: file.clients,
            rate: file.rate,
            schedule,
        };
        case.config()?;
        Ok(case)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_case_round_trips_through_its_replay_file() {
        let mut case = Case::new(42, 6);
        case.bugs = vec![Bug::NoClientDedupe];
        case.clients = 2;
        case.rate = 12.5;
        case.schedule = crate::scope::small_scope(42, 1, 6_000);
        let back = Case::from_json(&case.to_json()).unwrap();
        assert_eq!(back, case);
        let wrapped = format!("{{\"case\": {}, \"verdict\": \"invalid\"}}", case.to_json());
        assert_eq!(Case::from_json(&wrapped).unwrap(), case);
        assert!(Case::from_json("{\"seed\": 1}").is_err());
    }
}
