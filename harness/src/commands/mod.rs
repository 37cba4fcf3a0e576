//! One file per command; [`run`] dispatches. (`history_file` reads the histories
//! `check` and `bench-check` are given.)

mod analyze;
mod bench_check;
mod check;
mod compare;
mod explore;
mod history_file;
mod replica;
mod report;
mod run;
mod selftest;
mod serve;
mod suite;

use crate::cli::Command;
use crate::exit::{Exit, Failure};

/// Runs one command.
pub fn run(command: Command) -> Result<Exit, Failure> {
    match command {
        Command::Check(args) => check::run(&args),
        Command::BenchCheck(args) => bench_check::run(&args),
        Command::Run(args) => run::run(&args),
        Command::Analyze(args) => analyze::run(&args),
        Command::Replica(args) => replica::run(&args),
        Command::Report(args) => report::run(&args),
        Command::Suite(args) => suite::run(&args),
        Command::Selftest(args) => selftest::run(&args),
        Command::Explore(args) => explore::run(&args),
        Command::Compare(args) => compare::run(&args),
        Command::Serve(args) => serve::run(&args),
    }
}
