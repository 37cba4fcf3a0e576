//! A failure found by `harness explore`, stored as a run is:
//! `STORE/explore/<timestamp>/failure-<n>/` with
//!
//! - `schedule.toml`: the shrunk schedule, a `--nemesis-schedule` file as it is;
//! - `replay.json`: the shrunk case (seed, parameters, bugs, schedule), the oracle
//!   that failed, the trace hash and event count, the case before shrinking, and the
//!   two commands below (`harness explore --replay` reads it);
//! - `test.json` and `results.json`: the records `harness serve` lists (verdict, each
//!   oracle's verdict and evidence, operation counts, the replay command);
//! - `history.jsonl`: the shrunk run's history, in a real run's format;
//! - `trace.sha256`: the trace hash.

use crate::config::{RunSettings, DEFAULT_NEMESIS};
use anyhow::{Context, Result};
use results::record::{TestRecord, RESULTS_FILE, TEST_FILE};
use results::stats::Counts;
use results::store::write_json;
use results::RunRecord;
use serde_json::json;
use simulation::shrink::Shrunk;
use simulation::{Case, SimReport};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use workloads::WorkloadKind;

/// The replay file's name.
pub(crate) const REPLAY_FILE: &str = "replay.json";
/// The schedule file's name.
pub(crate) const SCHEDULE_FILE: &str = "schedule.toml";

/// Where a search stores its failures: one directory per search, made at the first
/// failure.
#[derive(Debug)]
pub(super) struct Session {
    store: PathBuf,
    dir: Option<PathBuf>,
    failures: usize,
    unknowns: usize,
}

/// A stored failure.
#[derive(Debug)]
pub(super) struct Stored {
    /// Its directory.
    pub(super) dir: PathBuf,
    /// The command that replays it in the simulator.
    pub(super) replay: String,
    /// The command that runs its schedule against real processes.
    pub(super) real_run: String,
}

impl Session {
    /// A session storing under `store`.
    pub(super) fn new(store: &Path) -> Session {
        Session {
            store: store.to_path_buf(),
            dir: None,
            failures: 0,
            unknowns: 0,
        }
    }

    /// The session's directory, if a failure was stored.
    pub(super) fn dir(&self) -> Option<&Path> {
        self.dir.as_deref()
    }

    /// A fresh directory for the next failure (or case the oracles could not judge).
    fn next_dir(&mut self, unknown: bool) -> Result<PathBuf> {
        let session = match &self.dir {
            Some(d) => d.clone(),
            None => {
                let stamp = chrono::Local::now().format("%Y%m%dT%H%M%S%.3f").to_string();
                let parent = self.store.join("explore");
                let mut dir = parent.join(&stamp);
                let mut k = 2;
                while dir.exists() {
                    dir = parent.join(format!("{stamp}-{k}"));
                    k += 1;
                }
                std::fs::create_dir_all(&dir)
                    .with_context(|| format!("cannot create {}", dir.display()))?;
                self.dir = Some(dir.clone());
                dir
            }
        };
        let dir = if unknown {
            self.unknowns += 1;
            session.join(format!("unknown-{}", self.unknowns))
        } else {
            self.failures += 1;
            session.join(format!("failure-{}", self.failures))
        };
        std::fs::create_dir_all(&dir)
            .with_context(|| format!("cannot create {}", dir.display()))?;
        Ok(dir)
    }

    /// Stores one failure: `original` (found as case `index` of the search seeded
    /// `search_seed`) shrunk to `shrunk`, whose run is `report`, failed by `oracle`.
    pub(super) fn store(
        &mut self,
        original: &Case,
        index: u64,
        search_seed: u64,
        shrunk: &Shrunk,
        report: &SimReport,
        oracle: &str,
    ) -> Result<Stored> {
        let dir = self.next_dir(false)?;
        let case = &shrunk.case;
        let bugs = !case.bugs.is_empty();
        let replay_path = dir.join(REPLAY_FILE);
        let schedule_path = dir.join(SCHEDULE_FILE);
        let replay = format!(
            "cargo run --release -p harness{} -- explore --replay {}",
            if bugs { " --features seeded-bugs" } else { "" },
            replay_path.display()
        );
        let real_run = real_run_settings(case, &schedule_path).reproduce_command();
        let write = |name: &str, text: &str| {
            let path = dir.join(name);
            std::fs::write(&path, text).with_context(|| format!("cannot write {}", path.display()))
        };
        write(SCHEDULE_FILE, &case.schedule.to_toml())?;
        write("history.jsonl", &report.history.to_jsonl())?;
        write("trace.sha256", &format!("{}\n", report.trace_hash))?;
        let case_json: serde_json::Value = serde_json::from_str(&case.to_json())?;
        let original_json: serde_json::Value = serde_json::from_str(&original.to_json())?;
        let coverage: Vec<String> = report.coverage.iter().map(|p| p.to_string()).collect();
        let replay_record = json!({
            "case": case_json,
            "oracle": oracle,
            "verdict": format!("{:?}", report.verdict).to_lowercase(),
            "trace_hash": report.trace_hash,
            "events": report.events,
            "summary": report.summary(),
            "found": {"search_seed": search_seed, "index": index, "case": original_json},
            "shrink": {"runs": shrunk.runs, "steps": shrunk.steps,
                       "windows_before": original.schedule.windows.len(),
                       "windows_after": case.schedule.windows.len()},
            "coverage": coverage,
            "replay": replay,
            "real_run": real_run,
        });
        write_json(&replay_path, &replay_record)?;
        let test = TestRecord {
            name: "explore".into(),
            seed: case.seed,
            n: case.n(),
            model: "kv".into(),
            command_line: std::env::args().collect(),
            reproduce: replay.clone(),
            started_at: chrono::Local::now().to_rfc3339(),
            harness_version: env!("CARGO_PKG_VERSION").into(),
            config: json!({"simulated": true, "case": replay_record["case"], "oracle": oracle,
                           "real_run": real_run}),
            ..TestRecord::default()
        };
        write_json(&dir.join(TEST_FILE), &test)?;
        let counts = Counts {
            ok: report.ops.ok,
            fail: report.ops.fail,
            info: report.ops.info,
        };
        let results = RunRecord {
            verdict: Some(report.verdict),
            oracles: report.oracles.clone(),
            workload: WorkloadKind::Kv.name().into(),
            model: "kv".into(),
            seed: case.seed,
            counts: BTreeMap::from([("total".to_string(), counts)]),
            workload_seconds: case.time_limit_s as f64,
            ops_per_sec: (counts.ok + counts.fail + counts.info) as f64
                / case.time_limit_s.max(1) as f64,
            nemesis_ops: report
                .history
                .ops()
                .iter()
                .filter(|o| o.process == checker::Process::Nemesis)
                .count() as u64,
            reproduce: replay.clone(),
            ..RunRecord::default()
        };
        write_json(&dir.join(RESULTS_FILE), &results)?;
        Ok(Stored {
            dir,
            replay,
            real_run,
        })
    }
}

impl Session {
    /// Stores a case some oracle could not judge (`unknown-<n>/replay.json`, not
    /// shrunk): often a liveness problem worth a look, replayable as a failure is.
    pub(super) fn store_unknown(
        &mut self,
        case: &Case,
        index: u64,
        search_seed: u64,
        report: &SimReport,
        oracle: &str,
    ) -> Result<Stored> {
        let dir = self.next_dir(true)?;
        let replay_path = dir.join(REPLAY_FILE);
        let replay = format!(
            "cargo run --release -p harness{} -- explore --replay {}",
            if case.bugs.is_empty() {
                ""
            } else {
                " --features seeded-bugs"
            },
            replay_path.display()
        );
        let schedule_path = dir.join(SCHEDULE_FILE);
        std::fs::write(&schedule_path, case.schedule.to_toml())
            .with_context(|| format!("cannot write {}", schedule_path.display()))?;
        let real_run = real_run_settings(case, &schedule_path).reproduce_command();
        let case_json: serde_json::Value = serde_json::from_str(&case.to_json())?;
        let evidence: Vec<&String> = report
            .oracle(oracle)
            .map(|o| o.evidence.iter().take(5).collect())
            .unwrap_or_default();
        write_json(
            &replay_path,
            &json!({
                "case": case_json,
                "oracle": oracle,
                "verdict": "unknown",
                "trace_hash": report.trace_hash,
                "events": report.events,
                "summary": report.summary(),
                "evidence": evidence,
                "found": {"search_seed": search_seed, "index": index},
                "replay": replay,
                "real_run": real_run,
            }),
        )?;
        Ok(Stored {
            dir,
            replay,
            real_run,
        })
    }
}

/// The settings of a real run of `case`: the simulation's cluster, workload and
/// protocol parameters (SimConfig::new's), its seed, bugs and time limit, and the
/// schedule file.
pub(crate) fn real_run_settings(case: &Case, schedule: &Path) -> RunSettings {
    let sim = simulation::SimConfig::new(case.seed);
    let mut s = RunSettings {
        name: Some("explore-failure".into()),
        workload: WorkloadKind::Kv,
        f: case.f,
        concurrency: case.clients,
        rate: case.rate,
        time_limit: case.time_limit_s,
        op_timeout_ms: sim.op_timeout_ms,
        keys: sim.workload.keys,
        seed: Some(case.seed),
        nemesis_schedule: Some(schedule.to_path_buf()),
        recovery_time: sim.recovery_ms.div_ceil(1000),
        replica_args: vec![
            "--checkpoint-interval".into(),
            sim.params.checkpoint_interval.to_string(),
            "--log-window".into(),
            sim.params.log_window.to_string(),
        ],
        ..RunSettings::default()
    };
    if !case.bugs.is_empty() {
        let names: Vec<&str> = case.bugs.iter().map(|b| b.name()).collect();
        s.replica_bug = Some(names.join(","));
    }
    // A schedule file decides the faults: the seeded mix stays off.
    debug_assert_ne!(s.nemesis(), DEFAULT_NEMESIS);
    s
}
