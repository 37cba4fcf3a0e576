//! The search over one (sub)history: Wing & Gong's tree search with Lowe's just-in-time
//! linearization and memoisation, in the linked-list form Porcupine uses.
//!
//! Calls and returns form a list in history order. Walking it from the front, a call entry
//! is a candidate: if the model accepts it in the current state, the resulting (linearized
//! set, state) is new, and the guide admits it, it is linearized, removed from the list
//! together with its return, and the walk restarts from the front. Meeting a return entry
//! means that operation had to be linearized before this point and was not: the search
//! backtracks. An indeterminate operation has no return entry, so it may be linearized at
//! any point after its call, or never; the search succeeds once every determinate operation
//! is linearized.
//!
//! A [`Search`] can be run many times from different starting configurations; its memo
//! persists between runs: nodes fully explored are dead, nodes on a successful path are
//! marked alive, and nodes on the path of a run stopped early are forgotten.

use super::bitset::BitSet;
use super::budget::{Lease, Stop};
use super::cache::{Cache, Seen};
use crate::model::{Compiled, KeyTable, Model};

/// One operation, compiled for the model.
pub(crate) struct Entry<M: Model> {
    /// Its input and (if determinate) output.
    pub(crate) op: Compiled<M::Input, M::Output>,
    /// Position of the invocation in the history.
    pub(crate) call: usize,
    /// Position of the completion, `None` when indeterminate.
    pub(crate) ret: Option<usize>,
}

/// Where a search got furthest before failing: evidence for a counterexample.
/// Entries are numbered as in the search's members.
#[derive(Debug, Clone)]
pub(crate) struct Stuck {
    /// Entries linearized, in order, at the deepest point.
    pub(crate) prefix: Vec<usize>,
    /// The entry whose return was reached without it being linearizable.
    pub(crate) blocked: usize,
    /// Entries that were candidates there (invoked before that return, not linearized).
    pub(crate) candidates: Vec<usize>,
    /// The model state at that point, rendered.
    pub(crate) state: String,
}

/// How one run ended.
pub(crate) enum Outcome {
    /// Linearizable: the entries this run linearized, in a witness order.
    Linearizable(Vec<usize>),
    /// Completable: the run reached a node already known to lead to a full linearization.
    Completable,
    /// Not linearizable from the start configuration; evidence if the run explored it.
    NotLinearizable(Option<Stuck>),
    /// Stopped by the budget, a step quantum, or another part's failure.
    Stopped(Stop),
}

/// Consulted before the search descends into a node; lets a caller prune.
pub(crate) trait Guide<S> {
    /// Entry `i` (a member index) was tentatively linearized, reaching `state`: may the
    /// search go on from there?
    fn admit(&mut self, i: usize, state: &S) -> Result<bool, Stop>;
    /// Entry `i`, admitted earlier, is being undone.
    fn retract(&mut self, i: usize);
}

/// A guide that admits everything: the plain search.
pub(crate) struct Unguided;

impl<S> Guide<S> for Unguided {
    fn admit(&mut self, _: usize, _: &S) -> Result<bool, Stop> {
        Ok(true)
    }
    fn retract(&mut self, _: usize) {}
}

/// Counters of a search.
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct Stats {
    /// Model steps attempted.
    pub(crate) steps: u64,
    /// Distinct nodes memoised.
    pub(crate) nodes: u64,
}

const HEAD: usize = 0;
const NIL: usize = usize::MAX;

#[derive(Clone, Copy)]
enum Event {
    Head,
    Call(usize),
    Return(usize),
}

/// A search over some members of a list of compiled entries.
pub(crate) struct Search<'p, M: Model> {
    model: &'p M,
    keys: &'p KeyTable,
    entries: &'p [Entry<M>],
    members: Vec<usize>,
    events: Vec<Event>,
    pristine_next: Vec<usize>,
    pristine_prev: Vec<usize>,
    next: Vec<usize>,
    prev: Vec<usize>,
    call_node: Vec<usize>,
    ret_node: Vec<usize>,
    cache: Cache<M::State>,
    /// Counters over every run.
    pub(crate) stats: Stats,
    /// Whether runs record where they got stuck (costs a little).
    pub(crate) record_stuck: bool,
}

impl<'p, M: Model> Search<'p, M> {
    /// A search over `members` (indices into `entries`, in invocation order).
    pub(crate) fn new(
        model: &'p M,
        keys: &'p KeyTable,
        entries: &'p [Entry<M>],
        members: Vec<usize>,
    ) -> Self {
        let n = members.len();
        let mut order: Vec<(usize, Event)> = Vec::with_capacity(2 * n + 1);
        for (i, &e) in members.iter().enumerate() {
            order.push((entries[e].call, Event::Call(i)));
            if let Some(r) = entries[e].ret {
                order.push((r, Event::Return(i)));
            }
        }
        order.sort_unstable_by_key(|(pos, _)| *pos);
        order.insert(0, (0, Event::Head));
        let len = order.len();
        let next: Vec<usize> = (1..=len).map(|i| if i == len { NIL } else { i }).collect();
        let prev: Vec<usize> = (0..len).map(|i| i.wrapping_sub(1)).collect();
        let mut call_node = vec![0; n];
        let mut ret_node = vec![NIL; n];
        for (node, (_, ev)) in order.iter().enumerate() {
            match *ev {
                Event::Call(i) => call_node[i] = node,
                Event::Return(i) => ret_node[i] = node,
                Event::Head => {}
            }
        }
        Search {
            model,
            keys,
            entries,
            members,
            events: order.into_iter().map(|(_, ev)| ev).collect(),
            next: next.clone(),
            prev: prev.clone(),
            pristine_next: next,
            pristine_prev: prev,
            call_node,
            ret_node,
            cache: Cache::new(n),
            stats: Stats::default(),
            record_stuck: true,
        }
    }

    /// How many members the search covers.
    pub(crate) fn len(&self) -> usize {
        self.members.len()
    }

    /// The problem entry of member `i`.
    pub(crate) fn member(&self, i: usize) -> usize {
        self.members[i]
    }

    /// Bytes held by the memo.
    pub(crate) fn bytes(&self) -> usize {
        self.cache.bytes()
    }

    fn unlink(&mut self, x: usize) {
        let (p, n) = (self.prev[x], self.next[x]);
        self.next[p] = n;
        if n != NIL {
            self.prev[n] = p;
        }
    }

    fn relink(&mut self, x: usize) {
        let (p, n) = (self.prev[x], self.next[x]);
        self.next[p] = x;
        if n != NIL {
            self.prev[n] = x;
        }
    }

    /// Searches for a linearization of the members not in `start`, beginning in `state`.
    ///
    /// `steps` bounds the model steps of this run (`None`: no bound); `lease` carries the
    /// memory and time budget.
    pub(crate) fn run<G: Guide<M::State>>(
        &mut self,
        start: &BitSet,
        mut state: M::State,
        guide: &mut G,
        lease: &mut Lease<'_>,
        mut steps: Option<u64>,
    ) -> Outcome {
        self.next.copy_from_slice(&self.pristine_next);
        self.prev.copy_from_slice(&self.pristine_prev);
        let mut lin = start.clone();
        let mut remaining = 0;
        for i in 0..self.members.len() {
            let determinate = self.ret_node[i] != NIL;
            if start.contains(i) {
                self.unlink(self.call_node[i]);
                if determinate {
                    self.unlink(self.ret_node[i]);
                }
            } else if determinate {
                remaining += 1;
            }
        }
        match self.cache.visit(&lin, &state, 0) {
            Seen::New => {}
            Seen::Alive => return Outcome::Completable,
            Seen::Visited => return Outcome::NotLinearizable(None),
        }
        let mut stack: Vec<(usize, M::State)> = Vec::new();
        let mut best: Option<Stuck> = None;
        let mut node = self.next[HEAD];
        let mut tick: u32 = 0;
        let outcome = loop {
            if remaining == 0 {
                break Outcome::Linearizable(stack.iter().map(|(i, _)| *i).collect());
            }
            tick = tick.wrapping_add(1);
            if tick % 4096 == 0 {
                if let Err(stop) = lease.update(self.cache.bytes()) {
                    break Outcome::Stopped(stop);
                }
            }
            match self.events[node] {
                Event::Call(i) => {
                    if let Some(s) = steps.as_mut() {
                        if *s == 0 {
                            break Outcome::Stopped(Stop::Steps);
                        }
                        *s -= 1;
                    }
                    self.stats.steps += 1;
                    let e = &self.entries[self.members[i]];
                    let Some(next_state) =
                        self.model.step(&state, &e.op.input, e.op.output.as_ref())
                    else {
                        node = self.next[node];
                        continue;
                    };
                    lin.insert(i);
                    let seen =
                        self.cache
                            .visit(&lin, &next_state, self.model.state_bytes(&next_state));
                    let admitted = match seen {
                        Seen::New => match guide.admit(i, &next_state) {
                            Ok(admitted) => admitted,
                            Err(stop) => {
                                self.cache.forget(&lin, &next_state);
                                lin.remove(i);
                                break Outcome::Stopped(stop);
                            }
                        },
                        Seen::Visited => false,
                        Seen::Alive => {
                            lin.remove(i);
                            break Outcome::Completable;
                        }
                    };
                    if !admitted {
                        lin.remove(i);
                        node = self.next[node];
                        continue;
                    }
                    stack.push((i, std::mem::replace(&mut state, next_state)));
                    self.unlink(self.call_node[i]);
                    if self.ret_node[i] != NIL {
                        self.unlink(self.ret_node[i]);
                        remaining -= 1;
                    }
                    node = self.next[HEAD];
                }
                Event::Return(blocked) => {
                    if self.record_stuck
                        && best.as_ref().is_none_or(|b| stack.len() > b.prefix.len())
                    {
                        best = Some(self.stuck_at(&stack, &state, blocked));
                    }
                    let Some((i, previous)) = stack.pop() else {
                        break Outcome::NotLinearizable(best.take());
                    };
                    guide.retract(i);
                    state = previous;
                    lin.remove(i);
                    if self.ret_node[i] != NIL {
                        self.relink(self.ret_node[i]);
                        remaining += 1;
                    }
                    self.relink(self.call_node[i]);
                    node = self.next[self.call_node[i]];
                }
                Event::Head => unreachable!("the head is never revisited"),
            }
        };
        // Settle what the nodes on the current path are: alive after a success, unknown
        // after a stop (forget them), and nothing is left on the path after a failure.
        let settle_alive = matches!(outcome, Outcome::Linearizable(_) | Outcome::Completable);
        if !matches!(outcome, Outcome::NotLinearizable(_)) {
            loop {
                if settle_alive {
                    self.cache.mark_alive(&lin, &state);
                } else {
                    self.cache.forget(&lin, &state);
                }
                let Some((i, previous)) = stack.pop() else {
                    break;
                };
                guide.retract(i);
                state = previous;
                lin.remove(i);
            }
        }
        self.stats.nodes = self.cache.len() as u64;
        outcome
    }

    fn stuck_at(&self, stack: &[(usize, M::State)], state: &M::State, blocked: usize) -> Stuck {
        let mut candidates = Vec::new();
        let mut node = self.next[HEAD];
        while node != NIL {
            match self.events[node] {
                Event::Call(i) => candidates.push(i),
                Event::Return(i) if i == blocked => break,
                _ => {}
            }
            node = self.next[node];
        }
        Stuck {
            prefix: stack.iter().map(|(i, _)| *i).collect(),
            blocked,
            candidates,
            state: self.model.describe(state, self.keys),
        }
    }
}
