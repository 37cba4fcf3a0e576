//! The mutators: what a faulty replica does to one of its messages.
//!
//! | mutator | acts on | what it sends |
//! |---|---|---|
//! | `equivocate` | PRE-PREPARE | the null batch instead to every other receiver: two batches, one (view, seq) |
//! | `double-vote` | PREPARE, COMMIT | to each receiver, the digest the equivocating primary sent it, else a made-up one |
//! | `shift` | PRE-PREPARE, PREPARE, COMMIT, CHECKPOINT | view or seq ±1, or a digest from another slot (made up if none) |
//! | `forge-view-change` | VIEW-CHANGE | prepared certificates dropped, one dropped, or one of its own PRE-PREPAREs re-signed with another digest |
//! | `bad-new-view` | NEW-VIEW | O with a pre-prepare dropped or its digest changed |
//! | `lie` | REPLY to a client | another result, re-signed |
//! | `withhold` | COMMITs or CHECKPOINTs, chosen by the seed | nothing |
//! | `censor` | one client's requests and relays, to the faulty replica | nothing |
//! | `replay` | any | the message and an earlier one of the same replica |
//! | `fuzz` | any | one field it signs itself set to a boundary value |
//! | `fake-primary` | PREPARE | a PRE-PREPARE of its own for the slot (null batch), then the PREPARE |
//! | `bad-checkpoint` | CHECKPOINT | a made-up state digest |

use super::fuzz::fuzz;
use super::resign::resign;
use crate::error::{Error, Result};
use axum::body::Bytes;
use ed25519_dalek::SigningKey;
use rand::seq::SliceRandom;
use rand::Rng;
use rand_chacha::ChaCha8Rng;
use replica::crypto::{Digest, Signed};
use replica::messages::{
    batch_digest, PeerMessage, PrePrepare, PrePrepareMsg, ReplicaId, Reply, Request, ViewChange,
};
use replica::{OpResult, Operation};
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet};
use std::str::FromStr;

/// One Byzantine behaviour.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Mutator {
    /// Different PRE-PREPAREs for one (view, seq) to different backups: the real batch
    /// or the null batch, by a seeded coin per receiver.
    Equivocate,
    /// The null batch to every other backup, by the parity of its id and the sequence
    /// number (no randomness: two neighbouring ids are always told different things).
    Alternate,
    /// Both PRE-PREPAREs for one (view, seq), the real batch and the null batch, to
    /// every backup, in an order the seed picks per backup (what a primary and its
    /// twin with the same key would send).
    Twin,
    /// Different PREPARE / COMMIT digests to different receivers.
    DoubleVote,
    /// View or sequence number ±1, or a digest from another slot.
    Shift,
    /// VIEW-CHANGE with prepared certificates dropped or made up.
    ForgeViewChange,
    /// VIEW-CHANGE that leaves out every other prepared certificate, the first
    /// included (a lone one is forgotten): the message stays valid, it only forgets,
    /// and the new view fills the holes with null batches.
    Amnesia,
    /// NEW-VIEW with a wrong O.
    BadNewView,
    /// A wrong result in a REPLY to a client.
    Lie,
    /// One message type never sent.
    Withhold,
    /// One client's requests ignored.
    Censor,
    /// Earlier messages sent again.
    Replay,
    /// A field set to a boundary value.
    Fuzz,
    /// A backup that behaves as if it were the primary: before one of its PREPAREs it
    /// sends a PRE-PREPARE of its own (the null batch) for the same slot, which every
    /// receiver must refuse (wrong sender).
    FakePrimary,
    /// A CHECKPOINT that votes for a state nobody has (a made-up digest): no
    /// checkpoint may become stable on it, and the correct replicas' 2f+1 must still.
    BadCheckpoint,
    /// A backup that calls for a view change nobody else wants: once per view and
    /// receiver, before a COMMIT, a well-formed VIEW-CHANGE for the next view (claiming
    /// the initial checkpoint and nothing prepared). One replica alone must not move
    /// the view: f+1 are needed for the others to join.
    SpuriousViewChange,
    /// A state-transfer responder that lies: the STATE it sends a lagging replica has a
    /// changed key (it no longer hashes to the proven checkpoint digest) or a made-up
    /// executed digest in its history (it no longer chains to the proven state); the
    /// receiver must refuse it (invalid proof) and fetch from another replica.
    BadState,
    /// A primary that proposes a client's request twice in one batch: the batch is
    /// well-formed and signed, and every replica must execute the request once.
    DuplicateRequest,
}

/// The message types `withhold` may drop: ones every replica sends in the normal case.
pub(crate) const WITHHOLDABLE: [&str; 2] = ["commit", "checkpoint"];

impl Mutator {
    /// Every mutator.
    pub const ALL: [Mutator; 18] = [
        Mutator::Equivocate,
        Mutator::Alternate,
        Mutator::Twin,
        Mutator::DoubleVote,
        Mutator::Shift,
        Mutator::ForgeViewChange,
        Mutator::Amnesia,
        Mutator::BadNewView,
        Mutator::Lie,
        Mutator::Withhold,
        Mutator::Censor,
        Mutator::Replay,
        Mutator::Fuzz,
        Mutator::FakePrimary,
        Mutator::BadCheckpoint,
        Mutator::SpuriousViewChange,
        Mutator::BadState,
        Mutator::DuplicateRequest,
    ];

    /// The mutator's name.
    pub fn name(self) -> &'static str {
        match self {
            Mutator::Equivocate => "equivocate",
            Mutator::Alternate => "alternate",
            Mutator::Twin => "twin",
            Mutator::DoubleVote => "double-vote",
            Mutator::Shift => "shift",
            Mutator::ForgeViewChange => "forge-view-change",
            Mutator::Amnesia => "amnesia",
            Mutator::BadNewView => "bad-new-view",
            Mutator::Lie => "lie",
            Mutator::Withhold => "withhold",
            Mutator::Censor => "censor",
            Mutator::Replay => "replay",
            Mutator::Fuzz => "fuzz",
            Mutator::FakePrimary => "fake-primary",
            Mutator::BadCheckpoint => "bad-checkpoint",
            Mutator::SpuriousViewChange => "spurious-view-change",
            Mutator::BadState => "bad-state",
            Mutator::DuplicateRequest => "duplicate-request",
        }
    }

    /// Parses `a,b,c` or `all`.
    pub fn parse_list(spec: &str) -> Result<Vec<Mutator>> {
        let mut out = Vec::new();
        for w in spec.split(',').map(str::trim).filter(|w| !w.is_empty()) {
            if w == "all" {
                out.extend(Mutator::ALL);
            } else {
                out.push(w.parse()?);
            }
        }
        out.sort();
        out.dedup();
        if out.is_empty() {
            return Err(Error::spec(spec, "no Byzantine mutator given"));
        }
        Ok(out)
    }

    /// The probability that it acts on a message it applies to. The coordinated ones
    /// (equivocation splits the receivers itself; double votes follow it) and those on
    /// rare messages always act; the others leave half the messages as written, so
    /// the protocol keeps moving and faults interleave.
    pub(crate) fn probability(self) -> f64 {
        match self {
            Mutator::Equivocate
            | Mutator::Alternate
            | Mutator::Twin
            | Mutator::DoubleVote
            | Mutator::ForgeViewChange
            | Mutator::Amnesia
            | Mutator::BadNewView
            | Mutator::SpuriousViewChange
            | Mutator::BadState
            | Mutator::DuplicateRequest => 1.0,
            _ => 0.5,
        }
    }

    /// Whether it rewrites outgoing peer messages of this type (`lie` and `censor`
    /// act elsewhere; `withhold` is applied before any choice).
    pub(crate) fn applies_to(self, kind: &str) -> bool {
        match self {
            Mutator::Equivocate | Mutator::Alternate | Mutator::Twin => kind == "pre-prepare",
            Mutator::DoubleVote => matches!(kind, "prepare" | "commit"),
            Mutator::Shift => matches!(kind, "pre-prepare" | "prepare" | "commit" | "checkpoint"),
            Mutator::ForgeViewChange | Mutator::Amnesia => kind == "view-change",
            Mutator::BadNewView => kind == "new-view",
            Mutator::Replay | Mutator::Fuzz => true,
            Mutator::FakePrimary => kind == "prepare",
            Mutator::BadCheckpoint => kind == "checkpoint",
            Mutator::SpuriousViewChange => kind == "commit",
            Mutator::BadState => kind == "state",
            Mutator::DuplicateRequest => kind == "pre-prepare",
            Mutator::Lie | Mutator::Withhold | Mutator::Censor => false,
        }
    }

    /// Rewrites `msg` (whose bytes are `body`) for one receiver. `None`: nothing to do
    /// to this message (it goes out unchanged).
    pub(crate) fn apply(
        self,
        msg: PeerMessage,
        body: &Bytes,
        ctx: &mut Context<'_>,
    ) -> Option<Vec<Bytes>> {
        let one = |m: PeerMessage, key: &SigningKey| -> Option<Vec<Bytes>> {
            Some(vec![encode(&resign(m, key))?])
        };
        match (self, msg) {
            (Mutator::Equivocate | Mutator::Alternate, PeerMessage::PrePrepare(mut p)) => {
                let h = &p.header.body;
                let slot = (h.view, h.seq, ctx.receiver);
                // Each receiver gets the real batch or the null batch by the split rule
                // in force (`Context::told_null`): a function of the slot, so a
                // retransmission repeats what the receiver was told and double votes
                // know it.
                if p.batch.is_empty() || !ctx.told_null(slot) {
                    ctx.equivocated.insert(slot, h.digest);
                    return None;
                }
                p.batch.clear();
                p.header.body.digest = batch_digest(&p.batch);
                ctx.equivocated.insert(slot, p.header.body.digest);
                one(PeerMessage::PrePrepare(p), ctx.key)
            }
            (Mutator::Twin, PeerMessage::PrePrepare(p)) => {
                if p.batch.is_empty() {
                    return None;
                }
                let h = &p.header.body;
                let slot = (h.view, h.seq, ctx.receiver);
                let mut null = p.clone();
                null.batch.clear();
                null.header.body.digest = batch_digest(&null.batch);
                let (first, second) = if ctx.rng.gen_bool(0.5) {
                    (p, null)
                } else {
                    (null, p)
                };
                // Double votes follow the one the receiver hears last.
                ctx.equivocated.insert(slot, second.header.body.digest);
                Some(vec![
                    encode(&resign(PeerMessage::PrePrepare(first), ctx.key))?,
                    encode(&resign(PeerMessage::PrePrepare(second), ctx.key))?,
                ])
            }
            (Mutator::DoubleVote, PeerMessage::Prepare(mut m)) => {
                m.body.digest = ctx.vote_digest(m.body.view, m.body.seq, m.body.digest);
                one(PeerMessage::Prepare(m), ctx.key)
            }
            (Mutator::DoubleVote, PeerMessage::Commit(mut m)) => {
                m.body.digest = ctx.vote_digest(m.body.view, m.body.seq, m.body.digest);
                one(PeerMessage::Commit(m), ctx.key)
            }
            (Mutator::Shift, msg) => one(shift(msg, ctx)?, ctx.key),
            (Mutator::ForgeViewChange, PeerMessage::ViewChange(mut m)) => {
                let certs = &mut m.body.prepared;
                match ctx.rng.gen_range(0..3) {
                    0 => certs.clear(),
                    1 if !certs.is_empty() => {
                        let k = ctx.rng.gen_range(0..certs.len());
                        certs.remove(k);
                    }
                    _ => {
                        // Made up: a certificate claiming another batch. The faulty
                        // replica can re-sign only a PRE-PREPARE it sent itself (as an
                        // earlier primary); the others' PREPAREs then no longer match
                        // it, which the receiver must see (an invalid proof). Without
                        // such a certificate it forgets one instead.
                        let sender = m.body.replica;
                        let own = certs
                            .iter()
                            .position(|c| c.pre_prepare.header.body.replica == sender);
                        match own {
                            Some(k) => {
                                let header = &mut certs[k].pre_prepare.header;
                                let mut body = header.body.clone();
                                body.digest = Digest::of(&ctx.rng.gen::<[u8; 8]>());
                                *header = Signed::sign(body, ctx.key);
                            }
                            None if !certs.is_empty() => {
                                let k = ctx.rng.gen_range(0..certs.len());
                                certs.remove(k);
                            }
                            None => return None,
                        }
                    }
                }
                one(PeerMessage::ViewChange(m), ctx.key)
            }
            (Mutator::Amnesia, PeerMessage::ViewChange(mut m)) => {
                if m.body.prepared.is_empty() {
                    return None;
                }
                let mut k = 0;
                m.body.prepared.retain(|_| {
                    k += 1;
                    k % 2 == 0
                });
                one(PeerMessage::ViewChange(m), ctx.key)
            }
            (Mutator::BadNewView, PeerMessage::NewView(mut m)) => {
                let o = &mut m.body.pre_prepares;
                if o.is_empty() {
                    return None;
                }
                let k = ctx.rng.gen_range(0..o.len());
                if ctx.rng.gen_bool(0.5) {
                    o.remove(k);
                } else {
                    let mut header = o[k].header.body.clone();
                    header.digest = Digest::of(&ctx.rng.gen::<[u8; 8]>());
                    o[k].header = Signed::sign(header, ctx.key);
                }
                one(PeerMessage::NewView(m), ctx.key)
            }
            (Mutator::Replay, _) => {
                let earlier = ctx.earlier.clone()?;
                Some(vec![body.clone(), earlier])
            }
            (Mutator::Fuzz, msg) => one(fuzz(msg, ctx.rng)?, ctx.key),
            (Mutator::FakePrimary, PeerMessage::Prepare(m)) => {
                let b = &m.body;
                let header = PrePrepare {
                    view: b.view,
                    seq: b.seq,
                    digest: batch_digest(&[]),
                    replica: b.replica,
                };
                let fake = PeerMessage::PrePrepare(PrePrepareMsg {
                    header: Signed::sign(header, ctx.key),
                    batch: Vec::new(),
                });
                Some(vec![encode(&fake)?, body.clone()])
            }
            (Mutator::BadCheckpoint, PeerMessage::Checkpoint(mut m)) => {
                m.body.state_digest = Digest::of(&ctx.rng.gen::<[u8; 8]>());
                one(PeerMessage::Checkpoint(m), ctx.key)
            }
            (Mutator::SpuriousViewChange, PeerMessage::Commit(m)) => {
                let next = m.body.view.checked_add(1)?;
                if !ctx.spurious.insert((next, ctx.receiver)) {
                    return None;
                }
                let vc = ViewChange {
                    view: next,
                    stable_seq: 0,
                    checkpoint_proof: Vec::new(),
                    prepared: Vec::new(),
                    replica: m.body.replica,
                };
                let vc = PeerMessage::ViewChange(Signed::sign(vc, ctx.key));
                Some(vec![encode(&vc)?, body.clone()])
            }
            (Mutator::BadState, PeerMessage::State(mut m)) => {
                let history = &mut m.body.history;
                if !history.is_empty() && ctx.rng.gen_bool(0.5) {
                    let k = ctx.rng.gen_range(0..history.len());
                    history[k].1 = Digest::of(&ctx.rng.gen::<[u8; 8]>());
                } else {
                    let value = serde_json::json!(ctx.rng.gen::<u32>());
                    m.body.state.apply(&Operation::Write {
                        key: "bad-state".into(),
                        value,
                    });
                }
                one(PeerMessage::State(m), ctx.key)
            }
            (Mutator::DuplicateRequest, PeerMessage::PrePrepare(mut p)) => {
                let first = p.batch.first()?.clone();
                p.batch.push(first);
                p.header.body.digest = batch_digest(&p.batch);
                one(PeerMessage::PrePrepare(p), ctx.key)
            }
            _ => None,
        }
    }
}

impl FromStr for Mutator {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        Mutator::ALL
            .into_iter()
            .find(|m| m.name() == s)
            .ok_or_else(|| {
                let names: Vec<&str> = Mutator::ALL.iter().map(|m| m.name()).collect();
                Error::spec(
                    s,
                    format!(
                        "unknown Byzantine mutator; expected {} or all",
                        names.join(", ")
                    ),
                )
            })
    }
}

/// What a mutator works with.
pub(crate) struct Context<'a> {
    /// The receiving replica.
    pub(crate) receiver: usize,
    /// The faulty sender's key.
    pub(crate) key: &'a SigningKey,
    /// The seeded stream.
    pub(crate) rng: &'a mut ChaCha8Rng,
    /// The run seed.
    pub(crate) seed: u64,
    /// Whether the equivocation in force is `alternate` (else `equivocate`'s coin).
    pub(crate) alternate: bool,
    /// What the equivocating primary sent to each receiver.
    pub(crate) equivocated: &'a mut BTreeMap<(u64, u64, usize), Digest>,
    /// An earlier message of the same faulty replica.
    pub(crate) earlier: Option<Bytes>,
    /// The (view, receiver) pairs a spurious VIEW-CHANGE went to already.
    pub(crate) spurious: &'a mut BTreeSet<(u64, usize)>,
}

impl Context<'_> {
    /// The digest a double-voting replica sends the receiver for (view, seq): the one
    /// an equivocating primary sent (or will send) it, the coordinated attack of f+1
    /// faulty replicas.
    /// Whether the equivocating primary tells the receiver of `slot` the null batch.
    fn told_null(&self, slot: (u64, u64, usize)) -> bool {
        if self.alternate {
            (slot.2 as u64 + slot.1) % 2 == 0
        } else {
            told_null(self.seed, slot)
        }
    }

    fn vote_digest(&mut self, view: u64, seq: u64, honest: Digest) -> Digest {
        let null = batch_digest(&[]);
        match self.equivocated.get(&(view, seq, self.receiver)) {
            Some(d) => *d,
            // No PRE-PREPARE is sent to the primary itself: vote for the batch it
            // proposed (the real one among what it told the others), so that its own
            // process prepares and commits it.
            None if self
                .equivocated
                .range((view, seq, 0)..=(view, seq, usize::MAX))
                .any(|(_, d)| *d != null) =>
            {
                self.equivocated
                    .range((view, seq, 0)..=(view, seq, usize::MAX))
                    .map(|(_, d)| *d)
                    .find(|d| *d != null)
                    .unwrap_or(honest)
            }
            // Not sent yet (or not by an equivocating primary): what `equivocate` tells
            // this receiver, whoever sends first. A vote for the null batch where the
            // primary did not equivocate is simply a wrong vote.
            None if self.told_null((view, seq, self.receiver)) => null,
            None => honest,
        }
    }
}

/// Whether `equivocate` sends the null batch to the receiver of `slot` (view, seq,
/// receiver): a fair coin that depends only on the seed and the slot.
fn told_null(seed: u64, (view, seq, receiver): (u64, u64, usize)) -> bool {
    // SplitMix64 over the seed and the slot.
    let mut z = seed
        ^ view.wrapping_mul(0x9E37_79B9_7F4A_7C15)
        ^ seq.wrapping_mul(0xC2B2_AE3D_27D4_EB4F)
        ^ (receiver as u64).wrapping_mul(0x1656_67B1_9E37_79F9);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    (z ^ (z >> 31)) & 1 == 1
}

fn encode(msg: &PeerMessage) -> Option<Bytes> {
    serde_json::to_vec(msg).ok().map(Bytes::from)
}

/// View or seq ±1, or a digest from another slot.
fn shift(msg: PeerMessage, ctx: &mut Context<'_>) -> Option<PeerMessage> {
    let delta: i64 = if ctx.rng.gen_bool(0.5) { 1 } else { -1 };
    let bump = |x: u64| x.saturating_add_signed(delta);
    // A digest of another slot if an equivocating primary recorded some, else one
    // made up: the vote is then for a batch nobody proposed.
    let other = ctx.equivocated.values().copied().collect::<Vec<_>>();
    let other = other
        .choose(ctx.rng)
        .copied()
        .or_else(|| Some(Digest::of(&ctx.rng.gen::<[u8; 8]>())));
    let which = ctx.rng.gen_range(0..3);
    Some(match msg {
        PeerMessage::PrePrepare(mut p) => {
            let h = &mut p.header.body;
            match which {
                0 => h.view = bump(h.view),
                1 => h.seq = bump(h.seq),
                _ => h.digest = other.unwrap_or(h.digest),
            }
            PeerMessage::PrePrepare(p)
        }
        PeerMessage::Prepare(mut m) => {
            match which {
                0 => m.body.view = bump(m.body.view),
                1 => m.body.seq = bump(m.body.seq),
                _ => m.body.digest = other.unwrap_or(m.body.digest),
            }
            PeerMessage::Prepare(m)
        }
        PeerMessage::Commit(mut m) => {
            match which {
                0 => m.body.view = bump(m.body.view),
                1 => m.body.seq = bump(m.body.seq),
                _ => m.body.digest = other.unwrap_or(m.body.digest),
            }
            PeerMessage::Commit(m)
        }
        PeerMessage::Checkpoint(mut m) => {
            // Checkpoints fall on multiples of the interval: a vote one seq off is
            // refused for its form (tests nothing); twice the seq is a vote for a
            // checkpoint the replica has not reached.
            m.body.seq = m.body.seq.checked_mul(2)?;
            PeerMessage::Checkpoint(m)
        }
        _ => return None,
    })
}

/// A reply with another result, signed by the faulty replica: a read returns another
/// value, a cas says the opposite of what happened (either way). `None` for a write or
/// an append, whose reply carries no result to change: their lie is an
/// acknowledgement before anything was applied ([`early_ack`]).
pub(crate) fn lie(mut reply: Reply, key: &SigningKey) -> Option<Signed<Reply>> {
    reply.result = match reply.result {
        OpResult::Read { value } => OpResult::Read {
            value: match value.as_i64() {
                Some(v) => serde_json::json!(v + 1),
                None => serde_json::json!(-1),
            },
        },
        OpResult::Cas { ok } => OpResult::Cas { ok: !ok },
        OpResult::Write | OpResult::Append => return None,
    };
    Some(Signed::sign(reply, key))
}

/// The faulty replica's acknowledgement of a write or an append it has not applied
/// (nor passed on): the reply of the right kind, signed, at once. `None` for reads and
/// cas, whose lie is a changed result ([`lie`]).
pub(crate) fn early_ack(
    request: &Request,
    replica: usize,
    view: u64,
    key: &SigningKey,
) -> Option<Signed<Reply>> {
    let result = match request.op {
        Operation::Write { .. } => OpResult::Write,
        Operation::Append { .. } => OpResult::Append,
        Operation::Read { .. } | Operation::Cas { .. } => return None,
    };
    let reply = Reply {
        view,
        timestamp: request.timestamp,
        client: request.client,
        replica: replica as ReplicaId,
        result,
    };
    Some(Signed::sign(reply, key))
}
