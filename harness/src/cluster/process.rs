//! Starting one replica process and signalling its process group.
//!
//! Every replica is started as `<harness> replica --parent-pid <harness pid> [--exec BIN]
//! -- <replica flags>`: the hidden `replica` command arms the parent-death signal
//! (SIGKILL) before anything else, checks that its parent is still the harness, then runs
//! the replica in-process or `exec`s the external binary (the signal survives `exec`). The
//! child leads its own process group, so a terminal's Ctrl-C reaches only the harness, and
//! the harness can kill the whole group.
//!
//! The parent-death signal fires when the *thread* that spawned the child exits, so
//! replicas must be spawned from a thread that lives as long as the cluster (the runtime's
//! main or worker threads, never `spawn_blocking`).

use super::layout::Layout;
use anyhow::{Context, Result};
use nix::sys::signal::{killpg, Signal};
use nix::unistd::Pid;
use std::fs::File;
use std::io::Write;
use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};

/// How replica processes are started.
#[derive(Debug, Clone)]
pub(crate) struct Launcher {
    /// The harness binary (re-executed with the hidden `replica` command).
    harness: PathBuf,
    /// An external replica binary to `exec`, if any.
    external: Option<PathBuf>,
    /// Flags every replica gets besides its identity and files.
    flags: Vec<String>,
    /// `RUST_LOG` for the replicas.
    log_filter: String,
}

impl Launcher {
    /// Starts replicas by re-executing this binary, or `external` if given.
    pub(crate) fn new(external: Option<PathBuf>, flags: Vec<String>) -> Result<Self> {
        let harness = std::env::current_exe().context("cannot find the harness binary")?;
        Ok(Launcher {
            harness,
            external,
            flags,
            log_filter: std::env::var("HARNESS_REPLICA_LOG").unwrap_or_else(|_| "info".into()),
        })
    }

    /// Starts replica `i`, its output appended to its log. `attempt` is noted in the log.
    pub(crate) fn spawn(&self, layout: &Layout, i: usize, attempt: u32) -> Result<Child> {
        let log_path = layout.log_file(i);
        let mut log = File::options()
            .create(true)
            .append(true)
            .open(&log_path)
            .with_context(|| format!("cannot open {}", log_path.display()))?;
        writeln!(
            log,
            "=== harness: starting replica {i} (attempt {attempt}) at {}",
            chrono::Utc::now().format("%Y-%m-%dT%H:%M:%S%.3fZ")
        )
        .with_context(|| format!("cannot write {}", log_path.display()))?;
        let stderr = log
            .try_clone()
            .with_context(|| format!("cannot duplicate {}", log_path.display()))?;
        let mut command = Command::new(&self.harness);
        command
            .arg("replica")
            .arg("--parent-pid")
            .arg(std::process::id().to_string());
        if let Some(bin) = &self.external {
            command.arg("--exec").arg(bin);
        }
        command
            .arg("--")
            .arg("--id")
            .arg(i.to_string())
            .arg("--cluster")
            .arg(layout.cluster_file())
            .arg("--key")
            .arg(layout.key_file(i))
            .arg("--data-dir")
            .arg(layout.data_dir(i))
            .args(&self.flags)
            .env("RUST_LOG", &self.log_filter)
            .env("NO_COLOR", "1")
            .stdin(Stdio::null())
            .stdout(log)
            .stderr(stderr)
            .process_group(0);
        command
            .spawn()
            .with_context(|| format!("cannot start replica {i} ({})", self.harness.display()))
    }
}

/// Sends `signal` to the process group led by `pid` (ignoring a group that is gone).
pub(crate) fn signal_group(pid: u32, signal: Signal) {
    if let Ok(raw) = i32::try_from(pid) {
        if let Err(e) = killpg(Pid::from_raw(raw), signal) {
            if e != nix::errno::Errno::ESRCH {
                tracing::warn!(pid, ?signal, error = %e, "cannot signal replica group");
            }
        }
    }
}

/// A short description of how a process ended.
pub(crate) fn describe_exit(status: std::process::ExitStatus) -> String {
    use std::os::unix::process::ExitStatusExt;
    match (status.code(), status.signal()) {
        (Some(code), _) => format!("exited {code}"),
        (None, Some(sig)) => match Signal::try_from(sig) {
            Ok(s) => format!("killed by {s}"),
            Err(_) => format!("killed by signal {sig}"),
        },
        _ => status.to_string(),
    }
}
