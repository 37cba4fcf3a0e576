//! The state the filesystem threads and the [`crate::DiskFaults`] handle share: the
//! backing directory, the inode table, each file's unsynced writes, open handles and
//! the read errors in force.

use std::collections::BTreeMap;
use std::path::{Component, Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Instant;

use crate::error::{Error, Result};
use crate::inodes::Inodes;
use crate::pending::PendingWrites;

/// One open file handle.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Handle {
    /// Opened with `O_APPEND`: every write goes to the visible end of the file.
    pub(crate) append: bool,
}

/// Everything the layer keeps in memory.
#[derive(Debug)]
pub(crate) struct LayerState {
    /// The directory that holds the durable bytes.
    pub(crate) backing: PathBuf,
    pub(crate) inodes: Inodes,
    /// Unsynced writes per inode (only inodes that have some).
    pub(crate) pending: BTreeMap<u64, PendingWrites>,
    /// Relative paths whose reads fail with EIO until the instant.
    pub(crate) read_errors: BTreeMap<PathBuf, Instant>,
    pub(crate) handles: BTreeMap<u64, Handle>,
    pub(crate) next_handle: u64,
}

/// The shared, locked state.
#[derive(Debug, Clone)]
pub(crate) struct Shared(Arc<Mutex<LayerState>>);

impl Shared {
    pub(crate) fn new(backing: PathBuf) -> Self {
        Shared(Arc::new(Mutex::new(LayerState {
            backing,
            inodes: Inodes::new(),
            pending: BTreeMap::new(),
            read_errors: BTreeMap::new(),
            handles: BTreeMap::new(),
            next_handle: 1,
        })))
    }

    /// Locks the state; a panic in another thread does not make it unusable (every
    /// change to it is a single map update).
    pub(crate) fn lock(&self) -> MutexGuard<'_, LayerState> {
        self.0
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

impl LayerState {
    /// The backing path of a relative path.
    pub(crate) fn backing_path(&self, rel: &Path) -> PathBuf {
        self.backing.join(rel)
    }

    /// Whether reads of `rel` fail now (an expired read error is forgotten).
    pub(crate) fn read_fails(&mut self, rel: &Path) -> bool {
        match self.read_errors.get(rel) {
            Some(until) if Instant::now() < *until => true,
            Some(_) => {
                self.read_errors.remove(rel);
                false
            }
            None => false,
        }
    }
}

/// Checks that a path given to a fault is relative and stays inside the mount.
pub(crate) fn inside_mount(path: &Path) -> Result<PathBuf> {
    let ok = !path.as_os_str().is_empty()
        && path
            .components()
            .all(|c| matches!(c, Component::Normal(_) | Component::CurDir));
    if ok {
        Ok(path.components().collect())
    } else {
        Err(Error::OutsideMount {
            path: path.to_path_buf(),
        })
    }
}
