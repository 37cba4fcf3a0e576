//! Start a cluster of `replica` processes on loopback, for tests, the benchmark and
//! simple harness set-ups. Dropping a [`LocalCluster`] kills every process, and the
//! processes are started with `REPLICA_EXIT_WITH_PARENT=1` (parent-death signal), so
//! they also die if the owner is killed. Start and restart from a long-lived thread.

use std::fs::File;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use ed25519_dalek::SigningKey;

use crate::client::{Client, ClientError};
use crate::config::{write_key_file, ClusterConfig};
use crate::core::ReplicaStatus;
use crate::error::{Error, Result};
use crate::messages::ClientId;
use crate::storage::LogEntry;

/// Running replica processes and the files they were started from.
#[derive(Debug)]
pub struct LocalCluster {
    binary: PathBuf,
    dir: PathBuf,
    /// The cluster file's content.
    pub config: ClusterConfig,
    client_keys: Vec<(ClientId, SigningKey)>,
    extra_args: Vec<String>,
    children: Mutex<Vec<Option<Child>>>,
    http: reqwest::Client,
}

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

impl LocalCluster {
    /// Writes keys and the cluster file into `dir` and starts `3f+1` processes of
    /// `binary`, each with `extra_args` (e.g. `--batch-size 1`).
    pub fn start(
        binary: &Path,
        dir: &Path,
        f: usize,
        clients: usize,
        extra_args: &[&str],
    ) -> Result<Self> {
        let n = 3 * f + 1;
        let mut rng = rand::rngs::OsRng;
        let keys: Vec<SigningKey> = (0..n).map(|_| SigningKey::generate(&mut rng)).collect();
        let client_keys: Vec<(ClientId, SigningKey)> = (0..clients as ClientId)
            .map(|c| (c, SigningKey::generate(&mut rng)))
            .collect();
        let listen: Vec<String> = free_ports(n)?
            .iter()
            .map(|p| format!("127.0.0.1:{p}"))
            .collect();
        let config = ClusterConfig::local(f, &keys, &listen, &client_keys);
        config.save(&dir.join("cluster.json"))?;
        for (i, k) in keys.iter().enumerate() {
            write_key_file(&dir.join(format!("replica-{i}.key")), k)?;
        }
        let cluster = LocalCluster {
            binary: binary.to_path_buf(),
            dir: dir.to_path_buf(),
            config,
            client_keys,
            extra_args: extra_args.iter().map(|s| s.to_string()).collect(),
            children: Mutex::new((0..n).map(|_| None).collect()),
            http: reqwest::Client::new(),
        };
        for i in 0..n {
            cluster.spawn(i)?;
        }
        Ok(cluster)
    }

    fn spawn(&self, i: usize) -> Result<()> {
        let log_path = self.dir.join(format!("replica-{i}.log"));
        let log = File::options()
            .create(true)
            .append(true)
            .open(&log_path)
            .map_err(|e| Error::io("open", &log_path, e))?;
        let child = Command::new(&self.binary)
            .arg("--id")
            .arg(i.to_string())
            .arg("--cluster")
            .arg(self.dir.join("cluster.json"))
            .arg("--key")
            .arg(self.dir.join(format!("replica-{i}.key")))
            .arg("--data-dir")
            .arg(self.dir.join(format!("data-{i}")))
            .args(&self.extra_args)
            .env(
                "RUST_LOG",
                std::env::var("RUST_LOG").unwrap_or_else(|_| "warn".into()),
            )
            // Replicas die with the thread that started them, even if this process
            // is killed before `Drop` runs.
            .env("REPLICA_EXIT_WITH_PARENT", "1")
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .map_err(|e| Error::io("spawn", &self.binary, e))?;
        self.children.lock().expect("children lock")[i] = Some(child);
        Ok(())
    }

    /// Kills replica `i` with SIGKILL and reaps it.
    pub fn kill(&self, i: usize) {
        let child = self.children.lock().expect("children lock")[i].take();
        if let Some(mut c) = child {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// Stops replica `i` with SIGTERM; returns true if it exited within `timeout`
    /// (otherwise it is killed with SIGKILL).
    pub fn terminate(&self, i: usize, timeout: Duration) -> bool {
        let child = self.children.lock().expect("children lock")[i].take();
        let Some(mut c) = child else { return true };
        let pid = nix::unistd::Pid::from_raw(c.id() as i32);
        let _ = nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM);
        let start = Instant::now();
        while start.elapsed() < timeout {
            if let Ok(Some(_)) = c.try_wait() {
                return true;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        let _ = c.kill();
        let _ = c.wait();
        false
    }

    /// Pauses replica `i` with SIGSTOP (its memory and sockets stay; see [`Self::resume`]).
    pub fn pause(&self, i: usize) {
        self.signal(i, nix::sys::signal::Signal::SIGSTOP);
    }

    /// Resumes a paused replica with SIGCONT.
    pub fn resume(&self, i: usize) {
        self.signal(i, nix::sys::signal::Signal::SIGCONT);
    }

    fn signal(&self, i: usize, sig: nix::sys::signal::Signal) {
        if let Some(c) = &self.children.lock().expect("children lock")[i] {
            let pid = nix::unistd::Pid::from_raw(c.id() as i32);
            let _ = nix::sys::signal::kill(pid, sig);
        }
    }

    /// Starts replica `i` again on the same data directory.
    pub fn restart(&self, i: usize) -> Result<()> {
        self.kill(i);
        self.spawn(i)
    }

    /// A client with id `c` (must be below the `clients` count given to `start`).
    pub fn client(&self, c: usize) -> std::result::Result<Client, ClientError> {
        let (id, key) = self.client_keys[c].clone();
        Client::new(&self.config, id, key)
    }

    /// `GET /status` of replica `i`.
    pub async fn status(&self, i: usize) -> Option<ReplicaStatus> {
        self.get_json(i, "status", Duration::from_secs(2)).await
    }

    /// `GET /log` of replica `i`.
    pub async fn log(&self, i: usize) -> Option<Vec<LogEntry>> {
        self.get_json(i, "log", Duration::from_secs(5)).await
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

    /// Waits until every running replica answers `/status`.
    pub async fn wait_ready(&self, timeout: Duration) -> Result<()> {
        let start = Instant::now();
        let n = self.config.n();
        for i in 0..n {
            if self.children.lock().expect("children lock")[i].is_none() {
                continue;
            }
            while self.status(i).await.is_none() {
                if start.elapsed() > timeout {
                    return Err(Error::Config(format!(
                        "replica {i} not ready after {timeout:?}; see {}",
                        self.dir.join(format!("replica-{i}.log")).display()
                    )));
                }
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        }
        Ok(())
    }
}

impl Drop for LocalCluster {
    fn drop(&mut self) {
        for i in 0..self.config.n() {
            self.kill(i);
        }
    }
}
