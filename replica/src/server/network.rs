//! Outgoing peer messages: one sender task per peer, `POST /pbft` with reqwest,
//! a bounded number of requests in flight per peer. Delivery is best effort; the
//! protocol retransmits.
//!
//! Each peer's queue is bounded (messages and bytes) and drops its *oldest* message
//! when full: a peer that accepts TCP but never answers (Byzantine, or SIGSTOPped)
//! drains only a few dozen messages a second, and every broadcast, each carrying
//! whole batches, would otherwise pile up until memory runs out. The newest
//! messages are the useful ones; whatever is dropped is retransmitted.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::{Notify, Semaphore};

use crate::config::ClusterConfig;
use crate::messages::{PeerMessage, ReplicaId};

const IN_FLIGHT_PER_PEER: usize = 64;

/// Bounds of one peer's send queue.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct QueueLimits {
    /// Messages queued at most.
    pub messages: usize,
    /// Bytes queued at most (at least one message is always kept).
    pub bytes: usize,
}

impl Default for QueueLimits {
    /// 4,096 messages or 64 MiB: a peer that keeps up never gets near either.
    fn default() -> Self {
        QueueLimits {
            messages: 4096,
            bytes: 64 << 20,
        }
    }
}

/// One peer's queue: drop-oldest when full.
#[derive(Debug)]
struct PeerQueue {
    inner: Mutex<Queued>,
    notify: Notify,
    limits: QueueLimits,
    dropped: AtomicU64,
    closed: AtomicBool,
}

#[derive(Debug, Default)]
struct Queued {
    messages: VecDeque<Arc<Vec<u8>>>,
    bytes: usize,
}

impl PeerQueue {
    fn new(limits: QueueLimits) -> Self {
        PeerQueue {
            inner: Mutex::new(Queued::default()),
            notify: Notify::new(),
            limits,
            dropped: AtomicU64::new(0),
            closed: AtomicBool::new(false),
        }
    }

    fn push(&self, body: Arc<Vec<u8>>) {
        {
            let mut q = self.inner.lock().expect("queue lock");
            q.bytes += body.len();
            q.messages.push_back(body);
            while q.messages.len() > 1
                && (q.messages.len() > self.limits.messages || q.bytes > self.limits.bytes)
            {
                if let Some(old) = q.messages.pop_front() {
                    q.bytes -= old.len();
                    self.dropped.fetch_add(1, Ordering::Relaxed);
                }
            }
        }
        self.notify.notify_one();
    }

    fn pop(&self) -> Option<Arc<Vec<u8>>> {
        let mut q = self.inner.lock().expect("queue lock");
        let body = q.messages.pop_front()?;
        q.bytes -= body.len();
        Some(body)
    }

    fn len(&self) -> usize {
        self.inner.lock().expect("queue lock").messages.len()
    }
}

/// The queues, closed (their tasks end) when the last [`Network`] handle is dropped.
#[derive(Debug)]
struct Queues(Vec<Option<Arc<PeerQueue>>>);

impl Drop for Queues {
    fn drop(&mut self) {
        for q in self.0.iter().flatten() {
            q.closed.store(true, Ordering::Relaxed);
            q.notify.notify_one();
        }
    }
}

/// Handles to the per-peer sender tasks.
#[derive(Debug, Clone)]
pub struct Network {
    peers: Arc<Queues>,
}

impl Network {
    /// Starts a sender task per peer of replica `me`, using the cluster file's
    /// `peers` addresses, with the default queue bounds.
    pub fn start(config: &ClusterConfig, me: ReplicaId) -> Self {
        Self::with_limits(config, me, QueueLimits::default())
    }

    /// Starts a sender task per peer of replica `me` with these queue bounds.
    pub fn with_limits(config: &ClusterConfig, me: ReplicaId, limits: QueueLimits) -> Self {
        let http = reqwest::Client::builder()
            .pool_max_idle_per_host(IN_FLIGHT_PER_PEER)
            .timeout(Duration::from_secs(2))
            .build()
            .expect("reqwest client builds");
        let entry = &config.replicas[me as usize];
        let peers = (0..config.n() as ReplicaId)
            .map(|j| {
                let addr = entry.peers.get(&j)?.clone();
                let q = Arc::new(PeerQueue::new(limits));
                tokio::spawn(sender(
                    http.clone(),
                    format!("http://{addr}/pbft"),
                    j,
                    q.clone(),
                ));
                Some(q)
            })
            .collect();
        Network {
            peers: Arc::new(Queues(peers)),
        }
    }

    fn encode(msg: &PeerMessage) -> Arc<Vec<u8>> {
        Arc::new(serde_json::to_vec(msg).expect("messages serialize"))
    }

    /// Queues a message to one peer.
    pub fn send(&self, to: ReplicaId, msg: &PeerMessage) {
        if let Some(Some(q)) = self.peers.0.get(to as usize) {
            q.push(Self::encode(msg));
        }
    }

    /// Queues a message to every peer (encoded once).
    pub fn broadcast(&self, msg: &PeerMessage) {
        let body = Self::encode(msg);
        for q in self.peers.0.iter().flatten() {
            q.push(body.clone());
        }
    }

    /// Messages waiting in the queue to `peer` (not yet handed to HTTP).
    pub fn queued(&self, peer: ReplicaId) -> usize {
        self.peers
            .0
            .get(peer as usize)
            .and_then(|q| q.as_ref())
            .map_or(0, |q| q.len())
    }

    /// Messages to `peer` dropped because its queue was full.
    pub fn dropped(&self, peer: ReplicaId) -> u64 {
        self.peers
            .0
            .get(peer as usize)
            .and_then(|q| q.as_ref())
            .map_or(0, |q| q.dropped.load(Ordering::Relaxed))
    }
}

async fn sender(http: reqwest::Client, url: String, peer: ReplicaId, queue: Arc<PeerQueue>) {
    let permits = Arc::new(Semaphore::new(IN_FLIGHT_PER_PEER));
    loop {
        // Take a permit first: while every permit is in use, messages wait (and the
        // oldest are dropped) in the bounded queue rather than in spawned tasks.
        let Ok(permit) = permits.clone().acquire_owned().await else {
            return;
        };
        let body = loop {
            if let Some(b) = queue.pop() {
                break b;
            }
            if queue.closed.load(Ordering::Relaxed) {
                return;
            }
            queue.notify.notified().await;
        };
        let req = http
            .post(&url)
            .header("content-type", "application/json")
            .body(body.as_ref().clone());
        tokio::spawn(async move {
            if let Err(e) = req.send().await {
                tracing::trace!(peer, error = %e, "send failed");
            }
            drop(permit);
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crypto::Signed;
    use crate::messages::Status;
    use ed25519_dalek::SigningKey;

    /// A peer that accepts TCP connections but never reads or answers: the queue to
    /// it stays within its bound, dropping the oldest messages.
    #[tokio::test]
    async fn send_queue_to_a_silent_peer_is_bounded() {
        let silent = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = silent.local_addr().unwrap().to_string();
        let held = tokio::spawn(async move {
            let mut conns = Vec::new();
            while let Ok((c, _)) = silent.accept().await {
                conns.push(c);
            }
        });
        let keys: Vec<SigningKey> = (0..4u8).map(|i| SigningKey::from_bytes(&[i; 32])).collect();
        let listen: Vec<String> = (0..4).map(|_| addr.clone()).collect();
        let config = ClusterConfig::local(1, &keys, &listen, &[]);
        let limits = QueueLimits {
            messages: 100,
            bytes: 1 << 20,
        };
        let net = Network::with_limits(&config, 0, limits);
        let msg = PeerMessage::Status(Signed::sign(
            Status {
                view: 0,
                low_watermark: 0,
                last_executed: 0,
                replica: 0,
            },
            &keys[0],
        ));
        for _ in 0..10_000 {
            net.send(1, &msg);
            tokio::task::yield_now().await;
        }
        assert!(
            net.queued(1) <= 100,
            "{} messages queued to a silent peer",
            net.queued(1)
        );
        assert!(net.dropped(1) >= 10_000 - 100 - IN_FLIGHT_PER_PEER as u64);
        held.abort();
    }
}
