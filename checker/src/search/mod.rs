//! Checking a whole history.
//!
//! Per key (P-compositionality, Horn & Kroening 2015) when the model allows it: the keys
//! are searched by a pool of threads in passes of growing step quanta, so that a hard key
//! does not hide an easy failing one, and the first failing key stops the rest. A key that
//! exhausts its quantum is dropped and retried in the next pass, so memory stays bounded by
//! what the threads hold. Otherwise (`partition: false`, or a model that spans keys) the
//! history is searched as one state, pruned by locality when the model is a product of
//! independent keys (see `locality.rs`).

mod bitset;
mod budget;
mod cache;
mod dfs;
mod evidence;
mod locality;

use crate::error::Result;
use crate::history::{split_independent, Call, OpType};
use crate::model::{KeyTable, Kv, Model, ModelKind, MultiRegister, Mutex, NilRead, Register, Val};
use crate::verdict::{CheckResult, Counterexample, Verdict, Witness};
use budget::{Budget, Lease, Stop};
use dfs::{Entry, Outcome, Search, Stats, Unguided};
use evidence::counterexample;
use locality::{Locality, Roots};
use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex as StdMutex;
use std::time::{Duration, Instant};

/// How to check.
#[derive(Debug, Clone)]
pub struct CheckOptions {
    /// Split by key when the model allows it.
    pub partition: bool,
    /// When searching a product model whole, prune by per-key completability.
    pub locality_pruning: bool,
    /// Give up with `unknown` after this long.
    pub timeout: Option<Duration>,
    /// Give up with `unknown` once the memo tables hold more than this many bytes.
    pub memory_limit: Option<usize>,
    /// Worker threads for per-key checks (0: one per core).
    pub threads: usize,
    /// Return a witness linearization for valid histories.
    pub witness: bool,
    /// What a completed read of `nil` means, for the model [`check_kind`] builds (a model
    /// given to [`check`] carries its own). Default: [`NilRead::Value`], the meaning of
    /// this project's own histories; [`NilRead::default_for`] picks one for a file.
    pub nil_read: NilRead,
    /// The history was written with `jepsen.independent`: every client operation's value
    /// is a `[key value]` tuple. The tuples are split ([`split_independent`]) and each key
    /// is checked on its own with the model, whatever the model and `partition` say.
    pub independent: bool,
}

impl Default for CheckOptions {
    fn default() -> Self {
        CheckOptions {
            partition: true,
            locality_pruning: true,
            timeout: None,
            memory_limit: Some(4 << 30),
            threads: 0,
            witness: false,
            nil_read: NilRead::Value,
            independent: false,
        }
    }
}

/// Checks `calls` (from [`crate::history::pair`]) against a model named on the command line.
pub fn check_kind(
    kind: ModelKind,
    initial: Option<Val>,
    calls: &[Call],
    options: &CheckOptions,
) -> Result<CheckResult> {
    let initial = initial.unwrap_or(Val::Nil);
    let nil_read = options.nil_read;
    match kind {
        ModelKind::Register => check(
            &Register::new(initial).with_nil_read(nil_read),
            calls,
            options,
        ),
        ModelKind::CasRegister => check(
            &Register::with_cas(initial).with_nil_read(nil_read),
            calls,
            options,
        ),
        ModelKind::Kv => check(&Kv { initial, nil_read }, calls, options),
        ModelKind::Mutex => check(&Mutex, calls, options),
        ModelKind::MultiRegister => check(&MultiRegister { initial, nil_read }, calls, options),
    }
}

/// What one part of a history (a key, or all of it) came to.
enum Piece {
    Valid(Vec<u64>),
    Invalid(Box<Counterexample>),
    Stopped(Stop),
}

/// Checks `calls` against `model`.
///
/// With `options.independent` the calls' values are first split as `jepsen.independent`
/// tuples (an error names the first operation that is not one), and the keys are checked
/// one by one whatever the model.
pub fn check<M: Model>(model: &M, calls: &[Call], options: &CheckOptions) -> Result<CheckResult> {
    let started = Instant::now();
    let split;
    let calls = if options.independent {
        split = split_independent(calls)?;
        &split[..]
    } else {
        calls
    };
    let partitioned = options.independent || (options.partition && model.partitionable());
    let budget = Budget::new(options.timeout.map(|t| started + t), options.memory_limit);
    let groups = group(calls, partitioned);
    let mut result = CheckResult {
        verdict: Verdict::Valid,
        model: model.name().to_string(),
        nil_read: model.nil_read(),
        independent: options.independent,
        partitioned,
        strategy: String::new(),
        ops: calls.len(),
        keys: groups.len(),
        elapsed_ms: 0.0,
        steps: 0,
        nodes: 0,
        reason: None,
        counterexample: None,
        witness: options.witness.then(Vec::new),
    };
    let pieces = if partitioned {
        result.strategy = "per-key".into();
        check_per_key(model, calls, &groups, &budget, options)?
    } else {
        let (piece, stats, strategy) = check_whole(model, calls, &budget, options)?;
        result.strategy = strategy.into();
        vec![(0, piece, stats)]
    };
    let mut stopped = None;
    for (g, piece, stats) in pieces {
        result.steps += stats.steps;
        result.nodes += stats.nodes;
        match piece {
            Piece::Valid(order) => {
                if let Some(w) = result.witness.as_mut() {
                    w.push(Witness {
                        key: groups
                            .get(g)
                            .and_then(|g| g.key.clone())
                            .filter(|_| partitioned),
                        order,
                    });
                }
            }
            Piece::Invalid(c) => {
                if result.counterexample.is_none() {
                    result.counterexample = Some(*c);
                }
            }
            Piece::Stopped(Stop::Cancelled | Stop::Steps) => {}
            Piece::Stopped(stop) => stopped = Some(stop),
        }
    }
    if result.counterexample.is_some() {
        result.verdict = Verdict::Invalid;
        result.witness = None;
    } else if let Some(stop) = stopped {
        result.verdict = Verdict::Unknown;
        result.witness = None;
        result.reason = Some(match stop {
            Stop::Time => format!(
                "time limit of {:.1} s reached before a verdict",
                options.timeout.unwrap_or_default().as_secs_f64()
            ),
            _ => format!(
                "memory limit of {} MiB reached before a verdict",
                options.memory_limit.unwrap_or_default() >> 20
            ),
        });
    }
    result.elapsed_ms = started.elapsed().as_secs_f64() * 1e3;
    Ok(result)
}

/// The calls of one key (or all of them), by position in `calls`.
struct Group {
    key: Option<String>,
    members: Vec<usize>,
}

fn group(calls: &[Call], partitioned: bool) -> Vec<Group> {
    if !partitioned {
        return vec![Group {
            key: None,
            members: (0..calls.len()).collect(),
        }];
    }
    let mut index: HashMap<Option<&str>, usize> = HashMap::new();
    let mut groups: Vec<Group> = Vec::new();
    for (i, c) in calls.iter().enumerate() {
        let g = *index.entry(c.key.as_deref()).or_insert_with(|| {
            groups.push(Group {
                key: c.key.clone(),
                members: Vec::new(),
            });
            groups.len() - 1
        });
        groups[g].members.push(i);
    }
    groups
}

/// A part of the history compiled for the model.
struct Compiled<M: Model> {
    keys: KeyTable,
    entries: Vec<Entry<M>>,
    /// `origin[e]`: the position in `calls` of entry `e`.
    origin: Vec<usize>,
}

impl<M: Model> Compiled<M> {
    /// A search over every entry of this part, and the empty starting set.
    fn search<'p>(&'p self, model: &'p M) -> (Search<'p, M>, bitset::BitSet) {
        let all = (0..self.entries.len()).collect();
        let search = Search::new(model, &self.keys, &self.entries, all);
        (search, bitset::BitSet::new(self.entries.len()))
    }
}

fn compile<M: Model>(model: &M, calls: &[Call], members: &[usize]) -> Result<Compiled<M>> {
    let mut keys = KeyTable::default();
    let mut entries = Vec::with_capacity(members.len());
    let mut origin = Vec::with_capacity(members.len());
    for &i in members {
        let call = &calls[i];
        if let Some(op) = model.compile(call, &mut keys)? {
            // Only an `ok` completion pins an operation down; `info` may take effect at
            // any time after its invocation, or never.
            let ret = if call.outcome == OpType::Ok {
                call.ret
            } else {
                None
            };
            entries.push(Entry {
                op,
                call: call.call,
                ret,
            });
            origin.push(i);
        }
    }
    Ok(Compiled {
        keys,
        entries,
        origin,
    })
}

fn piece_of(
    outcome: Outcome,
    calls: &[Call],
    part: &Compiled<impl Model>,
    key: Option<String>,
    want_witness: bool,
) -> Piece {
    match outcome {
        Outcome::Linearizable(order) => Piece::Valid(if want_witness {
            order
                .iter()
                .map(|&e| calls[part.origin[e]].invoke_index)
                .collect()
        } else {
            Vec::new()
        }),
        Outcome::Completable => Piece::Valid(Vec::new()),
        Outcome::NotLinearizable(stuck) => match stuck {
            Some(stuck) => {
                Piece::Invalid(Box::new(counterexample(calls, &part.origin, key, stuck)))
            }
            None => unreachable!("a first run from the empty set explores its start"),
        },
        Outcome::Stopped(stop) => Piece::Stopped(stop),
    }
}

type Finished = (usize, Piece, Stats);

/// Step quanta of the passes over the keys; the last pass has no bound.
const QUANTA: [Option<u64>; 3] = [Some(50_000), Some(2_000_000), None];

fn check_per_key<M: Model>(
    model: &M,
    calls: &[Call],
    groups: &[Group],
    budget: &Budget,
    options: &CheckOptions,
) -> Result<Vec<Finished>> {
    let threads = match options.threads {
        0 => std::thread::available_parallelism().map_or(1, |n| n.get()),
        t => t,
    };
    let finished: StdMutex<Vec<Result<Finished>>> = StdMutex::new(Vec::new());
    let mut open: Vec<usize> = (0..groups.len()).collect();
    for quantum in QUANTA {
        if open.is_empty() || budget.is_cancelled() {
            break;
        }
        let next = AtomicUsize::new(0);
        let deferred: StdMutex<Vec<usize>> = StdMutex::new(Vec::new());
        let work = || {
            let mut lease = Lease::new(budget);
            loop {
                let at = next.fetch_add(1, Ordering::Relaxed);
                if at >= open.len() || budget.is_cancelled() {
                    break;
                }
                let g = open[at];
                let outcome = check_group(
                    model,
                    calls,
                    &groups[g],
                    &mut lease,
                    quantum,
                    options.witness,
                );
                match outcome {
                    Ok((Piece::Stopped(Stop::Steps), _)) => {
                        deferred.lock().expect("not poisoned").push(g);
                    }
                    Ok((piece, stats)) => {
                        if matches!(piece, Piece::Invalid(_)) {
                            budget.cancel();
                        }
                        finished
                            .lock()
                            .expect("not poisoned")
                            .push(Ok((g, piece, stats)));
                    }
                    Err(e) => {
                        budget.cancel();
                        finished.lock().expect("not poisoned").push(Err(e));
                    }
                }
            }
        };
        let threads = threads.min(open.len()).max(1);
        if threads == 1 {
            work();
        } else {
            std::thread::scope(|s| {
                for _ in 0..threads {
                    s.spawn(work);
                }
            });
        }
        open = deferred.into_inner().expect("not poisoned");
        open.sort_unstable();
    }
    let mut finished: Vec<Finished> = finished
        .into_inner()
        .expect("not poisoned")
        .into_iter()
        .collect::<Result<_>>()?;
    finished.sort_by_key(|(g, ..)| *g);
    Ok(finished)
}

fn check_group<M: Model>(
    model: &M,
    calls: &[Call],
    group: &Group,
    lease: &mut Lease<'_>,
    quantum: Option<u64>,
    want_witness: bool,
) -> Result<(Piece, Stats)> {
    let part = compile(model, calls, &group.members)?;
    let (mut search, start) = part.search(model);
    let outcome = search.run(
        &start,
        model.init(&part.keys),
        &mut Unguided,
        lease,
        quantum,
    );
    let stats = search.stats;
    Ok((
        piece_of(outcome, calls, &part, group.key.clone(), want_witness),
        stats,
    ))
}

fn check_whole<M: Model>(
    model: &M,
    calls: &[Call],
    budget: &Budget,
    options: &CheckOptions,
) -> Result<(Piece, Stats, &'static str)> {
    let all: Vec<usize> = (0..calls.len()).collect();
    let part = compile(model, calls, &all)?;
    let initial = model.init(&part.keys);
    let mut lease = Lease::new(budget);
    let (mut search, start) = part.search(model);
    let locality = if options.locality_pruning {
        Locality::new(model, &part.keys, &part.entries, budget)
    } else {
        None
    };
    let Some(mut locality) = locality else {
        let outcome = search.run(&start, initial, &mut Unguided, &mut lease, None);
        let stats = search.stats;
        return Ok((
            piece_of(outcome, calls, &part, None, options.witness),
            stats,
            "whole-state",
        ));
    };
    const STRATEGY: &str = "whole-state, pruned by per-key completability";
    let outcome = match locality.check_roots(&initial) {
        Roots::AllAlive => search.run(&start, initial, &mut locality, &mut lease, None),
        Roots::Dead(k, stuck) => {
            let (steps, nodes) = locality.stats();
            let key = Some(part.keys.name(k).to_string());
            let stuck = stuck.expect("a root run records where it got stuck");
            let c = counterexample(calls, &part.origin, key, stuck);
            return Ok((
                Piece::Invalid(Box::new(c)),
                Stats { steps, nodes },
                STRATEGY,
            ));
        }
        Roots::Stopped(stop) => Outcome::Stopped(stop),
    };
    let (steps, nodes) = locality.stats();
    let stats = Stats {
        steps: search.stats.steps + steps,
        nodes: search.stats.nodes + nodes,
    };
    Ok((
        piece_of(outcome, calls, &part, None, options.witness),
        stats,
        STRATEGY,
    ))
}
