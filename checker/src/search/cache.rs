//! The memo of search nodes: (set of linearized operations, model state).
//!
//! A node is remembered once reached. A remembered node that is met again was either fully
//! explored without success (dead) or is known to lead to a full linearization (marked
//! alive). Sets are stored in one arena of words, so remembering a node costs no allocation
//! beyond the state itself.

use super::bitset::BitSet;
use hashbrown::HashTable;
use std::hash::{BuildHasher, Hash};

struct Node<S> {
    hash: u64,
    at: usize,
    alive: bool,
    state: S,
}

/// What the cache knew of a node.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Seen {
    /// Never reached before; it is remembered now.
    New,
    /// Reached before and not known to lead anywhere.
    Visited,
    /// Known to lead to a full linearization.
    Alive,
}

/// Remembers every (linearized set, state) pair a search has reached (Lowe's memoisation).
pub(crate) struct Cache<S> {
    table: HashTable<Node<S>>,
    arena: Vec<u64>,
    free: Vec<usize>,
    width: usize,
    extra_bytes: usize,
}

impl<S: Eq + Hash + Clone> Cache<S> {
    /// An empty cache for sets of `n` operations.
    pub(crate) fn new(n: usize) -> Self {
        Cache {
            table: HashTable::new(),
            arena: Vec::new(),
            free: Vec::new(),
            width: n.div_ceil(64),
            extra_bytes: 0,
        }
    }

    fn hash_of(set: &BitSet, state: &S) -> u64 {
        set.hash() ^ rustc_hash::FxBuildHasher.hash_one(state).rotate_left(17)
    }

    fn find(&self, hash: u64, set: &BitSet, state: &S) -> Option<&Node<S>> {
        let (arena, width, words) = (&self.arena, self.width, set.words());
        self.table.find(hash, |n| {
            n.hash == hash && arena[n.at..n.at + width] == *words && n.state == *state
        })
    }

    /// Looks a node up, remembering it if new.
    pub(crate) fn visit(&mut self, set: &BitSet, state: &S, extra_bytes: usize) -> Seen {
        let hash = Self::hash_of(set, state);
        if let Some(node) = self.find(hash, set, state) {
            return if node.alive {
                Seen::Alive
            } else {
                Seen::Visited
            };
        }
        let at = match self.free.pop() {
            Some(at) => {
                self.arena[at..at + self.width].copy_from_slice(set.words());
                at
            }
            None => {
                let at = self.arena.len();
                self.arena.extend_from_slice(set.words());
                at
            }
        };
        self.table.insert_unique(
            hash,
            Node {
                hash,
                at,
                alive: false,
                state: state.clone(),
            },
            |n| n.hash,
        );
        self.extra_bytes += extra_bytes;
        Seen::New
    }

    /// Marks a node as leading to a full linearization (remembering it if new).
    pub(crate) fn mark_alive(&mut self, set: &BitSet, state: &S) {
        self.visit(set, state, 0);
        let hash = Self::hash_of(set, state);
        let (arena, width, words) = (&self.arena, self.width, set.words());
        if let Some(node) = self.table.find_mut(hash, |n| {
            n.hash == hash && arena[n.at..n.at + width] == *words && n.state == *state
        }) {
            node.alive = true;
        }
    }

    /// Forgets a node (one on the path of a search that was stopped before it finished, so
    /// not proven dead).
    pub(crate) fn forget(&mut self, set: &BitSet, state: &S) {
        let hash = Self::hash_of(set, state);
        let (arena, width, words) = (&self.arena, self.width, set.words());
        if let Ok(entry) = self.table.find_entry(hash, |n| {
            n.hash == hash && arena[n.at..n.at + width] == *words && n.state == *state
        }) {
            let (node, _) = entry.remove();
            self.free.push(node.at);
        }
    }

    /// Approximate bytes held.
    pub(crate) fn bytes(&self) -> usize {
        self.arena.capacity() * 8
            + self.table.capacity() * (std::mem::size_of::<Node<S>>() + 1)
            + self.extra_bytes
    }

    /// How many nodes are remembered.
    pub(crate) fn len(&self) -> usize {
        self.table.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn remembers_marks_and_forgets() {
        let mut cache: Cache<u8> = Cache::new(70);
        let mut set = BitSet::new(70);
        set.insert(65);
        assert_eq!(cache.visit(&set, &1, 0), Seen::New);
        assert_eq!(cache.visit(&set, &1, 0), Seen::Visited);
        assert_eq!(cache.visit(&set, &2, 0), Seen::New);
        cache.mark_alive(&set, &2);
        assert_eq!(cache.visit(&set, &2, 0), Seen::Alive);
        cache.forget(&set, &1);
        assert_eq!(cache.visit(&set, &1, 0), Seen::New);
        cache.forget(&set, &1);
        set.insert(3);
        assert_eq!(cache.visit(&set, &1, 0), Seen::New);
        assert_eq!(cache.len(), 2);
    }
}
