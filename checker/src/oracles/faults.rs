//! The fault windows a history's `nemesis` operations describe, in Jepsen's pairs:
//! `start-partition`/`stop-partition`, `start-packet`/`stop-packet`,
//! `start-byzantine`/`stop-byzantine`, `kill`/`start`,
//! `pause`/`resume`, `bump-clock`, `strobe-clock` or `rate-clock` then
//! `reset-clock`, and the disk faults `lose-unsynced`, `torn-write`, `corrupt` or
//! `read-error` then `heal-disk`. A start never stopped lasts to the end of the history.

use crate::history::{Op, Process};
use serde::{Deserialize, Serialize};

/// One fault, from its start to its heal (history nanoseconds).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FaultWindow {
    /// The start operation's `f` (`start-partition`, `kill`, ...).
    pub fault: String,
    /// What the start operation did (its value).
    pub what: serde_json::Value,
    /// When it started.
    pub start: u64,
    /// When it was healed (`None`: never, within the history).
    pub stop: Option<u64>,
    /// What the heal operation did (its value), when it says something (a disk
    /// fault's heal: which replicas restarted, refused to start, were set aside).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub healed: Option<serde_json::Value>,
}

/// The heal operation that ends a fault started by `f` (`None`: `f` starts no fault).
pub fn heal_of(f: &str) -> Option<&'static str> {
    Some(match f {
        "start-partition" => "stop-partition",
        "start-packet" => "stop-packet",
        "start-byzantine" => "stop-byzantine",
        "kill" => "start",
        "pause" => "resume",
        "bump-clock" | "strobe-clock" | "rate-clock" => "reset-clock",
        "lose-unsynced" | "torn-write" | "corrupt" | "read-error" => "heal-disk",
        _ => return None,
    })
}

/// The fault windows of `ops`, in start order. A heal ends the oldest open fault it
/// heals.
pub fn fault_windows(ops: &[Op]) -> Vec<FaultWindow> {
    let mut windows: Vec<FaultWindow> = Vec::new();
    for op in ops.iter().filter(|o| o.process == Process::Nemesis) {
        if heal_of(&op.f).is_some() {
            windows.push(FaultWindow {
                fault: op.f.clone(),
                what: op.value.clone(),
                start: op.time,
                stop: None,
                healed: None,
            });
        } else if let Some(w) = windows
            .iter_mut()
            .find(|w| w.stop.is_none() && heal_of(&w.fault) == Some(op.f.as_str()))
        {
            w.stop = Some(op.time);
            let says = op.value.as_object().is_some_and(|o| !o.is_empty());
            w.healed = says.then(|| op.value.clone());
        }
    }
    windows
}

/// Whether any fault is in force at `t`.
pub fn active_at(windows: &[FaultWindow], t: u64) -> bool {
    windows
        .iter()
        .any(|w| w.start <= t && w.stop.is_none_or(|s| t < s))
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::history::OpType;
    use serde_json::json;

    pub(crate) fn nemesis(f: &str, secs: f64) -> Op {
        Op::new(
            0,
            Process::Nemesis,
            OpType::Info,
            f,
            json!({}),
            (secs * 1e9) as u64,
        )
    }

    #[test]
    fn starts_pair_with_their_heals() {
        let ops = vec![
            nemesis("start-partition", 1.0),
            nemesis("kill", 2.0),
            nemesis("stop-partition", 3.0),
            nemesis("bump-clock", 4.0),
            nemesis("start", 5.0),
        ];
        let w = fault_windows(&ops);
        assert_eq!(w.len(), 3);
        assert_eq!(
            (w[0].start, w[0].stop),
            (1_000_000_000, Some(3_000_000_000))
        );
        assert_eq!(w[1].stop, Some(5_000_000_000));
        assert_eq!(w[2].stop, None);
        assert!(active_at(&w, 4_500_000_000));
        assert!(!active_at(&w, 500_000_000));
    }
}
