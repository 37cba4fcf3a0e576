//! The PBFT messages (JSON on the wire), following Castro & Liskov (OSDI 1999).
//!
//! Every message is a [`Signed`] body. Peer messages travel as one [`PeerMessage`]
//! per `POST /pbft`, tagged by `"type"`. Client requests go to `POST /request`.

use serde::{Deserialize, Serialize};

use crate::crypto::{Digest, Signable, Signed, Signer};
use crate::state_machine::{OpResult, Operation};

/// A replica id, `0..n`.
pub type ReplicaId = u32;
/// A view number; the primary of view `v` is `v mod n`.
pub type View = u64;
/// A sequence number.
pub type Seq = u64;
/// A client id (defined with the client table, which needs it first).
pub use crate::state_machine::ClientId;

/// REQUEST `<o, t, c>` signed by client `c`.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct Request {
    /// Client id.
    pub client: ClientId,
    /// Client timestamp, strictly increasing per client.
    pub timestamp: u64,
    /// The operation to execute.
    pub op: Operation,
}

impl Signable for Request {
    const KIND: &'static str = "REQUEST";
    fn signer(&self) -> Signer {
        Signer::Client(self.client)
    }
}

/// REPLY `<v, t, c, i, r>` signed by replica `i`.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct Reply {
    /// The replica's current view (lets the client learn the primary).
    pub view: View,
    /// Timestamp of the request answered.
    pub timestamp: u64,
    /// Client id.
    pub client: ClientId,
    /// Replying replica.
    pub replica: ReplicaId,
    /// Result of the operation.
    pub result: OpResult,
}

impl Signable for Reply {
    const KIND: &'static str = "REPLY";
    fn signer(&self) -> Signer {
        Signer::Replica(self.replica)
    }
}

/// The signed part of PRE-PREPARE `<v, n, d>` from the primary.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct PrePrepare {
    /// View.
    pub view: View,
    /// Sequence number assigned.
    pub seq: Seq,
    /// Digest of the batch ([`batch_digest`]).
    pub digest: Digest,
    /// The primary that sent it.
    pub replica: ReplicaId,
}

impl Signable for PrePrepare {
    const KIND: &'static str = "PRE-PREPARE";
    fn signer(&self) -> Signer {
        Signer::Replica(self.replica)
    }
}

/// PRE-PREPARE with its piggy-backed batch of client requests (empty: null request).
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct PrePrepareMsg {
    /// Signed header.
    pub header: Signed<PrePrepare>,
    /// The requests, each signed by its client.
    pub batch: Vec<Signed<Request>>,
}

/// Digest of a batch: SHA-256 over the request digests; the null batch has its own.
pub fn batch_digest(batch: &[Signed<Request>]) -> Digest {
    if batch.is_empty() {
        return Digest::of(b"pbft/null-batch");
    }
    let ds: Vec<Digest> = batch.iter().map(|r| r.digest()).collect();
    Digest::of_parts(std::iter::once(&b"pbft/batch"[..]).chain(ds.iter().map(|d| &d.0[..])))
}

/// PREPARE `<v, n, d, i>` from a backup.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct Prepare {
    /// View.
    pub view: View,
    /// Sequence number.
    pub seq: Seq,
    /// Batch digest.
    pub digest: Digest,
    /// Sender.
    pub replica: ReplicaId,
}

impl Signable for Prepare {
    const KIND: &'static str = "PREPARE";
    fn signer(&self) -> Signer {
        Signer::Replica(self.replica)
    }
}

/// COMMIT `<v, n, d, i>`.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct Commit {
    /// View.
    pub view: View,
    /// Sequence number.
    pub seq: Seq,
    /// Batch digest.
    pub digest: Digest,
    /// Sender.
    pub replica: ReplicaId,
}

impl Signable for Commit {
    const KIND: &'static str = "COMMIT";
    fn signer(&self) -> Signer {
        Signer::Replica(self.replica)
    }
}

/// CHECKPOINT `<n, d, i>`: the state digest after executing `seq`.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct Checkpoint {
    /// Sequence number of the checkpoint.
    pub seq: Seq,
    /// Digest of the state after executing `seq`.
    pub state_digest: Digest,
    /// Sender.
    pub replica: ReplicaId,
}

impl Signable for Checkpoint {
    const KIND: &'static str = "CHECKPOINT";
    fn signer(&self) -> Signer {
        Signer::Replica(self.replica)
    }
}

/// STATUS `<v, h, le, i>`: periodic retransmission request (TOCS 2002, §5.2): peers
/// answer with the messages for sequence numbers the sender has not executed yet.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct Status {
    /// Sender's view.
    pub view: View,
    /// Sender's low watermark.
    pub low_watermark: Seq,
    /// Sender's last executed sequence number.
    pub last_executed: Seq,
    /// Sender.
    pub replica: ReplicaId,
}

impl Signable for Status {
    const KIND: &'static str = "STATUS";
    fn signer(&self) -> Signer {
        Signer::Replica(self.replica)
    }
}

/// A prepared certificate: the PRE-PREPARE and 2f matching PREPAREs.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct PreparedCert {
    /// The pre-prepare (with its batch).
    pub pre_prepare: PrePrepareMsg,
    /// 2f prepares from distinct backups.
    pub prepares: Vec<Signed<Prepare>>,
}

/// VIEW-CHANGE `<v+1, n, C, P, i>`.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct ViewChange {
    /// The view being moved to.
    pub view: View,
    /// Sequence number of the sender's stable checkpoint.
    pub stable_seq: Seq,
    /// 2f+1 CHECKPOINT messages proving it.
    pub checkpoint_proof: Vec<Signed<Checkpoint>>,
    /// Prepared certificates above the stable checkpoint.
    pub prepared: Vec<PreparedCert>,
    /// Sender.
    pub replica: ReplicaId,
}

impl Signable for ViewChange {
    const KIND: &'static str = "VIEW-CHANGE";
    fn signer(&self) -> Signer {
        Signer::Replica(self.replica)
    }
}

/// NEW-VIEW `<v+1, V, O>`.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct NewView {
    /// The new view.
    pub view: View,
    /// 2f+1 VIEW-CHANGE messages.
    pub view_changes: Vec<Signed<ViewChange>>,
    /// The pre-prepares re-issued in the new view.
    pub pre_prepares: Vec<PrePrepareMsg>,
    /// Sender (the new primary).
    pub replica: ReplicaId,
}

impl Signable for NewView {
    const KIND: &'static str = "NEW-VIEW";
    fn signer(&self) -> Signer {
        Signer::Replica(self.replica)
    }
}

/// FETCH-STATE `<n, le, i>`: replica `i`, which executed up to `le`, asks for the
/// state of a stable checkpoint at or above `n`.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct FetchState {
    /// Lowest checkpoint sequence number wanted.
    pub seq: Seq,
    /// The requester's last executed sequence number (how much history it lacks).
    pub last_executed: Seq,
    /// Requester.
    pub replica: ReplicaId,
}

impl Signable for FetchState {
    const KIND: &'static str = "FETCH-STATE";
    fn signer(&self) -> Signer {
        Signer::Replica(self.replica)
    }
}

/// STATE: the state machine at a stable checkpoint, its proof (2f+1 CHECKPOINTs),
/// and the executed batch digests the requester lacks (for its `/log`).
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct StateReply {
    /// Checkpoint sequence number.
    pub seq: Seq,
    /// The state after executing `seq` (must hash to the proof's digest). On the
    /// wire a JSON string: serde cannot read the client table's integer map keys
    /// back inside the internally tagged [`PeerMessage`].
    #[serde(with = "json_string")]
    pub state: crate::state_machine::KvStore,
    /// 2f+1 matching CHECKPOINTs for `seq`.
    pub proof: Vec<Signed<Checkpoint>>,
    /// Executed batch digests `(seq, digest)` after the requester's last executed.
    pub history: Vec<(Seq, Digest)>,
    /// Sender.
    pub replica: ReplicaId,
}

/// (De)serializes a value as a string holding its JSON.
mod json_string {
    use serde::{de::DeserializeOwned, Deserialize, Deserializer, Serialize, Serializer};

    pub(super) fn serialize<T: Serialize, S: Serializer>(v: &T, s: S) -> Result<S::Ok, S::Error> {
        let text = serde_json::to_string(v).map_err(serde::ser::Error::custom)?;
        s.serialize_str(&text)
    }

    pub(super) fn deserialize<'de, T: DeserializeOwned, D: Deserializer<'de>>(
        d: D,
    ) -> Result<T, D::Error> {
        let text = String::deserialize(d)?;
        serde_json::from_str(&text).map_err(serde::de::Error::custom)
    }
}

impl Signable for StateReply {
    const KIND: &'static str = "STATE";
    fn signer(&self) -> Signer {
        Signer::Replica(self.replica)
    }
}

/// A message between replicas: the body of `POST /pbft`.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
#[serde(tag = "type", rename_all = "kebab-case")]
pub enum PeerMessage {
    /// PRE-PREPARE with batch.
    PrePrepare(PrePrepareMsg),
    /// PREPARE.
    Prepare(Signed<Prepare>),
    /// COMMIT.
    Commit(Signed<Commit>),
    /// CHECKPOINT.
    Checkpoint(Signed<Checkpoint>),
    /// STATUS (retransmission request).
    Status(Signed<Status>),
    /// A client REQUEST relayed by a backup to the primary (signed by the client).
    Relay(Signed<Request>),
    /// VIEW-CHANGE.
    ViewChange(Signed<ViewChange>),
    /// NEW-VIEW.
    NewView(Signed<NewView>),
    /// FETCH-STATE: state transfer request.
    FetchState(Signed<FetchState>),
    /// STATE: a stable checkpoint's state with its proof (state transfer answer).
    State(Box<Signed<StateReply>>),
}

/// The largest view or sequence number a replica accepts from the wire (2^60). A
/// correct replica never gets near it (at a million batches a second, 2^60 sequence
/// numbers take 36,000 years), and below it `x + 1` and `x + L` never overflow.
pub const MAX_WIRE_NUMBER: u64 = 1 << 60;

fn pp_max(pp: &PrePrepareMsg) -> u64 {
    pp.header.body.view.max(pp.header.body.seq)
}

fn vc_max(vc: &ViewChange) -> u64 {
    let proof = vc.checkpoint_proof.iter().map(|c| c.body.seq);
    let certs = vc.prepared.iter().flat_map(|c| {
        std::iter::once(pp_max(&c.pre_prepare))
            .chain(c.prepares.iter().map(|p| p.body.view.max(p.body.seq)))
    });
    proof
        .chain(certs)
        .fold(vc.view.max(vc.stable_seq), u64::max)
}

impl PeerMessage {
    /// The largest view or sequence number anywhere in the message (nested ones
    /// included), to refuse numbers no correct replica sends (see [`MAX_WIRE_NUMBER`]).
    pub fn max_number(&self) -> u64 {
        match self {
            PeerMessage::PrePrepare(m) => pp_max(m),
            PeerMessage::Prepare(m) => m.body.view.max(m.body.seq),
            PeerMessage::Commit(m) => m.body.view.max(m.body.seq),
            PeerMessage::Checkpoint(m) => m.body.seq,
            PeerMessage::Status(m) => m
                .body
                .view
                .max(m.body.low_watermark)
                .max(m.body.last_executed),
            PeerMessage::Relay(_) => 0,
            PeerMessage::ViewChange(m) => vc_max(&m.body),
            PeerMessage::NewView(m) => m
                .body
                .view_changes
                .iter()
                .map(|vc| vc_max(&vc.body))
                .chain(m.body.pre_prepares.iter().map(pp_max))
                .fold(m.body.view, u64::max),
            PeerMessage::FetchState(m) => m.body.seq.max(m.body.last_executed),
            PeerMessage::State(m) => m
                .body
                .proof
                .iter()
                .map(|c| c.body.seq)
                .chain(m.body.history.iter().map(|(s, _)| *s))
                .fold(m.body.seq, u64::max),
        }
    }

    /// Short name of the message type (for logs and counters).
    pub fn kind(&self) -> &'static str {
        match self {
            PeerMessage::PrePrepare(_) => "pre-prepare",
            PeerMessage::Prepare(_) => "prepare",
            PeerMessage::Commit(_) => "commit",
            PeerMessage::Checkpoint(_) => "checkpoint",
            PeerMessage::Status(_) => "status",
            PeerMessage::Relay(_) => "relay",
            PeerMessage::ViewChange(_) => "view-change",
            PeerMessage::NewView(_) => "new-view",
            PeerMessage::FetchState(_) => "fetch-state",
            PeerMessage::State(_) => "state",
        }
    }

    /// The replica that signed it (`None` for a relayed client request).
    pub fn sender(&self) -> Option<ReplicaId> {
        Some(match self {
            PeerMessage::PrePrepare(m) => m.header.body.replica,
            PeerMessage::Prepare(m) => m.body.replica,
            PeerMessage::Commit(m) => m.body.replica,
            PeerMessage::Checkpoint(m) => m.body.replica,
            PeerMessage::Status(m) => m.body.replica,
            PeerMessage::ViewChange(m) => m.body.replica,
            PeerMessage::NewView(m) => m.body.replica,
            PeerMessage::FetchState(m) => m.body.replica,
            PeerMessage::State(m) => m.body.replica,
            PeerMessage::Relay(_) => return None,
        })
    }
}

#[cfg(test)]
mod tests {
    use ed25519_dalek::SigningKey;

    use super::*;
    use crate::state_machine::KvStore;

    #[test]
    fn state_reply_round_trips_through_peer_message_json() {
        let mut state = KvStore::new();
        state.execute(
            7,
            1,
            &Operation::Write {
                key: "k".into(),
                value: serde_json::json!(1),
            },
            false,
            false,
        );
        let key = SigningKey::from_bytes(&[1; 32]);
        let msg = PeerMessage::State(Box::new(Signed::sign(
            StateReply {
                seq: 8,
                state,
                proof: Vec::new(),
                history: vec![(8, Digest::of(b"x"))],
                replica: 1,
            },
            &key,
        )));
        let text = serde_json::to_string(&msg).unwrap();
        let back: PeerMessage = serde_json::from_str(&text).unwrap();
        assert_eq!(back, msg);
    }
}
