//! Helpers shared by the `harness` integration tests: a guard that kills a harness
//! run however the test ends, and process lookups through /proc.

#![allow(dead_code, reason = "each test binary uses a different subset")]

pub(crate) mod browser;
pub(crate) mod run;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

/// A running `harness run`, SIGKILLed on drop (its replicas then die by their
/// parent-death signal; [`replicas_of`] checks).
pub(crate) struct HarnessRun {
    child: Option<Child>,
    /// The run store given with --store.
    pub(crate) store: PathBuf,
    stderr_file: PathBuf,
}

impl HarnessRun {
    /// Starts `harness run --store <store> --progress none <args>`, plus `--nemesis none`
    /// unless `args` choose the faults themselves (the harness's default is a mixed
    /// nemesis; these tests inject only the faults they name).
    pub(crate) fn start(store: &Path, args: &[&str]) -> HarnessRun {
        let names_faults = args.iter().any(|a| {
            [
                "--nemesis",
                "--nemesis-schedule",
                "--scenario",
                "--packet",
                "--no-proxy",
                "--config",
            ]
            .contains(a)
        });
        let quiet: &[&str] = if names_faults {
            &[]
        } else {
            &["--nemesis", "none"]
        };
        let mut all = vec!["--progress", "none"];
        all.extend_from_slice(args);
        all.extend_from_slice(quiet);
        HarnessRun::spawn("run", store, &all)
    }

    /// Starts `harness <command> --store <store> <args>`, its stderr kept beside the
    /// store.
    pub(crate) fn spawn(command: &str, store: &Path, args: &[&str]) -> HarnessRun {
        let stderr_file = store.with_extension("stderr");
        let stderr = std::fs::File::create(&stderr_file).unwrap();
        let child = Command::new(env!("CARGO_BIN_EXE_harness"))
            .arg(command)
            .arg("--store")
            .arg(store)
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(stderr)
            .spawn()
            .expect("harness starts");
        HarnessRun {
            child: Some(child),
            store: store.to_path_buf(),
            stderr_file,
        }
    }

    /// The harness's pid.
    pub(crate) fn pid(&self) -> u32 {
        self.child.as_ref().expect("running").id()
    }

    /// Waits at most `limit` for the harness to exit.
    pub(crate) fn wait(&mut self, limit: Duration) -> ExitStatus {
        let started = Instant::now();
        let child = self.child.as_mut().expect("running");
        loop {
            if let Some(status) = child.try_wait().unwrap() {
                self.child = None;
                return status;
            }
            assert!(
                started.elapsed() < limit,
                "harness still running after {limit:?}; stderr:\n{}",
                self.stderr()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// SIGKILLs the harness and reaps it.
    pub(crate) fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// What the harness printed on stderr so far.
    pub(crate) fn stderr(&self) -> String {
        std::fs::read_to_string(&self.stderr_file).unwrap_or_default()
    }

    /// The run directory (through `store/latest`), once it exists.
    pub(crate) fn run_dir(&self) -> PathBuf {
        self.store.join("latest")
    }
}

impl Drop for HarnessRun {
    fn drop(&mut self) {
        self.kill();
        // Belt and braces: whatever the test's outcome, no process of this run (a
        // replica, or a `harness run` of a suite or self-test) survives it.
        for pid in processes_of(&self.store) {
            let _ = Command::new("kill")
                .args(["-KILL", &pid.to_string()])
                .status();
        }
    }
}

/// Pids of live processes whose command line mentions `store` (this one excepted).
pub(crate) fn processes_of(store: &Path) -> Vec<u32> {
    command_lines_mentioning(store)
        .into_iter()
        .map(|(pid, _)| pid)
        .collect()
}

/// Pids of live processes whose command line mentions `store` (the replicas of runs in
/// it: their --cluster, --key and --data-dir paths lie under it).
pub(crate) fn replicas_of(store: &Path) -> Vec<u32> {
    // `harness run --store <store>` mentions the store too, but only replicas get a
    // cluster file (zombies have an empty command line).
    command_lines_mentioning(store)
        .into_iter()
        .filter(|(_, cmdline)| cmdline.contains("--cluster"))
        .map(|(pid, _)| pid)
        .collect()
}

/// Live processes (pid, command line) whose command line mentions `store`, this test
/// process excepted.
fn command_lines_mentioning(store: &Path) -> Vec<(u32, String)> {
    let needle = store.display().to_string();
    let mut out = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        let Ok(cmdline) = std::fs::read(entry.path().join("cmdline")) else {
            continue;
        };
        let cmdline = String::from_utf8_lossy(&cmdline).replace('\0', " ");
        if cmdline.contains(&needle) && pid != std::process::id() {
            out.push((pid, cmdline));
        }
    }
    out
}
