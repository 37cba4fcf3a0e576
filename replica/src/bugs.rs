//! Deliberately planted protocol bugs, to prove that the harness finds them
//! (`harness selftest`). Each is one classic PBFT mistake, switched on by name
//! (`replica --bug NAME`, `harness run --replica-bug NAME`).
//!
//! The switches exist only in builds with the `seeded-bugs` feature. Without it
//! [`Bugs::has`] is the constant `false`, so every bug branch in the engine compiles
//! away and nothing can turn one on.

use std::fmt;

/// One planted replica bug.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Bug {
    /// Executes on 2f matching COMMITs instead of 2f+1.
    CommitQuorum2f,
    /// Prepared with 2f-1 matching PREPAREs instead of 2f (the checks of prepared
    /// certificates in VIEW-CHANGEs accept as few).
    PrepareQuorum,
    /// PREPAREs and COMMITs count towards a quorum whatever digest they carry.
    NoDigestCheck,
    /// A second PRE-PREPARE for one view and sequence number with another digest
    /// replaces the first (the slot starts over, and the backup votes again).
    AcceptSecondPrePrepare,
    /// VIEW-CHANGE carries no prepared certificates.
    DropPreparedCerts,
    /// Executes as soon as prepared, without waiting for 2f+1 COMMITs.
    ExecuteOnPrepared,
    /// A retransmitted request (same client and timestamp) executes again.
    NoClientDedupe,
    /// COMMIT (and the prepared certificate) is sent before it is persisted, and a
    /// crash loses it: recovery forgets the replica prepared and committed.
    LostOnRestart,
    /// The two-phase protocol of the lecture question: the primary's PREPARE carries
    /// the batch (it travels as our PRE-PREPARE message), a replica COMMITs as soon as
    /// it accepts the primary's PREPARE for (v, n) (one per (v, n): the duplicate
    /// check stays), with no round among the replicas that would make 2f+1 of them
    /// agree on one digest first, and executes on 2f+1 matching COMMITs. VIEW-CHANGE
    /// carries, per sequence number, the primary's PREPARE it committed on.
    NoPrePrepare,
    /// The replica with the highest id (n-1: with f=1 a single faulty replica)
    /// executes a successful `cas` wrongly: it keeps the old value instead of storing
    /// `to`, but replies `ok: true` as a correct replica does. Clients (f+1 matching
    /// replies) see nothing; its state digest (`/status`, CHECKPOINT) differs from
    /// the others'.
    DivergeState,
    /// With `--fsync always`, votes and replies leave before the records they depend
    /// on are fsynced: the fsync runs at most every [`ACK_BEFORE_FSYNC_LAG_MS`] (a
    /// group commit that forgot to wait). A `kill -9` loses nothing (the writes are
    /// in the OS); a power loss loses what was acknowledged since the last fsync.
    AckBeforeFsync,
    /// Reads its WAL and executed history back without checking the lines'
    /// checksums, and skips a line that does not parse: a record damaged at rest but
    /// still well-formed (a digest with one digit changed) is taken as written.
    TrustWal,
}

/// How far behind its acknowledgements [`Bug::AckBeforeFsync`]'s fsync runs, at most.
pub const ACK_BEFORE_FSYNC_LAG_MS: u128 = 500;

impl Bug {
    /// Every replica bug, in the order the self-test reports them.
    pub const ALL: [Bug; 12] = [
        Bug::CommitQuorum2f,
        Bug::PrepareQuorum,
        Bug::NoDigestCheck,
        Bug::AcceptSecondPrePrepare,
        Bug::DropPreparedCerts,
        Bug::ExecuteOnPrepared,
        Bug::NoClientDedupe,
        Bug::LostOnRestart,
        Bug::NoPrePrepare,
        Bug::DivergeState,
        Bug::AckBeforeFsync,
        Bug::TrustWal,
    ];

    /// The bug's name on the command line.
    pub fn name(self) -> &'static str {
        match self {
            Bug::CommitQuorum2f => "commit-quorum-2f",
            Bug::PrepareQuorum => "prepare-quorum",
            Bug::NoDigestCheck => "no-digest-check",
            Bug::AcceptSecondPrePrepare => "accept-second-preprepare",
            Bug::DropPreparedCerts => "drop-prepared-certs",
            Bug::ExecuteOnPrepared => "execute-on-prepared",
            Bug::NoClientDedupe => "no-client-dedupe",
            Bug::LostOnRestart => "lost-on-restart",
            Bug::NoPrePrepare => "no-pre-prepare",
            Bug::DivergeState => "diverge-state",
            Bug::AckBeforeFsync => "ack-before-fsync",
            Bug::TrustWal => "trust-wal",
        }
    }

    /// The bug called `name`.
    pub fn parse(name: &str) -> Result<Bug, String> {
        Bug::ALL
            .into_iter()
            .find(|b| b.name() == name)
            .ok_or_else(|| {
                format!(
                    "unknown bug {name:?}; known: {}",
                    Bug::ALL.map(Bug::name).join(", ")
                )
            })
    }

    fn bit(self) -> u32 {
        1 << (self as u32)
    }
}

impl fmt::Display for Bug {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// The set of bugs a replica runs with (empty in every normal run).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Bugs(u32);

impl Bugs {
    /// No bug: the correct protocol.
    pub const NONE: Bugs = Bugs(0);

    /// This set with `bug` added. Without the `seeded-bugs` feature the set stays
    /// empty.
    pub fn with(self, bug: Bug) -> Bugs {
        if cfg!(feature = "seeded-bugs") {
            Bugs(self.0 | bug.bit())
        } else {
            self
        }
    }

    /// Whether `bug` is switched on (always false without the `seeded-bugs` feature).
    #[inline]
    pub fn has(self, bug: Bug) -> bool {
        cfg!(feature = "seeded-bugs") && self.0 & bug.bit() != 0
    }

    /// True if no bug is on.
    pub fn is_empty(self) -> bool {
        self.0 == 0
    }

    /// The bugs switched on.
    pub fn list(self) -> Vec<Bug> {
        Bug::ALL.into_iter().filter(|b| self.has(*b)).collect()
    }

    /// PREPAREs from backups that make a slot prepared: 2f, 2f-1 with
    /// [`Bug::PrepareQuorum`], none with [`Bug::NoPrePrepare`] (the primary's
    /// proposal alone).
    pub fn prepares_needed(self, f: usize) -> usize {
        if self.has(Bug::NoPrePrepare) {
            0
        } else if self.has(Bug::PrepareQuorum) {
            (2 * f).saturating_sub(1)
        } else {
            2 * f
        }
    }

    /// COMMITs that make a slot committed: 2f+1, or 2f with [`Bug::CommitQuorum2f`].
    pub fn commits_needed(self, f: usize) -> usize {
        if self.has(Bug::CommitQuorum2f) {
            2 * f
        } else {
            2 * f + 1
        }
    }
}

/// One planted client bug.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ClientBug {
    /// Trusts the first reply instead of waiting for f+1 matching ones.
    AcceptFirstReply,
}

impl ClientBug {
    /// Every client bug.
    pub const ALL: [ClientBug; 1] = [ClientBug::AcceptFirstReply];

    /// The bug's name on the command line.
    pub fn name(self) -> &'static str {
        match self {
            ClientBug::AcceptFirstReply => "accept-first-reply",
        }
    }

    /// The client bug called `name`.
    pub fn parse(name: &str) -> Result<ClientBug, String> {
        ClientBug::ALL
            .into_iter()
            .find(|b| b.name() == name)
            .ok_or_else(|| {
                format!(
                    "unknown client bug {name:?}; known: {}",
                    ClientBug::ALL.map(ClientBug::name).join(", ")
                )
            })
    }

    /// Whether this bug can be switched on in this build.
    pub fn available() -> bool {
        cfg!(feature = "seeded-bugs")
    }
}

impl fmt::Display for ClientBug {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for b in Bug::ALL {
            assert_eq!(Bug::parse(b.name()), Ok(b));
        }
        assert!(Bug::parse("nope").unwrap_err().contains("commit-quorum-2f"));
    }

    #[test]
    fn quorums_are_the_paper_s_without_bugs() {
        let none = Bugs::NONE;
        assert_eq!((none.prepares_needed(1), none.commits_needed(1)), (2, 3));
        let with = none.with(Bug::CommitQuorum2f).with(Bug::PrepareQuorum);
        if cfg!(feature = "seeded-bugs") {
            assert_eq!((with.prepares_needed(1), with.commits_needed(1)), (1, 2));
        } else {
            assert!(with.is_empty(), "a normal build cannot switch a bug on");
            assert_eq!((with.prepares_needed(1), with.commits_needed(1)), (2, 3));
        }
    }
}
