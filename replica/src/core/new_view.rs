//! View change, second half: the new primary computes O from 2f+1 VIEW-CHANGEs and
//! sends NEW-VIEW; backups check every VIEW-CHANGE in it, recompute O with the same
//! function ([`compute_o`]) and reject a NEW-VIEW that differs; then everyone
//! installs the view and re-prepares O, so that whatever may have committed in an
//! earlier view keeps its sequence number.

use super::rejection::Rejection;
use std::collections::BTreeSet;

use crate::crypto::{Digest, Signed};
use crate::messages::{
    batch_digest, Checkpoint, NewView, PeerMessage, PrePrepare, PrePrepareMsg, Prepare, ReplicaId,
    Request, Seq, View, ViewChange,
};

use super::log::Slot;
use super::record::Record;
use super::view_change::check_view_change;
use super::{Output, Replica};

/// What a NEW-VIEW must contain, computed from its VIEW-CHANGEs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewViewPlan {
    /// min-s: the newest stable checkpoint among the VIEW-CHANGEs.
    pub min_s: Seq,
    /// Its proof (2f+1 CHECKPOINTs; empty for 0).
    pub proof: Vec<Signed<Checkpoint>>,
    /// max-s: the highest sequence number with a prepared certificate (>= min-s).
    pub max_s: Seq,
    /// One entry per sequence number in `(min_s, max_s]`: the batch re-proposed
    /// (the one of the highest-view certificate, or the null batch) and its digest.
    pub entries: Vec<(Seq, Digest, Vec<Signed<Request>>)>,
}

/// Computes O (Castro & Liskov §4.4) from a set of valid VIEW-CHANGEs: for every
/// sequence number between min-s and max-s, the batch of the prepared certificate
/// with the highest view, or a null request where none prepared. Deterministic in
/// the order of `vcs` (ties between certificates of one view, which only f+1
/// faulty replicas could produce, go to the first).
pub fn compute_o(vcs: &[&ViewChange]) -> NewViewPlan {
    let best = vcs.iter().max_by_key(|vc| vc.stable_seq);
    let (min_s, proof) = best.map_or((0, Vec::new()), |vc| {
        (vc.stable_seq, vc.checkpoint_proof.clone())
    });
    let mut chosen: std::collections::BTreeMap<Seq, (View, &crate::messages::PrePrepareMsg)> =
        Default::default();
    for vc in vcs {
        for cert in &vc.prepared {
            let h = &cert.pre_prepare.header.body;
            if h.seq <= min_s {
                continue;
            }
            match chosen.get(&h.seq) {
                Some((v, _)) if *v >= h.view => {}
                _ => {
                    chosen.insert(h.seq, (h.view, &cert.pre_prepare));
                }
            }
        }
    }
    let max_s = chosen.keys().next_back().copied().unwrap_or(min_s);
    let entries = (min_s + 1..=max_s)
        .map(|seq| match chosen.get(&seq) {
            Some((_, pp)) => (seq, pp.header.body.digest, pp.batch.clone()),
            None => (seq, batch_digest(&[]), Vec::new()),
        })
        .collect();
    NewViewPlan {
        min_s,
        proof,
        max_s,
        entries,
    }
}

/// Checks a NEW-VIEW's contents (signatures are the `Verifier`'s): sent by the
/// primary of its view, 2f+1 valid VIEW-CHANGEs for that view from distinct
/// replicas, and exactly the O that [`compute_o`] gives for them.
pub fn check_new_view(
    nv: &NewView,
    n: usize,
    f: usize,
    window: Seq,
    prepares: usize,
) -> Result<NewViewPlan, String> {
    let primary = (nv.view % n as u64) as ReplicaId;
    if nv.replica != primary {
        return Err(format!("NEW-VIEW for {} not from its primary", nv.view));
    }
    let mut senders = BTreeSet::new();
    for vc in &nv.view_changes {
        if vc.body.view != nv.view {
            return Err(format!(
                "VIEW-CHANGE for {} in NEW-VIEW {}",
                vc.body.view, nv.view
            ));
        }
        if !senders.insert(vc.body.replica) {
            return Err("two VIEW-CHANGEs from one replica".into());
        }
        check_view_change(&vc.body, n, f, window, prepares)?;
    }
    if senders.len() <= 2 * f {
        return Err(format!("{} of {} VIEW-CHANGEs", senders.len(), 2 * f + 1));
    }
    let bodies: Vec<&ViewChange> = nv.view_changes.iter().map(|vc| &vc.body).collect();
    let plan = compute_o(&bodies);
    if nv.pre_prepares.len() != plan.entries.len() {
        return Err(format!(
            "O has {} pre-prepares, expected {}",
            nv.pre_prepares.len(),
            plan.entries.len()
        ));
    }
    for (pp, (seq, digest, _)) in nv.pre_prepares.iter().zip(&plan.entries) {
        let h = &pp.header.body;
        if h.view != nv.view || h.replica != primary || h.seq != *seq || h.digest != *digest {
            return Err(format!("O differs at seq {seq}"));
        }
        if batch_digest(&pp.batch) != h.digest {
            return Err(format!("O: batch at seq {seq} does not match its digest"));
        }
    }
    Ok(plan)
}

impl Replica {
    /// New primary: 2f+1 VIEW-CHANGEs for our view are in; send NEW-VIEW and install.
    pub(crate) fn send_new_view(&mut self, out: &mut Vec<Output>) {
        let view = self.view;
        let Some(votes) = self.vc_msgs.get(&view) else {
            return;
        };
        // Ours first, then by replica id: deterministic.
        let mut chosen: Vec<Signed<ViewChange>> =
            votes.get(&self.id).cloned().into_iter().collect();
        chosen.extend(
            votes
                .iter()
                .filter(|(r, _)| **r != self.id)
                .map(|(_, vc)| vc.clone()),
        );
        chosen.truncate(2 * self.f + 1);
        let bodies: Vec<&ViewChange> = chosen.iter().map(|vc| &vc.body).collect();
        let plan = compute_o(&bodies);
        let pre_prepares = plan
            .entries
            .iter()
            .map(|(seq, digest, batch)| PrePrepareMsg {
                header: Signed::sign(
                    PrePrepare {
                        view,
                        seq: *seq,
                        digest: *digest,
                        replica: self.id,
                    },
                    &self.key,
                ),
                batch: batch.clone(),
            })
            .collect();
        let nv = Signed::sign(
            NewView {
                view,
                view_changes: chosen,
                pre_prepares,
                replica: self.id,
            },
            &self.key,
        );
        tracing::info!(
            replica = self.id,
            view,
            min_s = plan.min_s,
            max_s = plan.max_s,
            "NEW-VIEW sent"
        );
        self.install_new_view(nv, plan, out);
    }

    pub(crate) fn on_new_view(&mut self, m: Signed<NewView>, out: &mut Vec<Output>) {
        let view = m.body.view;
        if view < self.view || (view == self.view && self.active) {
            return;
        }
        let prepares = self.counting().prepares;
        match check_new_view(&m.body, self.n, self.f, self.params.log_window, prepares) {
            Ok(plan) => self.install_new_view(m, plan, out),
            Err(e) => {
                self.reject(out, "new-view", Rejection::InvalidProof, e);
                // Its VIEW-CHANGEs are signed by their senders and count on their own:
                // they arm our timer for the next view even if its primary lied.
                for vc in m.body.view_changes {
                    self.on_view_change(vc, out);
                }
            }
        }
    }

    /// Installs a checked NEW-VIEW: adopt its checkpoint, replace the log above it
    /// with O, and (backups) PREPARE every entry of O again. Already executed entries
    /// are re-prepared for the others' sake but never executed twice.
    fn install_new_view(&mut self, nv: Signed<NewView>, plan: NewViewPlan, out: &mut Vec<Output>) {
        let view = nv.body.view;
        let primary = self.id == (view % self.n as u64) as ReplicaId;
        let (now, id) = (self.now_ms, self.id);
        if self.my_vc.as_ref().is_none_or(|vc| vc.body.view != view) {
            self.view_changes += 1; // brought forward without having asked
        }
        self.view = view;
        self.active = true;
        self.vc_deadline = None;
        self.vc_waiting_for = None;
        // The timeout stays as it is (T, 2T, ...) until a request the new primary
        // proposed executes (`execute`), as in PBFT: a new primary gets the longer one
        // to prove itself. Re-executing O (up to max-s) proves nothing.
        self.view_installed_at_ms = now;
        self.executed_in_view = false;
        self.fresh_from = plan.max_s + 1;
        self.vc_msgs = self.vc_msgs.split_off(&(view + 1));
        self.vc_answers.retain(|(_, v), _| *v >= view);
        self.pending.clear();
        self.in_progress.clear();
        out.push(Output::Persist(Record::NewView {
            view,
            seq: plan.min_s,
            new_view: Some(Box::new(nv.clone())),
        }));
        if primary {
            out.push(Output::Broadcast(PeerMessage::NewView(nv.clone())));
        }
        tracing::info!(replica = id, view, "view installed");
        self.last_new_view = Some(nv.clone());
        if let Ok(d) =
            super::view_change::check_checkpoint_proof(plan.min_s, &plan.proof, self.n, self.f)
        {
            self.adopt_checkpoint(plan.min_s, d, plan.proof.clone(), out);
        }
        // Proposals of earlier views that did not execute are void now.
        self.log.retain(|_, s| s.executed || s.view >= view);
        for pp in &nv.body.pre_prepares {
            let h = pp.header.body.clone();
            if h.seq <= self.low {
                continue;
            }
            let executed = h.seq <= self.last_executed;
            if executed
                && self
                    .exec_digests
                    .get(&h.seq)
                    .is_some_and(|d| *d != h.digest)
            {
                tracing::error!(
                    replica = id,
                    seq = h.seq,
                    "NEW-VIEW re-proposes a different batch than executed"
                );
            }
            if primary && !executed {
                for r in &pp.batch {
                    self.in_progress.insert((r.body.client, r.body.timestamp));
                }
            }
            self.log.insert(
                h.seq,
                Slot {
                    view,
                    pre_prepare: Some(pp.clone()),
                    executed,
                    created_ms: now,
                    ..Slot::default()
                },
            );
            out.push(Output::Persist(Record::PrePrepare(pp.clone())));
            if !primary && !self.bug(crate::bugs::Bug::NoPrePrepare) {
                let prepare = Signed::sign(
                    Prepare {
                        view,
                        seq: h.seq,
                        digest: h.digest,
                        replica: id,
                    },
                    &self.key,
                );
                let slot = self.log.slot_mut(h.seq, view, now);
                slot.prepares.insert(id, prepare.clone());
                slot.my_prepare = Some(prepare.clone());
                out.push(Output::Persist(Record::Prepare(prepare.clone())));
                out.push(Output::Broadcast(PeerMessage::Prepare(prepare)));
            }
        }
        self.next_seq = plan.max_s.max(self.low) + 1;
        for (seq, _, _) in &plan.entries {
            self.advance(*seq, out);
        }
        self.execute_ready(out);
        self.hand_held_requests_to_primary(out);
    }

    /// After a view is installed: the requests this replica holds and has not seen
    /// executed go to the new primary (relayed, or ordered if we are it). Otherwise a
    /// request sent once to backups only never reaches any primary and the backups'
    /// timers change views forever.
    fn hand_held_requests_to_primary(&mut self, out: &mut Vec<Output>) {
        let held: Vec<Signed<Request>> = self
            .seen_by_backup
            .values()
            .filter(|r| {
                self.state
                    .last_reply(r.body.client)
                    .is_none_or(|last| last.timestamp < r.body.timestamp)
            })
            .cloned()
            .collect();
        if self.is_primary() {
            for r in held {
                self.on_request(r, true, out);
            }
        } else {
            let primary = self.primary();
            for r in held {
                out.push(Output::Send {
                    to: primary,
                    msg: PeerMessage::Relay(r),
                });
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use ed25519_dalek::SigningKey;

    use super::*;
    use crate::messages::{Checkpoint, PreparedCert};
    use crate::state_machine::Operation;

    fn key(i: u8) -> SigningKey {
        SigningKey::from_bytes(&[i; 32])
    }

    fn request(t: u64) -> Signed<Request> {
        Signed::sign(
            Request {
                client: 9,
                timestamp: t,
                op: Operation::Read { key: "k".into() },
            },
            &key(9),
        )
    }

    /// A prepared certificate for `seq` in `view` (n = 4) ordering `batch`.
    fn cert(view: View, seq: Seq, batch: Vec<Signed<Request>>) -> PreparedCert {
        let primary = (view % 4) as u8;
        let digest = batch_digest(&batch);
        let header = Signed::sign(
            PrePrepare {
                view,
                seq,
                digest,
                replica: primary as u32,
            },
            &key(primary),
        );
        let prepares = (0..4u8)
            .filter(|r| *r != primary)
            .take(2)
            .map(|r| {
                Signed::sign(
                    Prepare {
                        view,
                        seq,
                        digest,
                        replica: r as u32,
                    },
                    &key(r),
                )
            })
            .collect();
        PreparedCert {
            pre_prepare: PrePrepareMsg { header, batch },
            prepares,
        }
    }

    fn vc(replica: u32, stable_seq: Seq, prepared: Vec<PreparedCert>) -> ViewChange {
        let checkpoint_proof = if stable_seq == 0 {
            Vec::new()
        } else {
            (0..3u8)
                .map(|r| {
                    Signed::sign(
                        Checkpoint {
                            seq: stable_seq,
                            state_digest: Digest::of(b"state"),
                            replica: r as u32,
                        },
                        &key(r),
                    )
                })
                .collect()
        };
        ViewChange {
            view: 5,
            stable_seq,
            checkpoint_proof,
            prepared,
            replica,
        }
    }

    #[test]
    fn o_takes_the_highest_view_certificate_and_fills_gaps_with_null_requests() {
        let (a, b, c) = (request(1), request(2), request(3));
        let vcs = [
            vc(
                0,
                8,
                vec![cert(1, 9, vec![a.clone()]), cert(1, 12, vec![c.clone()])],
            ),
            vc(1, 8, vec![cert(3, 9, vec![b.clone()])]),
            vc(2, 0, vec![cert(0, 3, vec![a.clone()])]),
        ];
        for v in &vcs {
            check_view_change(v, 4, 1, 16, 2).unwrap();
        }
        let refs: Vec<&ViewChange> = vcs.iter().collect();
        let plan = compute_o(&refs);
        assert_eq!((plan.min_s, plan.max_s), (8, 12));
        let got: Vec<(Seq, Digest)> = plan.entries.iter().map(|(s, d, _)| (*s, *d)).collect();
        let null = batch_digest(&[]);
        assert_eq!(
            got,
            vec![
                (9, batch_digest(&[b])),
                (10, null),
                (11, null),
                (12, batch_digest(&[c])),
            ],
            "view 3 beats view 1 at 9; below min-s (3) is dropped; gaps are null"
        );
        assert_eq!(plan.proof.len(), 3);
    }

    #[test]
    fn o_of_view_changes_without_certificates_is_empty() {
        let vcs = [vc(0, 0, vec![]), vc(1, 0, vec![]), vc(2, 0, vec![])];
        let refs: Vec<&ViewChange> = vcs.iter().collect();
        let plan = compute_o(&refs);
        assert_eq!((plan.min_s, plan.max_s, plan.entries.len()), (0, 0, 0));
    }

    #[test]
    fn bad_certificates_are_refused() {
        let mut short = cert(1, 3, vec![request(1)]);
        short.prepares.pop();
        assert!(check_view_change(&vc(0, 0, vec![short]), 4, 1, 16, 2).is_err());
        let mut swapped = cert(1, 3, vec![request(1)]);
        swapped.pre_prepare.batch = vec![request(2)];
        assert!(check_view_change(&vc(0, 0, vec![swapped]), 4, 1, 16, 2).is_err());
        let future = cert(5, 3, vec![request(1)]);
        assert!(check_view_change(&vc(0, 0, vec![future]), 4, 1, 16, 2).is_err());
        let outside = cert(1, 40, vec![request(1)]);
        assert!(check_view_change(&vc(0, 0, vec![outside]), 4, 1, 16, 2).is_err());
        let mut from_primary = cert(1, 3, vec![request(1)]);
        from_primary.prepares[0].body.replica = 1;
        assert!(check_view_change(&vc(0, 0, vec![from_primary]), 4, 1, 16, 2).is_err());
        let mut short_proof = vc(0, 8, vec![]);
        short_proof.checkpoint_proof.pop();
        assert!(check_view_change(&short_proof, 4, 1, 16, 2).is_err());
        assert!(check_view_change(&vc(0, 8, vec![]), 4, 1, 16, 2).is_ok());
    }
}
