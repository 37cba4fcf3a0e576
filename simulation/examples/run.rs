//! Runs one simulation under a small-scope random schedule and prints what happened:
//! the schedule, the nemesis's actions, each oracle's verdict and evidence, the trace
//! hash. With `--history FILE` it writes the history (JSON lines, as a real run).
//!
//! ```sh
//! cargo run -p simulation --features seeded-bugs --example run -- 7 [--bug no-digest-check] [--seconds 10] [--history h.jsonl]
//! ```

use replica::bugs::{Bug, Bugs};
use simulation::scope::small_scope;
use simulation::{simulate, SimConfig};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let seed: u64 = args.next().map_or(Ok(0), |s| s.parse())?;
    let mut config = SimConfig::new(seed);
    config.time_limit_ms = 10_000;
    let mut history = None;
    while let Some(flag) = args.next() {
        let value = args.next().ok_or(format!("{flag} needs a value"))?;
        match flag.as_str() {
            "--bug" => config.params.bugs = Bugs::NONE.with(Bug::parse(&value)?),
            "--seconds" => config.time_limit_ms = value.parse::<u64>()? * 1000,
            "--history" => history = Some(value),
            other => return Err(format!("unknown flag {other}").into()),
        }
    }
    config.schedule = small_scope(seed, config.f, config.time_limit_ms);
    for w in &config.schedule.windows {
        println!(
            "fault {:>6}-{:>6} ms: {}",
            w.start_ms,
            w.stop_ms,
            serde_json::to_string(&w.fault)?
        );
    }
    let report = simulate(config)?;
    for op in report.history.ops() {
        if op.process == checker::Process::Nemesis {
            println!(
                "{:>8.3} s nemesis {} {}",
                op.time as f64 / 1e9,
                op.f,
                op.value
            );
        }
    }
    for o in &report.oracles {
        println!("{}: {:?}: {}", o.name, o.verdict, o.summary);
        for e in o.evidence.iter().take(3) {
            println!("    {}", &e[..e.len().min(400)]);
        }
    }
    println!(
        "byzantine acted: {:?}; view changes {:?}; rejected {}; undecodable {}; skipped {:?}",
        report.byzantine, report.view_changes, report.rejected, report.undecodable, report.skipped
    );
    println!("{}", report.summary());
    if let Some(path) = history {
        std::fs::write(&path, report.history.to_jsonl())?;
    }
    Ok(())
}
