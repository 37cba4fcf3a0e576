//! `harness analyze DIR`: re-check a stored run's history for linearizability. The
//! other oracles' verdicts stored in results.json (agreement, crashes, liveness, ...)
//! stand; the run's verdict becomes the worst of them and the new check. The run's
//! report and timeline are rebuilt to match.

use crate::cli::AnalyzeArgs;
use crate::exit::{Exit, ExitContext, Failure};
use crate::history_check::{check_history, read_history};
use crate::run_config::RunConfig;
use crate::store::write_json;
use anyhow::{anyhow, Context};
use checker::Verdict;
use serde::Deserialize;
use serde_json::{json, Value};

/// The part of `test.json` analysis needs.
#[derive(Debug, Deserialize)]
struct StoredTest {
    config: RunConfig,
}

/// Runs `harness analyze`.
pub(crate) fn run(args: &AnalyzeArgs) -> Result<Exit, Failure> {
    let test_path = args.dir.join("test.json");
    let text = std::fs::read_to_string(&test_path)
        .with_context(|| format!("cannot read {}", test_path.display()))
        .or_exit(Exit::BadInput)?;
    let test: StoredTest = serde_json::from_str(&text)
        .with_context(|| format!("{} is not a harness test.json", test_path.display()))
        .or_exit(Exit::BadInput)?;
    let workload = test.config.workload;
    let ops = read_history(&args.dir.join("history.jsonl")).or_exit(Exit::BadInput)?;
    let check = check_history(ops, workload, args.check_timeout).or_exit(Exit::BadInput)?;
    let results_path = args.dir.join("results.json");
    let mut results = match std::fs::read_to_string(&results_path) {
        Ok(text) => serde_json::from_str::<Value>(&text)
            .ok()
            .filter(Value::is_object)
            .ok_or_else(|| anyhow!("{} is not a JSON object", results_path.display()))
            .or_exit(Exit::BadInput)?,
        Err(_) => json!({}),
    };
    let mut verdicts = vec![check.verdict];
    if let Some(oracles) = results.get_mut("oracles").and_then(Value::as_array_mut) {
        for o in oracles.iter_mut() {
            if o["name"] == "linearizability" {
                o["verdict"] = json!(check.verdict);
            } else if let Ok(v) = serde_json::from_value::<Verdict>(o["verdict"].clone()) {
                verdicts.push(v);
            }
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
        results["verdict"] = json!(verdict);
        results["check"] = serde_json::to_value(&check)
            .context("cannot render the check result")
            .or_exit(Exit::Broken)?;
        results["analyzed_at"] = json!(chrono::Local::now().to_rfc3339());
        write_json(&results_path, &results).or_exit(Exit::Broken)?;
        // The pages show the new verdict (and its counterexample).
        if let Err(e) = ::results::write_artifacts(&args.dir) {
            eprintln!("harness: warning: cannot rebuild the report: {e}");
        }
    }
    Ok(verdict.into())
}
