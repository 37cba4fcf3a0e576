//! The run's SVG plots: every operation's latency (log scale), latency quantiles over
//! time, throughput over time with the recovery figures marked, and the clock offsets
//! when clock faults ran. Every plot shades each fault period in its family's colour.

use crate::palette::{fault_color, fault_family, op_color};
use crate::record::RunRecord;
use crate::run_data::{outcome_name, RunData};
use crate::svg::{Axis, Chart};
use checker::{OpType, Process};
use serde_json::Value;
use std::collections::BTreeMap;

/// A rendered plot: its file name and SVG text.
#[derive(Debug, Clone)]
pub struct Plot {
    /// The file name in the run directory (`latency-raw.svg`, ...).
    pub file: &'static str,
    /// A one-line caption.
    pub caption: &'static str,
    /// The SVG document.
    pub svg: String,
}

/// Every plot of a run: latency-raw, latency-quantiles, rate, and clock when clock
/// faults ran.
pub fn plots(run: &RunData) -> Vec<Plot> {
    let mut out = vec![
        Plot {
            file: "latency-raw.svg",
            caption: "Latency of every operation by kind and outcome (log scale)",
            svg: latency_raw(run),
        },
        Plot {
            file: "latency-quantiles.svg",
            caption: "Latency quantiles of ok operations over time",
            svg: latency_quantiles(run),
        },
        Plot {
            file: "rate.svg",
            caption: "Throughput over time, with the recovery figures of each fault",
            svg: rate(run),
        },
    ];
    if let Some(svg) = clock(run) {
        out.push(Plot {
            file: "clock.svg",
            caption: "Replica clock offsets set by the nemesis",
            svg,
        });
    }
    out
}

fn time_axis(run: &RunData) -> Axis {
    Axis::linear("time (s)", 0.0, run.seconds().max(1.0))
}

/// Shades every fault window.
fn shade_faults(chart: &mut Chart, run: &RunData) {
    for w in &run.faults {
        let family = fault_family(&w.fault);
        let stop = w.stop.unwrap_or(run.end);
        chart.shade(
            w.start as f64 / 1e9,
            stop as f64 / 1e9,
            fault_color(family),
            family,
            &format!("{} {}", w.fault, w.what),
        );
    }
}

/// Width of the time bins of the over-time plots: 1 s, or wider so there are at most
/// 300 bins.
fn bin_seconds(run: &RunData) -> f64 {
    (run.seconds() / 300.0).ceil().max(1.0)
}

fn latency_raw(run: &RunData) -> String {
    let mut series: BTreeMap<(String, &str), Vec<(f64, f64)>> = BTreeMap::new();
    let (mut lo, mut hi) = (f64::MAX, 0.0f64);
    for s in &run.spans {
        let (Some(end), Some(ms)) = (s.end, s.latency_ms()) else {
            continue;
        };
        lo = lo.min(ms);
        hi = hi.max(ms);
        series
            .entry((s.f.clone(), outcome_name(s.outcome)))
            .or_default()
            .push((end as f64 / 1e9, ms));
    }
    if lo == f64::MAX {
        lo = 1.0;
    }
    let mut chart = Chart::new(
        "Latency, every operation",
        time_axis(run),
        Axis::log("latency (ms)", lo, hi),
    );
    shade_faults(&mut chart, run);
    for ((f, outcome), points) in &series {
        chart.points(points, op_color(f, outcome), &format!("{f} {outcome}"));
    }
    chart.finish()
}

/// The `q` quantile of sorted values.
fn quantile(sorted: &[f64], q: f64) -> f64 {
    let i = ((sorted.len() as f64 - 1.0) * q).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

fn latency_quantiles(run: &RunData) -> String {
    let bin = bin_seconds(run);
    let mut bins: BTreeMap<u64, Vec<f64>> = BTreeMap::new();
    for s in run.spans.iter().filter(|s| s.outcome == OpType::Ok) {
        if let (Some(end), Some(ms)) = (s.end, s.latency_ms()) {
            bins.entry((end as f64 / 1e9 / bin) as u64)
                .or_default()
                .push(ms);
        }
    }
    /// A quantile line: name, quantile, colour, points.
    type QuantileLine = (&'static str, f64, &'static str, Vec<(f64, f64)>);
    let mut lines: [QuantileLine; 4] = [
        ("p50", 0.5, "#1f77b4", Vec::new()),
        ("p90", 0.9, "#2ca02c", Vec::new()),
        ("p99", 0.99, "#ff7f0e", Vec::new()),
        ("max", 1.0, "#d62728", Vec::new()),
    ];
    let (mut lo, mut hi) = (f64::MAX, 0.0f64);
    let mut previous: Option<u64> = None;
    for (b, values) in &mut bins {
        // A bin with no ok operation (the cluster stalled) breaks the lines.
        if previous.is_some_and(|p| p + 1 < *b) {
            for (_, _, _, points) in &mut lines {
                points.push(((*b as f64) * bin, f64::NAN));
            }
        }
        previous = Some(*b);
        values.sort_by(f64::total_cmp);
        let x = (*b as f64 + 0.5) * bin;
        for (_, q, _, points) in &mut lines {
            let v = quantile(values, *q);
            lo = lo.min(v);
            hi = hi.max(v);
            points.push((x, v));
        }
    }
    if lo == f64::MAX {
        lo = 1.0;
    }
    let mut chart = Chart::new(
        &format!("Latency quantiles of ok operations per {bin} s"),
        time_axis(run),
        Axis::log("latency (ms)", lo, hi),
    );
    shade_faults(&mut chart, run);
    for (name, _, color, points) in &lines {
        chart.line(points, color, name);
    }
    chart.finish()
}

fn rate(run: &RunData) -> String {
    let bin = bin_seconds(run);
    let n_bins = (run.seconds() / bin).ceil() as usize + 1;
    let mut counts: BTreeMap<&str, Vec<f64>> = BTreeMap::new();
    for s in &run.spans {
        let Some(end) = s.end else { continue };
        let b = ((end as f64 / 1e9) / bin) as usize;
        let row = counts
            .entry(outcome_name(s.outcome))
            .or_insert_with(|| vec![0.0; n_bins]);
        if let Some(c) = row.get_mut(b) {
            *c += 1.0 / bin;
        }
    }
    let hi = counts
        .values()
        .flat_map(|v| v.iter().copied())
        .fold(1.0, f64::max);
    let mut chart = Chart::new(
        &format!("Throughput (completions per second, {bin} s bins)"),
        time_axis(run),
        Axis::linear("ops/s", 0.0, hi * 1.1),
    );
    shade_faults(&mut chart, run);
    for (outcome, row) in &counts {
        let points: Vec<(f64, f64)> = row
            .iter()
            .enumerate()
            .map(|(i, v)| ((i as f64 + 0.5) * bin, *v))
            .collect();
        let color = match *outcome {
            "ok" => "#1f77b4",
            "fail" => "#ff7f0e",
            _ => "#d62728",
        };
        chart.line(&points, color, outcome);
    }
    for r in recoveries(run.results.as_ref()) {
        if let Some(ms) = r.first_ok_ms {
            chart.mark(
                r.start + ms / 1000.0,
                "#444",
                &format!("first ok +{ms:.0} ms"),
                "first ok after fault start",
            );
        }
        if let (Some(stop), Some(ms)) = (r.stop, r.back_ms) {
            chart.mark(
                stop + ms / 1000.0,
                "#000",
                &format!("back +{ms:.0} ms"),
                "full throughput after heal",
            );
        }
    }
    chart.finish()
}

/// One fault's recovery figures from results.json (seconds, ms).
#[derive(Debug, Clone, PartialEq)]
pub struct RecoveryMark {
    /// The fault's start operation.
    pub fault: String,
    /// Start, s.
    pub start: f64,
    /// Heal, s.
    pub stop: Option<f64>,
    /// Start to first ok, ms.
    pub first_ok_ms: Option<f64>,
    /// Heal to full throughput, ms.
    pub back_ms: Option<f64>,
}

/// The recovery figures of a run (`faults.recovery` of its record; none without one).
pub fn recoveries(results: Option<&RunRecord>) -> Vec<RecoveryMark> {
    let Some(results) = results else {
        return Vec::new();
    };
    results
        .faults
        .recovery
        .iter()
        .map(|r| RecoveryMark {
            fault: r.window.fault.clone(),
            start: r.window.start as f64 / 1e9,
            stop: r.window.stop.map(|v| v as f64 / 1e9),
            first_ok_ms: r.first_ok_after_start_ms,
            back_ms: r.full_throughput_after_heal_ms,
        })
        .collect()
}

/// Clock offsets per node from the clock nemesis operations; `None` without any.
fn clock(run: &RunData) -> Option<String> {
    let clock_ops: Vec<_> = run
        .ops
        .iter()
        .filter(|o| o.process == Process::Nemesis && o.f.ends_with("-clock"))
        .collect();
    if clock_ops.is_empty() {
        return None;
    }
    // Per node: (time s, offset ms) breakpoints; a rate fault grows linearly.
    let mut lines: BTreeMap<u64, Vec<(f64, f64)>> = BTreeMap::new();
    let mut rates: BTreeMap<u64, (f64, f64, f64)> = BTreeMap::new();
    let (mut lo, mut hi) = (0.0f64, 1.0f64);
    for op in &clock_ops {
        let t = op.time as f64 / 1e9;
        let nodes: Vec<u64> = match op.value["nodes"].as_array() {
            Some(a) => a.iter().filter_map(Value::as_u64).collect(),
            None => lines.keys().copied().collect(),
        };
        for node in nodes {
            let line = lines.entry(node).or_insert_with(|| vec![(0.0, 0.0)]);
            let current = match rates.remove(&node) {
                Some((t0, off0, rate)) => off0 + (rate - 1.0) * (t - t0) * 1000.0,
                None => line.last().map_or(0.0, |p| p.1),
            };
            line.push((t, current));
            let next = match op.f.as_str() {
                "bump-clock" | "strobe-clock" => op.value["delta_ms"].as_f64().unwrap_or(0.0),
                "rate-clock" => {
                    rates.insert(node, (t, current, op.value["rate"].as_f64().unwrap_or(1.0)));
                    current
                }
                _ => 0.0,
            };
            line.push((t, next));
            lo = lo.min(current.min(next));
            hi = hi.max(current.max(next));
        }
    }
    let end = run.seconds();
    for (node, line) in &mut lines {
        let last = line.last().map_or(0.0, |p| p.1);
        let v = match rates.get(node) {
            Some((t0, off0, rate)) => off0 + (rate - 1.0) * (end - t0) * 1000.0,
            None => last,
        };
        lo = lo.min(v);
        hi = hi.max(v);
        line.push((end, v));
    }
    let pad = (hi - lo).max(1.0) * 0.1;
    let mut chart = Chart::new(
        "Clock offsets (strobe drawn at its amplitude)",
        time_axis(run),
        Axis::linear("offset (ms)", lo - pad, hi + pad),
    );
    shade_faults(&mut chart, run);
    let colors = [
        "#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2",
    ];
    for (node, line) in &lines {
        chart.line(
            line,
            colors[*node as usize % colors.len()],
            &format!("replica {node}"),
        );
    }
    Some(chart.finish())
}
