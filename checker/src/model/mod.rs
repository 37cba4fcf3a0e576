//! Consistency models: sequential specifications the checker linearizes against.
//!
//! A model turns each paired [`Call`] into a compact input and (if the call completed
//! definitely) an expected output, and steps a state. The search never looks at JSON.

mod kv;
mod multi_register;
mod mutex;
mod nil_read;
mod register;
mod value;

pub use kv::Kv;
pub use multi_register::MultiRegister;
pub use mutex::Mutex;
pub use nil_read::NilRead;
pub use register::Register;
pub use value::Val;

use crate::error::{Error, Result};
use crate::history::Call;
use std::collections::HashMap;
use std::fmt::Debug;
use std::hash::Hash;
use std::str::FromStr;

/// A call as a model sees it: its input, and its output when the call completed `ok`.
///
/// `output == None` means the call is indeterminate: it may take effect at any point after
/// its invocation, or never.
#[derive(Debug, Clone)]
pub struct Compiled<I, O> {
    /// What the call asked for.
    pub input: I,
    /// What it returned, if known.
    pub output: Option<O>,
}

/// Numbers the keys of a (sub)history so that states can be small vectors.
#[derive(Debug, Default, Clone)]
pub struct KeyTable {
    ids: HashMap<String, usize>,
    names: Vec<String>,
}

impl KeyTable {
    /// The slot of `key`, assigning the next free one on first sight.
    pub fn slot(&mut self, key: &str) -> usize {
        if let Some(&i) = self.ids.get(key) {
            return i;
        }
        let i = self.names.len();
        self.ids.insert(key.to_string(), i);
        self.names.push(key.to_string());
        i
    }

    /// How many keys have slots.
    pub fn len(&self) -> usize {
        self.names.len()
    }

    /// Whether no key has a slot yet.
    pub fn is_empty(&self) -> bool {
        self.names.is_empty()
    }

    /// The key in slot `i`.
    pub fn name(&self, i: usize) -> &str {
        &self.names[i]
    }
}

/// A sequential specification.
pub trait Model: Send + Sync {
    /// The model's state; it is hashed and compared for memoisation, so keep it small.
    type State: Clone + Eq + Hash + Send + Debug;
    /// A compiled call input.
    type Input: Clone + Send + Sync + Debug;
    /// A compiled call output.
    type Output: Clone + Send + Sync + Debug;

    /// The model's name, as on the command line.
    fn name(&self) -> &'static str;

    /// Whether a history may be checked one key at a time (P-compositionality): true when
    /// every operation touches exactly the key in its `key` field.
    fn partitionable(&self) -> bool;

    /// Compiles a call, or returns `None` for a call that constrains nothing (it failed,
    /// so it did not happen; or it is an indeterminate read).
    fn compile(
        &self,
        call: &Call,
        keys: &mut KeyTable,
    ) -> Result<Option<Compiled<Self::Input, Self::Output>>>;

    /// The initial state, once every call of the (sub)history has been compiled.
    fn init(&self, keys: &KeyTable) -> Self::State;

    /// Applies `input` to `state`: the next state if `output` (or, when `None`, some
    /// output) is what the specification allows, else `None`.
    fn step(
        &self,
        state: &Self::State,
        input: &Self::Input,
        output: Option<&Self::Output>,
    ) -> Option<Self::State>;

    /// What a completed read of `nil` means to this model, or `None` for a model
    /// without reads (the mutex).
    fn nil_read(&self) -> Option<NilRead> {
        None
    }

    /// For a model whose state is a product of independent components (the keys of a
    /// map): the one component `input` reads and writes, or `None` if it touches several
    /// or the model is not such a product. Enables pruning by locality.
    fn component(&self, input: &Self::Input) -> Option<usize> {
        let _ = input;
        None
    }

    /// `state` with every component other than `c` set to its initial value, so that
    /// states agreeing on component `c` compare equal.
    fn isolate(&self, state: &Self::State, c: usize) -> Self::State {
        let _ = c;
        state.clone()
    }

    /// A human-readable rendering of a state, for counterexamples.
    fn describe(&self, state: &Self::State, keys: &KeyTable) -> String;

    /// Approximate heap bytes a state holds, for the memory budget.
    fn state_bytes(&self, state: &Self::State) -> usize {
        let _ = state;
        0
    }
}

/// The models the command line can name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ModelKind {
    /// A read/write register.
    Register,
    /// A read/write/compare-and-set register.
    CasRegister,
    /// Many independent keys: read/get, write/put, cas, append.
    Kv,
    /// A lock: acquire/release.
    Mutex,
    /// Several registers read and written by transactions.
    MultiRegister,
}

impl ModelKind {
    /// The names accepted on the command line.
    pub const NAMES: &'static str = "register, cas-register, kv, mutex, multi-register";

    /// The model's name, as on the command line.
    pub fn name(self) -> &'static str {
        match self {
            ModelKind::Register => "register",
            ModelKind::CasRegister => "cas-register",
            ModelKind::Kv => "kv",
            ModelKind::Mutex => "mutex",
            ModelKind::MultiRegister => "multi-register",
        }
    }
}

impl FromStr for ModelKind {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        Ok(match s {
            "register" => ModelKind::Register,
            "cas-register" => ModelKind::CasRegister,
            "kv" => ModelKind::Kv,
            "mutex" => ModelKind::Mutex,
            "multi-register" => ModelKind::MultiRegister,
            _ => {
                return Err(Error::UnknownName {
                    what: "model",
                    name: s.to_string(),
                    expected: Self::NAMES,
                })
            }
        })
    }
}

/// An error for a call that does not fit a model.
pub(crate) fn misfit(model: &'static str, call: &Call, message: impl Into<String>) -> Error {
    Error::Model {
        index: call.invoke_index,
        model,
        message: message.into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::history::OpType;
    use serde_json::{json, Value};

    fn call(f: &str, input: Value, output: Value, outcome: OpType) -> Call {
        Call {
            process: 0,
            f: f.into(),
            key: Some("k".into()),
            input,
            output,
            outcome,
            call: 0,
            ret: None,
            invoke_index: 0,
            complete_index: None,
            invoke_time: 0,
            complete_time: None,
            error: None,
        }
    }

    fn run<M: Model>(model: &M, calls: &[Call]) -> Option<M::State> {
        let mut keys = KeyTable::default();
        let ops: Vec<_> = calls
            .iter()
            .filter_map(|c| model.compile(c, &mut keys).unwrap())
            .collect();
        let mut state = model.init(&keys);
        for op in &ops {
            state = model.step(&state, &op.input, op.output.as_ref())?;
        }
        Some(state)
    }

    #[test]
    fn cas_register_semantics() {
        let m = Register::with_cas(Val::Int(0));
        let ok = OpType::Ok;
        assert!(run(
            &m,
            &[
                call("cas", json!([0, 2]), json!([0, 2]), ok),
                call("read", Value::Null, json!(2), ok)
            ]
        )
        .is_some());
        // A cas that returned false needs the value to differ from `from`.
        assert!(run(&m, &[call("cas", json!([0, 2]), json!(false), ok)]).is_none());
        assert!(run(
            &m,
            &[
                call("cas", json!([1, 2]), json!(false), ok),
                call("read", Value::Null, json!(0), ok)
            ]
        )
        .is_some());
        // A failed operation did not happen; an indeterminate read constrains nothing.
        assert!(run(
            &m,
            &[
                call("write", json!(5), json!(5), OpType::Fail),
                call("read", Value::Null, json!(0), ok)
            ]
        )
        .is_some());
        assert!(run(&m, &[call("read", Value::Null, json!(9), OpType::Info)]).is_some());
        assert!(Register::new(Val::Nil)
            .compile(
                &call("cas", json!([0, 1]), Value::Null, ok),
                &mut KeyTable::default()
            )
            .is_err());
    }

    #[test]
    fn kv_appends_and_reads_lists() {
        let m = Kv::new(Val::Nil);
        let ok = OpType::Ok;
        let state = run(
            &m,
            &[
                call("append", json!(1), json!(1), ok),
                call("append", json!(2), json!(2), ok),
                call("read", Value::Null, json!([1, 2]), ok),
            ],
        );
        assert!(state.is_some());
        assert!(run(
            &m,
            &[
                call("append", json!(1), json!(1), ok),
                call("read", Value::Null, json!([1, 1]), ok)
            ]
        )
        .is_none());
    }

    #[test]
    fn mutex_semantics() {
        let ok = OpType::Ok;
        assert_eq!(
            run(&Mutex, &[call("acquire", Value::Null, Value::Null, ok)]),
            Some(true)
        );
        assert!(run(
            &Mutex,
            &[
                call("acquire", Value::Null, Value::Null, ok),
                call("acquire", Value::Null, Value::Null, ok)
            ]
        )
        .is_none());
        assert!(run(&Mutex, &[call("release", Value::Null, Value::Null, ok)]).is_none());
        assert_eq!(
            run(
                &Mutex,
                &[call("release", Value::Null, Value::Null, OpType::Fail)]
            ),
            Some(false)
        );
    }

    #[test]
    fn multi_register_transactions() {
        let m = MultiRegister::new(Val::Int(0));
        let ok = OpType::Ok;
        let write = call(
            "txn",
            json!([["write", "x", 1], ["write", "y", 2]]),
            json!([["write", "x", 1], ["write", "y", 2]]),
            ok,
        );
        let read = call(
            "txn",
            json!([["read", "x", null], ["read", "y", null]]),
            json!([["read", "x", 1], ["read", "y", 2]]),
            ok,
        );
        let torn = call(
            "txn",
            json!([["read", "x", null], ["read", "y", null]]),
            json!([["read", "x", 1], ["read", "y", 0]]),
            ok,
        );
        assert!(run(&m, &[write.clone(), read]).is_some());
        assert!(run(&m, &[write, torn]).is_none());
    }
}
