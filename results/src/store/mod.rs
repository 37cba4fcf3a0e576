//! The run store on disk: `<store>/<name>/<YYYYMMDDTHHMMSS.mmm>/` per run, and
//! `<store>/latest`, a symlink to the newest run (replaced atomically).
//!
//! - this file: creating run directories, `latest`, the newest run of a test, writing a
//!   record atomically;
//! - [`listing`]: every run and suite of a store, newest first (the web server's index);
//! - [`paths`]: the one safe way to turn a requested path into a file of the store.

mod listing;
mod paths;

pub use listing::{list_runs, RunEntry};
pub use paths::{resolve, Refusal};

use crate::error::{io, Error, Result};
use serde::Serialize;
use std::path::{Path, PathBuf};

/// The name of the link to the newest run.
pub const LATEST: &str = "latest";

/// Creates a fresh run directory for test `name` in `store` and points `store/latest` at
/// it. Two runs started in the same millisecond get distinct directories.
pub fn create_run_dir(store: &Path, name: &str) -> Result<PathBuf> {
    let parent = store.join(name);
    std::fs::create_dir_all(&parent).map_err(io(&parent))?;
    let stamp = chrono::Local::now().format("%Y%m%dT%H%M%S%.3f").to_string();
    let mut suffix = 1;
    let (dir, leaf) = loop {
        let leaf = if suffix == 1 {
            stamp.clone()
        } else {
            format!("{stamp}-{suffix}")
        };
        let dir = parent.join(&leaf);
        match std::fs::create_dir(&dir) {
            Ok(()) => break (dir, leaf),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => suffix += 1,
            Err(e) => return Err(io(&dir)(e)),
        }
    };
    point_latest(store, &Path::new(name).join(leaf))?;
    Ok(dir)
}

/// Makes `store/latest` a symlink to `target` (relative to `store`): a new link under a
/// temporary name, renamed over the old one.
fn point_latest(store: &Path, target: &Path) -> Result<()> {
    let tmp = store.join(format!(".latest-{}", std::process::id()));
    let _ = std::fs::remove_file(&tmp);
    std::os::unix::fs::symlink(target, &tmp).map_err(io(&tmp))?;
    let latest = store.join(LATEST);
    std::fs::rename(&tmp, &latest).map_err(io(&latest))
}

/// The newest run directory of one test, `dir` being `<store>/<name>` (run directories
/// are named by their start time, so the greatest name is the newest).
pub fn newest_run(dir: &Path) -> Option<PathBuf> {
    let mut runs: Vec<PathBuf> = std::fs::read_dir(dir)
        .ok()?
        .flatten()
        .filter(|e| e.file_type().is_ok_and(|t| t.is_dir()))
        .map(|e| e.path())
        .collect();
    runs.sort();
    runs.pop()
}

/// Writes `value` as pretty JSON to `path`, atomically (temporary file, then rename).
pub fn write_json(path: &Path, value: &impl Serialize) -> Result<()> {
    let text = serde_json::to_string_pretty(value).map_err(|source| Error::Json {
        path: path.to_path_buf(),
        source,
    })?;
    let tmp = path.with_extension("json.tmp");
    std::fs::write(&tmp, text + "\n").map_err(io(&tmp))?;
    std::fs::rename(&tmp, path).map_err(io(path))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn run_dirs_are_distinct_and_latest_follows() {
        let store = tempfile::tempdir().unwrap();
        let a = create_run_dir(store.path(), "register").unwrap();
        let b = create_run_dir(store.path(), "register").unwrap();
        assert_ne!(a, b);
        let latest = std::fs::canonicalize(store.path().join(LATEST)).unwrap();
        assert_eq!(latest, std::fs::canonicalize(&b).unwrap());
        assert_eq!(newest_run(&store.path().join("register")), Some(b.clone()));
        write_json(&b.join("x.json"), &serde_json::json!({"a": 1})).unwrap();
        let text = std::fs::read_to_string(b.join("x.json")).unwrap();
        assert!(text.contains("\"a\": 1"));
    }
}
