//! What the [`crate::Runner`] needs from the harness: control of the replica
//! processes, and somewhere to record what it did.

use crate::disk::{CorruptMode, DiskFile};
use crate::error::{Error, Result};
use serde_json::Value;
use std::ops::Range;
use std::time::Duration;

fn no_layer(replica: usize) -> Error {
    Error::Process {
        replica,
        reason: "the run has no disk-fault layer (FUSE) under its replicas".into(),
    }
}

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

    // Disk faults, through the FUSE layer under each replica's data directory. Without
    // one (the default methods) every disk fault fails on every node.

    /// Replica `i`'s exits are the nemesis's doing while `on` (a replica that refuses
    /// to start on a damaged disk is no crash: the nemesis deals with it).
    fn disk_fault_underway(&self, i: usize, on: bool) {
        let _ = (i, on);
    }
    /// Drops every unsynced write of replica `i`'s data directory (kill it first);
    /// returns what was dropped.
    fn lose_unsynced(&self, i: usize) -> Result<Value> {
        Err(no_layer(i))
    }
    /// Power loss in the middle of the last unsynced write to `file`: `keep_bytes` of
    /// it persist, every other unsynced write is dropped; returns what was done.
    fn torn_write(&self, i: usize, file: DiskFile, keep_bytes: usize) -> Result<Value> {
        let _ = (file, keep_bytes);
        Err(no_layer(i))
    }
    /// The durable length of `file` of replica `i` (0 if it does not exist).
    fn durable_len(&self, i: usize, file: DiskFile) -> Result<u64> {
        let _ = file;
        Err(no_layer(i))
    }
    /// Damages `range` of `file` of replica `i` at rest.
    fn corrupt(
        &self,
        i: usize,
        file: DiskFile,
        range: Range<u64>,
        mode: CorruptMode,
    ) -> Result<()> {
        let _ = (file, range, mode);
        Err(no_layer(i))
    }
    /// Reads of `file` of replica `i` fail with EIO for `duration` or until healed.
    fn read_error(&self, i: usize, file: DiskFile, duration: Duration) -> Result<()> {
        let _ = (file, duration);
        Err(no_layer(i))
    }
    /// Heals the lasting disk faults of replica `i` (read errors).
    fn passthrough(&self, i: usize) -> Result<()> {
        Err(no_layer(i))
    }
    /// How replica `i` ended, if it is not running (`None` while it runs).
    fn exited(&self, i: usize) -> Option<String> {
        let _ = i;
        None
    }
    /// The last lines of replica `i`'s log (evidence of a refused start).
    fn log_tail(&self, i: usize) -> String {
        let _ = i;
        String::new()
    }
    /// Sets replica `i`'s (stopped) data aside, so it starts empty and catches up from
    /// its peers; returns where the old data went.
    fn set_aside(&self, i: usize) -> Result<Value> {
        Err(no_layer(i))
    }
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
