//! The run store on disk: `<store>/<name>/<YYYYMMDDTHHMMSS.mmm>/` per run, and
//! `<store>/latest`, a symlink to the newest run (replaced atomically).

use anyhow::{Context, Result};
use serde::Serialize;
use std::path::{Path, PathBuf};

/// Creates a fresh run directory for test `name` in `store` and points `store/latest` at
/// it. Two runs started in the same millisecond get distinct directories.
pub(crate) fn create_run_dir(store: &Path, name: &str) -> Result<PathBuf> {
    let parent = store.join(name);
    std::fs::create_dir_all(&parent)
        .with_context(|| format!("cannot create {}", parent.display()))?;
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
            Err(e) => return Err(e).with_context(|| format!("cannot create {}", dir.display())),
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
    std::os::unix::fs::symlink(target, &tmp)
        .with_context(|| format!("cannot create the link {}", tmp.display()))?;
    let latest = store.join("latest");
    std::fs::rename(&tmp, &latest).with_context(|| format!("cannot replace {}", latest.display()))
}

/// Writes `value` as pretty JSON to `path`, atomically (temporary file, then rename).
pub(crate) fn write_json(path: &Path, value: &impl Serialize) -> Result<()> {
    let text = serde_json::to_string_pretty(value).context("cannot render JSON")?;
    let tmp = path.with_extension("json.tmp");
    std::fs::write(&tmp, text + "\n").with_context(|| format!("cannot write {}", tmp.display()))?;
    std::fs::rename(&tmp, path).with_context(|| format!("cannot write {}", path.display()))
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
        let latest = std::fs::canonicalize(store.path().join("latest")).unwrap();
        assert_eq!(latest, std::fs::canonicalize(&b).unwrap());
        write_json(&b.join("x.json"), &serde_json::json!({"a": 1})).unwrap();
        let text = std::fs::read_to_string(b.join("x.json")).unwrap();
        assert!(text.contains("\"a\": 1"));
    }
}
