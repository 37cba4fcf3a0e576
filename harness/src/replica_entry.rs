//! The one call into the replica crate's command-line entry point, for the hidden
//! `harness replica` command.

use crate::exit::{Exit, ExitContext, Failure};
use anyhow::anyhow;
use clap::Parser;

/// Parses the replica's flags as `replica` would and runs it until SIGTERM or SIGINT.
pub(crate) fn run(flags: &[String]) -> Result<Exit, Failure> {
    let argv = std::iter::once("replica".to_string()).chain(flags.iter().cloned());
    let args = replica::cli::Args::try_parse_from(argv)
        .map_err(|e| anyhow!("bad replica flags: {e}"))
        .or_exit(Exit::BadInput)?;
    replica::cli::run(args, |addr| println!("ready {addr}")).or_exit(Exit::Broken)?;
    Ok(Exit::Valid)
}
