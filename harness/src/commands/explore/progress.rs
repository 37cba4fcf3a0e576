//! Progress of a search on stderr: a bar on a terminal, a plain line every 5 s
//! otherwise, nothing in CI. Updated between batches (a batch takes about a second).

use crate::config::ProgressMode;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use std::time::{Duration, Instant};

/// Between two plain lines.
const PLAIN_EVERY: Duration = Duration::from_secs(5);

/// What the search has done so far.
#[derive(Debug, Clone, Copy, Default)]
pub(super) struct Status {
    /// Schedules run.
    pub(super) runs: u64,
    /// Coverage points reached.
    pub(super) points: usize,
    /// Corpus entries.
    pub(super) corpus: usize,
    /// Runs with an invalid verdict.
    pub(super) violations: u64,
}

impl Status {
    fn line(&self, elapsed: Duration) -> String {
        let secs = elapsed.as_secs_f64().max(1e-3);
        format!(
            "{} schedules  {:.1}/s  coverage {}  corpus {}  violations {}",
            self.runs,
            self.runs as f64 / secs,
            self.points,
            self.corpus,
            self.violations
        )
    }
}

/// The display.
#[derive(Debug)]
pub(super) struct Progress {
    bar: Option<ProgressBar>,
    plain: bool,
    start: Instant,
    last_line: Instant,
}

impl Progress {
    /// Starts the display of a search of `budget`.
    pub(super) fn start(mode: ProgressMode, budget: Duration) -> Progress {
        let mode = crate::run::progress::resolve(mode);
        let bar = (mode == ProgressMode::Bar).then(|| {
            let bar = ProgressBar::with_draw_target(
                Some(budget.as_secs().max(1)),
                ProgressDrawTarget::stderr_with_hz(4),
            );
            bar.set_style(
                ProgressStyle::with_template("{elapsed_precise} [{bar:24}] {msg}")
                    .unwrap_or_else(|_| ProgressStyle::default_bar())
                    .progress_chars("=> "),
            );
            bar
        });
        let now = Instant::now();
        Progress {
            bar,
            plain: mode == ProgressMode::Plain,
            start: now,
            last_line: now,
        }
    }

    /// Time since the start.
    pub(super) fn elapsed(&self) -> Duration {
        self.start.elapsed()
    }

    /// Shows `status`.
    pub(super) fn update(&mut self, status: Status) {
        let elapsed = self.elapsed();
        if let Some(bar) = &self.bar {
            bar.set_position(elapsed.as_secs());
            bar.set_message(status.line(elapsed));
        } else if self.plain && self.last_line.elapsed() >= PLAIN_EVERY {
            self.last_line = Instant::now();
            eprintln!(
                "harness explore: {:>5} s  {}",
                elapsed.as_secs(),
                status.line(elapsed)
            );
        }
    }

    /// Prints a line (above the bar, if there is one).
    pub(super) fn note(&self, line: &str) {
        match &self.bar {
            Some(bar) => bar.println(line),
            None => eprintln!("{line}"),
        }
    }

    /// Clears the bar.
    pub(super) fn finish(&self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }
}
