//! `harness bench-check DIR`: the checker's benchmark on histories with known verdicts.
//!
//! For each row of DIR/VERDICTS.tsv it loads the file once, checks it `--runs` times and
//! reports the median check time beside the peer checker's time from the table, and the
//! process's peak resident memory while checking it. Parsing is timed separately. Reads of
//! nil mean what they mean by default for the file's format and model (`nil` column).

use super::history_file::read_calls;
use crate::cli::BenchCheckArgs;
use crate::exit::{Exit, ExitContext, Failure};
use anyhow::{bail, Context, Result};
use checker::corpus::read_known_cases;
use checker::generate::{linearizable_history, GenSpec};
use checker::{check_kind, CheckOptions, ModelKind, Val, Verdict};
use std::time::{Duration, Instant};

/// Peak resident memory of this process since the last reset, in MiB (Linux only).
fn peak_rss_mib() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kb: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb / 1024.0)
}

fn reset_peak_rss() {
    let _ = std::fs::write("/proc/self/clear_refs", "5");
}

fn median(mut xs: Vec<f64>) -> f64 {
    xs.sort_by(f64::total_cmp);
    xs[xs.len() / 2]
}

/// Runs `harness bench-check`.
pub(crate) fn run(args: &BenchCheckArgs) -> Result<Exit, Failure> {
    bench(args).or_exit(Exit::BadInput)
}

fn bench(args: &BenchCheckArgs) -> Result<Exit> {
    let cases = read_known_cases(&args.dir)?;
    let timeout = Some(Duration::from_secs_f64(args.timeout));
    let runs = args.runs.max(1);
    let mut wrong = 0;
    let mut etcd_total = 0.0;
    let mut etcd_peer = 0.0;
    let mut etcd_files = 0;
    println!(
        "{:<28} {:<9} {:<5} {:<8} {:<8} {:>5} {:>11} {:>11} {:>8} {:>9}",
        "file",
        "mode",
        "nil",
        "expected",
        "got",
        "ops",
        "ours_ms",
        "peer_ms",
        "parse_ms",
        "peak_MiB"
    );
    for case in cases {
        if args.only.as_deref().is_some_and(|o| !case.file.contains(o)) {
            continue;
        }
        let path = args.dir.join(&case.file);
        let parse_started = Instant::now();
        let calls = read_calls(&path, Some(case.format), !case.fail_cas_returned_false)?;
        let parse_ms = parse_started.elapsed().as_secs_f64() * 1e3;
        let options = CheckOptions {
            partition: case.partition,
            timeout,
            nil_read: case.nil_read,
            ..CheckOptions::default()
        };
        reset_peak_rss();
        let mut times = Vec::with_capacity(runs);
        let mut verdict = Verdict::Unknown;
        for _ in 0..runs {
            let started = Instant::now();
            let result = check_kind(case.model, Some(case.initial.clone()), &calls, &options)?;
            times.push(started.elapsed().as_secs_f64() * 1e3);
            verdict = result.verdict;
            if verdict == Verdict::Unknown {
                break;
            }
        }
        let ours = median(times);
        if verdict != case.expected {
            wrong += 1;
        }
        if case.file.starts_with("etcd/") {
            etcd_total += ours;
            etcd_peer += case.peer_ms.unwrap_or(0.0);
            etcd_files += 1;
        }
        println!(
            "{:<28} {:<9} {:<5} {:<8} {:<8} {:>5} {:>11.3} {:>11} {:>8.2} {:>9.1}{}",
            case.file,
            if case.partition { "per-key" } else { "whole" },
            match case.model {
                // No reads: the meaning does not apply.
                ModelKind::Mutex => "-",
                _ => case.nil_read.name(),
            },
            format!("{:?}", case.expected).to_lowercase(),
            format!("{verdict:?}").to_lowercase(),
            calls.len(),
            ours,
            case.peer_ms.map_or("-".to_string(), |p| format!("{p:.3}")),
            parse_ms,
            peak_rss_mib().unwrap_or(0.0),
            if verdict != case.expected {
                "  WRONG"
            } else {
                ""
            }
        );
    }
    if etcd_files > 0 {
        println!(
            "etcd: {etcd_files} files, total {etcd_total:.1} ms (median per file, summed); peer total {etcd_peer:.1} ms"
        );
    }
    if let Some(spec) = &args.synthetic {
        synthetic(spec, timeout)?;
    }
    if wrong > 0 {
        println!("{wrong} wrong verdict(s)");
        return Ok(Exit::Invalid);
    }
    println!("all verdicts as expected");
    Ok(Exit::Valid)
}

fn synthetic(spec: &str, timeout: Option<Duration>) -> Result<()> {
    let (ops, keys) = spec
        .split_once(':')
        .and_then(|(o, k)| Some((o.parse::<usize>().ok()?, k.parse::<usize>().ok()?)))
        .context("--synthetic wants OPS:KEYS, e.g. 1000000:1000")?;
    let history = linearizable_history(&GenSpec {
        ops,
        processes: 50,
        keys,
        info_rate: 0.01,
        appends: false,
        seed: 42,
    });
    let path = std::env::temp_dir().join(format!(
        "bench-check-{}-{ops}-{keys}.jsonl",
        std::process::id()
    ));
    checker::history::write_jsonl(&path, &history)?;
    drop(history);
    reset_peak_rss();
    let started = Instant::now();
    let calls = read_calls(&path, Some("jsonl"), false);
    let _ = std::fs::remove_file(&path);
    let calls = calls?;
    let loaded = started.elapsed();
    let options = CheckOptions {
        timeout,
        ..CheckOptions::default()
    };
    let result = check_kind(ModelKind::Kv, Some(Val::Nil), &calls, &options)?;
    let total = started.elapsed();
    println!(
        "synthetic kv: {} ops, {} keys: {:?}; load {:.2} s, check {:.2} s, total {:.2} s; peak {:.0} MiB",
        calls.len(),
        result.keys,
        result.verdict,
        loaded.as_secs_f64(),
        (total - loaded).as_secs_f64(),
        total.as_secs_f64(),
        peak_rss_mib().unwrap_or(0.0)
    );
    if result.verdict != Verdict::Valid {
        bail!(
            "the generated history is linearizable by construction but was judged {:?}",
            result.verdict
        );
    }
    Ok(())
}
