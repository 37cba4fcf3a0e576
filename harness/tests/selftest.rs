//! `harness selftest` in CI: the seeded bugs whose scenarios expose them fastest and
//! most surely, one run each, and the correct build on the same scenarios. (Test
//! builds carry the seeded bugs: see the harness's dev-dependencies.)
//!
//! The long campaign (`--runs 10`, every bug) is not a unit test; see the README.

mod common;

use serde_json::Value;
use std::path::Path;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

/// The bugs the CI self-test runs: each is caught by a mechanism that does not depend
/// on a race (see `harness/src/selftest.rs` for the scenarios).
const CI_BUGS: &str = "no-digest-check,no-pre-prepare,commit-quorum-2f,execute-on-prepared,\
                       drop-prepared-certs,no-client-dedupe,lost-on-restart,accept-first-reply";

/// A `harness selftest` that is killed, with every process of its store, however the
/// test ends.
struct Selftest {
    child: Option<Child>,
    store: std::path::PathBuf,
}

impl Selftest {
    fn start(store: &Path, args: &[&str]) -> Selftest {
        let child = Command::new(env!("CARGO_BIN_EXE_harness"))
            .arg("selftest")
            .arg("--store")
            .arg(store)
            .args(args)
            .stdin(Stdio::null())
            .stdout(std::fs::File::create(store.with_extension("stdout")).unwrap())
            .stderr(std::fs::File::create(store.with_extension("stderr")).unwrap())
            .spawn()
            .expect("harness starts");
        Selftest {
            child: Some(child),
            store: store.to_path_buf(),
        }
    }

    /// Waits at most `limit` for the self-test to exit.
    fn wait(&mut self, limit: Duration) -> ExitStatus {
        let started = Instant::now();
        let child = self.child.as_mut().expect("running");
        loop {
            if let Some(status) = child.try_wait().unwrap() {
                self.child = None;
                return status;
            }
            assert!(
                started.elapsed() < limit,
                "harness selftest still running after {limit:?}; it printed:\n{}",
                self.output()
            );
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    fn output(&self) -> String {
        let read =
            |ext: &str| std::fs::read_to_string(self.store.with_extension(ext)).unwrap_or_default();
        format!("{}{}", read("stderr"), read("stdout"))
    }
}

impl Drop for Selftest {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
        // Its `harness run`s and their replicas all name the store on their command line.
        let needle = self.store.display().to_string();
        for entry in std::fs::read_dir("/proc").unwrap().flatten() {
            let Ok(pid) = entry.file_name().to_string_lossy().parse::<u32>() else {
                continue;
            };
            let cmdline = std::fs::read(entry.path().join("cmdline")).unwrap_or_default();
            if String::from_utf8_lossy(&cmdline).contains(&needle) {
                let _ = Command::new("kill")
                    .args(["-KILL", &pid.to_string()])
                    .status();
            }
        }
        assert!(
            common::replicas_of(&self.store).is_empty() || std::thread::panicking(),
            "replicas of the self-test outlived it"
        );
    }
}

#[test]
fn selftest_catches_the_seeded_bugs_and_passes_the_correct_build() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("store");
    let mut st = Selftest::start(
        &store,
        &[
            "--bugs",
            CI_BUGS,
            "--runs",
            "1",
            "--time-limit",
            "30",
            "--seed",
            "7",
        ],
    );
    // Thirteen runs of at most 30 s of workload each, plus start, recovery and checks;
    // generous for a loaded machine.
    let status = st.wait(Duration::from_secs(30 * 60));
    let output = st.output();
    let selftest_dir = std::fs::read_dir(store.join("suites/selftest"))
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .find(|p| p.join("selftest.json").is_file())
        .unwrap_or_else(|| panic!("no selftest.json written; output:\n{output}"));
    let trials: Vec<Value> =
        serde_json::from_slice(&std::fs::read(selftest_dir.join("selftest.json")).unwrap())
            .unwrap();
    let bugs: Vec<&str> = CI_BUGS.split(',').collect();
    for bug in &bugs {
        let t = trials
            .iter()
            .find(|t| t["bug"] == *bug)
            .unwrap_or_else(|| panic!("no run of {bug}; output:\n{output}"));
        assert_eq!(
            t["verdict"], "invalid",
            "the harness's oracles did not catch the seeded bug {bug} (waited for an \
             invalid verdict within 30 s of workload): {t:#}\noutput:\n{output}"
        );
        assert!(t["caught_by"].is_string(), "{t:#}");
    }
    let correct: Vec<&Value> = trials.iter().filter(|t| t["bug"].is_null()).collect();
    assert_eq!(
        correct.len(),
        5,
        "one correct run per scenario: {trials:#?}"
    );
    for t in correct {
        assert_eq!(
            t["verdict"], "valid",
            "the correct build was flagged in scenario {}: {t:#}\noutput:\n{output}",
            t["scenario"]
        );
    }
    assert!(status.success(), "exit {status:?}; output:\n{output}");
    assert!(output.contains("selftest: PASS"), "{output}");
    assert!(
        selftest_dir.join("summary.json").is_file() && selftest_dir.join("summary.txt").is_file(),
        "the self-test's results are in the store"
    );
}

#[test]
fn bad_selftest_and_bug_arguments_exit_254_before_anything_runs() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("store");
    let mut st = Selftest::start(&store, &["--bugs", "commit-quorum-3f"]);
    let status = st.wait(Duration::from_secs(60));
    assert_eq!(status.code(), Some(254), "{}", st.output());
    assert!(st.output().contains("unknown bug"), "{}", st.output());
    let out = Command::new(env!("CARGO_BIN_EXE_harness"))
        .args(["run", "--replica-bug", "nope", "--store"])
        .arg(&store)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(254));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("unknown bug"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
