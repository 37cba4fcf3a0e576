//! `harness suite FILE.toml`: run a matrix of scenarios (see [`crate::config::suite`]), one
//! `harness run` each (the harness re-executes itself, so each run is isolated in its
//! own process), into `STORE/suites/<name>/<timestamp>/`, which holds each run
//! directory, each cell's config and output, `summary.json`, `summary.txt` and, with
//! `--junit`, the JUnit XML.
//!
//! Exit status: 0 every run valid, 1 a run invalid, 255 a run broke, 2 a run unknown
//! (in that order of precedence), 254 a bad suite file or arguments.

use crate::cli::SuiteArgs;
use crate::config::suite::{Cell, Suite};
use crate::exit::{Exit, ExitContext, Failure};
use anyhow::{anyhow, Context, Result};
use results::junit::junit_xml;
use results::record::{read_optional, RunRecord, RESULTS_FILE};
use results::store::{create_run_dir, newest_run};
use results::suite_summary::{SuiteRun, SuiteSummary};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// Extra time a run may take beyond its own limits before the suite kills it.
const RUN_SLACK: Duration = Duration::from_secs(180);

/// Runs `harness suite`.
pub(crate) fn run(args: &SuiteArgs) -> Result<Exit, Failure> {
    let clock_seed = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let suite = Suite::load(&args.file, clock_seed).or_exit(Exit::BadInput)?;
    let cells: Vec<&Cell> = suite
        .cells
        .iter()
        .filter(|c| args.shard.is_none_or(|s| s.owns(c.index)))
        .collect();
    if args.list {
        for c in &cells {
            println!(
                "{}\t{}",
                c.name,
                toml::to_string(&c.table)
                    .unwrap_or_default()
                    .trim()
                    .replace('\n', ", ")
            );
        }
        return Ok(Exit::Valid);
    }
    if let Some(junit) = &args.junit {
        if let Some(parent) = junit.parent().filter(|p| !p.as_os_str().is_empty()) {
            if !parent.is_dir() {
                return Err(anyhow!(
                    "--junit {}: no directory {}",
                    junit.display(),
                    parent.display()
                ))
                .or_exit(Exit::BadInput);
            }
        }
    }
    let started = Instant::now();
    let started_at = chrono::Local::now().to_rfc3339();
    let suite_dir =
        create_run_dir(&args.store.join("suites"), &suite.name).or_exit(Exit::Broken)?;
    eprintln!(
        "harness suite {}: {} of {} run(s){}, seed {}\nharness suite: directory {}",
        suite.name,
        cells.len(),
        suite.cells.len(),
        args.shard
            .map_or(String::new(), |s| format!(" (shard {s})")),
        suite.seed,
        suite_dir.display()
    );
    let mut summary = SuiteSummary {
        name: suite.name.clone(),
        file: args.file.display().to_string(),
        shard: args.shard.map(|s| s.to_string()),
        seed: suite.seed,
        started_at,
        seconds: 0.0,
        runs: Vec::new(),
    };
    for (i, cell) in cells.iter().enumerate() {
        let run = run_cell(cell, &suite_dir).unwrap_or_else(|e| {
            SuiteRun::broken(
                &cell.name,
                format!("{e:#}"),
                cell.config.settings.reproduce_command(),
            )
        });
        eprintln!(
            "harness suite: [{}/{}] {}: {} (exit {}) in {:.1} s",
            i + 1,
            cells.len(),
            run.name,
            run.verdict,
            run.exit_code.map_or("-".into(), |c| c.to_string()),
            run.seconds
        );
        summary.runs.push(run);
        summary.seconds = started.elapsed().as_secs_f64();
        // Saved after every run, so a suite that dies still says what it did.
        summary
            .save(&suite_dir)
            .map_err(anyhow::Error::new)
            .or_exit(Exit::Broken)?;
    }
    let table = summary.table();
    std::fs::write(suite_dir.join("summary.txt"), &table)
        .context("cannot write summary.txt")
        .or_exit(Exit::Broken)?;
    let xml = junit_xml(&summary);
    std::fs::write(suite_dir.join("junit.xml"), &xml)
        .context("cannot write junit.xml")
        .or_exit(Exit::Broken)?;
    if let Some(junit) = &args.junit {
        std::fs::write(junit, &xml)
            .with_context(|| format!("cannot write {}", junit.display()))
            .or_exit(Exit::Broken)?;
    }
    print!("{table}");
    println!("suite: {}", suite_dir.display());
    let has = |v: &str| summary.runs.iter().any(|r| r.verdict == v);
    Ok(if has("invalid") {
        Exit::Invalid
    } else if has("broken") {
        Exit::Broken
    } else if has("unknown") || summary.runs.iter().any(|r| !r.passed()) {
        Exit::Unknown
    } else {
        Exit::Valid
    })
}

/// Runs one cell with `harness run --config` and reads back what it stored.
pub(super) fn run_cell(cell: &Cell, suite_dir: &Path) -> Result<SuiteRun> {
    let configs = suite_dir.join("configs");
    std::fs::create_dir_all(&configs).context("cannot create configs/")?;
    let mut table = cell.table.clone();
    table.insert(
        "store".into(),
        toml::Value::String(suite_dir.display().to_string()),
    );
    table.insert("progress".into(), toml::Value::String("none".into()));
    let config_path = configs.join(format!("{}.toml", cell.name));
    std::fs::write(&config_path, toml::to_string(&table)?)
        .with_context(|| format!("cannot write {}", config_path.display()))?;
    let log_path = configs.join(format!("{}.log", cell.name));
    let log = std::fs::File::create(&log_path)
        .with_context(|| format!("cannot create {}", log_path.display()))?;
    let exe = std::env::current_exe().context("cannot find the harness binary")?;
    let c = &cell.config.settings;
    let limit =
        Duration::from_secs(c.time_limit + c.recovery_time + c.ready_timeout + c.check_timeout)
            + RUN_SLACK;
    let started = Instant::now();
    let mut child = Command::new(exe)
        .arg("run")
        .arg("--config")
        .arg(&config_path)
        .stdin(Stdio::null())
        .stdout(log.try_clone()?)
        .stderr(log)
        .spawn()
        .context("cannot start harness run")?;
    let status = loop {
        if let Some(status) = child.try_wait()? {
            break Some(status);
        }
        if started.elapsed() > limit {
            // Its replicas follow it by their parent-death signal.
            let _ = child.kill();
            let _ = child.wait();
            break None;
        }
        std::thread::sleep(Duration::from_millis(200));
    };
    let seconds = started.elapsed().as_secs_f64();
    let run_dir = newest_run(&suite_dir.join(&cell.name));
    let record: Option<RunRecord> = run_dir
        .as_ref()
        .and_then(|d| read_optional(&d.join(RESULTS_FILE)).ok().flatten());
    let dir = run_dir.as_ref().and_then(|d| {
        d.strip_prefix(suite_dir)
            .ok()
            .map(|p| p.display().to_string())
    });
    let mut run = SuiteRun::from_record(
        &cell.name,
        dir,
        status.and_then(|s| s.code()),
        seconds,
        record.as_ref(),
        c.reproduce_command(),
    );
    if status.is_none() {
        run.error = Some(format!("killed after {} s", limit.as_secs()));
    }
    Ok(run)
}
