//! Waiting until every replica answers `GET /status`.

use super::Cluster;
use crate::shutdown::Stop;

use std::time::{Duration, Instant};

/// Why the cluster did not become ready.
#[derive(Debug)]
pub(crate) enum NotReady {
    /// A replica exited or never answered; `reason` says which, with its log's tail.
    Replica {
        /// What happened, with the end of its log.
        reason: String,
        /// Whether its log says its port was taken (worth retrying on other ports).
        port_clash: bool,
    },
    /// The run was interrupted while waiting.
    Interrupted,
}

impl Cluster {
    /// Polls every replica's `/status` until all answer, one replica exits, `timeout`
    /// passes, or `stop` is set.
    pub(crate) async fn wait_ready(
        &self,
        timeout: Duration,
        stop: &mut Stop,
    ) -> Result<(), NotReady> {
        let started = Instant::now();
        let http = reqwest::Client::new();
        let n = self.config.n();
        let mut ready = vec![false; n];
        loop {
            for (i, is_ready) in ready.iter_mut().enumerate() {
                if *is_ready {
                    continue;
                }
                if let Some(exit) = self.exited(i) {
                    return Err(
                        self.not_ready(i, &format!("replica {i} {exit} before it was ready"))
                    );
                }
                let url = format!("http://{}/status", self.config.replicas[i].listen);
                let answer = http
                    .get(url)
                    .timeout(Duration::from_millis(500))
                    .send()
                    .await;
                *is_ready = matches!(answer, Ok(r) if r.status().is_success());
            }
            if ready.iter().all(|r| *r) {
                return Ok(());
            }
            if started.elapsed() > timeout {
                let i = ready.iter().position(|r| !r).unwrap_or(0);
                return Err(self.not_ready(
                    i,
                    &format!("replica {i} did not answer GET /status within {timeout:?}"),
                ));
            }
            // Either the poll interval passes or the run is interrupted.
            tokio::select! {
                _ = stop.wait() => return Err(NotReady::Interrupted),
                _ = tokio::time::sleep(Duration::from_millis(50)) => {}
            }
        }
    }

    fn not_ready(&self, id: usize, what: &str) -> NotReady {
        let log = self.layout.log_file(id);
        let tail = super::layout::log_tail(&log, 20);
        NotReady::Replica {
            port_clash: tail.contains("in use"),
            reason: format!("{what}; last lines of {}:\n{tail}", log.display()),
        }
    }
}

impl NotReady {
    /// The error to report.
    pub(crate) fn into_error(self) -> anyhow::Error {
        match self {
            NotReady::Replica { reason, .. } => {
                anyhow::anyhow!("the cluster did not start: {reason}")
            }
            NotReady::Interrupted => anyhow::anyhow!("interrupted while the cluster started"),
        }
    }
}
