//! Progress while a run goes: a bar on a terminal, a plain line every 5 s otherwise,
//! nothing in CI.

use super::nemesis::CurrentFault;
use super::recorder::RecorderHandle;
use super::shutdown::{stop_flag, StopSender};
use crate::config::ProgressMode;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use std::io::IsTerminal;
use std::time::Duration;
use tokio::task::JoinHandle;

/// The running display; [`Progress::finish`] clears it.
#[derive(Debug)]
pub(crate) struct Progress {
    stop: StopSender,
    task: Option<JoinHandle<()>>,
}

/// What `auto` means: a bar on a terminal, nothing when `CI` is set, plain lines
/// otherwise (for `run`, and for `explore`'s progress).
pub(crate) fn resolve(mode: ProgressMode) -> ProgressMode {
    if mode != ProgressMode::Auto {
        return mode;
    }
    let ci = std::env::var("CI").is_ok_and(|v| !v.is_empty() && v != "false" && v != "0");
    if ci {
        ProgressMode::None
    } else if std::io::stderr().is_terminal() {
        ProgressMode::Bar
    } else {
        ProgressMode::Plain
    }
}

/// One status line: rate, outcome counts and the fault in force.
fn status(recorder: &RecorderHandle, fault: &CurrentFault) -> String {
    let total = recorder.totals();
    let secs = recorder.elapsed().as_secs_f64().max(1e-3);
    format!(
        "{:.1} ops/s  ok {}  fail {}  info {}  fault: {}",
        total.completed() as f64 / secs,
        total.ok,
        total.fail,
        total.info,
        fault.get()
    )
}

impl Progress {
    /// Starts showing progress of a run of `time_limit` seconds.
    pub(crate) fn start(
        mode: ProgressMode,
        recorder: RecorderHandle,
        fault: CurrentFault,
        time_limit: u64,
    ) -> Progress {
        let (stop, mut stopped) = stop_flag();
        let task = match resolve(mode) {
            ProgressMode::None | ProgressMode::Auto => None,
            ProgressMode::Bar => {
                let bar = ProgressBar::with_draw_target(
                    Some(time_limit),
                    ProgressDrawTarget::stderr_with_hz(5),
                );
                bar.set_style(
                    ProgressStyle::with_template(
                        "{elapsed_precise} [{bar:24}] {pos}/{len} s  {msg}",
                    )
                    .unwrap_or_else(|_| ProgressStyle::default_bar())
                    .progress_chars("=> "),
                );
                Some(tokio::spawn(async move {
                    loop {
                        bar.set_position(recorder.elapsed().as_secs().min(time_limit));
                        bar.set_message(status(&recorder, &fault));
                        // Stop first; otherwise redraw every 200 ms.
                        tokio::select! {
                            biased;
                            _ = stopped.wait() => break,
                            _ = tokio::time::sleep(Duration::from_millis(200)) => {}
                        }
                    }
                    bar.finish_and_clear();
                }))
            }
            ProgressMode::Plain => Some(tokio::spawn(async move {
                loop {
                    // Stop first; otherwise print a line every 5 s.
                    tokio::select! {
                        biased;
                        _ = stopped.wait() => break,
                        _ = tokio::time::sleep(Duration::from_secs(5)) => {}
                    }
                    eprintln!(
                        "harness: {:>4} s  {}",
                        recorder.elapsed().as_secs(),
                        status(&recorder, &fault)
                    );
                }
            })),
        };
        Progress { stop, task }
    }

    /// Stops the display and clears the bar.
    pub(crate) async fn finish(mut self) {
        self.stop.stop();
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
    }
}
