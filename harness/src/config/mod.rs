//! What a run is given, before anything starts.
//!
//! - [`settings`]: the one list of run settings ([`RunSettings`]): flags, TOML keys,
//!   defaults and help in one place.
//! - [`run`]: a run's configuration resolved from them ([`RunConfig`]): layered,
//!   completed, validated, with the fault plan built once.
//! - [`reproduce`]: the command that repeats a run, derived from its settings.
//! - [`suite`]: suite files, expanded into cells of settings.
//! - [`selftest`]: the seeded bugs and the scenarios that must catch them.

pub mod reproduce;
pub mod run;
pub mod selftest;
pub mod settings;
pub mod suite;

#[cfg(test)]
mod promise_tests;

pub use run::RunConfig;
pub use settings::{Fsync, ProgressMode, RunSettings, DEFAULT_NEMESIS};
