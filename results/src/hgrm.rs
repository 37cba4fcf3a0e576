//! HdrHistogram's percentile-distribution text format (`.hgrm`), as Java's
//! `Histogram.outputPercentileDistribution` writes it and HdrHistogram's plotter
//! (`plotFiles.html`) reads it: a header, one line per percentile tick (value, percentile,
//! total count, 1/(1-percentile)), and a footer with mean, deviation, max and count.

use hdrhistogram::Histogram;
use std::fmt::Write;

/// Percentile ticks per half-distance to 100%, as in HdrHistogram's default output.
pub const TICKS_PER_HALF_DISTANCE: u32 = 5;

/// The percentile distribution of `h`, its values divided by `scale` (e.g. 1000.0 to
/// print microsecond recordings in milliseconds), with three decimals.
pub fn percentile_distribution(h: &Histogram<u64>, scale: f64) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{:>12} {:>14} {:>10} {:>14}\n",
        "Value", "Percentile", "TotalCount", "1/(1-Percentile)"
    );
    let mut total = 0u64;
    if !h.is_empty() {
        for v in h.iter_quantiles(TICKS_PER_HALF_DISTANCE) {
            total += v.count_since_last_iteration();
            let value = v.value_iterated_to() as f64 / scale;
            let q = v.quantile_iterated_to();
            if q < 1.0 {
                let _ = writeln!(
                    out,
                    "{value:>12.3} {q:>2.12} {total:>10} {:>14.2}",
                    1.0 / (1.0 - q)
                );
            } else {
                let _ = writeln!(out, "{value:>12.3} {q:>1.12} {total:>10}");
            }
        }
    }
    let (mean, stdev, max) = if h.is_empty() {
        (0.0, 0.0, 0.0)
    } else {
        (h.mean() / scale, h.stdev() / scale, h.max() as f64 / scale)
    };
    let sub_buckets = (2.0 * 10f64.powi(i32::from(h.sigfig())))
        .log2()
        .ceil()
        .exp2() as u64;
    let _ = writeln!(
        out,
        "#[Mean    = {mean:>12.3}, StdDeviation   = {stdev:>12.3}]"
    );
    let _ = writeln!(
        out,
        "#[Max     = {max:>12.3}, Total count    = {:>12}]",
        h.len()
    );
    let _ = writeln!(
        out,
        "#[Buckets = {:>12}, SubBuckets     = {sub_buckets:>12}]",
        h.buckets()
    );
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn histogram() -> Histogram<u64> {
        Histogram::new_with_bounds(1, 3_600_000_000, 3).unwrap()
    }

    /// Parses the body lines back: (value, percentile, total count).
    fn rows(text: &str) -> Vec<(f64, f64, u64)> {
        text.lines()
            .skip(2)
            .take_while(|l| !l.starts_with('#'))
            .map(|l| {
                let w: Vec<&str> = l.split_whitespace().collect();
                (
                    w[0].parse().unwrap(),
                    w[1].parse().unwrap(),
                    w[2].parse().unwrap(),
                )
            })
            .collect()
    }

    #[test]
    fn one_to_a_thousand_ms() {
        let mut h = histogram();
        for ms in 1..=1000u64 {
            h.record(ms * 1000).unwrap();
        }
        let text = percentile_distribution(&h, 1000.0);
        assert!(text.starts_with("       Value     Percentile TotalCount 1/(1-Percentile)\n\n"));
        let rows = rows(&text);
        // The first tick is the smallest value at percentile 0, the last is the max at 1.
        assert_eq!(rows[0], (1.0, 0.0, 1));
        let last = rows.last().unwrap();
        assert_eq!((last.1, last.2), (1.0, 1000));
        assert!((last.0 - 1000.0).abs() <= 1.0, "{last:?}");
        // The median tick: 500 ms (within the histogram's 3 significant figures).
        let median = rows.iter().find(|r| r.1 >= 0.5).unwrap();
        assert!((median.0 - 500.0).abs() <= 0.5, "{median:?}");
        assert_eq!(median.2, 500);
        // Percentiles and counts only grow.
        for pair in rows.windows(2) {
            assert!(pair[0].1 <= pair[1].1 && pair[0].2 <= pair[1].2, "{pair:?}");
        }
        assert!(text.contains("#[Mean    =      500.505, StdDeviation   =      288.676]"));
        assert!(text.contains("#[Max     =     1000.447, Total count    =         1000]"));
        assert!(text.contains("SubBuckets     =         2048]"));
    }

    #[test]
    fn a_single_value_and_an_empty_histogram() {
        let mut h = histogram();
        h.record(2500).unwrap();
        let text = percentile_distribution(&h, 1000.0);
        let rows = rows(&text);
        // 2.5 ms is reported as the top of its bucket, 2.501 ms, as Java's histogram does.
        assert_eq!(rows, vec![(2.501, 0.0, 1), (2.501, 1.0, 1)]);
        assert!(
            text.contains("2.501 1.000000000000          1\n#[Mean"),
            "{text}"
        );
        let empty = percentile_distribution(&histogram(), 1000.0);
        assert!(rows_of_empty(&empty));
        assert!(empty.contains("Total count    =            0]"));
    }

    fn rows_of_empty(text: &str) -> bool {
        rows(text).is_empty()
    }
}
