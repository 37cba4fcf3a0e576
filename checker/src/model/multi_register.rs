//! Several registers read and written together by transactions (Knossos' multi-register).

use super::{misfit, Compiled, KeyTable, Model, NilRead, Val};
use crate::error::Result;
use crate::history::{Call, OpType};
use std::sync::Arc;

/// One micro-operation of a transaction on the register in a slot.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Micro {
    /// Read the register; `None` when the value read is unknown.
    Read(usize, Option<Val>),
    /// Write the register.
    Write(usize, Val),
}

/// Registers named by key, every one starting at `initial`, accessed by `txn` calls whose
/// value is a list of `[f key value]` micro-operations (`read` or `write`).
///
/// Transactions span keys, so this model is not partitionable. A read micro-op of `nil`
/// means `nil_read` (see [`NilRead`]); Knossos's multi-register accepts it in any state.
#[derive(Debug, Clone)]
pub struct MultiRegister {
    /// Every register's value before any operation.
    pub initial: Val,
    /// What a completed read micro-op of `nil` means.
    pub nil_read: NilRead,
}

impl MultiRegister {
    /// Registers starting at `initial`, a read of `nil` constraining nothing
    /// ([`NilRead::Any`], Knossos's meaning, which this model always had).
    pub fn new(initial: Val) -> Self {
        MultiRegister {
            initial,
            nil_read: NilRead::Any,
        }
    }
}

fn micro_ops(
    call: &Call,
    value: &serde_json::Value,
    keys: &mut KeyTable,
    nil_read: NilRead,
) -> Result<Vec<Micro>> {
    let items = value.as_array().ok_or_else(|| {
        misfit(
            "multi-register",
            call,
            format!("txn value must be a list, got {value}"),
        )
    })?;
    items
        .iter()
        .map(|m| {
            let parts = m.as_array().filter(|p| p.len() == 3).ok_or_else(|| {
                misfit(
                    "multi-register",
                    call,
                    format!("micro-op must be [f key value], got {m}"),
                )
            })?;
            let key = match &parts[1] {
                serde_json::Value::String(s) => s.clone(),
                other => other.to_string(),
            };
            let slot = keys.slot(&key);
            match parts[0].as_str() {
                Some("read" | "r") => Ok(Micro::Read(
                    slot,
                    (nil_read == NilRead::Value || !parts[2].is_null())
                        .then(|| Val::from_json(&parts[2])),
                )),
                Some("write" | "w") => Ok(Micro::Write(slot, Val::from_json(&parts[2]))),
                _ => Err(misfit(
                    "multi-register",
                    call,
                    format!("unknown micro-op {}", parts[0]),
                )),
            }
        })
        .collect()
}

impl Model for MultiRegister {
    type State = Arc<[Val]>;
    type Input = Vec<Micro>;
    type Output = ();

    fn name(&self) -> &'static str {
        "multi-register"
    }

    fn partitionable(&self) -> bool {
        false
    }

    fn compile(
        &self,
        call: &Call,
        keys: &mut KeyTable,
    ) -> Result<Option<Compiled<Vec<Micro>, ()>>> {
        if call.f != "txn" {
            return Err(misfit(
                "multi-register",
                call,
                format!("unknown function {:?}", call.f),
            ));
        }
        match call.outcome {
            OpType::Fail => Ok(None),
            // A completed transaction's value holds what its reads saw.
            OpType::Ok => Ok(Some(Compiled {
                input: micro_ops(call, &call.output, keys, self.nil_read)?,
                output: Some(()),
            })),
            // An indeterminate one: only its writes matter, its reads constrain nothing.
            _ => {
                let input: Vec<Micro> = micro_ops(call, &call.input, keys, self.nil_read)?
                    .into_iter()
                    .filter(|m| matches!(m, Micro::Write(..)))
                    .collect();
                Ok((!input.is_empty()).then_some(Compiled {
                    input,
                    output: None,
                }))
            }
        }
    }

    fn init(&self, keys: &KeyTable) -> Arc<[Val]> {
        vec![self.initial.clone(); keys.len()].into()
    }

    fn step(
        &self,
        state: &Arc<[Val]>,
        input: &Vec<Micro>,
        _output: Option<&()>,
    ) -> Option<Arc<[Val]>> {
        let mut next: Option<Vec<Val>> = None;
        for m in input {
            let current = next.as_deref().unwrap_or(state);
            match m {
                Micro::Read(slot, Some(v)) if &current[*slot] != v => return None,
                Micro::Read(..) => {}
                Micro::Write(slot, v) => {
                    next.get_or_insert_with(|| state.to_vec())[*slot] = v.clone();
                }
            }
        }
        Some(next.map_or_else(|| state.clone(), Arc::from))
    }

    fn nil_read(&self) -> Option<NilRead> {
        Some(self.nil_read)
    }

    fn describe(&self, state: &Arc<[Val]>, keys: &KeyTable) -> String {
        let parts: Vec<String> = state
            .iter()
            .enumerate()
            .map(|(i, v)| format!("{} {v}", keys.name(i)))
            .collect();
        format!("{{{}}}", parts.join(", "))
    }
}
