//! A key-value map: read/get, write/put, cas and append on independent keys.

use super::register::{compile_register_call, step_register, RegisterInput, RegisterOutput};
use super::{misfit, Compiled, KeyTable, Model, NilRead, Val};
use crate::error::Result;
use crate::history::{Call, OpType};
use std::sync::Arc;

/// What a kv call asks: a register operation, or an append, on the key in a slot.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum KvInput {
    /// A read, write or cas on one key.
    Register(usize, RegisterInput),
    /// Append a value (string concatenation, or a list element) to one key.
    Append(usize, Val),
}

/// A map from keys to values, every key starting at `initial`. A read of `nil` means
/// `nil_read` (see [`NilRead`]); appends are not reads and are unaffected.
///
/// Each operation touches only its own key, so the model is partitionable: checked one key
/// at a time, its state is a single value; checked whole (`--no-partition`), it is the
/// vector of every key's value.
#[derive(Debug, Clone)]
pub struct Kv {
    /// Every key's value before any operation.
    pub initial: Val,
    /// What a completed read of `nil` means.
    pub nil_read: NilRead,
}

impl Kv {
    /// A map whose keys start at `initial`; a read of `nil` must find the key `nil`
    /// ([`NilRead::Value`]).
    pub fn new(initial: Val) -> Self {
        Kv {
            initial,
            nil_read: NilRead::Value,
        }
    }
}

impl Model for Kv {
    type State = Arc<[Val]>;
    type Input = KvInput;
    type Output = RegisterOutput;

    fn name(&self) -> &'static str {
        "kv"
    }

    fn partitionable(&self) -> bool {
        true
    }

    fn compile(
        &self,
        call: &Call,
        keys: &mut KeyTable,
    ) -> Result<Option<Compiled<KvInput, RegisterOutput>>> {
        let Some(key) = call.key.as_deref() else {
            return Err(misfit("kv", call, "kv operations need a key"));
        };
        if call.f == "append" {
            if call.outcome == OpType::Fail {
                return Ok(None);
            }
            let slot = keys.slot(key);
            return Ok(Some(Compiled {
                input: KvInput::Append(slot, Val::from_json(&call.input)),
                output: (call.outcome == OpType::Ok).then_some(RegisterOutput::Written),
            }));
        }
        let compiled = compile_register_call("kv", call, true, self.nil_read)?;
        Ok(compiled.map(|c| Compiled {
            input: KvInput::Register(keys.slot(key), c.input),
            output: c.output,
        }))
    }

    fn init(&self, keys: &KeyTable) -> Arc<[Val]> {
        vec![self.initial.clone(); keys.len()].into()
    }

    fn step(
        &self,
        state: &Arc<[Val]>,
        input: &KvInput,
        output: Option<&RegisterOutput>,
    ) -> Option<Arc<[Val]>> {
        let (slot, next) = match input {
            KvInput::Register(slot, op) => {
                let current = &state[*slot];
                let next = step_register(current, op, output)?;
                if &next == current {
                    return Some(state.clone());
                }
                (*slot, next)
            }
            KvInput::Append(slot, v) => (*slot, state[*slot].appended(v)?),
        };
        let mut values = state.to_vec();
        values[slot] = next;
        Some(values.into())
    }

    fn nil_read(&self) -> Option<NilRead> {
        Some(self.nil_read)
    }

    fn component(&self, input: &KvInput) -> Option<usize> {
        match input {
            KvInput::Register(slot, _) | KvInput::Append(slot, _) => Some(*slot),
        }
    }

    fn isolate(&self, state: &Arc<[Val]>, c: usize) -> Arc<[Val]> {
        (0..state.len())
            .map(|i| {
                if i == c {
                    state[i].clone()
                } else {
                    self.initial.clone()
                }
            })
            .collect()
    }

    fn describe(&self, state: &Arc<[Val]>, keys: &KeyTable) -> String {
        let parts: Vec<String> = state
            .iter()
            .enumerate()
            .map(|(i, v)| format!("{:?} {v}", keys.name(i)))
            .collect();
        format!("{{{}}}", parts.join(", "))
    }

    fn state_bytes(&self, state: &Arc<[Val]>) -> usize {
        state.len() * std::mem::size_of::<Val>()
    }
}
