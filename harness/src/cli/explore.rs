//! The arguments of `harness explore`.

use crate::config::ProgressMode;
use clap::Args;
use std::path::PathBuf;
use std::time::Duration;

/// Arguments of `harness explore`.
#[derive(Debug, Args)]
pub struct ExploreArgs {
    /// How long to search: a number with a unit, s, m or h (e.g. 90s, 10m, 1h; no unit:
    /// seconds).
    #[arg(long, value_name = "DURATION", default_value = "10m", value_parser = parse_budget)]
    pub budget: Duration,
    /// Stop after this many schedules (rounded up to a whole batch of 8), whatever the
    /// budget says (for reproducible tests) [default: no limit].
    #[arg(long, value_name = "N")]
    pub schedules: Option<u64>,
    /// Base seed: schedule i is drawn from (seed, i), so a seed gives the same search
    /// whatever --jobs is [default: from the clock, printed].
    #[arg(long)]
    pub seed: Option<u64>,
    /// Worker threads running simulations.
    #[arg(long, short = 'j', value_name = "K", default_value_t = 1,
          value_parser = clap::value_parser!(u64).range(1..=256))]
    pub jobs: u64,
    /// A planted replica bug to switch on (repeat, or separate with commas; needs a
    /// harness built with `--features seeded-bugs`) [default: none].
    #[arg(long, value_name = "NAME", value_delimiter = ',')]
    pub bug: Vec<String>,
    /// Seconds of workload per schedule (the real run's --time-limit).
    #[arg(long, value_name = "SECONDS", default_value_t = 6,
          value_parser = clap::value_parser!(u64).range(1..=600))]
    pub time_limit: u64,
    /// Fault bound f: the simulated cluster has n = 3f+1 replicas.
    #[arg(long = "f", value_name = "F", default_value_t = 1,
          value_parser = clap::value_parser!(u64).range(1..=3))]
    pub f: u64,
    /// Pure random search: every schedule fresh, none mutated from those that reached
    /// new coverage (to compare with the guided search).
    #[arg(long)]
    pub no_feedback: bool,
    /// Stop the search at the first violation, once it is shrunk and stored (to time
    /// how long a search takes to find a bug).
    #[arg(long)]
    pub stop_on_violation: bool,
    /// Most simulations spent shrinking one failure.
    #[arg(long, value_name = "N", default_value_t = 120)]
    pub shrink_runs: usize,
    /// Directory of the run store: failures go to STORE/explore/TIMESTAMP/failure-N/.
    #[arg(long, value_name = "DIR", default_value = "store")]
    pub out: PathBuf,
    /// Replay a failure (its replay.json) in the simulator instead of searching: prints
    /// the verdict and the trace hash, and exits by the verdict.
    #[arg(long, value_name = "FILE", conflicts_with_all = ["schedules", "seed", "bug", "no_feedback", "stop_on_violation"])]
    pub replay: Option<PathBuf>,
    /// Progress display: auto (a bar on a terminal, nothing when CI is set, else a line
    /// every 5 s), bar, plain, none.
    #[arg(long, value_enum, default_value_t = ProgressMode::Auto)]
    pub progress: ProgressMode,
}

/// Parses a budget: `90`, `90s`, `10m`, `1h`.
fn parse_budget(text: &str) -> Result<Duration, String> {
    let t = text.trim();
    let (number, unit) = match t.find(|c: char| !(c.is_ascii_digit() || c == '.')) {
        Some(i) => t.split_at(i),
        None => (t, "s"),
    };
    let value: f64 = number
        .parse()
        .map_err(|_| format!("{text:?} is not a duration like 90s, 10m or 1h"))?;
    let scale = match unit {
        "s" => 1.0,
        "m" => 60.0,
        "h" => 3600.0,
        other => return Err(format!("unknown unit {other:?} in {text:?}: use s, m or h")),
    };
    let secs = value * scale;
    if !(secs.is_finite() && secs > 0.0 && secs <= 7.0 * 86_400.0) {
        return Err(format!(
            "{text:?}: the budget must be above 0 and at most a week"
        ));
    }
    Ok(Duration::from_secs_f64(secs))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn budgets_parse_with_and_without_units() {
        assert_eq!(parse_budget("90"), Ok(Duration::from_secs(90)));
        assert_eq!(parse_budget("90s"), Ok(Duration::from_secs(90)));
        assert_eq!(parse_budget("10m"), Ok(Duration::from_secs(600)));
        assert_eq!(parse_budget("1.5h"), Ok(Duration::from_secs(5400)));
        assert!(parse_budget("10x").is_err());
        assert!(parse_budget("0s").is_err());
        assert!(parse_budget("m").is_err());
    }
}
