//! A suite's `summary.json`: one entry per run of the matrix (what `harness suite`
//! writes and `harness compare` and the JUnit writer read).

use crate::error::{io, read_json, Error, Result};
use crate::record::RunRecord;
use serde::{Deserialize, Serialize};
use std::path::Path;

/// The summary file's name in a suite directory.
pub const SUMMARY: &str = "summary.json";

/// One oracle's verdict, as the summary keeps it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OracleLine {
    /// The oracle.
    pub name: String,
    /// valid, invalid or unknown.
    pub verdict: String,
    /// Its one-line summary.
    pub summary: String,
}

/// One run of a suite.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SuiteRun {
    /// The cell's name (the run's test name), unique in the suite.
    pub name: String,
    /// The run directory, relative to the suite directory (`None`: none was made).
    pub dir: Option<String>,
    /// `harness run`'s exit status (`None`: killed).
    pub exit_code: Option<i32>,
    /// The run's verdict, or `broken` when it has none.
    pub verdict: String,
    /// Wall-clock seconds of the whole run.
    pub seconds: f64,
    /// Completions per second during the workload.
    pub ops_per_sec: Option<f64>,
    /// p99 latency of ok operations, ms.
    pub p99_ms: Option<f64>,
    /// Fault families that ran.
    pub faults: Vec<String>,
    /// Each oracle's verdict.
    pub oracles: Vec<OracleLine>,
    /// Why the run broke, if it did.
    pub error: Option<String>,
    /// The command that repeats the run.
    pub reproduce: String,
}

impl SuiteRun {
    /// A run that could not be made (no run directory, no verdict): `broken`, and why.
    pub fn broken(name: &str, error: String, reproduce: String) -> SuiteRun {
        SuiteRun {
            name: name.into(),
            dir: None,
            exit_code: None,
            verdict: "broken".into(),
            seconds: 0.0,
            ops_per_sec: None,
            p99_ms: None,
            faults: Vec::new(),
            oracles: Vec::new(),
            error: Some(error),
            reproduce,
        }
    }

    /// A run as its record tells it: `record` is its `results.json` (`None`: it wrote
    /// none, so it is `broken`); `reproduce` is used when the record has no command.
    pub fn from_record(
        name: &str,
        dir: Option<String>,
        exit_code: Option<i32>,
        seconds: f64,
        record: Option<&RunRecord>,
        reproduce: String,
    ) -> SuiteRun {
        let Some(r) = record else {
            return SuiteRun {
                dir,
                exit_code,
                seconds,
                ..SuiteRun::broken(name, "the run wrote no results.json".into(), reproduce)
            };
        };
        SuiteRun {
            name: name.into(),
            dir,
            exit_code,
            verdict: r.verdict_name().into(),
            seconds,
            ops_per_sec: Some(r.ops_per_sec),
            p99_ms: Some(r.latency_us.p99 as f64 / 1000.0),
            faults: r.fault_families(),
            oracles: r
                .oracles
                .iter()
                .map(|o| OracleLine {
                    name: o.name.clone(),
                    verdict: format!("{:?}", o.verdict).to_lowercase(),
                    summary: o.summary.clone(),
                })
                .collect(),
            error: r.error.clone(),
            reproduce: if r.reproduce.is_empty() {
                reproduce
            } else {
                r.reproduce.clone()
            },
        }
    }

    /// Whether the run passed: exit 0 and a valid verdict.
    pub fn passed(&self) -> bool {
        self.exit_code == Some(0) && self.verdict == "valid"
    }
}

/// The whole suite.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SuiteSummary {
    /// The suite's name.
    pub name: String,
    /// The suite file.
    pub file: String,
    /// `i/n` when sharded.
    pub shard: Option<String>,
    /// The suite's base seed.
    pub seed: u64,
    /// When it started (RFC 3339).
    pub started_at: String,
    /// Wall-clock seconds of the suite.
    pub seconds: f64,
    /// Runs in matrix order.
    pub runs: Vec<SuiteRun>,
}

impl SuiteSummary {
    /// Reads `dir/summary.json`.
    pub fn load(dir: &Path) -> Result<SuiteSummary> {
        let path = dir.join(SUMMARY);
        let value = read_json(&path)?;
        serde_json::from_value(value).map_err(|source| Error::Json { path, source })
    }

    /// Writes `dir/summary.json`.
    pub fn save(&self, dir: &Path) -> Result<()> {
        let path = dir.join(SUMMARY);
        let text = serde_json::to_string_pretty(self).map_err(|source| Error::Json {
            path: path.clone(),
            source,
        })?;
        std::fs::write(&path, text).map_err(io(&path))
    }

    /// A text table of the runs.
    pub fn table(&self) -> String {
        let mut out = format!(
            "suite {}{}: {} run(s) in {:.0} s, seed {}\n",
            self.name,
            self.shard
                .as_deref()
                .map_or(String::new(), |s| format!(" (shard {s})")),
            self.runs.len(),
            self.seconds,
            self.seed
        );
        let w = self
            .runs
            .iter()
            .map(|r| r.name.len())
            .max()
            .unwrap_or(3)
            .max(3);
        out.push_str(&format!(
            "  {:<w$} {:<8} {:>6} {:>8} {:>9}  faults\n",
            "run", "verdict", "exit", "ops/s", "p99 ms"
        ));
        for r in &self.runs {
            out.push_str(&format!(
                "  {:<w$} {:<8} {:>6} {:>8} {:>9}  {}\n",
                r.name,
                r.verdict,
                r.exit_code.map_or("-".into(), |c| c.to_string()),
                r.ops_per_sec.map_or("-".into(), |v| format!("{v:.1}")),
                r.p99_ms.map_or("-".into(), |v| format!("{v:.1}")),
                if r.faults.is_empty() {
                    "none".to_string()
                } else {
                    r.faults.join(",")
                }
            ));
        }
        let failed = self.runs.iter().filter(|r| !r.passed()).count();
        out.push_str(&format!(
            "  {} passed, {failed} failed\n",
            self.runs.len() - failed
        ));
        out
    }
}
