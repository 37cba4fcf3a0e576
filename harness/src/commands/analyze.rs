//! `harness analyze DIR`: re-check a stored run's history for linearizability. The
//! other oracles' verdicts stored in results.json (agreement, crashes, liveness, ...)
//! stand; the run's verdict becomes the worst of them and the new check, and unknown
//! when none is stored (results.json missing, or from a run that broke before it was
//! judged): linearizability alone does not make a run valid. The run's report and
//! timeline are rebuilt to match.

use crate::cli::AnalyzeArgs;
use crate::exit::{Exit, ExitContext, Failure};
use crate::run::history::{check_history, read_history};
use anyhow::Context;
use checker::Verdict;
use results::record::{read_optional, read_record, RunRecord, TestRecord, RESULTS_FILE, TEST_FILE};
use results::store::write_json;
use serde::Deserialize;
use workloads::WorkloadKind;

/// The one setting of a stored run analysis needs (read this narrowly, so runs stored
/// by older harnesses, whose settings differ, still load).
#[derive(Debug, Deserialize)]
struct StoredWorkload {
    workload: WorkloadKind,
}

/// Runs `harness analyze`.
pub(crate) fn run(args: &AnalyzeArgs) -> Result<Exit, Failure> {
    let test_path = args.dir.join(TEST_FILE);
    let test: TestRecord<Option<StoredWorkload>> = read_record(&test_path)
        .with_context(|| format!("{} is not a harness run directory", args.dir.display()))
        .or_exit(Exit::BadInput)?;
    let workload = test
        .config
        .with_context(|| format!("{} names no workload", test_path.display()))
        .or_exit(Exit::BadInput)?
        .workload;
    let ops = read_history(&args.dir.join("history.jsonl")).or_exit(Exit::BadInput)?;
    let check = check_history(ops, workload, args.check_timeout).or_exit(Exit::BadInput)?;
    let results_path = args.dir.join(RESULTS_FILE);
    let mut record: RunRecord = read_optional(&results_path)
        .context("cannot read the stored results")
        .or_exit(Exit::BadInput)?
        .unwrap_or_default();
    let mut verdicts = vec![check.verdict];
    if !record.oracles.iter().any(|o| o.name != "linearizability") {
        // Nothing else was judged: the replicas' side of the run is unknown.
        verdicts.push(Verdict::Unknown);
    }
    for o in &mut record.oracles {
        if o.name == "linearizability" {
            o.verdict = check.verdict;
        } else {
            verdicts.push(o.verdict);
        }
    }
    let verdict = checker::oracles::worst(verdicts);
    println!(
        "{}: {} workload, {:?} (linearizability {:?}: {} model, {} ops, {} key(s), {:.1} ms; \
         other oracles as stored)",
        args.dir.display(),
        workload,
        verdict,
        check.verdict,
        check.model,
        check.ops,
        check.keys,
        check.elapsed_ms
    );
    if !args.dry_run {
        record.verdict = Some(verdict);
        record.check = Some(check);
        record.analyzed_at = Some(chrono::Local::now().to_rfc3339());
        write_json(&results_path, &record)
            .context("cannot write the results")
            .or_exit(Exit::Broken)?;
        // The pages show the new verdict (and its counterexample).
        if let Err(e) = results::write_artifacts(&args.dir) {
            eprintln!("harness: warning: cannot rebuild the report: {e}");
        }
    }
    Ok(verdict.into())
}
