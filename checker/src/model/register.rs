//! A single register: read and write, and compare-and-set for the cas-register.

use super::{misfit, Compiled, KeyTable, Model, NilRead, Val};
use crate::error::Result;
use crate::history::{Call, OpType};

/// What a register call asks.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum RegisterInput {
    /// Read the value.
    Read,
    /// Set the value.
    Write(Val),
    /// Set the value to `.1` if it is `.0`.
    Cas(Val, Val),
}

/// What a register call returned.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum RegisterOutput {
    /// A read saw this value.
    Read(Val),
    /// A write took effect.
    Written,
    /// A cas ran and returned whether it swapped.
    Cas(bool),
}

/// A register with an initial value (nil allowed); `cas` enables compare-and-set.
///
/// Semantics follow Knossos: a `fail` call did not happen. A cas that completed `ok` with
/// the literal value `false` ran and did not swap (how the etcd importer reads `:fail :cas`).
/// What a read of `nil` means is `nil_read` (see [`NilRead`]).
#[derive(Debug, Clone)]
pub struct Register {
    /// The value before any operation.
    pub initial: Val,
    /// Whether cas is part of the model (cas-register) or an error (register).
    pub cas: bool,
    /// What a completed read of `nil` means.
    pub nil_read: NilRead,
}

impl Register {
    /// A read/write register; a read of `nil` must find it empty ([`NilRead::Value`]).
    pub fn new(initial: Val) -> Self {
        Register {
            initial,
            cas: false,
            nil_read: NilRead::Value,
        }
    }

    /// A read/write/cas register; a read of `nil` must find it empty ([`NilRead::Value`]).
    pub fn with_cas(initial: Val) -> Self {
        Register {
            initial,
            cas: true,
            nil_read: NilRead::Value,
        }
    }

    /// The same register with reads of `nil` meaning `nil_read`.
    pub fn with_nil_read(mut self, nil_read: NilRead) -> Self {
        self.nil_read = nil_read;
        self
    }
}

/// Compiles a register call; shared by [`Register`] and the per-key view of the kv model.
///
/// Under [`NilRead::Any`] a read that returned `nil` is dropped like an indeterminate
/// read: it accepts every state and changes none, so leaving it out of the search is the
/// same as Knossos's step function accepting it, and costs nothing.
pub(crate) fn compile_register_call(
    model: &'static str,
    call: &Call,
    allow_cas: bool,
    nil_read: NilRead,
) -> Result<Option<Compiled<RegisterInput, RegisterOutput>>> {
    if call.outcome == OpType::Fail {
        return Ok(None);
    }
    let done = call.outcome == OpType::Ok;
    let (input, output) = match call.f.as_str() {
        "read" | "get" => {
            if !done || (nil_read == NilRead::Any && call.output.is_null()) {
                return Ok(None);
            }
            (
                RegisterInput::Read,
                RegisterOutput::Read(Val::from_json(&call.output)),
            )
        }
        "write" | "put" => (
            RegisterInput::Write(Val::from_json(&call.input)),
            RegisterOutput::Written,
        ),
        "cas" if allow_cas => {
            let pair = call
                .input
                .as_array()
                .filter(|a| a.len() == 2)
                .ok_or_else(|| {
                    misfit(
                        model,
                        call,
                        format!("cas value must be [from, to], got {}", call.input),
                    )
                })?;
            let swapped = call.output != serde_json::Value::Bool(false);
            (
                RegisterInput::Cas(Val::from_json(&pair[0]), Val::from_json(&pair[1])),
                RegisterOutput::Cas(swapped),
            )
        }
        other => return Err(misfit(model, call, format!("unknown function {other:?}"))),
    };
    Ok(Some(Compiled {
        input,
        output: done.then_some(output),
    }))
}

/// One register step; shared by [`Register`] and the kv model.
pub(crate) fn step_register(
    state: &Val,
    input: &RegisterInput,
    output: Option<&RegisterOutput>,
) -> Option<Val> {
    match (input, output) {
        (RegisterInput::Read, Some(RegisterOutput::Read(v))) => (v == state).then(|| state.clone()),
        (RegisterInput::Read, _) => Some(state.clone()),
        (RegisterInput::Write(v), _) => Some(v.clone()),
        (RegisterInput::Cas(from, _), Some(RegisterOutput::Cas(false))) => {
            (from != state).then(|| state.clone())
        }
        // A cas that swapped, or one whose outcome is unknown (a cas that did not swap
        // leaves no trace, so "never happened" covers that case).
        (RegisterInput::Cas(from, to), _) => (from == state).then(|| to.clone()),
    }
}

impl Model for Register {
    type State = Val;
    type Input = RegisterInput;
    type Output = RegisterOutput;

    fn name(&self) -> &'static str {
        if self.cas {
            "cas-register"
        } else {
            "register"
        }
    }

    fn partitionable(&self) -> bool {
        true
    }

    fn compile(
        &self,
        call: &Call,
        _keys: &mut KeyTable,
    ) -> Result<Option<Compiled<RegisterInput, RegisterOutput>>> {
        compile_register_call(self.name(), call, self.cas, self.nil_read)
    }

    fn init(&self, _keys: &KeyTable) -> Val {
        self.initial.clone()
    }

    fn step(
        &self,
        state: &Val,
        input: &RegisterInput,
        output: Option<&RegisterOutput>,
    ) -> Option<Val> {
        step_register(state, input, output)
    }

    fn nil_read(&self) -> Option<NilRead> {
        Some(self.nil_read)
    }

    fn describe(&self, state: &Val, _keys: &KeyTable) -> String {
        state.to_string()
    }
}
