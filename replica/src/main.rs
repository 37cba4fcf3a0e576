//! `replica`: one PBFT replica process (see `replica --help`).

use clap::Parser;

fn main() {
    if let Err(e) = replica::cli::run(replica::cli::Args::parse()) {
        eprintln!("replica: error: {e:#}");
        std::process::exit(2);
    }
}
