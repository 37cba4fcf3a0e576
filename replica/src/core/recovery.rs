//! Restart: rebuild the engine from the last stable snapshot and the WAL records
//! written after it. Replaying is the same code path as running: executed batches
//! are executed again on the snapshot's state, which is deterministic.

use ed25519_dalek::SigningKey;

use crate::config::ProtocolConfig;
use crate::messages::{ReplicaId, Seq, View};

use super::log::{MessageLog, Slot};
use super::record::{LogEntry, Record, Snapshot};
use super::Replica;

/// The slot for `seq` as a record of view `view` finds it: a slot of an older view
/// is replaced by an empty one of `view` (keeping only its executed flag), and
/// `None` if the slot belongs to a later view (a record that came too late).
fn slot_of_view(log: &mut MessageLog, seq: Seq, view: View) -> Option<&mut Slot> {
    let old = log.get(seq).map(|s| (s.view, s.executed));
    match old {
        Some((v, _)) if v > view => None,
        Some((v, executed)) if v < view => {
            log.insert(
                seq,
                Slot {
                    view,
                    executed,
                    ..Slot::default()
                },
            );
            log.get_mut(seq)
        }
        _ => Some(log.slot_mut(seq, view, 0)),
    }
}

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
                    // A later view's PRE-PREPARE replaces the slot as it did live (a
                    // NEW-VIEW's O, or a fresh proposal after the old one was dropped):
                    // no vote of the older view survives it. Executed slots keep
                    // their flag, as `install_new_view` does.
                    if let Some(slot) = slot_of_view(&mut r.log, seq, v) {
                        slot.pre_prepare = Some(m);
                    }
                }
                Record::Prepare(p) => {
                    if let Some(slot) = slot_of_view(&mut r.log, seq, p.body.view) {
                        slot.prepares.insert(id, p.clone());
                        slot.my_prepare = Some(p);
                    }
                }
                Record::Commit(c) => {
                    if let Some(slot) = slot_of_view(&mut r.log, seq, c.body.view) {
                        slot.commits.insert(id, c.clone());
                        slot.my_commit = Some(c);
                    }
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
                    let counting = r.counting();
                    if let Some(slot) = r.log.get_mut(seq) {
                        // Only votes of the slot's view; a newer vote replaces an older.
                        for p in prepares.into_iter().filter(|p| p.body.view == slot.view) {
                            slot.prepares.insert(p.body.replica, p);
                        }
                        if let Some(cert) = slot.prepared_cert(counting) {
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
                Record::NewView {
                    view,
                    seq: min_s,
                    new_view,
                } => {
                    if view >= r.view {
                        r.view = view;
                        r.active = true;
                        r.my_vc = None;
                        // As `install_new_view`: only batches above max-s (the last of
                        // O; min-s for a record without its NEW-VIEW) show the view
                        // works, and the executions replayed below say whether one did.
                        r.executed_in_view = false;
                        r.fresh_from = new_view
                            .as_ref()
                            .and_then(|nv| nv.body.pre_prepares.last())
                            .map_or(min_s, |pp| pp.header.body.seq)
                            + 1;
                        if let Some(nv) = new_view {
                            r.last_new_view = Some(*nv);
                        }
                        r.vc_msgs = r.vc_msgs.split_off(&(view + 1));
                        // As `install_new_view`: proposals of earlier views that did not
                        // execute are void (O's PRE-PREPAREs follow this record).
                        r.log.retain(|_, s| s.executed || s.view >= view);
                    }
                }
                // Re-created when the batch at a multiple of K is executed again.
                Record::Checkpoint(_) | Record::Stable(_) => {}
            }
        }
        r.next_seq = r.next_seq.max(r.last_executed + 1);
        // Batches the view's own primary proposed may lie below the snapshot, whose
        // records are not replayed: only such batches take execution past max-s.
        r.executed_in_view |= r.last_executed >= r.fresh_from;
        r.in_progress.clear();
        r
    }
}
