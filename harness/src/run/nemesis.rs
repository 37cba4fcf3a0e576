//! The nemesis of a run: plays the run's fault schedule ([`nemesis::Runner`]) against
//! the cluster, records every action as a `nemesis` operation in the history, and names
//! the faults in force in [`CurrentFault`] for the progress display. It stops when the
//! workload's time limit is reached, and ends with every fault healed.

use super::cluster::Cluster;
use super::recorder::RecorderHandle;
use super::shutdown::Stop;
use checker::{OpType, Process};
use nemesis::replica_http::ReplicaHttp;
use nemesis::{AppliedAction, Runner, Schedule};
use std::sync::{Arc, Mutex};
use tokio::time::Instant;

/// The faults in force, as shown by the progress display ("none" when healed).
#[derive(Debug, Clone)]
pub(crate) struct CurrentFault {
    name: Arc<Mutex<String>>,
}

impl Default for CurrentFault {
    fn default() -> Self {
        CurrentFault {
            name: Arc::new(Mutex::new("none".into())),
        }
    }
}

impl CurrentFault {
    /// The faults' names.
    pub(crate) fn get(&self) -> String {
        self.name.lock().expect("fault lock poisoned").clone()
    }

    fn set(&self, name: &str) {
        *self.name.lock().expect("fault lock poisoned") = name.to_string();
    }
}

/// Records the runner's actions in the history, and replicas it lost as crashes.
struct HistoryObserver {
    recorder: RecorderHandle,
    fault: CurrentFault,
    cluster: Arc<Cluster>,
}

impl nemesis::Observer for HistoryObserver {
    fn record(&self, f: &str, value: serde_json::Value) {
        self.recorder
            .record(Process::Nemesis, OpType::Info, f, None, value, None);
    }

    fn in_force(&self, faults: &str) {
        self.fault.set(faults);
    }

    fn replica_lost(&self, replica: usize, reason: &str) {
        self.cluster
            .lost(replica, self.recorder.elapsed(), reason.to_string());
    }
}

/// What the nemesis task works with.
pub(crate) struct NemesisContext {
    /// Records `nemesis` operations.
    pub(crate) recorder: RecorderHandle,
    /// The replicas to fault.
    pub(crate) cluster: Arc<Cluster>,
    /// Where to name the faults in force.
    pub(crate) fault: CurrentFault,
    /// Set when the workload's time limit is reached: heal and return.
    pub(crate) stop: Stop,
    /// The run's seed (target choices).
    pub(crate) seed: u64,
    /// When the workload started (schedule times count from here).
    pub(crate) start: Instant,
}

/// Plays `schedule` until it ends or the stop flag is set, then heals everything;
/// returns what was done. Spawn it from the runtime, so replicas it restarts are
/// children of a runtime worker thread, which lives as long as the run (see the
/// parent-death signal in `replica::local_cluster::process`).
pub(crate) async fn play(schedule: Schedule, ctx: NemesisContext) -> Vec<AppliedAction> {
    let NemesisContext {
        recorder,
        cluster,
        fault,
        mut stop,
        seed,
        start,
    } = ctx;
    let observer = HistoryObserver {
        recorder,
        fault,
        cluster: Arc::clone(&cluster),
    };
    let http = ReplicaHttp::new(cluster.listen_addrs());
    let runner = Runner::new(schedule, cluster.proxy(), http, &*cluster, &observer, seed)
        .with_keys(cluster.replica_keys(), cluster.clients());
    runner.run(start, async move { stop.wait().await }).await
}
