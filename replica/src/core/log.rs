//! The message log: per sequence number, the certificate being assembled
//! (PRE-PREPARE, PREPAREs, COMMITs). View change will extract prepared
//! certificates from here.

use std::collections::BTreeMap;

use crate::bugs::{Bug, Bugs};
use crate::crypto::{Digest, Signed};
use crate::messages::{Commit, PrePrepareMsg, Prepare, PreparedCert, ReplicaId, Seq, View};

/// How votes are counted: the paper's quorums (2f PREPAREs, 2f+1 COMMITs, matching
/// the PRE-PREPARE's digest), or a seeded bug's.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Counting {
    /// PREPAREs from backups that make a slot prepared.
    pub prepares: usize,
    /// COMMITs that make a slot committed.
    pub commits: usize,
    /// Votes count whatever digest they carry ([`Bug::NoDigestCheck`]).
    pub any_digest: bool,
}

impl Counting {
    /// The paper's quorums for `f` faulty replicas.
    pub fn correct(f: usize) -> Counting {
        Counting::of(Bugs::NONE, f)
    }

    /// The quorums a replica with `bugs` uses.
    pub fn of(bugs: Bugs, f: usize) -> Counting {
        Counting {
            prepares: bugs.prepares_needed(f),
            commits: bugs.commits_needed(f),
            any_digest: bugs.has(Bug::NoDigestCheck),
        }
    }
}

/// The certificate for one sequence number.
#[derive(Clone, Debug, Default)]
pub struct Slot {
    /// View of the accepted pre-prepare.
    pub view: View,
    /// The accepted pre-prepare with its batch.
    pub pre_prepare: Option<PrePrepareMsg>,
    /// PREPAREs received, one per sender.
    pub prepares: BTreeMap<ReplicaId, Signed<Prepare>>,
    /// COMMITs received, one per sender (including our own).
    pub commits: BTreeMap<ReplicaId, Signed<Commit>>,
    /// Our PREPARE, if sent.
    pub my_prepare: Option<Signed<Prepare>>,
    /// Our COMMIT, if sent.
    pub my_commit: Option<Signed<Commit>>,
    /// Executed already.
    pub executed: bool,
    /// When the slot was created (ms on the core's clock), for retransmission.
    pub created_ms: u64,
}

impl Slot {
    /// Digest of the accepted pre-prepare.
    pub fn digest(&self) -> Option<Digest> {
        self.pre_prepare.as_ref().map(|p| p.header.body.digest)
    }

    /// prepared(m, v, n): pre-prepare plus 2f matching PREPAREs from distinct backups.
    pub fn prepared(&self, c: Counting) -> bool {
        let Some(d) = self.digest() else { return false };
        let v = self.view;
        let matching = self
            .prepares
            .values()
            .filter(|p| (c.any_digest || p.body.digest == d) && p.body.view == v)
            .count();
        matching >= c.prepares
    }

    /// 2f+1 matching COMMITs for the accepted pre-prepare (from distinct replicas).
    ///
    /// committed-local is `prepared && commit_quorum`; a replica that missed the
    /// PREPAREs may also execute on pre-prepare + 2f+1 commits, since those prove
    /// that at least f+1 correct replicas prepared it.
    pub fn commit_quorum(&self, c: Counting) -> bool {
        let Some(d) = self.digest() else { return false };
        let v = self.view;
        let matching = self
            .commits
            .values()
            .filter(|m| (c.any_digest || m.body.digest == d) && m.body.view == v)
            .count();
        matching >= c.commits
    }

    /// The prepared certificate, if prepared (for VIEW-CHANGE).
    pub fn prepared_cert(&self, c: Counting) -> Option<PreparedCert> {
        if !self.prepared(c) {
            return None;
        }

        let d = self.digest()?;
        Some(PreparedCert {
            pre_prepare: self.pre_prepare.clone()?,
            prepares: self
                .prepares
                .values()
                .filter(|p| p.body.digest == d)
                .take(c.prepares)
                .cloned()
                .collect(),
        })
    }
}

/// A committed certificate kept after garbage collection so that lagging peers
/// can still be sent what they missed: the PRE-PREPARE and 2f+1 COMMITs.
#[derive(Clone, Debug)]
pub struct CommittedCert {
    /// The pre-prepare with its batch.
    pub pre_prepare: PrePrepareMsg,
    /// Matching commits from distinct replicas.
    pub commits: Vec<Signed<Commit>>,
}

/// Slots between the low and high watermark, and an archive of committed
/// certificates below the low watermark (for retransmission to lagging peers).
#[derive(Clone, Debug, Default)]
pub struct MessageLog {
    slots: BTreeMap<Seq, Slot>,
    archive: BTreeMap<Seq, CommittedCert>,
}

impl MessageLog {
    /// The slot for `seq`, created at `now_ms` if missing.
    pub fn slot_mut(&mut self, seq: Seq, view: View, now_ms: u64) -> &mut Slot {
        self.slots.entry(seq).or_insert_with(|| Slot {
            view,
            created_ms: now_ms,
            ..Slot::default()
        })
    }

    /// Puts `slot` at `seq`, replacing what was there (a NEW-VIEW's O).
    pub fn insert(&mut self, seq: Seq, slot: Slot) {
        self.slots.insert(seq, slot);
    }

    /// Keeps only the slots for which `keep` is true.
    pub fn retain(&mut self, keep: impl FnMut(&Seq, &mut Slot) -> bool) {
        self.slots.retain(keep);
    }

    /// The slot for `seq`, if any.
    pub fn get(&self, seq: Seq) -> Option<&Slot> {
        self.slots.get(&seq)
    }

    /// Mutable slot for `seq`, if any.
    pub fn get_mut(&mut self, seq: Seq) -> Option<&mut Slot> {
        self.slots.get_mut(&seq)
    }

    /// Slots in sequence order within a range.
    pub fn range(&self, r: impl std::ops::RangeBounds<Seq>) -> impl Iterator<Item = (&Seq, &Slot)> {
        self.slots.range(r)
    }

    /// Garbage-collects every slot at or below `seq`, archiving committed
    /// certificates and keeping the archive above `keep_above`.
    pub fn truncate_through(&mut self, seq: Seq, keep_above: Seq, c: Counting) {
        let rest = self.slots.split_off(&(seq + 1));
        let old = std::mem::replace(&mut self.slots, rest);
        for (s, slot) in old {
            if !slot.commit_quorum(c) {
                continue;
            }
            let (Some(pp), Some(d)) = (slot.pre_prepare.clone(), slot.digest()) else {
                continue;
            };
            let commits = slot
                .commits
                .values()
                .filter(|c| c.body.digest == d)
                .cloned()
                .collect();
            self.archive.insert(
                s,
                CommittedCert {
                    pre_prepare: pp,
                    commits,
                },
            );
        }
        self.archive = self.archive.split_off(&(keep_above + 1));
    }

    /// An archived committed certificate.
    pub fn archived(&self, seq: Seq) -> Option<&CommittedCert> {
        self.archive.get(&seq)
    }

    /// Highest sequence number with a slot.
    pub fn max_seq(&self) -> Option<Seq> {
        self.slots.keys().next_back().copied()
    }

    /// Number of slots held.
    pub fn len(&self) -> usize {
        self.slots.len()
    }

    /// True if no slots are held.
    pub fn is_empty(&self) -> bool {
        self.slots.is_empty()
    }
}
