//! View change, first half: the view-change timer with back-off, sending
//! VIEW-CHANGE, validating the ones received, and joining a higher view on f+1.
//!
//! - A backup arms the timer (T) for a client request it holds and has not seen
//!   executed; that request's execution stops it (then it re-arms for the next waiting
//!   request). Other requests' execution postpones it, but by at most 4T from when the
//!   wait began, so a primary that censors one client while serving the others is
//!   replaced. An idle replica runs no timer.
//! - On expiry it sends VIEW-CHANGE(v+1, h, C, P), persisted first, and stops
//!   accepting normal-case messages. Once it holds 2f+1 VIEW-CHANGEs for v+1 it
//!   waits 2T for the NEW-VIEW (then 4T for v+2, ...); the timeout is reset to T
//!   when a request the new primary proposed executes (the new primary keeps the
//!   longer one until then; re-executing O does not count). A view installed but
//!   left by the request timer before that doubles it too.
//! - f+1 VIEW-CHANGEs for views above ours prove a correct replica wants to move:
//!   we join the smallest such view that f+1 replicas reached.
//!
//! Signatures inside a VIEW-CHANGE are checked by the shell's `Verifier`; the pure
//! functions here check what the signed messages claim.

use super::rejection::Rejection;
use crate::bugs::Bug;
use crate::crypto::{Digest, Signed};
use crate::messages::{
    batch_digest, Checkpoint, PeerMessage, PreparedCert, ReplicaId, Seq, View, ViewChange,
};
use crate::state_machine::{ClientId, KvStore};

use super::record::Record;
use super::{Output, Replica};

/// Checks a checkpoint proof: 2f+1 CHECKPOINTs for `seq` from distinct replicas,
/// all with the same state digest (the empty proof stands for the initial state at
/// 0). Returns the certified state digest.
pub fn check_checkpoint_proof(
    seq: Seq,
    proof: &[Signed<Checkpoint>],
    n: usize,
    f: usize,
) -> Result<Digest, String> {
    if seq == 0 && proof.is_empty() {
        return Ok(KvStore::new().digest());
    }
    let Some(first) = proof.first() else {
        return Err(format!("no proof for checkpoint {seq}"));
    };
    let digest = first.body.state_digest;
    let mut senders = std::collections::BTreeSet::new();
    for c in proof {
        if c.body.seq != seq || c.body.state_digest != digest {
            return Err(format!("checkpoint proof for {seq} does not match"));
        }
        if c.body.replica as usize >= n || !senders.insert(c.body.replica) {
            return Err(format!(
                "checkpoint proof for {seq}: bad or repeated sender"
            ));
        }
    }
    if senders.len() <= 2 * f {
        return Err(format!(
            "checkpoint proof for {seq} has {} of {} CHECKPOINTs",
            senders.len(),
            2 * f + 1
        ));
    }
    Ok(digest)
}

/// Checks a prepared certificate carried by VIEW-CHANGE(`view`) whose stable
/// checkpoint is `stable`: a PRE-PREPARE from the primary of its view, for a view
/// below `view` and a sequence number in `(stable, stable + window]`, matching its
/// batch, and `prepares` (2f) matching PREPAREs from distinct backups of that view.
pub fn check_prepared_cert(
    cert: &PreparedCert,
    view: View,
    stable: Seq,
    window: Seq,
    n: usize,
    prepares: usize,
) -> Result<(), String> {
    let h = &cert.pre_prepare.header.body;
    let primary = (h.view % n as u64) as ReplicaId;
    if h.view >= view {
        return Err(format!("certificate for view {} >= {view}", h.view));
    }
    if h.replica != primary {
        return Err(format!(
            "pre-prepare for seq {} not from its primary",
            h.seq
        ));
    }
    if h.seq <= stable || h.seq > stable.saturating_add(window) {
        return Err(format!("certificate seq {} outside the window", h.seq));
    }
    if batch_digest(&cert.pre_prepare.batch) != h.digest {
        return Err(format!("certificate digest for seq {} != batch", h.seq));
    }
    let mut senders = std::collections::BTreeSet::new();
    for p in &cert.prepares {
        let b = &p.body;
        if b.view != h.view || b.seq != h.seq || b.digest != h.digest {
            return Err(format!("prepare for seq {} does not match", h.seq));
        }
        if b.replica == primary || b.replica as usize >= n || !senders.insert(b.replica) {
            return Err(format!("prepare for seq {}: bad or repeated sender", h.seq));
        }
    }
    if senders.len() < prepares {
        return Err(format!(
            "certificate for seq {} has {} of {} PREPAREs",
            h.seq,
            senders.len(),
            prepares
        ));
    }
    Ok(())
}

/// Validates a VIEW-CHANGE's contents (not its signatures): sender, checkpoint
/// proof, and every prepared certificate (at most one per sequence number) with
/// `prepares` (2f) PREPAREs.
pub fn check_view_change(
    vc: &ViewChange,
    n: usize,
    f: usize,
    window: Seq,
    prepares: usize,
) -> Result<(), String> {
    if vc.replica as usize >= n {
        return Err(format!("unknown sender {}", vc.replica));
    }
    check_checkpoint_proof(vc.stable_seq, &vc.checkpoint_proof, n, f)?;
    let mut seqs = std::collections::BTreeSet::new();
    for cert in &vc.prepared {
        check_prepared_cert(cert, vc.view, vc.stable_seq, window, n, prepares)?;
        if !seqs.insert(cert.pre_prepare.header.body.seq) {
            return Err("two certificates for one sequence number".into());
        }
    }
    Ok(())
}

/// How many view-change timeouts other clients' progress may postpone the view
/// change a backup waits on one request for (a backlog is slow, a censor never ends).
const CENSOR_PATIENCE: u64 = 4;

/// Answers (NEW-VIEW and our VIEW-CHANGE) sent per sender and view to a replica
/// still asking for a view we installed.
const VC_ANSWERS: u32 = 3;

impl Replica {
    /// A client request this backup holds and has not seen executed, if any.
    fn waiting_for_request(&self) -> Option<(ClientId, u64)> {
        self.seen_by_backup
            .iter()
            .find(|(c, r)| !self.executed_request(**c, r.body.timestamp))
            .map(|(c, r)| (*c, r.body.timestamp))
    }

    /// Whether the client's request with this timestamp (or a later one) executed.
    fn executed_request(&self, client: ClientId, timestamp: u64) -> bool {
        self.state
            .last_reply(client)
            .is_some_and(|last| last.timestamp >= timestamp)
    }

    /// The view-change timer, run on every tick.
    pub(crate) fn view_change_tick(&mut self, out: &mut Vec<Output>) {
        let now = self.now_ms;
        if self.active {
            // A replica catching up to a proven checkpoint is the slow one, not the
            // primary: it does not ask for a view change meanwhile.
            let catching_up = self.fetch.is_some() || self.proven_ahead.is_some();
            let waiting = self.waiting_for_request();
            if self.is_primary() || catching_up || waiting.is_none() {
                self.vc_deadline = None;
                self.vc_waiting_for = None;
                return;
            }
            match self.vc_deadline {
                None => {
                    self.vc_deadline = Some(now + self.vc_timeout_ms);
                    self.vc_waiting_for = waiting.map(|(c, t)| (c, t, now));
                }
                Some(at) if now >= at => {
                    tracing::info!(
                        replica = self.id,
                        view = self.view,
                        "request not executed in time: view change"
                    );
                    // A view that executed nothing of its own (O does not count, see
                    // `fresh_from`) failed like a missing NEW-VIEW: the next one gets
                    // twice as long (PBFT §4.5.2). Otherwise a new view whose O plus a
                    // new request take longer than T is abandoned at T, over and over.
                    if !self.executed_in_view {
                        self.vc_timeout_ms = self.vc_timeout_ms.saturating_mul(2);
                    }
                    self.start_view_change(self.view + 1, out);
                }
                Some(at) => out.push(Output::SetTimer { at_ms: at }),
            }
            return;
        }
        if let Some(at) = self.vc_deadline {
            if now >= at {
                tracing::info!(
                    replica = self.id,
                    view = self.view,
                    timeout_ms = self.vc_timeout_ms,
                    "no NEW-VIEW in time: next view"
                );
                self.vc_timeout_ms = self.vc_timeout_ms.saturating_mul(2);
                self.start_view_change(self.view + 1, out);
                return;
            }
            out.push(Output::SetTimer { at_ms: at });
        }
        if now >= self.last_retransmit_ms + self.params.retransmit_ms {
            self.last_retransmit_ms = now;
            if let Some(vc) = &self.my_vc {
                out.push(Output::Broadcast(PeerMessage::ViewChange(vc.clone())));
            }
        }
    }

    /// Execution advanced. If the request the timer waits for is done, stop the timer
    /// (the next tick re-arms it for another waiting request). Otherwise the primary is
    /// working, perhaps through a backlog: postpone the deadline by the timeout, but
    /// never past [`CENSOR_PATIENCE`] timeouts from when the wait began, so a primary
    /// that serves every client but one is still replaced.
    pub(crate) fn view_change_progress(&mut self) {
        if !self.active {
            return;
        }
        match self.vc_waiting_for {
            Some((client, timestamp, since)) if !self.executed_request(client, timestamp) => {
                let cap = since.saturating_add(CENSOR_PATIENCE * self.vc_timeout_ms);
                self.vc_deadline = Some(self.now_ms.saturating_add(self.vc_timeout_ms).min(cap));
            }
            _ => {
                self.vc_deadline = None;
                self.vc_waiting_for = None;
            }
        }
    }

    /// Leaves the current view for `view`: persists and broadcasts VIEW-CHANGE.
    pub(crate) fn start_view_change(&mut self, view: View, out: &mut Vec<Output>) {
        if view <= self.view && !self.active {
            return;
        }
        self.view = view;
        self.active = false;
        self.vc_deadline = None;
        self.vc_waiting_for = None;
        self.view_changes += 1;
        self.pending.clear();
        self.in_progress.clear();
        let vc = Signed::sign(
            ViewChange {
                view,
                stable_seq: self.low,
                checkpoint_proof: self.stable_proof.clone(),
                // Seeded bug `drop-prepared-certs`: the certificates stay home.
                prepared: if self.bug(Bug::DropPreparedCerts) {
                    Vec::new()
                } else {
                    self.prepared_certs
                        .range(self.low + 1..=self.high())
                        .map(|(_, c)| c.clone())
                        .collect()
                },
                replica: self.id,
            },
            &self.key,
        );
        tracing::info!(
            replica = self.id,
            view,
            prepared = vc.body.prepared.len(),
            "VIEW-CHANGE sent"
        );
        self.my_vc = Some(vc.clone());
        self.last_retransmit_ms = self.now_ms;
        out.push(Output::Persist(Record::ViewChange(Box::new(vc.clone()))));
        out.push(Output::Broadcast(PeerMessage::ViewChange(vc.clone())));
        self.vc_msgs.entry(view).or_default().insert(self.id, vc);
        self.vc_msgs = self.vc_msgs.split_off(&view);
        self.after_view_change_vote(out);
    }

    pub(crate) fn on_view_change(&mut self, m: Signed<ViewChange>, out: &mut Vec<Output>) {
        let (view, sender) = (m.body.view, m.body.replica);
        if sender == self.id {
            return;
        }
        if view < self.view || (view == self.view && self.active) {
            if sender as usize >= self.n {
                return;
            }
            // A few full answers per sender and view: two replicas that both installed
            // the view would otherwise answer each other's VIEW-CHANGEs forever. After
            // them, the NEW-VIEW alone, once per retransmission interval: the sender
            // may still be waiting (our answers were lost, e.g. in a one-way
            // partition), and a NEW-VIEW draws no answer from a replica that has it.
            let answers = self.vc_answers.entry((sender, view)).or_default();
            if *answers >= VC_ANSWERS {
                let every = self.params.retransmit_ms;
                if !self.may_answer(sender, "view-change", every) {
                    return;
                }
                if let Some(nv) = self
                    .last_new_view
                    .as_ref()
                    .filter(|nv| nv.body.view >= view)
                {
                    out.push(Output::Send {
                        to: sender,
                        msg: PeerMessage::NewView(nv.clone()),
                    });
                }
                return;
            }
            *answers += 1;
            // The sender is behind: the NEW-VIEW we installed brings it forward, and
            // our VIEW-CHANGE for its view counts towards its 2f+1 if that NEW-VIEW
            // never arrives.
            if let Some(vc) = self.my_vc.as_ref().filter(|vc| vc.body.view == view) {
                out.push(Output::Send {
                    to: sender,
                    msg: PeerMessage::ViewChange(vc.clone()),
                });
            }
            if let Some(nv) = &self.last_new_view {
                if nv.body.view >= view {
                    out.push(Output::Send {
                        to: sender,
                        msg: PeerMessage::NewView(nv.clone()),
                    });
                }
            }
            return;
        }
        let prepares = self.counting().prepares;
        if let Err(e) = check_view_change(&m.body, self.n, self.f, self.params.log_window, prepares)
        {
            return self.reject(out, "view-change", Rejection::InvalidProof, e);
        }
        // A lone replica asking for a later view while we stay in ours (it timed out
        // alone, e.g. cut off as a checkpoint became stable) waits for f+1 others that
        // may never come once the clients stop, and its VIEW-CHANGE shows it is behind
        // our stable checkpoint: the checkpoint's proof lets it fetch the state (state
        // transfer goes on while it is view-changing), as a STATUS would get it. Its
        // re-sent VIEW-CHANGEs are answered too (our answer may have been lost), at
        // most once per retransmission interval.
        if self.active && m.body.stable_seq < self.low && !self.stable_proof.is_empty() {
            let every = self.params.retransmit_ms;
            if self.may_answer(sender, "lone-view-change", every) {
                for c in &self.stable_proof {
                    out.push(Output::Send {
                        to: sender,
                        msg: PeerMessage::Checkpoint(c.clone()),
                    });
                }
            }
        }
        if self
            .vc_msgs
            .get(&view)
            .is_some_and(|v| v.contains_key(&sender))
        {
            return;
        }
        if self
            .vc_msgs
            .range(view + 1..)
            .any(|(_, v)| v.contains_key(&sender))
        {
            return; // superseded by a later one from the same sender
        }
        // Only each sender's newest VIEW-CHANGE counts (and memory stays bounded).
        for votes in self.vc_msgs.range_mut(..view).map(|(_, v)| v) {
            votes.remove(&sender);
        }
        self.vc_msgs.retain(|_, v| !v.is_empty());
        self.vc_msgs.entry(view).or_default().insert(sender, m);
        self.after_view_change_vote(out);
    }

    /// Joins a higher view on f+1 VIEW-CHANGEs; arms the NEW-VIEW timer on 2f+1;
    /// the new primary sends NEW-VIEW.
    fn after_view_change_vote(&mut self, out: &mut Vec<Output>) {
        let mut highest: std::collections::BTreeMap<ReplicaId, View> = Default::default();
        for (v, votes) in self.vc_msgs.range(self.view + 1..) {
            for r in votes.keys() {
                highest.insert(*r, *v);
            }
        }
        if highest.len() > self.f {
            let mut views: Vec<View> = highest.values().copied().collect();
            views.sort_unstable_by(|a, b| b.cmp(a));
            let target = views[self.f];
            tracing::info!(replica = self.id, target, "f+1 replicas moved on: joining");
            return self.start_view_change(target, out);
        }
        if self.active {
            return;
        }
        let count = self.vc_msgs.get(&self.view).map_or(0, |v| v.len());
        if count > 2 * self.f && self.vc_deadline.is_none() {
            self.vc_deadline = Some(self.now_ms + self.vc_timeout_ms);
            out.push(Output::SetTimer {
                at_ms: self.now_ms + self.vc_timeout_ms,
            });
        }
        if self.is_primary() && count > 2 * self.f {
            self.send_new_view(out);
        }
    }
}
