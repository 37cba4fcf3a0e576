//! `test.json`: what was run.

use super::{Versioned, FORMAT};
use serde::{Deserialize, Serialize};

/// What a run was: written when the run starts, before anything can break.
///
/// `C` is the resolved run configuration; this crate never looks inside it and reads
/// it as an opaque JSON value (`harness` reads it back as its own settings type).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct TestRecord<C = serde_json::Value> {
    /// The record format ([`FORMAT`]; 0 before records carried one).
    #[serde(default = "super::unversioned")]
    pub format: u32,
    /// The test name (the store folder).
    pub name: String,
    /// The seed of every random choice.
    pub seed: u64,
    /// Replicas in the cluster.
    pub n: usize,
    /// The checker model of the workload.
    pub model: String,
    /// The harness's command line.
    pub command_line: Vec<String>,
    /// The command that repeats the run.
    pub reproduce: String,
    /// When it started (RFC 3339).
    pub started_at: String,
    /// The harness version that ran it.
    pub harness_version: String,
    /// The resolved configuration.
    pub config: C,
}

impl<C: Default> Default for TestRecord<C> {
    fn default() -> Self {
        TestRecord {
            format: FORMAT,
            name: String::new(),
            seed: 0,
            n: 0,
            model: String::new(),
            command_line: Vec::new(),
            reproduce: String::new(),
            started_at: String::new(),
            harness_version: String::new(),
            config: C::default(),
        }
    }
}

impl<C> Versioned for TestRecord<C> {
    fn format(&self) -> u32 {
        self.format
    }
}
