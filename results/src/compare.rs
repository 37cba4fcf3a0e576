//! `harness compare BASE RUN`: a run against a baseline run, or a suite against a
//! baseline suite (runs paired by name), on latency percentiles, throughput, recovery
//! times and view changes, each with a threshold. A metric that moved past its threshold
//! in the bad direction, or a verdict that got worse, is a regression.

use crate::error::{Error, Result};
use crate::histogram::Phase;
use crate::record::{read_record, RunRecord, RESULTS_FILE};
use crate::suite_summary::{SuiteSummary, SUMMARY};
use checker::oracles::Recovery;
use std::fmt::Write;
use std::path::Path;

/// How far each metric may move the wrong way (fractions: 0.2 is 20%), and the smallest
/// absolute moves that count at all (so noise on tiny numbers is not a regression).
#[derive(Debug, Clone, PartialEq)]
pub struct Thresholds {
    /// p50 latency of ok operations may grow by this much.
    pub max_p50_regression: f64,
    /// p99 latency (overall, during faults and without) may grow by this much.
    pub max_p99_regression: f64,
    /// p99.9 latency may grow by this much.
    pub max_p999_regression: f64,
    /// Throughput may drop by this much.
    pub max_throughput_drop: f64,
    /// The slowest recovery after a fault may grow by this much.
    pub max_recovery_regression: f64,
    /// The view changes may grow by this much.
    pub max_view_change_increase: f64,
    /// Latency moves below this many ms never count.
    pub min_latency_delta_ms: f64,
    /// Recovery moves below this many ms never count.
    pub min_recovery_delta_ms: f64,
    /// View-change increases below this count never count.
    pub min_view_change_delta: f64,
}

impl Default for Thresholds {
    fn default() -> Self {
        Thresholds {
            max_p50_regression: 0.5,
            max_p99_regression: 0.2,
            max_p999_regression: 0.5,
            max_throughput_drop: 0.2,
            max_recovery_regression: 0.5,
            max_view_change_increase: 1.0,
            min_latency_delta_ms: 1.0,
            min_recovery_delta_ms: 500.0,
            min_view_change_delta: 2.0,
        }
    }
}

/// Parses `20%` or `20` (percent) into 0.2.
pub fn parse_percent(text: &str) -> Result<f64> {
    let t = text.trim().trim_end_matches('%');
    match t.parse::<f64>() {
        Ok(v) if v.is_finite() && v >= 0.0 => Ok(v / 100.0),
        _ => Err(Error::BadArgument(format!(
            "{text:?} is not a percentage (e.g. 20%)"
        ))),
    }
}

/// One compared figure.
#[derive(Debug, Clone, PartialEq)]
pub struct Row {
    /// The run (its name in a suite; `run` for two runs).
    pub run: String,
    /// The metric.
    pub metric: String,
    /// The baseline's value.
    pub base: Option<f64>,
    /// The new value.
    pub new: Option<f64>,
    /// The threshold, as text.
    pub limit: String,
    /// Whether it regressed.
    pub regression: bool,
}

/// The outcome of a comparison.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Comparison {
    /// Every figure compared.
    pub rows: Vec<Row>,
    /// Runs in only one of two suites.
    pub unmatched: Vec<String>,
}

impl Comparison {
    /// How many figures regressed.
    pub fn regressions(&self) -> usize {
        self.rows.iter().filter(|r| r.regression).count()
    }

    /// The table of what moved (every row; regressions marked).
    pub fn table(&self) -> String {
        let mut out = format!(
            "{:<36} {:<26} {:>11} {:>11} {:>9} {:>8}  status\n",
            "run", "metric", "base", "new", "change", "limit"
        );
        let f = |v: Option<f64>| v.map_or("-".to_string(), |v| format!("{v:.2}"));
        for r in &self.rows {
            let change = match (r.base, r.new) {
                (Some(b), Some(n)) if b != 0.0 => format!("{:+.1}%", (n - b) / b.abs() * 100.0),
                (Some(b), Some(n)) if b == n => "0%".into(),
                (Some(_), Some(n)) => format!("{n:+.2}"),
                _ => "-".into(),
            };
            let _ = writeln!(
                out,
                "{:<36} {:<26} {:>11} {:>11} {:>9} {:>8}  {}",
                r.run,
                r.metric,
                f(r.base),
                f(r.new),
                change,
                r.limit,
                if r.regression { "REGRESSION" } else { "ok" }
            );
        }
        for u in &self.unmatched {
            let _ = writeln!(out, "{u}");
        }
        let _ = writeln!(
            out,
            "{} figure(s) compared, {} regression(s)",
            self.rows.len(),
            self.regressions()
        );
        out
    }
}

/// What is compared of one run.
#[derive(Debug, Clone, Default)]
struct Figures {
    verdict: Option<String>,
    p50: Option<f64>,
    p99: Option<f64>,
    p999: Option<f64>,
    p99_fault: Option<f64>,
    p99_nofault: Option<f64>,
    ops_per_sec: Option<f64>,
    first_ok: Option<f64>,
    back: Option<f64>,
    view_changes: Option<f64>,
}

impl Figures {
    fn of(results: &RunRecord) -> Figures {
        let all = results.ok_latency(Phase::All);
        let legacy = |us: u64| (us > 0).then(|| us as f64 / 1000.0);
        let recovery = &results.faults.recovery;
        let max_of = |field: fn(&Recovery) -> Option<f64>| {
            recovery.iter().filter_map(field).reduce(f64::max)
        };
        Figures {
            verdict: results.verdict.map(|_| results.verdict_name().to_string()),
            p50: all
                .map(|h| h.p50)
                .or_else(|| legacy(results.latency_us.p50)),
            p99: all
                .map(|h| h.p99)
                .or_else(|| legacy(results.latency_us.p99)),
            p999: all.map(|h| h.p999),
            p99_fault: results.ok_latency(Phase::Fault).map(|h| h.p99),
            p99_nofault: results.ok_latency(Phase::NoFault).map(|h| h.p99),
            ops_per_sec: Some(results.ops_per_sec),
            first_ok: max_of(|r| r.first_ok_after_start_ms),
            back: max_of(|r| r.full_throughput_after_heal_ms),
            view_changes: (!results.faults.view_changes.is_empty()).then(|| {
                results
                    .faults
                    .view_changes
                    .iter()
                    .flatten()
                    .map(|v| *v as f64)
                    .sum()
            }),
        }
    }
}

/// Is `new` worse than `base` by more than `pct` and `floor`? (`higher_is_worse`:
/// latency; else throughput.)
fn worse(base: f64, new: f64, pct: f64, floor: f64, higher_is_worse: bool) -> bool {
    let delta = if higher_is_worse {
        new - base
    } else {
        base - new
    };
    delta > floor && delta > base.abs() * pct
}

fn rank(verdict: Option<&str>) -> u8 {
    match verdict {
        Some("valid") => 0,
        Some("unknown") => 1,
        _ => 2,
    }
}

fn compare_figures(run: &str, base: &Figures, new: &Figures, t: &Thresholds, rows: &mut Vec<Row>) {
    let pct = |p: f64| format!("{:.0}%", p * 100.0);
    let verdict_worse = rank(new.verdict.as_deref()) > rank(base.verdict.as_deref());
    rows.push(Row {
        run: run.into(),
        metric: format!(
            "verdict ({} -> {})",
            base.verdict.as_deref().unwrap_or("none"),
            new.verdict.as_deref().unwrap_or("none")
        ),
        base: Some(f64::from(rank(base.verdict.as_deref()))),
        new: Some(f64::from(rank(new.verdict.as_deref()))),
        limit: "no worse".into(),
        regression: verdict_worse,
    });
    let mut add = |metric: &str, b: Option<f64>, n: Option<f64>, p: f64, floor: f64, hiw: bool| {
        let regression = match (b, n) {
            (Some(b), Some(n)) => worse(b, n, p, floor, hiw),
            // A recovery that never came back, where the baseline's did.
            (Some(_), None) => metric.starts_with("recovery"),
            _ => false,
        };
        if b.is_some() || n.is_some() {
            rows.push(Row {
                run: run.into(),
                metric: metric.into(),
                base: b,
                new: n,
                limit: if hiw {
                    format!("+{}", pct(p))
                } else {
                    format!("-{}", pct(p))
                },
                regression,
            });
        }
    };
    let lat = t.min_latency_delta_ms;
    add(
        "p50 latency ms",
        base.p50,
        new.p50,
        t.max_p50_regression,
        lat,
        true,
    );
    add(
        "p99 latency ms",
        base.p99,
        new.p99,
        t.max_p99_regression,
        lat,
        true,
    );
    add(
        "p99.9 latency ms",
        base.p999,
        new.p999,
        t.max_p999_regression,
        lat,
        true,
    );
    add(
        "p99 latency ms, fault",
        base.p99_fault,
        new.p99_fault,
        t.max_p99_regression,
        lat,
        true,
    );
    add(
        "p99 latency ms, no fault",
        base.p99_nofault,
        new.p99_nofault,
        t.max_p99_regression,
        lat,
        true,
    );
    add(
        "throughput ops/s",
        base.ops_per_sec,
        new.ops_per_sec,
        t.max_throughput_drop,
        0.0,
        false,
    );
    let rec = t.min_recovery_delta_ms;
    add(
        "recovery: first ok ms",
        base.first_ok,
        new.first_ok,
        t.max_recovery_regression,
        rec,
        true,
    );
    add(
        "recovery: full rate ms",
        base.back,
        new.back,
        t.max_recovery_regression,
        rec,
        true,
    );
    add(
        "view changes",
        base.view_changes,
        new.view_changes,
        t.max_view_change_increase,
        t.min_view_change_delta - 1e-9,
        true,
    );
}

/// What a directory holds.
enum Kind {
    Run(Box<RunRecord>),
    Suite(SuiteSummary),
}

fn kind(dir: &Path) -> Result<Kind> {
    if !dir.is_dir() {
        return Err(Error::NotARun {
            path: dir.to_path_buf(),
            why: "no such directory".into(),
        });
    }
    if dir.join(SUMMARY).is_file() {
        return Ok(Kind::Suite(SuiteSummary::load(dir)?));
    }
    if dir.join(RESULTS_FILE).is_file() {
        return Ok(Kind::Run(Box::new(read_record(&dir.join(RESULTS_FILE))?)));
    }
    Err(Error::NotARun {
        path: dir.to_path_buf(),
        why: "neither a run directory (results.json) nor a suite directory (summary.json)".into(),
    })
}

/// Compares `new` against `base`: two run directories or two suite directories.
pub fn compare(base: &Path, new: &Path, t: &Thresholds) -> Result<Comparison> {
    let mut out = Comparison::default();
    match (kind(base)?, kind(new)?) {
        (Kind::Run(b), Kind::Run(n)) => {
            compare_figures("run", &Figures::of(&b), &Figures::of(&n), t, &mut out.rows);
        }
        (Kind::Suite(b), Kind::Suite(n)) => {
            for nr in &n.runs {
                let Some(br) = b.runs.iter().find(|r| r.name == nr.name) else {
                    out.unmatched
                        .push(format!("{}: not in the baseline suite", nr.name));
                    continue;
                };
                let figures = |root: &Path, dir: &Option<String>| -> Figures {
                    dir.as_ref()
                        .and_then(|d| read_record(&root.join(d).join(RESULTS_FILE)).ok())
                        .map_or_else(Figures::default, |r| Figures::of(&r))
                };
                let mut bf = figures(base, &br.dir);
                let mut nf = figures(new, &nr.dir);
                bf.verdict = Some(br.verdict.clone());
                nf.verdict = Some(nr.verdict.clone());
                compare_figures(&nr.name, &bf, &nf, t, &mut out.rows);
            }
            for br in &b.runs {
                if !n.runs.iter().any(|r| r.name == br.name) {
                    out.unmatched
                        .push(format!("{}: in the baseline suite only", br.name));
                }
            }
        }
        _ => {
            return Err(Error::NotARun {
                path: new.to_path_buf(),
                why: format!(
                    "cannot compare with {}: one is a run, the other a suite",
                    base.display()
                ),
            })
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn run_dir(
        root: &Path,
        name: &str,
        p99: f64,
        ops: f64,
        back: f64,
        verdict: &str,
    ) -> std::path::PathBuf {
        let dir = root.join(name);
        std::fs::create_dir_all(&dir).unwrap();
        let results = json!({
            "verdict": verdict,
            "ops_per_sec": ops,
            "latency_us": {"p50": 8000, "p99": (p99 * 1000.0) as u64},
            "latency_histograms": [
                {"f": "all", "outcome": "ok", "phase": "all", "p50": 8.0, "p99": p99, "p999": p99 * 2.0},
            ],
            "faults": {"view_changes": [1, 1, 1, 1], "recovery": [
                {"fault": "start-partition", "what": {}, "start": 1_000_000_000u64,
                 "stop": 2_000_000_000u64, "pre_fault_ops_per_sec": ops,
                 "first_ok_after_start_ms": 900.0, "full_throughput_after_heal_ms": back}]}
        });
        std::fs::write(dir.join("results.json"), results.to_string()).unwrap();
        dir
    }

    #[test]
    fn a_made_up_regression_is_caught_and_noise_is_not() {
        let tmp = tempfile::tempdir().unwrap();
        let base = run_dir(tmp.path(), "base", 20.0, 50.0, 1000.0, "valid");
        let same = run_dir(tmp.path(), "same", 22.0, 48.0, 1200.0, "valid");
        let slow = run_dir(tmp.path(), "slow", 30.0, 35.0, 4000.0, "valid");
        let t = Thresholds::default();
        let ok = compare(&base, &same, &t).unwrap();
        assert_eq!(ok.regressions(), 0, "{}", ok.table());
        let bad = compare(&base, &slow, &t).unwrap();
        let moved: Vec<&str> = bad
            .rows
            .iter()
            .filter(|r| r.regression)
            .map(|r| r.metric.as_str())
            .collect();
        assert_eq!(
            moved,
            [
                "p99 latency ms",
                "throughput ops/s",
                "recovery: full rate ms"
            ],
            "{}",
            bad.table()
        );
        // Looser thresholds let the same run pass.
        let loose = Thresholds {
            max_p99_regression: 0.6,
            max_throughput_drop: 0.5,
            max_recovery_regression: 4.0,
            ..Thresholds::default()
        };
        assert_eq!(compare(&base, &slow, &loose).unwrap().regressions(), 0);
        let invalid = run_dir(tmp.path(), "invalid", 20.0, 50.0, 1000.0, "invalid");
        assert_eq!(compare(&base, &invalid, &t).unwrap().regressions(), 1);
    }

    #[test]
    fn missing_and_foreign_directories_are_errors() {
        let tmp = tempfile::tempdir().unwrap();
        let base = run_dir(tmp.path(), "base", 20.0, 50.0, 1000.0, "valid");
        let t = Thresholds::default();
        assert!(matches!(
            compare(&base, &tmp.path().join("nope"), &t),
            Err(Error::NotARun { .. })
        ));
        assert!(matches!(
            compare(&base, tmp.path(), &t),
            Err(Error::NotARun { .. })
        ));
        assert_eq!(parse_percent("20%").unwrap(), 0.2);
        assert!(parse_percent("x%").is_err());
        assert!(parse_percent("-3").is_err());
    }
}
