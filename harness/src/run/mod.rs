//! One test run, end to end (`harness run`, and every run of a suite or the
//! self-test, which re-execute it):
//!
//! ```text
//! run dir + test.json ─▶ drive (see drive.rs): recorder ─▶ proxy + cluster
//!   ─▶ workers at --rate for --time-limit, nemesis playing the schedule, watches
//!   ─▶ final heal ─▶ recovery window (if faults ran) ─▶ final reads
//!   ─▶ evidence from every replica ─▶ stop cluster ─▶ close history
//! ─▶ judge: linearizability + oracles ─▶ results.json, report, summary
//! ```
//!
//! The exit status follows the worst oracle: linearizability, agreement, validity,
//! exactly-once, crashes (every replica running and answering at the end), liveness (the
//! final reads complete), availability, convergence and durability (a power loss of
//! every replica forgets nothing f+1 executed).
//!
//! Ctrl-C or SIGTERM ends the workload early: no final reads, but the cluster is
//! stopped, the partial history checked and results written (exit 1 if it is invalid,
//! else 255). Anything that breaks after the run directory exists still leaves a
//! `results.json` with the error.
//!
//! The parts: [`cluster`] (replica processes and the proxy), [`workers`] and
//! [`limiter`] (the clients at the target rate), [`recorder`] (the history, streamed to
//! disk), [`nemesis`] (the fault schedule played), [`watch`] (the online safety watch),
//! [`progress`], [`shutdown`] (stop flags and signals), [`status`] (what the replicas
//! report: the view-change back-off, where they settle), [`history`] and [`judge`]
//! (checking and the oracles), [`record`] (filling in the run record).

pub(crate) mod cluster;
pub(crate) mod drive;
pub(crate) mod history;
pub(crate) mod judge;
pub(crate) mod limiter;
pub(crate) mod nemesis;
pub(crate) mod progress;
pub(crate) mod record;
pub(crate) mod recorder;
pub(crate) mod shutdown;
pub(crate) mod status;
pub(crate) mod watch;
pub(crate) mod workers;

use crate::config::RunConfig;
use crate::exit::{Exit, ExitContext, Failure};
use anyhow::{anyhow, Context, Result};
use checker::oracles::worst;
use checker::Verdict;
use drive::Driven;
use history::{check_history, read_history};
use judge::Judged;
use results::record::{RunRecord, RESULTS_FILE, TEST_FILE};
use results::store::{create_run_dir, write_json};
use std::path::Path;

/// Runs one test with `config`: the run directory and `test.json`, the run itself,
/// its judgement, and `results.json` with the report, whatever happened.
pub(crate) fn run_test(config: RunConfig) -> Result<Exit, Failure> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")
        .or_exit(Exit::Broken)?;
    let run_dir = prepare(&config).or_exit(Exit::Broken)?;
    let mut record = record::started(&config.settings);
    let outcome = runtime
        .block_on(drive::drive(&config, &run_dir))
        .and_then(|driven| judge(&config, &run_dir, &driven, &mut record));
    let exit = outcome.map_err(|error| {
        record.error = Some(format!("{error:#}"));
        Failure {
            error,
            exit: Exit::Broken,
        }
    });
    conclude(&run_dir, &record);
    exit
}

/// Creates the run directory, writes `test.json` and says what runs where.
fn prepare(config: &RunConfig) -> Result<std::path::PathBuf> {
    let s = &config.settings;
    let run_dir = create_run_dir(&s.store, s.name())?;
    write_json(&run_dir.join(TEST_FILE), &record::test_record(config))?;
    eprintln!(
        "harness: {} workload, {} replicas, {} s at {}/s, seed {}\nharness: run directory {}",
        s.workload,
        s.n(),
        s.time_limit,
        s.rate,
        s.seed(),
        run_dir.display()
    );
    Ok(run_dir)
}

/// Checks the history, runs the oracles and fills in the record; the exit status
/// follows the worst verdict.
fn judge(
    config: &RunConfig,
    run_dir: &Path,
    driven: &Driven,
    record: &mut RunRecord,
) -> Result<Exit> {
    driven.stats.histograms().write_hgrm_files(run_dir)?;
    let ops = read_history(&run_dir.join("history.jsonl"))?;
    record::measured(record, config, driven, &ops);
    let s = &config.settings;
    let check = check_history(ops.clone(), s.workload, s.check_timeout)?;
    let oracles = Judged {
        check: &check,
        ops: &ops,
        evidence: &driven.evidence,
        invoked: &driven.invoked,
        crashes: &driven.crashes,
        workload: (driven.window.start, driven.window.end),
        f: s.f,
        final_reads_from: driven.final_reads_from,
        bound: driven.timeouts.bound(s.stall),
    }
    .oracles();
    let oracles = with_watched_violation(oracles, driven.first_violation.as_ref());
    let verdict = worst(oracles.iter().map(|o| o.verdict));
    // Only a violation the oracles confirm is reported (the watch's stall rule sees
    // the faults in force more coarsely than the availability oracle).
    let confirmed = |v: &&results::record::FirstViolation| {
        oracles
            .iter()
            .any(|o| o.name == v.oracle && o.verdict == Verdict::Invalid)
    };
    record.first_violation = (verdict == Verdict::Invalid)
        .then(|| {
            driven
                .first_violation
                .as_ref()
                .filter(confirmed)
                .cloned()
                .or_else(|| record::dated_violation(&oracles, &check, driven))
        })
        .flatten();
    record.verdict = Some(verdict);
    record.oracles = oracles;
    record.check = Some(check);
    if driven.interrupted && verdict != Verdict::Invalid {
        return Err(anyhow!(
            "the run was interrupted (the partial history is {verdict:?})"
        ));
    }
    Ok(verdict.into())
}

/// A safety violation the online watch saw (agreement, exactly-once: facts from the
/// replicas' logs) fails its oracle even if the logs fetched at the end no longer show
/// it (a replica restarted and truncated its log, or did not answer). A stall the watch
/// saw is left to the availability oracle, which knows which replicas each fault
/// touched.
fn with_watched_violation(
    mut oracles: Vec<checker::oracles::OracleResult>,
    seen: Option<&results::record::FirstViolation>,
) -> Vec<checker::oracles::OracleResult> {
    let Some(seen) = seen.filter(|v| v.oracle == "agreement" || v.oracle == "exactly-once") else {
        return oracles;
    };
    if let Some(o) = oracles.iter_mut().find(|o| o.name == seen.oracle) {
        if o.verdict != Verdict::Invalid {
            o.verdict = Verdict::Invalid;
            o.summary = format!("seen by the online watch; {}", o.summary);
            o.evidence.insert(
                0,
                format!("at {:.1} s (online watch): {}", seen.at_s, seen.evidence),
            );
        }
    }
    oracles
}

/// Writes `results.json` and the report, and prints the summary and where they are.
fn conclude(run_dir: &Path, record: &RunRecord) {
    if let Err(e) = write_json(&run_dir.join(RESULTS_FILE), record) {
        eprintln!("harness: error: {e}");
    }
    let report = match results::write_artifacts(run_dir) {
        Ok(_) => Some(run_dir.join(results::REPORT)),
        Err(e) => {
            eprintln!("harness: error: cannot write the report: {e}");
            None
        }
    };
    if record.verdict.is_some() {
        println!("{}", record.summary());
    }
    println!("results: {}", run_dir.display());
    if let Some(report) = report {
        println!("report: {}", report.display());
    }
    if record.verdict == Some(Verdict::Invalid) {
        println!("reproduce: {}", record.reproduce);
    }
}
