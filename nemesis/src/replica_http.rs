//! The replicas' own HTTP endpoints the nemesis uses: `GET /status` (to find the
//! primary) and `POST /clock` (clock faults). Always the replicas' real addresses,
//! never through the proxy.

use crate::error::{Error, Result};
use replica::clock::ClockSettings;
use std::time::Duration;
use tokio::task::JoinSet;

/// How long one control call may take. [`ReplicaHttp::primary`] asks every replica at
/// once, so it takes at most this long however many replicas are slow.
pub const CALL_TIMEOUT: Duration = Duration::from_secs(1);

/// Talks to every replica's control endpoints.
#[derive(Debug, Clone)]
pub struct ReplicaHttp {
    addrs: Vec<String>,
    http: reqwest::Client,
}

impl ReplicaHttp {
    /// Replica `i` listens at `addrs[i]`.
    pub fn new(addrs: Vec<String>) -> Self {
        ReplicaHttp {
            addrs,
            http: reqwest::Client::new(),
        }
    }

    /// Number of replicas.
    pub fn n(&self) -> usize {
        self.addrs.len()
    }

    /// Replica `i`'s current view, if it answers.
    pub async fn view(&self, i: usize) -> Option<u64> {
        let url = format!("http://{}/status", self.addrs[i]);
        let resp = self.http.get(url).timeout(CALL_TIMEOUT).send().await.ok()?;
        let status: serde_json::Value = resp.json().await.ok()?;
        status.get("view")?.as_u64()
    }

    /// Replica `i`'s last executed sequence number, if it answers.
    pub async fn last_executed(&self, i: usize) -> Option<u64> {
        let url = format!("http://{}/status", self.addrs[i]);
        let resp = self.http.get(url).timeout(CALL_TIMEOUT).send().await.ok()?;
        let status: serde_json::Value = resp.json().await.ok()?;
        status.get("last_executed")?.as_u64()
    }

    /// Every replica's last executed sequence number (`None`: it did not answer),
    /// asked all at once.
    pub async fn last_executed_all(&self) -> Vec<Option<u64>> {
        let mut asks = JoinSet::new();
        for i in 0..self.n() {
            let replicas = self.clone();
            asks.spawn(async move { (i, replicas.last_executed(i).await) });
        }
        let mut out = vec![None; self.n()];
        while let Some(answer) = asks.join_next().await {
            if let Ok((i, seq)) = answer {
                out[i] = seq;
            }
        }
        out
    }

    /// The primary of the highest view a replica reports (0 if none answers). Asks
    /// every replica at once: takes at most one [`CALL_TIMEOUT`].
    pub async fn primary(&self) -> usize {
        let mut asks = JoinSet::new();
        for i in 0..self.n() {
            let replicas = self.clone();
            asks.spawn(async move { replicas.view(i).await });
        }
        let mut view = None;
        while let Some(answer) = asks.join_next().await {
            view = view.max(answer.ok().flatten());
        }
        (view.unwrap_or(0) % self.n() as u64) as usize
    }

    /// Sets replica `i`'s clock.
    pub async fn set_clock(&self, i: usize, settings: ClockSettings) -> Result<()> {
        let url = format!("http://{}/clock", self.addrs[i]);
        let fail = |reason: String| Error::Http {
            replica: i,
            endpoint: "/clock",
            reason,
        };
        let resp = self
            .http
            .post(url)
            .timeout(CALL_TIMEOUT)
            .json(&settings)
            .send()
            .await
            .map_err(|e| fail(e.to_string()))?;
        if !resp.status().is_success() {
            return Err(fail(format!("answered {}", resp.status())));
        }
        Ok(())
    }

    /// Sets the clocks of `nodes`, all at once (at most one [`CALL_TIMEOUT`]); returns
    /// each node's result, in node order.
    pub async fn set_clocks(
        &self,
        nodes: &[usize],
        settings: ClockSettings,
    ) -> Vec<(usize, Result<()>)> {
        let mut calls = JoinSet::new();
        for &i in nodes {
            let replicas = self.clone();
            calls.spawn(async move { (i, replicas.set_clock(i, settings).await) });
        }
        let mut results = Vec::with_capacity(nodes.len());
        while let Some(done) = calls.join_next().await {
            results.push(done.expect("a clock call does not panic"));
        }
        results.sort_by_key(|(i, _)| *i);
        results
    }

    /// Waits until replica `i` answers `/status`, up to `limit`.
    pub async fn wait_answering(&self, i: usize, limit: Duration) -> bool {
        let deadline = tokio::time::Instant::now() + limit;
        while tokio::time::Instant::now() < deadline {
            if self.view(i).await.is_some() {
                return true;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        false
    }
}
