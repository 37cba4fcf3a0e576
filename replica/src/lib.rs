//! `replica`: a PBFT (Castro & Liskov, OSDI 1999) replicated key-value store, the
//! system under test of the fault-injection harness.
//!
//! Map of the crate:
//! - [`messages`]: the PBFT messages (REQUEST, PRE-PREPARE with a batch, PREPARE,
//!   COMMIT, REPLY, CHECKPOINT, STATUS, VIEW-CHANGE, NEW-VIEW, FETCH-STATE, STATE),
//!   JSON on the wire.
//! - [`crypto`]: ed25519 signatures and SHA-256 digests (the primitives).
//! - [`verifier`]: the [`verifier::Verifier`], which checks a message's signatures
//!   against the cluster's keys and hands the core a [`verifier::Verified`] value.
//!
//! Module dependencies point one way: `crypto` <- `state_machine` <- `messages` <-
//! `config` <- `verifier` <- `core` <- `storage` / `server`.
//! - [`core`]: the sans-IO protocol engine, `Replica::handle(Input) -> Vec<Output>`:
//!   normal case, checkpoints, view change / new view, state transfer.
//! - [`state_machine`]: the key-value map (read, write, cas, append) and client table.
//! - [`storage`]: the write-ahead log and snapshots on disk, and recovery.
//! - [`cli`]: the `replica` binary's flags and entry point (shared with the harness).
//! - [`client`]: the client protocol (sans-IO) and an async HTTP client.
//! - [`config`]: the cluster file, key files, protocol parameters.
//! - [`server`]: the HTTP shell (axum) that runs the engine: `/pbft`, `/request`,
//!   `/status`, `/log`, `/clock`.
//! - [`clock`]: the injectable clock (offset and rate) the engine is ticked with.
//! - [`local_cluster`]: the one launcher of replica processes on loopback (the
//!   replica's end-to-end tests and benchmark, and the harness): cluster files, start,
//!   kill/restart, pause/resume (SIGSTOP/SIGCONT), readiness, exits.
//! - [`error`]: the crate's error type.
//! - [`bugs`]: deliberately planted protocol bugs for the harness's self-test
//!   (switchable only with the `seeded-bugs` feature).

pub mod bugs;
pub mod cli;
pub mod client;
pub mod clock;
pub mod config;
pub mod core;
pub mod crypto;
pub mod error;
pub mod local_cluster;
pub mod messages;
pub mod server;
pub mod state_machine;
pub mod storage;
pub mod verifier;

pub use crate::client::{Client, ClientError, ClientProtocol};
pub use crate::config::{ClusterConfig, FsyncPolicy, ProtocolConfig};
pub use crate::core::{Input, Output, Replica, ReplicaStatus};
pub use crate::error::{Error, Result};
pub use crate::messages::PeerMessage;
pub use crate::state_machine::{OpResult, Operation};
