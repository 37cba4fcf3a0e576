//! `harness check FILE`: is this history linearizable?

use super::load::read_calls;
use crate::cli::CheckArgs;
use crate::exit::{Exit, ExitContext, Failure};
use anyhow::Context;
use checker::{check_kind, CheckOptions, ModelKind, Val};
use std::io::IsTerminal;
use std::time::Duration;

/// Runs `harness check`.
pub(crate) fn run(args: &CheckArgs) -> Result<Exit, Failure> {
    let calls = read_calls(
        &args.file,
        args.format.as_deref(),
        args.fail_cas_did_not_happen,
    )
    .with_context(|| format!("cannot load history {}", args.file.display()))
    .or_exit(Exit::BadInput)?;
    let kind = match &args.model {
        Some(name) => name
            .parse::<ModelKind>()
            .map_err(anyhow::Error::from)
            .or_exit(Exit::BadInput)?,
        None if calls.iter().any(|c| c.key.is_some()) => ModelKind::Kv,
        None => ModelKind::CasRegister,
    };
    let options = CheckOptions {
        partition: !args.no_partition,
        timeout: (args.timeout > 0.0).then(|| Duration::from_secs_f64(args.timeout)),
        memory_limit: (args.memory_limit_mb > 0).then_some(args.memory_limit_mb << 20),
        threads: args.threads,
        witness: args.witness,
        locality_pruning: !args.plain_search,
        ..CheckOptions::default()
    };
    let result = check_kind(kind, Some(Val::parse_cli(&args.initial)), &calls, &options)
        .context("the history does not fit the model")
        .or_exit(Exit::BadInput)?;
    let json = serde_json::to_string_pretty(&result)
        .context("cannot render the result")
        .or_exit(Exit::Broken)?;
    println!("{json}");
    if std::io::stderr().is_terminal() {
        eprintln!(
            "{}: {:?} ({} model, {} ops, {} key(s), {:.1} ms)",
            args.file.display(),
            result.verdict,
            result.model,
            result.ops,
            result.keys,
            result.elapsed_ms
        );
    }
    Ok(result.verdict.into())
}
