//! The cluster under test: `3f+1` replica processes on loopback, started by the
//! replica crate's one launcher ([`LocalCluster`]), with the interposing proxy on every
//! link, and the run's bookkeeping of crashes.
//!
//! With the proxy on (the default), the cluster file gives replica `i` the proxy's
//! listener for link `i->j` as its address of `j`, and clients get the proxy's client
//! listeners: no message goes from one process to another except through the proxy.
//!
//! Replicas are the harness re-executed (`harness replica --parent-pid P [--exec BIN]
//! -- ...`): that wrapper arms the parent-death signal, so replicas die with the
//! harness even if it is killed before it can clean up.
//!
//! The nemesis's process faults go through [`nemesis::Processes`]; any exit of a
//! replica that is not the nemesis's (or the final stop's) is a [`Crash`], kept with
//! the end of its log as evidence.

use crate::run::shutdown::Stop;
use crate::run::status::Settled;
use anyhow::{Context, Result};
use nemesis::Proxy;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use replica::local_cluster::{
    free_ports, log_tail, write_cluster, ClusterLayout, Identities, Launch, LocalCluster, NotReady,
};
use results::record::{Crash, ReplicaExit};
use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use workloads::PbftClient;

/// How many times the cluster is started on fresh ports when a port turns out taken.
const PORT_ATTEMPTS: u32 = 3;
/// Lines of a crashed replica's log kept as evidence.
const TAIL_LINES: usize = 15;

/// What to start.
#[derive(Debug, Clone)]
pub(crate) struct ClusterSpec {
    /// Fault bound; n = 3f+1.
    pub(crate) f: usize,
    /// Client identities to register in the cluster file.
    pub(crate) clients: usize,
    /// Seed of the key pairs.
    pub(crate) seed: u64,
    /// How long to wait for readiness.
    pub(crate) ready_timeout: Duration,
    /// Route every message through the interposing proxy.
    pub(crate) proxy: bool,
    /// An external replica binary to run instead of the harness's own replica.
    pub(crate) replica_bin: Option<PathBuf>,
    /// Flags every replica gets besides its identity and files.
    pub(crate) replica_flags: Vec<String>,
    /// When the history's clock started (crash times are history times).
    pub(crate) history_start: std::time::Instant,
}

/// Running replica processes and the proxy between them. Dropping it kills and reaps
/// every replica.
#[derive(Debug)]
pub(crate) struct Cluster {
    processes: LocalCluster,
    ids: Identities,
    proxy: Option<Arc<Proxy>>,
    /// Replicas that exited without the nemesis killing them.
    crashes: Mutex<Vec<Crash>>,
    /// Set once `stop` begins: exits from then on are expected.
    stopping: AtomicBool,
    /// When the history's clock started.
    history_start: std::time::Instant,
}

impl Cluster {
    /// Writes keys (from the seed) and the cluster file in `run_dir`, starts every
    /// replica and waits until all answer, unless `stop` is set first. If a replica
    /// finds its port taken (another process grabbed it between our pick and its
    /// bind), starts again on fresh ports.
    pub(crate) async fn launch(run_dir: &Path, spec: &ClusterSpec, stop: &Stop) -> Result<Cluster> {
        let layout = ClusterLayout::new(run_dir);
        let n = 3 * spec.f + 1;
        let mut rng = ChaCha8Rng::seed_from_u64(spec.seed);
        rng.set_stream(nemesis::streams::KEYS);
        let ids = Identities::from_rng(n, spec.clients, &mut rng);
        let launch = harness_launch(spec)?;
        for attempt in 1..=PORT_ATTEMPTS {
            let ports = free_ports(n).context("cannot pick free ports")?;
            let proxy = match spec.proxy {
                true => {
                    let targets = ports.iter().map(|p| format!("127.0.0.1:{p}")).collect();
                    let proxy = Proxy::start(targets, spec.seed).await;
                    Some(Arc::new(proxy.context("cannot start the proxy")?))
                }
                false => None,
            };
            let peer_addr = proxy.clone().map(|p| move |i, j| p.peer_addr(i, j));
            let peer_addr = peer_addr
                .as_ref()
                .map(|f| f as &dyn Fn(usize, usize) -> String);
            let config = write_cluster(&layout, spec.f, &ids, &ports, peer_addr)?;
            let processes =
                LocalCluster::new(layout.clone(), config, ids.clients.clone(), launch.clone());
            let cluster = Cluster {
                processes,
                ids: ids.clone(),
                proxy,
                crashes: Mutex::new(Vec::new()),
                stopping: AtomicBool::new(false),
                history_start: spec.history_start,
            };
            cluster.processes.spawn_all()?;
            let mut stop = stop.clone();
            let ready = cluster
                .processes
                .wait_ready_or(spec.ready_timeout, async move { stop.wait().await })
                .await;
            match ready {
                Ok(()) => return Ok(cluster),
                Err(NotReady::Replica {
                    port_clash: true,
                    reason,
                    ..
                }) if attempt < PORT_ATTEMPTS => {
                    tracing::warn!(attempt, %reason, "a port was taken; starting again on fresh ports");
                    drop(cluster);
                    for i in 0..n {
                        let _ = std::fs::remove_dir_all(layout.data_dir(i));
                    }
                }
                Err(NotReady::Cancelled) => {
                    anyhow::bail!("interrupted while the cluster started")
                }
                Err(not_ready) => {
                    return Err(anyhow::Error::new(not_ready).context("the cluster did not start"))
                }
            }
        }
        unreachable!("the last attempt returns")
    }

    /// A PBFT client with identity `id` (below the `clients` of the spec).
    pub(crate) fn client(&self, id: usize) -> Result<PbftClient> {
        let (id, key) = self
            .ids
            .clients
            .get(id)
            .cloned()
            .with_context(|| format!("no client identity {id}"))?;
        let config = &self.processes.config;
        Ok(match &self.proxy {
            Some(proxy) => {
                let addrs = (0..config.n()).map(|j| proxy.client_addr(j)).collect();
                PbftClient::with_addrs(config, id, key, addrs)?
            }
            None => PbftClient::new(config, id, key)?,
        })
    }

    /// Every replica's signing key (Byzantine replicas are re-signed with theirs).
    pub(crate) fn replica_keys(&self) -> Vec<ed25519_dalek::SigningKey> {
        self.ids.replicas.clone()
    }

    /// Number of client identities.
    pub(crate) fn clients(&self) -> u64 {
        self.ids.clients.len() as u64
    }

    /// The proxy every message crosses, unless the run has `--no-proxy`.
    pub(crate) fn proxy(&self) -> Option<Arc<Proxy>> {
        self.proxy.clone()
    }

    /// Every replica's real address (for `/status`, `/log` and `/clock`).
    pub(crate) fn listen_addrs(&self) -> Vec<String> {
        self.processes.listen_addrs()
    }

    /// Looks for replicas that exited on their own; `now` is the history time.
    pub(crate) fn watch_crashes(&self, now: Duration) {
        if self.stopping.load(Ordering::SeqCst) {
            return;
        }
        let found = self.processes.poll_exits();
        let mut crashes = self.crashes.lock().expect("crash lock poisoned");
        for (replica, status) in found {
            tracing::error!(replica, %status, "replica exited without the nemesis killing it");
            crashes.push(Crash {
                replica,
                at_s: Some(now.as_secs_f64()),
                status,
                log_tail: log_tail(&self.processes.layout().log_file(replica), TAIL_LINES),
            });
        }
    }

    /// Every replica must be running and answering at the end: one that is not (its
    /// restart failed, it never got ready, it stayed paused) is a crash, with its log.
    pub(crate) fn judge_at_end(&self, settled: &Settled, now: Duration) {
        self.watch_crashes(now);
        for i in 0..self.processes.config.n() {
            let status = match (self.processes.pid(i), settled.statuses.get(i)) {
                (None, _) => format!(
                    "not running at the end ({})",
                    self.processes
                        .exit_of(i)
                        .unwrap_or_else(|| "never started".into())
                ),
                (Some(_), Some(Some(_))) => continue,
                (Some(_), _) => format!(
                    "running but not answering GET /status at the end (waited {:.1} s)",
                    settled.waited.as_secs_f64()
                ),
            };
            self.lost(i, now, status);
        }
    }

    /// Notes replica `replica` as lost at `now` (history time), once: a crash with its
    /// log tail (a restart that failed, a replica that never got ready).
    pub(crate) fn lost(&self, replica: usize, now: Duration, status: String) {
        let mut crashes = self.crashes.lock().expect("crash lock poisoned");
        if crashes.iter().any(|c| c.replica == replica) {
            return;
        }
        tracing::error!(replica, %status, "replica lost");
        crashes.push(Crash {
            replica,
            at_s: Some(now.as_secs_f64()),
            status,
            log_tail: log_tail(&self.processes.layout().log_file(replica), TAIL_LINES),
        });
    }

    /// Stops every replica: SIGTERM, then SIGKILL to whatever is left after `grace`;
    /// reaps them and says how each ended.
    pub(crate) fn stop(&self, grace: Duration) -> Vec<ReplicaExit> {
        self.stopping.store(true, Ordering::SeqCst);
        self.processes
            .stop_all(grace)
            .into_iter()
            .map(|e| ReplicaExit {
                id: e.id,
                pid: e.pid,
                status: e.status,
            })
            .collect()
    }

    /// The crashes seen during the run, plus replicas that exited with an error when
    /// stopped (a clean stop is `exited 0`, or our SIGKILL after the grace period).
    pub(crate) fn crashes(&self, exits: &[ReplicaExit]) -> Vec<Crash> {
        let mut crashes = self.crashes.lock().expect("crash lock poisoned").clone();
        for e in exits {
            let failed = e.status.starts_with("exited ") && e.status != "exited 0";
            let known = crashes.iter().any(|c| c.replica == e.id);
            if failed && !known {
                crashes.push(Crash {
                    replica: e.id,
                    at_s: None,
                    status: format!("{} when stopped", e.status),
                    log_tail: log_tail(&self.processes.layout().log_file(e.id), TAIL_LINES),
                });
            }
        }
        crashes
    }
}

/// Replicas as the harness re-executed: `harness replica --parent-pid P [--exec BIN]
/// -- <replica flags>`, logging at `HARNESS_REPLICA_LOG` (default `info`).
fn harness_launch(spec: &ClusterSpec) -> Result<Launch> {
    let harness = std::env::current_exe().context("cannot find the harness binary")?;
    let mut prefix: Vec<OsString> = vec![
        "replica".into(),
        "--parent-pid".into(),
        std::process::id().to_string().into(),
    ];
    if let Some(bin) = &spec.replica_bin {
        prefix.extend(["--exec".into(), bin.clone().into_os_string()]);
    }
    prefix.push("--".into());
    let log = std::env::var("HARNESS_REPLICA_LOG").unwrap_or_else(|_| "info".into());
    Ok(Launch::wrapped(&harness, prefix)
        .flags(spec.replica_flags.iter().cloned())
        .env("RUST_LOG", &log))
}

/// Turns a process error into the nemesis's.
fn process_error(replica: usize, e: replica::Error) -> nemesis::Error {
    let reason = match e {
        replica::Error::Process { reason, .. } => reason,
        other => other.to_string(),
    };
    nemesis::Error::Process { replica, reason }
}

impl nemesis::Processes for Cluster {
    fn kill(&self, i: usize) -> nemesis::Result<()> {
        // An exit of its own first, so it is not mistaken for ours.
        self.watch_crashes(Duration::ZERO);
        self.processes.kill(i).map_err(|e| process_error(i, e))?;
        Ok(())
    }

    fn start(&self, i: usize) -> nemesis::Result<()> {
        self.processes.start_again(i).map_err(|e| {
            let e = process_error(i, e);
            let now = self.history_start.elapsed();
            self.lost(i, now, format!("restart failed: {e}"));
            e
        })
    }

    fn pause(&self, i: usize) -> nemesis::Result<()> {
        self.processes.pause(i).map_err(|e| process_error(i, e))
    }

    fn resume(&self, i: usize) -> nemesis::Result<()> {
        self.processes.resume(i).map_err(|e| process_error(i, e))
    }
}
