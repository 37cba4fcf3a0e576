//! `harness serve`: browse the run store in a web browser (see [`::results::serve`]).
//! Binds 127.0.0.1 unless told otherwise; prints the address and serves until Ctrl-C.

use crate::cli::ServeArgs;
use crate::exit::{Exit, ExitContext, Failure};
use anyhow::{anyhow, Context};
use std::io::Write;
use std::net::SocketAddr;

/// Runs `harness serve`.
pub(crate) fn run(args: &ServeArgs) -> Result<Exit, Failure> {
    let store = &args.store;
    if !store.is_dir() {
        return Err(anyhow!(
            "no run store at {} (no such directory)",
            store.display()
        ))
        .or_exit(Exit::BadInput);
    }
    if ::results::store::list_runs(store).is_empty() {
        return Err(anyhow!(
            "{} is not a run store: no run directory (test.json) or suite (summary.json) under it",
            store.display()
        ))
        .or_exit(Exit::BadInput);
    }
    let addr: SocketAddr = format!("{}:{}", args.bind, args.port)
        .parse()
        .with_context(|| format!("bad address {}:{}", args.bind, args.port))
        .or_exit(Exit::BadInput)?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .context("cannot start the async runtime")
        .or_exit(Exit::Broken)?;
    let store = store.clone();
    runtime
        .block_on(::results::serve::serve(
            store.clone(),
            addr,
            |bound| {
                println!("serving http://{bound}/ (store {})", store.display());
                let _ = std::io::stdout().flush();
            },
            async {
                let _ = tokio::signal::ctrl_c().await;
            },
        ))
        .with_context(|| format!("cannot serve on {addr}"))
        .or_exit(Exit::Broken)?;
    Ok(Exit::Valid)
}
