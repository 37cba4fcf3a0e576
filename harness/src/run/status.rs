//! What the replicas say about themselves (`GET /status`), while the run goes and at
//! its end.
//!
//! - The [`Sampler`] asks every replica once a second and keeps the quorum's
//!   view-change timeout T (it backs off while view changes fail), from which the
//!   availability bound, the wait for progress before the final reads and the final
//!   reads' timeout follow.
//! - [`settle`] waits, after the final reads, until every replica has executed the same
//!   prefix and reached the same state (or its bound passes): the convergence
//!   oracle's evidence.

use super::recorder::RecorderHandle;
use super::shutdown::Stop;
use checker::oracles::{
    quorum_timeout, settle_bound, view_changes_factor, ProgressBound, ReplicaState, LONGEST_WAIT,
};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::task::JoinHandle;

/// How often the sampler asks.
const EVERY: Duration = Duration::from_secs(1);
/// How long one `/status` call may take.
const CALL_TIMEOUT: Duration = Duration::from_secs(1);
/// What the availability bound adds to the view changes' timeouts.
pub(crate) const PROGRESS_BASE: Duration = Duration::from_secs(5);

/// The part of a replica's `/status` the oracles read.
#[derive(Debug, Clone, PartialEq, Eq, serde::Deserialize, serde::Serialize)]
pub(crate) struct StatusView {
    /// Current view.
    pub(crate) view: u64,
    /// Last executed sequence number.
    pub(crate) last_executed: u64,
    /// Digest of the current state.
    pub(crate) state_digest: String,
    /// The stable checkpoint's sequence number.
    pub(crate) stable_checkpoint: u64,
    /// The stable checkpoint's state digest.
    pub(crate) stable_digest: String,
    /// View changes this replica took part in.
    pub(crate) view_changes: u64,
    /// Its current view-change timeout (ms).
    #[serde(default)]
    pub(crate) view_change_timeout_ms: u64,
    /// Peer messages received and rejected per sender tag (the proxy tags a
    /// mutator's messages with its name).
    #[serde(default)]
    pub(crate) tagged: replica::core::rejection::TaggedCounts,
}

/// Asks every replica at `addrs` for its status, all at once.
pub(crate) async fn statuses(http: &reqwest::Client, addrs: &[String]) -> Vec<Option<StatusView>> {
    let calls: Vec<JoinHandle<Option<StatusView>>> = addrs
        .iter()
        .map(|addr| {
            let (http, url) = (http.clone(), format!("http://{addr}/status"));
            tokio::spawn(async move {
                let resp = http.get(url).timeout(CALL_TIMEOUT).send().await.ok()?;
                resp.json::<StatusView>().await.ok()
            })
        })
        .collect();
    let mut out = Vec::with_capacity(calls.len());
    for call in calls {
        out.push(call.await.ok().flatten());
    }
    out
}

/// The quorum's view-change timeout over the run: `(history ns, T in ms)` samples.
#[derive(Debug, Clone)]
pub(crate) struct Timeouts {
    f: usize,
    configured_ms: u64,
    samples: Arc<Mutex<Vec<(u64, u64)>>>,
}

impl Timeouts {
    /// No samples yet; `configured_ms` is in force until the first.
    pub(crate) fn new(f: usize, configured_ms: u64) -> Self {
        Timeouts {
            f,
            configured_ms,
            samples: Arc::new(Mutex::new(Vec::new())),
        }
    }

    /// The quorum's timeout now (the last sample's, or the configured one).
    pub(crate) fn current_ms(&self) -> u64 {
        let samples = self.samples.lock().expect("samples lock poisoned");
        samples
            .last()
            .map_or(self.configured_ms, |s| s.1)
            .max(self.configured_ms)
    }

    /// The view changes' share of a bound now: `(2^(f+2) - 1) T`.
    fn view_changes(&self) -> Duration {
        Duration::from_millis(view_changes_factor(self.f) * self.current_ms())
    }

    /// How long to wait for an operation to complete now (at most a minute).
    pub(crate) fn progress_bound(&self) -> Duration {
        (self.view_changes() + PROGRESS_BASE).min(LONGEST_WAIT)
    }

    /// The progress bound as a formula with the figures in force, for messages.
    pub(crate) fn describe_progress_bound(&self) -> String {
        format!(
            "{} T + {:.0} s for f = {}, T = {} ms, at most {} s",
            view_changes_factor(self.f),
            PROGRESS_BASE.as_secs_f64(),
            self.f,
            self.current_ms(),
            LONGEST_WAIT.as_secs()
        )
    }

    /// How long the replicas get to converge after the final reads (at most a minute).
    pub(crate) fn settle_bound(&self) -> Duration {
        settle_bound(self.f, self.current_ms())
    }

    /// The availability oracle's bound: `override_s` (`--stall`) if given, else derived
    /// from the samples.
    pub(crate) fn bound(&self, override_s: Option<u64>) -> ProgressBound {
        match override_s {
            Some(s) => ProgressBound::Fixed(s * 1_000_000_000),
            None => ProgressBound::Derived {
                f: self.f,
                base_ns: PROGRESS_BASE.as_nanos() as u64,
                initial_t_ms: self.configured_ms,
                samples: self.samples.lock().expect("samples lock poisoned").clone(),
            },
        }
    }

    fn push(&self, at_ns: u64, timeouts: &[Option<u64>]) {
        if let Some(t) = quorum_timeout(timeouts, self.f) {
            self.samples
                .lock()
                .expect("samples lock poisoned")
                .push((at_ns, t));
        }
    }
}

/// Samples every replica's status once a second until `stop`.
pub(crate) async fn sample(
    addrs: Vec<String>,
    recorder: RecorderHandle,
    timeouts: Timeouts,
    mut stop: Stop,
) {
    let http = reqwest::Client::new();
    loop {
        let at = recorder.elapsed().as_nanos() as u64;
        let seen = statuses(&http, &addrs).await;
        let t: Vec<Option<u64>> = seen
            .iter()
            .map(|s| {
                s.as_ref()
                    .map(|s| s.view_change_timeout_ms)
                    .filter(|t| *t > 0)
            })
            .collect();
        timeouts.push(at, &t);
        tokio::select! {
            _ = stop.wait() => return,
            _ = tokio::time::sleep(EVERY) => {}
        }
    }
}

/// Where the replicas stood once they settled (or the bound passed).
#[derive(Debug, Clone, Default)]
pub(crate) struct Settled {
    /// Each replica's last answer (`None`: it never answered).
    pub(crate) statuses: Vec<Option<StatusView>>,
    /// How long it took, or the wait that passed.
    pub(crate) waited: Duration,
    /// The bound.
    pub(crate) bound: Duration,
}

/// Waits up to `wait` (at most `bound`, the convergence bound) until every replica
/// answers and their states agree at a common checkpoint (see
/// [`checker::oracles::convergence`]).
pub(crate) async fn settle(addrs: &[String], wait: Duration, bound: Duration) -> Settled {
    let http = reqwest::Client::new();
    let started = tokio::time::Instant::now();
    let mut last: Vec<Option<StatusView>> = vec![None; addrs.len()];
    loop {
        for (i, s) in statuses(&http, addrs).await.into_iter().enumerate() {
            if s.is_some() {
                last[i] = s;
            }
        }
        let converged = converged(&last);
        if converged || started.elapsed() >= wait.min(bound) {
            return Settled {
                statuses: last,
                waited: started.elapsed(),
                bound,
            };
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

/// Whether every replica answered and the convergence oracle is satisfied.
fn converged(statuses: &[Option<StatusView>]) -> bool {
    let states = replica_states(statuses);
    checker::oracles::convergence(&states, &[], 0.0, 0.0).verdict == checker::Verdict::Valid
}

/// The replicas' states as the convergence oracle reads them.
pub(crate) fn replica_states(statuses: &[Option<StatusView>]) -> Vec<Option<ReplicaState>> {
    statuses
        .iter()
        .map(|s| {
            s.as_ref().map(|s| ReplicaState {
                last_executed: s.last_executed,
                state_digest: s.state_digest.clone(),
                stable_checkpoint: s.stable_checkpoint,
                stable_digest: s.stable_digest.clone(),
            })
        })
        .collect()
}
