//! The run store as the web server sees it: every run directory (one holding a
//! `test.json`) and suite directory (`summary.json`) under the store, newest first, and
//! the one safe way to turn a requested path into a file: relative, no `..`, and still
//! inside the store once symlinks are resolved.

use crate::palette::fault_family;
use crate::suite_summary::SUMMARY;
use serde_json::Value;
use std::path::{Component, Path, PathBuf};

/// How deep under the store runs are looked for (suites put runs 4 levels down).
const MAX_DEPTH: usize = 6;

/// Why a requested path is not served.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    /// The path tries to leave the store (`..`, absolute, a symlink pointing out).
    #[error("outside the store: {0}")]
    Outside(String),
    /// Nothing there.
    #[error("not found: {0}")]
    NotFound(String),
}

/// Resolves `requested` (relative to the store, as in a URL) to a path inside `store`.
pub fn resolve(store: &Path, requested: &str) -> Result<PathBuf, Refusal> {
    let rel = Path::new(requested);
    if requested.contains('\0') || requested.contains('\\') {
        return Err(Refusal::Outside(requested.into()));
    }
    for c in rel.components() {
        match c {
            Component::Normal(_) | Component::CurDir => {}
            Component::ParentDir | Component::RootDir | Component::Prefix(_) => {
                return Err(Refusal::Outside(requested.into()))
            }
        }
    }
    let root = store
        .canonicalize()
        .map_err(|_| Refusal::NotFound(store.display().to_string()))?;
    let full = root
        .join(rel)
        .canonicalize()
        .map_err(|_| Refusal::NotFound(requested.into()))?;
    if !full.starts_with(&root) {
        return Err(Refusal::Outside(requested.into()));
    }
    Ok(full)
}

/// One run in the store's listing.
#[derive(Debug, Clone, PartialEq)]
pub struct RunEntry {
    /// The run directory relative to the store.
    pub path: String,
    /// The test name.
    pub name: String,
    /// When it started (RFC 3339), or empty.
    pub started_at: String,
    /// Its verdict (`running or broken` without results.json).
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

fn read(path: &Path) -> Value {
    std::fs::read(path)
        .ok()
        .and_then(|b| serde_json::from_slice(&b).ok())
        .unwrap_or(Value::Null)
}

fn walk(root: &Path, dir: &Path, depth: usize, out: &mut Vec<RunEntry>) {
    let rel = dir
        .strip_prefix(root)
        .map(|p| p.display().to_string())
        .unwrap_or_default();
    if dir.join("test.json").is_file() {
        let test = read(&dir.join("test.json"));
        let results = read(&dir.join("results.json"));
        let mut faults: Vec<String> = results["faults"]["recovery"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|r| r["fault"].as_str())
            .map(|f| fault_family(f).to_string())
            .collect();
        faults.sort();
        faults.dedup();
        out.push(RunEntry {
            path: rel,
            name: test["name"].as_str().unwrap_or("?").into(),
            started_at: test["started_at"].as_str().unwrap_or("").into(),
            verdict: results["verdict"]
                .as_str()
                .unwrap_or(if results.is_null() {
                    "running or broken"
                } else {
                    "broken"
                })
                .into(),
            ops_per_sec: results["ops_per_sec"].as_f64(),
            p99_ms: results["latency_us"]["p99"].as_f64().map(|us| us / 1000.0),
            faults,
            has_report: dir.join(crate::REPORT).is_file(),
            suite: false,
        });
        return;
    }
    if dir.join(SUMMARY).is_file() {
        let s = read(&dir.join(SUMMARY));
        let runs = s["runs"].as_array().map_or(0, Vec::len);
        let failed = s["runs"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|r| r["verdict"] != "valid" || r["exit_code"] != 0)
            .count();
        out.push(RunEntry {
            path: rel.clone(),
            name: format!("suite {} ({runs} runs)", s["name"].as_str().unwrap_or("?")),
            started_at: s["started_at"].as_str().unwrap_or("").into(),
            verdict: if failed == 0 {
                "valid".into()
            } else {
                format!("{failed} failed")
            },
            ops_per_sec: None,
            p99_ms: None,
            faults: Vec::new(),
            has_report: false,
            suite: true,
        });
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

/// Every run and suite under `store`, newest first.
pub fn list_runs(store: &Path) -> Vec<RunEntry> {
    let mut out = Vec::new();
    walk(store, store, MAX_DEPTH, &mut out);
    out.sort_by(|a, b| b.started_at.cmp(&a.started_at).then(a.path.cmp(&b.path)));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_stay_inside_the_store() {
        let tmp = tempfile::tempdir().unwrap();
        let store = tmp.path().join("store");
        std::fs::create_dir_all(store.join("run/a")).unwrap();
        std::fs::write(store.join("run/a/results.json"), "{}").unwrap();
        std::fs::write(tmp.path().join("secret"), "x").unwrap();
        std::os::unix::fs::symlink(tmp.path().join("secret"), store.join("run/out")).unwrap();
        std::os::unix::fs::symlink("a", store.join("run/in")).unwrap();
        assert!(resolve(&store, "run/a/results.json").is_ok());
        assert!(
            resolve(&store, "run/in/results.json").is_ok(),
            "a link inside is fine"
        );
        for bad in ["../secret", "run/../../secret", "/etc/passwd", "run/out"] {
            assert!(
                matches!(resolve(&store, bad), Err(Refusal::Outside(_))),
                "{bad} was not refused"
            );
        }
        assert!(matches!(
            resolve(&store, "run/nope"),
            Err(Refusal::NotFound(_))
        ));
    }

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
                d.join("test.json"),
                format!(r#"{{"name":"{dir}","started_at":"{at}"}}"#),
            )
            .unwrap();
            std::fs::write(
                d.join("results.json"),
                format!(r#"{{"verdict":"{verdict}","ops_per_sec":10.0}}"#),
            )
            .unwrap();
        }
        let runs = list_runs(tmp.path());
        assert_eq!(runs.len(), 2);
        assert_eq!(
            (runs[0].path.as_str(), runs[0].verdict.as_str()),
            ("b/2", "invalid")
        );
    }
}
