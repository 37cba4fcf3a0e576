//! One file per command; `run` dispatches.

mod bench_check;
mod check;
pub(crate) mod load;

use crate::cli::Command;
use crate::exit::{Exit, Failure};

/// Runs one command.
pub(crate) fn run(command: Command) -> Result<Exit, Failure> {
    match command {
        Command::Check(args) => check::run(&args),
        Command::BenchCheck(args) => bench_check::run(&args),
    }
}
