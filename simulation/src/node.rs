//! One simulated replica process: the real sans-IO engine, what it persisted, what it
//! executed (its `GET /log`), the client requests waiting for its reply, and whether
//! the process is running, paused (SIGSTOP: messages wait) or killed.

use crate::disk::Disk;
use ed25519_dalek::SigningKey;
use replica::core::record::LogEntry;
use replica::{ProtocolConfig, Replica};
use std::collections::{BTreeSet, VecDeque};

/// Whether a replica process runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Liveness {
    /// Running.
    Up,
    /// Stopped (SIGSTOP): what arrives waits in its inbox.
    Paused,
    /// Killed (SIGKILL): what arrives is lost; memory is gone, the disk stays.
    Down,
}

/// One replica process.
#[derive(Debug)]
pub struct Node<E> {
    /// The protocol engine.
    pub engine: Replica,
    /// What it persisted.
    pub disk: Disk,
    /// What it executed, in order (its `GET /log`, kept across restarts).
    pub executed: Vec<LogEntry>,
    /// Running, paused or killed.
    pub liveness: Liveness,
    /// Events that arrived while paused, in arrival order.
    pub inbox: VecDeque<E>,
    /// Client requests `(client, timestamp)` posted here and not yet answered.
    pub waiters: BTreeSet<(u64, u64)>,
    /// Its signing key.
    pub key: SigningKey,
    /// Times it was killed.
    pub kills: u64,
    /// Its injectable clock (survives restarts: it is the machine's).
    pub clock: crate::clock::SimClock,
}

impl<E> Node<E> {
    /// A fresh replica `id` of `n`.
    pub fn new(id: usize, n: usize, params: ProtocolConfig, key: SigningKey) -> Node<E> {
        Node {
            engine: Replica::new(id as u32, n, params, key.clone()),
            disk: Disk::default(),
            executed: Vec::new(),
            liveness: Liveness::Up,
            inbox: VecDeque::new(),
            waiters: BTreeSet::new(),
            key,
            kills: 0,
            clock: crate::clock::SimClock::default(),
        }
    }

    /// SIGKILL: everything in memory is lost.
    pub fn kill(&mut self) {
        self.liveness = Liveness::Down;
        self.inbox.clear();
        self.waiters.clear();
        self.kills += 1;
    }

    /// Restart after a kill: the engine recovers from the disk alone. The executed log
    /// is what the storage layer reads back from its `history.jsonl` (every entry, but
    /// one whose sequence number does not rise is skipped), and later executions are
    /// appended to it, as the server does.
    pub fn restart(&mut self, id: usize, n: usize, params: ProtocolConfig) {
        self.engine = Replica::recover(
            id as u32,
            n,
            params,
            self.key.clone(),
            self.disk.snapshot.clone(),
            self.disk.records.clone(),
        );
        let mut read_back: Vec<LogEntry> = Vec::with_capacity(self.executed.len());
        for e in self.executed.drain(..) {
            if !matches!(read_back.last(), Some(l) if l.seq >= e.seq) {
                read_back.push(e);
            }
        }
        self.executed = read_back;
        self.liveness = Liveness::Up;
    }
}
