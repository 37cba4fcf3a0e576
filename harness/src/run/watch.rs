//! The online safety watch (`--stop-on-violation`): while the workload runs, every
//! second it fetches what each replica executed since the last look
//! (`GET /log?from=SEQ`) and runs the agreement and exactly-once oracles on all of it,
//! and it applies the availability rule to the completions so far, conservatively (no
//! operation completed for longer than the availability bound while no fault at all
//! was in force), so a run can say when a violation first became visible, and end
//! there.
//!
//! A safety violation it sees (agreement, exactly-once) is a verdict with its evidence
//! even if the oracles at the end of the run do not see it again; a stall it sees is
//! judged again by the availability oracle, which knows which replicas each fault
//! touched.

use super::nemesis::CurrentFault;
use super::recorder::RecorderHandle;
use super::shutdown::Stop;
use super::status::Timeouts;
use checker::oracles::{agreement, exactly_once, ExecutedEntry, ReplicaLog};
use checker::Verdict;
use results::record::FirstViolation;
use std::time::Duration;
use tokio::sync::watch;

/// How often the replicas' logs are fetched.
const EVERY: Duration = Duration::from_secs(1);
/// How long one fetch may take (a paused replica does not answer).
const FETCH_TIMEOUT: Duration = Duration::from_secs(2);

/// What the watch looks at.
pub(crate) struct Watched {
    /// The replicas' own addresses (not the proxy's).
    pub(crate) addrs: Vec<String>,
    /// The history (for completions and the clock).
    pub(crate) recorder: RecorderHandle,
    /// The workload's start on the history clock.
    pub(crate) start: Duration,
    /// The faults in force.
    pub(crate) fault: CurrentFault,
    /// The availability bound's override (`--stall`); else the bound follows the
    /// quorum's view-change timeout.
    pub(crate) stall: Option<Duration>,
    /// The quorum's view-change timeout as sampled.
    pub(crate) timeouts: Timeouts,
}

/// Watches until `stop`, or until a violation, which it sends on `found`.
pub(crate) async fn watch_safety(
    w: Watched,
    mut stop: Stop,
    found: watch::Sender<Option<FirstViolation>>,
) {
    let Watched {
        addrs,
        recorder,
        start,
        fault,
        stall,
        timeouts,
    } = w;
    let report = |oracle: &str, evidence: String| {
        let at = recorder.elapsed().saturating_sub(start);
        found.send_replace(Some(FirstViolation {
            oracle: oracle.into(),
            at_s: at.as_secs_f64(),
            evidence,
        }));
    };
    // The stall rule: since when no operation completed and no fault was in force.
    let mut done = 0;
    let mut quiet_since = recorder.elapsed();
    let http = reqwest::Client::new();
    let mut logs: Vec<ReplicaLog> = (0..addrs.len())
        .map(|replica| ReplicaLog {
            replica,
            entries: Vec::new(),
        })
        .collect();
    loop {
        tokio::select! {
            _ = stop.wait() => return,
            _ = tokio::time::sleep(EVERY) => {}
        }
        for (addr, log) in addrs.iter().zip(logs.iter_mut()) {
            let from = log.entries.last().map_or(0, |e| e.seq + 1);
            if let Some(mut new) = fetch(&http, addr, from).await {
                new.retain(|e| e.seq >= from);
                log.entries.extend(new);
            }
        }
        for result in [agreement(&logs), exactly_once(&logs)] {
            if result.verdict == Verdict::Invalid {
                report(
                    &result.name,
                    result.evidence.first().cloned().unwrap_or_default(),
                );
                return;
            }
        }
        let now = recorder.elapsed();
        let totals = recorder.totals();
        if totals.ok + totals.fail != done || fault.get() != "none" {
            done = totals.ok + totals.fail;
            quiet_since = now;
        } else if now.saturating_sub(quiet_since)
            > stall.unwrap_or_else(|| timeouts.progress_bound())
        {
            let (from, to) = (
                quiet_since.saturating_sub(start).as_secs_f64(),
                now.saturating_sub(start).as_secs_f64(),
            );
            report(
                "availability",
                format!(
                    "no operation completed from {from:.1} s to {to:.1} s (into the workload) \
                     while no fault was in force"
                ),
            );
            return;
        }
    }
}

/// The entries at or above `from`, or `None` if the replica does not answer in time
/// (paused or killed; the watch talks to it directly, not through the proxy).
async fn fetch(http: &reqwest::Client, addr: &str, from: u64) -> Option<Vec<ExecutedEntry>> {
    let resp = http
        .get(format!("http://{addr}/log?from={from}"))
        .timeout(FETCH_TIMEOUT)
        .send()
        .await
        .ok()?;
    resp.json().await.ok()
}
