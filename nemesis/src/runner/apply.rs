//! Starting a fault: resolves its targets and applies it through the proxy, the
//! processes or the replicas' clocks, and records what was done.

use super::outcome::Outcome;
use super::{Active, Runner};
use crate::byzantine::Byzantine;
use crate::control::{Observer, Processes};
use crate::error::Result;
use crate::fault::{ClockFault, Fault, Faulty, Target};
use crate::partition::{cut_clients, Cut};
use crate::proxy::Proxy;
use crate::replica_http::ReplicaHttp;
use replica::clock::ClockSettings;
use serde_json::json;
use std::collections::BTreeMap;
use std::time::Duration;

impl<P: Processes, O: Observer> Runner<'_, P, O> {
    /// Starts `fault` (window `window`) and records what was done; `None` when there is
    /// nothing to heal (skipped: finding the primary took until its heal time).
    pub(super) async fn apply(&mut self, window: usize, fault: &Fault) -> Result<Option<Active>> {
        let n = self.replicas.n();
        let primary = if needs_primary(fault) {
            let primary = self.replicas.primary().await;
            if self.skip_if_overdue(window) {
                return Ok(None);
            }
            primary
        } else {
            0
        };
        Ok(match fault {
            Fault::Partition { topology, clients } => {
                let (mut cut, components) = topology.resolve(n, primary, &mut self.rng);
                cut_clients(&mut cut, *clients, &components, n);
                let links: Vec<String> = cut.iter().map(|l| l.to_string()).collect();
                let guard = self.proxy()?.install(Cut::new(cut));
                self.record(
                    "start-partition",
                    json!({"partition": topology.name(), "primary": primary,
                           "components": components, "clients": clients, "cut": links}),
                );
                Some(Active::Rule(guard))
            }
            Fault::Byzantine { faulty, mutators } => {
                let nodes = faulty.resolve(n, primary, &mut self.rng);
                // "The primary" is whoever is primary when it sends: every key.
                let live = *faulty == Faulty::Primary;
                let holders: Vec<usize> = if live {
                    (0..n).collect()
                } else {
                    nodes.clone()
                };
                let mut keys = BTreeMap::new();
                for &i in &holders {
                    let key =
                        self.keys
                            .get(i)
                            .cloned()
                            .ok_or_else(|| crate::error::Error::Process {
                                replica: i,
                                reason: "no signing key for a Byzantine replica".into(),
                            })?;
                    keys.insert(i, key);
                }
                let seed = self.seed ^ (self.applied.len() as u64) << 32;
                let mut byzantine = Byzantine::new(keys, mutators.clone(), self.clients, seed);
                if live {
                    byzantine = byzantine.as_live_primary(n, primary);
                }
                let names: Vec<&str> = mutators.iter().map(|m| m.name()).collect();
                let mut value = json!({"nodes": nodes, "mutators": names,
                                   "withhold": byzantine.withheld(), "censor": byzantine.censored()});
                if live {
                    value["role"] = json!("primary");
                }
                let guard = self.proxy()?.install_byzantine(byzantine);
                self.record("start-byzantine", value);
                Some(Active::Byzantine(guard))
            }
            Fault::Packet { spec } => {
                let guard = self.proxy()?.install(spec.clone());
                self.record("start-packet", json!({"packet": spec.to_string()}));
                Some(Active::Rule(guard))
            }
            Fault::Kill { target } => {
                let nodes = target.resolve(n, primary, &mut self.rng);
                for &i in &nodes {
                    self.restarts.forget(i);
                }
                let outcome = Outcome::each(&nodes, |i| self.processes.kill(i));
                let value = json!({"target": target.name()});
                self.record_outcome("kill", value, &outcome, "fault", fault);
                (!outcome.done.is_empty()).then_some(Active::Killed(outcome.done))
            }
            Fault::Pause { target } => {
                let nodes = target.resolve(n, primary, &mut self.rng);
                for &i in &nodes {
                    self.restarts.suspend(i);
                }
                let outcome = Outcome::each(&nodes, |i| self.processes.pause(i));
                let value = json!({"target": target.name()});
                self.record_outcome("pause", value, &outcome, "fault", fault);
                (!outcome.done.is_empty()).then_some(Active::Paused(outcome.done))
            }
            Fault::RollingRestart => {
                self.rolling_restart(fault).await;
                Some(Active::Done)
            }
            Fault::Disk {
                target,
                fault: disk,
            } => {
                let nodes = target.resolve(n, primary, &mut self.rng);
                let w = &self.schedule.windows[window];
                let window_ms = w.stop_ms.saturating_sub(w.start_ms);
                self.apply_disk(target, disk, nodes, window_ms, fault).await
            }
            Fault::Clock {
                target,
                fault: clock,
            } => {
                let nodes = target.resolve(n, primary, &mut self.rng);
                // Clocks are reset on every target, even where the skew failed: a call
                // that failed (timed out) may still have landed, and resetting a clock
                // that was not skewed is harmless.
                let strobe = match *clock {
                    ClockFault::Bump { delta_ms } => {
                        let skew = ClockSettings {
                            offset_ms: delta_ms,
                            rate: 1.0,
                        };
                        let outcome = self.set_clocks(&nodes, skew).await;
                        let value = json!({"delta_ms": delta_ms});
                        self.record_outcome("bump-clock", value, &outcome, "fault", fault);
                        None
                    }
                    ClockFault::Rate { rate } => {
                        let skew = ClockSettings { offset_ms: 0, rate };
                        let outcome = self.set_clocks(&nodes, skew).await;
                        let value = json!({"rate": rate});
                        self.record_outcome("rate-clock", value, &outcome, "fault", fault);
                        None
                    }
                    ClockFault::Strobe {
                        delta_ms,
                        period_ms,
                    } => {
                        self.record(
                            "strobe-clock",
                            json!({"nodes": nodes, "delta_ms": delta_ms, "period_ms": period_ms}),
                        );
                        Some(tokio::spawn(strobe(
                            self.replicas.clone(),
                            nodes.clone(),
                            delta_ms,
                            Duration::from_millis(period_ms),
                        )))
                    }
                };
                Some(Active::Clock { nodes, strobe })
            }
        })
    }

    /// Kills and starts every replica in turn, waiting for each to answer before the
    /// next. Stops at a replica it cannot kill or start again (the latter is lost):
    /// going on would take down one more.
    async fn rolling_restart(&mut self, fault: &Fault) {
        let value = json!({"target": "rolling-restart"});
        for i in 0..self.replicas.n() {
            self.restarts.forget(i);
            let killed = Outcome::each(&[i], |i| self.processes.kill(i));
            self.record_outcome("kill", value.clone(), &killed, "fault", fault);
            if !killed.failed.is_empty() {
                return;
            }
            let started = Outcome::each(&[i], |i| self.processes.start(i));
            self.record_outcome("start", value.clone(), &started, "fault", fault);
            if !started.failed.is_empty() {
                let reason = format!("restart failed: {}", started.errors());
                self.lost(i, &reason, &fault.describe());
                return;
            }
            if !self.replicas.wait_answering(i, self.restart_wait).await {
                let reason = self.not_answering(i);
                self.lost(i, &reason, &fault.describe());
            }
        }
    }

    fn proxy(&self) -> Result<&Proxy> {
        self.proxy.as_deref().ok_or_else(|| {
            crate::error::Error::Proxy("network faults need the proxy (no --no-proxy)".into())
        })
    }

    /// Sets the clocks of `nodes` to `settings`, all at once, whatever the others'
    /// results.
    pub(super) async fn set_clocks(&self, nodes: &[usize], settings: ClockSettings) -> Outcome {
        Outcome::from_results(self.replicas.set_clocks(nodes, settings).await)
    }
}

/// Whether starting `fault` needs the current primary: partitions record it, and
/// targets named `primary` resolve to it.
fn needs_primary(fault: &Fault) -> bool {
    match fault {
        Fault::Partition { .. } => true,
        Fault::Kill { target }
        | Fault::Pause { target }
        | Fault::Clock { target, .. }
        | Fault::Disk { target, .. } => *target == Target::Primary,
        Fault::Byzantine { faulty, .. } => *faulty == Faulty::Primary,
        Fault::Packet { .. } | Fault::RollingRestart => false,
    }
}

/// Flips the nodes' clock offsets between `delta_ms` and 0 every `period` until aborted.
async fn strobe(replicas: ReplicaHttp, nodes: Vec<usize>, delta_ms: i64, period: Duration) {
    let mut every = tokio::time::interval(period);
    every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    let mut high = true;
    loop {
        every.tick().await;
        let offset_ms = if high { delta_ms } else { 0 };
        let settings = ClockSettings {
            offset_ms,
            rate: 1.0,
        };
        let _ = replicas.set_clocks(&nodes, settings).await;
        high = !high;
    }
}
