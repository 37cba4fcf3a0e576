//! Checkpoints every K sequence numbers, stable at 2f+1 matching CHECKPOINTs;
//! the low watermark moves to the stable checkpoint and the log below it is dropped.

use super::rejection::Rejection;
use crate::crypto::{Digest, Signed};
use crate::messages::{Checkpoint, PeerMessage, Seq};

use super::record::Record;
use super::{Output, Replica};

impl Replica {
    /// After executing a multiple of K (the state's digest is `digest`): snapshot the
    /// state and broadcast CHECKPOINT.
    pub(crate) fn make_checkpoint(&mut self, seq: Seq, digest: Digest, out: &mut Vec<Output>) {
        self.snapshots.insert(seq, (digest, self.state.clone()));
        let msg = self.announce_checkpoint(seq, digest, out);
        self.record_checkpoint_vote(msg, out);
    }

    /// Signs, persists and broadcasts our CHECKPOINT for the state we hold at `seq`.
    pub(crate) fn announce_checkpoint(
        &mut self,
        seq: Seq,
        digest: Digest,
        out: &mut Vec<Output>,
    ) -> Signed<Checkpoint> {
        let msg = Signed::sign(
            Checkpoint {
                seq,
                state_digest: digest,
                replica: self.id,
            },
            &self.key,
        );
        out.push(Output::Persist(Record::Checkpoint(msg.clone())));
        out.push(Output::Broadcast(PeerMessage::Checkpoint(msg.clone())));
        msg
    }

    pub(crate) fn on_checkpoint(&mut self, m: Signed<Checkpoint>, out: &mut Vec<Output>) {
        let c = &m.body;
        self.note_checkpoint_seq(c.seq);
        if c.replica as usize >= self.n || c.replica == self.id || c.seq <= self.low {
            return;
        }
        if c.seq % self.params.checkpoint_interval != 0 {
            return self.reject(
                out,
                "checkpoint",
                Rejection::Malformed,
                format!("seq {} is not a multiple of K", c.seq),
            );
        }
        if c.seq > self.high() + self.params.log_window {
            // Far beyond our window: keep only each sender's newest such vote (bounded);
            // 2f+1 matching ones prove a checkpoint to fetch by state transfer.
            let sender = c.replica;
            if self
                .far_votes
                .get(&sender)
                .is_none_or(|p| p.body.seq < m.body.seq)
            {
                self.far_votes.insert(sender, m.clone());
            }
            return self.check_far_votes(m.body.seq, m.body.state_digest);
        }
        self.record_checkpoint_vote(m, out);
    }

    fn note_checkpoint_seq(&mut self, seq: Seq) {
        self.max_seq_seen = self.max_seq_seen.max(seq);
    }

    fn record_checkpoint_vote(&mut self, m: Signed<Checkpoint>, out: &mut Vec<Output>) {
        let (seq, sender, digest) = (m.body.seq, m.body.replica, m.body.state_digest);
        let votes = self.checkpoint_votes.entry(seq).or_default();
        if let Some(prev) = votes.get(&sender) {
            if prev.body.state_digest != digest {
                return self.reject(
                    out,
                    "checkpoint",
                    Rejection::Conflict,
                    format!("second vote from {sender} for seq {seq}"),
                );
            }
            return;
        }
        votes.insert(sender, m);
        self.try_stabilize(seq, out);
    }

    /// Makes `seq` stable if 2f+1 CHECKPOINTs match our own state digest there.
    pub(crate) fn try_stabilize(&mut self, seq: Seq, out: &mut Vec<Output>) {
        if seq <= self.low {
            return;
        }
        let Some((own, _)) = self.snapshots.get(&seq) else {
            // Not executed here: if 2f+1 agree, the checkpoint is proven and state
            // transfer may fetch it.
            self.note_proof_without_snapshot(seq);
            return;
        };
        let own: Digest = *own;
        let Some(votes) = self.checkpoint_votes.get(&seq) else {
            return;
        };
        let proof: Vec<Signed<Checkpoint>> = votes
            .values()
            .filter(|v| v.body.state_digest == own)
            .cloned()
            .collect();
        if proof.len() <= 2 * self.f {
            return;
        }
        let (_, state) = self.snapshots.remove(&seq).expect("checked above");
        self.set_stable(seq, own, state, proof, out);
        tracing::debug!(replica = self.id, seq, "checkpoint stable");
        self.maybe_cut_batch(out);
    }

    fn check_far_votes(&mut self, seq: Seq, digest: Digest) {
        let proof: Vec<Signed<Checkpoint>> = self
            .far_votes
            .values()
            .filter(|v| v.body.seq == seq && v.body.state_digest == digest)
            .cloned()
            .collect();
        if proof.len() > 2 * self.f {
            self.note_proven_ahead(seq, digest, proof);
        }
    }

    fn note_proof_without_snapshot(&mut self, seq: Seq) {
        if seq <= self.last_executed {
            return;
        }
        let Some(votes) = self.checkpoint_votes.get(&seq) else {
            return;
        };
        let mut by_digest: std::collections::BTreeMap<Digest, Vec<Signed<Checkpoint>>> =
            Default::default();
        for v in votes.values() {
            by_digest
                .entry(v.body.state_digest)
                .or_default()
                .push(v.clone());
        }
        if let Some((d, proof)) = by_digest.into_iter().find(|(_, p)| p.len() > 2 * self.f) {
            self.note_proven_ahead(seq, d, proof);
        }
    }

    /// The stable checkpoint's proof (2f+1 CHECKPOINTs), for VIEW-CHANGE.
    pub fn stable_proof(&self) -> &[Signed<Checkpoint>] {
        &self.stable_proof
    }
}
