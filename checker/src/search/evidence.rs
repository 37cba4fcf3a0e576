//! Turning where a search got stuck into a counterexample a report can draw.

use super::dfs::Stuck;
use crate::history::Call;
use crate::verdict::{Counterexample, OpRef};

/// How many of the last linearized operations are reported in full.
const PREFIX_TAIL: usize = 8;
/// The most operations reported in the concurrent window.
const WINDOW_MAX: usize = 64;

/// Builds a counterexample; `origin[e]` is the position in `calls` of entry `e`.
pub(crate) fn counterexample(
    calls: &[Call],
    origin: &[usize],
    key: Option<String>,
    stuck: Stuck,
) -> Counterexample {
    let call_of = |e: usize| &calls[origin[e]];
    let blocked = call_of(stuck.blocked);
    let end = blocked.ret.unwrap_or(usize::MAX);
    let mut window: Vec<OpRef> = origin
        .iter()
        .map(|&i| &calls[i])
        .filter(|c| c.call < end && c.ret.is_none_or(|r| r > blocked.call))
        .map(OpRef::of)
        .collect();
    if window.len() > WINDOW_MAX {
        // Keep the operations invoked closest to the unplaceable one.
        window.sort_by_key(|o| o.index.abs_diff(blocked.invoke_index));
        window.truncate(WINDOW_MAX);
        window.sort_by_key(|o| o.index);
    }
    let tail_from = stuck.prefix.len().saturating_sub(PREFIX_TAIL);
    Counterexample {
        key,
        linearized_prefix: stuck
            .prefix
            .iter()
            .map(|&e| call_of(e).invoke_index)
            .collect(),
        prefix_tail: stuck.prefix[tail_from..]
            .iter()
            .map(|&e| OpRef::of(call_of(e)))
            .collect(),
        state: stuck.state,
        unplaceable: OpRef::of(blocked),
        candidates: stuck
            .candidates
            .iter()
            .filter(|&&e| e != stuck.blocked)
            .map(|&e| OpRef::of(call_of(e)))
            .collect(),
        window,
    }
}
