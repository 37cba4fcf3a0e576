//! What the core asks the shell to persist before the messages that depend on it
//! leave, and the snapshot written at a stable checkpoint.

use serde::{Deserialize, Serialize};

use crate::crypto::{Digest, Signed};
use crate::messages::{
    Checkpoint, ClientId, Commit, NewView, PrePrepareMsg, Prepare, Seq, View, ViewChange,
};
use crate::state_machine::KvStore;

/// One executed request of a batch: who sent it, with which timestamp.
#[derive(Clone, Copy, Debug, Serialize, Deserialize, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct RequestId {
    /// The client.
    pub client: ClientId,
    /// The client's timestamp for the request.
    pub timestamp: u64,
}

/// One executed sequence number (an entry of `GET /log`).
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct LogEntry {
    /// Sequence number.
    pub seq: Seq,
    /// Digest of the executed batch.
    pub digest: Digest,
    /// The requests of the batch that took effect, in execution order (a request
    /// executed before is not applied again and not listed; empty for a null request,
    /// and for an entry learnt by state transfer, whose batch this replica never saw).
    #[serde(default)]
    pub requests: Vec<RequestId>,
    /// The entry came with a state transfer: its digest is a peer's word, and its
    /// requests are unknown.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub transferred: bool,
    /// At a checkpoint (a multiple of K) this replica executed itself: the digest of
    /// its state after the entry, the one its CHECKPOINT carries. Every correct
    /// replica reports the same one, so a replica whose state drifted is seen even if
    /// a state transfer later repaired it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub state_digest: Option<Digest>,
}

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
    Executed(LogEntry),
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
        /// The NEW-VIEW itself, so that a restarted replica can still send it to
        /// replicas left behind (absent in records written before it was kept).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        new_view: Option<Box<Signed<NewView>>>,
    },
}

/// What WAL compaction needs to know of a record besides its seq.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RecordKind {
    /// A [`Record::ViewChange`].
    ViewChange,
    /// A [`Record::NewView`].
    NewView,
    /// Any other record.
    Other,
}

/// Which records (given in WAL order as `(seq, kind)`) survive compaction at the
/// stable checkpoint `stable`: every record above it, and whatever its seq the
/// newest VIEW-CHANGE and the newest NEW-VIEW record. A VIEW-CHANGE record's seq is
/// its stable checkpoint, so a checkpoint that becomes stable during a view change
/// would otherwise drop it, and a restarted replica would forget the VIEW-CHANGE it
/// sent (and, if it is the new primary, its own vote).
pub fn kept_at_compaction(records: &[(Seq, RecordKind)], stable: Seq) -> Vec<bool> {
    let newest = |kind| records.iter().rposition(|(_, k)| *k == kind);
    let (vc, nv) = (newest(RecordKind::ViewChange), newest(RecordKind::NewView));
    records
        .iter()
        .enumerate()
        .map(|(i, (seq, _))| *seq > stable || Some(i) == vc || Some(i) == nv)
        .collect()
}

impl Record {
    /// Its kind, for compaction ([`kept_at_compaction`]).
    pub fn kind(&self) -> RecordKind {
        match self {
            Record::ViewChange(_) => RecordKind::ViewChange,
            Record::NewView { .. } => RecordKind::NewView,
            _ => RecordKind::Other,
        }
    }

    /// The sequence number the record belongs to.
    pub fn seq(&self) -> Seq {
        match self {
            Record::PrePrepare(m) => m.header.body.seq,
            Record::Prepare(m) => m.body.seq,
            Record::Commit(m) => m.body.seq,
            Record::Checkpoint(m) => m.body.seq,
            Record::Executed(e) => e.seq,
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
