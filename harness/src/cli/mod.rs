//! The command line, declared with clap: the commands and their arguments.
//! `harness run`'s arguments are in [`run`] (the settings themselves are
//! [`crate::config::RunSettings`]).

mod explore;
mod run;

pub use explore::ExploreArgs;
pub use run::RunArgs;

use crate::config::suite::Shard;
use clap::{Args, CommandFactory, FromArgMatches, Parser, Subcommand};
use std::ffi::OsString;
use std::path::PathBuf;

/// A Jepsen-style fault-injection harness for a PBFT key-value store.
#[derive(Debug, Parser)]
#[command(name = "harness", version, about, propagate_version = true)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The harness's commands.
#[derive(Debug, Subcommand)]
pub enum Command {
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
    /// Run one test: start a PBFT cluster, drive clients against it, record and check the
    /// history.
    ///
    /// The run goes to STORE/NAME/TIMESTAMP/ (test.json, history.jsonl, results.json,
    /// replicas/*/replica.log; STORE/latest points to it). Every flag can also be set in
    /// a TOML file (--config), with the same names in snake_case (e.g. `time_limit = 30`);
    /// flags override the file. Exit status: 0 valid, 1 invalid, 2 unknown, 254 bad
    /// arguments, 255 the run itself broke.
    Run(Box<RunArgs>),
    /// Re-check a stored run: reads DIR/test.json and DIR/history.jsonl, rewrites the
    /// verdict in DIR/results.json and exits by it (0 valid, 1 invalid, 2 unknown).
    Analyze(AnalyzeArgs),
    /// Run a suite: a matrix of runs from a TOML file (nightly CI).
    ///
    /// Each run goes to STORE/suites/NAME/TIMESTAMP/<run>/, with summary.json,
    /// summary.txt and junit.xml beside them. Exit status: 0 every run valid, 1 a run
    /// invalid, 255 a run broke, 2 a run unknown, 254 a bad suite file or arguments.
    Suite(SuiteArgs),
    /// Prove the harness finds bugs: run each seeded PBFT bug's scenario against
    /// replicas (or clients) with the bug switched on, and the same scenarios against
    /// the correct build. Needs a harness built with `--features seeded-bugs`.
    ///
    /// Prints a table (bug, runs detected, median seconds to detection, the check that
    /// caught it). Results go to STORE/suites/selftest/TIMESTAMP/. Exit status: 0 every
    /// bug caught in every run and the correct build never flagged, 1 otherwise, 254
    /// bad arguments or a build without the bugs.
    Selftest(SelftestArgs),
    /// Search for failing fault schedules in the deterministic simulator, guided by
    /// protocol coverage; shrink each failure and store it with a replay file.
    ///
    /// Each failure goes to STORE/explore/TIMESTAMP/failure-N/ (schedule.toml, replay.json,
    /// results.json, history.jsonl; `harness serve` lists it) with the commands that
    /// replay it in the simulator and run it against real processes. `--replay FILE`
    /// re-runs a stored failure. Exit status: 0 no violation, 1 a violation (or the
    /// replayed case is invalid), 2 unknown, 254 bad arguments or input, 255 broken.
    Explore(Box<ExploreArgs>),
    /// Compare a run (or suite) with a baseline run (or suite) and fail on a regression.
    ///
    /// Compares latency percentiles (overall, during faults, without), throughput,
    /// recovery times and view changes against thresholds and prints what moved. Exit
    /// status: 0 no regression, 1 a regression, 254 a missing or foreign directory.
    Compare(CompareArgs),
    /// Browse the run store in a web browser: every run, its report and files, and a
    /// run directory as .tar.gz. Exit status 254 for a missing or foreign store.
    Serve(ServeArgs),
    /// Rebuild a stored run's plots, report.html and timeline.html from its files
    /// (test.json, history.jsonl, results.json, proxy.json). Exit status: 0 written,
    /// 254 not a run directory, 255 the files could not be written.
    Report(ReportArgs),
    /// Run one replica process (what `harness run` starts; not for direct use).
    #[command(hide = true)]
    Replica(ReplicaArgs),
}

/// Arguments of `harness check`.
#[derive(Debug, Args)]
pub struct CheckArgs {
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
    /// What a read that completed with nil means: `any` (the client did not learn the
    /// value; Knossos's register, cas-register and multi-register models) or `value` (the
    /// register was empty; Porcupine's etcd model and this harness's own histories)
    /// [default: any for EDN input with those three models, else value].
    #[arg(long, value_name = "any|value", value_parser = |s: &str| s.parse::<checker::NilRead>())]
    pub(crate) nil_read: Option<checker::NilRead>,
    /// The values are jepsen.independent [key value] tuples (e.g. `:value [3 [1 2]]`):
    /// split them by key and check each key on its own with the model.
    #[arg(long, conflicts_with = "no_partition")]
    pub(crate) independent: bool,
}

/// Arguments of `harness bench-check`.
#[derive(Debug, Args)]
pub struct BenchCheckArgs {
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

/// Arguments of `harness analyze`.
#[derive(Debug, Args)]
pub struct AnalyzeArgs {
    /// A run directory (e.g. store/latest).
    pub(crate) dir: PathBuf,
    /// Seconds the checker may take before answering unknown (0: no limit).
    #[arg(long, value_name = "SECONDS", default_value_t = 300)]
    pub(crate) check_timeout: u64,
    /// Print the result only; leave results.json as it is.
    #[arg(long)]
    pub(crate) dry_run: bool,
}

/// Arguments of `harness suite`.
#[derive(Debug, Args)]
pub struct SuiteArgs {
    /// The suite file (TOML: name, repetitions, seed, [defaults], [matrix], [[case]]).
    pub(crate) file: PathBuf,
    /// Directory of the run store.
    #[arg(long, value_name = "DIR", default_value = "store")]
    pub(crate) store: PathBuf,
    /// Also write the JUnit XML (one testcase per run) to FILE.
    #[arg(long, value_name = "FILE")]
    pub(crate) junit: Option<PathBuf>,
    /// Run only shard I of N (1-based; cells are dealt round robin), e.g. 2/4.
    #[arg(long, value_name = "I/N", value_parser = |s: &str| s.parse::<Shard>())]
    pub(crate) shard: Option<Shard>,
    /// List the runs (after sharding) and their settings, and run nothing.
    #[arg(long)]
    pub(crate) list: bool,
}

/// Arguments of `harness selftest`.
#[derive(Debug, Args)]
pub struct SelftestArgs {
    /// The bugs to test: `all`, or names separated by commas (commit-quorum-2f,
    /// prepare-quorum, no-digest-check, accept-second-preprepare, drop-prepared-certs,
    /// execute-on-prepared, no-client-dedupe, lost-on-restart, no-pre-prepare,
    /// diverge-state, accept-first-reply).
    #[arg(long, value_name = "LIST", default_value = "all")]
    pub(crate) bugs: String,
    /// Runs per bug, and per scenario against the correct build.
    #[arg(long, value_name = "K", default_value_t = 3)]
    pub(crate) runs: u32,
    /// Longest workload of one run, seconds (a bug's run ends at its first violation).
    #[arg(long, value_name = "SECONDS", default_value_t = 60)]
    pub(crate) time_limit: u64,
    /// Base seed (repetition r uses seed + r) [default: from the clock].
    #[arg(long)]
    pub(crate) seed: Option<u64>,
    /// Skip the runs against the correct build.
    #[arg(long, conflicts_with = "skip_bugs")]
    pub(crate) skip_correct: bool,
    /// Run only the correct build, on the scenarios of the bugs chosen (to split a
    /// long self-test in two).
    #[arg(long)]
    pub(crate) skip_bugs: bool,
    /// Directory of the run store.
    #[arg(long, value_name = "DIR", default_value = "store")]
    pub(crate) store: PathBuf,
}

/// Arguments of `harness compare`.
#[derive(Debug, Args)]
pub struct CompareArgs {
    /// The baseline: a run directory or a suite directory.
    pub(crate) base: PathBuf,
    /// The run (or suite) to judge, of the same kind as BASE.
    pub(crate) run: PathBuf,
    /// Largest allowed growth of p50 latency [default: 50%].
    #[arg(long, value_name = "PCT")]
    pub(crate) max_p50_regression: Option<String>,
    /// Largest allowed growth of p99 latency, overall, during faults and without
    /// [default: 20%].
    #[arg(long, value_name = "PCT")]
    pub(crate) max_p99_regression: Option<String>,
    /// Largest allowed growth of p99.9 latency [default: 50%].
    #[arg(long, value_name = "PCT")]
    pub(crate) max_p999_regression: Option<String>,
    /// Largest allowed drop of throughput [default: 20%].
    #[arg(long, value_name = "PCT")]
    pub(crate) max_throughput_drop: Option<String>,
    /// Largest allowed growth of the slowest recovery after a fault [default: 50%].
    #[arg(long, value_name = "PCT")]
    pub(crate) max_recovery_regression: Option<String>,
    /// Largest allowed growth of the view changes [default: 100%].
    #[arg(long, value_name = "PCT")]
    pub(crate) max_view_change_increase: Option<String>,
    /// Latency moves smaller than this never count [default: 1].
    #[arg(long, value_name = "MS")]
    pub(crate) min_latency_delta_ms: Option<f64>,
    /// Recovery moves smaller than this never count [default: 500].
    #[arg(long, value_name = "MS")]
    pub(crate) min_recovery_delta_ms: Option<f64>,
}

/// Arguments of `harness serve`.
#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Directory of the run store.
    #[arg(long, value_name = "DIR", default_value = "store")]
    pub(crate) store: PathBuf,
    /// Port to listen on (0: any free port; the address is printed).
    #[arg(long, short = 'p', default_value_t = 8080)]
    pub(crate) port: u16,
    /// Address to bind; the default keeps the store on this machine.
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1")]
    pub(crate) bind: String,
}

/// Arguments of `harness report`.
#[derive(Debug, Args)]
pub struct ReportArgs {
    /// A run directory (e.g. store/latest).
    pub(crate) dir: PathBuf,
}

/// Arguments of the hidden `harness replica`: guard flags, then `--` and the replica's own
/// flags (those of `replica --help`).
#[derive(Debug, Args)]
pub struct ReplicaArgs {
    /// Exit at once unless this process's parent is PID (closes the race between fork and
    /// arming the parent-death signal).
    #[arg(long, value_name = "PID")]
    pub(crate) parent_pid: Option<i32>,
    /// Execute this replica binary (keeping the parent-death signal) instead of running
    /// the replica in this process.
    #[arg(long, value_name = "PATH")]
    pub(crate) exec: Option<PathBuf>,
    /// The replica's flags.
    #[arg(last = true, allow_hyphen_values = true)]
    pub(crate) args: Vec<String>,
}

/// Parses the process's command line.
pub fn parse() -> Result<Cli, clap::Error> {
    parse_from(std::env::args_os())
}

/// Parses `args` (the first being the program name). `harness run` also learns which
/// settings were given on the command line, so that only those override its
/// `--config` file.
pub fn parse_from<I, T>(args: I) -> Result<Cli, clap::Error>
where
    I: IntoIterator<Item = T>,
    T: Into<OsString> + Clone,
{
    let matches = Cli::command().try_get_matches_from(args)?;
    let mut cli = Cli::from_arg_matches(&matches)?;
    if let (Command::Run(run), Some(("run", sub))) = (&mut cli.command, matches.subcommand()) {
        run.note_explicit(sub);
    }
    Ok(cli)
}
