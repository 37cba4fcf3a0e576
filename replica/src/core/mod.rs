//! The sans-IO PBFT engine: `Replica::handle(Input) -> Vec<Output>`.
//!
//! ```text
//!   peer message ─┐                       ┌─ Persist(record)      (shell writes, fsyncs)
//!   client request├─► Replica::handle ───►├─ Send / Broadcast     (after the persists)
//!   tick(now)    ─┘   (no IO, no clock,   ├─ Reply(client)
//!                      no randomness)     ├─ Executed(seq, digest)
//!                                         └─ SetTimer(at)
//! ```
//! The shell must write every `Persist` of one `handle` call before it sends any
//! message from that call. Concerns are split by file: [`normal`] (request,
//! pre-prepare, prepare, commit, execute, batching), [`checkpoint`] (checkpoints,
//! watermarks, garbage collection), [`retransmit`] (ticks, STATUS), [`log`] (the
//! per-sequence certificates), [`record`] (WAL records), [`recovery`] (restart),
//! [`view_change`] (timers, VIEW-CHANGE), [`new_view`] (computing and checking O,
//! installing a view), [`state_transfer`] (fetching a certified checkpoint).
//!
#![doc = include_str!("NOTES.md")]

pub mod checkpoint;
pub mod log;
pub mod new_view;
pub mod normal;
pub mod record;
pub mod recovery;
pub mod rejection;
pub mod retransmit;
pub mod state_transfer;
pub mod view_change;

use std::collections::{BTreeMap, BTreeSet, VecDeque};

use ed25519_dalek::SigningKey;
use serde::{Deserialize, Serialize};

use crate::config::ProtocolConfig;
use crate::crypto::{Digest, Signed};
use crate::messages::{
    Checkpoint, ClientId, NewView, PeerMessage, PreparedCert, ReplicaId, Reply, Request, Seq, View,
    ViewChange, MAX_WIRE_NUMBER,
};
use crate::state_machine::KvStore;
use crate::verifier::Verified;
use log::MessageLog;
use record::Record;

/// An input to the engine.
#[derive(Clone, Debug)]
pub enum Input {
    /// A message from a peer, signature already verified.
    Peer(Verified<PeerMessage>),
    /// A client request, signature already verified.
    Request(Verified<Signed<Request>>),
    /// The clock advanced to `now_ms` (the only way the engine learns time).
    Tick {
        /// Current time in ms on the replica's (injectable) clock.
        now_ms: u64,
    },
}

/// An effect the shell must carry out, in order.
#[derive(Clone, Debug)]
pub enum Output {
    /// Send a message to one replica.
    Send {
        /// Destination.
        to: ReplicaId,
        /// Message.
        msg: PeerMessage,
    },
    /// Send a message to every other replica.
    Broadcast(PeerMessage),
    /// Answer a client. The shell signs the reply (with this replica's key) only if
    /// the client is waiting for it here: most executed requests have no waiter at
    /// most replicas, and a signature is the costliest step of a reply.
    Reply {
        /// Client.
        client: ClientId,
        /// The reply, to be signed by the shell.
        reply: Reply,
    },
    /// Append to the write-ahead log (before sending later outputs).
    Persist(Record),
    /// A batch was executed (or learnt by state transfer).
    Executed(record::LogEntry),
    /// Deliver a tick no later than this time (ms on the replica's clock).
    SetTimer {
        /// Deadline.
        at_ms: u64,
    },
    /// A message was rejected (for logs, counters and tests).
    Rejected {
        /// Message kind.
        kind: &'static str,
        /// Its category.
        why: rejection::Rejection,
        /// Why, in words.
        reason: String,
    },
}

/// A snapshot of the engine's progress (the body of `GET /status`).
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct ReplicaStatus {
    /// Replica id.
    pub id: ReplicaId,
    /// Current view.
    pub view: View,
    /// Primary of the current view.
    pub primary: ReplicaId,
    /// Last executed sequence number.
    pub last_executed: Seq,
    /// Sequence number of the stable checkpoint.
    pub stable_checkpoint: Seq,
    /// Low watermark h.
    pub low_watermark: Seq,
    /// High watermark H = h + L.
    pub high_watermark: Seq,
    /// Digest of the current state (hex).
    pub state_digest: String,
    /// Digest of the stable checkpoint's state (hex).
    pub stable_digest: String,
    /// Number of view changes this replica took part in (VIEW-CHANGEs it sent, plus
    /// views it was brought into by a NEW-VIEW without having asked).
    pub view_changes: u64,
    /// False while the replica is changing to `view` (waiting for its NEW-VIEW).
    #[serde(default)]
    pub view_active: bool,
    /// Current view-change timeout (ms): T, doubled for each failed view change.
    #[serde(default)]
    pub view_change_timeout_ms: u64,
    /// State transfers completed (checkpoints installed from a peer).
    #[serde(default)]
    pub state_transfers: u64,
    /// Clock time (ms) at which the current view was installed.
    pub view_installed_at_ms: u64,
    /// Slots in the message log.
    pub log_slots: usize,
    /// Requests waiting at the primary.
    pub pending_requests: usize,
    /// Messages rejected so far.
    pub rejected: u64,
    /// Messages rejected so far, by reason ([`rejection::Rejection::name`]): by the
    /// protocol engine and, as the server reports them, for format or signature.
    #[serde(default)]
    pub rejections: BTreeMap<String, u64>,
    /// Messages received and rejected per sender tag (see [`rejection`]).
    #[serde(default)]
    pub tagged: rejection::TaggedCounts,
}

/// One PBFT replica's protocol state.
#[derive(Debug)]
pub struct Replica {
    pub(crate) id: ReplicaId,
    pub(crate) n: usize,
    pub(crate) f: usize,
    pub(crate) params: ProtocolConfig,
    pub(crate) key: SigningKey,
    pub(crate) now_ms: u64,
    pub(crate) view: View,
    pub(crate) view_changes: u64,
    pub(crate) view_installed_at_ms: u64,
    /// Next sequence number the primary assigns.
    pub(crate) next_seq: Seq,
    pub(crate) last_executed: Seq,
    pub(crate) last_progress_ms: u64,
    pub(crate) low: Seq,
    pub(crate) log: MessageLog,
    pub(crate) state: KvStore,
    /// Primary: requests waiting to be batched, and those batched but not executed.
    pub(crate) pending: VecDeque<Signed<Request>>,
    pub(crate) pending_since_ms: u64,
    pub(crate) in_progress: BTreeSet<(ClientId, u64)>,
    /// Backup: the newest request held per client (kept until executed). Its timer
    /// runs while one is not executed, and it hands them to each new primary.
    pub(crate) seen_by_backup: BTreeMap<ClientId, Signed<Request>>,
    /// Own state snapshots at checkpoints not yet stable.
    pub(crate) snapshots: BTreeMap<Seq, (Digest, KvStore)>,
    /// CHECKPOINT votes per sequence number and sender.
    pub(crate) checkpoint_votes: BTreeMap<Seq, BTreeMap<ReplicaId, Signed<Checkpoint>>>,
    /// The 2f+1 CHECKPOINTs proving the stable checkpoint.
    pub(crate) stable_proof: Vec<Signed<Checkpoint>>,
    pub(crate) stable_digest: Digest,
    /// Proofs of recent stable checkpoints (including the current one), for peers
    /// that are catching up.
    pub(crate) old_proofs: BTreeMap<Seq, Vec<Signed<Checkpoint>>>,
    /// Highest sequence number seen in any message (to notice we are behind).
    pub(crate) max_seq_seen: Seq,
    /// A normal-case message of a view above ours arrived while our view was active:
    /// we may have missed a view change (cleared when we send STATUS about it).
    pub(crate) higher_view_seen: bool,
    pub(crate) last_retransmit_ms: u64,
    pub(crate) rejected: u64,
    pub(crate) rejections: BTreeMap<rejection::Rejection, u64>,
    /// False between sending VIEW-CHANGE(view) and installing NEW-VIEW(view).
    pub(crate) active: bool,
    /// Current view-change timeout (T, 2T, 4T, ...).
    pub(crate) vc_timeout_ms: u64,
    /// Whether a batch the current view's primary proposed (see `fresh_from`)
    /// executed since the view was installed (true for the initial view): a view that
    /// ends without one doubles the timeout.
    pub(crate) executed_in_view: bool,
    /// The lowest sequence number the current view's primary proposes itself: above
    /// the installing NEW-VIEW's max-s (1 in view 0). Only executing a batch at or
    /// above it shows that the view works; the batches of O below it were ordered by
    /// earlier views, and re-executing them said nothing about the new primary.
    pub(crate) fresh_from: Seq,
    /// When the view-change timer fires, if armed.
    pub(crate) vc_deadline: Option<u64>,
    /// The client request `(client, timestamp)` the running view-change timer waits
    /// for, and since when: only its execution stops the timer (PBFT's per-request
    /// timer), so a primary that serves every client but one is still replaced.
    pub(crate) vc_waiting_for: Option<(ClientId, u64, u64)>,
    /// Valid VIEW-CHANGEs per view and sender (views at or above ours).
    pub(crate) vc_msgs: BTreeMap<View, BTreeMap<ReplicaId, Signed<ViewChange>>>,
    /// Our latest VIEW-CHANGE (retransmitted while its view is not active).
    pub(crate) my_vc: Option<Signed<ViewChange>>,
    /// The NEW-VIEW that installed the current view (sent to replicas left behind).
    pub(crate) last_new_view: Option<Signed<NewView>>,
    /// The newest prepared certificate per sequence number above h, kept across
    /// views: a VIEW-CHANGE must carry it even if the slot was re-proposed since.
    pub(crate) prepared_certs: BTreeMap<Seq, PreparedCert>,
    /// Executed batch digests of the recent past (served with state transfers).
    pub(crate) exec_digests: BTreeMap<Seq, Digest>,
    /// The state at the stable checkpoint (served to replicas that are behind).
    pub(crate) stable_state: KvStore,
    /// The highest checkpoint proven by 2f+1 CHECKPOINTs that we have not reached.
    pub(crate) proven_ahead: Option<(Seq, Digest, Vec<Signed<Checkpoint>>)>,
    /// Each sender's newest CHECKPOINT beyond our window (for state transfer).
    pub(crate) far_votes: BTreeMap<ReplicaId, Signed<Checkpoint>>,
    /// Answers sent to VIEW-CHANGEs for views we installed, per sender and view.
    pub(crate) vc_answers: BTreeMap<(ReplicaId, View), u32>,
    /// An outstanding state transfer.
    pub(crate) fetch: Option<state_transfer::Fetch>,
    /// When each peer was last answered a STATUS or a FETCH-STATE (rate limit).
    pub(crate) answered_at: BTreeMap<(ReplicaId, &'static str), u64>,
    pub(crate) state_transfers: u64,
}

impl Replica {
    /// A fresh replica with empty state.
    pub fn new(id: ReplicaId, n: usize, params: ProtocolConfig, key: SigningKey) -> Self {
        let state = KvStore::new();
        let stable_digest = state.digest();
        Replica {
            id,
            n,
            f: (n - 1) / 3,
            key,
            now_ms: 0,
            view: 0,
            view_changes: 0,
            view_installed_at_ms: 0,
            next_seq: 1,
            last_executed: 0,
            last_progress_ms: 0,
            low: 0,
            log: MessageLog::default(),
            state,
            pending: VecDeque::new(),
            pending_since_ms: 0,
            in_progress: BTreeSet::new(),
            seen_by_backup: BTreeMap::new(),
            snapshots: BTreeMap::new(),
            checkpoint_votes: BTreeMap::new(),
            stable_proof: Vec::new(),
            stable_digest,
            old_proofs: BTreeMap::new(),
            max_seq_seen: 0,
            higher_view_seen: false,
            last_retransmit_ms: 0,
            rejected: 0,
            rejections: BTreeMap::new(),
            active: true,
            vc_timeout_ms: params.view_change_timeout_ms,
            executed_in_view: true,
            fresh_from: 1,
            vc_deadline: None,
            vc_waiting_for: None,
            vc_msgs: BTreeMap::new(),
            my_vc: None,
            last_new_view: None,
            prepared_certs: BTreeMap::new(),
            exec_digests: BTreeMap::new(),
            stable_state: KvStore::new(),
            proven_ahead: None,
            far_votes: BTreeMap::new(),
            fetch: None,
            answered_at: BTreeMap::new(),
            vc_answers: BTreeMap::new(),
            state_transfers: 0,
            params,
        }
    }

    /// Processes one input and returns the effects, in the order they must happen.
    pub fn handle(&mut self, input: Input) -> Vec<Output> {
        let mut out = Vec::new();
        match input {
            Input::Tick { now_ms } => self.on_tick(now_ms, &mut out),
            Input::Request(r) => self.on_request(r.into_inner(), false, &mut out),
            Input::Peer(m) if m.get().max_number() > MAX_WIRE_NUMBER => {
                let kind = m.get().kind();
                self.reject(
                    &mut out,
                    kind,
                    rejection::Rejection::OutOfRange,
                    "view or sequence number out of range",
                );
            }
            Input::Peer(m) => match m.into_inner() {
                PeerMessage::PrePrepare(m) => self.on_pre_prepare(m, &mut out),
                PeerMessage::Prepare(m) => self.on_prepare(m, &mut out),
                PeerMessage::Commit(m) => self.on_commit(m, &mut out),
                PeerMessage::Checkpoint(m) => self.on_checkpoint(m, &mut out),
                PeerMessage::Status(m) => self.on_status(m, &mut out),
                PeerMessage::Relay(r) => self.on_request(r, true, &mut out),
                PeerMessage::ViewChange(m) => self.on_view_change(m, &mut out),
                PeerMessage::NewView(m) => self.on_new_view(m, &mut out),
                PeerMessage::FetchState(m) => self.on_fetch_state(m, &mut out),
                PeerMessage::State(m) => self.on_state(*m, &mut out),
            },
        }
        out
    }

    /// The engine's progress, for `GET /status`.
    pub fn status(&self) -> ReplicaStatus {
        ReplicaStatus {
            id: self.id,
            view: self.view,
            primary: self.primary(),
            last_executed: self.last_executed,
            stable_checkpoint: self.low,
            low_watermark: self.low,
            high_watermark: self.high(),
            state_digest: self.state.digest().to_hex(),
            stable_digest: self.stable_digest.to_hex(),
            view_changes: self.view_changes,
            view_active: self.active,
            view_change_timeout_ms: self.vc_timeout_ms,
            state_transfers: self.state_transfers,
            view_installed_at_ms: self.view_installed_at_ms,
            log_slots: self.log.len(),
            pending_requests: self.pending.len(),
            rejected: self.rejected,
            rejections: self
                .rejections
                .iter()
                .map(|(why, n)| (why.name().to_string(), *n))
                .collect(),
            tagged: rejection::TaggedCounts::default(),
        }
    }

    /// The view-change timeout in force (ms): T, doubled for each failed view change.
    pub fn view_change_timeout_ms(&self) -> u64 {
        self.vc_timeout_ms
    }

    /// The replicated state (read-only).
    pub fn state(&self) -> &KvStore {
        &self.state
    }

    /// Replica id.
    pub fn id(&self) -> ReplicaId {
        self.id
    }

    /// Last executed sequence number.
    pub fn last_executed(&self) -> Seq {
        self.last_executed
    }

    /// Current view.
    pub fn view(&self) -> View {
        self.view
    }

    /// Primary of the current view.
    pub fn primary(&self) -> ReplicaId {
        (self.view % self.n as u64) as ReplicaId
    }

    pub(crate) fn is_primary(&self) -> bool {
        self.primary() == self.id
    }

    /// High watermark H = h + L.
    pub(crate) fn high(&self) -> Seq {
        self.low + self.params.log_window
    }

    /// How this replica counts votes (the paper's quorums unless a seeded bug is on).
    pub(crate) fn counting(&self) -> log::Counting {
        log::Counting::of(self.params.bugs, self.f)
    }

    /// Whether the seeded bug `bug` is switched on (never in a normal build).
    pub(crate) fn bug(&self, bug: crate::bugs::Bug) -> bool {
        self.params.bugs.has(bug)
    }

    pub(crate) fn in_window(&self, seq: Seq) -> bool {
        seq > self.low && seq <= self.high()
    }

    /// Rate limit for answers that cost us more than the question cost the peer
    /// (STATUS, FETCH-STATE): true, and noted, if `peer` was not answered a `kind`
    /// in the last `every_ms`. Correct peers ask less often than that.
    pub(crate) fn may_answer(
        &mut self,
        peer: ReplicaId,
        kind: &'static str,
        every_ms: u64,
    ) -> bool {
        let now = self.now_ms;
        match self.answered_at.get(&(peer, kind)) {
            Some(at) if now < at.saturating_add(every_ms) => false,
            _ => {
                self.answered_at.insert((peer, kind), now);
                true
            }
        }
    }

    pub(crate) fn reject(
        &mut self,
        out: &mut Vec<Output>,
        kind: &'static str,
        why: rejection::Rejection,
        reason: impl Into<String>,
    ) {
        let reason = reason.into();
        tracing::debug!(replica = self.id, kind, why = why.name(), %reason, "rejected");
        self.rejected += 1;
        *self.rejections.entry(why).or_default() += 1;
        out.push(Output::Rejected { kind, why, reason });
    }
}
