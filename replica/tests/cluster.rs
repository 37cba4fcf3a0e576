//! Four real `replica` processes on loopback: 1,000 operations from 8 concurrent
//! clients while replica 3 is killed with SIGKILL and restarted mid-run; afterwards
//! every replica's `/log` agrees on the prefix they share and every acknowledged
//! write (and append) is readable. The processes are killed when the test ends,
//! even on failure ([`LocalCluster`] kills them on drop).
//!
//! The crypto crates are optimized even in debug builds (workspace `Cargo.toml`), so this
//! test's own `replica` binary is fast enough; `REPLICA_BIN=<path>` overrides it.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

mod common;

use replica::local_cluster::LocalCluster;
use replica::state_machine::{OpResult, Operation};
use replica::ClientError;
use serde_json::{json, Value};

const CLIENTS: usize = 8;
const OPS_PER_CLIENT: usize = 125;
const KILLED: usize = 3;

/// What one client saw: per key, the last acknowledged value and whether a later
/// write to it was indeterminate; appended values acknowledged.
#[derive(Default)]
struct Seen {
    writes: BTreeMap<String, (Option<i64>, bool)>,
    appended: Vec<i64>,
    uncertain_appends: Vec<i64>,
}

async fn client_run(cluster: Arc<LocalCluster>, c: usize, done: Arc<AtomicUsize>) -> Seen {
    let mut client = cluster.client(c).expect("client");
    client.set_retransmit(Duration::from_millis(500));
    let mut seen = Seen::default();
    for i in 0..OPS_PER_CLIENT {
        let v = (c * 10_000 + i) as i64;
        let key = format!("c{c}-k{}", i % 4);
        let op = match i % 3 {
            0 | 1 => Operation::Write {
                key: key.clone(),
                value: json!(v),
            },
            _ => Operation::Append {
                key: format!("list-{c}"),
                value: json!(v),
            },
        };
        match client.invoke(op.clone(), Duration::from_secs(10)).await {
            Ok(OpResult::Write) => {
                seen.writes.insert(key, (Some(v), false));
            }
            Ok(OpResult::Append) => seen.appended.push(v),
            Ok(other) => panic!("unexpected result {other:?} for {op:?}"),
            Err(ClientError::Timeout(_)) => match op {
                Operation::Write { .. } => seen.writes.entry(key).or_insert((None, false)).1 = true,
                _ => seen.uncertain_appends.push(v),
            },
            Err(e) => panic!("definite error {e}"),
        }
        done.fetch_add(1, Ordering::Relaxed);
    }
    seen
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_and_restart_a_replica_during_1000_operations() {
    let dir = tempfile::tempdir().unwrap();
    let binary = optimized_replica_binary();
    let args = [
        "--fsync",
        "never",
        "--checkpoint-interval",
        "32",
        "--log-window",
        "128",
    ];
    let cluster =
        LocalCluster::start(&binary, dir.path(), 1, CLIENTS, &args).expect("start cluster");
    let cluster = Arc::new(cluster);
    cluster
        .wait_ready(Duration::from_secs(20))
        .await
        .expect("replicas ready");
    let started = Instant::now();

    let done = Arc::new(AtomicUsize::new(0));
    let tasks: Vec<_> = (0..CLIENTS)
        .map(|c| tokio::spawn(client_run(cluster.clone(), c, done.clone())))
        .collect();

    // --- kill replica 3 with SIGKILL once a third of the operations are done, restart it
    while done.load(Ordering::Relaxed) < CLIENTS * OPS_PER_CLIENT / 3 {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    eprintln!("killing replica {KILLED} after {:?}", started.elapsed());
    cluster.kill(KILLED).expect("SIGKILL the replica");
    tokio::time::sleep(Duration::from_millis(300)).await;
    cluster.restart(KILLED).expect("restart");
    eprintln!("restarted replica {KILLED} after {:?}", started.elapsed());
    {
        let done = done.clone();
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(Duration::from_secs(1)).await;
                eprintln!("progress: {} operations", done.load(Ordering::Relaxed));
            }
        });
    }

    let mut seen = Vec::new();
    for t in tasks {
        seen.push(t.await.expect("client task"));
    }
    eprintln!(
        "{} operations in {:?}",
        CLIENTS * OPS_PER_CLIENT,
        started.elapsed()
    );

    // --- agreement: every pair of logs agrees on every sequence number both executed
    tokio::time::sleep(Duration::from_millis(500)).await;
    let logs = common::assert_logs_agree(&cluster, 4).await;
    eprintln!(
        "log lengths: {:?}",
        logs.iter().map(|l| l.len()).collect::<Vec<_>>()
    );
    let longest = logs.iter().map(|l| l.len()).max().unwrap_or(0);
    let complete = logs.iter().filter(|l| l.len() == longest).count();
    assert!(complete >= 3, "at least 2f+1 replicas executed everything");

    // --- every acknowledged write and append is readable (through f+1 matching replies)
    let mut reader = cluster.client(0).unwrap();
    for (c, s) in seen.iter().enumerate() {
        for (key, (acked, uncertain)) in &s.writes {
            let got = read(&mut reader, key).await;
            if *uncertain {
                continue;
            }
            assert_eq!(
                got,
                json!(acked.unwrap()),
                "acknowledged write to {key} lost"
            );
        }
        let list = read(&mut reader, &format!("list-{c}")).await;
        let items: Vec<i64> = list
            .as_array()
            .map(|a| a.iter().filter_map(|v| v.as_i64()).collect())
            .unwrap_or_default();
        for v in &s.appended {
            assert_eq!(
                items.iter().filter(|x| *x == v).count(),
                1,
                "append {v} not exactly once"
            );
        }
        assert!(items.len() <= s.appended.len() + s.uncertain_appends.len());
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn status_log_and_clock_endpoints() {
    let dir = tempfile::tempdir().unwrap();
    let binary = optimized_replica_binary();
    let cluster =
        LocalCluster::start(&binary, dir.path(), 1, 1, &["--fsync", "never"]).expect("start");
    cluster
        .wait_ready(Duration::from_secs(20))
        .await
        .expect("ready");
    let mut client = cluster.client(0).unwrap();
    let op = Operation::Cas {
        key: "x".into(),
        from: Value::Null,
        to: json!(1),
    };
    assert_eq!(
        client.invoke(op, Duration::from_secs(10)).await.unwrap(),
        OpResult::Cas { ok: true }
    );
    let op = Operation::Cas {
        key: "x".into(),
        from: json!(5),
        to: json!(6),
    };
    assert_eq!(
        client.invoke(op, Duration::from_secs(10)).await.unwrap(),
        OpResult::Cas { ok: false }
    );

    let http = reqwest::Client::new();
    let base = format!("http://{}", cluster.config.replicas[0].listen);
    let status: Value = http
        .get(format!("{base}/status"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    for field in [
        "id",
        "view",
        "last_executed",
        "stable_checkpoint",
        "low_watermark",
        "high_watermark",
        "state_digest",
        "view_changes",
        "view_installed_at_ms",
    ] {
        assert!(
            status.get(field).is_some(),
            "/status lacks {field}: {status}"
        );
    }
    let log: Value = http
        .get(format!("{base}/log"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        log.as_array().unwrap().len() as u64,
        status["last_executed"].as_u64().unwrap()
    );
    assert!(log[0]["digest"].as_str().unwrap().len() == 64);

    let set = json!({"offset_ms": 5000, "rate": 2.0});
    let r = http
        .post(format!("{base}/clock"))
        .json(&set)
        .send()
        .await
        .unwrap();
    assert!(r.status().is_success());
    let got: Value = http
        .get(format!("{base}/clock"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(got, set);
    // SIGTERM stops a replica promptly; it recovers its state on restart.
    assert!(
        cluster.terminate(1, Duration::from_secs(2)),
        "SIGTERM exits within 2 s"
    );
    cluster.restart(1).unwrap();
    cluster.wait_ready(Duration::from_secs(20)).await.unwrap();
    let s1 = cluster.status(1).await.unwrap();
    assert_eq!(s1.last_executed, status["last_executed"].as_u64().unwrap());

    // A request from an unknown client is refused (a definite error, not a timeout).
    let stranger = ed25519_dalek::SigningKey::from_bytes(&[3; 32]);
    let mut bad = replica::Client::new(&cluster.config, 99, stranger).unwrap();
    let r = bad
        .invoke(Operation::Read { key: "x".into() }, Duration::from_secs(5))
        .await;
    assert!(matches!(r, Err(ClientError::Rejected(_))), "{r:?}");
}

async fn read(client: &mut replica::Client, key: &str) -> Value {
    match client
        .invoke(Operation::Read { key: key.into() }, Duration::from_secs(10))
        .await
    {
        Ok(OpResult::Read { value }) => value,
        other => panic!("read {key}: {other:?}"),
    }
}

/// The `replica` binary to run: `REPLICA_BIN` if set, else this build's. (Debug builds
/// optimize the crypto crates, see the workspace `Cargo.toml`, so either is fast enough.)
fn optimized_replica_binary() -> PathBuf {
    std::env::var_os("REPLICA_BIN")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_BIN_EXE_replica")))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tagged_peer_messages_are_counted_with_their_rejections_by_reason() {
    use replica::config::read_key_file;
    use replica::crypto::{Digest, Signed};
    use replica::messages::{Commit, PeerMessage};
    use replica::server::TAG_HEADER;

    let dir = tempfile::tempdir().unwrap();
    let binary = optimized_replica_binary();
    let cluster =
        LocalCluster::start(&binary, dir.path(), 1, 1, &["--fsync", "never"]).expect("start");
    cluster
        .wait_ready(Duration::from_secs(20))
        .await
        .expect("ready");
    let http = reqwest::Client::new();
    let to_1 = format!("http://{}/pbft", cluster.config.replicas[1].listen);
    let post = |tag: &'static str, body: String| {
        http.post(&to_1)
            .header("content-type", "application/json")
            .header(TAG_HEADER, tag)
            .body(body)
            .send()
    };
    let commit = |view| Commit {
        view,
        seq: 1,
        digest: Digest::of(b"x"),
        replica: 2,
    };
    let key_2 = read_key_file(&cluster.layout().key_file(2)).unwrap();
    let key_3 = read_key_file(&cluster.layout().key_file(3)).unwrap();
    let signed = |view, key| {
        serde_json::to_string(&PeerMessage::Commit(Signed::sign(commit(view), key))).unwrap()
    };
    assert_eq!(
        post("probe-format", "{".into()).await.unwrap().status(),
        400
    );
    let forged = post("probe-signature", signed(0, &key_3)).await.unwrap();
    assert_eq!(forged.status(), 403);
    for _ in 0..2 {
        let r = post("probe-view", signed(7, &key_2)).await.unwrap();
        assert_eq!(r.status(), 202);
    }
    assert_eq!(
        post("probe-fine", signed(0, &key_2))
            .await
            .unwrap()
            .status(),
        202
    );
    // Untagged: counted by reason, under no tag.
    let untagged = http
        .post(&to_1)
        .header("content-type", "application/json")
        .body("[]")
        .send()
        .await
        .unwrap();
    assert_eq!(untagged.status(), 400);

    let status = cluster.status(1).await.expect("replica 1 answers /status");
    let t = &status.tagged.0;
    let counts = |tag: &str| {
        let c = &t[tag];
        let rejected: Vec<(&str, u64)> = c.rejected.iter().map(|(k, v)| (k.as_str(), *v)).collect();
        (c.received, rejected)
    };
    assert_eq!(counts("probe-format"), (1, vec![("malformed", 1)]), "{t:?}");
    assert_eq!(
        counts("probe-signature"),
        (1, vec![("bad-signature", 1)]),
        "{t:?}"
    );
    assert_eq!(counts("probe-view"), (2, vec![("wrong-view", 2)]), "{t:?}");
    assert_eq!(counts("probe-fine"), (1, vec![]), "{t:?}");
    assert_eq!(t.len(), 4, "{t:?}");
    assert_eq!(status.rejections["malformed"], 2, "{:?}", status.rejections);
    assert_eq!(
        status.rejections["wrong-view"], 2,
        "{:?}",
        status.rejections
    );
}
