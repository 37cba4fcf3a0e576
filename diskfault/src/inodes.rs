//! The inode table: FUSE inode numbers for paths relative to the mount's root.
//!
//! Numbers are handed out on first sight and never reused while mounted (the layer
//! ignores `forget`: a replica's data directory holds a handful of files). Root is 1.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// Inode numbers for relative paths, both ways.
#[derive(Debug)]
pub(crate) struct Inodes {
    by_ino: BTreeMap<u64, PathBuf>,
    by_path: BTreeMap<PathBuf, u64>,
    next: u64,
}

/// The root directory's inode number (FUSE's fixed 1).
pub(crate) const ROOT: u64 = 1;

impl Inodes {
    pub(crate) fn new() -> Self {
        let mut t = Inodes {
            by_ino: BTreeMap::new(),
            by_path: BTreeMap::new(),
            next: ROOT + 1,
        };
        t.by_ino.insert(ROOT, PathBuf::new());
        t.by_path.insert(PathBuf::new(), ROOT);
        t
    }

    /// The number of `rel`, allocating one on first sight.
    pub(crate) fn ino_of(&mut self, rel: &Path) -> u64 {
        if let Some(ino) = self.by_path.get(rel) {
            return *ino;
        }
        let ino = self.next;
        self.next += 1;
        self.by_ino.insert(ino, rel.to_path_buf());
        self.by_path.insert(rel.to_path_buf(), ino);
        ino
    }

    /// The number of `rel` if it has one.
    pub(crate) fn known(&self, rel: &Path) -> Option<u64> {
        self.by_path.get(rel).copied()
    }

    /// The relative path of `ino`.
    pub(crate) fn path_of(&self, ino: u64) -> Option<&Path> {
        self.by_ino.get(&ino).map(PathBuf::as_path)
    }

    /// Forgets `rel` (unlinked); returns its number.
    pub(crate) fn remove(&mut self, rel: &Path) -> Option<u64> {
        let ino = self.by_path.remove(rel)?;
        self.by_ino.remove(&ino);
        Some(ino)
    }

    /// `from` (and everything under it) is now called `to`.
    pub(crate) fn rename(&mut self, from: &Path, to: &Path) {
        let moved: Vec<(PathBuf, u64)> = self
            .by_path
            .iter()
            .filter(|(p, _)| p.starts_with(from))
            .map(|(p, i)| (p.clone(), *i))
            .collect();
        for (old, ino) in moved {
            self.by_path.remove(&old);
            let new = match old.strip_prefix(from) {
                Ok(rest) if !rest.as_os_str().is_empty() => to.join(rest),
                _ => to.to_path_buf(),
            };
            self.by_path.insert(new.clone(), ino);
            self.by_ino.insert(ino, new);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rename_moves_the_entry_and_its_children() {
        let mut t = Inodes::new();
        let d = t.ino_of(Path::new("d"));
        let f = t.ino_of(Path::new("d/f"));
        t.rename(Path::new("d"), Path::new("e"));
        assert_eq!(t.path_of(d), Some(Path::new("e")));
        assert_eq!(t.path_of(f), Some(Path::new("e/f")));
        assert_eq!(t.known(Path::new("d/f")), None);
        assert_eq!(t.remove(Path::new("e/f")), Some(f));
        assert_eq!(t.path_of(f), None);
        assert_eq!(t.path_of(ROOT), Some(Path::new("")));
    }
}
