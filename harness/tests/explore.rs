//! `harness explore` in CI: the coverage-guided search in the simulator finds a planted
//! bug (no-client-dedupe: a retransmitted request executes twice), shrinks it, stores
//! it where `harness serve` lists it, and the stored case replays to the same trace
//! hash; the same search over the correct build finds no violation; the search does
//! not depend on the number of threads; bad input is refused with status 254.
//!
//! Every search is bounded by `--schedules` (never by time) and seeded, and the
//! assertions are on verdicts, never on timings. (Test builds carry the seeded bugs:
//! see the harness's dev-dependencies.)

use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn harness(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_harness"))
        .args(args)
        .env_remove("RUST_LOG")
        .output()
        .expect("harness starts")
}

fn text(out: &Output) -> String {
    format!(
        "status {:?}\nstdout:\n{}\nstderr:\n{}",
        out.status.code(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// Every `failure-N` directory under `store/explore/*/`.
fn failure_dirs(store: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let Ok(sessions) = std::fs::read_dir(store.join("explore")) else {
        return out;
    };
    for session in sessions.flatten() {
        for f in std::fs::read_dir(session.path()).unwrap().flatten() {
            // `unknown-N`: a case an oracle could not judge, stored but not a failure.
            if f.file_name().to_string_lossy().starts_with("failure-") {
                out.push(f.path());
            }
        }
    }
    out.sort();
    out
}

fn explore(store: &Path, time_limit: &str, extra: &[&str]) -> Output {
    let store = store.display().to_string();
    let mut args = vec![
        "explore",
        "--time-limit",
        time_limit,
        "--jobs",
        "2",
        "--progress",
        "none",
        "--out",
        &store,
    ];
    args.extend_from_slice(extra);
    harness(&args)
}

#[test]
fn explore_finds_shrinks_stores_and_replays_a_planted_bug() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("store");
    let out = explore(
        &store,
        "4",
        &[
            "--bug",
            "no-client-dedupe",
            "--schedules",
            "128",
            "--seed",
            "11",
            "--shrink-runs",
            "60",
        ],
    );
    let log = text(&out);
    assert_eq!(out.status.code(), Some(1), "{log}");
    let failures = failure_dirs(&store);
    assert!(!failures.is_empty(), "no failure stored\n{log}");
    let failure = failures
        .iter()
        .find(|d| {
            let r: Value =
                serde_json::from_slice(&std::fs::read(d.join("replay.json")).unwrap()).unwrap();
            r["oracle"] == "exactly-once"
        })
        .unwrap_or_else(|| panic!("no exactly-once failure among {failures:?}\n{log}"));
    let replay: Value =
        serde_json::from_slice(&std::fs::read(failure.join("replay.json")).unwrap()).unwrap();
    assert_eq!(replay["verdict"], "invalid");
    assert_eq!(replay["case"]["bugs"][0], "no-client-dedupe");

    // Shrunk: no more windows, no longer a workload, no more clients than found.
    let found = &replay["found"]["case"];
    let case = &replay["case"];
    assert!(
        replay["shrink"]["steps"].as_u64().unwrap() > 0,
        "{replay:#}"
    );
    assert!(case["time_limit_s"].as_u64() <= found["time_limit_s"].as_u64());
    assert!(case["clients"].as_u64() <= found["clients"].as_u64());
    assert!(
        replay["shrink"]["windows_after"].as_u64() <= replay["shrink"]["windows_before"].as_u64()
    );

    // The schedule file is a --nemesis-schedule file, the same schedule as the case's.
    let schedule = std::fs::read_to_string(failure.join("schedule.toml")).unwrap();
    assert_eq!(schedule, case["schedule"].as_str().unwrap());
    let limit_ms = case["time_limit_s"].as_u64().unwrap() * 1000;
    nemesis::Schedule::from_toml(&schedule, limit_ms).expect("schedule.toml parses");
    let real = replay["real_run"].as_str().unwrap();
    let seed = case["seed"].as_u64().unwrap();
    for flag in [
        format!(
            "--nemesis-schedule {}",
            failure.join("schedule.toml").display()
        ),
        format!("--seed {seed}"),
        format!("--time-limit {}", case["time_limit_s"]),
        "--replica-bug no-client-dedupe".to_string(),
        "--features seeded-bugs".to_string(),
    ] {
        assert!(real.contains(&flag), "{flag:?} missing from {real}");
    }

    // The store lists it, as harness serve shows runs.
    let listed = results::store::list_runs(&store);
    let rel = failure.strip_prefix(&store).unwrap().display().to_string();
    let entry = listed
        .iter()
        .find(|e| e.path == rel)
        .unwrap_or_else(|| panic!("{rel} not listed in {listed:?}"));
    assert_eq!(entry.verdict, "invalid");
    assert!(failure.join("history.jsonl").is_file());

    // Replay: the same verdict and the same trace hash.
    let replay_file = failure.join("replay.json").display().to_string();
    let again = harness(&["explore", "--replay", &replay_file]);
    let again_log = text(&again);
    assert_eq!(again.status.code(), Some(1), "{again_log}");
    let hash = std::fs::read_to_string(failure.join("trace.sha256")).unwrap();
    assert_eq!(hash.trim(), replay["trace_hash"].as_str().unwrap());
    assert!(
        again_log.contains(&format!("trace hash {}", hash.trim())),
        "{again_log}"
    );
    assert!(
        again_log.contains("same trace hash as recorded"),
        "{again_log}"
    );
    assert!(
        again_log.contains("recorded oracle exactly-once: invalid then, invalid now"),
        "{again_log}"
    );
}

#[test]
fn explore_finds_no_violation_in_the_correct_build() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("store");
    let out = explore(&store, "3", &["--schedules", "200", "--seed", "5"]);
    let log = text(&out);
    // 0 valid; 2 if an oracle could not decide for some schedule (never a violation).
    assert!(matches!(out.status.code(), Some(0 | 2)), "{log}");
    assert!(log.contains("violations 0;"), "{log}");
    assert!(failure_dirs(&store).is_empty(), "{log}");
    assert!(log.contains("coverage: "), "{log}");
}

#[test]
fn the_search_does_not_depend_on_the_number_of_threads() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("store");
    let run = |jobs: &str| {
        let store = store.display().to_string();
        let out = harness(&[
            "explore",
            "--time-limit",
            "3",
            "--schedules",
            "16",
            "--seed",
            "3",
            "--jobs",
            jobs,
            "--progress",
            "none",
            "--out",
            &store,
        ]);
        // The coverage map: every point and the schedule that first reached it.
        String::from_utf8_lossy(&out.stdout).to_string()
    };
    let one = run("1");
    assert!(one.lines().count() > 5, "{one}");
    assert_eq!(one, run("3"));
}

#[test]
fn bad_input_is_refused_with_status_254() {
    for args in [
        &["explore", "--bug", "no-such-bug", "--schedules", "8"][..],
        &["explore", "--budget", "10x"][..],
        &["explore", "--jobs", "0"][..],
        &["explore", "--replay", "/nonexistent/replay.json"][..],
    ] {
        let out = harness(args);
        assert_eq!(out.status.code(), Some(254), "{args:?}: {}", text(&out));
        assert!(!String::from_utf8_lossy(&out.stderr).contains("panicked"));
    }
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("replay.json");
    std::fs::write(&bad, "{\"seed\": 1}").unwrap();
    let out = harness(&["explore", "--replay", &bad.display().to_string()]);
    assert_eq!(out.status.code(), Some(254), "{}", text(&out));
}
