//! Where a local cluster lives on disk, and the files it starts from.
//!
//! ```text
//! <root>/cluster/cluster.json        the cluster file every replica and client reads
//! <root>/cluster/replica-<i>.key     replica i's signing key
//! <root>/replicas/<i>/replica.log    replica i's stdout and stderr
//! <root>/replicas/<i>/data/          replica i's data directory
//! <root>/pids                        "<id> <pid>" of every replica process running
//! ```

use std::path::{Path, PathBuf};

use ed25519_dalek::SigningKey;

use crate::config::{write_key_file, ClusterConfig};
use crate::error::{Error, Result};
use crate::messages::ClientId;

/// Paths of a local cluster's files.
#[derive(Debug, Clone)]
pub struct ClusterLayout {
    root: PathBuf,
}

impl ClusterLayout {
    /// The layout under `root` (a harness run directory, or a test's temporary one).
    pub fn new(root: &Path) -> Self {
        ClusterLayout {
            root: root.to_path_buf(),
        }
    }

    /// The directory holding the cluster file and keys.
    pub fn cluster_dir(&self) -> PathBuf {
        self.root.join("cluster")
    }

    /// The cluster file.
    pub fn cluster_file(&self) -> PathBuf {
        self.cluster_dir().join("cluster.json")
    }

    /// Replica `i`'s key file.
    pub fn key_file(&self, i: usize) -> PathBuf {
        self.cluster_dir().join(format!("replica-{i}.key"))
    }

    /// Replica `i`'s folder.
    pub fn replica_dir(&self, i: usize) -> PathBuf {
        self.root.join("replicas").join(i.to_string())
    }

    /// Replica `i`'s log (its stdout and stderr).
    pub fn log_file(&self, i: usize) -> PathBuf {
        self.replica_dir(i).join("replica.log")
    }

    /// Replica `i`'s data directory.
    pub fn data_dir(&self, i: usize) -> PathBuf {
        self.replica_dir(i).join("data")
    }

    /// The file listing replica process ids.
    pub fn pids_file(&self) -> PathBuf {
        self.root.join("pids")
    }
}

/// The key pairs of a cluster: one per replica and one per client identity.
#[derive(Debug, Clone)]
pub struct Identities {
    /// Replica `i`'s signing key.
    pub replicas: Vec<SigningKey>,
    /// Client identities `(id, key)`.
    pub clients: Vec<(ClientId, SigningKey)>,
}

impl Identities {
    /// `n` replica keys and `clients` client keys from the operating system's
    /// randomness (for tests that need no reproducible keys).
    pub fn random(n: usize, clients: usize) -> Self {
        let mut rng = rand::rngs::OsRng;
        Identities {
            replicas: (0..n).map(|_| SigningKey::generate(&mut rng)).collect(),
            clients: (0..clients as ClientId)
                .map(|c| (c, SigningKey::generate(&mut rng)))
                .collect(),
        }
    }

    /// `n` replica keys and `clients` client keys drawn from `rng` (a seeded stream,
    /// so a run's keys follow from its seed).
    pub fn from_rng(n: usize, clients: usize, rng: &mut impl rand::Rng) -> Self {
        let mut key = || SigningKey::from_bytes(&rng.gen::<[u8; 32]>());
        let replicas = (0..n).map(|_| key()).collect();
        let clients = (0..clients as ClientId).map(|c| (c, key())).collect();
        Identities { replicas, clients }
    }
}

/// Writes the key files and the cluster file of replicas listening on `ports`, and
/// creates every replica's folder. Replica `i` reaches replica `j` at `peer_addr(i, j)`
/// when given (an interposing proxy's listener), else at `j`'s own address. Returns the
/// cluster file's content.
pub fn write_cluster(
    layout: &ClusterLayout,
    f: usize,
    ids: &Identities,
    ports: &[u16],
    peer_addr: Option<&dyn Fn(usize, usize) -> String>,
) -> Result<ClusterConfig> {
    let listen: Vec<String> = ports.iter().map(|p| format!("127.0.0.1:{p}")).collect();
    let mut config = ClusterConfig::local(f, &ids.replicas, &listen, &ids.clients);
    if let Some(peer_addr) = peer_addr {
        for r in &mut config.replicas {
            let i = r.id as usize;
            for (j, addr) in r.peers.iter_mut() {
                *addr = peer_addr(i, *j as usize);
            }
        }
    }
    config.validate()?;
    let dir = layout.cluster_dir();
    std::fs::create_dir_all(&dir).map_err(|e| Error::io("create", &dir, e))?;
    config.save(&layout.cluster_file())?;
    for (i, key) in ids.replicas.iter().enumerate() {
        write_key_file(&layout.key_file(i), key)?;
        let data = layout.data_dir(i);
        std::fs::create_dir_all(&data).map_err(|e| Error::io("create", &data, e))?;
    }
    Ok(config)
}

/// The last `lines` lines of a log file, for error messages.
pub fn log_tail(path: &Path, lines: usize) -> String {
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
    fn writes_a_valid_cluster_file() {
        let dir = tempfile::tempdir().unwrap();
        let layout = ClusterLayout::new(dir.path());
        let ids = Identities::random(4, 2);
        write_cluster(&layout, 1, &ids, &[1, 2, 3, 4], None).unwrap();
        let back = ClusterConfig::load(&layout.cluster_file()).unwrap();
        assert_eq!(back.n(), 4);
        assert_eq!(back.clients.len(), 2);
        assert!(layout.data_dir(3).is_dir());
        let proxied = |i: usize, j: usize| format!("127.0.0.1:{}", 9000 + 10 * i + j);
        write_cluster(&layout, 1, &ids, &[1, 2, 3, 4], Some(&proxied)).unwrap();
        let back = ClusterConfig::load(&layout.cluster_file()).unwrap();
        assert_eq!(back.replicas[1].peers[&2], "127.0.0.1:9012");
    }
}
