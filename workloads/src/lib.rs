//! `workloads`: what the harness asks of the cluster, and how it asks.
//!
//! A workload is a generator of operations, the client that performs them, and the
//! consistency model that judges the resulting history.
//!
//! Map of the crate:
//! - [`workload`]: the workload kinds (`register`, `kv`, `append`) and the checker model
//!   and initial value each one is judged by.
//! - [`invocation`]: one operation as the harness invokes it ([`Invocation`]) and how it
//!   ended ([`Completion`]: ok, fail, or info), with their history encodings.
//! - [`keys`]: key distributions (uniform, zipf) over a fixed key set.
//! - [`generator`]: seeded generators, one independent stream per worker slot.
//! - [`client`]: the [`Client`] trait a workload drives, and [`PbftClient`], which performs
//!   operations through the replica crate's PBFT client.
//! - [`error`]: the crate's error type.

pub mod client;
pub mod error;
pub mod generator;
pub mod invocation;
pub mod keys;
pub mod workload;

pub use client::{Client, PbftClient};
pub use error::{Error, Result};
pub use generator::{Generator, GeneratorConfig};
pub use invocation::{Completion, Func, Invocation};
pub use keys::KeyDist;
pub use workload::WorkloadKind;
