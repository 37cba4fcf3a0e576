//! Throughput and latency of a 4-replica cluster on loopback, with and without
//! batching: 16 concurrent clients issue writes for a fixed time; prints ops/s and
//! p50/p99 latency. Run with `cargo bench -p replica` (release build of `replica`).
//! `BENCH_SECS` sets the measuring time per configuration (default 10).

use std::sync::Arc;
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;
use replica::local_cluster::LocalCluster;
use replica::state_machine::Operation;
use serde_json::json;

const CLIENTS: usize = 16;

struct Figures {
    ops: u64,
    timeouts: u64,
    secs: f64,
    hist: Histogram<u64>,
}

async fn run(name: &str, args: &[&str], secs: u64) -> Figures {
    let dir = tempfile::tempdir().expect("tempdir");
    let binary = std::path::Path::new(env!("CARGO_BIN_EXE_replica"));
    let cluster =
        Arc::new(LocalCluster::start(binary, dir.path(), 1, CLIENTS, args).expect("start"));
    cluster
        .wait_ready(Duration::from_secs(20))
        .await
        .expect("ready");
    // Warm-up: connections, first batches.
    let deadline = Instant::now() + Duration::from_secs(1);
    let measure_from = deadline;
    let end = measure_from + Duration::from_secs(secs);
    let tasks: Vec<_> = (0..CLIENTS)
        .map(|c| {
            let cluster = cluster.clone();
            tokio::spawn(async move {
                let mut client = cluster.client(c).expect("client");
                let mut hist = Histogram::<u64>::new(3).expect("histogram");
                let (mut ops, mut timeouts, mut i) = (0u64, 0u64, 0u64);
                while Instant::now() < end {
                    i += 1;
                    let op = Operation::Write {
                        key: format!("k{}", i % 100),
                        value: json!(i),
                    };
                    let t0 = Instant::now();
                    let r = client.invoke(op, Duration::from_secs(5)).await;
                    if t0 < measure_from {
                        continue;
                    }
                    match r {
                        Ok(_) => {
                            ops += 1;
                            hist.record(t0.elapsed().as_micros() as u64).ok();
                        }
                        Err(_) => timeouts += 1,
                    }
                }
                (ops, timeouts, hist)
            })
        })
        .collect();
    let mut f = Figures {
        ops: 0,
        timeouts: 0,
        secs: secs as f64,
        hist: Histogram::new(3).expect("histogram"),
    };
    for t in tasks {
        let (ops, timeouts, hist) = t.await.expect("client task");
        f.ops += ops;
        f.timeouts += timeouts;
        f.hist.add(hist).expect("histogram add");
    }
    let mut status = Vec::new();
    for i in 0..4 {
        if let Some(s) = cluster.status(i).await {
            status.push(s.last_executed);
        }
    }
    println!(
        "{name:<28} {:>8.0} ops/s   p50 {:>6.2} ms   p99 {:>6.2} ms   timeouts {}   batches executed {:?}",
        f.ops as f64 / f.secs,
        f.hist.value_at_quantile(0.5) as f64 / 1000.0,
        f.hist.value_at_quantile(0.99) as f64 / 1000.0,
        f.timeouts,
        status,
    );
    f
}

fn main() {
    if std::env::args().any(|a| a == "--list") {
        return; // `cargo test --benches` asks for a list; nothing to list.
    }
    let secs = std::env::var("BENCH_SECS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(10);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(async {
        println!(
            "n = 4, {CLIENTS} concurrent clients, writes, {secs} s per configuration, fsync never"
        );
        run(
            "no batching (batch-size 1)",
            &["--batch-size", "1", "--fsync", "never"],
            secs,
        )
        .await;
        run(
            "batching (batch-size 64)",
            &["--batch-size", "64", "--fsync", "never"],
            secs,
        )
        .await;
        run(
            "batching, fsync always",
            &["--batch-size", "64", "--fsync", "always"],
            secs,
        )
        .await;
    });
}
