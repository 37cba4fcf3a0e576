//! Healing a fault: undoes exactly what its start did, and records it.

use super::{Active, Runner};
use crate::control::{Observer, Processes};
use crate::fault::Fault;
use serde_json::json;

impl<P: Processes, O: Observer> Runner<'_, P, O> {
    pub(super) async fn heal(&mut self, i: usize) {
        let Some(active) = self.active.remove(&i) else {
            return;
        };
        let fault = self.schedule.windows[i].fault.clone();
        let result = match active {
            Active::Rule(guard) => {
                drop(guard);
                let f = if matches!(fault, Fault::Packet { .. }) {
                    "stop-packet"
                } else {
                    "stop-partition"
                };
                self.record(f, json!({"healed": fault.describe()}));
                Ok(())
            }
            Active::Byzantine(guard) => {
                let counts = guard.counts();
                let nodes = guard.byzantine().faulty();
                drop(guard);
                self.record(
                    "stop-byzantine",
                    json!({"nodes": nodes, "mutated": counts.total, "by_mutator": counts.by_mutator}),
                );
                Ok(())
            }
            Active::Killed(nodes) => {
                let mut r = Ok(());
                for &n in &nodes {
                    r = r.and(self.processes.start(n));
                }
                self.record("start", json!({"nodes": nodes}));
                r
            }
            Active::Paused(nodes) => {
                let mut r = Ok(());
                for &n in &nodes {
                    r = r.and(self.processes.resume(n));
                }
                self.record("resume", json!({"nodes": nodes}));
                r
            }
            Active::Clock { nodes, strobe } => {
                if let Some(task) = strobe {
                    task.abort();
                    let _ = task.await;
                }
                let r = self.set_clocks(&nodes, 0, 1.0).await;
                self.record("reset-clock", json!({"nodes": nodes}));
                r
            }
            Active::Done => Ok(()),
        };
        if let Err(e) = result {
            tracing::error!(error = %e, fault = fault.describe(), "heal failed");
            self.record(
                "error",
                json!({"heal": fault.describe(), "error": e.to_string()}),
            );
        }
    }
}
