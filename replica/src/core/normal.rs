//! The normal case: REQUEST -> PRE-PREPARE -> PREPARE -> COMMIT -> execute -> REPLY,
//! with batching at the primary.

use super::rejection::Rejection;
use crate::bugs::Bug;
use crate::crypto::Signed;
use crate::messages::{
    batch_digest, Commit, PeerMessage, PrePrepare, PrePrepareMsg, Prepare, Reply, Request, Seq,
};

use super::record::{LogEntry, Record, RequestId};
use super::{Output, Replica};

impl Replica {
    /// A client request (directly from the client, or relayed by a backup).
    pub(crate) fn on_request(
        &mut self,
        req: Signed<Request>,
        relayed: bool,
        out: &mut Vec<Output>,
    ) {
        let (client, t) = (req.body.client, req.body.timestamp);
        if let Some(last) = self.state.last_reply(client) {
            if t == last.timestamp && !self.bug(Bug::NoClientDedupe) {
                // Exactly-once: re-send the stored result instead of executing again.
                let result = last.result.clone();
                self.send_reply(client, t, result, out);
                return;
            }
            if t < last.timestamp {
                return self.reject(
                    out,
                    "request",
                    Rejection::Stale,
                    format!("stale timestamp {t} from client {client}"),
                );
            }
        }
        if self.is_primary() {
            if self.in_progress.insert((client, t)) {
                if self.pending.is_empty() {
                    self.pending_since_ms = self.now_ms;
                }
                self.pending.push_back(req);
                self.maybe_cut_batch(out);
            }
        } else if !relayed && self.active {
            // A repeated request means the client timed out: relay it to the primary.
            let seen = self.seen_by_backup.get(&client).map(|r| r.body.timestamp);
            if seen.is_none_or(|s| s <= t) {
                self.seen_by_backup.insert(client, req.clone());
            }
            if seen == Some(t) {
                out.push(Output::Send {
                    to: self.primary(),
                    msg: PeerMessage::Relay(req),
                });
            }
        }
    }

    fn in_flight(&self) -> u64 {
        (self.next_seq - 1).saturating_sub(self.last_executed)
    }

    /// Primary: turns pending requests into PRE-PREPAREs when a batch is full, or
    /// when there is room in the pipeline and the oldest pending request has waited
    /// the batch delay. Under load, requests accumulate while batches are in flight,
    /// so batches grow with load (Castro & Liskov §5.1).
    ///
    /// A timer is asked for only while the batch delay has not passed. Past it, only
    /// a full pipeline holds the batch back, and only an execution makes room (it
    /// calls this again): a timer at the passed deadline made the shell tick at once,
    /// over and over, until then.
    pub(crate) fn maybe_cut_batch(&mut self, out: &mut Vec<Output>) {
        if !self.is_primary() || !self.active {
            return;
        }
        while !self.pending.is_empty() && self.next_seq <= self.high() {
            let full = self.pending.len() >= self.params.batch_size;
            let deadline = self.pending_since_ms + self.params.batch_delay_ms;
            let waited = self.now_ms >= deadline;
            let room = self.in_flight() < self.params.pipeline_depth;
            if !(full || (room && waited)) {
                if !waited {
                    out.push(Output::SetTimer { at_ms: deadline });
                }
                return;
            }
            let take = self.pending.len().min(self.params.batch_size);
            let batch: Vec<Signed<Request>> = self.pending.drain(..take).collect();
            self.pending_since_ms = self.now_ms;
            self.send_pre_prepare(batch, out);
        }
    }

    fn send_pre_prepare(&mut self, batch: Vec<Signed<Request>>, out: &mut Vec<Output>) {
        let seq = self.next_seq;
        self.next_seq += 1;
        let header = Signed::sign(
            PrePrepare {
                view: self.view,
                seq,
                digest: batch_digest(&batch),
                replica: self.id,
            },
            &self.key,
        );
        let msg = PrePrepareMsg { header, batch };
        let (view, now) = (self.view, self.now_ms);
        self.log.slot_mut(seq, view, now).pre_prepare = Some(msg.clone());
        out.push(Output::Persist(Record::PrePrepare(msg.clone())));
        out.push(Output::Broadcast(PeerMessage::PrePrepare(msg)));
        self.advance(seq, out);
    }

    fn note_seq(&mut self, seq: Seq) {
        self.max_seq_seen = self.max_seq_seen.max(seq);
    }

    /// Backup: accept a PRE-PREPARE if it is from the primary of our view, in the
    /// window, matches its batch and does not conflict with an accepted one.
    pub(crate) fn on_pre_prepare(&mut self, m: PrePrepareMsg, out: &mut Vec<Output>) {
        let h = m.header.body.clone();
        self.note_seq(h.seq);
        if !self.active {
            return self.reject(
                out,
                "pre-prepare",
                Rejection::ViewChanging,
                "view change in progress",
            );
        }
        if h.view != self.view {
            self.higher_view_seen |= h.view > self.view;
            return self.reject(
                out,
                "pre-prepare",
                Rejection::WrongView,
                format!("view {} != {}", h.view, self.view),
            );
        }
        if h.replica != self.primary() {
            return self.reject(
                out,
                "pre-prepare",
                Rejection::WrongSender,
                format!("sender {} is not the primary", h.replica),
            );
        }
        if h.replica == self.id {
            return;
        }
        if !self.in_window(h.seq) {
            return self.reject(
                out,
                "pre-prepare",
                Rejection::Watermarks,
                format!("seq {} outside ({}, {}]", h.seq, self.low, self.high()),
            );
        }
        if m.batch.len() > self.params.batch_size {
            return self.reject(
                out,
                "pre-prepare",
                Rejection::Oversized,
                format!("batch of {} > {}", m.batch.len(), self.params.batch_size),
            );
        }
        if batch_digest(&m.batch) != h.digest {
            return self.reject(
                out,
                "pre-prepare",
                Rejection::DigestMismatch,
                "digest does not match the batch",
            );
        }
        let (view, now) = (self.view, self.now_ms);
        let second_replaces = self.bug(Bug::AcceptSecondPrePrepare);
        let slot = self.log.slot_mut(h.seq, view, now);
        if let Some(d) = slot.digest() {
            if d != h.digest && second_replaces && !slot.executed {
                // Seeded bug: the slot starts over with the second PRE-PREPARE.
                *slot = super::log::Slot {
                    view,
                    created_ms: now,
                    ..Default::default()
                };
            } else if d != h.digest {
                return self.reject(
                    out,
                    "pre-prepare",
                    Rejection::Conflict,
                    format!("conflicting digest for seq {}", h.seq),
                );
            } else {
                return;
            }
        }
        slot.pre_prepare = Some(m.clone());
        out.push(Output::Persist(Record::PrePrepare(m)));
        if self.bug(Bug::NoPrePrepare) {
            // Seeded variant: the primary's proposal is its PREPARE, and a backup
            // COMMITs on it at once (no round of backup PREPAREs agreeing on one
            // digest per view and sequence number).
            return self.advance(h.seq, out);
        }
        let prepare = Signed::sign(
            Prepare {
                view: h.view,
                seq: h.seq,
                digest: h.digest,
                replica: self.id,
            },
            &self.key,
        );
        let slot = self.log.slot_mut(h.seq, view, now);
        slot.prepares.insert(self.id, prepare.clone());
        slot.my_prepare = Some(prepare.clone());
        out.push(Output::Persist(Record::Prepare(prepare.clone())));
        out.push(Output::Broadcast(PeerMessage::Prepare(prepare)));
        self.advance(h.seq, out);
    }

    pub(crate) fn on_prepare(&mut self, m: Signed<Prepare>, out: &mut Vec<Output>) {
        let p = m.body.clone();
        self.note_seq(p.seq);
        if !self.active {
            return self.reject(
                out,
                "prepare",
                Rejection::ViewChanging,
                "view change in progress",
            );
        }
        if p.view != self.view {
            self.higher_view_seen |= p.view > self.view;
            return self.reject(
                out,
                "prepare",
                Rejection::WrongView,
                format!("view {} != {}", p.view, self.view),
            );
        }
        if p.replica == self.primary() {
            return self.reject(
                out,
                "prepare",
                Rejection::WrongSender,
                "the primary does not send PREPARE",
            );
        }
        if p.replica as usize >= self.n || p.replica == self.id {
            return;
        }
        if !self.in_window(p.seq) {
            if p.seq <= self.low {
                return; // old: already garbage-collected
            }
            return self.reject(
                out,
                "prepare",
                Rejection::Watermarks,
                format!("seq {} above high watermark", p.seq),
            );
        }
        let (view, now) = (self.view, self.now_ms);
        let slot = self.log.slot_mut(p.seq, view, now);
        if let Some(prev) = slot.prepares.get(&p.replica) {
            if prev.body.digest != p.digest {
                return self.reject(
                    out,
                    "prepare",
                    Rejection::Conflict,
                    format!("second vote from {} for seq {}", p.replica, p.seq),
                );
            }
            return;
        }
        slot.prepares.insert(p.replica, m);
        self.advance(p.seq, out);
    }

    pub(crate) fn on_commit(&mut self, m: Signed<Commit>, out: &mut Vec<Output>) {
        let c = m.body.clone();
        self.note_seq(c.seq);
        if !self.active {
            return self.reject(
                out,
                "commit",
                Rejection::ViewChanging,
                "view change in progress",
            );
        }
        if c.view != self.view {
            self.higher_view_seen |= c.view > self.view;
            return self.reject(
                out,
                "commit",
                Rejection::WrongView,
                format!("view {} != {}", c.view, self.view),
            );
        }
        if c.replica as usize >= self.n || c.replica == self.id {
            return;
        }
        if !self.in_window(c.seq) {
            if c.seq <= self.low {
                return;
            }
            return self.reject(
                out,
                "commit",
                Rejection::Watermarks,
                format!("seq {} above high watermark", c.seq),
            );
        }
        let (view, now) = (self.view, self.now_ms);
        let slot = self.log.slot_mut(c.seq, view, now);
        if let Some(prev) = slot.commits.get(&c.replica) {
            if prev.body.digest != c.digest {
                return self.reject(
                    out,
                    "commit",
                    Rejection::Conflict,
                    format!("second vote from {} for seq {}", c.replica, c.seq),
                );
            }
            return;
        }
        slot.commits.insert(c.replica, m);
        self.advance(c.seq, out);
    }

    /// Sends COMMIT once prepared, then executes whatever is committed in order.
    pub(crate) fn advance(&mut self, seq: Seq, out: &mut Vec<Output>) {
        let (counting, id, key) = (self.counting(), self.id, self.key.clone());
        // Seeded bug: the COMMIT leaves unwritten, so a crash forgets it.
        let persist = !self.bug(Bug::LostOnRestart);
        if let Some(slot) = self.log.get_mut(seq) {
            if slot.my_commit.is_none() && slot.prepared(counting) {
                if let Some(cert) = slot.prepared_cert(counting) {
                    if persist {
                        out.push(Output::Persist(Record::Prepares {
                            seq,
                            prepares: cert.prepares.clone(),
                        }));
                    }
                    self.prepared_certs.insert(seq, cert);
                }
                let commit = Signed::sign(
                    Commit {
                        view: slot.view,
                        seq,
                        digest: slot.digest().expect("prepared implies a pre-prepare"),
                        replica: id,
                    },
                    &key,
                );
                slot.commits.insert(id, commit.clone());
                slot.my_commit = Some(commit.clone());
                if persist {
                    out.push(Output::Persist(Record::Commit(commit.clone())));
                }
                out.push(Output::Broadcast(PeerMessage::Commit(commit)));
            }
        }
        self.execute_ready(out);
    }

    /// Executes committed batches strictly in sequence order.
    pub(crate) fn execute_ready(&mut self, out: &mut Vec<Output>) {
        let counting = self.counting();
        // Seeded bug: prepared is taken for committed.
        let on_prepared = self.bug(Bug::ExecuteOnPrepared);
        loop {
            let next = self.last_executed + 1;
            let ready = self.log.get(next).is_some_and(|s| {
                !s.executed && (s.commit_quorum(counting) || (on_prepared && s.prepared(counting)))
            });
            if !ready {
                break;
            }
            self.execute(next, out);
        }
        self.maybe_cut_batch(out);
    }

    /// Executes the batch at `seq` (which must be `last_executed + 1`).
    pub(crate) fn execute(&mut self, seq: Seq, out: &mut Vec<Output>) {
        let slot = self.log.get_mut(seq).expect("execute needs a slot");
        slot.executed = true;
        let pp = slot
            .pre_prepare
            .clone()
            .expect("execute needs a pre-prepare");
        let digest = pp.header.body.digest;
        let mut replies = Vec::new();
        // The requests that took effect: a request ordered again (a faulty primary can
        // assign one request two sequence numbers) is not applied twice.
        let mut applied = Vec::new();
        for r in &pp.batch {
            let (client, t) = (r.body.client, r.body.timestamp);
            self.in_progress.remove(&(client, t));
            let again = self.params.bugs.has(Bug::NoClientDedupe);
            // Seeded bug: the last replica applies a successful cas wrongly (its reply
            // stays the correct one).
            let diverge = self.bug(Bug::DivergeState) && self.id as usize == self.n - 1;
            if let Some(result) = self.state.execute(client, t, &r.body.op, again, diverge) {
                replies.push((client, t, result));
                applied.push(RequestId {
                    client,
                    timestamp: t,
                });
            }
        }
        self.state.record_batch(seq, digest);
        if !pp.batch.is_empty() && seq >= self.fresh_from {
            // A request the view's primary proposed executed: the view works, back to
            // the base timeout (PBFT keeps the doubled one until then, so timers do not
            // race a new primary). A batch of O (below `fresh_from`) does not count:
            // earlier views ordered it, and counting it reset the timeout after every
            // NEW-VIEW, so a view whose own requests needed more than T was abandoned
            // at T, view after view (a livelock on a slow machine).
            self.vc_timeout_ms = self.params.view_change_timeout_ms;
            self.executed_in_view = true;
        }
        self.last_executed = seq;
        self.last_progress_ms = self.now_ms;
        self.exec_digests.insert(seq, digest);
        self.view_change_progress();
        let checkpoint = (seq % self.params.checkpoint_interval == 0).then(|| self.state.digest());
        let entry = LogEntry {
            seq,
            digest,
            requests: applied,
            transferred: false,
            state_digest: checkpoint,
        };
        out.push(Output::Persist(Record::Executed(entry.clone())));
        out.push(Output::Executed(entry));
        for (client, t, result) in replies {
            self.send_reply(client, t, result, out);
        }
        if let Some(state_digest) = checkpoint {
            self.make_checkpoint(seq, state_digest, out);
        }
    }

    fn send_reply(
        &mut self,
        client: u64,
        timestamp: u64,
        result: crate::state_machine::OpResult,
        out: &mut Vec<Output>,
    ) {
        let reply = Reply {
            view: self.view,
            timestamp,
            client,
            replica: self.id,
            result,
        };
        out.push(Output::Reply { client, reply });
    }
}

#[cfg(test)]
mod tests {
    use ed25519_dalek::SigningKey;
    use serde_json::json;

    use super::*;
    use crate::bugs::Bugs;
    use crate::config::ProtocolConfig;
    use crate::core::log::Slot;
    use crate::crypto::Digest;
    use crate::messages::ReplicaId;
    use crate::state_machine::{OpResult, Operation};

    const N: usize = 4;

    /// Client 5's requests, one per batch: a write, a cas that fails, one that succeeds.
    fn requests() -> Vec<Signed<Request>> {
        let ops = [
            Operation::Write {
                key: "x".into(),
                value: json!(1),
            },
            Operation::Cas {
                key: "x".into(),
                from: json!(7),
                to: json!(8),
            },
            Operation::Cas {
                key: "x".into(),
                from: json!(1),
                to: json!(2),
            },
        ];
        let client = SigningKey::from_bytes(&[9; 32]);
        ops.into_iter()
            .zip(1..)
            .map(|(op, timestamp)| {
                let req = Request {
                    client: 5,
                    timestamp,
                    op,
                };
                Signed::sign(req, &client)
            })
            .collect()
    }

    /// Replica `id` of 4 (with `bugs`) executes [`requests`] as committed batches 1,
    /// 2, 3, then gets the successful cas again, as a client retransmits it.
    /// Returns its state digest and the results of every REPLY it sent.
    fn execute_at(id: ReplicaId, bugs: Bugs) -> (Digest, Vec<OpResult>) {
        let params = ProtocolConfig {
            bugs,
            ..ProtocolConfig::default()
        };
        let (r, out) = execute_batches(id, params);
        let replies = out
            .into_iter()
            .filter_map(|o| match o {
                Output::Reply { reply, .. } => Some(reply.result),
                _ => None,
            })
            .collect();
        (r.state().digest(), replies)
    }

    /// Replica `id` of 4 executes [`requests`] as committed batches 1, 2, 3, then
    /// gets the successful cas again; returns it and everything it output.
    fn execute_batches(id: ReplicaId, params: ProtocolConfig) -> (Replica, Vec<Output>) {
        let key = SigningKey::from_bytes(&[id as u8; 32]);
        let mut r = Replica::new(id, N, params, key);
        let primary = SigningKey::from_bytes(&[0; 32]);
        let mut out = Vec::new();
        let reqs = requests();
        for (seq, req) in (1..).zip(&reqs) {
            let batch = vec![req.clone()];
            let pp = PrePrepare {
                view: 0,
                seq,
                digest: batch_digest(&batch),
                replica: 0,
            };
            let slot = Slot {
                pre_prepare: Some(PrePrepareMsg {
                    header: Signed::sign(pp, &primary),
                    batch,
                }),
                ..Slot::default()
            };
            r.log.insert(seq, slot);
            r.execute(seq, &mut out);
        }
        r.on_request(reqs[2].clone(), false, &mut out);
        (r, out)
    }

    #[test]
    fn a_checkpoint_s_log_entry_carries_the_state_digest_its_checkpoint_carries() {
        let params = ProtocolConfig {
            checkpoint_interval: 2,
            ..ProtocolConfig::default()
        };
        let (_, out) = execute_batches(1, params);
        let logged: Vec<(Seq, Option<Digest>)> = out
            .iter()
            .filter_map(|o| match o {
                Output::Executed(e) => Some((e.seq, e.state_digest)),
                _ => None,
            })
            .collect();
        let checkpoints: Vec<(Seq, Digest)> = out
            .iter()
            .filter_map(|o| match o {
                Output::Broadcast(PeerMessage::Checkpoint(c)) => {
                    Some((c.body.seq, c.body.state_digest))
                }
                _ => None,
            })
            .collect();
        assert_eq!(
            checkpoints.len(),
            1,
            "one checkpoint at seq 2: {checkpoints:?}"
        );
        assert_eq!(
            logged,
            [(1, None), (2, Some(checkpoints[0].1)), (3, None)],
            "only the checkpoint's entry carries a state digest, the CHECKPOINT's own"
        );
    }

    #[test]
    fn diverge_state_corrupts_the_last_replica_s_state_but_not_its_replies() {
        let bug = Bugs::NONE.with(Bug::DivergeState);
        let (correct, want) = execute_at(0, Bugs::NONE);
        let ok = OpResult::Cas { ok: true };
        let failed = OpResult::Cas { ok: false };
        assert_eq!(want, [OpResult::Write, failed, ok.clone(), ok]);
        for id in 0..N as ReplicaId - 1 {
            assert_eq!(
                execute_at(id, bug),
                (correct, want.clone()),
                "replica {id} is not the last: it stays correct"
            );
        }
        let (last, replies) = execute_at(N as ReplicaId - 1, bug);
        assert_eq!(
            replies, want,
            "the last replica's replies are the correct ones"
        );
        if cfg!(feature = "seeded-bugs") {
            assert_ne!(last, correct, "the last replica's state diverged");
        } else {
            assert_eq!(last, correct, "a normal build cannot switch the bug on");
        }
    }

    #[test]
    fn without_diverge_state_every_replica_ends_in_the_same_state() {
        let (correct, want) = execute_at(0, Bugs::NONE);
        for id in 1..N as ReplicaId {
            assert_eq!(execute_at(id, Bugs::NONE), (correct, want.clone()));
        }
    }
}
