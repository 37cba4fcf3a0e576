//! Clock ticks: batch timers, retransmission of our messages for slots that are
//! stuck, and STATUS messages that ask peers for what we missed (TOCS 2002 §5.2).

use super::rejection::Rejection;
use crate::crypto::Signed;
use crate::messages::{PeerMessage, Status};

use super::{Output, Replica};

/// Most slots re-sent per retransmission or STATUS answer.
const RETRANSMIT_SLOTS: usize = 32;

impl Replica {
    pub(crate) fn on_tick(&mut self, now_ms: u64, out: &mut Vec<Output>) {
        self.now_ms = self.now_ms.max(now_ms);
        self.maybe_cut_batch(out);
        self.view_change_tick(out);
        self.state_transfer_tick(out);
        if !self.active {
            return; // the VIEW-CHANGE is what gets retransmitted
        }
        if self.now_ms < self.last_retransmit_ms + self.params.retransmit_ms {
            return;
        }
        self.last_retransmit_ms = self.now_ms;
        let cutoff = self.now_ms.saturating_sub(self.params.retransmit_ms);
        if self.last_progress_ms > cutoff {
            // Execution is advancing: nothing is stuck, and retransmitting now would
            // only add load to a slow cluster.
            return;
        }
        let mut stuck = false;
        for (_, slot) in self
            .log
            .range(self.last_executed + 1..)
            .filter(|(_, s)| !s.executed && s.created_ms <= cutoff)
            .take(RETRANSMIT_SLOTS)
        {
            stuck = true;
            if slot.view != self.view {
                continue;
            }
            if self.is_primary() {
                if let Some(pp) = &slot.pre_prepare {
                    out.push(Output::Broadcast(PeerMessage::PrePrepare(pp.clone())));
                }
            }
            if let Some(p) = &slot.my_prepare {
                out.push(Output::Broadcast(PeerMessage::Prepare(p.clone())));
            }
            if let Some(c) = &slot.my_commit {
                out.push(Output::Broadcast(PeerMessage::Commit(c.clone())));
            }
        }
        let behind = self.max_seq_seen > self.last_executed && self.last_progress_ms <= cutoff;
        // Messages of a later view while ours is active: we missed a view change (e.g.
        // we were partitioned and caught up by state transfer after the cluster went
        // idle). A STATUS from our older view is answered with the NEW-VIEW.
        let missed_view = std::mem::take(&mut self.higher_view_seen);
        // A checkpoint of ours that is still not stable while execution stands still:
        // CHECKPOINTs were lost, and with the window full nothing else would be sent.
        let unstable_own = self
            .checkpoint_votes
            .range(self.low + 1..)
            .any(|(_, votes)| votes.contains_key(&self.id));
        if stuck || behind || missed_view || unstable_own {
            // Our own unstable checkpoints may be what the others are missing.
            for votes in self.checkpoint_votes.values() {
                if let Some(mine) = votes.get(&self.id) {
                    out.push(Output::Broadcast(PeerMessage::Checkpoint(mine.clone())));
                }
            }
            let status = Signed::sign(
                Status {
                    view: self.view,
                    low_watermark: self.low,
                    last_executed: self.last_executed,
                    replica: self.id,
                },
                &self.key,
            );
            out.push(Output::Broadcast(PeerMessage::Status(status)));
        }
    }

    /// A peer says how far it got: send it what we have beyond that (within its
    /// window), from the log or from the archive of committed certificates.
    pub(crate) fn on_status(&mut self, m: Signed<Status>, out: &mut Vec<Output>) {
        let s = m.body;
        if s.replica as usize >= self.n || s.replica == self.id {
            return;
        }
        if s.last_executed < s.low_watermark {
            // No correct replica is behind its own stable checkpoint (and the ranges
            // below would start after they end).
            return self.reject(
                out,
                "status",
                Rejection::Stale,
                "last executed below the low watermark",
            );
        }
        // Peers send STATUS every `retransmit_ms` while stuck; answers are costlier.
        if !self.may_answer(s.replica, "status", self.params.retransmit_ms / 2) {
            return;
        }
        if s.view < self.view && self.active {
            // The peer missed a view change: the NEW-VIEW brings it forward.
            if let Some(nv) = &self.last_new_view {
                out.push(Output::Send {
                    to: s.replica,
                    msg: PeerMessage::NewView(nv.clone()),
                });
            }
            return;
        }
        if s.view != self.view || !self.active {
            return;
        }
        let to = s.replica;
        if s.last_executed < self.low {
            // It needs what we garbage-collected: our stable checkpoint's proof lets
            // it fetch the state.
            for c in &self.stable_proof {
                out.push(Output::Send {
                    to,
                    msg: PeerMessage::Checkpoint(c.clone()),
                });
            }
        }
        if s.last_executed >= self.last_executed
            && !matches!(self.log.max_seq(), Some(m) if m > s.last_executed)
        {
            return; // we have nothing it lacks
        }
        let last = (s.low_watermark + self.params.log_window)
            .min(s.last_executed + RETRANSMIT_SLOTS as u64);
        for seq in s.last_executed + 1..=last {
            if let Some(cert) = self.log.archived(seq) {
                out.push(Output::Send {
                    to,
                    msg: PeerMessage::PrePrepare(cert.pre_prepare.clone()),
                });
                for c in &cert.commits {
                    out.push(Output::Send {
                        to,
                        msg: PeerMessage::Commit(c.clone()),
                    });
                }
            } else if let Some(slot) = self.log.get(seq).filter(|sl| sl.view == self.view) {
                if let Some(pp) = &slot.pre_prepare {
                    out.push(Output::Send {
                        to,
                        msg: PeerMessage::PrePrepare(pp.clone()),
                    });
                }
                if let Some(p) = &slot.my_prepare {
                    out.push(Output::Send {
                        to,
                        msg: PeerMessage::Prepare(p.clone()),
                    });
                }
                if let Some(c) = &slot.my_commit {
                    out.push(Output::Send {
                        to,
                        msg: PeerMessage::Commit(c.clone()),
                    });
                }
            }
        }
        // Checkpoint proofs let the peer move its window once it has executed that far;
        // a peer behind the oldest one we keep needs state transfer (next issue).
        for proof in self
            .old_proofs
            .range(s.low_watermark + 1..=last)
            .map(|(_, p)| p)
        {
            for c in proof {
                out.push(Output::Send {
                    to,
                    msg: PeerMessage::Checkpoint(c.clone()),
                });
            }
        }
    }
}
