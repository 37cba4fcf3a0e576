//! The one list of run settings. Every setting of `harness run` is one field of
//! [`RunSettings`], declared once with its doc (the `--help` text), its flag and its
//! default (clap's `default_value`). The same struct is what a `--config` TOML file, a
//! suite's cells and a run's `test.json` hold (the field names are the keys), and the
//! command that reproduces a run is derived from the fields that differ from the
//! defaults (see [`super::reproduce`]). Adding a setting is adding a field here.
//!
//! Settings whose default depends on other settings (the name, the seed, the nemesis)
//! are `Option`s, filled in when the run's configuration is resolved
//! ([`super::RunConfig`]).

use clap::Parser;
use serde::{Deserialize, Serialize};
use std::path::PathBuf;
use workloads::{GeneratorConfig, KeyDist, WorkloadKind};

/// The nemesis of a run that names no faults: a seeded mix of the families a correct
/// cluster recovers from within the availability bound at the default 10 s interval.
pub const DEFAULT_NEMESIS: &str = "partition,kill,pause,clock,packet";

/// When replicas fsync their write-ahead log (the replica's `--fsync`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum Fsync {
    /// Before any message that depends on the records leaves.
    Always,
    /// Every few milliseconds in the background.
    Batch,
    /// Never (the OS decides).
    Never,
}

impl Fsync {
    /// The replica flag value.
    pub fn name(self) -> &'static str {
        match self {
            Fsync::Always => "always",
            Fsync::Batch => "batch",
            Fsync::Never => "never",
        }
    }
}

/// How progress is shown while a run goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum ProgressMode {
    /// A bar on a terminal; nothing when `CI` is set; else a line every 5 s.
    Auto,
    /// A progress bar on stderr.
    Bar,
    /// A plain line on stderr every 5 s.
    Plain,
    /// Nothing.
    None,
}

/// Every setting of a run. Field names are the TOML keys and clap's argument ids.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, clap::Args)]
#[serde(deny_unknown_fields, default)]
pub struct RunSettings {
    /// Test name: the run is stored in STORE/NAME/TIMESTAMP [default: the workload's name].
    #[arg(long)]
    pub name: Option<String>,
    /// Workload: register (one key, read/write/cas), kv (many keys, read/write/cas),
    /// append (list append and read).
    #[arg(long, short = 'w', default_value_t = WorkloadKind::Register,
          value_parser = |s: &str| s.parse::<WorkloadKind>())]
    pub workload: WorkloadKind,
    /// Fault bound f: the cluster has n = 3f+1 replicas.
    #[arg(long = "f", value_name = "F", default_value_t = 1)]
    pub f: usize,
    /// Logical client processes running at once.
    #[arg(long, short = 'c', default_value_t = 5)]
    pub concurrency: usize,
    /// Target rate over all clients, operations per second.
    #[arg(long, short = 'r', default_value_t = 50.0)]
    pub rate: f64,
    /// Seconds of workload before the final reads.
    #[arg(long, short = 't', value_name = "SECONDS", default_value_t = 60)]
    pub time_limit: u64,
    /// Per-operation timeout in ms; an operation that times out is indeterminate (info)
    /// and its process is retired.
    #[arg(long, value_name = "MS", default_value_t = 2000)]
    pub op_timeout_ms: u64,
    /// Number of keys of the kv and append workloads.
    #[arg(long, default_value_t = 10)]
    pub keys: usize,
    /// How kv and append operations pick keys: uniform or zipf.
    #[arg(long, default_value_t = KeyDist::Uniform,
          value_parser = |s: &str| s.parse::<KeyDist>())]
    pub key_dist: KeyDist,
    /// Exponent s of the zipf key distribution.
    #[arg(long, value_name = "S", default_value_t = 1.0)]
    pub zipf_exponent: f64,
    /// Written and cas values are drawn from 0..VALUES (register, kv).
    #[arg(long, default_value_t = 5)]
    pub values: u64,
    /// Seed of every random choice; the seed of a run is printed and stored in test.json
    /// [default: from the clock].
    #[arg(long)]
    pub seed: Option<u64>,
    /// Directory of the run store.
    #[arg(long, value_name = "DIR", default_value = "store")]
    pub store: PathBuf,
    /// Start this replica binary instead of re-executing the harness as a replica
    /// [default: none].
    #[arg(long, value_name = "PATH")]
    pub replica_bin: Option<PathBuf>,
    /// When replicas fsync their write-ahead log.
    #[arg(long, value_enum, default_value_t = Fsync::Always)]
    pub fsync: Fsync,
    /// The replicas' view-change timeout T in ms (doubled after each failed view
    /// change) [default: the replica's own, 1000].
    #[arg(long, value_name = "MS")]
    pub view_change_timeout_ms: Option<u64>,
    /// One more flag for every replica, verbatim (repeat it, e.g.
    /// --replica-arg=--batch-size --replica-arg=1) [default: none].
    #[arg(long = "replica-arg", value_name = "ARG", allow_hyphen_values = true)]
    pub replica_args: Vec<String>,
    /// Seconds to wait for every replica to answer GET /status.
    #[arg(long, value_name = "SECONDS", default_value_t = 20)]
    pub ready_timeout: u64,
    /// Seconds the checker may take before answering unknown (0: no limit).
    #[arg(long, value_name = "SECONDS", default_value_t = 300)]
    pub check_timeout: u64,
    /// Progress display: auto (a bar on a terminal, nothing when CI is set, else a line
    /// every 5 s), bar, plain, none.
    #[arg(long, value_enum, default_value_t = ProgressMode::Auto)]
    pub progress: ProgressMode,
    /// Fault families the seeded nemesis draws from: a comma-separated list of
    /// partition, packet, kill, pause, clock, byzantine, disk (power loss, torn
    /// writes, corruption, read errors on at most f replicas; needs FUSE),
    /// power-loss-all (every replica at once; needs FUSE); or all (partition, packet,
    /// kill, pause, clock); or none. The default mix is off (none) when --nemesis-schedule,
    /// --scenario, --packet, --byzantine, --byzantine-replicas or --no-proxy is given
    /// [default: partition,kill,pause,clock,packet].
    #[arg(long, value_name = "LIST")]
    pub nemesis: Option<String>,
    /// Seconds of each fault, and of the quiet stretch between two.
    #[arg(long, value_name = "SECONDS", default_value_t = 10)]
    pub nemesis_interval: u64,
    /// A TOML file with an exact fault timeline instead of the seeded one (see the
    /// README's "Faults") [default: none].
    #[arg(long, value_name = "FILE")]
    pub nemesis_schedule: Option<PathBuf>,
    /// Packet faults, e.g. drop=0.1,delay=50ms~20ms,duplicate=0.05,reorder=0.05,replay=0.01
    /// (delay=50ms~20ms@0.5 delays half; links=replicas|clients). With `packet` in
    /// --nemesis they come and go with the schedule; otherwise they last the whole
    /// workload [default: none].
    #[arg(long, value_name = "SPEC")]
    pub packet: Option<String>,
    /// A named fault scenario: isolate-primary (isolate the primary from 10 s to 20 s,
    /// then recover; the time limit becomes 30 s unless given) [default: none].
    #[arg(long, value_name = "NAME")]
    pub scenario: Option<String>,
    /// Seconds of workload after the final heal, before the final reads, for the
    /// cluster to recover (only when faults were scheduled).
    #[arg(long, value_name = "SECONDS", default_value_t = 10)]
    pub recovery_time: u64,
    /// The availability bound, fixed: a stretch of this many seconds with no completed
    /// operation while at most f replicas are touched by a fault fails the run
    /// [default: derived, (2^(f+2) - 1) T + 5 s with T the quorum's view-change timeout
    /// when the stretch begins].
    #[arg(long, value_name = "SECONDS")]
    pub stall: Option<u64>,
    /// Let replicas and clients talk directly, without the interposing proxy (only to
    /// measure the proxy's cost; network faults need the proxy).
    #[arg(long)]
    pub no_proxy: bool,
    /// Put every replica's data directory on the disk-fault FUSE layer (it keeps
    /// unsynced writes in memory) even when no disk fault is scheduled; the `disk`
    /// and `power-loss-all` faults mount it anyway. Needs /dev/fuse and fusermount3.
    #[arg(long)]
    pub disk_layer: bool,
    /// Make this many replicas Byzantine (chosen by the seed) for the whole workload, or
    /// in the schedule's `byzantine` windows; more than f needs
    /// --allow-unsafe-byzantine.
    #[arg(long, value_name = "K", default_value_t = 0)]
    pub byzantine: usize,
    /// Which replicas are Byzantine: ids (e.g. 0,3) or `primary` (whoever leads when
    /// each message is sent: it follows the view changes) [default: none].
    #[arg(long, value_name = "LIST")]
    pub byzantine_replicas: Option<String>,
    /// What Byzantine replicas do: equivocate, alternate, twin, double-vote, shift,
    /// forge-view-change, amnesia, bad-new-view, lie, withhold, censor, replay, fuzz,
    /// fake-primary, bad-checkpoint, spurious-view-change, bad-state, duplicate-request,
    /// or all.
    #[arg(long, value_name = "LIST", default_value = "all")]
    pub byzantine_mutators: String,
    /// Allow more than f Byzantine replicas (for runs meant to be caught).
    #[arg(long)]
    pub allow_unsafe_byzantine: bool,
    /// Allow disk faults (torn writes, corruption, read errors, power loss) on more
    /// than f replicas at once (for runs meant to be caught; `power-loss-all` needs
    /// no flag).
    #[arg(long)]
    pub allow_unsafe_disk: bool,
    /// Check agreement and exactly-once every second while the workload runs, and end
    /// the workload at the first violation (results.json says when it was seen).
    #[arg(long)]
    pub stop_on_violation: bool,
    /// Seeded replica bugs to switch on (comma-separated names; needs a harness built
    /// with `--features seeded-bugs`; see `harness selftest`) [default: none].
    #[arg(long, value_name = "LIST")]
    pub replica_bug: Option<String>,
    /// A seeded client bug to switch on (accept-first-reply; needs a harness built
    /// with `--features seeded-bugs`) [default: none].
    #[arg(long, value_name = "NAME")]
    pub client_bug: Option<String>,
}

/// The settings alone as a command line: how their defaults are read from clap.
/// (`--config` and the other arguments of `harness run` live in `crate::cli`.)
#[derive(Parser)]
#[command(no_binary_name = true)]
struct SettingsOnly {
    #[command(flatten)]
    settings: RunSettings,
}

/// The settings' arguments as clap sees them (ids are the field names), in declaration
/// order.
pub(super) fn settings_command() -> clap::Command {
    use clap::CommandFactory;
    SettingsOnly::command()
}

impl Default for RunSettings {
    /// The defaults, as clap declares them above.
    fn default() -> Self {
        SettingsOnly::try_parse_from(std::iter::empty::<String>())
            .expect("the declared defaults parse")
            .settings
    }
}

impl RunSettings {
    /// The nemesis families: as given, or [`DEFAULT_NEMESIS`], or `none` when a
    /// schedule file, a scenario, `--packet`, Byzantine replicas or `--no-proxy` say
    /// what the faults are.
    pub fn nemesis(&self) -> &str {
        match &self.nemesis {
            Some(n) => n,
            None if self.faults_given_otherwise() => "none",
            None => DEFAULT_NEMESIS,
        }
    }

    /// Whether a schedule file, a scenario, `--packet`, Byzantine replicas or
    /// `--no-proxy` decides the faults (so the mixed default nemesis stays off).
    fn faults_given_otherwise(&self) -> bool {
        self.nemesis_schedule.is_some()
            || self.scenario.is_some()
            || self.packet.is_some()
            || self.byzantine > 0
            || self.byzantine_replicas.is_some()
            || self.no_proxy
    }

    /// The seed (resolved settings always have one).
    pub fn seed(&self) -> u64 {
        self.seed.unwrap_or_default()
    }

    /// The test name: as given, or the workload's.
    pub fn name(&self) -> &str {
        self.name.as_deref().unwrap_or(self.workload.name())
    }

    /// Number of replicas, 3f+1.
    pub fn n(&self) -> usize {
        3 * self.f + 1
    }

    /// The workload's generator parameters.
    pub fn generator(&self) -> GeneratorConfig {
        GeneratorConfig {
            workload: self.workload,
            keys: self.keys,
            key_dist: self.key_dist,
            zipf_exponent: self.zipf_exponent,
            values: self.values,
        }
    }

    /// The replicas' view-change timeout T (ms): as set, or the replica's own default.
    pub fn view_change_timeout(&self) -> u64 {
        self.view_change_timeout_ms
            .unwrap_or(replica::ProtocolConfig::default().view_change_timeout_ms)
    }

    /// The flags every replica gets besides its identity and files.
    pub fn replica_flags(&self) -> Vec<String> {
        let mut flags = vec!["--fsync".to_string(), self.fsync.name().to_string()];
        if let Some(ms) = self.view_change_timeout_ms {
            flags.extend(["--view-change-timeout-ms".to_string(), ms.to_string()]);
        }
        if let Some(bugs) = &self.replica_bug {
            flags.extend(["--bug".to_string(), bugs.clone()]);
        }
        flags.extend(self.replica_args.iter().cloned());
        flags
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_flag_says_its_default_in_help() {
        let cmd = settings_command();
        for arg in cmd.get_arguments() {
            let Some(long) = arg.get_long() else { continue };
            // A switch's default is off; `--help` needs no note for it.
            if long == "help" || !arg.get_action().takes_values() {
                continue;
            }
            let help = arg.get_help().map(|h| h.to_string()).unwrap_or_default();
            let declared = !arg.get_default_values().is_empty();
            assert!(
                declared || help.contains("[default: "),
                "--{long} shows no default: {help}"
            );
        }
    }

    #[test]
    fn the_defaults_are_the_declared_ones() {
        let d = RunSettings::default();
        assert_eq!(d.workload, WorkloadKind::Register);
        assert_eq!((d.f, d.concurrency, d.time_limit), (1, 5, 60));
        assert_eq!(d.rate, 50.0);
        assert_eq!(d.store, PathBuf::from("store"));
        assert_eq!(d.byzantine_mutators, "all");
        assert_eq!(d.nemesis(), DEFAULT_NEMESIS);
        assert!(!d.no_proxy && d.seed.is_none() && d.replica_args.is_empty());
        // An empty TOML table is the defaults too.
        let from_toml: RunSettings = toml::from_str("").unwrap();
        assert_eq!(from_toml, d);
    }
}
