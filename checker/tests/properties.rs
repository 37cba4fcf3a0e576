//! Property tests of the linearizability checker.
//!
//! 1. Histories made by running a sequential model under random overlapping intervals are
//!    always judged valid, split by key or not.
//! 2. Small random histories (which are often not linearizable) get the same verdict from
//!    the checker as from a brute-force search over every order.

use checker::generate::{linearizable_history, GenSpec};
use checker::history::{pair, Call, Op, OpType, Process};
use checker::model::{KeyTable, Model, Register, Val};
use checker::{check, CheckOptions, Verdict};
use proptest::prelude::*;
use serde_json::{json, Value};

fn options(partition: bool) -> CheckOptions {
    CheckOptions {
        partition,
        witness: true,
        ..CheckOptions::default()
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn generated_register_histories_are_valid(seed in any::<u64>(), processes in 1usize..8, ops in 1usize..120, info in 0.0f64..0.3) {
        let history = linearizable_history(&GenSpec { ops, processes, keys: 0, info_rate: info, appends: false, seed });
        let calls = pair(history).unwrap();
        let result = check(&Register::with_cas(Val::Nil), &calls, &options(true)).unwrap();
        prop_assert_eq!(result.verdict, Verdict::Valid, "seed {}", seed);
    }

    #[test]
    fn generated_kv_histories_are_valid_split_or_whole(seed in any::<u64>(), processes in 1usize..6, ops in 1usize..60, keys in 1usize..4) {
        let history = linearizable_history(&GenSpec { ops, processes, keys, info_rate: 0.05, appends: true, seed });
        let calls = pair(history).unwrap();
        for partition in [true, false] {
            let result = checker::check_kind(checker::ModelKind::Kv, None, &calls, &options(partition)).unwrap();
            prop_assert_eq!(result.verdict, Verdict::Valid, "seed {} partition {}", seed, partition);
        }
    }

    #[test]
    fn small_random_histories_agree_with_brute_force(spec in prop::collection::vec(random_op(), 1..7)) {
        let calls = pair(build_history(&spec)).unwrap();
        let model = Register::with_cas(Val::Int(0));
        let fast = check(&model, &calls, &options(true)).unwrap().verdict;
        let slow = if brute_force(&model, &calls) { Verdict::Valid } else { Verdict::Invalid };
        prop_assert_eq!(fast, slow, "history {:?}", spec);
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn per_key_whole_pruned_whole_plain_and_brute_force_agree(spec in prop::collection::vec((random_op(), 0usize..3), 1..8)) {
        let ops: Vec<RandomOp> = spec.iter().map(|(op, _)| op.clone()).collect();
        let mut history = build_history(&ops);
        for op in &mut history {
            let Process::Client(p) = op.process else { unreachable!() };
            op.key = Some(format!("k{}", spec[p as usize].1));
        }
        let calls = pair(history).unwrap();
        let model = checker::model::Kv::new(Val::Int(0));
        let verdict = |partition: bool, locality_pruning: bool| {
            let options = CheckOptions { partition, locality_pruning, ..CheckOptions::default() };
            check(&model, &calls, &options).unwrap().verdict
        };
        let slow = if brute_force(&model, &calls) { Verdict::Valid } else { Verdict::Invalid };
        prop_assert_eq!(verdict(true, true), slow, "per key");
        prop_assert_eq!(verdict(false, true), slow, "whole, pruned by locality");
        prop_assert_eq!(verdict(false, false), slow, "whole, plain");
    }
}

/// A random operation: (f, argument, result, invoke time, duration, outcome).
#[derive(Debug, Clone)]
struct RandomOp {
    f: &'static str,
    arg: Value,
    result: Value,
    start: u64,
    length: u64,
    outcome: OpType,
}

fn random_op() -> impl Strategy<Value = RandomOp> {
    (
        0usize..3,
        0i64..3,
        0i64..3,
        any::<bool>(),
        0u64..20,
        1u64..10,
        0usize..10,
    )
        .prop_map(|(f, a, b, flag, start, length, outcome)| {
            let (f, arg, result) = match f {
                0 => (
                    "read",
                    Value::Null,
                    if flag { json!(a) } else { Value::Null },
                ),
                1 => ("write", json!(a), json!(a)),
                _ => (
                    "cas",
                    json!([a, b]),
                    if flag { json!([a, b]) } else { json!(false) },
                ),
            };
            let outcome = match outcome {
                0 => OpType::Info,
                1 => OpType::Fail,
                _ => OpType::Ok,
            };
            RandomOp {
                f,
                arg,
                result,
                start,
                length,
                outcome,
            }
        })
}

/// One process per operation; events sorted by time (invocations first on ties).
fn build_history(spec: &[RandomOp]) -> Vec<Op> {
    let mut events: Vec<(u64, u8, usize)> = Vec::new();
    for (i, op) in spec.iter().enumerate() {
        events.push((op.start * 2 + 1, 0, i));
        events.push(((op.start + op.length) * 2, 1, i));
    }
    events.sort();
    events
        .iter()
        .enumerate()
        .map(|(index, &(time, kind, i))| {
            let op = &spec[i];
            if kind == 0 {
                Op::new(
                    index as u64,
                    Process::Client(i as u64),
                    OpType::Invoke,
                    op.f,
                    op.arg.clone(),
                    time,
                )
            } else {
                let value = if op.outcome == OpType::Ok {
                    op.result.clone()
                } else {
                    op.arg.clone()
                };
                Op::new(
                    index as u64,
                    Process::Client(i as u64),
                    op.outcome,
                    op.f,
                    value,
                    time,
                )
            }
        })
        .collect()
}

/// Tries every subset of the indeterminate operations and every order; true if one works.
fn brute_force<M: Model>(model: &M, calls: &[Call]) -> bool {
    let mut keys = KeyTable::default();
    let mut must = Vec::new();
    let mut may = Vec::new();
    for c in calls {
        if let Some(op) = model.compile(c, &mut keys).unwrap() {
            let ret = if c.outcome == OpType::Ok {
                c.ret.unwrap()
            } else {
                usize::MAX
            };
            let item = (op, c.call, ret);
            if item.0.output.is_some() {
                must.push(item)
            } else {
                may.push(item)
            }
        }
    }
    for mask in 0u32..(1 << may.len()) {
        let mut chosen: Vec<_> = must.iter().collect();
        chosen.extend(
            may.iter()
                .enumerate()
                .filter(|(i, _)| mask & (1 << i) != 0)
                .map(|(_, x)| x),
        );
        let mut order: Vec<usize> = (0..chosen.len()).collect();
        if permutations(&mut order, 0, &mut |perm| {
            // Real time: nothing may go before an operation that returned before it began.
            for (a, &x) in perm.iter().enumerate() {
                for &y in &perm[a + 1..] {
                    if chosen[y].2 < chosen[x].1 {
                        return false;
                    }
                }
            }
            let mut state = model.init(&keys);
            for &x in perm {
                match model.step(&state, &chosen[x].0.input, chosen[x].0.output.as_ref()) {
                    Some(s) => state = s,
                    None => return false,
                }
            }
            true
        }) {
            return true;
        }
    }
    false
}

fn permutations(v: &mut Vec<usize>, k: usize, accept: &mut dyn FnMut(&[usize]) -> bool) -> bool {
    if k == v.len() {
        return accept(v);
    }
    for i in k..v.len() {
        v.swap(k, i);
        if permutations(v, k + 1, accept) {
            v.swap(k, i);
            return true;
        }
        v.swap(k, i);
    }
    false
}

#[test]
fn brute_force_itself_catches_a_stale_read() {
    // write 1 completes, then a read sees the initial 0: not linearizable.
    let ops = vec![
        Op::new(0, Process::Client(0), OpType::Invoke, "write", json!(1), 0),
        Op::new(1, Process::Client(0), OpType::Ok, "write", json!(1), 1),
        Op::new(
            2,
            Process::Client(1),
            OpType::Invoke,
            "read",
            Value::Null,
            2,
        ),
        Op::new(3, Process::Client(1), OpType::Ok, "read", json!(0), 3),
    ];
    let calls = pair(ops).unwrap();
    let model = Register::with_cas(Val::Int(0));
    assert!(!brute_force(&model, &calls));
    let result = check(&model, &calls, &options(true)).unwrap();
    assert_eq!(result.verdict, Verdict::Invalid);
    let cex = result.counterexample.unwrap();
    assert_eq!(cex.unplaceable.index, 2);
    assert_eq!(cex.linearized_prefix, vec![0]);
    assert_eq!(cex.state, "1");
}

#[test]
fn witness_respects_real_time_and_model() {
    let history = linearizable_history(&GenSpec {
        ops: 200,
        processes: 5,
        keys: 3,
        info_rate: 0.0,
        appends: true,
        seed: 9,
    });
    let calls = pair(history).unwrap();
    let result = checker::check_kind(checker::ModelKind::Kv, None, &calls, &options(true)).unwrap();
    assert_eq!(result.verdict, Verdict::Valid);
    let witness = result.witness.unwrap();
    assert_eq!(witness.len(), 3);
    let total: usize = witness.iter().map(|w| w.order.len()).sum();
    // Failed cas calls did not happen, so the witness covers the others.
    let expected = calls.iter().filter(|c| c.outcome == OpType::Ok).count();
    assert_eq!(total, expected);
}
