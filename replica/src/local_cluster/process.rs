//! Starting one replica process and signalling its process group.
//!
//! A replica is started as `<program> <prefix...> --id I --cluster F --key K
//! --data-dir D <flags...>`: the plain `replica` binary has no prefix; the harness
//! re-executes itself with `replica --parent-pid P [--exec BIN] --` as the prefix. The
//! child leads its own process group (a terminal's Ctrl-C reaches only its parent, and
//! the whole group can be signalled), and writes stdout and stderr to its log.
//!
//! Replicas must die with whoever started them, even if that process is killed before
//! it can clean up: the plain binary arms a parent-death signal when
//! `REPLICA_EXIT_WITH_PARENT` is set (the harness's wrapper arms its own). That signal
//! fires when the *thread* that spawned the child exits, so replicas must be spawned from
//! a thread that lives as long as the cluster (a test's main thread, an async runtime's
//! main or worker threads, never `spawn_blocking`).

use std::ffi::OsString;
use std::fs::File;
use std::io::Write;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use nix::sys::signal::{killpg, Signal};
use nix::unistd::Pid;

use super::layout::ClusterLayout;
use crate::error::{Error, Result};

/// How replica processes are started.
#[derive(Debug, Clone)]
pub struct Launch {
    program: PathBuf,
    prefix: Vec<OsString>,
    flags: Vec<String>,
    env: Vec<(String, String)>,
}

impl Launch {
    /// Runs the `replica` binary at `binary` itself, which then dies with its parent.
    pub fn binary(binary: &Path) -> Self {
        Launch {
            program: binary.to_path_buf(),
            prefix: Vec::new(),
            flags: Vec::new(),
            env: vec![("REPLICA_EXIT_WITH_PARENT".into(), "1".into())],
        }
    }

    /// Runs `program` with `prefix` before the replica's own flags (a wrapper such as
    /// `harness replica --parent-pid P --`, which takes care of the parent-death signal).
    pub fn wrapped(program: &Path, prefix: Vec<OsString>) -> Self {
        Launch {
            program: program.to_path_buf(),
            prefix,
            flags: Vec::new(),
            env: Vec::new(),
        }
    }

    /// Adds flags every replica gets after its identity and files (e.g. `--fsync never`).
    pub fn flags(mut self, flags: impl IntoIterator<Item = impl Into<String>>) -> Self {
        self.flags.extend(flags.into_iter().map(Into::into));
        self
    }

    /// Sets an environment variable of every replica (e.g. `RUST_LOG`).
    pub fn env(mut self, key: &str, value: &str) -> Self {
        self.env.retain(|(k, _)| k != key);
        self.env.push((key.into(), value.into()));
        self
    }

    /// Starts replica `i`, its output appended to its log, with a header line naming
    /// `attempt` (how many times it has been started).
    pub(super) fn spawn(&self, layout: &ClusterLayout, i: usize, attempt: u32) -> Result<Child> {
        let log_path = layout.log_file(i);
        let mut log = File::options()
            .create(true)
            .append(true)
            .open(&log_path)
            .map_err(|e| Error::io("open", &log_path, e))?;
        let since_epoch = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default();
        writeln!(
            log,
            "=== starting replica {i} (attempt {attempt}) at {}.{:03} s since the epoch",
            since_epoch.as_secs(),
            since_epoch.subsec_millis()
        )
        .map_err(|e| Error::io("write", &log_path, e))?;
        let stderr = log
            .try_clone()
            .map_err(|e| Error::io("duplicate", &log_path, e))?;
        let mut command = Command::new(&self.program);
        command
            .args(&self.prefix)
            .arg("--id")
            .arg(i.to_string())
            .arg("--cluster")
            .arg(layout.cluster_file())
            .arg("--key")
            .arg(layout.key_file(i))
            .arg("--data-dir")
            .arg(layout.data_dir(i))
            .args(&self.flags)
            .env("NO_COLOR", "1")
            .stdin(Stdio::null())
            .stdout(log)
            .stderr(stderr)
            .process_group(0);
        for (k, v) in &self.env {
            command.env(k, v);
        }
        command
            .spawn()
            .map_err(|e| Error::io("spawn", &self.program, e))
    }
}

/// Sends `signal` to the process group led by `pid` (a group that is gone is fine).
pub fn signal_group(pid: u32, signal: Signal) {
    if let Ok(raw) = i32::try_from(pid) {
        if let Err(e) = killpg(Pid::from_raw(raw), signal) {
            if e != nix::errno::Errno::ESRCH {
                tracing::warn!(pid, ?signal, error = %e, "cannot signal replica group");
            }
        }
    }
}

/// A short description of how a process ended ("exited 0", "killed by SIGKILL").
pub fn describe_exit(status: std::process::ExitStatus) -> String {
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
