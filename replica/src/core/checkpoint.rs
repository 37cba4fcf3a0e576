//! Checkpoints every K sequence numbers, stable at 2f+1 matching CHECKPOINTs;
//! the low watermark moves to the stable checkpoint and the log below it is dropped.

use crate::crypto::{Digest, Signed};
use crate::messages::{Checkpoint, PeerMessage, Seq};

use super::record::{Record, Snapshot};
use super::{Output, Replica};

impl Replica {
    /// After executing a multiple of K: snapshot the state and broadcast CHECKPOINT.
    pub(crate) fn make_checkpoint(&mut self, seq: Seq, out: &mut Vec<Output>) {
        let digest = self.state.digest();
        self.snapshots.insert(seq, (digest, self.state.clone()));
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
        self.record_checkpoint_vote(msg, out);
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
                format!("seq {} is not a multiple of K", c.seq),
            );
        }
        if c.seq > self.high() + self.params.log_window {
            return self.reject(out, "checkpoint", format!("seq {} too far ahead", c.seq));
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
            // We have not executed `seq` yet; state transfer (next issue) starts here
            // when 2f+1 others have.
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
        self.low = seq;
        self.stable_digest = own;
        self.stable_proof = proof.clone();
        let keep_above = seq.saturating_sub(self.params.log_window);
        self.log.truncate_through(seq, keep_above, self.f);
        self.snapshots = self.snapshots.split_off(&(seq + 1));
        self.checkpoint_votes = self.checkpoint_votes.split_off(&seq);
        self.old_proofs.insert(seq, proof.clone());
        self.old_proofs = self.old_proofs.split_off(&(keep_above + 1));
        out.push(Output::Persist(Record::Stable(Box::new(Snapshot {
            seq,
            state_digest: own,
            state,
            proof,
            view: self.view,
        }))));
        tracing::debug!(replica = self.id, seq, "checkpoint stable");
        self.maybe_cut_batch(out);
    }

    /// The stable checkpoint's proof (2f+1 CHECKPOINTs), for VIEW-CHANGE.
    pub fn stable_proof(&self) -> &[Signed<Checkpoint>] {
        &self.stable_proof
    }
}
