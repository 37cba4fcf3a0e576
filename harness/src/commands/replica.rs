//! `harness replica`: one replica process, as `harness run` starts it (hidden).
//!
//! Arms the parent-death signal first, so the replica dies with the harness however the
//! harness ends, then either runs the replica in this process or `exec`s an external
//! replica binary (the signal survives `exec`).

use crate::cli::ReplicaArgs;
use crate::exit::{Exit, ExitContext, Failure};
use anyhow::{anyhow, Context};
use clap::Parser;
use nix::sys::signal::Signal;
use std::os::unix::process::CommandExt;

/// Runs `harness replica`.
pub(crate) fn run(args: &ReplicaArgs) -> Result<Exit, Failure> {
    nix::sys::prctl::set_pdeathsig(Signal::SIGKILL)
        .context("cannot arm the parent-death signal")
        .or_exit(Exit::Broken)?;
    if let Some(parent) = args.parent_pid {
        // The harness may have died between fork and prctl, before the signal was armed.
        let actual = nix::unistd::getppid().as_raw();
        if actual != parent {
            return Err(anyhow!(
                "the harness (pid {parent}) is gone; parent is {actual}"
            ))
            .or_exit(Exit::Broken);
        }
    }
    if let Some(bin) = &args.exec {
        let error = std::process::Command::new(bin).args(&args.args).exec();
        return Err(anyhow!(error))
            .with_context(|| format!("cannot execute {}", bin.display()))
            .or_exit(Exit::Broken);
    }
    run_in_process(&args.args)
}

/// Parses the replica's flags as `replica` would and runs it until SIGTERM or SIGINT.
fn run_in_process(flags: &[String]) -> Result<Exit, Failure> {
    let argv = std::iter::once("replica".to_string()).chain(flags.iter().cloned());
    let args = replica::cli::Args::try_parse_from(argv)
        .map_err(|e| anyhow!("bad replica flags: {e}"))
        .or_exit(Exit::BadInput)?;
    replica::cli::run(args, |addr| println!("ready {addr}")).or_exit(Exit::Broken)?;
    Ok(Exit::Valid)
}
