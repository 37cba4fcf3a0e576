//! The history model: operations, JSON Lines streams, pairing invocations with their
//! completions, and splitting `jepsen.independent` `[key value]` tuples into keys.

mod independent;
mod jsonl;
mod op;
mod pairing;

pub use independent::split_independent;
pub use jsonl::{read_jsonl, write_jsonl, JsonlReader, JsonlWriter};
pub use op::{Op, OpType, Process};
pub use pairing::{pair, Call};
