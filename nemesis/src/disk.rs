//! Disk faults: what the `disk` and `power-loss-all` families do to a replica's data
//! directory through the harness's FUSE layer (`diskfault`), which keeps every write
//! that was not fsynced in memory.
//!
//! | action | start | heal |
//! |---|---|---|
//! | `power-loss` | SIGKILL the targets, drop their unsynced writes | restart |
//! | `torn-write` | as `power-loss`, but the last unsynced write to `file` keeps a prefix | restart |
//! | `corrupt` | SIGKILL the targets, damage a byte range of `file` at rest | restart |
//! | `read-error` | SIGKILL the targets, reads of `file` fail with EIO, restart | passthrough, restart if down |
//!
//! A replica that refuses to start on the heal's restart (it found a corrupt record and
//! exits rather than run from it) is recovered the way an operator would: its data
//! directory is set aside and it starts empty, catching up from its peers (it counts
//! as one of the f faulty replicas meanwhile). Every step is a history op.

use crate::error::{Error, Result};
use serde::Serialize;
use std::str::FromStr;

/// A file of a replica's data directory.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum DiskFile {
    /// `wal.jsonl`: the write-ahead records after the stable checkpoint.
    Wal,
    /// `snapshot.json`: the last stable checkpoint's state.
    Snapshot,
    /// `history.jsonl`: every executed batch's `{seq, digest}`.
    History,
}

impl DiskFile {
    /// Every file.
    pub const ALL: [DiskFile; 3] = [DiskFile::Wal, DiskFile::Snapshot, DiskFile::History];

    /// The name in specs.
    pub fn name(self) -> &'static str {
        match self {
            DiskFile::Wal => "wal",
            DiskFile::Snapshot => "snapshot",
            DiskFile::History => "history",
        }
    }

    /// The file's name in the data directory.
    pub fn file_name(self) -> &'static str {
        match self {
            DiskFile::Wal => "wal.jsonl",
            DiskFile::Snapshot => "snapshot.json",
            DiskFile::History => "history.jsonl",
        }
    }
}

impl FromStr for DiskFile {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        DiskFile::ALL
            .into_iter()
            .find(|f| f.name() == s)
            .ok_or_else(|| Error::spec(s, "unknown file; expected wal, snapshot or history"))
    }
}

/// How `corrupt` damages its byte range.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum CorruptMode {
    /// Every bit inverted.
    FlipBits,
    /// The lowest bit of each byte inverted (text stays text).
    FlipLowBit,
    /// Overwritten with zeros.
    Zero,
    /// The file cut at the range's start.
    Truncate,
}

impl CorruptMode {
    /// Every mode.
    pub const ALL: [CorruptMode; 4] = [
        CorruptMode::FlipBits,
        CorruptMode::FlipLowBit,
        CorruptMode::Zero,
        CorruptMode::Truncate,
    ];

    /// The name in specs.
    pub fn name(self) -> &'static str {
        match self {
            CorruptMode::FlipBits => "flip-bits",
            CorruptMode::FlipLowBit => "flip-low-bit",
            CorruptMode::Zero => "zero",
            CorruptMode::Truncate => "truncate",
        }
    }
}

impl FromStr for CorruptMode {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        CorruptMode::ALL
            .into_iter()
            .find(|m| m.name() == s)
            .ok_or_else(|| {
                Error::spec(
                    s,
                    "unknown corruption; expected flip-bits, flip-low-bit, zero or truncate",
                )
            })
    }
}

/// What a disk fault does to each target (see the module doc).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case", tag = "action")]
pub enum DiskFault {
    /// Power loss: SIGKILL, and every unsynced write dropped.
    PowerLoss,
    /// Power loss in the middle of the last unsynced write to `file`: `keep_bytes` of
    /// it persist.
    TornWrite {
        /// The file.
        file: DiskFile,
        /// How many bytes of the last unsynced write persist.
        keep_bytes: usize,
    },
    /// Damage at rest, while the replica is down.
    Corrupt {
        /// The file.
        file: DiskFile,
        /// How.
        mode: CorruptMode,
        /// First byte (default: chosen by the seed within the durable file).
        offset: Option<u64>,
        /// Bytes damaged.
        len: u64,
    },
    /// Reads of `file` fail with EIO until healed; the targets restart into it.
    ReadError {
        /// The file.
        file: DiskFile,
    },
}

impl DiskFault {
    /// Jepsen's name for the start op (and the spec's `action`).
    pub fn name(&self) -> &'static str {
        match self {
            DiskFault::PowerLoss => "lose-unsynced",
            DiskFault::TornWrite { .. } => "torn-write",
            DiskFault::Corrupt { .. } => "corrupt",
            DiskFault::ReadError { .. } => "read-error",
        }
    }

    /// The action's name in schedule files.
    pub fn action(&self) -> &'static str {
        match self {
            DiskFault::PowerLoss => "power-loss",
            other => other.name(),
        }
    }

    /// A short description.
    pub fn describe(&self) -> String {
        match self {
            DiskFault::PowerLoss => "power loss".into(),
            DiskFault::TornWrite { file, keep_bytes } => {
                format!("torn write of {} ({keep_bytes} B kept)", file.name())
            }
            DiskFault::Corrupt {
                file,
                mode,
                offset,
                len,
            } => match offset {
                Some(at) => format!("corrupt {} {} {at}+{len}", file.name(), mode.name()),
                None => format!("corrupt {} {} {len} B", file.name(), mode.name()),
            },
            DiskFault::ReadError { file } => format!("read errors on {}", file.name()),
        }
    }

    /// Checks the values.
    pub fn validate(&self) -> Result<()> {
        match self {
            DiskFault::Corrupt { len: 0, .. } => Err(Error::spec(
                "0",
                "a corruption needs at least 1 byte (`len`)",
            )),
            _ => Ok(()),
        }
    }
}

/// The history op that heals every disk fault.
pub const HEAL_DISK: &str = "heal-disk";
