//! Stand-ins for a cluster, for runner tests: small HTTP servers on 127.0.0.1 that
//! answer `GET /status` and `POST /clock` like replicas (slow, down or failing on
//! demand), a fake [`Processes`] that records calls and fails when told, and a fake
//! [`Observer`] that records what the runner reports.

#![allow(dead_code, unreachable_pub)]

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use nemesis::replica_http::ReplicaHttp;
use nemesis::{AppliedAction, Error, Observer, Processes, Runner, Schedule};
use replica::clock::ClockSettings;
use serde_json::{json, Value};
use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::future::Future;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::time::Instant;

/// Every test run is cut off after this long.
pub const TEST_LIMIT: Duration = Duration::from_secs(30);

/// One stand-in replica's state.
#[derive(Default)]
pub struct StandIn {
    /// The view `/status` reports.
    pub view: AtomicU64,
    /// How long `/status` takes to answer.
    pub status_delay_ms: AtomicU64,
    /// Killed (and not started again yet): it does not answer.
    pub killed: AtomicBool,
    /// Paused: it does not answer.
    pub paused: AtomicBool,
    /// Outcomes of the next `/clock` calls (`false`: answer 500); then success.
    pub clock_script: Mutex<VecDeque<bool>>,
    /// The clock settings it accepted, in order.
    pub clocks: Mutex<Vec<ClockSettings>>,
}

impl StandIn {
    /// The settings accepted so far.
    pub fn clocks(&self) -> Vec<ClockSettings> {
        self.clocks.lock().unwrap().clone()
    }

    /// Whether it answers (neither killed nor paused).
    pub fn up(&self) -> bool {
        !self.killed.load(Ordering::SeqCst) && !self.paused.load(Ordering::SeqCst)
    }

    /// Makes `/status` answer after `ms`.
    pub fn slow(&self, ms: u64) {
        self.status_delay_ms.store(ms, Ordering::SeqCst);
    }

    /// The next `/clock` calls answer as given (`false`: 500).
    pub fn script_clock(&self, outcomes: &[bool]) {
        self.clock_script.lock().unwrap().extend(outcomes);
    }
}

async fn status(State(s): State<Arc<StandIn>>) -> Response {
    let delay = s.status_delay_ms.load(Ordering::SeqCst);
    tokio::time::sleep(Duration::from_millis(delay)).await;
    if !s.up() {
        return StatusCode::SERVICE_UNAVAILABLE.into_response();
    }
    Json(json!({"view": s.view.load(Ordering::SeqCst), "last_executed": 0})).into_response()
}

async fn clock(State(s): State<Arc<StandIn>>, Json(settings): Json<ClockSettings>) -> Response {
    if !s.up() {
        return StatusCode::SERVICE_UNAVAILABLE.into_response();
    }
    if s.clock_script.lock().unwrap().pop_front() == Some(false) {
        return StatusCode::INTERNAL_SERVER_ERROR.into_response();
    }
    s.clocks.lock().unwrap().push(settings);
    Json(settings).into_response()
}

/// Stand-in replicas, each serving on its own 127.0.0.1 port until the test ends.
pub struct Cluster {
    /// The replicas' states.
    pub replicas: Vec<Arc<StandIn>>,
    /// Their addresses.
    pub addrs: Vec<String>,
}

impl Cluster {
    /// One stand-in per entry of `views`, reporting that view.
    pub async fn start(views: &[u64]) -> Cluster {
        let mut replicas = Vec::new();
        let mut addrs = Vec::new();
        for &v in views {
            let state = Arc::new(StandIn::default());
            state.view.store(v, Ordering::SeqCst);
            let app = Router::new()
                .route("/status", get(status))
                .route("/clock", post(clock))
                .with_state(state.clone());
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            addrs.push(listener.local_addr().unwrap().to_string());
            tokio::spawn(async move {
                let _ = axum::serve(listener, app).await;
            });
            replicas.push(state);
        }
        Cluster { replicas, addrs }
    }

    /// A client for the stand-ins.
    pub fn http(&self) -> ReplicaHttp {
        ReplicaHttp::new(self.addrs.clone())
    }

    /// Fake processes driving these stand-ins.
    pub fn processes(&self) -> FakeProcesses {
        FakeProcesses {
            replicas: self.replicas.clone(),
            calls: Mutex::default(),
            fail: Mutex::default(),
            stay_down: Mutex::default(),
            start_delay: Mutex::default(),
        }
    }
}

/// Records every call; kill and pause take the stand-in down, start and resume bring
/// it back (a start possibly late, or never); fails the calls it is told to.
pub struct FakeProcesses {
    replicas: Vec<Arc<StandIn>>,
    /// Every call, in order, as (action, replica); failed ones too.
    pub calls: Mutex<Vec<(&'static str, usize)>>,
    fail: Mutex<BTreeSet<(&'static str, usize)>>,
    stay_down: Mutex<BTreeSet<usize>>,
    start_delay: Mutex<BTreeMap<usize, Duration>>,
}

impl FakeProcesses {
    /// Makes `action` ("kill", "start", "pause", "resume") fail for `replica`.
    pub fn fail(&self, action: &'static str, replica: usize) {
        self.fail.lock().unwrap().insert((action, replica));
    }

    /// Replica `i` starts without error but never answers again.
    pub fn stay_down(&self, i: usize) {
        self.stay_down.lock().unwrap().insert(i);
    }

    /// Replica `i` starts without error but answers only `delay` later.
    pub fn start_slowly(&self, i: usize, delay: Duration) {
        self.start_delay.lock().unwrap().insert(i, delay);
    }

    /// The calls so far.
    pub fn calls(&self) -> Vec<(&'static str, usize)> {
        self.calls.lock().unwrap().clone()
    }

    fn call(&self, action: &'static str, i: usize) -> nemesis::Result<()> {
        self.calls.lock().unwrap().push((action, i));
        if self.fail.lock().unwrap().contains(&(action, i)) {
            return Err(Error::Process {
                replica: i,
                reason: format!("{action} told to fail"),
            });
        }
        Ok(())
    }
}

impl Processes for FakeProcesses {
    fn kill(&self, i: usize) -> nemesis::Result<()> {
        self.call("kill", i)?;
        self.replicas[i].killed.store(true, Ordering::SeqCst);
        Ok(())
    }
    fn start(&self, i: usize) -> nemesis::Result<()> {
        self.call("start", i)?;
        if self.stay_down.lock().unwrap().contains(&i) {
            return Ok(());
        }
        let replica = self.replicas[i].clone();
        match self.start_delay.lock().unwrap().get(&i) {
            Some(&delay) => {
                tokio::spawn(async move {
                    tokio::time::sleep(delay).await;
                    replica.killed.store(false, Ordering::SeqCst);
                });
            }
            None => replica.killed.store(false, Ordering::SeqCst),
        }
        Ok(())
    }
    fn pause(&self, i: usize) -> nemesis::Result<()> {
        self.call("pause", i)?;
        self.replicas[i].paused.store(true, Ordering::SeqCst);
        Ok(())
    }
    fn resume(&self, i: usize) -> nemesis::Result<()> {
        self.call("resume", i)?;
        self.replicas[i].paused.store(false, Ordering::SeqCst);
        Ok(())
    }
}

/// Records what the runner reports.
#[derive(Default)]
pub struct FakeObserver {
    /// Recorded operations, as (f, value).
    pub ops: Mutex<Vec<(String, Value)>>,
    /// Every `in_force` report.
    pub in_force: Mutex<Vec<String>>,
    /// Every replica reported lost, and why.
    pub lost: Mutex<Vec<(usize, String)>>,
}

impl FakeObserver {
    /// The values of the recorded ops named `f`.
    pub fn values(&self, f: &str) -> Vec<Value> {
        self.ops
            .lock()
            .unwrap()
            .iter()
            .filter(|(g, _)| g == f)
            .map(|(_, v)| v.clone())
            .collect()
    }

    /// The replicas reported lost, and why.
    pub fn lost(&self) -> Vec<(usize, String)> {
        self.lost.lock().unwrap().clone()
    }

    /// The names of the recorded ops, in order.
    pub fn names(&self) -> Vec<String> {
        self.ops
            .lock()
            .unwrap()
            .iter()
            .map(|(f, _)| f.clone())
            .collect()
    }
}

impl Observer for FakeObserver {
    fn record(&self, f: &str, value: Value) {
        self.ops.lock().unwrap().push((f.to_string(), value));
    }
    fn in_force(&self, faults: &str) {
        self.in_force.lock().unwrap().push(faults.to_string());
    }
    fn replica_lost(&self, replica: usize, reason: &str) {
        self.lost
            .lock()
            .unwrap()
            .push((replica, reason.to_string()));
    }
}

/// Plays `runner` from now until `stop_after`, within [`TEST_LIMIT`].
pub async fn play<P: Processes, O: Observer>(
    runner: Runner<'_, P, O>,
    stop_after: Duration,
) -> Vec<AppliedAction> {
    play_until(runner, tokio::time::sleep(stop_after)).await
}

/// Plays `runner` from now until `stop` resolves, within [`TEST_LIMIT`].
pub async fn play_until<P: Processes, O: Observer>(
    runner: Runner<'_, P, O>,
    stop: impl Future<Output = ()>,
) -> Vec<AppliedAction> {
    tokio::time::timeout(TEST_LIMIT, runner.run(Instant::now(), stop))
        .await
        .expect("the runner finished within the test limit")
}

/// A schedule of the given windows.
pub fn schedule(windows: Vec<(u64, u64, nemesis::Fault)>) -> Schedule {
    Schedule {
        windows: windows
            .into_iter()
            .map(|(start_ms, stop_ms, fault)| nemesis::Window {
                start_ms,
                stop_ms,
                fault,
            })
            .collect(),
    }
}
