//! State transfer: a replica that learns of a stable checkpoint it has not reached
//! (2f+1 CHECKPOINTs, or the min-s of a NEW-VIEW) and is not getting there by
//! executing, asks one peer for that checkpoint's state (FETCH-STATE). The answer
//! (STATE) is installed only if its state hashes to the digest certified by 2f+1
//! signed CHECKPOINTs; otherwise (or after a timeout) the next peer is asked. The
//! answer also carries the executed batch digests the requester lacks, so that its
//! `/log` has no hole; they are certified too, through the state: it carries the
//! hash chain of every executed digest, and the digests must extend the requester's
//! own chain head to the certified one.

use super::rejection::Rejection;
use crate::crypto::{Digest, Signed};
use crate::messages::{Checkpoint, FetchState, PeerMessage, ReplicaId, Seq, StateReply};
use crate::state_machine::chain_link;

use super::record::{LogEntry, Record, Snapshot};
use super::view_change::check_checkpoint_proof;
use super::{Output, Replica};

/// Executed digests kept for state transfers (a STATE answer carries the ones the
/// requester lacks, so its `/log` has no hole). A fixed count, not a number of log
/// windows: a replica paused for seconds at full speed falls behind by thousands of
/// sequence numbers whatever the window. 16,384 digests are ~1.2 MB of JSON at most.
const HISTORY_KEPT: u64 = 16_384;

/// An outstanding state transfer.
#[derive(Clone, Debug)]
pub struct Fetch {
    /// Checkpoint wanted (or a later one).
    pub seq: Seq,
    /// The peer asked last.
    pub peer: ReplicaId,
    /// When it was asked (ms).
    pub asked_ms: u64,
    /// Peers asked so far.
    pub tries: usize,
}

impl Replica {
    /// A checkpoint proven by 2f+1 CHECKPOINTs (`proof`, certifying `digest`):
    /// stabilize it if we executed it, else remember it for state transfer (at once
    /// when it is beyond our window or comes with a NEW-VIEW).
    pub(crate) fn adopt_checkpoint(
        &mut self,
        seq: Seq,
        digest: Digest,
        proof: Vec<Signed<Checkpoint>>,
        out: &mut Vec<Output>,
    ) {
        if seq <= self.low {
            return;
        }
        if self.snapshots.contains_key(&seq) {
            let votes = self.checkpoint_votes.entry(seq).or_default();
            for c in proof {
                votes.entry(c.body.replica).or_insert(c);
            }
            return self.try_stabilize(seq, out);
        }
        if seq <= self.last_executed {
            return;
        }
        self.note_proven_ahead(seq, digest, proof);
        self.start_fetch(out);
    }

    /// Remembers the newest checkpoint proven beyond what we executed.
    pub(crate) fn note_proven_ahead(
        &mut self,
        seq: Seq,
        digest: Digest,
        proof: Vec<Signed<Checkpoint>>,
    ) {
        if self.proven_ahead.as_ref().is_none_or(|(s, _, _)| *s < seq) {
            self.proven_ahead = Some((seq, digest, proof));
        }
    }

    /// On a tick: fetch when stuck behind a proven checkpoint, re-ask on timeout.
    pub(crate) fn state_transfer_tick(&mut self, out: &mut Vec<Output>) {
        let Some((seq, _, _)) = &self.proven_ahead else {
            return;
        };
        if *seq <= self.last_executed {
            self.proven_ahead = None;
            self.fetch = None;
            return;
        }
        let timeout = 2 * self.params.retransmit_ms;
        match &self.fetch {
            Some(f) if self.now_ms >= f.asked_ms + timeout => self.ask_next_peer(out),
            Some(_) => {}
            None => {
                let far = *seq > self.high();
                let stuck = self.now_ms >= self.last_progress_ms + self.params.retransmit_ms;
                if far || stuck {
                    self.start_fetch(out);
                }
            }
        }
    }

    fn start_fetch(&mut self, out: &mut Vec<Output>) {
        if self.fetch.is_some() {
            return;
        }
        let Some((seq, _, _)) = &self.proven_ahead else {
            return;
        };
        self.fetch = Some(Fetch {
            seq: *seq,
            peer: self.id,
            asked_ms: self.now_ms,
            tries: 0,
        });
        self.ask_next_peer(out);
    }

    fn ask_next_peer(&mut self, out: &mut Vec<Output>) {
        let (n, id, now, last) = (self.n as u32, self.id, self.now_ms, self.last_executed);
        let Some(f) = self.fetch.as_mut() else { return };
        let mut peer = (f.peer + 1) % n;
        if peer == id {
            peer = (peer + 1) % n;
        }
        f.peer = peer;
        f.asked_ms = now;
        f.tries += 1;
        tracing::info!(
            replica = id,
            seq = f.seq,
            peer,
            "state transfer: FETCH-STATE"
        );
        let msg = Signed::sign(
            FetchState {
                seq: f.seq,
                last_executed: last,
                replica: id,
            },
            &self.key,
        );
        out.push(Output::Send {
            to: peer,
            msg: PeerMessage::FetchState(msg),
        });
    }

    /// A peer asks for our stable checkpoint: send it if it is recent enough.
    pub(crate) fn on_fetch_state(&mut self, m: Signed<FetchState>, out: &mut Vec<Output>) {
        let r = m.body;
        if r.replica as usize >= self.n || r.replica == self.id || self.low < r.seq {
            return;
        }
        if r.last_executed >= r.seq {
            // A correct replica asks only for a checkpoint it has not reached.
            return self.reject(
                out,
                "fetch-state",
                Rejection::Stale,
                "already past the checkpoint asked for",
            );
        }
        // A requester re-asks a peer only after trying the others (each for 2 x
        // `retransmit_ms`); each answer carries the whole signed state.
        if !self.may_answer(r.replica, "fetch-state", self.params.retransmit_ms) {
            return;
        }
        let reply = StateReply {
            seq: self.low,
            state: self.stable_state.clone(),
            proof: self.stable_proof.clone(),
            history: self
                .exec_digests
                .range(r.last_executed + 1..=self.low)
                .map(|(s, d)| (*s, *d))
                .collect(),
            replica: self.id,
        };
        out.push(Output::Send {
            to: r.replica,
            msg: PeerMessage::State(Box::new(Signed::sign(reply, &self.key))),
        });
    }

    /// A STATE answer: install it if its state is the one the proof certifies.
    pub(crate) fn on_state(&mut self, m: Signed<StateReply>, out: &mut Vec<Output>) {
        let r = m.body;
        let Some(fetch) = &self.fetch else { return };
        if r.seq < fetch.seq || r.seq <= self.last_executed {
            return;
        }
        let verdict = check_checkpoint_proof(r.seq, &r.proof, self.n, self.f).and_then(|d| {
            if r.state.digest() == d {
                Ok(d)
            } else {
                Err(format!(
                    "state from {} does not hash to the proven digest",
                    r.replica
                ))
            }
        });
        // The executed digests are certified through the state: its history chain
        // (part of the proven state digest) must be our own head extended by them,
        // in order. A peer that restarted from its own snapshot may lack some; we
        // prefer one that has them all (our /log must not get a hole) unless every
        // peer was asked already, and then install the state without the digests
        // we cannot check.
        let before = self.last_executed;
        let mut history: Vec<(Seq, Digest)> = r
            .history
            .iter()
            .filter(|(s, _)| *s > before && *s <= r.seq)
            .copied()
            .collect();
        history.sort_unstable_by_key(|(s, _)| *s);
        history.dedup_by_key(|(s, _)| *s);
        let wanted = r.seq - before;
        let complete = history.len() as u64 == wanted;
        let verdict = verdict.and_then(|d| {
            let head = history
                .iter()
                .fold(self.state.history_head(), |h, (s, dg)| {
                    chain_link(h, *s, *dg)
                });
            if !complete || head == r.state.history_head() {
                Ok(d)
            } else {
                Err(format!(
                    "history digests from {} do not chain to the certified state",
                    r.replica
                ))
            }
        });
        let verdict = verdict.and_then(|d| {
            if complete || fetch.tries >= self.n - 1 {
                Ok(d)
            } else {
                Err(format!(
                    "history from {} has {} of {wanted} digests",
                    r.replica,
                    history.len()
                ))
            }
        });
        match verdict {
            Ok(digest) => {
                if !complete {
                    history.clear();
                }
                self.install_state(r, digest, history, out)
            }
            Err(e) => {
                self.reject(out, "state", Rejection::InvalidProof, e);
                self.ask_next_peer(out);
            }
        }
    }

    /// Installs a checked STATE; `history` holds the executed digests it brought
    /// that chain to its certified head (empty if they could not be checked).
    fn install_state(
        &mut self,
        r: StateReply,
        digest: Digest,
        history: Vec<(Seq, Digest)>,
        out: &mut Vec<Output>,
    ) {
        let seq = r.seq;
        let before = self.last_executed;
        tracing::info!(
            replica = self.id,
            from = r.replica,
            seq,
            before,
            "state transfer: installed"
        );
        self.state = r.state.clone();
        self.last_executed = seq;
        self.last_progress_ms = self.now_ms;
        self.next_seq = self.next_seq.max(seq + 1);
        self.max_seq_seen = self.max_seq_seen.max(seq);
        self.fetch = None;
        if self
            .proven_ahead
            .as_ref()
            .is_some_and(|(s, _, _)| *s <= seq)
        {
            self.proven_ahead = None;
        }
        self.state_transfers += 1;
        self.view_change_progress();
        self.in_progress.clear();
        self.set_stable(seq, digest, r.state, r.proof, out);
        // We hold that state now, so we vouch for it: a peer that executed to `seq`
        // may still lack a correct replica's vote there (a faulty replica's
        // conflicting CHECKPOINT takes its sender's place), and without ours its
        // window would stay below `seq` for good.
        let mine = self.announce_checkpoint(seq, digest, out);
        self.checkpoint_votes
            .entry(seq)
            .or_default()
            .insert(self.id, mine);
        for (s, d) in history {
            if s > before && s <= seq {
                self.exec_digests.insert(s, d);
                let entry = LogEntry {
                    seq: s,
                    digest: d,
                    requests: Vec::new(),
                    transferred: true,
                    state_digest: None,
                };
                out.push(Output::Persist(Record::Executed(entry.clone())));
                out.push(Output::Executed(entry));
            }
        }
        self.execute_ready(out);
    }

    /// Moves the low watermark to the stable checkpoint `seq` (state `state`,
    /// digest `digest`, proof `proof`), garbage-collects, persists the snapshot.
    pub(crate) fn set_stable(
        &mut self,
        seq: Seq,
        digest: Digest,
        state: crate::state_machine::KvStore,
        proof: Vec<Signed<Checkpoint>>,
        out: &mut Vec<Output>,
    ) {
        self.low = seq;
        self.stable_digest = digest;
        self.stable_proof = proof.clone();
        self.stable_state = state.clone();
        let keep_above = seq.saturating_sub(self.params.log_window);
        self.log.truncate_through(seq, keep_above, self.counting());
        self.snapshots = self.snapshots.split_off(&(seq + 1));
        self.checkpoint_votes = self.checkpoint_votes.split_off(&seq);
        self.prepared_certs = self.prepared_certs.split_off(&(seq + 1));
        self.far_votes.retain(|_, v| v.body.seq > seq);
        self.old_proofs.insert(seq, proof.clone());
        self.old_proofs = self.old_proofs.split_off(&(keep_above + 1));
        let history_from = seq.saturating_sub(HISTORY_KEPT);
        self.exec_digests = self.exec_digests.split_off(&history_from);
        out.push(Output::Persist(Record::Stable(Box::new(Snapshot {
            seq,
            state_digest: digest,
            state,
            proof,
            view: self.view,
            view_active: self.active,
        }))));
    }
}
