//! An append-only file of JSON lines with an fsync policy; a torn last line (crash
//! mid-write) is ignored on read. Used for the WAL records and the executed history.

use std::fs::{File, OpenOptions};
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};

use serde::{de::DeserializeOwned, Serialize};

use crate::error::{Error, Result};

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

    /// Reads every complete line; stops at the first line that does not parse
    /// (a torn write at the end) and truncates the file there.
    pub fn read_all<T: DeserializeOwned>(path: &Path) -> Result<Vec<T>> {
        let file = match File::open(path) {
            Ok(f) => f,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(Error::io("open", path, e)),
        };
        let mut out = Vec::new();
        let mut good_len = 0u64;
        let mut torn = false;
        for line in BufReader::new(file).split(b'\n') {
            let line = line.map_err(|e| Error::io("read", path, e))?;
            match serde_json::from_slice::<T>(&line) {
                Ok(v) => {
                    out.push(v);
                    good_len += line.len() as u64 + 1;
                }
                Err(e) => {
                    tracing::warn!(path = %path.display(), error = %e, "ignoring torn tail of log");
                    torn = true;
                    break;
                }
            }
        }
        if torn {
            let f = OpenOptions::new()
                .write(true)
                .open(path)
                .map_err(|e| Error::io("open", path, e))?;
            f.set_len(good_len)
                .map_err(|e| Error::io("truncate", path, e))?;
        }
        Ok(out)
    }

    /// Serializes one value as a line into the buffer (not yet written).
    pub fn push<T: Serialize>(&mut self, value: &T) -> Vec<u8> {
        let mut line = serde_json::to_vec(value).expect("records serialize");
        line.push(b'\n');
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
