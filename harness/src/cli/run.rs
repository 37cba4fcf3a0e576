//! `harness run`'s arguments: `--config FILE` and every run setting, flattened in from
//! [`RunSettings`]. Which settings the command line gave is noted when it is parsed,
//! so that only those override the file (a flag left at its default does not).

use crate::config::{RunConfig, RunSettings};
use clap::parser::ValueSource;
use clap::{ArgMatches, Args};
use std::path::PathBuf;

/// Arguments of `harness run`.
#[derive(Debug, Args)]
pub struct RunArgs {
    /// TOML file with any of the settings below (snake_case keys, e.g. `time_limit =
    /// 30`); flags override it [default: none].
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// The settings.
    #[command(flatten)]
    pub settings: RunSettings,
    /// The ids of the settings given on the command line.
    #[arg(skip)]
    pub explicit: Vec<String>,
}

impl RunArgs {
    /// Notes which settings `matches` (the `run` subcommand's) took from the command
    /// line.
    pub(super) fn note_explicit(&mut self, matches: &ArgMatches) {
        self.explicit = matches
            .ids()
            .filter(|id| matches.value_source(id.as_str()) == Some(ValueSource::CommandLine))
            .map(|id| id.as_str().to_string())
            .filter(|id| id != "config")
            .collect();
    }

    /// The run's configuration: defaults, then the `--config` file, then the flags
    /// given.
    pub fn resolve(&self) -> anyhow::Result<RunConfig> {
        RunConfig::resolve(self.config.as_deref(), &self.settings, &self.explicit)
    }
}

/// Resolves `harness run ARGS` (for tests).
#[cfg(test)]
pub(crate) fn resolve_run_args(args: &[&str]) -> anyhow::Result<RunConfig> {
    let cli = super::parse_from(["harness", "run"].iter().chain(args))?;
    match cli.command {
        super::Command::Run(a) => a.resolve(),
        other => panic!("parsed {other:?}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::DEFAULT_NEMESIS;
    use workloads::WorkloadKind;

    fn with_file(text: &str, args: &[&str]) -> anyhow::Result<RunConfig> {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("run.toml");
        std::fs::write(&file, text).unwrap();
        let mut all = vec!["--config", file.to_str().unwrap()];
        all.extend_from_slice(args);
        resolve_run_args(&all)
    }

    #[test]
    fn flags_override_the_file_which_overrides_defaults() {
        let config = with_file(
            "rate = 7\ntime_limit = 9\nworkload = \"kv\"\nno_proxy = true\nnemesis = \"none\"\n",
            &["--rate", "11", "--seed", "3"],
        )
        .unwrap();
        let s = &config.settings;
        assert_eq!(s.rate, 11.0);
        assert_eq!(s.time_limit, 9);
        assert_eq!(s.workload, WorkloadKind::Kv);
        assert_eq!(s.name(), "kv");
        assert_eq!(s.seed(), 3);
        assert_eq!(s.concurrency, 5);
        // A flag left at its default does not undo the file.
        assert!(s.no_proxy);
        assert!(s.reproduce_command().contains("--seed 3"));
    }

    #[test]
    fn unknown_toml_keys_and_bad_values_are_errors() {
        let err = format!(
            "{:#}",
            with_file("rate = 7\nconcurency = 9\n", &[]).unwrap_err()
        );
        assert!(err.contains("concurency"), "{err}");
        assert!(resolve_run_args(&["--concurrency", "0"]).is_err());
        assert!(resolve_run_args(&["--name", "../x"]).is_err());
        let err = format!(
            "{:#}",
            resolve_run_args(&["--replica-arg=--view-change-timeout-ms", "--replica-arg=9"])
                .unwrap_err()
        );
        assert!(
            err.contains("--view-change-timeout-ms (view_change_timeout_ms"),
            "{err}"
        );
        let ok = resolve_run_args(&["--view-change-timeout-ms", "700"]).unwrap();
        assert_eq!(ok.settings.view_change_timeout(), 700);
        assert!(super::super::parse_from(["harness", "run", "--workload", "bank"]).is_err());
        let err = format!("{:#}", with_file("rate = \"fast\"\n", &[]).unwrap_err());
        assert!(err.contains("rate"), "{err}");
    }

    #[test]
    fn the_default_nemesis_is_the_mix_unless_the_faults_are_named_otherwise() {
        let nemesis = |extra: &[&str]| {
            let args: Vec<&str> = ["--seed", "1"].iter().chain(extra).copied().collect();
            resolve_run_args(&args)
                .unwrap()
                .settings
                .nemesis()
                .to_string()
        };
        assert_eq!(nemesis(&[]), DEFAULT_NEMESIS);
        assert_eq!(nemesis(&["--nemesis", "none"]), "none");
        assert_eq!(nemesis(&["--nemesis", "clock"]), "clock");
        assert_eq!(nemesis(&["--scenario", "isolate-primary"]), "none");
        assert_eq!(nemesis(&["--packet", "drop=0.1"]), "none");
        assert_eq!(nemesis(&["--no-proxy"]), "none");
        let config = resolve_run_args(&["--seed", "1"]).unwrap();
        assert!(!config.schedule.windows.is_empty());
        assert!(config
            .settings
            .reproduce_command()
            .contains("--nemesis partition,kill,pause,clock,packet"));
    }

    #[test]
    fn a_scenario_sets_the_time_limit_unless_one_is_given() {
        let c = resolve_run_args(&["--scenario", "isolate-primary"]).unwrap();
        assert_eq!(c.settings.time_limit, 30);
        let c = resolve_run_args(&["--scenario", "isolate-primary", "-t", "40"]).unwrap();
        assert_eq!(c.settings.time_limit, 40);
    }

    #[test]
    fn resolved_settings_round_trip_through_toml_and_json() {
        let config = resolve_run_args(&["--seed", "5", "--replica-arg=--batch-size"]).unwrap();
        let text = toml::to_string(&config.settings).unwrap();
        let back: RunSettings = toml::from_str(&text).unwrap();
        assert_eq!(back, config.settings);
        let json = serde_json::to_string(&config.settings).unwrap();
        assert_eq!(
            serde_json::from_str::<RunSettings>(&json).unwrap(),
            config.settings
        );
    }

    #[test]
    fn the_reproduce_command_parses_back_to_the_same_settings() {
        let given = [
            "--seed",
            "3",
            "--nemesis",
            "partition,kill",
            "-t",
            "17",
            "--byzantine",
            "1",
            "--byzantine-mutators",
            "lie",
            "--stop-on-violation",
            "--replica-arg=--batch-size",
            "--replica-arg=1",
            "--workload",
            "kv",
            "--rate",
            "7.5",
        ];
        let first = resolve_run_args(&given).unwrap();
        let cmd = first.settings.reproduce_command();
        let args: Vec<&str> = cmd.split(" -- run ").nth(1).unwrap().split(' ').collect();
        let again = resolve_run_args(&args).unwrap();
        assert_eq!(again.settings, first.settings, "{cmd}");
        assert_eq!(again.schedule, first.schedule);
    }
}
