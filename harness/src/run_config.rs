//! The resolved configuration of `harness run`: defaults, then the `--config` TOML file,
//! then the flags. Stored whole in the run's `test.json`.

use crate::cli::RunArgs;
use anyhow::{anyhow, bail, Context, Result};
use nemesis::{Fault, Schedule};
use replica::bugs::{Bug, ClientBug};
use serde::{Deserialize, Serialize};
use std::path::PathBuf;
use workloads::{GeneratorConfig, KeyDist, WorkloadKind};

/// The nemesis of a run that names no faults: a seeded mix of the families a correct
/// cluster recovers from within the stall limit at the default 10 s interval.
pub(crate) const DEFAULT_NEMESIS: &str = "partition,kill,pause,clock,packet";

/// When replicas fsync their write-ahead log (the replica's `--fsync`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub(crate) enum Fsync {
    /// Before any message that depends on the records leaves.
    Always,
    /// Every few milliseconds in the background.
    Batch,
    /// Never (the OS decides).
    Never,
}

impl Fsync {
    /// The replica flag value.
    pub(crate) fn name(self) -> &'static str {
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
pub(crate) enum ProgressMode {
    /// A bar on a terminal; nothing when `CI` is set; else a line every 5 s.
    Auto,
    /// A progress bar on stderr.
    Bar,
    /// A plain line on stderr every 5 s.
    Plain,
    /// Nothing.
    None,
}

/// Everything that defines a run. Field names are the TOML keys.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub(crate) struct RunConfig {
    /// Test name (the store folder); `None` means the workload's name.
    pub(crate) name: Option<String>,
    /// The workload.
    pub(crate) workload: WorkloadKind,
    /// Fault bound; n = 3f+1 replicas.
    pub(crate) f: usize,
    /// Logical client processes at once.
    pub(crate) concurrency: usize,
    /// Target operations per second over all clients.
    pub(crate) rate: f64,
    /// Seconds of workload.
    pub(crate) time_limit: u64,
    /// Per-operation timeout, ms.
    pub(crate) op_timeout_ms: u64,
    /// Keys of the kv and append workloads.
    pub(crate) keys: usize,
    /// Key distribution.
    pub(crate) key_dist: KeyDist,
    /// Zipf exponent.
    pub(crate) zipf_exponent: f64,
    /// Values are drawn from `0..values`.
    pub(crate) values: u64,
    /// The seed; `None` until resolved from the clock.
    pub(crate) seed: Option<u64>,
    /// The run store.
    pub(crate) store: PathBuf,
    /// An external replica binary, or `None` to re-execute the harness.
    pub(crate) replica_bin: Option<PathBuf>,
    /// The replicas' fsync policy.
    pub(crate) fsync: Fsync,
    /// Extra replica flags, verbatim.
    pub(crate) replica_args: Vec<String>,
    /// Seconds to wait for the cluster to be ready.
    pub(crate) ready_timeout: u64,
    /// Checker budget in seconds (0: none).
    pub(crate) check_timeout: u64,
    /// Progress display.
    pub(crate) progress: ProgressMode,
    /// Fault families of the seeded nemesis (`none`, `all`, or a list); `None` until
    /// resolved: [`DEFAULT_NEMESIS`], or `none` when a schedule file, a scenario,
    /// `--packet`, Byzantine replicas or `--no-proxy` say what the faults are.
    pub(crate) nemesis: Option<String>,
    /// Seconds of each fault and of each quiet stretch.
    pub(crate) nemesis_interval: u64,
    /// An exact fault timeline (TOML), instead of the seeded one.
    pub(crate) nemesis_schedule: Option<PathBuf>,
    /// Packet faults spec.
    pub(crate) packet: Option<String>,
    /// A named scenario.
    pub(crate) scenario: Option<String>,
    /// Seconds of workload after the final heal, before the final reads.
    pub(crate) recovery_time: u64,
    /// Seconds without a completed operation, with no fault in force, that fail a run.
    pub(crate) stall: u64,
    /// Whether replicas and clients bypass the proxy.
    pub(crate) no_proxy: bool,
    /// How many replicas are Byzantine (chosen by the seed).
    pub(crate) byzantine: usize,
    /// Which replicas are Byzantine (ids or `primary`), instead of a count.
    pub(crate) byzantine_replicas: Option<String>,
    /// The Byzantine mutators (`all` or a list).
    pub(crate) byzantine_mutators: String,
    /// Whether more than f Byzantine replicas are allowed.
    pub(crate) allow_unsafe_byzantine: bool,
    /// Whether to check agreement and exactly-once online and end at a violation.
    pub(crate) stop_on_violation: bool,
    /// Seeded replica bugs (comma-separated names), for the self-test.
    pub(crate) replica_bug: Option<String>,
    /// A seeded client bug, for the self-test.
    pub(crate) client_bug: Option<String>,
}

impl Default for RunConfig {
    fn default() -> Self {
        RunConfig {
            name: None,
            workload: WorkloadKind::Register,
            f: 1,
            concurrency: 5,
            rate: 50.0,
            time_limit: 60,
            op_timeout_ms: 2000,
            keys: 10,
            key_dist: KeyDist::Uniform,
            zipf_exponent: 1.0,
            values: 5,
            seed: None,
            store: PathBuf::from("store"),
            replica_bin: None,
            fsync: Fsync::Always,
            replica_args: Vec::new(),
            ready_timeout: 20,
            check_timeout: 300,
            progress: ProgressMode::Auto,
            nemesis: None,
            nemesis_interval: 10,
            nemesis_schedule: None,
            packet: None,
            scenario: None,
            recovery_time: 10,
            stall: 20,
            no_proxy: false,
            byzantine: 0,
            byzantine_replicas: None,
            byzantine_mutators: "all".into(),
            allow_unsafe_byzantine: false,
            stop_on_violation: false,
            replica_bug: None,
            client_bug: None,
        }
    }
}

impl RunConfig {
    /// Defaults, overridden by the `--config` file, overridden by the flags; then the
    /// seed (from the clock if not given) and the name are filled in and the whole is
    /// validated. Errors here are bad input (exit 254).
    pub(crate) fn resolve(args: &RunArgs) -> Result<RunConfig> {
        let mut config = match &args.config {
            Some(path) => {
                let text = std::fs::read_to_string(path)
                    .with_context(|| format!("cannot read config file {}", path.display()))?;
                toml::from_str(&text)
                    .with_context(|| format!("bad config file {}", path.display()))?
            }
            None => RunConfig::default(),
        };
        config.apply(args);
        config.complete(args.time_limit.is_some())?;
        Ok(config)
    }

    /// A configuration from TOML text alone (a suite's cell), completed and validated
    /// like [`RunConfig::resolve`]'s.
    pub(crate) fn from_toml(text: &str) -> Result<RunConfig> {
        let mut config: RunConfig = toml::from_str(text)?;
        config.complete(false)?;
        Ok(config)
    }

    /// Fills in the seed, the name and a scenario's time limit, then validates.
    fn complete(&mut self, time_limit_flag: bool) -> Result<()> {
        let config = self;
        config.nemesis = Some(config.nemesis().to_string());
        if config.seed.is_none() {
            config.seed = Some(clock_seed());
        }
        if config.name.is_none() {
            config.name = Some(config.workload.name().to_string());
        }
        if let Some(scenario) = &config.scenario {
            let (_, time_limit) = Schedule::scenario(scenario)?;
            if !time_limit_flag && config.time_limit == RunConfig::default().time_limit {
                config.time_limit = time_limit;
            }
        }
        config.validate()
    }

    /// Overrides every setting given as a flag.
    fn apply(&mut self, args: &RunArgs) {
        fn set<T: Clone>(field: &mut T, flag: &Option<T>) {
            if let Some(v) = flag {
                *field = v.clone();
            }
        }
        fn set_opt<T: Clone>(field: &mut Option<T>, flag: &Option<T>) {
            if flag.is_some() {
                field.clone_from(flag);
            }
        }
        set_opt(&mut self.name, &args.name);
        set(&mut self.workload, &args.workload);
        set(&mut self.f, &args.f);
        set(&mut self.concurrency, &args.concurrency);
        set(&mut self.rate, &args.rate);
        set(&mut self.time_limit, &args.time_limit);
        set(&mut self.op_timeout_ms, &args.op_timeout_ms);
        set(&mut self.keys, &args.keys);
        set(&mut self.key_dist, &args.key_dist);
        set(&mut self.zipf_exponent, &args.zipf_exponent);
        set(&mut self.values, &args.values);
        set_opt(&mut self.seed, &args.seed);
        set(&mut self.store, &args.store);
        set_opt(&mut self.replica_bin, &args.replica_bin);
        set(&mut self.fsync, &args.fsync);
        if !args.replica_args.is_empty() {
            self.replica_args.clone_from(&args.replica_args);
        }
        set(&mut self.ready_timeout, &args.ready_timeout);
        set(&mut self.check_timeout, &args.check_timeout);
        set(&mut self.progress, &args.progress);
        set_opt(&mut self.nemesis, &args.nemesis);
        set(&mut self.nemesis_interval, &args.nemesis_interval);
        set_opt(&mut self.nemesis_schedule, &args.nemesis_schedule);
        set_opt(&mut self.packet, &args.packet);
        set_opt(&mut self.scenario, &args.scenario);
        set(&mut self.recovery_time, &args.recovery_time);
        set(&mut self.stall, &args.stall);
        self.no_proxy |= args.no_proxy;
        set(&mut self.byzantine, &args.byzantine);
        set_opt(&mut self.byzantine_replicas, &args.byzantine_replicas);
        set(&mut self.byzantine_mutators, &args.byzantine_mutators);
        self.allow_unsafe_byzantine |= args.allow_unsafe_byzantine;
        self.stop_on_violation |= args.stop_on_violation;
        set_opt(&mut self.replica_bug, &args.replica_bug);
        set_opt(&mut self.client_bug, &args.client_bug);
    }

    /// The seeded client bug, if one is asked for.
    pub(crate) fn client_bug(&self) -> Result<Option<ClientBug>> {
        self.client_bug
            .as_deref()
            .map(|name| ClientBug::parse(name).map_err(|e| anyhow!(e)))
            .transpose()
    }

    /// Refuses seeded bugs with unknown names, or in a build that cannot switch them on.
    fn validate_bugs(&self) -> Result<()> {
        if self.replica_bug.is_none() && self.client_bug.is_none() {
            return Ok(());
        }
        // The bugs live in the replica crate: its feature decides (the harness's own
        // `seeded-bugs` feature turns it on, and so do test builds).
        if !ClientBug::available() {
            bail!(
                "seeded bugs need a harness built with the seeded-bugs feature: \
                 cargo run --release -p harness --features seeded-bugs -- ..."
            );
        }
        for name in self.replica_bug.iter().flat_map(|l| l.split(',')) {
            Bug::parse(name.trim()).map_err(|e| anyhow!(e))?;
        }
        self.client_bug()?;
        Ok(())
    }

    fn validate(&self) -> Result<()> {
        self.validate_bugs()?;
        if self.f == 0 {
            bail!("f must be at least 1");
        }
        if self.concurrency == 0 {
            bail!("concurrency must be at least 1");
        }
        if !(self.rate.is_finite() && self.rate > 0.0) {
            bail!("rate must be a positive number, got {}", self.rate);
        }
        if self.time_limit == 0 {
            bail!("time limit must be at least 1 second");
        }
        if self.op_timeout_ms == 0 {
            bail!("op timeout must be at least 1 ms");
        }
        if self.ready_timeout == 0 {
            bail!("ready timeout must be at least 1 second");
        }
        let name = self.name();
        if name.is_empty()
            || name.starts_with('.')
            || !name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
        {
            bail!("test name {name:?} must be letters, digits, '-', '_' or '.' (not leading)");
        }
        if let Some(bin) = &self.replica_bin {
            if !bin.is_file() {
                bail!("replica binary {} is not a file", bin.display());
            }
        }
        self.generator()
            .validate()
            .context("bad workload parameters")?;
        if self.nemesis_interval == 0 {
            bail!("nemesis interval must be at least 1 second");
        }
        if self.stall == 0 {
            bail!("stall must be at least 1 second");
        }
        let schedule = self.schedule()?;
        schedule
            .validate(self.n(), self.time_limit * 1000)
            .context("the fault schedule cannot run")?;
        for w in &schedule.windows {
            if let Fault::Byzantine { faulty, .. } = &w.fault {
                if faulty.count() > self.f && !self.allow_unsafe_byzantine {
                    bail!(
                        "{} Byzantine replicas is more than f = {}: PBFT promises nothing then; \
                         add --allow-unsafe-byzantine for a run meant to be caught",
                        faulty.count(),
                        self.f
                    );
                }
            }
        }
        if self.no_proxy {
            if let Some(f) = schedule.families().into_iter().find(|f| f.needs_proxy()) {
                bail!(
                    "{} faults need the proxy: drop --no-proxy (it only exists to measure the proxy)",
                    f.name()
                );
            }
        }
        Ok(())
    }

    /// The nemesis families (resolved configs always have them).
    pub(crate) fn nemesis(&self) -> &str {
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

    /// The seed (resolved configs always have one).
    pub(crate) fn seed(&self) -> u64 {
        self.seed.unwrap_or_default()
    }

    /// The test name (resolved configs always have one).
    pub(crate) fn name(&self) -> &str {
        self.name.as_deref().unwrap_or(self.workload.name())
    }

    /// Number of replicas, 3f+1.
    pub(crate) fn n(&self) -> usize {
        3 * self.f + 1
    }

    /// The workload's generator parameters.
    pub(crate) fn generator(&self) -> GeneratorConfig {
        GeneratorConfig {
            workload: self.workload,
            keys: self.keys,
            key_dist: self.key_dist,
            zipf_exponent: self.zipf_exponent,
            values: self.values,
        }
    }

    /// The flags every replica gets besides its identity and files.
    pub(crate) fn replica_flags(&self) -> Vec<String> {
        let mut flags = vec!["--fsync".to_string(), self.fsync.name().to_string()];
        if let Some(bugs) = &self.replica_bug {
            flags.extend(["--bug".to_string(), bugs.clone()]);
        }
        flags.extend(self.replica_args.iter().cloned());
        flags
    }

    /// A command line that repeats this run (same settings, same seed).
    pub(crate) fn reproduce_command(&self) -> String {
        let default = RunConfig::default();
        let mut cmd = if self.replica_bug.is_some() || self.client_bug.is_some() {
            String::from("cargo run --release -p harness --features seeded-bugs -- run")
        } else {
            String::from("cargo run --release -p harness -- run")
        };
        let mut flag = |name: &str, value: String| {
            cmd.push_str(&format!(" --{name} {}", shell_quote(&value)));
        };
        if self.name() != self.workload.name() {
            flag("name", self.name().to_string());
        }
        if self.workload != default.workload {
            flag("workload", self.workload.name().to_string());
        }
        if self.f != default.f {
            flag("f", self.f.to_string());
        }
        if self.concurrency != default.concurrency {
            flag("concurrency", self.concurrency.to_string());
        }
        if self.rate != default.rate {
            flag("rate", self.rate.to_string());
        }
        if self.time_limit != default.time_limit {
            flag("time-limit", self.time_limit.to_string());
        }
        if self.op_timeout_ms != default.op_timeout_ms {
            flag("op-timeout-ms", self.op_timeout_ms.to_string());
        }
        if self.keys != default.keys {
            flag("keys", self.keys.to_string());
        }
        if self.key_dist != default.key_dist {
            flag("key-dist", self.key_dist.name().to_string());
        }
        if self.zipf_exponent != default.zipf_exponent {
            flag("zipf-exponent", self.zipf_exponent.to_string());
        }
        if self.values != default.values {
            flag("values", self.values.to_string());
        }
        if let Some(bin) = &self.replica_bin {
            flag("replica-bin", bin.display().to_string());
        }
        if self.fsync != default.fsync {
            flag("fsync", self.fsync.name().to_string());
        }
        // Always given: the default depends on other settings.
        flag("nemesis", self.nemesis().to_string());
        if self.nemesis_interval != default.nemesis_interval {
            flag("nemesis-interval", self.nemesis_interval.to_string());
        }
        if let Some(path) = &self.nemesis_schedule {
            flag("nemesis-schedule", path.display().to_string());
        }
        if let Some(spec) = &self.packet {
            flag("packet", spec.clone());
        }
        if let Some(scenario) = &self.scenario {
            flag("scenario", scenario.clone());
        }
        if self.recovery_time != default.recovery_time {
            flag("recovery-time", self.recovery_time.to_string());
        }
        if self.stall != default.stall {
            flag("stall", self.stall.to_string());
        }
        flag("seed", self.seed().to_string());
        if self.no_proxy {
            cmd.push_str(" --no-proxy");
        }
        if self.byzantine != default.byzantine {
            cmd.push_str(&format!(" --byzantine {}", self.byzantine));
        }
        if let Some(list) = &self.byzantine_replicas {
            cmd.push_str(&format!(" --byzantine-replicas {}", shell_quote(list)));
        }
        if self.byzantine_mutators != default.byzantine_mutators {
            cmd.push_str(&format!(
                " --byzantine-mutators {}",
                shell_quote(&self.byzantine_mutators)
            ));
        }
        if self.allow_unsafe_byzantine {
            cmd.push_str(" --allow-unsafe-byzantine");
        }
        for arg in &self.replica_args {
            cmd.push_str(&format!(" --replica-arg={}", shell_quote(arg)));
        }
        if self.stop_on_violation {
            cmd.push_str(" --stop-on-violation");
        }
        if let Some(bugs) = &self.replica_bug {
            cmd.push_str(&format!(" --replica-bug {}", shell_quote(bugs)));
        }
        if let Some(bug) = &self.client_bug {
            cmd.push_str(&format!(" --client-bug {}", shell_quote(bug)));
        }
        cmd
    }
}

/// A seed from the wall clock, for runs that were not given one.
fn clock_seed() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64)
}

/// Quotes a word for a POSIX shell when it needs it.
fn shell_quote(word: &str) -> String {
    if !word.is_empty()
        && word
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_./=:,+".contains(c))
    {
        word.to_string()
    } else {
        format!("'{}'", word.replace('\'', r"'\''"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cli::Cli;
    use clap::{CommandFactory, Parser};

    fn parse(args: &[&str]) -> RunArgs {
        let cli = Cli::try_parse_from(["harness", "run"].iter().chain(args)).unwrap();
        match cli.command {
            crate::cli::Command::Run(args) => *args,
            other => panic!("parsed {other:?}"),
        }
    }

    #[test]
    fn help_shows_the_real_default_of_every_flag() {
        let d = RunConfig::default();
        let expected = [
            ("workload", d.workload.name().to_string()),
            ("f", d.f.to_string()),
            ("concurrency", d.concurrency.to_string()),
            ("rate", d.rate.to_string()),
            ("time-limit", d.time_limit.to_string()),
            ("op-timeout-ms", d.op_timeout_ms.to_string()),
            ("keys", d.keys.to_string()),
            ("key-dist", d.key_dist.name().to_string()),
            ("zipf-exponent", d.zipf_exponent.to_string()),
            ("values", d.values.to_string()),
            ("store", d.store.display().to_string()),
            ("fsync", d.fsync.name().to_string()),
            ("ready-timeout", d.ready_timeout.to_string()),
            ("check-timeout", d.check_timeout.to_string()),
            ("progress", "auto".to_string()),
            ("nemesis", DEFAULT_NEMESIS.to_string()),
            ("nemesis-interval", d.nemesis_interval.to_string()),
            ("recovery-time", d.recovery_time.to_string()),
            ("stall", d.stall.to_string()),
            ("byzantine", d.byzantine.to_string()),
            ("byzantine-mutators", d.byzantine_mutators.clone()),
        ];
        let mut cmd = Cli::command();
        let run = cmd.find_subcommand_mut("run").unwrap();
        for arg in run.get_arguments() {
            let Some(long) = arg.get_long() else { continue };
            if long == "help" {
                continue;
            }
            let help = arg.get_help().map(|h| h.to_string()).unwrap_or_default();
            assert!(
                help.contains("[default: "),
                "--{long} has no default: {help}"
            );
            if let Some((_, value)) = expected.iter().find(|(name, _)| *name == long) {
                assert!(
                    help.contains(&format!("[default: {value}]")),
                    "--{long} help says {help:?}, default is {value}"
                );
            }
        }
    }

    #[test]
    fn flags_override_the_file_which_overrides_defaults() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("run.toml");
        std::fs::write(&file, "rate = 7\ntime_limit = 9\nworkload = \"kv\"\n").unwrap();
        let mut args = parse(&["--rate", "11", "--seed", "3"]);
        args.config = Some(file);
        let config = RunConfig::resolve(&args).unwrap();
        assert_eq!(config.rate, 11.0);
        assert_eq!(config.time_limit, 9);
        assert_eq!(config.workload, WorkloadKind::Kv);
        assert_eq!(config.name(), "kv");
        assert_eq!(config.seed(), 3);
        assert_eq!(config.concurrency, 5);
        assert!(config.reproduce_command().contains("--seed 3"));
    }

    #[test]
    fn unknown_toml_keys_and_bad_values_are_errors() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("run.toml");
        std::fs::write(&file, "rate = 7\nconcurency = 9\n").unwrap();
        let args = RunArgs {
            config: Some(file),
            ..RunArgs::default()
        };
        let err = format!("{:#}", RunConfig::resolve(&args).unwrap_err());
        assert!(err.contains("concurency"), "{err}");
        assert!(RunConfig::resolve(&parse(&["--concurrency", "0"])).is_err());
        assert!(RunConfig::resolve(&parse(&["--name", "../x"])).is_err());
        assert!(Cli::try_parse_from(["harness", "run", "--workload", "bank"]).is_err());
    }

    #[test]
    fn the_default_nemesis_is_the_mix_unless_the_faults_are_named_otherwise() {
        let seed = ["--seed", "1"];
        let nemesis = |extra: &[&str]| {
            let args: Vec<&str> = seed.iter().chain(extra).copied().collect();
            RunConfig::resolve(&parse(&args))
                .unwrap()
                .nemesis()
                .to_string()
        };
        assert_eq!(nemesis(&[]), DEFAULT_NEMESIS);
        assert_eq!(nemesis(&["--nemesis", "none"]), "none");
        assert_eq!(nemesis(&["--nemesis", "clock"]), "clock");
        assert_eq!(nemesis(&["--scenario", "isolate-primary"]), "none");
        assert_eq!(nemesis(&["--packet", "drop=0.1"]), "none");
        assert_eq!(nemesis(&["--no-proxy"]), "none");
        let config = RunConfig::resolve(&parse(&seed)).unwrap();
        assert!(!config.schedule().unwrap().windows.is_empty());
        assert!(config
            .reproduce_command()
            .contains("--nemesis partition,kill,pause,clock,packet"));
    }

    #[test]
    fn a_resolved_config_round_trips_through_toml() {
        let config =
            RunConfig::resolve(&parse(&["--seed", "5", "--replica-arg=--batch-size"])).unwrap();
        let text = toml::to_string(&config).unwrap();
        let back: RunConfig = toml::from_str(&text).unwrap();
        assert_eq!(back, config);
    }
}
