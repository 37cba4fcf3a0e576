//! Replicas the runner restarted and waits to hear from, without holding up the
//! schedule: each waits (bounded) for `/status` in a task of its own, and the runner
//! reports a replica that does not answer in time as lost.

use super::Runner;
use crate::control::{Observer, Processes};
use crate::replica_http::ReplicaHttp;
use serde_json::json;
use std::collections::BTreeMap;
use std::time::Duration;
use tokio::task::{AbortHandle, JoinSet};

/// The restart waits in flight.
#[derive(Default)]
pub(super) struct Restarts {
    /// Each task yields (replica, whether it answered in time).
    tasks: JoinSet<(usize, bool)>,
    /// The wait in flight per replica, and the fault whose heal restarted it.
    pending: BTreeMap<usize, (AbortHandle, String)>,
    /// Replicas whose wait was called off because they were paused before they
    /// answered, and the fault that restarted them: waited for again on resume.
    suspended: BTreeMap<usize, String>,
}

impl Restarts {
    /// Waits up to `limit` for `node`, restarted by the heal of `fault`, to answer.
    pub(super) fn watch(
        &mut self,
        replicas: &ReplicaHttp,
        node: usize,
        limit: Duration,
        fault: String,
    ) {
        self.forget(node);
        let replicas = replicas.clone();
        let handle = self
            .tasks
            .spawn(async move { (node, replicas.wait_answering(node, limit).await) });
        self.pending.insert(node, (handle, fault));
    }

    /// Calls off the wait for `node` (it is about to be killed again).
    pub(super) fn forget(&mut self, node: usize) {
        if let Some((handle, _)) = self.pending.remove(&node) {
            handle.abort();
        }
        self.suspended.remove(&node);
    }

    /// Calls off the wait for `node` while it is paused; [`Restarts::resumed`] says
    /// whether to wait for it again.
    pub(super) fn suspend(&mut self, node: usize) {
        if let Some((handle, fault)) = self.pending.remove(&node) {
            handle.abort();
            self.suspended.insert(node, fault);
        }
    }

    /// `node` was resumed: the fault that restarted it if its wait was suspended.
    pub(super) fn resumed(&mut self, node: usize) -> Option<String> {
        self.suspended.remove(&node)
    }

    /// The next wait to end: (replica, answered in time, the fault that restarted it);
    /// `None` when none is in flight. Cancel-safe.
    pub(super) async fn next(&mut self) -> Option<(usize, bool, String)> {
        loop {
            // Called-off waits end as cancelled, or finish unclaimed: skip them.
            if let Ok((id, (node, answered))) = self.tasks.join_next_with_id().await? {
                if self.pending.get(&node).is_some_and(|(h, _)| h.id() == id) {
                    let (_, fault) = self.pending.remove(&node).expect("just seen");
                    return Some((node, answered, fault));
                }
            }
        }
    }
}

impl<P: Processes, O: Observer> Runner<'_, P, O> {
    /// Waits, in the background, for `node`, restarted by the heal of `fault`.
    pub(super) fn watch_restart(&mut self, node: usize, fault: String) {
        self.restarts
            .watch(&self.replicas, node, self.restart_wait, fault);
    }

    /// A restart wait ended: reports the replica lost if it did not answer.
    pub(super) fn restart_ended(&mut self, node: usize, answered: bool, fault: &str) {
        if answered {
            tracing::debug!(replica = node, "restarted replica answers");
        } else {
            let reason = self.not_answering(node);
            self.lost(node, &reason, fault);
        }
    }

    /// Why a restarted replica is lost when it does not answer.
    pub(super) fn not_answering(&self, node: usize) -> String {
        format!(
            "replica {node} did not answer /status within {} ms of its restart",
            self.restart_wait.as_millis()
        )
    }

    /// Reports `replica` lost after `fault`: a `replica-lost` op
    /// `{"node", "fault", "reason"}` and [`Observer::replica_lost`].
    pub(super) fn lost(&mut self, replica: usize, reason: &str, fault: &str) {
        tracing::error!(replica, fault, reason, "replica lost");
        self.record(
            "replica-lost",
            json!({"node": replica, "fault": fault, "reason": reason}),
        );
        self.observer.replica_lost(replica, reason);
    }
}
