//! A lock: acquire and release.

use super::{misfit, Compiled, KeyTable, Model};
use crate::error::Result;
use crate::history::{Call, OpType};

/// What a mutex call asks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MutexInput {
    /// Take the lock; allowed only when it is free.
    Acquire,
    /// Give the lock back; allowed only when it is held.
    Release,
}

/// A mutex, initially free. A `fail` call (e.g. release of a lock not held) did not happen.
#[derive(Debug, Clone, Default)]
pub struct Mutex;

impl Model for Mutex {
    type State = bool;
    type Input = MutexInput;
    type Output = ();

    fn name(&self) -> &'static str {
        "mutex"
    }

    fn partitionable(&self) -> bool {
        true
    }

    fn compile(
        &self,
        call: &Call,
        _keys: &mut KeyTable,
    ) -> Result<Option<Compiled<MutexInput, ()>>> {
        if call.outcome == OpType::Fail {
            return Ok(None);
        }
        let input = match call.f.as_str() {
            "acquire" => MutexInput::Acquire,
            "release" => MutexInput::Release,
            other => return Err(misfit("mutex", call, format!("unknown function {other:?}"))),
        };
        Ok(Some(Compiled {
            input,
            output: (call.outcome == OpType::Ok).then_some(()),
        }))
    }

    fn init(&self, _keys: &KeyTable) -> bool {
        false
    }

    fn step(&self, held: &bool, input: &MutexInput, _output: Option<&()>) -> Option<bool> {
        match input {
            MutexInput::Acquire => (!held).then_some(true),
            MutexInput::Release => held.then_some(false),
        }
    }

    fn describe(&self, held: &bool, _keys: &KeyTable) -> String {
        if *held { "held" } else { "free" }.to_string()
    }
}
