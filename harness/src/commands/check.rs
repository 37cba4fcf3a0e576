//! `harness check FILE`: is this history linearizable?

use super::history_file::read_calls;
use crate::cli::CheckArgs;
use crate::exit::{Exit, ExitContext, Failure};
use anyhow::Context;
use checker::diagnosis::{suspect, Suspect};
use checker::import::{detect_file, HistoryFormat};
use checker::{check_kind, CheckOptions, CheckResult, ModelKind, NilRead, Val};
use serde::Serialize;
use std::io::IsTerminal;
use std::time::Duration;

/// What `harness check` prints on stdout: the checker's result and, when the history
/// failed at its first operations, a hint at the option that may not fit it.
#[derive(Serialize)]
struct Report<'a> {
    #[serde(flatten)]
    result: &'a CheckResult,
    #[serde(skip_serializing_if = "Option::is_none")]
    hint: Option<&'a str>,
}

/// Runs `harness check`.
pub(crate) fn run(args: &CheckArgs) -> Result<Exit, Failure> {
    let format: HistoryFormat = match args.format.as_deref() {
        Some(name) => name.parse().context("bad --format"),
        None => detect_file(&args.file)
            .with_context(|| format!("cannot load history {}", args.file.display())),
    }
    .or_exit(Exit::BadInput)?;
    let calls = read_calls(
        &args.file,
        Some(format.name()),
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
    let nil_read = args
        .nil_read
        .unwrap_or_else(|| NilRead::default_for(format, kind));
    let options = CheckOptions {
        partition: !args.no_partition,
        timeout: (args.timeout > 0.0).then(|| Duration::from_secs_f64(args.timeout)),
        memory_limit: (args.memory_limit_mb > 0).then_some(args.memory_limit_mb << 20),
        threads: args.threads,
        witness: args.witness,
        locality_pruning: !args.plain_search,
        nil_read,
        independent: args.independent,
    };
    let initial = Val::parse_cli(&args.initial);
    let result = check_kind(kind, Some(initial.clone()), &calls, &options)
        .context("the history does not fit the model")
        .or_exit(Exit::BadInput)?;
    let hint = suspect(&result, &calls, &initial).map(|s| render_hint(&s, &result));
    let report = Report {
        result: &result,
        hint: hint.as_deref(),
    };
    let text = serde_json::to_string_pretty(&report)
        .context("cannot render the result")
        .or_exit(Exit::Broken)?;
    println!("{text}");
    if std::io::stderr().is_terminal() {
        let nil_reads = match (result.nil_read, args.nil_read) {
            (None, _) => String::new(),
            (Some(n), Some(_)) => format!(", nil reads: {n}"),
            (Some(n), None) => format!(", nil reads: {n} (default for {format})"),
        };
        eprintln!(
            "{}: {:?} ({} model{nil_reads}{}, {} ops, {} key(s), {:.1} ms)",
            args.file.display(),
            result.verdict,
            result.model,
            if result.independent {
                ", independent keys"
            } else {
                ""
            },
            result.ops,
            result.keys,
            result.elapsed_ms
        );
    }
    // The hint goes to stderr even when it is not a terminal: it is the one line a
    // script's log should show about a history checked with the wrong options.
    if let Some(hint) = &hint {
        eprintln!("hint: {hint}");
    }
    Ok(result.verdict.into())
}

/// A value as it would be typed after `--initial` in a POSIX shell.
fn cli_value(v: &Val) -> String {
    let json = v.to_json().to_string();
    if json
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || "-.".contains(c))
    {
        json
    } else {
        format!("'{}'", json.replace('\'', r"'\''"))
    }
}

/// Words a user can act on: what failed first and which option to try.
fn render_hint(suspect: &Suspect, result: &CheckResult) -> String {
    let key = result
        .counterexample
        .as_ref()
        .and_then(|c| c.key.as_deref())
        .map_or(String::new(), |k| format!(" of key {k:?}"));
    match suspect {
        Suspect::NilRead {
            initial,
            untouched: true,
            ..
        } => format!(
            "the first read{key} returned nil from an initial value {initial}: is this a \
             Knossos history? try --nil-read any (or --initial nil if the register starts empty)"
        ),
        Suspect::NilRead { state, .. } => format!(
            "a read{key} among the first operations returned nil from a register holding \
             {state}: is this a Knossos history? try --nil-read any"
        ),
        Suspect::Independent => "every operation's value, reads' included, is a pair: is \
             this a jepsen.independent history of [key value] tuples? try --independent"
            .to_string(),
        Suspect::Initial { initial, seen, f } => {
            let verb = if f == "cas" { "expected" } else { "returned" };
            format!(
                "the first {f}{key} {verb} {seen} while the initial value {initial} was still \
                 in place: is the initial value right? try --initial {}",
                cli_value(seen)
            )
        }
    }
}
