//! Disk faults (see [`crate::disk`]): started node by node through the harness's
//! FUSE layer, healed by restarting the targets; a target that refuses to start on
//! its damaged disk has its data set aside and starts empty.
//!
//! A power loss of every replica is also measured: each replica's last executed
//! sequence number just before it (`executed_before` in the start op) and once they
//! answer again (`executed_after` in `heal-disk`). When f+1 replicas had executed up
//! to `s` (so replies for it went out, enough for a client to accept them) and every
//! replica came back below `s`, the heal records what was `forgotten`: the
//! durability oracle's evidence.

use super::outcome::Outcome;
use super::{Active, Runner};
use crate::control::{Observer, Processes};
use crate::disk::{DiskFault, HEAL_DISK};
use crate::fault::{Fault, Target};
use rand::Rng;
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::time::Duration;
use tokio::time::Instant;

/// How long a restarted target has to answer `/status` or exit before the heal moves
/// on (a replica that finds a corrupt record refuses at once; one still starting is
/// waited for in the background like any restart).
const START_VERDICT_WAIT: Duration = Duration::from_secs(5);
/// How often that wait looks.
const POLL: Duration = Duration::from_millis(100);

impl<P: Processes, O: Observer> Runner<'_, P, O> {
    /// Starts disk fault `fault` on `nodes`; records one op named after the action
    /// with `nodes` (where it worked) and `details` per node (what the layer did).
    pub(super) async fn apply_disk(
        &mut self,
        target: &Target,
        disk: &DiskFault,
        nodes: Vec<usize>,
        window_ms: u64,
        fault: &Fault,
    ) -> Option<Active> {
        for &i in &nodes {
            self.restarts.forget(i);
            self.processes.disk_fault_underway(i, true);
        }
        let everyone = nodes.len() == self.replicas.n();
        let loses_power = matches!(disk, DiskFault::PowerLoss | DiskFault::TornWrite { .. });
        let executed_before = match everyone && loses_power {
            true => Some(self.replicas.last_executed_all().await),
            false => None,
        };
        let mut details: BTreeMap<String, Value> = BTreeMap::new();
        let processes = self.processes;
        let rng = &mut self.rng;
        let outcome = Outcome::each(&nodes, |i| {
            processes.kill(i)?;
            let what = match disk {
                DiskFault::PowerLoss => processes.lose_unsynced(i)?,
                DiskFault::TornWrite { file, keep_bytes } => {
                    processes.torn_write(i, *file, *keep_bytes)?
                }
                DiskFault::Corrupt {
                    file,
                    mode,
                    offset,
                    len,
                } => {
                    let size = processes.durable_len(i, *file)?;
                    let start = match offset {
                        Some(at) => *at,
                        None if size > 0 => rng.gen_range(0..size),
                        None => 0,
                    };
                    let range = start..start + len;
                    if start >= size {
                        json!({"file": file.file_name(), "size": size, "range": [range.start, range.end],
                               "mode": mode.name(), "damaged": false,
                               "note": "the range is past the file's durable end: nothing damaged"})
                    } else {
                        processes.corrupt(i, *file, range.clone(), *mode)?;
                        json!({"file": file.file_name(), "size": size, "range": [range.start, range.end],
                               "mode": mode.name(), "damaged": true})
                    }
                }
                DiskFault::ReadError { file } => {
                    processes.read_error(i, *file, Duration::from_millis(window_ms))?;
                    processes.start(i)?;
                    json!({"file": file.file_name(), "restarted": true})
                }
            };
            details.insert(i.to_string(), what);
            Ok(())
        });
        let mut value =
            json!({"target": target.name(), "action": disk.action(), "details": details});
        if let Some(before) = &executed_before {
            value["executed_before"] = json!(before);
        }
        self.record_outcome(disk.name(), value, &outcome, "fault", fault);
        // Every target is healed, even where the fault failed half-way (killed but
        // not faulted): the heal restarts what is down.
        Some(Active::Disk {
            nodes,
            executed_before,
        })
    }

    /// Heals a disk fault on `nodes`: passthrough, restart what is down, and set aside
    /// the data of a target that refuses to start, starting it empty.
    pub(super) async fn heal_disk(
        &mut self,
        nodes: Vec<usize>,
        executed_before: Option<Vec<Option<u64>>>,
        fault: &Fault,
    ) {
        let what = fault.describe();
        let mut restarted = Vec::new();
        let mut refused: BTreeMap<String, Value> = BTreeMap::new();
        let mut failed: BTreeMap<String, String> = BTreeMap::new();
        let mut was_down: BTreeMap<String, String> = BTreeMap::new();
        for &i in &nodes {
            let _ = self.processes.passthrough(i);
            if let Some(exit) = self.processes.exited(i) {
                was_down.insert(i.to_string(), exit);
                match self.processes.start(i) {
                    Ok(()) => restarted.push(i),
                    Err(e) => {
                        failed.insert(i.to_string(), e.to_string());
                    }
                }
            }
        }
        // Which of them refuse to start on what the fault left?
        let deadline = Instant::now() + START_VERDICT_WAIT;
        let mut undecided: Vec<usize> = nodes.clone();
        while !undecided.is_empty() && Instant::now() < deadline {
            let mut still = Vec::new();
            for i in undecided {
                if let Some(exit) = self.processes.exited(i) {
                    refused.insert(
                        i.to_string(),
                        json!({"exit": exit, "log": self.processes.log_tail(i)}),
                    );
                } else if !self.replicas.wait_answering(i, POLL).await {
                    still.push(i);
                }
            }
            undecided = still;
        }
        let mut set_aside: BTreeMap<String, Value> = BTreeMap::new();
        for (node, _) in refused.iter() {
            let i: usize = node.parse().expect("node ids are numbers");
            let recovered = self
                .processes
                .set_aside(i)
                .and_then(|old| self.processes.start(i).map(|()| old));
            match recovered {
                Ok(old) => {
                    set_aside.insert(node.clone(), old);
                }
                Err(e) => {
                    failed.insert(node.clone(), e.to_string());
                }
            }
        }
        let mut value = json!({"nodes": nodes, "restarted": restarted, "healed": what,
                               "was_down": was_down});
        if !refused.is_empty() {
            value["refused-start"] = json!(refused);
            value["set-aside"] = json!(set_aside);
        }
        if !failed.is_empty() {
            value["failed"] = json!(failed);
        }
        if let Some(before) = executed_before {
            let after = self.replicas.last_executed_all().await;
            value["executed_after"] = json!(after);
            if let Some(forgotten) = forgotten(&before, &after) {
                value["forgotten"] = forgotten;
            }
        }
        self.record(HEAL_DISK, value);
        for &i in &nodes {
            self.processes.disk_fault_underway(i, false);
            match failed.get(&i.to_string()) {
                Some(e) => self.lost(i, &format!("restart failed: {e}"), &what),
                None => self.watch_restart(i, what.clone()),
            }
        }
    }
}

/// What a power loss of every replica made the cluster forget: `Some` when f+1
/// replicas had executed up to `s` before it (f = (n-1)/3) and every replica that
/// answers after it is below `s`.
fn forgotten(before: &[Option<u64>], after: &[Option<u64>]) -> Option<Value> {
    let f = before.len().saturating_sub(1) / 3;
    let mut executed: Vec<u64> = before.iter().flatten().copied().collect();
    executed.sort_unstable_by(|a, b| b.cmp(a));
    let by_f_plus_1 = *executed.get(f)?;
    let recovered = after.iter().flatten().copied().max()?;
    (recovered < by_f_plus_1).then(|| {
        json!({"executed_by_f_plus_1_before": by_f_plus_1, "recovered_at_most": recovered,
               "seqs": [recovered + 1, by_f_plus_1]})
    })
}

#[cfg(test)]
mod tests {
    use super::forgotten;

    #[test]
    fn forgotten_needs_f_plus_1_ahead_of_everyone_after() {
        let before = [Some(300), Some(300), Some(290), None];
        assert_eq!(
            forgotten(&before, &[Some(256), Some(256), None, Some(250)]).unwrap()["seqs"],
            serde_json::json!([257, 300])
        );
        // One replica ahead is not enough (f = 1): its replies alone convince no client.
        let one_ahead = [Some(300), Some(256), Some(256), Some(256)];
        assert!(forgotten(&one_ahead, &[Some(256); 4]).is_none());
        assert!(forgotten(&before, &[Some(300), Some(256), None, None]).is_none());
        assert!(forgotten(&before, &[None; 4]).is_none());
    }
}
