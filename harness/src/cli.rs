//! The command line, declared with clap.

use crate::run_config::{Fsync, ProgressMode};
use clap::{Args, Parser, Subcommand};
use std::path::PathBuf;
use workloads::{KeyDist, WorkloadKind};

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

/// Arguments of `harness run`. Every setting is optional here so that a `--config` file
/// can supply it; the defaults shown are those of [`crate::run_config::RunConfig`].
#[derive(Debug, Default, Args)]
pub(crate) struct RunArgs {
    /// TOML file with any of the settings below (snake_case keys); flags override it
    /// [default: none].
    #[arg(long, value_name = "FILE")]
    pub(crate) config: Option<PathBuf>,
    /// Workload: register (one key, read/write/cas), kv (many keys, read/write/cas),
    /// append (list append and read) [default: register].
    #[arg(long, short = 'w', value_parser = |s: &str| s.parse::<WorkloadKind>())]
    pub(crate) workload: Option<WorkloadKind>,
    /// Test name: the run is stored in STORE/NAME/TIMESTAMP [default: the workload's name].
    #[arg(long)]
    pub(crate) name: Option<String>,
    /// Fault bound f: the cluster has n = 3f+1 replicas [default: 1].
    #[arg(long = "f", value_name = "F")]
    pub(crate) f: Option<usize>,
    /// Logical client processes running at once [default: 5].
    #[arg(long, short = 'c')]
    pub(crate) concurrency: Option<usize>,
    /// Target rate over all clients, operations per second [default: 50].
    #[arg(long, short = 'r')]
    pub(crate) rate: Option<f64>,
    /// Seconds of workload before the final reads [default: 60].
    #[arg(long, short = 't', value_name = "SECONDS")]
    pub(crate) time_limit: Option<u64>,
    /// Per-operation timeout in ms; an operation that times out is indeterminate (info)
    /// and its process is retired [default: 2000].
    #[arg(long, value_name = "MS")]
    pub(crate) op_timeout_ms: Option<u64>,
    /// Number of keys of the kv and append workloads [default: 10].
    #[arg(long)]
    pub(crate) keys: Option<usize>,
    /// How kv and append operations pick keys: uniform or zipf [default: uniform].
    #[arg(long, value_parser = |s: &str| s.parse::<KeyDist>())]
    pub(crate) key_dist: Option<KeyDist>,
    /// Exponent s of the zipf key distribution [default: 1].
    #[arg(long, value_name = "S")]
    pub(crate) zipf_exponent: Option<f64>,
    /// Written and cas values are drawn from 0..VALUES (register, kv) [default: 5].
    #[arg(long)]
    pub(crate) values: Option<u64>,
    /// Seed of every random choice; the seed of a run is printed and stored in test.json
    /// [default: from the clock].
    #[arg(long)]
    pub(crate) seed: Option<u64>,
    /// Directory of the run store [default: store].
    #[arg(long, value_name = "DIR")]
    pub(crate) store: Option<PathBuf>,
    /// Start this replica binary instead of re-executing the harness as a replica
    /// [default: none].
    #[arg(long, value_name = "PATH")]
    pub(crate) replica_bin: Option<PathBuf>,
    /// When replicas fsync their write-ahead log: always, batch, never [default: always].
    #[arg(long, value_enum)]
    pub(crate) fsync: Option<Fsync>,
    /// One more flag for every replica, verbatim (repeat it, e.g.
    /// --replica-arg=--batch-size --replica-arg=1) [default: none].
    #[arg(long = "replica-arg", value_name = "ARG", allow_hyphen_values = true)]
    pub(crate) replica_args: Vec<String>,
    /// Seconds to wait for every replica to answer GET /status [default: 20].
    #[arg(long, value_name = "SECONDS")]
    pub(crate) ready_timeout: Option<u64>,
    /// Seconds the checker may take before answering unknown (0: no limit) [default: 300].
    #[arg(long, value_name = "SECONDS")]
    pub(crate) check_timeout: Option<u64>,
    /// Progress display: auto (a bar on a terminal, nothing when CI is set, else a line
    /// every 5 s), bar, plain, none [default: auto].
    #[arg(long, value_enum)]
    pub(crate) progress: Option<ProgressMode>,
    /// Fault families the seeded nemesis draws from: a comma-separated list of
    /// partition, packet, kill, pause, clock, byzantine; or all (every family but
    /// byzantine); or none. The default mix is off (none) when --nemesis-schedule,
    /// --scenario, --packet, --byzantine, --byzantine-replicas or --no-proxy is given
    /// [default: partition,kill,pause,clock,packet].
    #[arg(long, value_name = "LIST")]
    pub(crate) nemesis: Option<String>,
    /// Seconds of each fault, and of the quiet stretch between two [default: 10].
    #[arg(long, value_name = "SECONDS")]
    pub(crate) nemesis_interval: Option<u64>,
    /// A TOML file with an exact fault timeline instead of the seeded one (see the
    /// README's "Faults") [default: none].
    #[arg(long, value_name = "FILE")]
    pub(crate) nemesis_schedule: Option<PathBuf>,
    /// Packet faults, e.g. drop=0.1,delay=50ms~20ms,duplicate=0.05,reorder=0.05,replay=0.01
    /// (delay=50ms~20ms@0.5 delays half; links=replicas|clients). With `packet` in
    /// --nemesis they come and go with the schedule; otherwise they last the whole
    /// workload [default: none].
    #[arg(long, value_name = "SPEC")]
    pub(crate) packet: Option<String>,
    /// A named fault scenario: isolate-primary (isolate the primary from 10 s to 20 s,
    /// then recover; the time limit becomes 30 s unless given) [default: none].
    #[arg(long, value_name = "NAME")]
    pub(crate) scenario: Option<String>,
    /// Seconds of workload after the final heal, before the final reads, for the
    /// cluster to recover (only when faults were scheduled) [default: 10].
    #[arg(long, value_name = "SECONDS")]
    pub(crate) recovery_time: Option<u64>,
    /// A stretch of this many seconds with no completed operation while no fault is in
    /// force fails the run [default: 20].
    #[arg(long, value_name = "SECONDS")]
    pub(crate) stall: Option<u64>,
    /// Make this many replicas Byzantine (chosen by the seed) for the whole workload, or
    /// in the schedule's `byzantine` windows; more than f needs
    /// --allow-unsafe-byzantine [default: 0].
    #[arg(long, value_name = "K")]
    pub(crate) byzantine: Option<usize>,
    /// Which replicas are Byzantine: ids (e.g. 0,3) or `primary` (whoever leads when the
    /// fault starts) [default: none].
    #[arg(long, value_name = "LIST")]
    pub(crate) byzantine_replicas: Option<String>,
    /// What Byzantine replicas do: equivocate, double-vote, shift, forge-view-change,
    /// bad-new-view, lie, withhold, censor, replay, fuzz, or all [default: all].
    #[arg(long, value_name = "LIST")]
    pub(crate) byzantine_mutators: Option<String>,
    /// Allow more than f Byzantine replicas (for runs meant to be caught)
    /// [default: false].
    #[arg(long)]
    pub(crate) allow_unsafe_byzantine: bool,
    /// Let replicas and clients talk directly, without the interposing proxy (only to
    /// measure the proxy's cost; network faults need the proxy) [default: false].
    #[arg(long)]
    pub(crate) no_proxy: bool,
    /// Check agreement and exactly-once every second while the workload runs, and end
    /// the workload at the first violation (results.json says when it was seen)
    /// [default: false].
    #[arg(long)]
    pub(crate) stop_on_violation: bool,
    /// Seeded replica bugs to switch on (comma-separated names; needs a harness built
    /// with `--features seeded-bugs`; see `harness selftest`) [default: none].
    #[arg(long, value_name = "LIST")]
    pub(crate) replica_bug: Option<String>,
    /// A seeded client bug to switch on (accept-first-reply; needs a harness built
    /// with `--features seeded-bugs`) [default: none].
    #[arg(long, value_name = "NAME")]
    pub(crate) client_bug: Option<String>,
}

/// Arguments of `harness analyze`.
#[derive(Debug, Args)]
pub(crate) struct AnalyzeArgs {
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
pub(crate) struct SuiteArgs {
    /// The suite file (TOML: name, repetitions, seed, [defaults], [matrix], [[case]]).
    pub(crate) file: PathBuf,
    /// Directory of the run store.
    #[arg(long, value_name = "DIR", default_value = "store")]
    pub(crate) store: PathBuf,
    /// Also write the JUnit XML (one testcase per run) to FILE.
    #[arg(long, value_name = "FILE")]
    pub(crate) junit: Option<PathBuf>,
    /// Run only shard I of N (1-based; cells are dealt round robin), e.g. 2/4.
    #[arg(long, value_name = "I/N", value_parser = |s: &str| s.parse::<crate::suite::Shard>())]
    pub(crate) shard: Option<crate::suite::Shard>,
    /// List the runs (after sharding) and their settings, and run nothing.
    #[arg(long)]
    pub(crate) list: bool,
}

/// Arguments of `harness selftest`.
#[derive(Debug, Args)]
pub(crate) struct SelftestArgs {
    /// The bugs to test: `all`, or names separated by commas (commit-quorum-2f,
    /// prepare-quorum, no-digest-check, accept-second-preprepare, drop-prepared-certs,
    /// execute-on-prepared, no-client-dedupe, lost-on-restart, no-pre-prepare,
    /// accept-first-reply).
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
pub(crate) struct CompareArgs {
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
pub(crate) struct ServeArgs {
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
pub(crate) struct ReportArgs {
    /// A run directory (e.g. store/latest).
    pub(crate) dir: PathBuf,
}

/// Arguments of the hidden `harness replica`: guard flags, then `--` and the replica's own
/// flags (those of `replica --help`).
#[derive(Debug, Args)]
pub(crate) struct ReplicaArgs {
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
