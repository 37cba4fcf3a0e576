//! `harness`: the controller of the fault-injection test harness (see the library,
//! `harness/src/lib.rs`, for the map).
//!
//! Thin glue: parse the command line, run one command, map its outcome to an exit status
//! (0 valid, 1 invalid, 2 unknown, 254 bad arguments or unreadable input, 255 the run
//! itself broke), print errors with their full context chain.

use harness::cli::{self, Command};
use harness::exit::Exit;

fn main() {
    let cli = match cli::parse() {
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
    if !matches!(cli.command, Command::Replica(_)) {
        tracing_subscriber::fmt()
            .with_env_filter(
                tracing_subscriber::EnvFilter::try_from_default_env()
                    .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
            )
            .with_writer(std::io::stderr)
            .init();
    }
    let code = match harness::commands::run(cli.command) {
        Ok(exit) => exit.code(),
        Err(failure) => {
            eprintln!("harness: error: {:#}", failure.error);
            failure.exit.code()
        }
    };
    std::process::exit(code);
}
