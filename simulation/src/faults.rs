//! Carrying out the nemesis's faults in the simulation: each window of a
//! [`nemesis::Schedule`] starts and is healed at its virtual times, with the nemesis's
//! own target and topology resolution, and is recorded in the history as a real run
//! records it. Clock faults set the targets' simulated clocks (offset, rate, a strobe
//! flipping the offset every period), as `POST /clock` sets a real replica's.

use crate::node::Liveness;
use crate::sim::{Event, Simulation};
use crate::trace::NEMESIS;
use nemesis::byzantine::Mutator;
use nemesis::partition::cut_clients;
use nemesis::{Byzantine, ByzantineRule, ClockFault, DiskFault, Fault, Faulty};
use replica::clock::ClockSettings;
use serde_json::json;
use std::collections::BTreeMap;

/// What a started fault window did, to undo at its heal.
#[derive(Clone, Debug)]
pub enum Applied {
    /// Links severed (healed through the network).
    Partition,
    /// Packet faults in force (healed through the network).
    Packet,
    /// These replicas were killed.
    Killed(Vec<usize>),
    /// These replicas were paused.
    Paused(Vec<usize>),
    /// A rolling restart (its kills and restarts are their own events).
    Rolling,
    /// Byzantine replicas.
    Byzantine,
    /// These replicas' clocks were skewed.
    Clock(Vec<usize>),
}

impl Simulation {
    fn nemesis_event(&mut self, f: &str, value: serde_json::Value) {
        tracing::debug!(at_ms = self.now / 1_000_000, action = f, %value, "nemesis");
        let bytes = value.to_string();
        self.trace
            .record(self.now, NEMESIS, NEMESIS, f, bytes.as_bytes());
        self.history.nemesis(f, value, self.now);
    }

    pub(crate) fn start_fault(&mut self, w: usize) {
        let Some(window) = self.config.schedule.windows.get(w).cloned() else {
            return;
        };
        let n = self.nodes.len();
        let primary = self.primary();
        let applied = match &window.fault {
            Fault::Partition { topology, clients } => {
                let (mut cut, components) = topology.resolve(n, primary, &mut self.targets);
                cut_clients(&mut cut, *clients, &components, n);
                self.network.partition(w, cut);
                self.nemesis_event(
                    "start-partition",
                    json!({"topology": topology.name(), "components": components}),
                );
                Applied::Partition
            }
            Fault::Packet { spec } => {
                self.network.packet_faults(w, spec.clone());
                self.nemesis_event("start-packet", json!(spec.to_string()));
                Applied::Packet
            }
            Fault::Kill { target } => {
                let nodes = target.resolve(n, primary, &mut self.targets);
                for &i in &nodes {
                    self.kill(i);
                }
                Applied::Killed(nodes)
            }
            Fault::Pause { target } => {
                let nodes = target.resolve(n, primary, &mut self.targets);
                for &i in &nodes {
                    if self.nodes[i].liveness == Liveness::Up {
                        self.nodes[i].liveness = Liveness::Paused;
                    }
                }
                self.nemesis_event("pause", json!(nodes));
                Applied::Paused(nodes)
            }
            Fault::RollingRestart => {
                let stop = window.stop_ms.min(self.config.time_limit_ms);
                let step = (stop.saturating_sub(window.start_ms) / n as u64).max(1) * 1_000_000;
                for i in 0..n {
                    let at = self.now + i as u64 * step;
                    self.queue.push(at, Event::Kill(i));
                    self.queue.push(at + step / 2, Event::Restart(i));
                }
                self.nemesis_event("start-rolling-restart", json!(null));
                Applied::Rolling
            }
            Fault::Clock { target, fault } => {
                let nodes = target.resolve(n, primary, &mut self.targets);
                let set = |sim: &mut Simulation, settings: ClockSettings| {
                    for &i in &nodes {
                        let now = sim.now;
                        sim.nodes[i].clock.set(now, settings);
                    }
                };
                match *fault {
                    ClockFault::Bump { delta_ms } => {
                        set(
                            self,
                            ClockSettings {
                                offset_ms: delta_ms,
                                rate: 1.0,
                            },
                        );
                        self.nemesis_event(
                            "bump-clock",
                            json!({"nodes": nodes, "delta_ms": delta_ms}),
                        );
                    }
                    ClockFault::Rate { rate } => {
                        set(self, ClockSettings { offset_ms: 0, rate });
                        self.nemesis_event("rate-clock", json!({"nodes": nodes, "rate": rate}));
                    }
                    ClockFault::Strobe {
                        delta_ms,
                        period_ms,
                    } => {
                        self.nemesis_event(
                            "strobe-clock",
                            json!({"nodes": nodes, "delta_ms": delta_ms, "period_ms": period_ms}),
                        );
                        self.strobe(w, nodes.clone(), delta_ms, period_ms.max(1), true);
                    }
                }
                Applied::Clock(nodes)
            }
            Fault::Byzantine { faulty, mutators } => {
                let keys = |nodes: &[usize], sim: &Simulation| -> BTreeMap<usize, _> {
                    nodes
                        .iter()
                        .map(|&i| (i, sim.nodes[i].key.clone()))
                        .collect()
                };
                let clients = self.clients.len() as u64;
                let seed = self.config.seed;
                let (byz, nodes) = match faulty {
                    Faulty::Primary => {
                        let all: Vec<usize> = (0..n).collect();
                        let b = Byzantine::new(keys(&all, self), mutators.clone(), clients, seed)
                            .as_live_primary(n, primary);
                        (b, vec![primary])
                    }
                    other => {
                        let nodes = other.resolve(n, primary, &mut self.targets);
                        let b = Byzantine::new(keys(&nodes, self), mutators.clone(), clients, seed);
                        (b, nodes)
                    }
                };
                self.byzantine = Some(ByzantineRule::new(byz));
                let names: Vec<&str> = mutators.iter().map(|m| Mutator::name(*m)).collect();
                self.nemesis_event(
                    "start-byzantine",
                    json!({"nodes": nodes, "mutators": names}),
                );
                Applied::Byzantine
            }
            // The simulated disk is an fsync-always disk: every record the engine
            // persisted survives. A power loss is a kill (nothing unsynced to lose);
            // torn writes, corruption and read errors of real files are not modelled
            // and are skipped, said so in the history.
            Fault::Disk {
                target,
                fault: DiskFault::PowerLoss,
            } => {
                let nodes = target.resolve(n, primary, &mut self.targets);
                for &i in &nodes {
                    self.kill(i);
                }
                Applied::Killed(nodes)
            }
            Fault::Disk { fault, .. } => {
                self.nemesis_event(
                    "skip",
                    json!({"fault": window.fault.describe(),
                           "reason": format!("the simulator does not model {} (real files only)", fault.action())}),
                );
                return;
            }
        };
        self.active.insert(w, applied);
    }

    pub(crate) fn stop_fault(&mut self, w: usize) {
        let Some(applied) = self.active.remove(&w) else {
            return;
        };
        match applied {
            Applied::Partition => {
                self.network.heal(w);
                self.nemesis_event("stop-partition", json!(null));
            }
            Applied::Packet => {
                self.network.heal(w);
                self.nemesis_event("stop-packet", json!(null));
            }
            Applied::Killed(nodes) => {
                for i in nodes {
                    self.restart(i);
                }
            }
            Applied::Paused(nodes) => {
                for &i in &nodes {
                    self.resume(i);
                }
                self.nemesis_event("resume", json!(nodes));
            }
            Applied::Rolling => {
                // Restart whoever the rolling restart left down (its later events
                // find the replicas up and do nothing).
                self.queue.retain(|e| !matches!(e, Event::Kill(_)));
                for i in 0..self.nodes.len() {
                    self.restart(i);
                }
                self.nemesis_event("stop-rolling-restart", json!(null));
            }
            Applied::Byzantine => {
                self.byzantine = None;
                self.nemesis_event("stop-byzantine", json!(null));
            }
            Applied::Clock(nodes) => {
                for &i in &nodes {
                    let now = self.now;
                    self.nodes[i].clock.set(now, ClockSettings::default());
                }
                self.nemesis_event("reset-clock", json!({"nodes": nodes}));
            }
        }
    }

    /// One flip of a strobe: the offset goes to `delta_ms` (`on`) or back to 0, and the
    /// next flip is due a period later (it does nothing once window `w` is healed).
    pub(crate) fn strobe(
        &mut self,
        w: usize,
        nodes: Vec<usize>,
        delta_ms: i64,
        period_ms: u64,
        on: bool,
    ) {
        let offset_ms = if on { delta_ms } else { 0 };
        for &i in &nodes {
            let now = self.now;
            self.nodes[i].clock.set(
                now,
                ClockSettings {
                    offset_ms,
                    rate: 1.0,
                },
            );
        }
        self.queue.push(
            self.now + period_ms * 1_000_000,
            Event::Strobe {
                w,
                nodes,
                delta_ms,
                period_ms,
                on: !on,
            },
        );
    }

    /// Heals every fault in force (the end of the workload phase).
    pub(crate) fn heal_all(&mut self) {
        let windows: Vec<usize> = self.active.keys().copied().collect();
        for w in windows {
            self.stop_fault(w);
        }
        self.network.heal_all();
    }

    /// SIGKILL of replica `i`.
    pub(crate) fn kill(&mut self, i: usize) {
        if self.nodes[i].liveness == Liveness::Down {
            return;
        }
        self.nodes[i].kill();
        self.nemesis_event("kill", json!([i]));
    }

    /// Restart of a killed replica `i` from its disk.
    pub(crate) fn restart(&mut self, i: usize) {
        if self.nodes[i].liveness != Liveness::Down {
            return;
        }
        let n = self.nodes.len();
        let params = self.config.params.clone();
        self.nodes[i].restart(i, n, params);
        let newest = self
            .nodes
            .iter()
            .filter(|n| n.liveness == Liveness::Up)
            .map(|n| n.engine.view())
            .max()
            .unwrap_or(0);
        if newest > self.nodes[i].engine.view() {
            self.coverage
                .reach(crate::coverage::Point::RestartBehindView);
        }
        self.nemesis_event("start", json!([i]));
    }
}
