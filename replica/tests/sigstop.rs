//! End to end with real processes: 4 replicas under load from 4 clients; the
//! primary is paused with SIGSTOP for 5 s, then resumed with SIGCONT. Clients must
//! complete operations during the pause (after a view change, within a generous
//! bound of 10x the view-change timeout), and afterwards every replica's `/log`
//! agrees and all reach the same last executed sequence number. The measured time
//! from the pause to the first completed operation is printed.
//!
//! The processes are killed when the test ends, even on failure ([`LocalCluster`]
//! kills them on drop). `REPLICA_BIN=<path>` overrides the binary.

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

mod common;

use replica::local_cluster::LocalCluster;
use replica::state_machine::Operation;
use serde_json::json;

const CLIENTS: usize = 4;
const VIEW_CHANGE_TIMEOUT_MS: u64 = 1000;
const PAUSE: Duration = Duration::from_secs(5);

fn replica_binary() -> PathBuf {
    std::env::var_os("REPLICA_BIN")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_BIN_EXE_replica")))
}

/// Invokes writes until `stop`; records when every completed operation started and
/// ended.
async fn load(
    cluster: Arc<LocalCluster>,
    c: usize,
    stop: Arc<AtomicBool>,
    done: Arc<AtomicUsize>,
    completions: Arc<Mutex<Vec<(Instant, Instant)>>>,
) {
    let mut client = cluster.client(c).expect("client");
    client.set_retransmit(Duration::from_millis(500));
    let mut k = 0u64;
    while !stop.load(Ordering::Relaxed) {
        let op = Operation::Write {
            key: format!("c{c}"),
            value: json!(k),
        };
        let start = Instant::now();
        if client.invoke(op, Duration::from_secs(30)).await.is_ok() {
            done.fetch_add(1, Ordering::Relaxed);
            completions.lock().unwrap().push((start, Instant::now()));
        }
        k += 1;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigstop_primary_for_5s_clients_recover_after_view_change_and_logs_agree() {
    let dir = tempfile::tempdir().unwrap();
    let timeout = VIEW_CHANGE_TIMEOUT_MS.to_string();
    let args = [
        "--fsync",
        "never",
        "--checkpoint-interval",
        "32",
        "--log-window",
        "128",
        "--view-change-timeout-ms",
        &timeout,
    ];
    let cluster = Arc::new(
        LocalCluster::start(&replica_binary(), dir.path(), 1, CLIENTS, &args).expect("start"),
    );
    cluster
        .wait_ready(Duration::from_secs(20))
        .await
        .expect("replicas ready");
    let stop = Arc::new(AtomicBool::new(false));
    let done = Arc::new(AtomicUsize::new(0));
    let completions = Arc::new(Mutex::new(Vec::new()));
    let tasks: Vec<_> = (0..CLIENTS)
        .map(|c| {
            tokio::spawn(load(
                cluster.clone(),
                c,
                stop.clone(),
                done.clone(),
                completions.clone(),
            ))
        })
        .collect();

    // --- warm up, then SIGSTOP the primary of view 0
    while done.load(Ordering::Relaxed) < 200 {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let paused_at = Instant::now();
    cluster.pause(0).expect("SIGSTOP replica 0");
    eprintln!(
        "SIGSTOP replica 0 after {} operations",
        done.load(Ordering::Relaxed)
    );
    tokio::time::sleep(PAUSE).await;
    let recovery = completions
        .lock()
        .unwrap()
        .iter()
        .filter(|(start, _)| *start > paused_at)
        .map(|(_, end)| end.duration_since(paused_at))
        .min();
    cluster.resume(0).expect("SIGCONT replica 0");
    eprintln!("SIGCONT replica 0; pause to first completed operation: {recovery:?}");
    let recovery = recovery.expect("clients made progress during the pause");
    assert!(
        recovery < Duration::from_millis(10 * VIEW_CHANGE_TIMEOUT_MS),
        "recovered in {recovery:?}"
    );

    // --- a little more load with the old primary back, then stop and compare logs
    let before = done.load(Ordering::Relaxed);
    let more = Instant::now();
    while done.load(Ordering::Relaxed) < before + 100 && more.elapsed() < Duration::from_secs(20) {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    stop.store(true, Ordering::Relaxed);
    for t in tasks {
        t.await.expect("client task");
    }
    let mut statuses = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        statuses.clear();
        for i in 0..4 {
            statuses.push(cluster.status(i).await.expect("GET /status"));
        }
        let last: Vec<u64> = statuses.iter().map(|s| s.last_executed).collect();
        if last.iter().all(|l| *l == last[0]) || Instant::now() > deadline {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    for s in &statuses {
        eprintln!(
            "replica {}: view {} (installed at {} ms), {} view changes, last executed {}, {} state transfers",
            s.id, s.view, s.view_installed_at_ms, s.view_changes, s.last_executed, s.state_transfers
        );
    }
    let last = statuses[0].last_executed;
    if statuses.iter().any(|s| s.last_executed != last) {
        for i in 0..4 {
            let log = std::fs::read_to_string(cluster.layout().log_file(i)).unwrap_or_default();
            let tail: Vec<&str> = log.lines().rev().take(30).collect();
            eprintln!(
                "--- replica {i} log (last lines, newest first):\n{}",
                tail.join("\n")
            );
        }
    }
    assert!(
        statuses.iter().all(|s| s.last_executed == last),
        "all replicas reach the same last executed"
    );
    assert!(
        statuses.iter().all(|s| s.view >= 1),
        "a view change happened"
    );
    let logs = common::assert_logs_agree(&cluster, 4).await;
    eprintln!(
        "{} operations; log lengths {:?}",
        done.load(Ordering::Relaxed),
        logs.iter().map(|l| l.len()).collect::<Vec<_>>()
    );
}
