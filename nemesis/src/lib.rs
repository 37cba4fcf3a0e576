//! Fault injection for the PBFT harness: what Jepsen calls the nemesis.
//!
//! ```text
//!   replica i ──POST /pbft──▶ proxy listener (i→j) ──rules──▶ replica j
//!   client    ──POST /request─▶ proxy listener (c→j) ──rules──▶ replica j
//!
//!   Schedule (seeded or from a file) ──▶ Runner ──┬─ proxy rules (partitions, packets)
//!                                                 ├─ Processes (kill/start, pause/resume,
//!                                                 │   disk faults through the FUSE layer)
//!                                                 ├─ POST /clock (bump, strobe, rate)
//!                                                 └─ Observer (history ops, fault name)
//! ```
//!
//! - [`link`]: who talks to whom: an [`Endpoint`] and a directed [`Link`].
//! - [`message`]: what the proxy learns of one message (type, view, seq, sender).
//! - [`rule`]: the fault API: a [`Rule`] sees one message and returns a [`Verdict`];
//!   installing one gives a [`RuleGuard`] that heals on drop (turmoil's shape).
//! - [`partition`]: Jepsen's partition topologies and the rule that cuts links.
//! - [`packet`]: per-link packet faults (drop, delay, duplicate, reorder, replay).
//! - [`proxy`]: the runtime that applies rules: one listener per directed link.
//! - [`fault`]: the faults a schedule can hold, and their targets.
//! - [`disk`]: disk faults (power loss, torn writes, corruption, read errors), applied
//!   through the harness's FUSE layer ([`control::Processes`]' disk methods).
//! - [`schedule`]: fault windows in time, generated from a seed or read from TOML.
//! - [`schedule_file`]: a schedule written back as a `--nemesis-schedule` TOML file.
//! - [`plan`]: a run's fault settings turned into one validated schedule.
//! - [`streams`]: every ChaCha stream drawn from the run seed, in one place.
//! - [`control`]: what the runner needs from the harness (processes, recording).
//! - [`runner`]: plays a schedule against a cluster and heals everything at the end.
//! - [`replica_http`]: `/status` and `/clock` calls to the replicas.
//! - [`byzantine`]: Byzantine replicas: the mutators that rewrite and re-sign a faulty
//!   replica's messages in the proxy.

pub mod byzantine;
pub mod control;
pub mod disk;
pub mod error;
pub mod fault;
pub mod link;
pub mod message;
pub mod packet;
pub mod partition;
pub mod plan;
pub mod proxy;
pub mod replica_http;
pub mod rule;
pub mod runner;
pub mod schedule;
pub mod schedule_file;
pub mod streams;

pub use byzantine::{Byzantine, ByzantineRule, Mutator};
pub use control::{Observer, Processes};
pub use disk::{CorruptMode, DiskFault, DiskFile};
pub use error::{Error, Result};
pub use fault::{ClockFault, Family, Fault, Faulty, Target};
pub use link::{Endpoint, Link};
pub use message::Message;
pub use packet::PacketSpec;
pub use partition::{ClientSide, Topology};
pub use plan::PlanSpec;
pub use proxy::{ByzantineGuard, LinkCounts, Proxy};
pub use rule::{Mutate, Rule, RuleGuard, Verdict};
pub use runner::{AppliedAction, Runner};
pub use schedule::{Schedule, Window};
