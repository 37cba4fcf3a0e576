//! Plays a [`Schedule`] against a running cluster: starts and heals each fault at its
//! time, records every action as a `nemesis` operation, and when the workload ends (or
//! the schedule runs out) heals everything that is still in force: the final heal.

use crate::byzantine::Byzantine;
use crate::control::{Observer, Processes};
use crate::error::Result;
use crate::fault::{ClockFault, Fault};
use crate::partition::{cut_clients, Cut};
use crate::proxy::{ByzantineGuard, Proxy};
use crate::replica_http::ReplicaHttp;
use crate::rule::RuleGuard;
use crate::schedule::Schedule;
use ed25519_dalek::SigningKey;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use replica::clock::ClockSettings;
use serde::Serialize;
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;
use tokio::task::JoinHandle;
use tokio::time::Instant;

/// How long a rolling restart waits for each restarted replica to answer.
const RESTART_WAIT: Duration = Duration::from_secs(30);

/// One action the runner took, as recorded (also saved with the run).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct AppliedAction {
    /// When, ms since the workload started.
    pub at_ms: u64,
    /// Jepsen's name for it (`start-partition`, `kill`, ...).
    pub f: String,
    /// What exactly was done.
    pub value: Value,
}

/// What a started fault holds until it is healed.
enum Active {
    Rule(RuleGuard),
    Byzantine(ByzantineGuard),
    Killed(Vec<usize>),
    Paused(Vec<usize>),
    Clock {
        nodes: Vec<usize>,
        strobe: Option<JoinHandle<()>>,
    },
    Done,
}

/// Plays one schedule.
pub struct Runner<'a, P: Processes, O: Observer> {
    schedule: Schedule,
    proxy: Option<Arc<Proxy>>,
    replicas: ReplicaHttp,
    processes: &'a P,
    observer: &'a O,
    rng: ChaCha8Rng,
    seed: u64,
    /// Every replica's signing key (Byzantine replicas re-sign with theirs).
    keys: Vec<SigningKey>,
    /// Client identities (whom `censor` may pick).
    clients: u64,
    start: Instant,
    active: BTreeMap<usize, Active>,
    applied: Vec<AppliedAction>,
}

impl<'a, P: Processes, O: Observer> Runner<'a, P, O> {
    /// A runner for `schedule`; network faults go through `proxy` (a schedule with
    /// network faults needs one), clock faults and the primary through `replicas`.
    pub fn new(
        schedule: Schedule,
        proxy: Option<Arc<Proxy>>,
        replicas: ReplicaHttp,
        processes: &'a P,
        observer: &'a O,
        seed: u64,
    ) -> Self {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        rng.set_stream(crate::streams::TARGETS);
        Runner {
            schedule,
            proxy,
            replicas,
            processes,
            observer,
            rng,
            seed,
            keys: Vec::new(),
            clients: 1,
            start: Instant::now(),
            active: BTreeMap::new(),
            applied: Vec::new(),
        }
    }

    /// Gives the runner the replicas' signing keys and the number of client
    /// identities, which Byzantine faults need.
    pub fn with_keys(mut self, keys: Vec<SigningKey>, clients: u64) -> Self {
        self.keys = keys;
        self.clients = clients;
        self
    }

    /// Runs the schedule from `start` (the workload's start) until it ends or `stop`
    /// resolves, then heals everything. Returns what was done.
    pub async fn run(
        mut self,
        start: Instant,
        stop: impl Future<Output = ()>,
    ) -> Vec<AppliedAction> {
        self.start = start;
        let mut events: Vec<(u64, bool, usize)> = Vec::new();
        for (i, w) in self.schedule.windows.iter().enumerate() {
            events.push((w.start_ms, true, i));
            events.push((w.stop_ms, false, i));
        }
        // Heals before starts at the same instant.
        events.sort_by_key(|&(t, is_start, i)| (t, is_start, i));
        tokio::pin!(stop);
        for (t, is_start, i) in events {
            // The workload's end comes first; otherwise wait for the event's time.
            tokio::select! {
                biased;
                _ = &mut stop => break,
                _ = tokio::time::sleep_until(start + Duration::from_millis(t)) => {}
            }
            if is_start {
                self.begin(i).await;
            } else {
                self.heal(i).await;
            }
            self.observer.in_force(&self.in_force());
        }
        let still: Vec<usize> = self.active.keys().rev().copied().collect();
        for i in still {
            self.heal(i).await;
        }
        if let Some(proxy) = &self.proxy {
            proxy.heal_all();
        }
        self.observer.in_force("none");
        self.applied
    }

    fn in_force(&self) -> String {
        let names: Vec<String> = self
            .active
            .iter()
            .filter(|(_, a)| !matches!(a, Active::Done))
            .map(|(i, _)| self.schedule.windows[*i].fault.describe())
            .collect();
        if names.is_empty() {
            "none".into()
        } else {
            names.join(" + ")
        }
    }

    fn record(&mut self, f: &str, value: Value) {
        tracing::info!(f, %value, "nemesis");
        self.observer.record(f, value.clone());
        self.applied.push(AppliedAction {
            at_ms: self.start.elapsed().as_millis() as u64,
            f: f.to_string(),
            value,
        });
    }

    async fn begin(&mut self, i: usize) {
        let fault = self.schedule.windows[i].fault.clone();
        match self.apply(&fault).await {
            Ok(active) => {
                self.active.insert(i, active);
            }
            Err(e) => {
                tracing::error!(error = %e, fault = fault.describe(), "fault not applied");
                self.record(
                    "error",
                    json!({"fault": fault.describe(), "error": e.to_string()}),
                );
            }
        }
    }

    async fn apply(&mut self, fault: &Fault) -> Result<Active> {
        let n = self.replicas.n();
        let primary = match fault {
            Fault::Partition { .. }
            | Fault::Kill { .. }
            | Fault::Pause { .. }
            | Fault::Clock { .. } => self.replicas.primary().await,
            _ => 0,
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
                Active::Rule(guard)
            }
            Fault::Byzantine { faulty, mutators } => {
                let nodes = faulty.resolve(n, primary, &mut self.rng);
                let mut keys = BTreeMap::new();
                for &i in &nodes {
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
                let byzantine = Byzantine::new(keys, mutators.clone(), self.clients, seed);
                let names: Vec<&str> = mutators.iter().map(|m| m.name()).collect();
                let value = json!({"nodes": nodes, "mutators": names,
                                   "withhold": byzantine.withheld(), "censor": byzantine.censored()});
                let guard = self.proxy()?.install_byzantine(byzantine);
                self.record("start-byzantine", value);
                Active::Byzantine(guard)
            }
            Fault::Packet { spec } => {
                let guard = self.proxy()?.install(spec.clone());
                self.record("start-packet", json!({"packet": spec.to_string()}));
                Active::Rule(guard)
            }
            Fault::Kill { target } => {
                let nodes = target.resolve(n, primary, &mut self.rng);
                for &i in &nodes {
                    self.processes.kill(i)?;
                }
                self.record("kill", json!({"nodes": nodes, "target": target.name()}));
                Active::Killed(nodes)
            }
            Fault::Pause { target } => {
                let nodes = target.resolve(n, primary, &mut self.rng);
                for &i in &nodes {
                    self.processes.pause(i)?;
                }
                self.record("pause", json!({"nodes": nodes, "target": target.name()}));
                Active::Paused(nodes)
            }
            Fault::RollingRestart => {
                for i in 0..n {
                    self.processes.kill(i)?;
                    self.record("kill", json!({"nodes": [i], "target": "rolling-restart"}));
                    self.processes.start(i)?;
                    self.record("start", json!({"nodes": [i], "target": "rolling-restart"}));
                    if !self.replicas.wait_answering(i, RESTART_WAIT).await {
                        tracing::warn!(replica = i, "restarted replica did not answer in time");
                    }
                }
                Active::Done
            }
            Fault::Clock { target, fault } => {
                let nodes = target.resolve(n, primary, &mut self.rng);
                let strobe = match *fault {
                    ClockFault::Bump { delta_ms } => {
                        self.set_clocks(&nodes, delta_ms, 1.0).await?;
                        self.record("bump-clock", json!({"nodes": nodes, "delta_ms": delta_ms}));
                        None
                    }
                    ClockFault::Rate { rate } => {
                        self.set_clocks(&nodes, 0, rate).await?;
                        self.record("rate-clock", json!({"nodes": nodes, "rate": rate}));
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
                Active::Clock { nodes, strobe }
            }
        })
    }

    fn proxy(&self) -> Result<&Proxy> {
        self.proxy.as_deref().ok_or_else(|| {
            crate::error::Error::Proxy("network faults need the proxy (no --no-proxy)".into())
        })
    }

    async fn set_clocks(&self, nodes: &[usize], offset_ms: i64, rate: f64) -> Result<()> {
        for &i in nodes {
            self.replicas
                .set_clock(i, ClockSettings { offset_ms, rate })
                .await?;
        }
        Ok(())
    }

    async fn heal(&mut self, i: usize) {
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

/// Flips the nodes' clock offsets between `delta_ms` and 0 every `period` until aborted.
async fn strobe(replicas: ReplicaHttp, nodes: Vec<usize>, delta_ms: i64, period: Duration) {
    let mut every = tokio::time::interval(period);
    every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    let mut high = true;
    loop {
        every.tick().await;
        let offset_ms = if high { delta_ms } else { 0 };
        for &i in &nodes {
            let _ = replicas
                .set_clock(
                    i,
                    ClockSettings {
                        offset_ms,
                        rate: 1.0,
                    },
                )
                .await;
        }
        high = !high;
    }
}
