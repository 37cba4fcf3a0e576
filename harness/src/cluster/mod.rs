//! The cluster under test: `3f+1` replica processes on loopback, owned by a [`Cluster`]
//! guard that kills and reaps every one of them when dropped.
//!
//! - [`layout`]: the files of a run's cluster (keys, cluster file, logs, data).
//! - [`process`]: starting one replica process and signalling its group.
//! - [`ready`]: waiting until every replica answers.
//! - [`control`]: the nemesis's process faults (kill/start, pause/resume) and the crash
//!   watch (a replica that exits without the nemesis killing it).
//!
//! With the proxy on (the default), the cluster file gives replica `i` the proxy's
//! listener for link `i->j` as its address of `j`, and clients get the proxy's client
//! listeners: no message goes from one process to another except through the proxy.
//!
//! Replicas also die if the harness dies without dropping the guard (SIGKILL, a panic
//! that aborts): each arms a parent-death signal (see [`process`]).

pub(crate) mod control;
pub(crate) mod layout;
pub(crate) mod process;
pub(crate) mod ready;

use crate::shutdown::Stop;
use anyhow::{Context, Result};
use control::Crash;
use layout::{write_cluster, Identities, Layout};
use nemesis::Proxy;
use nix::sys::signal::Signal;
use process::{describe_exit, signal_group, Launcher};
use ready::NotReady;
use replica::ClusterConfig;
use serde::Serialize;
use std::path::Path;
use std::process::Child;
use std::sync::atomic::AtomicBool;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use workloads::PbftClient;

/// How many times the cluster is started on fresh ports when a port turns out taken.
const PORT_ATTEMPTS: u32 = 3;

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
}

/// One replica process.
#[derive(Debug)]
struct Slot {
    child: Option<Child>,
    pid: u32,
    exit: Option<String>,
    /// Times this replica was started.
    starts: u32,
}

/// How a replica process ended, for results.json.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct ReplicaExit {
    /// Replica id.
    pub(crate) id: usize,
    /// Its last process id.
    pub(crate) pid: u32,
    /// How it ended ("exited 0", "killed by SIGKILL", ...).
    pub(crate) status: String,
}

/// Running replica processes; dropping it kills (SIGKILL to each process group) and reaps
/// them all.
#[derive(Debug)]
pub(crate) struct Cluster {
    layout: Layout,
    config: ClusterConfig,
    ids: Identities,
    launcher: Launcher,
    slots: Mutex<Vec<Slot>>,
    proxy: Option<Arc<Proxy>>,
    /// Replicas that exited without the nemesis killing them.
    crashes: Mutex<Vec<Crash>>,
    /// Set once `stop` begins: exits from then on are expected.
    stopping: AtomicBool,
}

impl Cluster {
    /// Generates keys and the cluster file in `run_dir`, starts every replica and waits
    /// until all answer. If a replica finds its port taken (another run grabbed it between
    /// our pick and its bind), starts again on fresh ports.
    pub(crate) async fn launch(
        run_dir: &Path,
        spec: &ClusterSpec,
        launcher: Launcher,
        stop: &mut Stop,
    ) -> Result<Cluster> {
        let layout = Layout::new(run_dir);
        let n = 3 * spec.f + 1;
        let ids = Identities::generate(n, spec.clients, spec.seed);
        for attempt in 1..=PORT_ATTEMPTS {
            let ports = replica::local_cluster::free_ports(n).context("cannot pick free ports")?;
            let proxy = if spec.proxy {
                let targets = ports.iter().map(|p| format!("127.0.0.1:{p}")).collect();
                Some(Arc::new(
                    Proxy::start(targets, spec.seed)
                        .await
                        .context("cannot start the proxy")?,
                ))
            } else {
                None
            };
            let config = write_cluster(&layout, spec.f, &ids, &ports, proxy.as_deref())?;
            let cluster = Cluster {
                layout: layout.clone(),
                config,
                ids: ids.clone(),
                launcher: launcher.clone(),
                slots: Mutex::new(Vec::new()),
                proxy,
                crashes: Mutex::new(Vec::new()),
                stopping: AtomicBool::new(false),
            };
            for i in 0..n {
                cluster.spawn(i, attempt)?;
            }
            match cluster.wait_ready(spec.ready_timeout, stop).await {
                Ok(()) => return Ok(cluster),
                Err(NotReady::Replica {
                    port_clash: true,
                    reason,
                }) if attempt < PORT_ATTEMPTS => {
                    tracing::warn!(attempt, %reason, "a port was taken; starting again on fresh ports");
                    drop(cluster);
                    for i in 0..n {
                        let _ = std::fs::remove_dir_all(layout.data_dir(i));
                    }
                }
                Err(not_ready) => return Err(not_ready.into_error()),
            }
        }
        unreachable!("the last attempt returns")
    }

    /// Starts replica `i` and records its pid. `attempt` counts whole-cluster starts
    /// (port clashes); restarts by the nemesis are counted per replica.
    fn spawn(&self, i: usize, attempt: u32) -> Result<()> {
        let mut slots = self.slots.lock().expect("cluster lock poisoned");
        let starts = slots.get(i).map_or(0, |s| s.starts) + 1;
        let child = self.launcher.spawn(&self.layout, i, attempt.max(starts))?;
        let slot = Slot {
            pid: child.id(),
            child: Some(child),
            exit: None,
            starts,
        };
        if i < slots.len() {
            slots[i] = slot;
        } else {
            slots.push(slot);
        }
        let pids: String = slots
            .iter()
            .enumerate()
            .map(|(id, s)| format!("{id} {}\n", s.pid))
            .collect();
        drop(slots);
        let path = self.layout.pids_file();
        std::fs::write(&path, pids).with_context(|| format!("cannot write {}", path.display()))
    }

    /// How replica `i` ended, if it has.
    fn exited(&self, i: usize) -> Option<String> {
        let mut slots = self.slots.lock().expect("cluster lock poisoned");
        let slot = slots.get_mut(i)?;
        if let Some(child) = &mut slot.child {
            if let Ok(Some(status)) = child.try_wait() {
                slot.exit = Some(describe_exit(status));
                slot.child = None;
            }
        }
        slot.exit.clone()
    }

    /// A PBFT client with identity `id` (below the `clients` of the spec).
    pub(crate) fn client(&self, id: usize) -> Result<PbftClient> {
        let (id, key) = self
            .ids
            .clients
            .get(id)
            .cloned()
            .with_context(|| format!("no client identity {id}"))?;
        Ok(match &self.proxy {
            Some(proxy) => {
                let addrs = (0..self.config.n()).map(|j| proxy.client_addr(j)).collect();
                PbftClient::with_addrs(&self.config, id, key, addrs)?
            }
            None => PbftClient::new(&self.config, id, key)?,
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
        self.config.listen_addrs()
    }

    /// Stops every replica: SIGTERM, then SIGKILL to whatever is left after `grace`;
    /// reaps them and says how each ended.
    pub(crate) fn stop(&self, grace: Duration) -> Vec<ReplicaExit> {
        self.stopping
            .store(true, std::sync::atomic::Ordering::SeqCst);
        let mut slots = self.slots.lock().expect("cluster lock poisoned");
        for slot in slots.iter().filter(|s| s.child.is_some()) {
            // A paused replica would hold its SIGTERM until the grace ran out.
            signal_group(slot.pid, Signal::SIGCONT);
            signal_group(slot.pid, Signal::SIGTERM);
        }
        let deadline = Instant::now() + grace;
        loop {
            let mut running = 0;
            for slot in slots.iter_mut() {
                if let Some(child) = &mut slot.child {
                    match child.try_wait() {
                        Ok(Some(status)) => {
                            slot.exit = Some(describe_exit(status));
                            slot.child = None;
                        }
                        _ => running += 1,
                    }
                }
            }
            if running == 0 || Instant::now() >= deadline {
                break;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        kill_and_reap(&mut slots);
        slots
            .iter()
            .enumerate()
            .map(|(id, s)| ReplicaExit {
                id,
                pid: s.pid,
                status: s.exit.clone().unwrap_or_else(|| "unknown".into()),
            })
            .collect()
    }
}

/// SIGKILLs the group of every replica still running and reaps it.
fn kill_and_reap(slots: &mut [Slot]) {
    for slot in slots.iter_mut() {
        if let Some(mut child) = slot.child.take() {
            signal_group(slot.pid, Signal::SIGKILL);
            let status = child.wait();
            slot.exit = Some(match status {
                Ok(status) => describe_exit(status),
                Err(e) => format!("not reaped: {e}"),
            });
        }
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        let slots = match self.slots.get_mut() {
            Ok(slots) => slots,
            Err(poisoned) => poisoned.into_inner(),
        };
        kill_and_reap(slots);
    }
}
