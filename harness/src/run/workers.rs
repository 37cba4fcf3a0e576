//! Worker slots: each drives one logical client process at a time.
//!
//! A slot owns one PBFT client identity for the whole run (its request timestamps must
//! keep increasing) and one generator stream. When an operation ends indeterminate
//! (`info`), the process that invoked it is retired, as in Jepsen: it might still take
//! effect, so the process never invokes again, and a fresh process id takes the slot.

use super::limiter::Limiter;
use super::recorder::RecorderHandle;
use super::shutdown::Stop;
use checker::oracles::ExecutedRequest;
use checker::OpType;
use replica::client::RequestHook;
use std::collections::BTreeSet;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use workloads::{Client, Generator, Invocation, PbftClient};

/// What every slot shares.
#[derive(Debug, Clone)]
pub(crate) struct Shared {
    /// Records invocations and completions.
    pub(crate) recorder: RecorderHandle,
    /// The per-operation timeout.
    pub(crate) op_timeout: Duration,
    /// The next unused process id.
    pub(crate) next_process: Arc<AtomicU64>,
    /// `(client, timestamp)` of every request sent, for the validity oracle.
    pub(crate) requests: Arc<Mutex<BTreeSet<ExecutedRequest>>>,
}

impl Shared {
    /// The hook a client calls before it sends a request: notes its id, so that a
    /// request whose answer is never awaited (a run cut short) still counts as sent.
    pub(crate) fn request_hook(&self) -> RequestHook {
        let requests = Arc::clone(&self.requests);
        RequestHook(Arc::new(move |client, timestamp| {
            requests
                .lock()
                .expect("requests lock poisoned")
                .insert(ExecutedRequest { client, timestamp });
        }))
    }

    /// A process id never used before.
    pub(crate) fn fresh_process(&self) -> u64 {
        self.next_process.fetch_add(1, Ordering::Relaxed)
    }

    /// Invokes one operation as `process`, recording both ends. Returns whether the
    /// process survives (it is retired after an indeterminate outcome).
    async fn perform(
        &self,
        client: &mut PbftClient,
        process: u64,
        invocation: &Invocation,
    ) -> bool {
        self.recorder.invoke(process, invocation);
        // The request's id reaches `requests` through the client's hook before it is
        // sent (see [`Shared::request_hook`]).
        let completion = client.invoke(invocation, self.op_timeout).await;
        self.recorder.complete(process, invocation, &completion);
        completion.kind != OpType::Info
    }
}

/// One slot: takes a ticket, performs the generator's next operation, repeats until
/// `stop`. An operation in flight when `stop` is set completes (within the op timeout).
/// Returns the client for the final reads.
pub(crate) async fn run_slot(
    slot: u64,
    mut client: PbftClient,
    mut generator: Generator,
    limiter: Limiter,
    shared: Shared,
    mut stop: Stop,
) -> PbftClient {
    let mut process = slot;
    loop {
        // Stop first; otherwise wait for the rate limiter's next ticket.
        let ticket = tokio::select! {
            biased;
            _ = stop.wait() => false,
            ticket = limiter.ticket() => ticket,
        };
        if !ticket || stop.is_set() {
            break;
        }
        let invocation = generator.next_invocation();
        if !shared.perform(&mut client, process, &invocation).await {
            let fresh = shared.fresh_process();
            tracing::debug!(slot, retired = process, fresh, "process retired");
            process = fresh;
        }
    }
    client
}

/// The final read phase: every key read once, each by a fresh process, spread over the
/// slots' clients (each client one read at a time).
pub(crate) async fn final_reads(clients: Vec<PbftClient>, reads: &[Invocation], shared: &Shared) {
    let slots = clients.len().max(1);
    let mut tasks = tokio::task::JoinSet::new();
    for (slot, mut client) in clients.into_iter().enumerate() {
        let mine: Vec<Invocation> = reads.iter().skip(slot).step_by(slots).cloned().collect();
        let shared = shared.clone();
        tasks.spawn(async move {
            for read in &mine {
                let process = shared.fresh_process();
                shared.perform(&mut client, process, read).await;
            }
        });
    }
    while let Some(joined) = tasks.join_next().await {
        if let Err(e) = joined {
            tracing::error!(error = %e, "a final read task failed");
        }
    }
}
