//! What the [`crate::Runner`] needs from the harness: control of the replica
//! processes, and somewhere to record what it did.

use crate::error::Result;

/// The replica processes.
pub trait Processes: Send + Sync {
    /// SIGKILL replica `i` and reap it (its exit is the nemesis's doing).
    fn kill(&self, i: usize) -> Result<()>;
    /// Start replica `i` again on its data directory.
    fn start(&self, i: usize) -> Result<()>;
    /// SIGSTOP replica `i`.
    fn pause(&self, i: usize) -> Result<()>;
    /// SIGCONT replica `i`.
    fn resume(&self, i: usize) -> Result<()>;
}

/// Where the runner reports.
pub trait Observer: Send + Sync {
    /// Records one nemesis operation in the history (`f` in Jepsen's vocabulary:
    /// `start-partition`, `kill`, `bump-clock`, ...; `value` says exactly what was done).
    fn record(&self, f: &str, value: serde_json::Value);
    /// The faults in force now ("none" when healed), for the progress display.
    fn in_force(&self, faults: &str);
    /// Replica `replica` is lost: the nemesis could not start it again (a heal's or a
    /// rolling restart's start failed), or once started it did not answer `/status`
    /// within the restart wait. The nemesis does not try it again; `reason` says what
    /// happened. Also recorded as a `replica-lost` op. By default, nothing more.
    fn replica_lost(&self, replica: usize, reason: &str) {
        let _ = (replica, reason);
    }
}
