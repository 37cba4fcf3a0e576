//! Running `harness run` with a fault schedule and reading what it left: shared by the
//! fault and Byzantine tests.

use super::{replicas_of, HarnessRun};
use checker::history::read_jsonl;
use checker::{Op, OpType, Process};
use serde_json::Value;
use std::time::Duration;

/// Longest a whole run may take here (its workload is 10-12 s).
const RUN_LIMIT: Duration = Duration::from_secs(240);

/// Flags every fault run shares: a small load, op timeouts generous for a loaded
/// machine (and `--time-limit 10` unless a test gives its own).
const COMMON: [&str; 8] = [
    "--rate",
    "20",
    "--concurrency",
    "3",
    "--op-timeout-ms",
    "10000",
    "--recovery-time",
    "4",
];

pub(crate) struct Outcome {
    pub(crate) status: Option<i32>,
    pub(crate) results: Value,
    pub(crate) ops: Vec<Op>,
    pub(crate) stderr: String,
    pub(crate) dir: tempfile::TempDir,
}

impl Outcome {
    pub(crate) fn nemesis(&self, f: &str) -> Vec<&Op> {
        self.ops
            .iter()
            .filter(|o| o.process == Process::Nemesis && o.f == f)
            .collect()
    }

    pub(crate) fn oracle(&self, name: &str) -> &Value {
        self.results["oracles"]
            .as_array()
            .and_then(|a| a.iter().find(|o| o["name"] == name))
            .unwrap_or_else(|| panic!("no {name} oracle in {:#}", self.results))
    }

    /// Exit 0, every oracle valid, and ok operations after time `after_s`.
    pub(crate) fn assert_healthy_after(&self, after_s: f64) {
        assert_eq!(
            self.status,
            Some(0),
            "exit status; oracles: {:#}\nstderr:\n{}",
            self.results["oracles"],
            self.stderr
        );
        for o in self.results["oracles"].as_array().unwrap() {
            assert_eq!(o["verdict"], "valid", "oracle {o:#}");
        }
        let late_ok = self
            .ops
            .iter()
            .filter(|o| o.kind == OpType::Ok && o.time as f64 / 1e9 > after_s)
            .count();
        assert!(late_ok > 0, "no ok operation after {after_s} s (the heal)");
    }
}

/// Runs `harness run` with the common flags, `args`, and `schedule` (TOML) if given;
/// waits for it and checks that no replica outlived it.
pub(crate) fn run(args: &[&str], schedule: Option<&str>) -> Outcome {
    run_with(args, schedule, |_| {})
}

/// The same, calling `meddle` with the run while it goes (once its replicas are up).
pub(crate) fn run_with(
    args: &[&str],
    schedule: Option<&str>,
    meddle: impl FnOnce(&HarnessRun),
) -> Outcome {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("store");
    let mut all: Vec<String> = COMMON.iter().map(|s| s.to_string()).collect();
    all.extend(args.iter().map(|s| s.to_string()));
    if !args.contains(&"--time-limit") {
        all.extend(["--time-limit".to_string(), "10".to_string()]);
    }
    if let Some(text) = schedule {
        let path = dir.path().join("schedule.toml");
        std::fs::write(&path, text).unwrap();
        all.push("--nemesis-schedule".into());
        all.push(path.display().to_string());
    }
    let refs: Vec<&str> = all.iter().map(String::as_str).collect();
    let mut harness = HarnessRun::start(&store, &refs);
    meddle(&harness);
    let status = harness.wait(RUN_LIMIT).code();
    let stderr = harness.stderr();
    let left = replicas_of(&store);
    assert!(
        left.is_empty(),
        "replica processes left after the run: {left:?}"
    );
    let run_dir = store.join("latest");
    let results: Value = serde_json::from_slice(
        &std::fs::read(run_dir.join("results.json"))
            .unwrap_or_else(|e| panic!("results.json: {e}; stderr:\n{stderr}")),
    )
    .unwrap();
    let ops = read_jsonl(&run_dir.join("history.jsonl")).unwrap();
    Outcome {
        status,
        results,
        ops,
        stderr,
        dir,
    }
}

/// Replica `i`'s pid from the run's `pids` file, waiting (bounded) for it to appear.
pub(crate) fn wait_for_replica_pid(harness: &HarnessRun, i: usize) -> u32 {
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    loop {
        let pids = harness.run_dir().join("pids");
        if let Ok(text) = std::fs::read_to_string(&pids) {
            let found = text
                .lines()
                .filter_map(|l| l.split_once(' '))
                .find(|(id, _)| id.parse() == Ok(i))
                .and_then(|(_, pid)| pid.trim().parse().ok());
            if let (Some(pid), true) = (found, text.lines().count() >= 4) {
                // Ready once results are being recorded: the history has an op.
                let history = harness.run_dir().join("history.jsonl");
                if std::fs::metadata(&history).is_ok_and(|m| m.len() > 0) {
                    return pid;
                }
            }
        }
        assert!(
            std::time::Instant::now() < deadline,
            "waited 60 s for replica {i}'s pid and the first recorded operation; stderr:\n{}",
            harness.stderr()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}
