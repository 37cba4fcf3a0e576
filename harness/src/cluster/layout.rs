//! Where a run's cluster lives on disk, and the identities and cluster file it starts
//! from.
//!
//! ```text
//! <run>/cluster/cluster.json        the cluster file every replica and client reads
//! <run>/cluster/replica-<i>.key     replica i's signing key
//! <run>/replicas/<i>/replica.log    replica i's stdout and stderr
//! <run>/replicas/<i>/data/          replica i's data directory
//! <run>/pids                        "<id> <pid>" of every replica process started
//! ```

use anyhow::{Context, Result};
use ed25519_dalek::SigningKey;
use nemesis::Proxy;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use replica::config::write_key_file;
use replica::ClusterConfig;
use std::path::{Path, PathBuf};

/// The ChaCha stream of the run seed that key generation draws from (worker slots use
/// streams `0..concurrency`).
const KEY_STREAM: u64 = 1 << 40;

/// Paths of a run's cluster files.
#[derive(Debug, Clone)]
pub(crate) struct Layout {
    run_dir: PathBuf,
}

impl Layout {
    /// The layout under a run directory.
    pub(crate) fn new(run_dir: &Path) -> Self {
        Layout {
            run_dir: run_dir.to_path_buf(),
        }
    }

    /// The cluster file.
    pub(crate) fn cluster_file(&self) -> PathBuf {
        self.run_dir.join("cluster").join("cluster.json")
    }

    /// Replica `i`'s key file.
    pub(crate) fn key_file(&self, i: usize) -> PathBuf {
        self.run_dir
            .join("cluster")
            .join(format!("replica-{i}.key"))
    }

    /// Replica `i`'s folder.
    pub(crate) fn replica_dir(&self, i: usize) -> PathBuf {
        self.run_dir.join("replicas").join(i.to_string())
    }

    /// Replica `i`'s log.
    pub(crate) fn log_file(&self, i: usize) -> PathBuf {
        self.replica_dir(i).join("replica.log")
    }

    /// Replica `i`'s data directory.
    pub(crate) fn data_dir(&self, i: usize) -> PathBuf {
        self.replica_dir(i).join("data")
    }

    /// The file listing replica process ids.
    pub(crate) fn pids_file(&self) -> PathBuf {
        self.run_dir.join("pids")
    }
}

/// The key pairs of a run: one per replica and one per client identity.
#[derive(Debug, Clone)]
pub(crate) struct Identities {
    /// Replica `i`'s signing key.
    pub(crate) replicas: Vec<SigningKey>,
    /// Client identities `(id, key)`.
    pub(crate) clients: Vec<(u64, SigningKey)>,
}

impl Identities {
    /// `n` replica keys and `clients` client keys, drawn from the run seed (so a
    /// reproduced run has the same keys).
    pub(crate) fn generate(n: usize, clients: usize, seed: u64) -> Self {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        rng.set_stream(KEY_STREAM);
        let mut key = || SigningKey::from_bytes(&rng.gen::<[u8; 32]>());
        let replicas = (0..n).map(|_| key()).collect();
        let clients = (0..clients as u64).map(|id| (id, key())).collect();
        Identities { replicas, clients }
    }
}

/// Writes the key files and the cluster file for replicas listening on `ports` (each
/// reaching the others through `proxy`, if given), and creates every replica's folder.
/// Returns the cluster file's content.
pub(crate) fn write_cluster(
    layout: &Layout,
    f: usize,
    ids: &Identities,
    ports: &[u16],
    proxy: Option<&Proxy>,
) -> Result<ClusterConfig> {
    let listen: Vec<String> = ports.iter().map(|p| format!("127.0.0.1:{p}")).collect();
    let mut config = ClusterConfig::local(f, &ids.replicas, &listen, &ids.clients);
    if let Some(proxy) = proxy {
        for r in &mut config.replicas {
            let i = r.id as usize;
            for (j, addr) in r.peers.iter_mut() {
                *addr = proxy.peer_addr(i, *j as usize);
            }
        }
    }
    config
        .validate()
        .context("the generated cluster file is invalid")?;
    let cluster_dir = layout.run_dir.join("cluster");
    std::fs::create_dir_all(&cluster_dir)
        .with_context(|| format!("cannot create {}", cluster_dir.display()))?;
    config.save(&layout.cluster_file())?;
    for (i, key) in ids.replicas.iter().enumerate() {
        write_key_file(&layout.key_file(i), key)?;
        let dir = layout.data_dir(i);
        std::fs::create_dir_all(&dir)
            .with_context(|| format!("cannot create {}", dir.display()))?;
    }
    Ok(config)
}

/// The last `lines` lines of a log file, for error messages.
pub(crate) fn log_tail(path: &Path, lines: usize) -> String {
    match std::fs::read(path) {
        Ok(bytes) => {
            let text = String::from_utf8_lossy(&bytes);
            let all: Vec<&str> = text.lines().collect();
            all[all.len().saturating_sub(lines)..].join("\n")
        }
        Err(e) => format!("(cannot read {}: {e})", path.display()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identities_follow_the_seed() {
        let a = Identities::generate(4, 3, 9);
        let b = Identities::generate(4, 3, 9);
        let c = Identities::generate(4, 3, 10);
        assert_eq!(a.replicas[3].to_bytes(), b.replicas[3].to_bytes());
        assert_ne!(a.replicas[3].to_bytes(), c.replicas[3].to_bytes());
        assert_eq!(a.clients.len(), 3);
    }

    #[test]
    fn writes_a_valid_cluster_file() {
        let dir = tempfile::tempdir().unwrap();
        let layout = Layout::new(dir.path());
        let ids = Identities::generate(4, 2, 1);
        write_cluster(&layout, 1, &ids, &[1, 2, 3, 4], None).unwrap();
        let back = ClusterConfig::load(&layout.cluster_file()).unwrap();
        assert_eq!(back.n(), 4);
        assert_eq!(back.clients.len(), 2);
        assert!(layout.data_dir(3).is_dir());
    }
}
