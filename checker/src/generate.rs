//! Seeded generation of histories that are linearizable by construction, for property
//! tests and benchmarks.
//!
//! Concurrent processes invoke operations on a real sequential map; each operation takes
//! effect at a random moment between its invocation and its completion, and its completion
//! reports what it saw then. Some operations crash (`info`): they take effect or not.

use crate::history::{Op, OpType, Process};
use serde_json::{json, Value};
use std::collections::HashMap;

/// What to generate.
#[derive(Debug, Clone)]
pub struct GenSpec {
    /// Client operations (invocations) in the history.
    pub ops: usize,
    /// Concurrent client processes.
    pub processes: usize,
    /// Keys; 0 for a single unkeyed register.
    pub keys: usize,
    /// Probability that an operation ends indeterminate (`info`).
    pub info_rate: f64,
    /// Generate list appends and reads instead of read/write/cas (kv only).
    pub appends: bool,
    /// The random seed.
    pub seed: u64,
}

/// A small deterministic PRNG (SplitMix64), so the library needs no `rand` dependency.
#[derive(Debug, Clone)]
pub struct SplitMix(u64);

impl SplitMix {
    /// Seeds the generator.
    pub fn new(seed: u64) -> Self {
        SplitMix(seed)
    }
    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    /// A number in `0..n` (n > 0).
    pub fn below(&mut self, n: usize) -> usize {
        (self.next_u64() % n as u64) as usize
    }
    /// True with probability `p`.
    pub fn chance(&mut self, p: f64) -> bool {
        ((self.next_u64() >> 11) as f64 / (1u64 << 53) as f64) < p
    }
}

#[derive(Clone, Copy, PartialEq)]
enum Phase {
    Idle,
    Invoked,
    Applied,
}

struct Slot {
    phase: Phase,
    f: &'static str,
    key: Option<String>,
    input: Value,
    output: Value,
    crashed: bool,
    process: u64,
}

/// Generates a linearizable history (as lines in real-time order) of a register
/// (`keys == 0`: read/write/cas) or a kv map (read/write/cas, and append if asked).
pub fn linearizable_history(spec: &GenSpec) -> Vec<Op> {
    let mut rng = SplitMix::new(spec.seed);
    let mut state: HashMap<Option<String>, Value> = HashMap::new();
    let processes = spec.processes.max(1);
    let mut slots: Vec<Slot> = (0..processes)
        .map(|p| Slot {
            phase: Phase::Idle,
            f: "read",
            key: None,
            input: Value::Null,
            output: Value::Null,
            crashed: false,
            process: p as u64,
        })
        .collect();
    let mut next_process = processes as u64;
    let mut out = Vec::with_capacity(spec.ops * 2);
    let mut invoked = 0;
    let mut time = 0u64;
    while invoked < spec.ops || slots.iter().any(|s| s.phase != Phase::Idle) {
        let s = rng.below(processes);
        time += 1 + rng.below(1000) as u64;
        let slot = &mut slots[s];
        match slot.phase {
            Phase::Idle if invoked < spec.ops => {
                invoked += 1;
                slot.key = (spec.keys > 0).then(|| format!("k{}", rng.below(spec.keys)));
                // With appends, keys hold lists: the list-append workload (read + append).
                let roll = if spec.appends && spec.keys > 0 {
                    [0, 3][rng.below(2)]
                } else {
                    rng.below(3)
                };
                let v = json!(rng.below(5));
                (slot.f, slot.input) = match roll {
                    0 => ("read", Value::Null),
                    1 => ("write", v),
                    2 => ("cas", json!([rng.below(5), rng.below(5)])),
                    _ => ("append", json!(invoked)),
                };
                slot.crashed = rng.chance(spec.info_rate);
                slot.phase = Phase::Invoked;
                let mut op = Op::new(
                    out.len() as u64,
                    Process::Client(slot.process),
                    OpType::Invoke,
                    slot.f,
                    slot.input.clone(),
                    time,
                );
                op.key = slot.key.clone();
                out.push(op);
            }
            Phase::Idle => {}
            Phase::Invoked => {
                // The moment the operation takes effect (a crashed one may never).
                if slot.crashed && rng.chance(0.5) {
                    slot.output = Value::Null;
                } else {
                    let current = state.entry(slot.key.clone()).or_insert(Value::Null);
                    slot.output = apply(current, slot.f, &slot.input);
                }
                slot.phase = Phase::Applied;
            }
            Phase::Applied => {
                let (kind, value) = if slot.crashed {
                    (OpType::Info, Value::Null)
                } else if slot.f == "cas" && slot.output == json!(false) {
                    (OpType::Fail, slot.input.clone())
                } else if slot.f == "read" {
                    (OpType::Ok, slot.output.clone())
                } else {
                    (OpType::Ok, slot.input.clone())
                };
                let mut op = Op::new(
                    out.len() as u64,
                    Process::Client(slot.process),
                    kind,
                    slot.f,
                    value,
                    time,
                );
                op.key = slot.key.clone();
                out.push(op);
                slot.phase = Phase::Idle;
                if slot.crashed {
                    // As in Jepsen, a process whose operation is indeterminate is retired.
                    slot.process = next_process;
                    next_process += 1;
                }
            }
        }
    }
    out
}

/// Applies an operation to a value; returns what a read saw, or whether a cas swapped.
fn apply(current: &mut Value, f: &str, input: &Value) -> Value {
    match f {
        "read" => current.clone(),
        "write" => {
            *current = input.clone();
            Value::Null
        }
        "cas" => {
            if *current == input[0] {
                *current = input[1].clone();
                json!(true)
            } else {
                json!(false)
            }
        }
        _ => {
            match current {
                Value::Array(items) => items.push(input.clone()),
                _ => *current = json!([input.clone()]),
            }
            Value::Null
        }
    }
}
