//! What the core asks the shell to persist before the messages that depend on it
//! leave, and the snapshot written at a stable checkpoint.

use serde::{Deserialize, Serialize};

use crate::crypto::{Digest, Signed};
use crate::messages::{Checkpoint, Commit, PrePrepareMsg, Prepare, Seq, View};
use crate::state_machine::KvStore;

/// One write-ahead-log record.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
#[serde(tag = "record", rename_all = "kebab-case")]
pub enum Record {
    /// A PRE-PREPARE this replica sent (primary) or accepted (backup).
    PrePrepare(PrePrepareMsg),
    /// A PREPARE this replica sent.
    Prepare(Signed<Prepare>),
    /// A COMMIT this replica sent.
    Commit(Signed<Commit>),
    /// A CHECKPOINT this replica sent.
    Checkpoint(Signed<Checkpoint>),
    /// The batch at `seq` was executed (replies are only sent after this record).
    Executed {
        /// Sequence number.
        seq: Seq,
        /// Batch digest.
        digest: Digest,
    },
    /// A checkpoint became stable: persist the snapshot and drop records up to it.
    Stable(Box<Snapshot>),
}

impl Record {
    /// The sequence number the record belongs to.
    pub fn seq(&self) -> Seq {
        match self {
            Record::PrePrepare(m) => m.header.body.seq,
            Record::Prepare(m) => m.body.seq,
            Record::Commit(m) => m.body.seq,
            Record::Checkpoint(m) => m.body.seq,
            Record::Executed { seq, .. } => *seq,
            Record::Stable(s) => s.seq,
        }
    }
}

/// The state at a stable checkpoint, with its proof.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct Snapshot {
    /// Checkpoint sequence number (the new low watermark).
    pub seq: Seq,
    /// Digest of `state`.
    pub state_digest: Digest,
    /// The state machine after executing `seq`.
    pub state: KvStore,
    /// 2f+1 matching signed CHECKPOINT messages.
    pub proof: Vec<Signed<Checkpoint>>,
    /// The replica's view when the checkpoint became stable.
    pub view: View,
}
