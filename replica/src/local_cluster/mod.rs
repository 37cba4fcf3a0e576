//! Replica processes on loopback: the one launcher used by the replica's end-to-end
//! tests and benchmark and by the harness.
//!
//! - [`layout`]: where a cluster's files live, the identities it starts from, and
//!   writing its cluster file (optionally pointing every replica at an interposing
//!   proxy's listeners instead of its peers).
//! - [`process`]: how one replica process is started ([`Launch`]: the plain binary, or a
//!   wrapper such as the harness re-executing itself) and signalled.
//! - [`ready`]: waiting until every replica answers.
//!
//! A [`LocalCluster`] owns the processes: it starts, kills (SIGKILL, reaped at once),
//! restarts (same data directory), pauses (SIGSTOP) and resumes them, notices replicas
//! that exit on their own, and kills and reaps every one of them when dropped. Each
//! replica leads its own process group, and dies with its parent (see [`process`]).

pub mod layout;
pub mod process;
pub mod ready;

pub use layout::{log_tail, write_cluster, ClusterLayout, Identities};
pub use process::{describe_exit, signal_group, Launch};
pub use ready::NotReady;

use std::net::TcpListener;
use std::path::Path;
use std::process::Child;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use ed25519_dalek::SigningKey;
use nix::sys::signal::Signal;
use serde::Serialize;

use crate::client::{Client, ClientError};
use crate::config::ClusterConfig;
use crate::core::ReplicaStatus;
use crate::error::{Error, Result};
use crate::messages::ClientId;
use crate::storage::LogEntry;

/// Picks `count` free loopback ports (bound then released).
pub fn free_ports(count: usize) -> Result<Vec<u16>> {
    let listeners = (0..count)
        .map(|_| TcpListener::bind("127.0.0.1:0"))
        .collect::<std::io::Result<Vec<_>>>()
        .map_err(|e| Error::io("bind", "127.0.0.1:0", e))?;
    listeners
        .iter()
        .map(|l| {
            Ok(l.local_addr()
                .map_err(|e| Error::io("local address", "", e))?
                .port())
        })
        .collect()
}

/// One replica process.
#[derive(Debug, Default)]
struct Slot {
    child: Option<Child>,
    pid: u32,
    /// How its last process ended, once it has.
    exit: Option<String>,
    /// Whether that end was ours (kill, terminate, stop), not its own.
    stopped: bool,
    /// Whether its own exit has been reported by [`LocalCluster::poll_exits`].
    reported: bool,
    /// Times it was started.
    starts: u32,
}

/// How a replica process ended, once the cluster is stopped.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ProcessExit {
    /// Replica id.
    pub id: usize,
    /// Its last process id.
    pub pid: u32,
    /// How it ended ("exited 0", "killed by SIGKILL", ...).
    pub status: String,
}

/// Running replica processes and the files they were started from. Dropping it kills
/// (SIGKILL to each process group) and reaps them all.
#[derive(Debug)]
pub struct LocalCluster {
    layout: ClusterLayout,
    /// The cluster file's content.
    pub config: ClusterConfig,
    clients: Vec<(ClientId, SigningKey)>,
    launch: Launch,
    slots: Mutex<Vec<Slot>>,
    http: reqwest::Client,
}

impl LocalCluster {
    /// A cluster of `3f+1` processes of `binary` in `dir`, each with `extra_args` (e.g.
    /// `--batch-size 1`), on free ports, with fresh random keys: every process is
    /// started, none waited for (see [`LocalCluster::wait_ready`]).
    pub fn start(
        binary: &Path,
        dir: &Path,
        f: usize,
        clients: usize,
        extra_args: &[&str],
    ) -> Result<Self> {
        let n = 3 * f + 1;
        let layout = ClusterLayout::new(dir);
        let ids = Identities::random(n, clients);
        let config = write_cluster(&layout, f, &ids, &free_ports(n)?, None)?;
        let log = std::env::var("RUST_LOG").unwrap_or_else(|_| "warn".into());
        let launch = Launch::binary(binary)
            .flags(extra_args.iter().copied())
            .env("RUST_LOG", &log);
        let cluster = LocalCluster::new(layout, config, ids.clients, launch);
        cluster.spawn_all()?;
        Ok(cluster)
    }

    /// A cluster whose files are already written (see [`write_cluster`]); nothing is
    /// started yet.
    pub fn new(
        layout: ClusterLayout,
        config: ClusterConfig,
        clients: Vec<(ClientId, SigningKey)>,
        launch: Launch,
    ) -> Self {
        let slots = (0..config.n()).map(|_| Slot::default()).collect();
        LocalCluster {
            layout,
            config,
            clients,
            launch,
            slots: Mutex::new(slots),
            http: reqwest::Client::new(),
        }
    }

    /// Where the cluster's files are.
    pub fn layout(&self) -> &ClusterLayout {
        &self.layout
    }

    /// Starts every replica.
    pub fn spawn_all(&self) -> Result<()> {
        (0..self.config.n()).try_for_each(|i| self.spawn(i))
    }

    fn slots(&self) -> std::sync::MutexGuard<'_, Vec<Slot>> {
        // A panic while holding the lock leaves the slots consistent enough to kill.
        self.slots.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Starts replica `i` (again, on the same data directory) and notes its pid.
    fn spawn(&self, i: usize) -> Result<()> {
        let mut slots = self.slots();
        let slot = slots.get_mut(i).ok_or(Error::Process {
            replica: i,
            reason: "no such replica".into(),
        })?;
        let child = self.launch.spawn(&self.layout, i, slot.starts + 1)?;
        *slot = Slot {
            pid: child.id(),
            child: Some(child),
            starts: slot.starts + 1,
            ..Slot::default()
        };
        let pids: String = slots
            .iter()
            .enumerate()
            .filter(|(_, s)| s.child.is_some())
            .map(|(id, s)| format!("{id} {}\n", s.pid))
            .collect();
        drop(slots);
        let path = self.layout.pids_file();
        std::fs::write(&path, pids).map_err(|e| Error::io("write", &path, e))
    }

    /// Notes how replica `i` ended if it has (without blocking); returns that.
    pub fn exit_of(&self, i: usize) -> Option<String> {
        let mut slots = self.slots();
        let slot = slots.get_mut(i)?;
        reap_if_done(slot);
        slot.exit.clone()
    }

    /// Whether replica `i` was started and not stopped on purpose (it should be up).
    fn expected_running(&self, i: usize) -> bool {
        let slots = self.slots();
        slots.get(i).is_some_and(|s| s.starts > 0 && !s.stopped)
    }

    /// Replica `i`'s process id, if it is running.
    pub fn pid(&self, i: usize) -> Option<u32> {
        let mut slots = self.slots();
        let slot = slots.get_mut(i)?;
        reap_if_done(slot);
        slot.child.as_ref().map(|_| slot.pid)
    }

    /// Replicas that exited on their own since the last call, with how they ended.
    pub fn poll_exits(&self) -> Vec<(usize, String)> {
        let mut slots = self.slots();
        let mut out = Vec::new();
        for (i, slot) in slots.iter_mut().enumerate() {
            reap_if_done(slot);
            if let (Some(exit), false, false) = (&slot.exit, slot.stopped, slot.reported) {
                out.push((i, exit.clone()));
                slot.reported = true;
            }
        }
        out
    }

    /// SIGKILLs replica `i`'s process group and reaps it; returns how it ended, or
    /// `None` if it was not running (an exit of its own is then left for
    /// [`LocalCluster::poll_exits`]).
    pub fn kill(&self, i: usize) -> Result<Option<String>> {
        let mut slots = self.slots();
        let slot = slots.get_mut(i).ok_or(Error::Process {
            replica: i,
            reason: "no such replica".into(),
        })?;
        reap_if_done(slot);
        let Some(mut child) = slot.child.take() else {
            return Ok(None);
        };
        signal_group(slot.pid, Signal::SIGKILL);
        let status = child.wait().map_err(|e| Error::Process {
            replica: i,
            reason: format!("cannot reap after SIGKILL: {e}"),
        })?;
        let exit = describe_exit(status);
        slot.exit = Some(exit.clone());
        slot.stopped = true;
        Ok(Some(exit))
    }

    /// Starts replica `i` again on its data directory, unless it is running.
    pub fn start_again(&self, i: usize) -> Result<()> {
        if self.pid(i).is_some() {
            return Ok(());
        }
        self.spawn(i)
    }

    /// Kills replica `i` and starts it again on the same data directory.
    pub fn restart(&self, i: usize) -> Result<()> {
        self.kill(i)?;
        self.spawn(i)
    }

    /// Stops replica `i` with SIGTERM; true if it exited within `timeout` (otherwise it
    /// is killed with SIGKILL).
    pub fn terminate(&self, i: usize, timeout: Duration) -> bool {
        let pid = {
            let mut slots = self.slots();
            let Some(slot) = slots.get_mut(i) else {
                return true;
            };
            reap_if_done(slot);
            if slot.child.is_none() {
                return true;
            }
            slot.stopped = true;
            slot.pid
        };
        signal_group(pid, Signal::SIGCONT);
        signal_group(pid, Signal::SIGTERM);
        let start = Instant::now();
        while start.elapsed() < timeout {
            if self.pid(i).is_none() {
                return true;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        let _ = self.kill(i);
        false
    }

    /// Pauses replica `i` (SIGSTOP to its group: its memory and sockets stay).
    pub fn pause(&self, i: usize) -> Result<()> {
        self.signal(i, Signal::SIGSTOP)
    }

    /// Resumes a paused replica (SIGCONT).
    pub fn resume(&self, i: usize) -> Result<()> {
        self.signal(i, Signal::SIGCONT)
    }

    fn signal(&self, i: usize, signal: Signal) -> Result<()> {
        let Some(pid) = self.pid(i) else {
            let exit = self.exit_of(i);
            return Err(Error::Process {
                replica: i,
                reason: format!(
                    "not running ({})",
                    exit.as_deref().unwrap_or("never started")
                ),
            });
        };
        signal_group(pid, signal);
        Ok(())
    }

    /// Stops every replica: SIGTERM (after SIGCONT, so a paused one can act on it), then
    /// SIGKILL to whatever is left after `grace`; reaps them and says how each ended.
    pub fn stop_all(&self, grace: Duration) -> Vec<ProcessExit> {
        let mut slots = self.slots();
        for slot in slots.iter_mut() {
            reap_if_done(slot);
            if slot.child.is_some() {
                slot.stopped = true;
                signal_group(slot.pid, Signal::SIGCONT);
                signal_group(slot.pid, Signal::SIGTERM);
            }
        }
        let deadline = Instant::now() + grace;
        while slots.iter_mut().any(|s| {
            reap_if_done(s);
            s.child.is_some()
        }) && Instant::now() < deadline
        {
            std::thread::sleep(Duration::from_millis(20));
        }
        kill_and_reap(&mut slots);
        slots
            .iter()
            .enumerate()
            .map(|(id, s)| ProcessExit {
                id,
                pid: s.pid,
                status: s.exit.clone().unwrap_or_else(|| "never started".into()),
            })
            .collect()
    }

    /// A client with identity `c` (below the number of client identities).
    pub fn client(&self, c: usize) -> std::result::Result<Client, ClientError> {
        let (id, key) = self.clients[c].clone();
        Client::new(&self.config, id, key)
    }

    /// The client identities.
    pub fn client_identities(&self) -> &[(ClientId, SigningKey)] {
        &self.clients
    }

    /// Every replica's own address (for `/status`, `/log` and `/clock`).
    pub fn listen_addrs(&self) -> Vec<String> {
        self.config.listen_addrs()
    }

    /// `GET /status` of replica `i`.
    pub async fn status(&self, i: usize) -> Option<ReplicaStatus> {
        self.get_json(i, "status", Duration::from_secs(2)).await
    }

    /// `GET /log` of replica `i`.
    pub async fn log(&self, i: usize) -> Option<Vec<LogEntry>> {
        self.get_json(i, "log", Duration::from_secs(5)).await
    }

    /// Whether replica `i` answers `GET /status` within `timeout`.
    async fn answers(&self, i: usize, timeout: Duration) -> bool {
        let url = format!("http://{}/status", self.config.replicas[i].listen);
        let answer = self.http.get(url).timeout(timeout).send().await;
        matches!(answer, Ok(r) if r.status().is_success())
    }

    /// `GET /<path>` of replica `i`, decoded; `None` if it does not answer in time.
    async fn get_json<T: serde::de::DeserializeOwned>(
        &self,
        i: usize,
        path: &str,
        timeout: Duration,
    ) -> Option<T> {
        let url = format!("http://{}/{path}", self.config.replicas[i].listen);
        let response = self.http.get(url).timeout(timeout).send().await.ok()?;
        response.json().await.ok()
    }
}

/// Notes the exit of a slot's process if it has ended.
fn reap_if_done(slot: &mut Slot) {
    if let Some(child) = &mut slot.child {
        if let Ok(Some(status)) = child.try_wait() {
            slot.exit = Some(describe_exit(status));
            slot.child = None;
        }
    }
}

/// SIGKILLs the group of every replica still running and reaps it.
fn kill_and_reap(slots: &mut [Slot]) {
    for slot in slots.iter_mut() {
        if let Some(mut child) = slot.child.take() {
            signal_group(slot.pid, Signal::SIGKILL);
            slot.exit = Some(match child.wait() {
                Ok(status) => describe_exit(status),
                Err(e) => format!("not reaped: {e}"),
            });
            slot.stopped = true;
        }
    }
}

impl Drop for LocalCluster {
    fn drop(&mut self) {
        kill_and_reap(&mut self.slots());
    }
}
