//! `harness compare BASE RUN`: compares a run (or suite) with a baseline and fails on a
//! regression: exit 0 nothing regressed, 1 something did (the table says what), 254 a
//! missing or foreign directory or a bad threshold.

use crate::cli::CompareArgs;
use crate::exit::{Exit, ExitContext, Failure};
use ::results::compare::{compare, parse_percent, Thresholds};
use anyhow::Context;

/// Runs `harness compare`.
pub(crate) fn run(args: &CompareArgs) -> Result<Exit, Failure> {
    let t = thresholds(args)
        .context("bad threshold")
        .or_exit(Exit::BadInput)?;
    let outcome = compare(&args.base, &args.run, &t)
        .map_err(anyhow::Error::new)
        .context("cannot compare")
        .or_exit(Exit::BadInput)?;
    print!("{}", outcome.table());
    Ok(if outcome.regressions() > 0 {
        Exit::Invalid
    } else {
        Exit::Valid
    })
}

fn thresholds(args: &CompareArgs) -> Result<Thresholds, ::results::Error> {
    let mut t = Thresholds::default();
    let set = |field: &mut f64, flag: &Option<String>| -> Result<(), ::results::Error> {
        if let Some(text) = flag {
            *field = parse_percent(text)?;
        }
        Ok(())
    };
    set(&mut t.max_p50_regression, &args.max_p50_regression)?;
    set(&mut t.max_p99_regression, &args.max_p99_regression)?;
    set(&mut t.max_p999_regression, &args.max_p999_regression)?;
    set(&mut t.max_throughput_drop, &args.max_throughput_drop)?;
    set(
        &mut t.max_recovery_regression,
        &args.max_recovery_regression,
    )?;
    set(
        &mut t.max_view_change_increase,
        &args.max_view_change_increase,
    )?;
    if let Some(ms) = args.min_latency_delta_ms {
        t.min_latency_delta_ms = ms;
    }
    if let Some(ms) = args.min_recovery_delta_ms {
        t.min_recovery_delta_ms = ms;
    }
    Ok(t)
}
