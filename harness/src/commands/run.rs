//! `harness run`: one test, end to end (see the `run` wing for the steps).

use crate::cli::RunArgs;
use crate::exit::{Exit, ExitContext, Failure};

/// Runs `harness run`: resolves the configuration (bad settings exit 254), then the
/// test.
pub(crate) fn run(args: &RunArgs) -> Result<Exit, Failure> {
    let config = args.resolve().or_exit(Exit::BadInput)?;
    crate::run::run_test(config)
}
