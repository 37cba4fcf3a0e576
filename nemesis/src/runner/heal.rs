//! Healing a fault: undoes exactly what its start did, node by node (a node that
//! fails does not stop the others), and records what was done and what failed.

use super::outcome::Outcome;
use super::{Active, Runner};
use crate::control::{Observer, Processes};
use crate::fault::Fault;
use replica::clock::ClockSettings;
use serde_json::json;

impl<P: Processes, O: Observer> Runner<'_, P, O> {
    /// Heals window `i` if it is in force.
    pub(super) async fn heal(&mut self, i: usize) {
        let Some(active) = self.active.remove(&i) else {
            return;
        };
        let fault = self.schedule.windows[i].fault.clone();
        match active {
            Active::Rule(guard) => {
                drop(guard);
                let f = if matches!(fault, Fault::Packet { .. }) {
                    "stop-packet"
                } else {
                    "stop-partition"
                };
                self.record(f, json!({"healed": fault.describe()}));
            }
            Active::Byzantine(guard) => {
                let counts = guard.counts();
                let nodes = guard.byzantine().faulty();
                drop(guard);
                self.record(
                    "stop-byzantine",
                    json!({"nodes": nodes, "mutated": counts.total, "by_mutator": counts.by_mutator}),
                );
            }
            Active::Killed(nodes) => {
                let outcome = Outcome::each(&nodes, |n| self.processes.start(n));
                self.record_outcome("start", json!({}), &outcome, "heal", &fault);
                let what = fault.describe();
                for (n, e) in &outcome.failed {
                    self.lost(*n, &format!("restart failed: {e}"), &what);
                }
                for &n in &outcome.done {
                    self.watch_restart(n, what.clone());
                }
            }
            Active::Paused(nodes) => {
                let outcome = Outcome::each(&nodes, |n| self.processes.resume(n));
                self.record_outcome("resume", json!({}), &outcome, "heal", &fault);
                // Restarted replicas paused before they answered: wait for them again.
                for &n in &outcome.done {
                    if let Some(restarted_by) = self.restarts.resumed(n) {
                        self.watch_restart(n, restarted_by);
                    }
                }
            }
            Active::Clock { nodes, strobe } => {
                if let Some(task) = strobe {
                    task.abort();
                    let _ = task.await;
                }
                let outcome = self.set_clocks(&nodes, ClockSettings::default()).await;
                self.record_outcome("reset-clock", json!({}), &outcome, "heal", &fault);
            }
            Active::Disk {
                nodes,
                executed_before,
            } => self.heal_disk(nodes, executed_before, &fault).await,
            Active::Done => {}
        }
    }
}
