//! Restart: rebuild the engine from the last stable snapshot and the WAL records
//! written after it. Replaying is the same code path as running: executed batches
//! are executed again on the snapshot's state, which is deterministic.

use ed25519_dalek::SigningKey;

use crate::config::ProtocolConfig;
use crate::messages::ReplicaId;

use super::record::{Record, Snapshot};
use super::Replica;

impl Replica {
    /// Rebuilds a replica after a crash from its snapshot and WAL records (in order).
    pub fn recover(
        id: ReplicaId,
        n: usize,
        params: ProtocolConfig,
        key: SigningKey,
        snapshot: Option<Snapshot>,
        records: Vec<Record>,
    ) -> Self {
        let mut r = Replica::new(id, n, params, key);
        if let Some(s) = snapshot {
            r.low = s.seq;
            r.last_executed = s.seq;
            r.next_seq = s.seq + 1;
            r.max_seq_seen = s.seq;
            r.state = s.state;
            r.stable_digest = s.state_digest;
            r.old_proofs.insert(s.seq, s.proof.clone());
            r.stable_proof = s.proof;
            r.view = s.view;
        }
        let mut sink = Vec::new();
        for rec in records {
            let seq = rec.seq();
            if seq <= r.low {
                continue;
            }
            r.max_seq_seen = r.max_seq_seen.max(seq);
            match rec {
                Record::PrePrepare(m) => {
                    let v = m.header.body.view;
                    r.view = r.view.max(v);
                    if m.header.body.replica == id {
                        r.next_seq = r.next_seq.max(seq + 1);
                    }
                    let slot = r.log.slot_mut(seq, v, 0);
                    slot.view = v;
                    slot.pre_prepare = Some(m);
                }
                Record::Prepare(p) => {
                    let slot = r.log.slot_mut(seq, p.body.view, 0);
                    slot.prepares.insert(id, p.clone());
                    slot.my_prepare = Some(p);
                }
                Record::Commit(c) => {
                    let slot = r.log.slot_mut(seq, c.body.view, 0);
                    slot.commits.insert(id, c.clone());
                    slot.my_commit = Some(c);
                }
                Record::Executed { seq, digest } => {
                    let ok = seq == r.last_executed + 1
                        && r.log.get(seq).and_then(|s| s.digest()) == Some(digest);
                    if ok {
                        r.execute(seq, &mut sink);
                    } else {
                        tracing::warn!(
                            replica = id,
                            seq,
                            "WAL: executed record out of order; ignored"
                        );
                    }
                }
                // Re-created when the batch at a multiple of K is executed again.
                Record::Checkpoint(_) | Record::Stable(_) => {}
            }
        }
        r.next_seq = r.next_seq.max(r.last_executed + 1);
        r.in_progress.clear();
        r
    }
}
