//! Stop flags: [`Stop`] tells tasks to wind down; [`interrupts`] turns Ctrl-C and SIGTERM
//! into one.

use anyhow::{Context, Result};
use tokio::signal::unix::{signal, SignalKind};
use tokio::sync::watch;

/// The sending half of a stop flag.
#[derive(Debug)]
pub(crate) struct StopSender {
    tx: watch::Sender<bool>,
}

/// A stop flag tasks wait on; cheap to clone.
#[derive(Debug, Clone)]
pub(crate) struct Stop {
    rx: watch::Receiver<bool>,
}

/// A new stop flag, not set.
pub(crate) fn stop_flag() -> (StopSender, Stop) {
    let (tx, rx) = watch::channel(false);
    (StopSender { tx }, Stop { rx })
}

impl StopSender {
    /// Sets the flag (idempotent).
    pub(crate) fn stop(&self) {
        self.tx.send_replace(true);
    }
}

impl Stop {
    /// Whether the flag is set.
    pub(crate) fn is_set(&self) -> bool {
        *self.rx.borrow()
    }

    /// Resolves once the flag is set (or its sender is gone, which also means stop).
    pub(crate) async fn wait(&mut self) {
        let _ = self.rx.wait_for(|stopped| *stopped).await;
    }
}

/// A stop flag set by the first SIGINT or SIGTERM. A second one exits the process at once
/// with status 255 (replicas die by their parent-death signal).
pub(crate) fn interrupts() -> Result<Stop> {
    let (sender, stop) = stop_flag();
    let mut term = signal(SignalKind::terminate()).context("cannot handle SIGTERM")?;
    let mut int = signal(SignalKind::interrupt()).context("cannot handle SIGINT")?;
    tokio::spawn(async move {
        let mut seen = 0;
        loop {
            // Whichever signal comes first; both mean "stop the run".
            let name = tokio::select! {
                _ = term.recv() => "SIGTERM",
                _ = int.recv() => "SIGINT",
            };
            seen += 1;
            if seen == 1 {
                eprintln!("harness: {name}: stopping the run (again to abort at once)");
                sender.stop();
            } else {
                eprintln!("harness: {name} again: aborting");
                std::process::exit(crate::exit::Exit::Broken.code());
            }
        }
    });
    Ok(stop)
}
