//! Protocol coverage: the abstract states of the PBFT protocol a run reached (a view
//! change that carried prepared certificates, a NEW-VIEW that re-proposed a batch or
//! filled a gap with a null request, a state transfer, a checkpoint that became stable
//! after a restart, a request executed in a later view than it was proposed in, how
//! far the views went, which messages were refused and why).
//!
//! The simulator records them as it delivers messages and carries out the engines'
//! outputs; they are read off what happens and change nothing, so the trace (and its
//! hash) is the same with or without them. `harness explore` keeps the union over its
//! runs as a coverage map and prefers schedules that reached a new point.

use replica::core::record::{LogEntry, Record};
use replica::crypto::Digest;
use replica::messages::{NewView, PeerMessage};
use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

/// One abstract protocol state a run reached.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Point {
    /// A VIEW-CHANGE carried prepared certificates (count bucketed: 1, 2-3, 4+).
    ViewChangeWithCertificates(&'static str),
    /// A VIEW-CHANGE carried none.
    ViewChangeEmpty,
    /// A NEW-VIEW re-proposed at least one batch with requests.
    NewViewReproposed,
    /// A NEW-VIEW filled a gap with a null request.
    NewViewNullRequest,
    /// A NEW-VIEW started from a stable checkpoint above 0.
    NewViewAboveCheckpoint,
    /// A NEW-VIEW did not carry a batch that replicas had prepared (sent a COMMIT for)
    /// in an earlier view: the near miss of a lost commit. Bucketed by how many
    /// replicas had prepared it; with fewer than 2f+1 COMMITs none executed it, unless
    /// a replica commits on too few.
    NewViewDroppedPrepared(&'static str),
    /// A replica installed a view (bucketed: 1, 2, 3-4, 5-8, 9+).
    ViewReached(&'static str),
    /// A replica asked its peers for a state transfer.
    StateTransferRequested,
    /// A replica learnt entries by state transfer.
    StateTransferApplied,
    /// A checkpoint became stable at a replica that had been killed and restarted.
    StableAfterRestart,
    /// A batch was executed by a replica in a later view than the one it was first
    /// proposed in.
    ExecutedInLaterView,
    /// A null request was executed.
    NullExecuted,
    /// A replica refused a message: its kind and the reason's category.
    Rejected {
        /// The message kind.
        kind: &'static str,
        /// The category ([`replica::core::rejection::Rejection::name`]).
        why: &'static str,
    },
    /// A Byzantine mutator changed a message.
    Mutated(&'static str),
    /// A peer message did not decode or verify at its receiver.
    Undecodable,
    /// A replica was restarted while others had moved to a later view.
    RestartBehindView,
}

impl fmt::Display for Point {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Point::ViewChangeWithCertificates(b) => write!(f, "view-change/certificates-{b}"),
            Point::ViewChangeEmpty => f.write_str("view-change/no-certificates"),
            Point::NewViewReproposed => f.write_str("new-view/re-proposed"),
            Point::NewViewNullRequest => f.write_str("new-view/null-request"),
            Point::NewViewAboveCheckpoint => f.write_str("new-view/above-checkpoint"),
            Point::NewViewDroppedPrepared(b) => write!(f, "new-view/dropped-prepared-at-{b}"),
            Point::ViewReached(b) => write!(f, "view/{b}"),
            Point::StateTransferRequested => f.write_str("state-transfer/requested"),
            Point::StateTransferApplied => f.write_str("state-transfer/applied"),
            Point::StableAfterRestart => f.write_str("checkpoint/stable-after-restart"),
            Point::ExecutedInLaterView => f.write_str("execute/later-view"),
            Point::NullExecuted => f.write_str("execute/null-request"),
            Point::Rejected { kind, why } => write!(f, "rejected/{kind}/{why}"),
            Point::Mutated(m) => write!(f, "mutated/{m}"),
            Point::Undecodable => f.write_str("network/undecodable"),
            Point::RestartBehindView => f.write_str("restart/behind-view"),
        }
    }
}

/// A count in a few buckets, so that coverage stays small.
fn bucket(k: u64) -> &'static str {
    match k {
        0 => "0",
        1 => "1",
        2 => "2",
        3..=4 => "3-4",
        5..=8 => "5-8",
        _ => "9+",
    }
}

/// What one run reached, recorded as it goes.
#[derive(Clone, Debug, Default)]
pub struct CoverageRecorder {
    points: BTreeSet<Point>,
    /// The view in which each sequence number was first proposed.
    proposed_in: BTreeMap<u64, u64>,
    /// For each sequence number, the replicas that sent a COMMIT for each digest
    /// (were prepared with it), and in which view first.
    prepared: BTreeMap<u64, BTreeMap<Digest, (u64, BTreeSet<usize>)>>,
    /// Views whose NEW-VIEW was looked at.
    new_views: BTreeSet<u64>,
}

impl CoverageRecorder {
    /// Records a point.
    pub fn reach(&mut self, point: Point) {
        if !self.points.contains(&point) {
            self.points.insert(point);
        }
    }

    /// A verified peer message delivered to a replica.
    pub fn on_delivered(&mut self, msg: &PeerMessage) {
        match msg {
            PeerMessage::PrePrepare(pp) => {
                let h = &pp.header.body;
                self.proposed_in.entry(h.seq).or_insert(h.view);
            }
            PeerMessage::ViewChange(vc) => {
                let certs = vc.body.prepared.len() as u64;
                self.reach(match certs {
                    0 => Point::ViewChangeEmpty,
                    1 => Point::ViewChangeWithCertificates("1"),
                    2..=3 => Point::ViewChangeWithCertificates("2-3"),
                    _ => Point::ViewChangeWithCertificates("4+"),
                });
            }
            PeerMessage::NewView(nv) => {
                if self.new_views.insert(nv.body.view) {
                    self.check_dropped(&nv.body);
                }
                for pp in &nv.body.pre_prepares {
                    let h = &pp.header.body;
                    self.proposed_in.entry(h.seq).or_insert(h.view);
                    if pp.batch.is_empty() {
                        self.reach(Point::NewViewNullRequest);
                    } else {
                        self.reach(Point::NewViewReproposed);
                    }
                }
            }
            PeerMessage::FetchState(_) => self.reach(Point::StateTransferRequested),
            _ => {}
        }
    }

    /// Replica `from` sent `msg` (to one peer or all).
    pub fn on_sent(&mut self, from: usize, msg: &PeerMessage) {
        if let PeerMessage::Commit(c) = msg {
            let b = &c.body;
            self.prepared
                .entry(b.seq)
                .or_default()
                .entry(b.digest)
                .or_insert_with(|| (b.view, BTreeSet::new()))
                .1
                .insert(from);
        }
    }

    /// A NEW-VIEW seen for the first time: which batches prepared in earlier views,
    /// above its stable checkpoint, it leaves out.
    fn check_dropped(&mut self, nv: &NewView) {
        let stable = nv
            .view_changes
            .iter()
            .map(|vc| vc.body.stable_seq)
            .max()
            .unwrap_or(0);
        self.prepared = self.prepared.split_off(&(stable + 1));
        let carried: BTreeMap<u64, Digest> = nv
            .pre_prepares
            .iter()
            .map(|pp| (pp.header.body.seq, pp.header.body.digest))
            .collect();
        let mut most = 0;
        for (seq, digests) in &self.prepared {
            for (digest, (view, senders)) in digests {
                if *view < nv.view && carried.get(seq) != Some(digest) {
                    most = most.max(senders.len() as u64);
                }
            }
        }
        if most > 0 {
            self.reach(Point::NewViewDroppedPrepared(bucket(most)));
        }
    }

    /// A record a replica persisted; `restarted` if it was killed before.
    pub fn on_persisted(&mut self, record: &Record, restarted: bool) {
        match record {
            Record::Stable(_) if restarted => self.reach(Point::StableAfterRestart),
            Record::NewView { view, seq, .. } => {
                self.reach(Point::ViewReached(bucket(*view)));
                if *seq > 0 {
                    self.reach(Point::NewViewAboveCheckpoint);
                }
            }
            _ => {}
        }
    }

    /// A replica in `view` executed (or learnt) `entry`.
    pub fn on_executed(&mut self, entry: &LogEntry, view: u64) {
        if entry.transferred {
            self.reach(Point::StateTransferApplied);
            return;
        }
        if entry.requests.is_empty() {
            self.reach(Point::NullExecuted);
        }
        if self.proposed_in.get(&entry.seq).is_some_and(|&v| v < view) {
            self.reach(Point::ExecutedInLaterView);
        }
    }

    /// The points reached.
    pub fn finish(self) -> BTreeSet<Point> {
        self.points
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ed25519_dalek::SigningKey;
    use replica::crypto::Signed;
    use replica::messages::Commit;

    fn commit(view: u64, seq: u64, digest: Digest, replica: u32) -> PeerMessage {
        let key = SigningKey::from_bytes(&[replica as u8 + 1; 32]);
        let body = Commit {
            view,
            seq,
            digest,
            replica,
        };
        PeerMessage::Commit(Signed::sign(body, &key))
    }

    fn new_view(view: u64) -> PeerMessage {
        let key = SigningKey::from_bytes(&[9; 32]);
        let body = NewView {
            view,
            view_changes: Vec::new(),
            pre_prepares: Vec::new(),
            replica: 1,
        };
        PeerMessage::NewView(Signed::sign(body, &key))
    }

    #[test]
    fn a_new_view_leaving_out_a_batch_prepared_earlier_is_a_near_miss() {
        let d = Digest::of(b"batch");
        let mut r = CoverageRecorder::default();
        r.on_sent(0, &commit(0, 5, d, 0));
        r.on_sent(2, &commit(0, 5, d, 2));
        r.on_sent(2, &commit(0, 5, d, 2)); // a retransmission counts once
        r.on_delivered(&new_view(1));
        let points = r.finish();
        assert!(
            points.contains(&Point::NewViewDroppedPrepared("2")),
            "{points:?}"
        );

        // Prepared only in the NEW-VIEW's own view: not left out by it.
        let mut r = CoverageRecorder::default();
        r.on_sent(0, &commit(1, 5, d, 0));
        r.on_delivered(&new_view(1));
        assert!(!r
            .finish()
            .iter()
            .any(|p| matches!(p, Point::NewViewDroppedPrepared(_))));
    }

    #[test]
    fn points_have_distinct_names_and_counts_are_bucketed() {
        let points = [
            Point::ViewChangeWithCertificates("1"),
            Point::ViewChangeEmpty,
            Point::NewViewReproposed,
            Point::NewViewNullRequest,
            Point::ViewReached(bucket(6)),
            Point::Rejected {
                kind: "COMMIT",
                why: "wrong-view",
            },
        ];
        let names: BTreeSet<String> = points.iter().map(Point::to_string).collect();
        assert_eq!(names.len(), points.len());
        assert_eq!(bucket(6), "5-8");
        assert_eq!(bucket(100), "9+");
        let mut r = CoverageRecorder::default();
        r.reach(Point::ViewChangeEmpty);
        r.reach(Point::ViewChangeEmpty);
        assert_eq!(r.finish().len(), 1);
    }
}
