//! What a process or clock action did node by node: a fault that fails on one node
//! still acts on the others, and records (and later heals) exactly what it did.

use super::Runner;
use crate::control::{Observer, Processes};
use crate::error::{Error, Result};
use crate::fault::Fault;
use serde_json::{json, Value};

/// The nodes an action worked on, and those it failed on.
#[derive(Debug, Default)]
pub(super) struct Outcome {
    /// Where it worked, in the order tried.
    pub(super) done: Vec<usize>,
    /// Where it failed, and why.
    pub(super) failed: Vec<(usize, Error)>,
}

impl Outcome {
    /// Tries `act` on every node, whatever the others' results.
    pub(super) fn each(nodes: &[usize], mut act: impl FnMut(usize) -> Result<()>) -> Outcome {
        Outcome::from_results(nodes.iter().map(|&i| (i, act(i))))
    }

    /// Sorts per-node results into an outcome.
    pub(super) fn from_results(results: impl IntoIterator<Item = (usize, Result<()>)>) -> Outcome {
        let mut outcome = Outcome::default();
        for (i, r) in results {
            match r {
                Ok(()) => outcome.done.push(i),
                Err(e) => outcome.failed.push((i, e)),
            }
        }
        outcome
    }

    /// The nodes it failed on.
    pub(super) fn failed_nodes(&self) -> Vec<usize> {
        self.failed.iter().map(|(i, _)| *i).collect()
    }

    /// The failures, in one line.
    pub(super) fn errors(&self) -> String {
        let errors: Vec<String> = self.failed.iter().map(|(_, e)| e.to_string()).collect();
        errors.join("; ")
    }
}

impl<P: Processes, O: Observer> Runner<'_, P, O> {
    /// Records `f` (`value` with `nodes`: where it worked, and `failed` when it failed
    /// somewhere) if it worked anywhere, then one `error` op for the failures:
    /// `{<about>: fault description, "nodes": [...], "error": "..."}`, where `about`
    /// is `fault` for a start and `heal` for a heal.
    pub(super) fn record_outcome(
        &mut self,
        f: &str,
        mut value: Value,
        outcome: &Outcome,
        about: &str,
        fault: &Fault,
    ) {
        if !outcome.done.is_empty() {
            value["nodes"] = json!(outcome.done);
            if !outcome.failed.is_empty() {
                value["failed"] = json!(outcome.failed_nodes());
            }
            self.record(f, value);
        }
        if !outcome.failed.is_empty() {
            let errors = outcome.errors();
            tracing::error!(
                f,
                fault = fault.describe(),
                errors,
                "action failed on some nodes"
            );
            let mut error = json!({"nodes": outcome.failed_nodes(), "error": errors});
            error[about] = json!(fault.describe());
            self.record("error", error);
        }
    }
}
