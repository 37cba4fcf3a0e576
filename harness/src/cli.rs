//! The command line, declared with clap.

use clap::{Args, Parser, Subcommand};
use std::path::PathBuf;

/// A Jepsen-style fault-injection harness for a PBFT key-value store.
#[derive(Debug, Parser)]
#[command(name = "harness", version, about, propagate_version = true)]
pub(crate) struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub(crate) command: Command,
}

/// The harness's commands.
#[derive(Debug, Subcommand)]
pub(crate) enum Command {
    /// Check a history file for linearizability.
    ///
    /// Prints the result as JSON on stdout (a one-line summary goes to stderr on a
    /// terminal). Exit status: 0 valid, 1 invalid, 2 unknown, 254 bad arguments or
    /// unreadable input.
    Check(CheckArgs),
    /// Benchmark the checker on a directory of histories with known verdicts.
    ///
    /// DIR holds a VERDICTS.tsv (file, model, expected, ops, peer time) as in shared/data.
    /// Prints per-file and total times; exits 1 if any verdict differs from the expected one.
    BenchCheck(BenchCheckArgs),
}

/// Arguments of `harness check`.
#[derive(Debug, Args)]
pub(crate) struct CheckArgs {
    /// The history file.
    pub(crate) file: PathBuf,
    /// The model: register, cas-register, kv, mutex, multi-register
    /// [default: kv if operations have keys, else cas-register].
    #[arg(long, short = 'm')]
    pub(crate) model: Option<String>,
    /// The file format: jsonl, jepsen-log, edn [default: from the extension and contents].
    #[arg(long)]
    pub(crate) format: Option<String>,
    /// The initial value of every register or key: `nil`, or a JSON value (e.g. 0, "\"\"").
    #[arg(long, default_value = "nil")]
    pub(crate) initial: String,
    /// Check the history as one state instead of splitting it by key.
    #[arg(long)]
    pub(crate) no_partition: bool,
    /// Give up with `unknown` after this many seconds (0: no limit).
    #[arg(long, default_value_t = 0.0)]
    pub(crate) timeout: f64,
    /// Give up with `unknown` once the search holds this many MiB (0: no limit).
    #[arg(long, default_value_t = 4096)]
    pub(crate) memory_limit_mb: usize,
    /// Worker threads for per-key checking (0: one per core).
    #[arg(long, default_value_t = 0)]
    pub(crate) threads: usize,
    /// With --no-partition, search the whole state without pruning by per-key
    /// feasibility (the plain search, as Porcupine and Knossos do it; for comparison).
    #[arg(long)]
    pub(crate) plain_search: bool,
    /// Include a witness linearization in the output of a valid history.
    #[arg(long)]
    pub(crate) witness: bool,
    /// In Jepsen logs, read `:fail :cas` as "did not happen" instead of "ran and returned
    /// false" (the etcd logs' meaning).
    #[arg(long)]
    pub(crate) fail_cas_did_not_happen: bool,
}

/// Arguments of `harness bench-check`.
#[derive(Debug, Args)]
pub(crate) struct BenchCheckArgs {
    /// Directory with VERDICTS.tsv and the histories it lists.
    #[arg(default_value = "../shared/data")]
    pub(crate) dir: PathBuf,
    /// Runs per file; the median is reported.
    #[arg(long, default_value_t = 5)]
    pub(crate) runs: usize,
    /// Only files whose path contains this text.
    #[arg(long)]
    pub(crate) only: Option<String>,
    /// Per-check time limit in seconds.
    #[arg(long, default_value_t = 120.0)]
    pub(crate) timeout: f64,
    /// Also check a generated kv history of OPS operations over KEYS keys (e.g. 1000000:1000).
    #[arg(long, value_name = "OPS:KEYS")]
    pub(crate) synthetic: Option<String>,
}
