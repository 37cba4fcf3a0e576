//! `harness`: the controller of the fault-injection test harness.
//!
//! Thin glue: parse the command line, run one command, map its outcome to an exit status
//! (0 valid, 1 invalid, 2 unknown, 254 bad arguments or unreadable input, 255 the run
//! itself broke), print errors with their full context chain.

mod cli;
mod cluster;
mod commands;
mod exit;
mod fault_plan;
mod faults;
mod history_check;
mod judge;
mod limiter;
mod progress;
mod recorder;
mod replica_entry;
mod results;
mod run_config;
mod safety_watch;
mod selftest;
mod shutdown;
mod stats;
mod store;
mod suite;
mod workers;

use clap::Parser;
use exit::Exit;

fn main() {
    let cli = match cli::Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let code = if e.use_stderr() {
                Exit::BadInput.code()
            } else {
                0
            };
            let _ = e.print();
            std::process::exit(code);
        }
    };
    // A replica process sets up its own logging.
    if !matches!(cli.command, cli::Command::Replica(_)) {
        tracing_subscriber::fmt()
            .with_env_filter(
                tracing_subscriber::EnvFilter::try_from_default_env()
                    .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
            )
            .with_writer(std::io::stderr)
            .init();
    }
    let code = match commands::run(cli.command) {
        Ok(exit) => exit.code(),
        Err(failure) => {
            eprintln!("harness: error: {:#}", failure.error);
            failure.exit.code()
        }
    };
    std::process::exit(code);
}
