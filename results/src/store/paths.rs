//! Resolving a requested path (as in a URL) to a file of the store: relative, no `..`,
//! and still inside the store once symlinks are resolved.

use std::path::{Component, Path, PathBuf};

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
}
