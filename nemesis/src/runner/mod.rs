//! Plays a [`Schedule`] against a running cluster: starts and heals each fault at its
//! time, records every action as a `nemesis` operation, and when the workload ends (or
//! the schedule runs out) heals everything that is still in force: the final heal.
//!
//! A fault whose heal time has passed before it could start (the runner fell behind)
//! is not applied for 0 ms: it is recorded as `skip`
//! (`{"fault", "start_ms", "stop_ms", "late_ms"}`).
//!
//! Process and clock faults and their heals act node by node: one that fails on some
//! nodes still acts on the others, records the nodes it worked on (`nodes`, plus
//! `failed` when some failed) and one `error` op for the rest, and its heal undoes
//! exactly what it did.
//!
//! A replica the runner starts again (a kill's heal, a rolling restart) must answer
//! `/status` within the restart wait ([`RESTART_WAIT`] unless
//! [`Runner::with_restart_wait`]); the heal's waits run in the background, so they do
//! not hold up the schedule. A replica whose start fails or that does not answer is
//! lost: a `replica-lost` op `{"node", "fault", "reason"}` and
//! [`Observer::replica_lost`].

mod apply;
mod disk;
mod heal;
mod outcome;
mod restarts;

use crate::control::{Observer, Processes};
use crate::proxy::{ByzantineGuard, Proxy};
use crate::replica_http::ReplicaHttp;
use crate::rule::RuleGuard;
use crate::schedule::Schedule;
use ed25519_dalek::SigningKey;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use serde::Serialize;
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;
use tokio::task::JoinHandle;
use tokio::time::Instant;

/// How long a restarted replica has to answer `/status` before it is reported lost
/// (a rolling restart waits this long for each replica before the next).
pub const RESTART_WAIT: Duration = Duration::from_secs(30);

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
    /// A disk fault's targets (restarted when healed), and for a power loss of every
    /// replica what each had executed just before it.
    Disk {
        nodes: Vec<usize>,
        executed_before: Option<Vec<Option<u64>>>,
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
    /// How long a restarted replica has to answer.
    restart_wait: Duration,
    /// Restarted replicas not heard from yet.
    restarts: restarts::Restarts,
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
            restart_wait: RESTART_WAIT,
            restarts: restarts::Restarts::default(),
        }
    }

    /// How long a restarted replica has to answer `/status` before it is reported
    /// lost (default [`RESTART_WAIT`]).
    pub fn with_restart_wait(mut self, wait: Duration) -> Self {
        self.restart_wait = wait;
        self
    }

    /// Gives the runner the replicas' signing keys and the number of client
    /// identities, which Byzantine faults need.
    pub fn with_keys(mut self, keys: Vec<SigningKey>, clients: u64) -> Self {
        self.keys = keys;
        self.clients = clients;
        self
    }

    /// Runs the schedule from `start` (the workload's start) until it ends or `stop`
    /// resolves, then heals everything and waits (up to the restart wait) for the
    /// replicas it restarted to answer. Returns what was done.
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
        'events: for (t, is_start, i) in events {
            // The workload's end comes first; otherwise wait for the event's time,
            // meanwhile hearing from restarted replicas.
            let due = start + Duration::from_millis(t);
            loop {
                tokio::select! {
                    biased;
                    _ = &mut stop => break 'events,
                    Some((node, answered, fault)) = self.restarts.next() => {
                        self.restart_ended(node, answered, &fault);
                    }
                    _ = tokio::time::sleep_until(due) => break,
                }
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
        while let Some((node, answered, fault)) = self.restarts.next().await {
            self.restart_ended(node, answered, &fault);
        }
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
            at_ms: self.now_ms(),
            f: f.to_string(),
            value,
        });
    }

    /// Milliseconds since the workload started.
    fn now_ms(&self) -> u64 {
        self.start.elapsed().as_millis() as u64
    }

    /// Records window `i` as skipped if its heal time has passed already: started now,
    /// it would be healed at once. Says whether it was.
    fn skip_if_overdue(&mut self, i: usize) -> bool {
        let now = self.now_ms();
        let w = &self.schedule.windows[i];
        if now < w.stop_ms {
            return false;
        }
        let value = json!({"fault": w.fault.describe(), "start_ms": w.start_ms,
                           "stop_ms": w.stop_ms, "late_ms": now.saturating_sub(w.start_ms)});
        tracing::warn!(%value, "fault skipped: its heal time passed before it could start");
        self.record("skip", value);
        true
    }

    async fn begin(&mut self, i: usize) {
        if self.skip_if_overdue(i) {
            return;
        }
        let fault = self.schedule.windows[i].fault.clone();
        match self.apply(i, &fault).await {
            Ok(Some(active)) => {
                self.active.insert(i, active);
            }
            Ok(None) => {}
            Err(e) => {
                tracing::error!(error = %e, fault = fault.describe(), "fault not applied");
                self.record(
                    "error",
                    json!({"fault": fault.describe(), "error": e.to_string()}),
                );
            }
        }
    }
}
