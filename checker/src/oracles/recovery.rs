//! Recovery figures per fault: from its start to the first completed operation after
//! it, and from its heal until throughput is back within 20% of the pre-fault rate.

use super::faults::{fault_windows, FaultWindow};
use crate::history::{Op, OpType, Process};
use serde::{Deserialize, Serialize};

/// Throughput is "back" once a one-second window after the heal holds at least this
/// share of the pre-fault rate.
const BACK_WITHIN: f64 = 0.8;
/// How much time before a fault measures its pre-fault rate, at most.
const PRE_FAULT: u64 = 10_000_000_000;
const SECOND: u64 = 1_000_000_000;

/// The recovery of one fault.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Recovery {
    /// The fault.
    #[serde(flatten)]
    pub window: FaultWindow,
    /// Ok operations per second before the fault.
    pub pre_fault_ops_per_sec: f64,
    /// From the fault's start to the first `ok` completion after it, ms.
    pub first_ok_after_start_ms: Option<f64>,
    /// From the heal until throughput was back within 20% of the pre-fault rate, ms.
    pub full_throughput_after_heal_ms: Option<f64>,
}

/// Recovery figures for every fault window of `ops`; the history ends at `end`.
pub fn recovery(ops: &[Op], end: u64) -> Vec<Recovery> {
    let mut oks: Vec<u64> = ops
        .iter()
        .filter(|o| matches!(o.process, Process::Client(_)) && o.kind == OpType::Ok)
        .map(|o| o.time)
        .collect();
    oks.sort_unstable();
    let count = |a: u64, b: u64| oks.partition_point(|&t| t < b) - oks.partition_point(|&t| t < a);
    let windows = fault_windows(ops);
    let mut out = Vec::new();
    for (i, w) in windows.iter().enumerate() {
        let prev_heal = windows[..i]
            .iter()
            .filter_map(|p| p.stop)
            .filter(|&s| s <= w.start)
            .max();
        let pre_from = prev_heal
            .unwrap_or(0)
            .max(w.start.saturating_sub(PRE_FAULT));
        let pre_secs = (w.start - pre_from) as f64 / 1e9;
        let pre_rate = if pre_secs >= 1.0 {
            count(pre_from, w.start) as f64 / pre_secs
        } else {
            0.0
        };
        let first = oks
            .iter()
            .find(|&&t| t > w.start)
            .map(|&t| (t - w.start) as f64 / 1e6);
        let back = match w.stop {
            Some(heal) if pre_rate > 0.0 => {
                let need = (pre_rate * BACK_WITHIN).ceil() as usize;
                let mut t = heal;
                let mut found = None;
                while t + SECOND <= end {
                    if count(t, t + SECOND) >= need {
                        found = Some((t - heal) as f64 / 1e6);
                        break;
                    }
                    t += SECOND / 10;
                }
                found
            }
            _ => None,
        };
        out.push(Recovery {
            window: w.clone(),
            pre_fault_ops_per_sec: pre_rate,
            first_ok_after_start_ms: first,
            full_throughput_after_heal_ms: back,
        });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::oracles::faults::tests::nemesis;
    use serde_json::json;

    #[test]
    fn figures_follow_the_history() {
        // 10 ok/s for 10 s, a fault from 10 s to 15 s with nothing completing until
        // 12 s and a trickle until the heal, then 10 ok/s again from 16 s.
        let mut ops = Vec::new();
        let ok = |t: f64| {
            Op::new(
                0,
                Process::Client(0),
                OpType::Ok,
                "read",
                json!(1),
                (t * 1e9) as u64,
            )
        };
        for i in 0..100 {
            ops.push(ok(i as f64 * 0.1));
        }
        ops.push(nemesis("start-partition", 10.0));
        ops.push(ok(12.0));
        ops.push(nemesis("stop-partition", 15.0));
        for i in 0..100 {
            ops.push(ok(16.0 + i as f64 * 0.1));
        }
        let r = recovery(&ops, 26 * SECOND);
        assert_eq!(r.len(), 1);
        assert!((r[0].pre_fault_ops_per_sec - 10.0).abs() < 0.2, "{r:?}");
        let first = r[0].first_ok_after_start_ms.unwrap();
        assert!((first - 2000.0).abs() < 1.0, "{first}");
        let back = r[0].full_throughput_after_heal_ms.unwrap();
        assert!((800.0..=1000.0).contains(&back), "{back}");
    }
}
