//! `harness selftest`: proves the harness finds bugs. For each seeded bug (see
//! [`crate::config::selftest`]) it runs the bug's scenario `--runs` times against replicas
//! (or clients) with that bug switched on, and each scenario as often against the
//! correct build; every run is one `harness run` in its own process, stored under
//! `STORE/suites/selftest/<timestamp>/` like a suite's (so `harness serve` lists it).
//!
//! A bug is detected in a run when the run's verdict is invalid; the time to
//! detection is when the violation was first visible (the online watch, or the
//! evidence of the failed oracle). Exit status: 0 every bug detected in every run and
//! the correct build never flagged, 1 otherwise, 254 bad arguments or a build without
//! the seeded bugs, 255 the self-test could not run.

use super::suite::run_cell;
use crate::cli::SelftestArgs;
use crate::config::selftest::{Scenario, SeededBug};
use crate::config::suite::Cell;
use crate::config::RunConfig;
use crate::exit::{Exit, ExitContext, Failure};
use anyhow::{anyhow, bail, Context, Result};
use results::record::{read_optional, RunRecord, RESULTS_FILE};
use results::store::{create_run_dir, write_json};
use results::suite_summary::{SuiteRun, SuiteSummary};
use serde::Serialize;
use std::collections::BTreeMap;
use std::path::Path;
use std::time::Instant;

/// One run of the self-test, as reported.
#[derive(Debug, Clone, Serialize)]
struct Trial {
    /// The bug switched on, or `None` for the correct build.
    bug: Option<&'static str>,
    /// The scenario.
    scenario: &'static str,
    /// The seed.
    seed: u64,
    /// The run's verdict.
    verdict: String,
    /// The oracle that failed first, if any.
    caught_by: Option<String>,
    /// Seconds from the workload's start until the violation was visible.
    detected_after_s: Option<f64>,
    /// The first piece of evidence.
    evidence: Option<String>,
    /// The run directory, relative to the self-test directory.
    dir: Option<String>,
    /// The command that repeats the run.
    reproduce: String,
}

/// Runs `harness selftest`.
pub(crate) fn run(args: &SelftestArgs) -> Result<Exit, Failure> {
    if !replica::bugs::ClientBug::available() {
        return Err(anyhow!(
            "the self-test needs the seeded bugs, which this harness was built without: \
             cargo run --release -p harness --features seeded-bugs -- selftest"
        ))
        .or_exit(Exit::BadInput);
    }
    let bugs = selected_bugs(&args.bugs).or_exit(Exit::BadInput)?;
    if args.runs == 0 || args.time_limit == 0 {
        return Err(anyhow!("--runs and --time-limit must be at least 1")).or_exit(Exit::BadInput);
    }
    let seed = args.seed.unwrap_or_else(|| {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(1, |d| d.as_secs())
    });
    let dir = create_run_dir(&args.store.join("suites"), "selftest").or_exit(Exit::Broken)?;
    let schedules = dir.join("schedules");
    std::fs::create_dir_all(&schedules)
        .context("cannot create schedules/")
        .or_exit(Exit::Broken)?;
    let mut scenarios: Vec<Scenario> = bugs.iter().map(|b| b.scenario()).collect();
    scenarios.sort();
    scenarios.dedup();
    // The plan: every bug's runs, then the correct build on every scenario used.
    let mut plan: Vec<(Option<SeededBug>, Scenario, u32)> = Vec::new();
    if !args.skip_bugs {
        for bug in &bugs {
            plan.extend((0..args.runs).map(|r| (Some(*bug), bug.scenario(), r)));
        }
    }
    if !args.skip_correct {
        for s in &scenarios {
            plan.extend((0..args.runs).map(|r| (None, *s, r)));
        }
    }
    eprintln!(
        "harness selftest: {} bug(s), {} scenario(s), {} run(s) of at most {} s, seed {seed}\n\
         harness selftest: directory {}",
        bugs.len(),
        scenarios.len(),
        plan.len(),
        args.time_limit,
        dir.display()
    );
    let started = Instant::now();
    let mut summary = SuiteSummary {
        name: "selftest".into(),
        file: "(built in: harness selftest)".into(),
        shard: None,
        seed,
        started_at: chrono::Local::now().to_rfc3339(),
        seconds: 0.0,
        runs: Vec::new(),
    };
    let mut trials = Vec::new();
    for (i, (bug, scenario, r)) in plan.iter().enumerate() {
        let name = format!(
            "{}-{}-{}",
            bug.map_or("correct", |b| b.name()),
            scenario.name(),
            r + 1
        );
        // Runs of one repetition share a seed, so the correct build meets the same
        // schedule and choices as the bugs.
        let run_seed = seed.wrapping_add(u64::from(*r));
        let (run, trial) = run_one(args, &dir, &schedules, i, &name, *bug, *scenario, run_seed)
            .unwrap_or_else(|e| broken(&name, *bug, *scenario, run_seed, e));
        eprintln!(
            "harness selftest: [{}/{}] {name}: {}{}",
            i + 1,
            plan.len(),
            trial.verdict,
            match (&trial.caught_by, trial.detected_after_s) {
                (Some(o), Some(s)) => format!(" ({o} after {s:.1} s)"),
                _ => String::new(),
            }
        );
        summary.runs.push(run);
        summary.seconds = started.elapsed().as_secs_f64();
        trials.push(trial);
        // Saved after every run, so a self-test that dies still says what it did.
        summary
            .save(&dir)
            .map_err(anyhow::Error::new)
            .or_exit(Exit::Broken)?;
        write_json(&dir.join("selftest.json"), &trials).or_exit(Exit::Broken)?;
    }
    let (table, ok) = report(&bugs, &scenarios, &trials, args);
    std::fs::write(dir.join("summary.txt"), &table)
        .context("cannot write summary.txt")
        .or_exit(Exit::Broken)?;
    print!("{table}");
    println!("selftest: {}", dir.display());
    Ok(if ok { Exit::Valid } else { Exit::Invalid })
}

/// The bugs named by `--bugs` (`all`, or a comma-separated list).
fn selected_bugs(spec: &str) -> Result<Vec<SeededBug>> {
    if spec == "all" {
        return Ok(SeededBug::all());
    }
    let mut out = Vec::new();
    for name in spec.split(',').map(str::trim).filter(|s| !s.is_empty()) {
        let bug = SeededBug::parse(name).map_err(|e| anyhow!(e))?;
        if !out.contains(&bug) {
            out.push(bug);
        }
    }
    if out.is_empty() {
        bail!("--bugs names no bug");
    }
    Ok(out)
}

/// Runs one trial and reads back its verdict and first violation.
#[allow(clippy::too_many_arguments)]
fn run_one(
    args: &crate::cli::SelftestArgs,
    dir: &Path,
    schedules: &Path,
    index: usize,
    name: &str,
    bug: Option<SeededBug>,
    scenario: Scenario,
    seed: u64,
) -> Result<(SuiteRun, Trial)> {
    let mut table = scenario.settings();
    if let Some(text) = scenario.schedule(args.time_limit) {
        let path = schedules.join(format!("{}-{}.toml", scenario.name(), args.time_limit));
        std::fs::write(&path, text).with_context(|| format!("cannot write {}", path.display()))?;
        table.insert(
            "nemesis_schedule".into(),
            toml::Value::String(path.display().to_string()),
        );
    }
    table.insert("name".into(), toml::Value::String(name.into()));
    table.insert(
        "time_limit".into(),
        toml::Value::Integer(args.time_limit as i64),
    );
    table.insert("seed".into(), toml::Value::Integer(seed as i64));
    if let Some(bug) = bug {
        let (key, value) = bug.run_key();
        table.insert(key.into(), toml::Value::String(value.into()));
    }
    let config = RunConfig::from_table(&table)
        .with_context(|| format!("scenario {} does not resolve", scenario.name()))?;
    let cell = Cell {
        index,
        name: name.into(),
        table,
        config,
    };
    let run = run_cell(&cell, dir)?;
    let record: Option<RunRecord> = run.dir.as_ref().and_then(|d| {
        read_optional(&dir.join(d).join(RESULTS_FILE))
            .ok()
            .flatten()
    });
    let first = record.and_then(|r| r.first_violation);
    let trial = Trial {
        bug: bug.map(SeededBug::name),
        scenario: scenario.name(),
        seed,
        verdict: run.verdict.clone(),
        caught_by: first.as_ref().map(|f| f.oracle.clone()),
        detected_after_s: first.as_ref().map(|f| f.at_s),
        evidence: first.map(|f| f.evidence),
        dir: run.dir.clone(),
        reproduce: run.reproduce.clone(),
    };
    Ok((run, trial))
}

/// A trial that could not run.
fn broken(
    name: &str,
    bug: Option<SeededBug>,
    scenario: Scenario,
    seed: u64,
    e: anyhow::Error,
) -> (SuiteRun, Trial) {
    let error = format!("{e:#}");
    let run = SuiteRun::broken(name, error.clone(), String::new());
    let trial = Trial {
        bug: bug.map(SeededBug::name),
        scenario: scenario.name(),
        seed,
        verdict: "broken".into(),
        caught_by: None,
        detected_after_s: None,
        evidence: Some(error),
        dir: None,
        reproduce: String::new(),
    };
    (run, trial)
}

/// The summary table, and whether the self-test passed: every bug detected in every
/// run within the time limit, and the correct build valid in every run.
fn report(
    bugs: &[SeededBug],
    scenarios: &[Scenario],
    trials: &[Trial],
    args: &SelftestArgs,
) -> (String, bool) {
    let mut ok = true;
    let mut out = String::new();
    if !args.skip_bugs {
        out.push_str(&format!(
            "{:<26} {:<14} {:>9} {:>12}  caught by\n",
            "bug", "scenario", "detected", "median (s)"
        ));
    }
    for bug in bugs.iter().filter(|_| !args.skip_bugs) {
        let runs: Vec<&Trial> = trials
            .iter()
            .filter(|t| t.bug == Some(bug.name()))
            .collect();
        let detected: Vec<&Trial> = runs
            .iter()
            .copied()
            .filter(|t| t.verdict == "invalid")
            .collect();
        ok &= detected.len() == runs.len();
        let mut times: Vec<f64> = detected.iter().filter_map(|t| t.detected_after_s).collect();
        times.sort_by(f64::total_cmp);
        let median = times
            .get(times.len() / 2)
            .map_or("-".to_string(), |m| format!("{m:.1}"));
        let mut by: BTreeMap<&str, usize> = BTreeMap::new();
        for t in &detected {
            *by.entry(t.caught_by.as_deref().unwrap_or("?")).or_default() += 1;
        }
        let by: Vec<String> = by.iter().map(|(o, k)| format!("{o} ({k})")).collect();
        out.push_str(&format!(
            "{:<26} {:<14} {:>9} {:>12}  {}\n",
            bug.name(),
            bug.scenario().name(),
            format!("{}/{}", detected.len(), runs.len()),
            median,
            if by.is_empty() {
                "-".into()
            } else {
                by.join(", ")
            }
        ));
    }
    if !args.skip_correct {
        out.push_str(&format!(
            "{}{:<26} {:<14} {:>9}  flagged by\n",
            if args.skip_bugs { "" } else { "\n" },
            "correct build",
            "scenario",
            "passed"
        ));
        for s in scenarios {
            let runs: Vec<&Trial> = trials
                .iter()
                .filter(|t| t.bug.is_none() && t.scenario == s.name())
                .collect();
            let passed = runs.iter().filter(|t| t.verdict == "valid").count();
            ok &= passed == runs.len();
            let flagged: Vec<String> = runs
                .iter()
                .filter(|t| t.verdict != "valid")
                .map(|t| {
                    format!(
                        "seed {}: {} {}",
                        t.seed,
                        t.verdict,
                        t.caught_by.as_deref().unwrap_or("")
                    )
                })
                .collect();
            out.push_str(&format!(
                "{:<26} {:<14} {:>9}  {}\n",
                "",
                s.name(),
                format!("{passed}/{}", runs.len()),
                if flagged.is_empty() {
                    "-".into()
                } else {
                    flagged.join("; ")
                }
            ));
        }
    }
    out.push_str(&format!(
        "\nselftest: {}\n",
        if ok {
            "PASS (every bug caught in every run; the correct build never flagged)"
        } else {
            "FAIL"
        }
    ));
    (out, ok)
}
