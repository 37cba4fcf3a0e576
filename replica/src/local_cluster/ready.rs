//! Waiting until every started replica answers `GET /status`.

use std::future::Future;
use std::time::{Duration, Instant};

use super::layout::log_tail;
use super::LocalCluster;

/// Lines of a replica's log quoted when it does not get ready.
const TAIL_LINES: usize = 20;
/// How long one `/status` poll may take.
const POLL_TIMEOUT: Duration = Duration::from_millis(500);
/// Time between polls.
const POLL_EVERY: Duration = Duration::from_millis(50);

/// Why the cluster did not become ready.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NotReady {
    /// A replica exited before it answered, or did not answer in time; `reason` says
    /// which, with the end of its log.
    #[error("{reason}")]
    Replica {
        /// The replica.
        replica: usize,
        /// What happened, with the end of its log.
        reason: String,
        /// Whether its log says its port was taken (worth retrying on other ports).
        port_clash: bool,
    },
    /// The caller gave up waiting (its cancel future resolved first).
    #[error("cancelled while the cluster started")]
    Cancelled,
}

impl LocalCluster {
    /// Waits until every replica that was started and not stopped on purpose answers
    /// `GET /status`, at most `timeout`.
    pub async fn wait_ready(&self, timeout: Duration) -> Result<(), NotReady> {
        self.wait_ready_or(timeout, std::future::pending()).await
    }

    /// As [`LocalCluster::wait_ready`], but gives up with [`NotReady::Cancelled`] as soon
    /// as `cancel` resolves (a Ctrl-C while the cluster starts). A replica that exits
    /// before it answers fails at once, with its log's tail.
    pub async fn wait_ready_or(
        &self,
        timeout: Duration,
        cancel: impl Future<Output = ()>,
    ) -> Result<(), NotReady> {
        tokio::pin!(cancel);
        let started = Instant::now();
        let n = self.config.n();
        let mut ready: Vec<bool> = (0..n).map(|i| !self.expected_running(i)).collect();
        loop {
            for (i, is_ready) in ready.iter_mut().enumerate() {
                if *is_ready {
                    continue;
                }
                if let Some(exit) = self.exit_of(i) {
                    return Err(
                        self.not_ready(i, &format!("replica {i} {exit} before it was ready"))
                    );
                }
                *is_ready = self.answers(i, POLL_TIMEOUT).await;
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
            // Either the poll interval passes or the caller gives up.
            tokio::select! {
                _ = &mut cancel => return Err(NotReady::Cancelled),
                _ = tokio::time::sleep(POLL_EVERY) => {}
            }
        }
    }

    fn not_ready(&self, replica: usize, what: &str) -> NotReady {
        let log = self.layout.log_file(replica);
        let tail = log_tail(&log, TAIL_LINES);
        NotReady::Replica {
            replica,
            port_clash: tail.contains("in use"),
            reason: format!("{what}; last lines of {}:\n{tail}", log.display()),
        }
    }
}
