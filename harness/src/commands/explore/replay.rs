//! `harness explore --replay FILE`: runs a stored failure's case in the simulator
//! again and says whether it came out the same (verdict, trace hash).

use super::failure::SCHEDULE_FILE;
use crate::exit::{Exit, ExitContext, Failure};
use anyhow::{anyhow, Context};
use simulation::{simulate, Case};
use std::path::Path;

/// Replays the case in `file` (a `replay.json`, or a failure directory holding one).
pub(super) fn run(file: &Path) -> Result<Exit, Failure> {
    let path = if file.is_dir() {
        file.join(super::failure::REPLAY_FILE)
    } else {
        file.to_path_buf()
    };
    let text = std::fs::read_to_string(&path)
        .with_context(|| format!("cannot read the replay file {}", path.display()))
        .or_exit(Exit::BadInput)?;
    let case = Case::from_json(&text)
        .with_context(|| format!("{} is not a replay file", path.display()))
        .or_exit(Exit::BadInput)?;
    if !case.bugs.is_empty() && !replica::bugs::ClientBug::available() {
        return Err(anyhow!(
            "the case switches planted bugs on ({}), which this harness was built without: \
             cargo run --release -p harness --features seeded-bugs -- explore --replay {}",
            case.bugs
                .iter()
                .map(|b| b.name())
                .collect::<Vec<_>>()
                .join(","),
            path.display()
        ))
        .or_exit(Exit::BadInput);
    }
    let recorded: serde_json::Value = serde_json::from_str(&text).unwrap_or_default();
    let config = case
        .config()
        .with_context(|| format!("the case in {} does not run", path.display()))
        .or_exit(Exit::BadInput)?;
    let report = simulate(config)
        .context("the simulation could not start")
        .or_exit(Exit::Broken)?;
    for o in &report.oracles {
        println!("{}: {:?}: {}", o.name, o.verdict, o.summary);
        if let Some(e) = o.evidence.first() {
            println!("    {}", &e[..e.len().min(300)]);
        }
    }
    println!("{}", report.summary());
    println!("trace hash {}", report.trace_hash);
    match recorded.get("trace_hash").and_then(|h| h.as_str()) {
        Some(h) if h == report.trace_hash => {
            println!("same trace hash as recorded: the failure replays exactly")
        }
        Some(h) => eprintln!(
            "harness explore: the trace hash differs from the recorded {h} \
             (another build of the replica or simulator?)"
        ),
        None => {}
    }
    if let Some(oracle) = recorded.get("oracle").and_then(|o| o.as_str()) {
        let now = report.oracle(oracle).map_or("absent".to_string(), |o| {
            format!("{:?}", o.verdict).to_lowercase()
        });
        let was = recorded
            .get("verdict")
            .and_then(|v| v.as_str())
            .unwrap_or("invalid");
        println!("recorded oracle {oracle}: {was} then, {now} now");
    }
    if let Some(real) = recorded.get("real_run").and_then(|r| r.as_str()) {
        let schedule = path.with_file_name(SCHEDULE_FILE);
        println!(
            "on real processes (schedule {}): {real}",
            schedule.display()
        );
    }
    Ok(report.verdict.into())
}
