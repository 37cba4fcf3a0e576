//! [`DiskFaults`]: the control handle of a mounted layer. Verbs come in pairs the
//! nemesis way: a fault, and [`DiskFaults::passthrough`] to heal what lasts.

use std::fs::OpenOptions;
use std::ops::Range;
use std::os::unix::fs::FileExt;
use std::path::Path;
use std::time::{Duration, Instant};

use crate::error::{Error, Result};
use crate::state::{inside_mount, Shared};

/// How [`DiskFaults::corrupt`] damages a byte range at rest.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Corruption {
    /// Every bit of every byte in the range inverted.
    FlipBits,
    /// The lowest bit of every byte in the range inverted (`'0'` and `'1'` trade
    /// places: text stays text, a digest stays a digest, only a checksum sees it).
    FlipLowBit,
    /// The range overwritten with zeros.
    Zero,
    /// The file cut at the range's start (the range's end is ignored).
    Truncate,
}

/// What a power loss dropped.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Loss {
    /// Files that had unsynced changes.
    pub files: usize,
    /// Bytes of unsynced writes dropped.
    pub bytes: u64,
}

/// What a torn write kept of the last unsynced write to the file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TornWrite {
    /// Where the torn write starts in the file.
    pub offset: u64,
    /// How many of its bytes are now durable.
    pub kept: usize,
    /// What the power loss dropped everywhere else.
    pub loss: Loss,
}

/// Injects faults into a mounted layer; cheap to clone, usable from any thread.
#[derive(Debug, Clone)]
pub struct DiskFaults {
    pub(crate) shared: Shared,
}

impl DiskFaults {
    /// Power loss: every unsynced write of every file is dropped, so the files hold what
    /// was fsynced. The process using the directory should be killed with it (the harness
    /// does): its own buffers and file offsets no longer match the disk.
    pub fn lose_unsynced(&self) -> Loss {
        let mut st = self.shared.lock();
        let pending = std::mem::take(&mut st.pending);
        let mut loss = Loss::default();
        for (_, p) in pending {
            loss.files += 1;
            loss.bytes += p
                .ops()
                .iter()
                .map(|op| match op {
                    crate::pending::PendingOp::Write { data, .. } => data.len() as u64,
                    crate::pending::PendingOp::Truncate { .. } => 0,
                })
                .sum::<u64>();
        }
        loss
    }

    /// Power loss in the middle of a write: in `file`, the unsynced changes before its last
    /// unsynced write become durable, the last write only its first `keep_bytes` bytes
    /// (a torn sector); every other unsynced write of every file is dropped. When `file`
    /// has no unsynced write this is a plain [`DiskFaults::lose_unsynced`] and returns
    /// `None`.
    pub fn torn_write(&self, file: &Path, keep_bytes: usize) -> Result<Option<TornWrite>> {
        let rel = inside_mount(file)?;
        let mut st = self.shared.lock();
        let ino = st.inodes.known(&rel);
        let mine = ino.and_then(|i| st.pending.remove(&i));
        let path = st.backing_path(&rel);
        drop(st);
        let loss = self.lose_unsynced();
        let Some(mut pending) = mine else {
            return Ok(None);
        };
        let backing = OpenOptions::new()
            .write(true)
            .open(&path)
            .map_err(|e| Error::io("open", &path, e))?;
        let torn = pending
            .tear_into(&backing, keep_bytes)
            .map_err(|e| Error::io("write torn", &path, e))?;
        Ok(torn.map(|(offset, kept)| TornWrite { offset, kept, loss }))
    }

    /// Damages `range` of `file` at rest, in its durable bytes (unsynced writes laid over
    /// the range still read as written until they are lost). The range is clipped to
    /// the file's durable length.
    pub fn corrupt(&self, file: &Path, range: Range<u64>, how: Corruption) -> Result<()> {
        if range.start >= range.end {
            return Err(Error::EmptyRange {
                start: range.start,
                end: range.end,
            });
        }
        let rel = inside_mount(file)?;
        let path = self.shared.lock().backing_path(&rel);
        let f = OpenOptions::new()
            .read(true)
            .write(true)
            .open(&path)
            .map_err(|e| Error::io("open", &path, e))?;
        let len = f.metadata().map_err(|e| Error::io("stat", &path, e))?.len();
        if how == Corruption::Truncate {
            if range.start < len {
                f.set_len(range.start)
                    .map_err(|e| Error::io("truncate", &path, e))?;
            }
            return Ok(());
        }
        let end = range.end.min(len);
        if range.start >= end {
            return Ok(());
        }
        let mut buf = vec![0u8; (end - range.start) as usize];
        f.read_exact_at(&mut buf, range.start)
            .map_err(|e| Error::io("read", &path, e))?;
        match how {
            Corruption::FlipBits => buf.iter_mut().for_each(|b| *b = !*b),
            Corruption::FlipLowBit => buf.iter_mut().for_each(|b| *b ^= 1),
            Corruption::Zero => buf.iter_mut().for_each(|b| *b = 0),
            Corruption::Truncate => unreachable!("handled above"),
        }
        f.write_all_at(&buf, range.start)
            .map_err(|e| Error::io("write", &path, e))?;
        f.sync_data().map_err(|e| Error::io("fsync", &path, e))
    }

    /// Reads of `file` fail with EIO for `duration` (or until [`DiskFaults::passthrough`]).
    pub fn read_error(&self, file: &Path, duration: Duration) -> Result<()> {
        let rel = inside_mount(file)?;
        self.shared
            .lock()
            .read_errors
            .insert(rel, Instant::now() + duration);
        Ok(())
    }

    /// Heals the lasting faults (read errors); writes are held until fsync as always.
    pub fn passthrough(&self) {
        self.shared.lock().read_errors.clear();
    }

    /// Bytes of unsynced writes held in memory now, over all files.
    pub fn unsynced_bytes(&self) -> u64 {
        self.shared
            .lock()
            .pending
            .values()
            .flat_map(|p| p.ops())
            .map(|op| match op {
                crate::pending::PendingOp::Write { data, .. } => data.len() as u64,
                crate::pending::PendingOp::Truncate { .. } => 0,
            })
            .sum()
    }
}

#[cfg(test)]
mod tests {
    //! The fault verbs on the layer's state without a mount (the mounted behaviour is
    //! in `tests/fuse_layer.rs`); these run on machines without FUSE too.
    use super::*;

    /// A file of the test layer: name, durable bytes, unsynced appends.
    type TestFile<'a> = (&'a str, &'a [u8], &'a [&'a [u8]]);

    fn layer_with(files: &[TestFile<'_>]) -> (tempfile::TempDir, DiskFaults) {
        let dir = tempfile::tempdir().unwrap();
        let shared = Shared::new(dir.path().to_path_buf());
        {
            let mut st = shared.lock();
            for (name, durable, unsynced) in files {
                std::fs::write(dir.path().join(name), durable).unwrap();
                let ino = st.inodes.ino_of(Path::new(name));
                let mut at = durable.len() as u64;
                for w in *unsynced {
                    st.pending.entry(ino).or_default().write(at, w);
                    at += w.len() as u64;
                }
            }
        }
        (dir, DiskFaults { shared })
    }

    #[test]
    fn lose_unsynced_counts_and_drops_every_pending_write() {
        let (dir, faults) = layer_with(&[("a", b"x", &[b"12", b"345"]), ("b", b"", &[b"6"])]);
        assert_eq!(faults.unsynced_bytes(), 6);
        assert_eq!(faults.lose_unsynced(), Loss { files: 2, bytes: 6 });
        assert_eq!(faults.unsynced_bytes(), 0);
        assert_eq!(std::fs::read(dir.path().join("a")).unwrap(), b"x");
    }

    #[test]
    fn torn_write_keeps_earlier_writes_and_a_prefix_of_the_last_one() {
        let (dir, faults) = layer_with(&[("a", b"x", &[b"12", b"345"]), ("b", b"", &[b"6"])]);
        let torn = faults.torn_write(Path::new("a"), 1).unwrap().unwrap();
        assert_eq!((torn.offset, torn.kept), (3, 1));
        assert_eq!(torn.loss, Loss { files: 1, bytes: 1 });
        assert_eq!(std::fs::read(dir.path().join("a")).unwrap(), b"x123");
        assert_eq!(std::fs::read(dir.path().join("b")).unwrap(), b"");
        assert!(faults.torn_write(Path::new("/etc/passwd"), 1).is_err());
    }

    #[test]
    fn read_errors_expire_and_passthrough_heals_them() {
        let (_dir, faults) = layer_with(&[("a", b"x", &[])]);
        faults
            .read_error(Path::new("a"), Duration::from_millis(30))
            .unwrap();
        assert!(faults.shared.lock().read_fails(Path::new("a")));
        std::thread::sleep(Duration::from_millis(40));
        assert!(!faults.shared.lock().read_fails(Path::new("a")));
        faults
            .read_error(Path::new("a"), Duration::from_secs(60))
            .unwrap();
        faults.passthrough();
        assert!(!faults.shared.lock().read_fails(Path::new("a")));
    }
}
