//! A deterministic simulation of a PBFT cluster, as a product: the real
//! `replica::core` engines and the real client protocol, driven by virtual time in one
//! thread, under the nemesis's faults, judged by the checker's oracles.
//!
//! ```text
//!   SimConfig (seed, cluster, workload, nemesis Schedule)
//!        │
//!   Simulation ── EventQueue (time, seq) ──► Node (Replica::handle) ──► Output
//!        │            ▲                                                  │
//!        │            └── Network (latency, partitions, PacketSpec) ◄────┤ encode
//!        │                 ByzantineRule::mutate (the proxy's rule) ◄────┘
//!        └──► SimReport: trace hash, history, oracle verdicts
//! ```
//!
//! - [`config`]: what one simulation runs.
//! - [`sim`]: the event loop: delivery, clients, replicas' outputs.
//! - [`faults`]: the schedule's windows started and healed.
//! - [`network`]: latency, partitions and packet faults.
//! - [`node`]: one replica process (engine, disk, executed log, liveness).
//! - [`disk`]: what a replica persisted, for restarts.
//! - [`client`]: one client worker slot.
//! - [`clock`]: a replica's injectable clock under virtual time.
//! - [`history`]: the recorded history (the `checker` op format).
//! - [`judge`]: the oracles.
//! - [`queue`]: the event queue.
//! - [`trace`]: the trace hash.
//! - [`report`]: what a run came to.
//! - [`requests`]: the clients' side of the event loop.
//! - [`scope`]: small-scope random schedules.
//! - [`coverage`]: the abstract protocol states a run reached.
//! - [`case`]: one explored case (seed, parameters, bugs, schedule) and its replay file.
//! - [`explore`]: coverage-guided search for failing schedules.
//! - [`shrink`]: minimising a failing case.
//!
//! Every random choice draws from the seed on its own ChaCha stream
//! ([`sim::streams`]); time is virtual; every iterated collection is ordered. Peer
//! messages are verified once per distinct content (memoized: verification is a pure
//! function of the bytes), which keeps signature checks from dominating.

pub mod case;
pub mod client;
pub mod clock;
pub mod config;
pub mod coverage;
pub mod disk;
pub mod error;
pub mod explore;
pub mod faults;
pub mod history;
pub mod judge;
pub mod network;
pub mod node;
pub mod queue;
pub mod report;
pub mod requests;
pub mod scope;
pub mod shrink;
pub mod sim;
pub mod trace;

pub use case::Case;
pub use config::SimConfig;
pub use error::{Error, Result};
pub use report::{OpCounts, SimReport};
pub use sim::Simulation;

/// Runs the simulation of `config` to its end and judges it.
pub fn simulate(config: SimConfig) -> Result<SimReport> {
    // The simulated replicas log nothing: what they did is in the trace and the
    // report, and thousands of runs would bury the searcher's own output.
    let quiet = tracing::subscriber::NoSubscriber::default();
    tracing::subscriber::with_default(quiet, || Ok(Simulation::new(config)?.run()))
}
