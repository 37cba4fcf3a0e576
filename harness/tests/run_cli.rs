//! `harness run` and `harness analyze` arguments: documented defaults, and exit 254 for
//! bad input before anything starts.

use std::process::{Command, Output};

fn harness(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_harness"))
        .args(args)
        .output()
        .expect("harness runs")
}

#[test]
fn run_help_shows_every_default() {
    let out = harness(&["run", "--help"]);
    assert_eq!(out.status.code(), Some(0));
    let help = String::from_utf8_lossy(&out.stdout);
    for flag in [
        "--workload",
        "--f ",
        "--concurrency",
        "--rate",
        "--time-limit",
        "--op-timeout-ms",
        "--keys",
        "--key-dist",
        "--seed",
        "--store",
        "--replica-bin",
        "--config",
    ] {
        assert!(help.contains(flag), "{flag} missing from:\n{help}");
    }
    assert!(help.contains("[default: 60]") && help.contains("[default: register]"));
    assert!(!help.contains("--parent-pid"));
}

#[test]
fn bad_arguments_exit_254() {
    let dir = tempfile::tempdir().unwrap();
    let toml = dir.path().join("run.toml");
    std::fs::write(&toml, "time_limit = 5\nratе = 3\n").unwrap();
    let store = dir.path().join("store");
    let store = store.to_str().unwrap();
    for args in [
        vec!["run", "--workload", "bank"],
        vec!["run", "--concurrency", "0", "--store", store],
        vec!["run", "--config", toml.to_str().unwrap(), "--store", store],
        vec!["run", "--config", "/nonexistent.toml"],
        vec!["analyze", "/nonexistent-run-dir"],
    ] {
        let out = harness(&args);
        assert_eq!(out.status.code(), Some(254), "{args:?}: {out:?}");
        assert!(!out.stderr.is_empty());
    }
    assert!(!std::path::Path::new(store).exists(), "nothing ran");
}
