//! The disk-fault layer's cost: WAL-like appends (a 200-byte line, then fdatasync, as the
//! replica's `--fsync always` does) into a plain directory and into the same kind of
//! directory through the FUSE layer, measured in one run.
//!
//! `cargo run --release -p diskfault --example wal_bench -- [APPENDS]` (default 2000).
//! Both directories are made under `$TMPDIR` (or /tmp), so both pay the same disk.

use std::fs::OpenOptions;
use std::io::Write;
use std::path::Path;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use diskfault::{fuse_unavailable, FaultyDir};

/// Appends `n` lines to `dir/wal.jsonl`, each followed by fdatasync (or not).
fn appends(dir: &Path, n: usize, sync: bool) -> std::io::Result<Duration> {
    let line = [b'x'; 199]
        .iter()
        .chain(b"\n")
        .copied()
        .collect::<Vec<u8>>();
    let mut f = OpenOptions::new()
        .create(true)
        .append(true)
        .open(dir.join("wal.jsonl"))?;
    let start = Instant::now();
    for _ in 0..n {
        f.write_all(&line)?;
        if sync {
            f.sync_data()?;
        }
    }
    f.sync_data()?;
    Ok(start.elapsed())
}

fn run(n: usize) -> Result<(), String> {
    if let Some(reason) = fuse_unavailable() {
        return Err(format!("FUSE is not available: {reason}"));
    }
    let err = |e: std::io::Error| e.to_string();
    println!("{n} appends of 200 bytes; us per append (appends/s)");
    for sync in [true, false] {
        let plain = tempfile::tempdir().map_err(err)?;
        let t_plain = appends(plain.path(), n, sync).map_err(err)?;
        let backing = tempfile::tempdir().map_err(err)?;
        let mnt = tempfile::tempdir().map_err(err)?;
        let layer = FaultyDir::mount(backing.path(), mnt.path()).map_err(|e| e.to_string())?;
        let t_fuse = appends(mnt.path(), n, sync).map_err(err)?;
        layer.unmount().map_err(|e| e.to_string())?;
        let per = |t: Duration| t.as_secs_f64() * 1e6 / n as f64;
        println!(
            "{:<22} plain {:>8.1} us ({:>7.0}/s)   fuse {:>8.1} us ({:>7.0}/s)   ratio {:.2}x",
            if sync {
                "write + fdatasync"
            } else {
                "write only"
            },
            per(t_plain),
            n as f64 / t_plain.as_secs_f64(),
            per(t_fuse),
            n as f64 / t_fuse.as_secs_f64(),
            t_fuse.as_secs_f64() / t_plain.as_secs_f64(),
        );
    }
    Ok(())
}

fn main() -> ExitCode {
    let n = match std::env::args().nth(1).map(|a| a.parse::<usize>()) {
        None => 2000,
        Some(Ok(n)) if n > 0 => n,
        Some(_) => {
            eprintln!("wal_bench: APPENDS must be a positive integer");
            return ExitCode::from(2);
        }
    };
    match run(n) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("wal_bench: {e}");
            ExitCode::FAILURE
        }
    }
}
