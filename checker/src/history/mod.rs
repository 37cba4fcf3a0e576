//! The history model: operations, JSON Lines streams, and pairing invocations with
//! their completions.

mod jsonl;
mod op;
mod pairing;

pub use jsonl::{read_jsonl, write_jsonl, JsonlReader, JsonlWriter};
pub use op::{Op, OpType, Process};
pub use pairing::{pair, Call};
