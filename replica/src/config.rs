//! Configuration: the cluster file (keys and addresses), key files, and the
//! protocol parameters of one replica.
//!
//! Cluster file (JSON):
//! ```json
//! {"f":1,
//!  "replicas":[{"id":0,"public_key":"<hex 32 bytes>","listen":"127.0.0.1:7000",
//!               "peers":{"1":"127.0.0.1:7001","2":"127.0.0.1:7002","3":"127.0.0.1:7003"}}, ...],
//!  "clients":[{"id":0,"public_key":"<hex>"}, ...]}
//! ```
//! `peers[j]` of replica `i` is the address `i` uses to reach `j` (possibly a proxy).
//! A key file holds the hex of the 32-byte ed25519 secret seed on one line.

use std::collections::BTreeMap;
use std::path::Path;

use ed25519_dalek::SigningKey;
use serde::{Deserialize, Serialize};

use crate::crypto::{parse_hex32, parse_public_key};
use crate::error::{Error, Result};
use crate::messages::{ClientId, ReplicaId};

/// One replica in the cluster file.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct ReplicaEntry {
    /// Replica id (`0..n`).
    pub id: ReplicaId,
    /// Hex of its ed25519 public key.
    pub public_key: String,
    /// Address it listens on (`127.0.0.1:PORT`).
    pub listen: String,
    /// Address to use to reach each other replica, keyed by id.
    pub peers: BTreeMap<ReplicaId, String>,
}

/// One client in the cluster file.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct ClientEntry {
    /// Client id.
    pub id: ClientId,
    /// Hex of its ed25519 public key.
    pub public_key: String,
}

/// The cluster file: fault bound, replicas and clients.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct ClusterConfig {
    /// Number of Byzantine faults tolerated; `n = 3f + 1`.
    pub f: usize,
    /// All replicas, ordered by id.
    pub replicas: Vec<ReplicaEntry>,
    /// Clients allowed to submit requests.
    pub clients: Vec<ClientEntry>,
}

impl ClusterConfig {
    /// Number of replicas.
    pub fn n(&self) -> usize {
        self.replicas.len()
    }

    /// Checks ids, sizes, keys and addresses.
    pub fn validate(&self) -> Result<()> {
        let n = self.replicas.len();
        if n != 3 * self.f + 1 {
            return Err(Error::Config(format!(
                "{} replicas but f = {} requires n = 3f+1 = {}",
                n,
                self.f,
                3 * self.f + 1
            )));
        }
        for (i, r) in self.replicas.iter().enumerate() {
            if r.id as usize != i {
                return Err(Error::Config(format!(
                    "replicas must be listed in id order: position {i} has id {}",
                    r.id
                )));
            }
            parse_public_key(&r.public_key, &format!("replica {i}"))?;
            for j in 0..n as ReplicaId {
                if j != r.id && !r.peers.contains_key(&j) {
                    return Err(Error::Config(format!(
                        "replica {i} has no peer address for {j}"
                    )));
                }
            }
        }
        for c in &self.clients {
            parse_public_key(&c.public_key, &format!("client {}", c.id))?;
        }
        Ok(())
    }

    /// Reads and validates a cluster file.
    pub fn load(path: &Path) -> Result<Self> {
        let text =
            std::fs::read_to_string(path).map_err(|e| Error::io("read cluster file", path, e))?;
        let config: ClusterConfig = serde_json::from_str(&text)
            .map_err(|e| Error::json(format!("cluster file {}", path.display()), e))?;
        config.validate()?;
        Ok(config)
    }

    /// Writes the cluster file (pretty JSON).
    pub fn save(&self, path: &Path) -> Result<()> {
        let text = serde_json::to_string_pretty(self).expect("config serializes");
        std::fs::write(path, text).map_err(|e| Error::io("write cluster file", path, e))
    }

    /// Builds a cluster of `3f+1` replicas listening on `listen[i]`, each reaching
    /// its peers directly, with the given public keys. Returns the config.
    pub fn local(
        f: usize,
        replica_keys: &[SigningKey],
        listen: &[String],
        client_keys: &[(ClientId, SigningKey)],
    ) -> Self {
        let replicas = replica_keys
            .iter()
            .enumerate()
            .map(|(i, k)| ReplicaEntry {
                id: i as ReplicaId,
                public_key: hex::encode(k.verifying_key().as_bytes()),
                listen: listen[i].clone(),
                peers: (0..replica_keys.len())
                    .filter(|&j| j != i)
                    .map(|j| (j as ReplicaId, listen[j].clone()))
                    .collect(),
            })
            .collect();
        let clients = client_keys
            .iter()
            .map(|(id, k)| ClientEntry {
                id: *id,
                public_key: hex::encode(k.verifying_key().as_bytes()),
            })
            .collect();
        ClusterConfig {
            f,
            replicas,
            clients,
        }
    }

    /// The listen addresses of all replicas, by id.
    pub fn listen_addrs(&self) -> Vec<String> {
        self.replicas.iter().map(|r| r.listen.clone()).collect()
    }
}

/// Writes a key file: the hex of the secret seed and a newline.
pub fn write_key_file(path: &Path, key: &SigningKey) -> Result<()> {
    std::fs::write(path, format!("{}\n", hex::encode(key.to_bytes())))
        .map_err(|e| Error::io("write key file", path, e))
}

/// Reads a key file written by [`write_key_file`].
pub fn read_key_file(path: &Path) -> Result<SigningKey> {
    let text = std::fs::read_to_string(path).map_err(|e| Error::io("read key file", path, e))?;
    let seed = parse_hex32(&text, &format!("key file {}", path.display()))?;
    Ok(SigningKey::from_bytes(&seed))
}

/// When the write-ahead log is forced to disk.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum FsyncPolicy {
    /// fsync before any message that depends on the records leaves (group commit).
    #[default]
    Always,
    /// fsync at most every few milliseconds in the background; data is still
    /// written (to the OS) before messages leave, so it survives `kill -9`.
    Batch,
    /// Never fsync; written to the OS before messages leave (survives `kill -9`,
    /// not power loss).
    Never,
}

/// Protocol parameters of one replica (everything but identities and addresses).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProtocolConfig {
    /// Maximum requests per PRE-PREPARE batch; 1 disables batching.
    pub batch_size: usize,
    /// How long the primary waits to fill a batch before sending a partial one (ms);
    /// 0 sends as soon as the pipeline has room.
    pub batch_delay_ms: u64,
    /// Batches the primary keeps in flight (not yet executed) before it queues
    /// requests for the next batch; a full batch is sent regardless (up to H).
    pub pipeline_depth: u64,
    /// Checkpoint interval K.
    pub checkpoint_interval: u64,
    /// Log window L: `H = h + L`.
    pub log_window: u64,
    /// Retransmission interval for stuck slots and STATUS messages (ms).
    pub retransmit_ms: u64,
    /// Base view-change timeout T (ms): a backup waiting this long for a request to
    /// execute moves to the next view; each failed view change doubles it.
    pub view_change_timeout_ms: u64,
    /// Seeded protocol bugs switched on (none unless built with `seeded-bugs` and
    /// asked for: the harness's self-test).
    pub bugs: crate::bugs::Bugs,
}

impl Default for ProtocolConfig {
    fn default() -> Self {
        ProtocolConfig {
            batch_size: 64,
            batch_delay_ms: 0,
            pipeline_depth: 1,
            checkpoint_interval: 128,
            log_window: 256,
            retransmit_ms: 300,
            view_change_timeout_ms: 1000,
            bugs: crate::bugs::Bugs::NONE,
        }
    }
}

impl ProtocolConfig {
    /// Checks the parameters.
    pub fn validate(&self) -> Result<()> {
        if self.batch_size == 0 {
            return Err(Error::Config("batch size must be at least 1".into()));
        }
        if self.checkpoint_interval == 0 || self.log_window < 2 * self.checkpoint_interval {
            return Err(Error::Config(format!(
                "need checkpoint interval K >= 1 and log window L >= 2K (K = {}, L = {})",
                self.checkpoint_interval, self.log_window
            )));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cluster_and_key_files_round_trip() {
        let dir = tempfile::tempdir().unwrap();
        let keys: Vec<SigningKey> = (0..4u8).map(|i| SigningKey::from_bytes(&[i; 32])).collect();
        let listen: Vec<String> = (0..4).map(|i| format!("127.0.0.1:{}", 7000 + i)).collect();
        let config =
            ClusterConfig::local(1, &keys, &listen, &[(9, SigningKey::from_bytes(&[9; 32]))]);
        config.validate().unwrap();
        let path = dir.path().join("cluster.json");
        config.save(&path).unwrap();
        assert_eq!(ClusterConfig::load(&path).unwrap(), config);
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(text.contains("\"peers\"") && text.contains("\"1\": \"127.0.0.1:7001\""));
        let key_path = dir.path().join("k");
        write_key_file(&key_path, &keys[2]).unwrap();
        assert_eq!(
            read_key_file(&key_path).unwrap().to_bytes(),
            keys[2].to_bytes()
        );
    }

    #[test]
    fn bad_files_give_clear_errors() {
        let dir = tempfile::tempdir().unwrap();
        let missing = ClusterConfig::load(&dir.path().join("nope.json")).unwrap_err();
        assert!(missing.to_string().contains("nope.json"));
        let bad = dir.path().join("bad.json");
        std::fs::write(&bad, r#"{"f":1,"replicas":[],"clients":[]}"#).unwrap();
        let err = ClusterConfig::load(&bad).unwrap_err().to_string();
        assert!(err.contains("3f+1"), "{err}");
        std::fs::write(&bad, "zz\n").unwrap();
        assert!(read_key_file(&bad)
            .unwrap_err()
            .to_string()
            .contains("invalid key"));
    }
}
