//! The nemesis's hold on the replica processes: kill (SIGKILL, reaped at once so the
//! exit is known to be ours) and start again on the same data directory; pause
//! (SIGSTOP) and resume (SIGCONT). And the crash watch: any other exit while the run
//! goes is a crash, kept with the end of the replica's log as evidence.

use super::layout::log_tail;
use super::process::{describe_exit, signal_group};
use super::{Cluster, ReplicaExit};
use nix::sys::signal::Signal;
use serde::Serialize;
use std::sync::atomic::Ordering;
use std::time::Duration;

/// Lines of a crashed replica's log kept as evidence.
const TAIL_LINES: usize = 15;

/// A replica that exited without the nemesis killing it.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct Crash {
    /// Replica id.
    pub(crate) replica: usize,
    /// When it was noticed, seconds of history time.
    pub(crate) at_s: f64,
    /// How it ended.
    pub(crate) status: String,
    /// The end of its log.
    pub(crate) log_tail: String,
}

impl Cluster {
    /// Looks for replicas that exited on their own; `now` is the history time. Returns
    /// how many crashes are known.
    pub(crate) fn watch_crashes(&self, now: Duration) -> usize {
        if self.stopping.load(Ordering::SeqCst) {
            return self.crashes.lock().expect("crash lock poisoned").len();
        }
        let mut found = Vec::new();
        {
            let mut slots = self.slots.lock().expect("cluster lock poisoned");
            for (i, slot) in slots.iter_mut().enumerate() {
                if let Some(child) = &mut slot.child {
                    if let Ok(Some(status)) = child.try_wait() {
                        let status = describe_exit(status);
                        slot.exit = Some(status.clone());
                        slot.child = None;
                        found.push((i, status));
                    }
                }
            }
        }
        let mut crashes = self.crashes.lock().expect("crash lock poisoned");
        for (replica, status) in found {
            tracing::error!(replica, %status, "replica exited without the nemesis killing it");
            crashes.push(Crash {
                replica,
                at_s: now.as_secs_f64(),
                status,
                log_tail: log_tail(&self.layout.log_file(replica), TAIL_LINES),
            });
        }
        crashes.len()
    }

    /// The crashes seen during the run, plus replicas that exited with an error when
    /// stopped (a clean stop is `exited 0`, or our SIGKILL after the grace period).
    pub(crate) fn crashes(&self, exits: &[ReplicaExit]) -> Vec<Crash> {
        let mut crashes = self.crashes.lock().expect("crash lock poisoned").clone();
        for e in exits {
            let failed = e.status.starts_with("exited ") && e.status != "exited 0";
            let known = crashes.iter().any(|c| c.replica == e.id);
            if failed && !known {
                crashes.push(Crash {
                    replica: e.id,
                    at_s: f64::NAN,
                    status: format!("{} when stopped", e.status),
                    log_tail: log_tail(&self.layout.log_file(e.id), TAIL_LINES),
                });
            }
        }
        crashes
    }

    /// Replica `i`'s process id, if it is running.
    fn pid_of(&self, i: usize) -> nemesis::Result<u32> {
        let slots = self.slots.lock().expect("cluster lock poisoned");
        match slots.get(i) {
            Some(slot) if slot.child.is_some() => Ok(slot.pid),
            Some(slot) => Err(nemesis::Error::Process {
                replica: i,
                reason: format!(
                    "not running ({})",
                    slot.exit.as_deref().unwrap_or("never started")
                ),
            }),
            None => Err(nemesis::Error::Process {
                replica: i,
                reason: "no such replica".into(),
            }),
        }
    }
}

impl nemesis::Processes for Cluster {
    fn kill(&self, i: usize) -> nemesis::Result<()> {
        // Look for an exit of its own first, so it is not mistaken for ours.
        self.watch_crashes(Duration::ZERO);
        let mut slots = self.slots.lock().expect("cluster lock poisoned");
        let slot = slots.get_mut(i).ok_or(nemesis::Error::Process {
            replica: i,
            reason: "no such replica".into(),
        })?;
        let Some(mut child) = slot.child.take() else {
            return Ok(());
        };
        signal_group(slot.pid, Signal::SIGKILL);
        let status = child.wait().map_err(|e| nemesis::Error::Process {
            replica: i,
            reason: format!("cannot reap after SIGKILL: {e}"),
        })?;
        slot.exit = Some(format!("{} (nemesis)", describe_exit(status)));
        Ok(())
    }

    fn start(&self, i: usize) -> nemesis::Result<()> {
        if self.pid_of(i).is_ok() {
            return Ok(());
        }
        self.spawn(i, 1).map_err(|e| nemesis::Error::Process {
            replica: i,
            reason: format!("{e:#}"),
        })
    }

    fn pause(&self, i: usize) -> nemesis::Result<()> {
        let pid = self.pid_of(i)?;
        signal_group(pid, Signal::SIGSTOP);
        Ok(())
    }

    fn resume(&self, i: usize) -> nemesis::Result<()> {
        let pid = self.pid_of(i)?;
        signal_group(pid, Signal::SIGCONT);
        Ok(())
    }
}
