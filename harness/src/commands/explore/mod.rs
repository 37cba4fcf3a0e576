//! `harness explore`: a coverage-guided search for failing fault schedules in the
//! deterministic simulator ([`simulation::explore`]), on `--jobs` threads, for
//! `--budget`. The first failure of each oracle is shrunk ([`simulation::shrink`])
//! and stored ([`failure`]); `--replay` runs a stored one again ([`replay`]).
//!
//! - [`failure`]: a failure's directory in the store.
//! - [`progress`]: the display on stderr.
//! - [`replay`]: `--replay FILE`.

mod failure;
mod progress;
mod replay;

use crate::cli::ExploreArgs;
use crate::exit::{Exit, ExitContext, Failure};
use anyhow::anyhow;
use checker::Verdict;
use progress::{Progress, Status};
use replica::bugs::Bug;
use simulation::explore::{ExploreSettings, Explorer};
use simulation::shrink::{shrink, still_fails, ShrinkLimits};
use simulation::simulate;
use std::collections::BTreeSet;
use std::time::Duration;

/// Runs `harness explore`.
pub(crate) fn run(args: &ExploreArgs) -> Result<Exit, Failure> {
    if let Some(file) = &args.replay {
        return replay::run(file);
    }
    let bugs = parse_bugs(&args.bug).or_exit(Exit::BadInput)?;
    let seed = args.seed.unwrap_or_else(|| {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(1, |d| d.as_secs())
    });
    let settings = ExploreSettings {
        seed,
        f: args.f as usize,
        bugs,
        time_limit_s: args.time_limit,
        feedback: !args.no_feedback,
        jobs: args.jobs as usize,
    };
    eprintln!(
        "harness explore: seed {seed}, {} job(s), {} s per schedule, budget {} s{}, {}{}",
        settings.jobs,
        settings.time_limit_s,
        args.budget.as_secs(),
        args.schedules
            .map_or(String::new(), |n| format!(" or {n} schedules")),
        if settings.feedback {
            "coverage feedback"
        } else {
            "no feedback (pure random)"
        },
        if settings.bugs.is_empty() {
            String::new()
        } else {
            let names: Vec<&str> = settings.bugs.iter().map(|b| b.name()).collect();
            format!(", bugs {}", names.join(","))
        }
    );
    search(args, settings)
}

/// Parses the `--bug` names; refuses them in a build without the planted bugs.
fn parse_bugs(names: &[String]) -> anyhow::Result<Vec<Bug>> {
    let mut bugs = Vec::new();
    for name in names.iter().map(|n| n.trim()).filter(|n| !n.is_empty()) {
        let bug = Bug::parse(name).map_err(|e| anyhow!(e))?;
        if !bugs.contains(&bug) {
            bugs.push(bug);
        }
    }
    if !bugs.is_empty() && !replica::bugs::ClientBug::available() {
        return Err(anyhow!(
            "--bug needs the planted bugs, which this harness was built without: \
             cargo run --release -p harness --features seeded-bugs -- explore --bug ..."
        ));
    }
    Ok(bugs)
}

/// What the search came to.
#[derive(Debug, Default)]
struct Tally {
    violations: u64,
    unknown: u64,
    /// Oracles that answered unknown (the first case of each is shown).
    unknown_oracles: BTreeSet<String>,
    broken: u64,
    first_violation: Option<(u64, Duration)>,
    shrunk: usize,
}

/// The search loop: batches until the budget or the schedule count is spent; the
/// first failure of each oracle is shrunk and stored.
fn search(args: &ExploreArgs, settings: ExploreSettings) -> Result<Exit, Failure> {
    let search_seed = settings.seed;
    let mut explorer = Explorer::new(settings);
    let mut progress = Progress::start(args.progress, args.budget);
    let mut session = failure::Session::new(&args.out);
    let mut tally = Tally::default();
    let mut shrunk_oracles: BTreeSet<String> = BTreeSet::new();
    let mut search_time = Duration::ZERO;
    loop {
        if progress.elapsed() >= args.budget
            || args.schedules.is_some_and(|n| explorer.runs() >= n)
            || (args.stop_on_violation && tally.shrunk > 0)
        {
            break;
        }
        let batch_start = progress.elapsed();
        let outcomes = explorer.run_batch();
        search_time += progress.elapsed() - batch_start;
        for outcome in outcomes {
            let report = match outcome.report {
                Ok(r) => r,
                Err(e) => {
                    tally.broken += 1;
                    progress.note(&format!(
                        "harness explore: case {} could not run: {e}",
                        outcome.index
                    ));
                    continue;
                }
            };
            match report.verdict {
                Verdict::Valid => continue,
                Verdict::Unknown => {
                    tally.unknown += 1;
                    for o in report
                        .oracles
                        .iter()
                        .filter(|o| o.verdict == Verdict::Unknown)
                    {
                        if tally.unknown_oracles.insert(o.name.clone()) {
                            let stored = session
                                .store_unknown(
                                    &outcome.case,
                                    outcome.index,
                                    search_seed,
                                    &report,
                                    &o.name,
                                )
                                .or_exit(Exit::Broken)?;
                            progress.note(&format!(
                                "harness explore: case {} (seed {}): {} unknown: {} {}\n\x20 replay: {}",
                                outcome.index,
                                outcome.case.seed,
                                o.name,
                                o.summary,
                                o.evidence.first().map_or("", |e| &e[..e.len().min(300)]),
                                stored.replay
                            ));
                        }
                    }
                    continue;
                }
                Verdict::Invalid => {}
            }
            tally.violations += 1;
            tally
                .first_violation
                .get_or_insert((outcome.index, progress.elapsed()));
            let Some(oracle) = report
                .oracles
                .iter()
                .find(|o| o.verdict == Verdict::Invalid)
                .map(|o| o.name.clone())
            else {
                continue;
            };
            if !shrunk_oracles.insert(oracle.clone()) {
                continue;
            }
            progress.note(&format!(
                "harness explore: case {} (seed {}): {oracle} fails: {}",
                outcome.index,
                outcome.case.seed,
                report.summary()
            ));
            let limits = ShrinkLimits {
                max_runs: args.shrink_runs,
            };
            let shrunk = shrink(&outcome.case, limits, |c| still_fails(c, &oracle));
            let config = shrunk
                .case
                .config()
                .map_err(anyhow::Error::from)
                .or_exit(Exit::Broken)?;
            let final_report = simulate(config)
                .map_err(anyhow::Error::from)
                .or_exit(Exit::Broken)?;
            let stored = session
                .store(
                    &outcome.case,
                    outcome.index,
                    search_seed,
                    &shrunk,
                    &final_report,
                    &oracle,
                )
                .or_exit(Exit::Broken)?;
            tally.shrunk += 1;
            progress.note(&format!(
                "harness explore: shrunk in {} runs to {} window(s), {} s, {} client(s): {}\n\
                 \x20 replay:        {}\n\x20 real processes: {}",
                shrunk.runs,
                shrunk.case.schedule.windows.len(),
                shrunk.case.time_limit_s,
                shrunk.case.clients,
                stored.dir.display(),
                stored.replay,
                stored.real_run
            ));
            if args.stop_on_violation {
                break;
            }
        }
        progress.update(Status {
            runs: explorer.runs(),
            points: explorer.coverage().len(),
            corpus: explorer.corpus_len(),
            violations: tally.violations,
        });
    }
    progress.finish();
    report_end(&explorer, &tally, search_time, session.dir());
    Ok(if tally.violations > 0 {
        Exit::Invalid
    } else if tally.broken > 0 {
        Exit::Broken
    } else if tally.unknown > 0 {
        Exit::Unknown
    } else {
        Exit::Valid
    })
}

/// The coverage map on stdout, the figures on stderr.
fn report_end(
    explorer: &Explorer,
    tally: &Tally,
    search_time: Duration,
    dir: Option<&std::path::Path>,
) {
    println!("coverage: {} points", explorer.coverage().len());
    for (point, first) in explorer.coverage() {
        println!("  {point:<48} first at schedule {first}");
    }
    let runs = explorer.runs();
    let secs = search_time.as_secs_f64().max(1e-3);
    eprintln!(
        "harness explore: {runs} schedules in {secs:.1} s of search ({:.0} per minute); \
         coverage {} points; corpus {}; violations {}{}; unknown {} {:?}; could not run {}",
        runs as f64 / secs * 60.0,
        explorer.coverage().len(),
        explorer.corpus_len(),
        tally.violations,
        tally
            .first_violation
            .map_or(String::new(), |(i, at)| format!(
                " (first at schedule {i}, after {:.1} s)",
                at.as_secs_f64()
            )),
        tally.unknown,
        tally.unknown_oracles,
        tally.broken
    );
    if let Some(dir) = dir {
        eprintln!(
            "harness explore: {} shrunk failure(s) and {} unknown case(s) (the first of \
             each oracle, not shrunk) stored in {}",
            tally.shrunk,
            tally.unknown_oracles.len(),
            dir.display()
        );
    }
}
