//! An append-only file of checksummed JSON lines with an fsync policy; a torn last
//! line (crash mid-write) is cut off on read, a corrupt line in the middle is an error
//! (see [`super::checksum`]). Used for the WAL records and the executed history.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};

use serde::{de::DeserializeOwned, Serialize};

use super::checksum::{decode_log, encode_line};
use crate::error::{Error, Result};

/// One value as a checksummed log line, newline included.
pub fn line_of<T: Serialize>(value: &T) -> Vec<u8> {
    encode_line(&serde_json::to_vec(value).expect("records serialize"))
}

/// An append-only JSON-lines file.
#[derive(Debug)]
pub struct JsonLines {
    path: PathBuf,
    file: File,
    buf: Vec<u8>,
    unsynced: bool,
}

impl JsonLines {
    /// Opens (creating) the file for appending.
    pub fn open(path: &Path) -> Result<Self> {
        let file = OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .map_err(|e| Error::io("open", path, e))?;
        Ok(JsonLines {
            path: path.to_path_buf(),
            file,
            buf: Vec::new(),
            unsynced: false,
        })
    }

    /// Reads every line; a torn last line is cut off the file (it was never
    /// acknowledged, see [`super::checksum`]), a corrupt line before good ones is an
    /// [`Error::Corrupt`], and so is a line whose checksum holds but whose JSON does not
    /// parse (written by another version or by a bug: nothing to execute from).
    pub fn read_all<T: DeserializeOwned>(path: &Path) -> Result<Vec<T>> {
        JsonLines::read_all_with(path, false)
    }

    /// [`JsonLines::read_all`], or with `trusting` (the seeded bug `trust-wal`) every
    /// line taken without its checksum checked, and a line that does not parse skipped.
    pub fn read_all_with<T: DeserializeOwned>(path: &Path, trusting: bool) -> Result<Vec<T>> {
        let bytes = match std::fs::read(path) {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(Error::io("read", path, e)),
        };
        if trusting {
            return Ok(bytes
                .split(|b| *b == b'\n')
                .filter_map(|line| line.get(super::checksum::LINE_PREFIX..))
                .filter_map(|json| serde_json::from_slice::<T>(json).ok())
                .collect());
        }
        let decoded = decode_log(&bytes).map_err(|reason| Error::Corrupt {
            path: path.to_path_buf(),
            reason,
        })?;
        let mut out = Vec::with_capacity(decoded.lines.len());
        for (i, json) in decoded.lines.iter().enumerate() {
            let value = serde_json::from_slice::<T>(json)
                .map_err(|e| Error::json(format!("{} line {}", path.display(), i + 1), e))?;
            out.push(value);
        }
        if decoded.torn_tail {
            tracing::warn!(
                path = %path.display(),
                cut_bytes = bytes.len() as u64 - decoded.good_len,
                "cutting off the torn tail of a log"
            );
            let f = OpenOptions::new()
                .write(true)
                .open(path)
                .map_err(|e| Error::io("open", path, e))?;
            f.set_len(decoded.good_len)
                .map_err(|e| Error::io("truncate", path, e))?;
            f.sync_data().map_err(|e| Error::io("fsync", path, e))?;
        }
        Ok(out)
    }

    /// Serializes one value as a checksummed line into the buffer (not yet written);
    /// returns the line.
    pub fn push<T: Serialize>(&mut self, value: &T) -> Vec<u8> {
        let line = line_of(value);
        self.buf.extend_from_slice(&line);
        line
    }

    /// Pushes an already-encoded line.
    pub fn push_raw(&mut self, line: &[u8]) {
        self.buf.extend_from_slice(line);
    }

    /// Writes buffered lines to the OS (survives `kill -9`), fsyncing if `sync`.
    pub fn flush(&mut self, sync: bool) -> Result<()> {
        if !self.buf.is_empty() {
            self.file
                .write_all(&self.buf)
                .map_err(|e| Error::io("write", &self.path, e))?;
            self.buf.clear();
            self.unsynced = true;
        }
        if sync {
            self.sync()?;
        }
        Ok(())
    }

    /// fsyncs written data if any.
    pub fn sync(&mut self) -> Result<()> {
        if self.unsynced {
            self.file
                .sync_data()
                .map_err(|e| Error::io("fsync", &self.path, e))?;
            self.unsynced = false;
        }
        Ok(())
    }
}

/// Writes `bytes` to `path` atomically: write a temporary file, fsync, rename, fsync dir.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    let tmp = path.with_extension("tmp");
    let mut f = File::create(&tmp).map_err(|e| Error::io("create", &tmp, e))?;
    f.write_all(bytes)
        .map_err(|e| Error::io("write", &tmp, e))?;
    f.sync_all().map_err(|e| Error::io("fsync", &tmp, e))?;
    std::fs::rename(&tmp, path).map_err(|e| Error::io("rename", path, e))?;
    if let Some(dir) = path.parent() {
        if let Ok(d) = File::open(dir) {
            let _ = d.sync_all();
        }
    }
    Ok(())
}
