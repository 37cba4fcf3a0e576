//! Restart: rebuild the engine from the last stable snapshot and the WAL records
//! written after it. Replaying is the same code path as running: executed batches
//! are executed again on the snapshot's state, which is deterministic.

use ed25519_dalek::SigningKey;

use crate::config::ProtocolConfig;
use crate::messages::ReplicaId;

use super::record::{LogEntry, Record, Snapshot};
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
            r.state = s.state.clone();
            r.low = s.seq;
            r.last_executed = s.seq;
            r.next_seq = s.seq + 1;
            r.max_seq_seen = s.seq;
            r.stable_digest = s.state_digest;
            r.old_proofs.insert(s.seq, s.proof.clone());
            r.stable_proof = s.proof;
            r.stable_state = s.state.clone();
            r.view = s.view;
            r.active = s.view_active;
        }
        let mut sink = Vec::new();
        for rec in records {
            let seq = rec.seq();
            let view_record = matches!(rec, Record::ViewChange(_) | Record::NewView { .. });
            if seq <= r.low && !view_record {
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
                Record::Executed(LogEntry { seq, digest, .. }) => {
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
                Record::Prepares { seq, prepares } => {
                    if let Some(slot) = r.log.get_mut(seq) {
                        for p in prepares {
                            slot.prepares.entry(p.body.replica).or_insert(p);
                        }
                        if let Some(cert) = slot.prepared_cert(r.f) {
                            r.prepared_certs.insert(seq, cert);
                        }
                    }
                }
                Record::ViewChange(vc) => {
                    // We promised never to act in an earlier view again.
                    if vc.body.view >= r.view {
                        r.view = vc.body.view;
                        r.active = false;
                        r.view_changes += 1;
                        r.vc_msgs
                            .entry(vc.body.view)
                            .or_default()
                            .insert(id, (*vc).clone());
                        r.my_vc = Some(*vc);
                    }
                }
                Record::NewView { view, .. } => {
                    if view >= r.view {
                        r.view = view;
                        r.active = true;
                        r.my_vc = None;
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
