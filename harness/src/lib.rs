//! The controller of the fault-injection test harness, as a library; `main.rs` only
//! parses the command line and runs one command.
//!
//! The wings, top to bottom (each only uses those below it):
//!
//! - [`cli`]: the command line (clap); `harness run`'s settings are flattened in from
//!   [`config::RunSettings`].
//! - [`commands`]: one file per command (`run`, `analyze`, `suite`, `selftest`,
//!   `check`, `bench-check`, `compare`, `report`, `serve`, the hidden `replica`).
//! - [`config`]: what a run is given: the one list of run settings, resolved (defaults,
//!   then a TOML file or a suite's cell, then flags) with the fault plan built once;
//!   suite files; the self-test's bugs and scenarios; the reproduce command. Never
//!   imports `cli`.
//! - `run`: one test run, end to end: the cluster (replica processes and the proxy),
//!   workers and their rate limiter, the recorder streaming the history to disk, the
//!   nemesis, the crash and safety watches, progress, judging, the run record.
//! - [`exit`]: exit statuses.
//!
//! What other crates own: `results` the run record, the store and latency statistics;
//! `nemesis` the fault plan, the proxy and every RNG stream; `replica` the one
//! launcher of replica processes; `checker` the verdicts; `workloads` the clients and
//! generators.

#![forbid(unsafe_code)]

pub mod cli;
pub mod commands;
pub mod config;
pub mod exit;
mod run;
