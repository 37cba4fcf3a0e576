//! What the core asks the shell to persist before the messages that depend on it
//! leave, and the snapshot written at a stable checkpoint.

use serde::{Deserialize, Serialize};

use crate::crypto::{Digest, Signed};
use crate::messages::{Checkpoint, Commit, PrePrepareMsg, Prepare, Seq, View, ViewChange};
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
    /// The PREPAREs that made `seq` prepared (with the persisted PRE-PREPARE they
    /// form the prepared certificate a later VIEW-CHANGE must carry).
    Prepares {
        /// Sequence number.
        seq: Seq,
        /// 2f matching PREPAREs from distinct backups.
        prepares: Vec<Signed<Prepare>>,
    },
    /// A VIEW-CHANGE this replica sent: it left `view - 1` and must never go back.
    ViewChange(Box<Signed<ViewChange>>),
    /// A NEW-VIEW was installed: `view` is active.
    NewView {
        /// The installed view.
        view: View,
        /// Its min-s (the stable checkpoint the NEW-VIEW starts from).
        seq: Seq,
    },
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
            Record::Prepares { seq, .. } => *seq,
            Record::ViewChange(m) => m.body.stable_seq,
            Record::NewView { seq, .. } => *seq,
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
    /// False while the replica was changing to `view` (no NEW-VIEW installed yet).
    #[serde(default = "active_default")]
    pub view_active: bool,
}

fn active_default() -> bool {
    true
}
