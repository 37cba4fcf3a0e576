//! `replica`: one PBFT replica process (see `replica --help`).

use clap::Parser;

fn main() {
    let ready = |addr| println!("ready {addr}");
    if let Err(e) = replica::cli::run(replica::cli::Args::parse(), ready) {
        eprintln!("replica: error: {e:#}");
        std::process::exit(2);
    }
}
