//! Outgoing peer messages: one sender task per peer, `POST /pbft` with reqwest,
//! a bounded number of requests in flight per peer. Delivery is best effort; the
//! protocol retransmits.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{mpsc, Semaphore};

use crate::config::ClusterConfig;
use crate::messages::{PeerMessage, ReplicaId};

const IN_FLIGHT_PER_PEER: usize = 64;

/// Handles to the per-peer sender tasks.
#[derive(Debug, Clone)]
pub struct Network {
    peers: Vec<Option<mpsc::UnboundedSender<Arc<Vec<u8>>>>>,
}

impl Network {
    /// Starts a sender task per peer of replica `me`, using the cluster file's
    /// `peers` addresses.
    pub fn start(config: &ClusterConfig, me: ReplicaId) -> Self {
        let http = reqwest::Client::builder()
            .pool_max_idle_per_host(IN_FLIGHT_PER_PEER)
            .timeout(Duration::from_secs(2))
            .build()
            .expect("reqwest client builds");
        let entry = &config.replicas[me as usize];
        let peers = (0..config.n() as ReplicaId)
            .map(|j| {
                let addr = entry.peers.get(&j)?.clone();
                let (tx, rx) = mpsc::unbounded_channel();
                tokio::spawn(sender(http.clone(), format!("http://{addr}/pbft"), j, rx));
                Some(tx)
            })
            .collect();
        Network { peers }
    }

    fn encode(msg: &PeerMessage) -> Arc<Vec<u8>> {
        Arc::new(serde_json::to_vec(msg).expect("messages serialize"))
    }

    /// Queues a message to one peer.
    pub fn send(&self, to: ReplicaId, msg: &PeerMessage) {
        if let Some(Some(tx)) = self.peers.get(to as usize) {
            let _ = tx.send(Self::encode(msg));
        }
    }

    /// Queues a message to every peer (encoded once).
    pub fn broadcast(&self, msg: &PeerMessage) {
        let body = Self::encode(msg);
        for tx in self.peers.iter().flatten() {
            let _ = tx.send(body.clone());
        }
    }
}

async fn sender(
    http: reqwest::Client,
    url: String,
    peer: ReplicaId,
    mut rx: mpsc::UnboundedReceiver<Arc<Vec<u8>>>,
) {
    let permits = Arc::new(Semaphore::new(IN_FLIGHT_PER_PEER));
    while let Some(body) = rx.recv().await {
        let Ok(permit) = permits.clone().acquire_owned().await else {
            return;
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
