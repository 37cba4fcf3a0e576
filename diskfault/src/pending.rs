//! The unsynced writes of one file: the page cache the layer keeps in memory.
//!
//! A file's durable content is its backing file; every write and truncate since the last
//! fsync is kept here, in order, as a [`PendingOp`]. Reads see the backing bytes with the
//! pending ops laid over them (what a process reads from the page cache); fsync applies
//! them to the backing file; a power loss drops them. This file is sans-IO except for
//! [`PendingWrites::apply_to`], which writes to an already open backing file.

use std::fs::File;
use std::io;
use std::os::unix::fs::FileExt;

/// One change to a file not yet made durable.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PendingOp {
    /// `data` written at byte `offset`.
    Write {
        /// Where the write starts.
        offset: u64,
        /// The bytes written.
        data: Vec<u8>,
    },
    /// The file cut (or extended with zeros) to `len` bytes.
    Truncate {
        /// The new length.
        len: u64,
    },
}

/// The unsynced changes of one file, oldest first.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PendingWrites {
    ops: Vec<PendingOp>,
}

impl PendingWrites {
    /// No unsynced changes.
    pub fn is_empty(&self) -> bool {
        self.ops.is_empty()
    }

    /// The pending changes, oldest first.
    pub fn ops(&self) -> &[PendingOp] {
        &self.ops
    }

    /// Records a write.
    pub fn write(&mut self, offset: u64, data: &[u8]) {
        self.ops.push(PendingOp::Write {
            offset,
            data: data.to_vec(),
        });
    }

    /// Records a truncate (or extension) to `len` bytes.
    pub fn truncate(&mut self, len: u64) {
        self.ops.push(PendingOp::Truncate { len });
    }

    /// Drops every pending change (what a power loss does to them).
    pub fn clear(&mut self) {
        self.ops.clear();
    }

    /// The file's length as processes see it, given its durable length.
    pub fn visible_len(&self, durable_len: u64) -> u64 {
        self.ops.iter().fold(durable_len, |len, op| match op {
            PendingOp::Write { offset, data } => len.max(offset + data.len() as u64),
            PendingOp::Truncate { len: new } => *new,
        })
    }

    /// What a read of `size` bytes at `offset` returns, given the durable bytes of that
    /// range (`durable`, possibly shorter than `size` where the backing file ends) and
    /// the durable length of the file.
    pub fn overlay(&self, offset: u64, size: usize, durable: &[u8], durable_len: u64) -> Vec<u8> {
        let mut buf = vec![0u8; size];
        let n = durable.len().min(size);
        buf[..n].copy_from_slice(&durable[..n]);
        let mut len = durable_len;
        let end = offset + size as u64;
        for op in &self.ops {
            match op {
                PendingOp::Write { offset: at, data } => {
                    let w_end = at + data.len() as u64;
                    let from = (*at).max(offset);
                    let to = w_end.min(end);
                    if from < to {
                        let dst = (from - offset) as usize..(to - offset) as usize;
                        let src = (from - at) as usize..(to - at) as usize;
                        buf[dst].copy_from_slice(&data[src]);
                    }
                    len = len.max(w_end);
                }
                PendingOp::Truncate { len: new } => {
                    // Bytes past the cut are gone; if the file grows again they read as 0.
                    if *new < end {
                        let from = new.saturating_sub(offset) as usize;
                        buf[from..].iter_mut().for_each(|b| *b = 0);
                    }
                    len = *new;
                }
            }
        }
        let visible = len.saturating_sub(offset).min(size as u64) as usize;
        buf.truncate(visible);
        buf
    }

    /// Makes every pending change durable in `backing` (then fsyncs it) and forgets them.
    pub fn apply_to(&mut self, backing: &File) -> io::Result<()> {
        for op in &self.ops {
            apply_op(backing, op)?;
        }
        backing.sync_data()?;
        self.ops.clear();
        Ok(())
    }

    /// A torn write: the changes before the last write are made durable in full, the last
    /// write only its first `keep_bytes` bytes, anything after it is lost; then all are
    /// forgotten. Returns the offset and the number of bytes of the torn write that were
    /// kept, or `None` when there is no pending write (then nothing is made durable).
    pub fn tear_into(
        &mut self,
        backing: &File,
        keep_bytes: usize,
    ) -> io::Result<Option<(u64, usize)>> {
        let Some(last) = self
            .ops
            .iter()
            .rposition(|op| matches!(op, PendingOp::Write { .. }))
        else {
            self.ops.clear();
            return Ok(None);
        };
        for op in &self.ops[..last] {
            apply_op(backing, op)?;
        }
        let PendingOp::Write { offset, data } = &self.ops[last] else {
            unreachable!("rposition found a write");
        };
        let kept = keep_bytes.min(data.len());
        backing.write_all_at(&data[..kept], *offset)?;
        backing.sync_data()?;
        let torn = (*offset, kept);
        self.ops.clear();
        Ok(Some(torn))
    }
}

fn apply_op(backing: &File, op: &PendingOp) -> io::Result<()> {
    match op {
        PendingOp::Write { offset, data } => backing.write_all_at(data, *offset),
        PendingOp::Truncate { len } => backing.set_len(*len),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_overlay_the_durable_bytes_and_extend_the_file() {
        let mut p = PendingWrites::default();
        p.write(2, b"XY");
        p.write(6, b"tail");
        assert_eq!(p.visible_len(5), 10);
        assert_eq!(p.overlay(0, 20, b"abcde", 5), b"abXYe\0tail");
        assert_eq!(p.overlay(3, 4, b"de", 5), b"Ye\0t");
    }

    #[test]
    fn truncate_hides_old_bytes_and_regrowth_reads_zeros() {
        let mut p = PendingWrites::default();
        p.truncate(2);
        p.write(4, b"z");
        assert_eq!(p.visible_len(6), 5);
        assert_eq!(p.overlay(0, 10, b"abcdef", 6), b"ab\0\0z");
    }

    #[test]
    fn reads_past_the_visible_end_are_empty() {
        let mut p = PendingWrites::default();
        p.truncate(3);
        assert!(p.overlay(5, 4, b"", 8).is_empty());
        assert_eq!(p.overlay(0, 4, b"abcd", 8), b"abc");
    }

    #[test]
    fn apply_and_tear_write_to_the_backing_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f");
        let f = std::fs::OpenOptions::new()
            .create(true)
            .truncate(true)
            .read(true)
            .write(true)
            .open(&path)
            .unwrap();
        let mut p = PendingWrites::default();
        p.write(0, b"hello ");
        p.apply_to(&f).unwrap();
        assert!(p.is_empty());
        p.write(6, b"world ");
        p.write(12, b"again");
        assert_eq!(p.tear_into(&f, 2).unwrap(), Some((12, 2)));
        assert_eq!(std::fs::read(&path).unwrap(), b"hello world ag");
        assert_eq!(p.tear_into(&f, 2).unwrap(), None);
    }
}
