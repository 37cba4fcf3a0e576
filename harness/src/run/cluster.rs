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
//!
//! With disk faults (or `--disk-layer`), each replica's data directory is a
//! `diskfault` FUSE mount over `<run>/disk/<i>` (the durable bytes), mounted in this
//! process and unmounted when the cluster is dropped, after its replicas are killed.
//! The nemesis's disk faults go through the mounts' [`diskfault::DiskFaults`].

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
use std::collections::BTreeSet;
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
    /// Put each data directory on the disk-fault layer.
    pub(crate) disk_layer: bool,
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
    // Declared first, dropped first: the replicas die before their disks unmount.
    processes: LocalCluster,
    /// The disk-fault layer under each replica's data directory (empty: none).
    disks: Vec<Disk>,
    /// Replicas under a disk fault: their exits are the nemesis's doing.
    disk_faulted: Mutex<BTreeSet<usize>>,
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
            let disks = match spec.disk_layer {
                true => mount_disks(run_dir, &layout, n)?,
                false => Vec::new(),
            };
            let cluster = Cluster {
                processes,
                disks,
                disk_faulted: Mutex::new(BTreeSet::new()),
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
                        let _ = std::fs::remove_dir_all(backing_dir(run_dir, i));
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
        let faulted = self
            .disk_faulted
            .lock()
            .expect("disk lock poisoned")
            .clone();
        let mut crashes = self.crashes.lock().expect("crash lock poisoned");
        for (replica, status) in found {
            if faulted.contains(&replica) {
                tracing::info!(replica, %status, "replica exited under a disk fault");
                continue;
            }
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

/// One replica's disk-fault layer.
#[derive(Debug)]
struct Disk {
    layer: diskfault::FaultyDir,
    /// The durable bytes under the mount.
    backing: PathBuf,
}

/// Where replica `i`'s durable bytes live under the layer.
fn backing_dir(run_dir: &Path, i: usize) -> PathBuf {
    run_dir.join("disk").join(i.to_string())
}

/// Mounts the layer over `<run>/disk/<i>` at every replica's data directory; fails
/// with the reason (and unmounts what it mounted) when FUSE is not there.
fn mount_disks(run_dir: &Path, layout: &ClusterLayout, n: usize) -> Result<Vec<Disk>> {
    if let Some(reason) = diskfault::fuse_unavailable() {
        anyhow::bail!(
            "disk faults need the FUSE layer under the replicas, and FUSE is not available: \
             {reason} (install Debian's fuse3, or drop the disk faults and --disk-layer)"
        );
    }
    let mut disks = Vec::with_capacity(n);
    for i in 0..n {
        let backing = backing_dir(run_dir, i);
        let mountpoint = layout.data_dir(i);
        for dir in [&backing, &mountpoint] {
            std::fs::create_dir_all(dir)
                .with_context(|| format!("cannot create {}", dir.display()))?;
        }
        let layer = diskfault::FaultyDir::mount(&backing, &mountpoint)
            .with_context(|| format!("cannot mount the disk-fault layer for replica {i}"))?;
        disks.push(Disk { layer, backing });
    }
    tracing::info!(n, "data directories on the disk-fault layer");
    Ok(disks)
}

/// Turns a layer error into the nemesis's.
fn disk_error(replica: usize, e: diskfault::Error) -> nemesis::Error {
    nemesis::Error::Process {
        replica,
        reason: e.to_string(),
    }
}

impl Cluster {
    fn disk(&self, i: usize) -> nemesis::Result<&Disk> {
        self.disks.get(i).ok_or_else(|| nemesis::Error::Process {
            replica: i,
            reason: "the run has no disk-fault layer under its replicas".into(),
        })
    }

    /// A fresh folder for replica `i`'s data set aside.
    fn aside_dir(&self, i: usize) -> PathBuf {
        let dir = self.processes.layout().replica_dir(i);
        (1..)
            .map(|k| dir.join(format!("set-aside-{k}")))
            .find(|d| !d.exists())
            .expect("some number is free")
    }
}

impl nemesis::Processes for Cluster {
    fn disk_fault_underway(&self, i: usize, on: bool) {
        let mut faulted = self.disk_faulted.lock().expect("disk lock poisoned");
        if on {
            faulted.insert(i);
        } else {
            faulted.remove(&i);
        }
    }

    fn lose_unsynced(&self, i: usize) -> nemesis::Result<serde_json::Value> {
        let loss = self.disk(i)?.layer.faults().lose_unsynced();
        Ok(serde_json::json!({"dropped_files": loss.files, "dropped_bytes": loss.bytes}))
    }

    fn torn_write(
        &self,
        i: usize,
        file: nemesis::DiskFile,
        keep_bytes: usize,
    ) -> nemesis::Result<serde_json::Value> {
        let faults = self.disk(i)?.layer.faults();
        let torn = faults
            .torn_write(Path::new(file.file_name()), keep_bytes)
            .map_err(|e| disk_error(i, e))?;
        Ok(match torn {
            Some(t) => serde_json::json!({"file": file.file_name(), "offset": t.offset,
                "kept": t.kept, "dropped_files": t.loss.files, "dropped_bytes": t.loss.bytes}),
            None => serde_json::json!({"file": file.file_name(), "torn": false,
                "note": "no unsynced write to the file: a plain power loss"}),
        })
    }

    fn durable_len(&self, i: usize, file: nemesis::DiskFile) -> nemesis::Result<u64> {
        let path = self.disk(i)?.backing.join(file.file_name());
        match std::fs::metadata(&path) {
            Ok(m) => Ok(m.len()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(0),
            Err(e) => Err(nemesis::Error::Process {
                replica: i,
                reason: format!("stat {}: {e}", path.display()),
            }),
        }
    }

    fn corrupt(
        &self,
        i: usize,
        file: nemesis::DiskFile,
        range: std::ops::Range<u64>,
        mode: nemesis::CorruptMode,
    ) -> nemesis::Result<()> {
        let how = match mode {
            nemesis::CorruptMode::FlipBits => diskfault::Corruption::FlipBits,
            nemesis::CorruptMode::FlipLowBit => diskfault::Corruption::FlipLowBit,
            nemesis::CorruptMode::Zero => diskfault::Corruption::Zero,
            nemesis::CorruptMode::Truncate => diskfault::Corruption::Truncate,
        };
        self.disk(i)?
            .layer
            .faults()
            .corrupt(Path::new(file.file_name()), range, how)
            .map_err(|e| disk_error(i, e))
    }

    fn read_error(
        &self,
        i: usize,
        file: nemesis::DiskFile,
        duration: Duration,
    ) -> nemesis::Result<()> {
        self.disk(i)?
            .layer
            .faults()
            .read_error(Path::new(file.file_name()), duration)
            .map_err(|e| disk_error(i, e))
    }

    fn passthrough(&self, i: usize) -> nemesis::Result<()> {
        self.disk(i)?.layer.faults().passthrough();
        Ok(())
    }

    fn exited(&self, i: usize) -> Option<String> {
        match self.processes.pid(i) {
            Some(_) => None,
            None => Some(
                self.processes
                    .exit_of(i)
                    .unwrap_or_else(|| "not running".into()),
            ),
        }
    }

    fn log_tail(&self, i: usize) -> String {
        log_tail(&self.processes.layout().log_file(i), 6)
    }

    fn set_aside(&self, i: usize) -> nemesis::Result<serde_json::Value> {
        let disk = self.disk(i)?;
        let err = |what: &str, p: &Path, e: std::io::Error| nemesis::Error::Process {
            replica: i,
            reason: format!("set aside: {what} {}: {e}", p.display()),
        };
        let aside = self.aside_dir(i);
        std::fs::create_dir_all(&aside).map_err(|e| err("create", &aside, e))?;
        let data = self.processes.layout().data_dir(i);
        let mut files = Vec::new();
        let entries =
            std::fs::read_dir(&disk.backing).map_err(|e| err("list", &disk.backing, e))?;
        for entry in entries.flatten() {
            let name = entry.file_name();
            let from = entry.path();
            if from.is_file() {
                std::fs::copy(&from, aside.join(&name)).map_err(|e| err("copy", &from, e))?;
            }
            // Removed through the mount, so the layer forgets the file too.
            let through = data.join(&name);
            let removed = match through.is_dir() {
                true => std::fs::remove_dir_all(&through),
                false => std::fs::remove_file(&through),
            };
            removed.map_err(|e| err("remove", &through, e))?;
            files.push(name.to_string_lossy().into_owned());
        }
        Ok(serde_json::json!({"files": files, "kept_in": aside.display().to_string()}))
    }

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
