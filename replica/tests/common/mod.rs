//! Shared by the tests that run real replica processes.

use replica::local_cluster::LocalCluster;
use replica::storage::LogEntry;

/// Fetches every replica's `GET /log` and asserts they agree: each log has no gap and
/// matches the longest one on every sequence number it holds. Returns the logs.
pub(crate) async fn assert_logs_agree(cluster: &LocalCluster, n: usize) -> Vec<Vec<LogEntry>> {
    let mut logs = Vec::new();
    for i in 0..n {
        logs.push(cluster.log(i).await.expect("GET /log"));
    }
    let longest = logs.iter().max_by_key(|l| l.len()).unwrap().clone();
    for (i, log) in logs.iter().enumerate() {
        for (k, e) in log.iter().enumerate() {
            assert_eq!(e.seq, k as u64 + 1, "replica {i} log has a gap");
            assert_eq!(
                e.digest, longest[k].digest,
                "replica {i} disagrees at seq {}",
                e.seq
            );
        }
    }
    logs
}
