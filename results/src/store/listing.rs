//! Every run directory (one holding a `test.json`) and suite directory (a
//! `summary.json`) under a store, newest first, read through the typed records.

use crate::record::{read_optional, read_record, RunRecord, TestRecord, RESULTS_FILE, TEST_FILE};
use crate::suite_summary::{SuiteSummary, SUMMARY};
use std::path::{Path, PathBuf};

/// How deep under the store runs are looked for (suites put runs 4 levels down).
const MAX_DEPTH: usize = 6;

/// One run (or suite) in the store's listing.
#[derive(Debug, Clone, PartialEq)]
pub struct RunEntry {
    /// The run directory relative to the store.
    pub path: String,
    /// The test name.
    pub name: String,
    /// When it started (RFC 3339), or empty.
    pub started_at: String,
    /// Its verdict (`running or broken` without results.json, `unreadable` when a
    /// record does not load).
    pub verdict: String,
    /// Completions per second.
    pub ops_per_sec: Option<f64>,
    /// p99 latency of ok operations, ms.
    pub p99_ms: Option<f64>,
    /// Fault families that ran.
    pub faults: Vec<String>,
    /// Whether report.html exists.
    pub has_report: bool,
    /// Whether this is a suite directory rather than a run.
    pub suite: bool,
}

/// Every run and suite under `store`, newest first.
pub fn list_runs(store: &Path) -> Vec<RunEntry> {
    let mut out = Vec::new();
    walk(store, store, MAX_DEPTH, &mut out);
    out.sort_by(|a, b| b.started_at.cmp(&a.started_at).then(a.path.cmp(&b.path)));
    out
}

fn walk(root: &Path, dir: &Path, depth: usize, out: &mut Vec<RunEntry>) {
    let rel = dir
        .strip_prefix(root)
        .map(|p| p.display().to_string())
        .unwrap_or_default();
    if dir.join(TEST_FILE).is_file() {
        out.push(run_entry(dir, rel));
        return;
    }
    if dir.join(SUMMARY).is_file() {
        out.push(suite_entry(dir, rel.clone()));
    }
    if depth == 0 {
        return;
    }
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    let mut dirs: Vec<PathBuf> = entries
        .flatten()
        // Symlinks (store/latest) are not followed: every run is listed once.
        .filter(|e| e.file_type().is_ok_and(|t| t.is_dir()))
        .map(|e| e.path())
        .collect();
    dirs.sort();
    for d in dirs {
        walk(root, &d, depth - 1, out);
    }
}

/// A run directory's line.
fn run_entry(dir: &Path, path: String) -> RunEntry {
    let test: Option<TestRecord> = read_record(&dir.join(TEST_FILE)).ok();
    let results = read_optional::<RunRecord>(&dir.join(RESULTS_FILE));
    let mut entry = RunEntry {
        path,
        name: test.as_ref().map_or("?".into(), |t| t.name.clone()),
        started_at: test.map(|t| t.started_at).unwrap_or_default(),
        verdict: String::new(),
        ops_per_sec: None,
        p99_ms: None,
        faults: Vec::new(),
        has_report: dir.join(crate::REPORT).is_file(),
        suite: false,
    };
    match results {
        Ok(Some(r)) => {
            entry.verdict = r.verdict_name().into();
            if r.verdict.is_some() {
                entry.ops_per_sec = Some(r.ops_per_sec);
                entry.p99_ms = Some(r.latency_us.p99 as f64 / 1000.0);
            }
            entry.faults = r.fault_families();
        }
        Ok(None) => entry.verdict = "running or broken".into(),
        Err(_) => entry.verdict = "unreadable".into(),
    }
    entry
}

/// A suite directory's line.
fn suite_entry(dir: &Path, path: String) -> RunEntry {
    let (name, started_at, verdict) = match SuiteSummary::load(dir) {
        Ok(s) => {
            let failed = s.runs.iter().filter(|r| !r.passed()).count();
            let verdict = if failed == 0 {
                "valid".into()
            } else {
                format!("{failed} failed")
            };
            (
                format!("suite {} ({} runs)", s.name, s.runs.len()),
                s.started_at,
                verdict,
            )
        }
        Err(_) => ("suite ?".into(), String::new(), "unreadable".into()),
    };
    RunEntry {
        path,
        name,
        started_at,
        verdict,
        ops_per_sec: None,
        p99_ms: None,
        faults: Vec::new(),
        has_report: false,
        suite: true,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn runs_are_listed_newest_first() {
        let tmp = tempfile::tempdir().unwrap();
        for (dir, at, verdict) in [
            ("a/1", "2026-01-01T00:00:00", "valid"),
            ("b/2", "2026-02-01T00:00:00", "invalid"),
        ] {
            let d = tmp.path().join(dir);
            std::fs::create_dir_all(&d).unwrap();
            std::fs::write(
                d.join(TEST_FILE),
                format!(r#"{{"name":"{dir}","started_at":"{at}"}}"#),
            )
            .unwrap();
            std::fs::write(
                d.join(RESULTS_FILE),
                format!(r#"{{"verdict":"{verdict}","ops_per_sec":10.0}}"#),
            )
            .unwrap();
        }
        let unfinished = tmp.path().join("c/3");
        std::fs::create_dir_all(&unfinished).unwrap();
        std::fs::write(unfinished.join(TEST_FILE), r#"{"name":"c"}"#).unwrap();
        let runs = list_runs(tmp.path());
        assert_eq!(runs.len(), 3);
        assert_eq!(
            (runs[0].path.as_str(), runs[0].verdict.as_str()),
            ("b/2", "invalid")
        );
        assert_eq!(runs[0].ops_per_sec, Some(10.0));
        let c = runs.iter().find(|r| r.path == "c/3").unwrap();
        assert_eq!(c.verdict, "running or broken");
    }
}
