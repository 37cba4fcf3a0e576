//! Pruning a whole-state search by locality.
//!
//! When every operation of a model touches exactly one component of its state (one key of
//! a map), Herlihy & Wing's locality gives more than the split-by-key theorem: a search node
//! (linearized set S, state s) can be completed to a full linearization **if and only if**,
//! for every key k, the node's projection (S restricted to k, s restricted to k) can be
//! completed within k's operations alone. (The rest of the history from that node is a
//! history in its own right, with s as its initial state, and real-time order with the
//! already-linearized operations is respected by construction.)
//!
//! So the whole-state search asks, before it descends, whether the one key the new
//! operation touched is still completable: a per-key search from the projected node, whose
//! memo of dead and alive projections persists across questions. Dead branches are cut
//! where they start, instead of being explored once for every combination of the other
//! keys' progress, which is what makes a plain search blow up on many concurrent keys.

use super::bitset::BitSet;
use super::budget::{Budget, Lease, Stop};
use super::dfs::{Entry, Guide, Outcome, Search, Stuck, Unguided};
use crate::model::{KeyTable, Model};

/// One key's search and the projection of the current whole-state node onto it.
struct KeySearch<'p, M: Model> {
    search: Search<'p, M>,
    current: BitSet,
}

/// The guide that prunes by per-key completability.
pub(crate) struct Locality<'p, 'b, M: Model> {
    model: &'p M,
    /// For every problem entry: its key and its index in that key's search.
    place: Vec<(usize, usize)>,
    keys: Vec<KeySearch<'p, M>>,
    lease: Lease<'b>,
}

/// What checking every key from the initial state found.
pub(crate) enum Roots {
    /// Every key is completable on its own.
    AllAlive,
    /// This key (an index into the key table) is not; with the evidence in its members'
    /// numbering mapped back to problem entries.
    Dead(usize, Option<Stuck>),
    /// The budget ran out.
    Stopped(Stop),
}

impl<'p, 'b, M: Model> Locality<'p, 'b, M> {
    /// Sets up per-key searches, or `None` if some entry touches no single key.
    pub(crate) fn new(
        model: &'p M,
        table: &'p KeyTable,
        entries: &'p [Entry<M>],
        budget: &'b Budget,
    ) -> Option<Self> {
        let mut members: Vec<Vec<usize>> = vec![Vec::new(); table.len()];
        let mut place = Vec::with_capacity(entries.len());
        for (e, entry) in entries.iter().enumerate() {
            let k = model.component(&entry.op.input)?;
            place.push((k, members[k].len()));
            members[k].push(e);
        }
        let keys = members
            .into_iter()
            .map(|m| {
                let n = m.len();
                let mut search = Search::new(model, table, entries, m);
                search.record_stuck = false;
                KeySearch {
                    search,
                    current: BitSet::new(n),
                }
            })
            .collect();
        Some(Locality {
            model,
            place,
            keys,
            lease: Lease::new(budget),
        })
    }

    fn bytes(&self) -> usize {
        self.keys.iter().map(|k| k.search.bytes()).sum()
    }

    /// Model steps and memo nodes of the per-key searches.
    pub(crate) fn stats(&self) -> (u64, u64) {
        self.keys.iter().fold((0, 0), |(s, n), k| {
            (s + k.search.stats.steps, n + k.search.stats.nodes)
        })
    }

    /// Asks whether every key is completable from the initial state, a step quantum at a
    /// time round-robin, so that one hard key does not hide an easy dead one.
    pub(crate) fn check_roots(&mut self, initial: &M::State) -> Roots {
        let mut open: Vec<usize> = (0..self.keys.len()).collect();
        let mut quantum = 20_000u64;
        while !open.is_empty() {
            let mut still_open = Vec::new();
            for &k in &open {
                let start = self.model.isolate(initial, k);
                let key = &mut self.keys[k];
                key.search.record_stuck = true;
                let empty = BitSet::new(key.search.len());
                let outcome =
                    key.search
                        .run(&empty, start, &mut Unguided, &mut self.lease, Some(quantum));
                key.search.record_stuck = false;
                match outcome {
                    Outcome::Linearizable(_) | Outcome::Completable => {}
                    Outcome::NotLinearizable(stuck) => {
                        let stuck = stuck.map(|s| self.to_entries(k, s));
                        return Roots::Dead(k, stuck);
                    }
                    Outcome::Stopped(Stop::Steps) => still_open.push(k),
                    Outcome::Stopped(stop) => return Roots::Stopped(stop),
                }
            }
            open = still_open;
            quantum = quantum.saturating_mul(4);
        }
        if let Err(stop) = self.lease.update(self.bytes()) {
            return Roots::Stopped(stop);
        }
        Roots::AllAlive
    }

    fn to_entries(&self, k: usize, s: Stuck) -> Stuck {
        let search = &self.keys[k].search;
        Stuck {
            prefix: s.prefix.iter().map(|&i| search.member(i)).collect(),
            blocked: search.member(s.blocked),
            candidates: s.candidates.iter().map(|&i| search.member(i)).collect(),
            state: s.state,
        }
    }
}

impl<M: Model> Guide<M::State> for Locality<'_, '_, M> {
    fn admit(&mut self, e: usize, state: &M::State) -> Result<bool, Stop> {
        let (k, i) = self.place[e];
        let projected = self.model.isolate(state, k);
        let key = &mut self.keys[k];
        key.current.insert(i);
        match key.search.run(
            &key.current,
            projected,
            &mut Unguided,
            &mut self.lease,
            None,
        ) {
            Outcome::Linearizable(_) | Outcome::Completable => Ok(true),
            Outcome::NotLinearizable(_) => {
                key.current.remove(i);
                Ok(false)
            }
            Outcome::Stopped(stop) => {
                key.current.remove(i);
                Err(stop)
            }
        }
    }

    fn retract(&mut self, e: usize) {
        let (k, i) = self.place[e];
        self.keys[k].current.remove(i);
    }
}
