//! `harness run` with disk faults (issue 22), end to end: the harness mounts the
//! `diskfault` FUSE layer under every replica's data directory and the nemesis drives
//! it. Judged by verdicts and the history's nemesis ops, never by timings.
//!
//! - `--fsync always`, power loss of every replica: every oracle valid.
//! - `--fsync never`, the same: acknowledged appends are lost, and linearizability
//!   says so (the append workload: a read that lacks an acknowledged element cannot
//!   be explained by indeterminate operations, which could only add elements), and so
//!   does the durability oracle (executed sequence numbers forgotten).
//! - Bit rot in one replica's executed history: it refuses to start, the nemesis sets
//!   its data aside, it rejoins empty and catches up; every oracle valid.
//!
//! Needs `/dev/fuse` and `fusermount3`; without them each test prints a loud SKIPPED
//! line and returns. The harness is SIGKILLed if a test fails mid-run, which leaves its
//! mounts behind, dead: [`DeadMounts`] detaches those.

mod common;

use common::run::{run, Outcome};
use common::HarnessRun;
use std::io::Write as _;
use std::path::Path;
use std::time::Duration;

fn skipped(test: &str) -> bool {
    let Some(reason) = diskfault::fuse_unavailable() else {
        return false;
    };
    let _ = writeln!(
        std::io::stderr(),
        "\n!!!!!!!! SKIPPED {test}: {reason}; install Debian's fuse3. \
         The disk faults were NOT tested. !!!!!!!!\n"
    );
    true
}

/// On drop, detaches (lazily) every disk-fault mount whose process is gone (a dead
/// mount answers ENOTCONN), so a failing test leaves no dead mount behind. Mounts of
/// runs still going (other tests') answer and are left alone.
struct DeadMounts;

impl Drop for DeadMounts {
    fn drop(&mut self) {
        for m in layer_mounts() {
            let dead =
                std::fs::metadata(&m).is_err_and(|e| e.raw_os_error() == Some(libc_enotconn()));
            if dead {
                let _ = std::process::Command::new("fusermount3")
                    .args(["-uz", &m])
                    .status();
            }
        }
    }
}

/// ENOTCONN on Linux.
fn libc_enotconn() -> i32 {
    107
}

/// Every mount point of the disk-fault layer (from /proc/mounts).
fn layer_mounts() -> Vec<String> {
    std::fs::read_to_string("/proc/mounts")
        .unwrap_or_default()
        .lines()
        .filter(|l| l.starts_with("diskfault "))
        .filter_map(|l| l.split_whitespace().nth(1))
        .map(str::to_string)
        .collect()
}

/// The layer's mount points under `dir`.
fn mounts_under(dir: &Path) -> Vec<String> {
    let needle = dir.display().to_string();
    layer_mounts()
        .into_iter()
        .filter(|m| m.starts_with(&needle))
        .collect()
}

/// Flags of the power-loss runs: appends on few keys (every key read often), a power
/// loss of every replica from 3 s to 6 s and from 9 s to 12 s.
const POWER_LOSS_ALL: [&str; 10] = [
    "--workload",
    "append",
    "--keys",
    "3",
    "--nemesis",
    "power-loss-all",
    "--nemesis-interval",
    "3",
    "--time-limit",
    "12",
];

fn power_loss_run(fsync: &str, seed: &str) -> Outcome {
    let mut args: Vec<&str> = POWER_LOSS_ALL.to_vec();
    args.extend(["--fsync", fsync, "--seed", seed]);
    let out = run(&args, None);
    assert!(
        mounts_under(out.dir.path()).is_empty(),
        "the harness left mounts behind: {:?}",
        mounts_under(out.dir.path())
    );
    out
}

/// The power losses in the history: each hit every replica and was healed.
fn assert_power_lost_everywhere(out: &Outcome) -> u64 {
    let losses = out.nemesis("lose-unsynced");
    assert!(!losses.is_empty(), "no power loss in the history");
    let mut dropped = 0;
    for op in &losses {
        assert_eq!(op.value["nodes"], serde_json::json!([0, 1, 2, 3]), "{op:?}");
        for d in op.value["details"].as_object().unwrap().values() {
            dropped += d["dropped_bytes"].as_u64().unwrap();
        }
    }
    assert_eq!(out.nemesis("heal-disk").len(), losses.len());
    dropped
}

#[test]
fn fsync_always_survives_power_loss_of_every_replica() {
    if skipped("fsync_always_survives_power_loss_of_every_replica") {
        return;
    }
    let _mounts = DeadMounts;
    let out = power_loss_run("always", "5");
    assert_power_lost_everywhere(&out);
    out.assert_healthy_after(12.5);
}

#[test]
fn fsync_never_loses_acknowledged_appends_and_two_oracles_say_so() {
    if skipped("fsync_never_loses_acknowledged_appends_and_two_oracles_say_so") {
        return;
    }
    let _mounts = DeadMounts;
    let out = power_loss_run("never", "5");
    let dropped = assert_power_lost_everywhere(&out);
    assert!(dropped > 0, "nothing unsynced was dropped");
    assert_eq!(
        out.oracle("linearizability")["verdict"],
        "invalid",
        "lost acknowledged appends went unnoticed: {:#}\nstderr:\n{}",
        out.results["oracles"],
        out.stderr
    );
    let durability = out.oracle("durability");
    assert_eq!(durability["verdict"], "invalid", "{durability:#}");
    assert!(
        durability["evidence"][0]
            .as_str()
            .is_some_and(|e| e.contains("forgotten")),
        "{durability:#}"
    );
    assert_eq!(out.status, Some(1), "exit status of an invalid run");
}

#[test]
fn a_replica_with_a_corrupt_history_refuses_to_start_and_rejoins_empty() {
    if skipped("a_replica_with_a_corrupt_history_refuses_to_start_and_rejoins_empty") {
        return;
    }
    let _mounts = DeadMounts;
    let out = run(
        &["--seed", "7", "--time-limit", "12"],
        Some(
            r#"
            [[fault]]
            at = 4
            heal = 6
            kind = "disk"
            nodes = [3]
            action = "corrupt"
            file = "history"
            mode = "flip-bits"
            offset = 10
            len = 4
            "#,
        ),
    );
    assert!(
        mounts_under(out.dir.path()).is_empty(),
        "mounts left behind"
    );
    out.assert_healthy_after(6.5);
    let corrupt = out.nemesis("corrupt");
    assert_eq!(corrupt.len(), 1);
    let what = &corrupt[0].value["details"]["3"];
    assert_eq!(what["damaged"], true, "{what}");
    assert_eq!(what["range"], serde_json::json!([10, 14]));
    let heal = out.nemesis("heal-disk");
    assert_eq!(heal.len(), 1);
    let refused = &heal[0].value["refused-start"]["3"];
    assert!(
        refused["log"]
            .as_str()
            .is_some_and(|l| l.contains("history.jsonl is corrupt")),
        "replica 3 did not refuse to start on its corrupt history: {:#}",
        heal[0].value
    );
    assert!(
        heal[0].value["set-aside"]["3"]["files"].is_array(),
        "{:#}",
        heal[0].value
    );
}

#[test]
fn a_disk_fault_on_more_than_f_replicas_is_refused_before_anything_starts() {
    let dir = tempfile::tempdir().unwrap();
    let schedule = dir.path().join("faults.toml");
    std::fs::write(
        &schedule,
        "[[fault]]\nat = 1\nkind = \"disk\"\nnodes = [0, 1]\naction = \"corrupt\"\n",
    )
    .unwrap();
    let store = dir.path().join("store");
    let mut harness =
        HarnessRun::start(&store, &["--nemesis-schedule", schedule.to_str().unwrap()]);
    let status = harness.wait(Duration::from_secs(30));
    let stderr = harness.stderr();
    assert_eq!(status.code(), Some(254), "{stderr}");
    assert!(stderr.contains("at most f = 1"), "{stderr}");
}
