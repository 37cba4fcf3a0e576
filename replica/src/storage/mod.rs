//! Durability: the write-ahead log, the snapshot at the stable checkpoint, and the
//! executed history (kept whole for the agreement oracles).
//!
//! Files in the data directory:
//! - `wal.jsonl`: [`Record`]s after the stable checkpoint, one checksummed JSON line
//!   each, and the newest VIEW-CHANGE and NEW-VIEW records whatever their seq;
//! - `snapshot.json`: the last stable [`Snapshot`] behind its SHA-256, replaced
//!   atomically (tmp + fsync + rename), after which `wal.jsonl` is rewritten without the
//!   records it covers;
//! - `history.jsonl`: every executed `{seq, digest}` (checksummed lines), never truncated.
//!
//! Records are written to the OS before the messages that depend on them leave
//! (enough for `kill -9`); `--fsync always` also fsyncs them first (enough for a power
//! loss). On start a torn log tail is cut off, and a corrupt log line or snapshot makes
//! [`Storage::open`] fail with [`Error::Corrupt`]: the replica refuses to start rather
//! than execute from it (see [`checksum`] for why, and what checksums cannot see).

pub mod checksum;
pub mod wal;

use std::path::{Path, PathBuf};
use std::time::Instant;

use crate::bugs::{Bug, Bugs, ACK_BEFORE_FSYNC_LAG_MS};
use crate::config::FsyncPolicy;
use crate::core::record::{kept_at_compaction, Record, RecordKind, Snapshot};
use crate::error::{Error, Result};
use crate::messages::Seq;
use checksum::{decode_snapshot, encode_snapshot};
use wal::{line_of, write_atomic, JsonLines};

pub use crate::core::record::{LogEntry, RequestId};

/// What a restarted replica finds on disk.
#[derive(Debug, Default)]
pub struct Recovered {
    /// The last stable snapshot.
    pub snapshot: Option<Snapshot>,
    /// WAL records after it, in order.
    pub records: Vec<Record>,
    /// The executed history.
    pub history: Vec<LogEntry>,
}

/// The replica's disk state.
#[derive(Debug)]
pub struct Storage {
    dir: PathBuf,
    policy: FsyncPolicy,
    wal: JsonLines,
    /// Encoded WAL lines since the snapshot (and the newest view records), to
    /// rewrite the WAL on compaction.
    wal_lines: Vec<(Seq, RecordKind, Vec<u8>)>,
    history: JsonLines,
    last_sync: Instant,
    /// Seeded bugs ([`Bug::AckBeforeFsync`] lives here).
    bugs: Bugs,
}

const BATCH_SYNC_MS: u128 = 10;

impl Storage {
    /// Opens the data directory (creating it) and reads what is there.
    pub fn open(dir: &Path, policy: FsyncPolicy) -> Result<(Self, Recovered)> {
        Storage::open_with_bugs(dir, policy, Bugs::NONE)
    }

    /// [`Storage::open`] with seeded bugs ([`Bug::AckBeforeFsync`] and
    /// [`Bug::TrustWal`] live here; none in a normal build).
    pub fn open_with_bugs(
        dir: &Path,
        policy: FsyncPolicy,
        bugs: Bugs,
    ) -> Result<(Self, Recovered)> {
        let trusting = bugs.has(Bug::TrustWal);
        std::fs::create_dir_all(dir).map_err(|e| Error::io("create data directory", dir, e))?;
        let snap_path = dir.join("snapshot.json");
        let snapshot = match std::fs::read(&snap_path) {
            Ok(bytes) => {
                let json = decode_snapshot(&bytes).map_err(|reason| Error::Corrupt {
                    path: snap_path.clone(),
                    reason,
                })?;
                Some(
                    serde_json::from_slice::<Snapshot>(json)
                        .map_err(|e| Error::json(format!("snapshot {}", snap_path.display()), e))?,
                )
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
            Err(e) => return Err(Error::io("read", snap_path, e)),
        };
        let wal_path = dir.join("wal.jsonl");
        let records: Vec<Record> = JsonLines::read_all_with(&wal_path, trusting)?;
        let mut history: Vec<LogEntry> = Vec::new();
        for e in JsonLines::read_all_with::<LogEntry>(&dir.join("history.jsonl"), trusting)? {
            if !matches!(history.last(), Some(l) if l.seq >= e.seq) {
                history.push(e);
            }
        }
        let wal_lines = records
            .iter()
            .map(|r| (r.seq(), r.kind(), line_of(r)))
            .collect();
        let storage = Storage {
            dir: dir.to_path_buf(),
            policy,
            wal: JsonLines::open(&wal_path)?,
            wal_lines,
            history: JsonLines::open(&dir.join("history.jsonl"))?,
            last_sync: Instant::now(),
            bugs,
        };
        Ok((
            storage,
            Recovered {
                snapshot,
                records,
                history,
            },
        ))
    }

    /// Buffers one record (a `Stable` record writes the snapshot and compacts at once).
    pub fn append(&mut self, record: &Record) -> Result<()> {
        match record {
            Record::Stable(snapshot) => self.compact(snapshot),
            Record::Executed(entry) => {
                self.history.push(entry);
                let line = self.wal.push(record);
                self.wal_lines.push((entry.seq, RecordKind::Other, line));
                Ok(())
            }
            _ => {
                let line = self.wal.push(record);
                self.wal_lines.push((record.seq(), record.kind(), line));
                Ok(())
            }
        }
    }

    /// Makes buffered records durable according to the policy; call before sending
    /// the messages that depend on them.
    pub fn flush(&mut self) -> Result<()> {
        let sync = match self.policy {
            FsyncPolicy::Always if self.bugs.has(Bug::AckBeforeFsync) => {
                self.last_sync.elapsed().as_millis() >= ACK_BEFORE_FSYNC_LAG_MS
            }
            FsyncPolicy::Always => true,
            FsyncPolicy::Batch => self.last_sync.elapsed().as_millis() >= BATCH_SYNC_MS,
            FsyncPolicy::Never => false,
        };
        self.wal.flush(sync)?;
        self.history.flush(sync)?;
        if sync {
            self.last_sync = Instant::now();
        }
        Ok(())
    }

    /// fsyncs anything written (the `batch` policy's background timer calls this).
    pub fn sync(&mut self) -> Result<()> {
        if self.policy == FsyncPolicy::Never {
            return Ok(());
        }
        self.wal.sync()?;
        self.history.sync()?;
        self.last_sync = Instant::now();
        Ok(())
    }

    fn compact(&mut self, snapshot: &Snapshot) -> Result<()> {
        self.flush()?;
        let bytes = encode_snapshot(&serde_json::to_vec(snapshot).expect("snapshot serializes"));
        write_atomic(&self.dir.join("snapshot.json"), &bytes)?;
        let keys: Vec<(Seq, RecordKind)> =
            self.wal_lines.iter().map(|(s, k, _)| (*s, *k)).collect();
        let mut keep = kept_at_compaction(&keys, snapshot.seq).into_iter();
        self.wal_lines.retain(|_| keep.next().unwrap_or(true));
        let kept: Vec<u8> = self
            .wal_lines
            .iter()
            .flat_map(|(_, _, l)| l.iter().copied())
            .collect();
        let wal_path = self.dir.join("wal.jsonl");
        write_atomic(&wal_path, &kept)?;
        self.wal = JsonLines::open(&wal_path)?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::state_machine::KvStore;

    #[test]
    fn records_survive_reopen_and_compaction() {
        let empty = tempfile::tempdir().unwrap();
        let (_, rec) = Storage::open(empty.path(), FsyncPolicy::Never).unwrap();
        assert!(rec.snapshot.is_none() && rec.records.is_empty());
        let dir = stored(4);
        // A torn tail is ignored.
        use std::io::Write;
        let mut f = std::fs::OpenOptions::new()
            .append(true)
            .open(dir.path().join("wal.jsonl"))
            .unwrap();
        f.write_all(b"{\"record\":\"exec").unwrap();
        let (_, rec) = Storage::open(dir.path(), FsyncPolicy::Never).unwrap();
        assert_eq!(rec.snapshot.unwrap().seq, 2);
        assert_eq!(
            rec.records.iter().map(|r| r.seq()).collect::<Vec<_>>(),
            vec![3, 4]
        );
        assert_eq!(rec.history.len(), 4);
    }

    fn executed(seq: Seq) -> Record {
        Record::Executed(LogEntry {
            seq,
            digest: crate::crypto::Digest::of(&seq.to_le_bytes()),
            requests: Vec::new(),
            transferred: false,
            state_digest: None,
        })
    }

    /// Writes records 1..=n and a snapshot at 2 (so the WAL holds 3..=n).
    fn stored(n: Seq) -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        let (mut s, _) = Storage::open(dir.path(), FsyncPolicy::Never).unwrap();
        for seq in 1..=n {
            s.append(&executed(seq)).unwrap();
        }
        s.flush().unwrap();
        let state = KvStore::new();
        s.append(&Record::Stable(Box::new(Snapshot {
            seq: 2,
            state_digest: state.digest(),
            state,
            proof: vec![],
            view: 0,
            view_active: true,
        })))
        .unwrap();
        dir
    }

    fn line_starts(path: &Path) -> Vec<usize> {
        let bytes = std::fs::read(path).unwrap();
        std::iter::once(0)
            .chain(
                bytes
                    .iter()
                    .enumerate()
                    .filter(|(_, b)| **b == b'\n')
                    .map(|(i, _)| i + 1),
            )
            .filter(|i| *i < bytes.len())
            .collect()
    }

    fn flip(path: &Path, at: usize) {
        let mut bytes = std::fs::read(path).unwrap();
        bytes[at] ^= 0x20;
        std::fs::write(path, bytes).unwrap();
    }

    /// A complete last WAL record whose checksum fails (a torn write that reached its
    /// length) is cut off, never executed; the records before it come back.
    #[test]
    fn a_corrupt_last_wal_record_is_cut_off() {
        let dir = stored(5);
        let wal = dir.path().join("wal.jsonl");
        let starts = line_starts(&wal);
        assert_eq!(starts.len(), 3);
        flip(&wal, starts[2] + 30);
        let (_, rec) = Storage::open(dir.path(), FsyncPolicy::Always).unwrap();
        assert_eq!(
            rec.records.iter().map(|r| r.seq()).collect::<Vec<_>>(),
            vec![3, 4]
        );
        assert_eq!(std::fs::metadata(&wal).unwrap().len() as usize, starts[2]);
    }

    /// A corrupt record with good ones after it makes the replica refuse to start.
    #[test]
    fn a_corrupt_wal_record_in_the_middle_refuses_to_start() {
        let dir = stored(5);
        let wal = dir.path().join("wal.jsonl");
        let starts = line_starts(&wal);
        flip(&wal, starts[1] + 30);
        let err = Storage::open(dir.path(), FsyncPolicy::Always).unwrap_err();
        assert!(
            matches!(&err, Error::Corrupt { path, reason: checksum::Corrupt::LogLine { line: 2, later: 1, .. } } if path == &wal),
            "{err}"
        );
        assert!(err.to_string().contains("refusing to start"), "{err}");
        // Nothing was cut: the evidence stays for the operator.
        assert_eq!(line_starts(&wal), starts);
    }

    /// The seeded bug `trust-wal` reads a log without its checksums: a line damaged
    /// but well-formed (one digest digit changed) comes back as if written, and one
    /// that no longer parses is skipped; the correct read refuses both.
    #[test]
    fn a_trusting_read_takes_damaged_lines_as_written() {
        let dir = stored(5);
        let history = dir.path().join("history.jsonl");
        let starts = line_starts(&history);
        let digit = |line: usize| starts[line] + 17 + r#"{"seq":1,"digest":""#.len();
        let mut bytes = std::fs::read(&history).unwrap();
        let before = bytes[digit(0)];
        bytes[digit(0)] ^= 1;
        bytes[starts[1] + 17] = 0;
        std::fs::write(&history, bytes).unwrap();
        assert!(JsonLines::read_all::<LogEntry>(&history).is_err());
        let trusted: Vec<LogEntry> = JsonLines::read_all_with(&history, true).unwrap();
        assert_eq!(
            trusted.iter().map(|e| e.seq).collect::<Vec<_>>(),
            vec![1, 3, 4, 5]
        );
        assert_ne!(trusted[0].digest, executed_digest(1), "{before}");
    }

    fn executed_digest(seq: Seq) -> crate::crypto::Digest {
        match executed(seq) {
            Record::Executed(e) => e.digest,
            _ => unreachable!("executed() makes Executed records"),
        }
    }

    /// A snapshot whose bytes do not match their checksum (bit rot, or a torn write)
    /// makes the replica refuse to start.
    #[test]
    fn a_corrupt_snapshot_refuses_to_start() {
        let dir = stored(3);
        let snap = dir.path().join("snapshot.json");
        let len = std::fs::metadata(&snap).unwrap().len() as usize;
        flip(&snap, len - 5);
        let err = Storage::open(dir.path(), FsyncPolicy::Always).unwrap_err();
        assert!(
            matches!(
                &err,
                Error::Corrupt {
                    reason: checksum::Corrupt::Snapshot { .. },
                    ..
                }
            ),
            "{err}"
        );
        // ...and so does a snapshot cut short.
        let dir = stored(3);
        let snap = dir.path().join("snapshot.json");
        let bytes = std::fs::read(&snap).unwrap();
        std::fs::write(&snap, &bytes[..bytes.len() / 2]).unwrap();
        assert!(matches!(
            Storage::open(dir.path(), FsyncPolicy::Always),
            Err(Error::Corrupt { .. })
        ));
    }

    /// The newest VIEW-CHANGE and NEW-VIEW records survive a compaction that covers
    /// their seq (a VIEW-CHANGE's seq is its stable checkpoint), older ones do not,
    /// and the NEW-VIEW comes back whole.
    #[test]
    fn view_records_survive_compaction() {
        use crate::crypto::Signed;
        use crate::messages::{NewView, ViewChange};
        use ed25519_dalek::SigningKey;
        let dir = tempfile::tempdir().unwrap();
        let (mut s, _) = Storage::open(dir.path(), FsyncPolicy::Never).unwrap();
        let key = SigningKey::from_bytes(&[1; 32]);
        let vc = |view| {
            Record::ViewChange(Box::new(Signed::sign(
                ViewChange {
                    view,
                    stable_seq: 0,
                    checkpoint_proof: vec![],
                    prepared: vec![],
                    replica: 1,
                },
                &key,
            )))
        };
        let nv = Signed::sign(
            NewView {
                view: 1,
                view_changes: vec![],
                pre_prepares: vec![],
                replica: 1,
            },
            &key,
        );
        for r in [
            vc(1),
            Record::NewView {
                view: 1,
                seq: 0,
                new_view: Some(Box::new(nv.clone())),
            },
            vc(2),
        ] {
            s.append(&r).unwrap();
        }
        s.flush().unwrap();
        let state = KvStore::new();
        s.append(&Record::Stable(Box::new(Snapshot {
            seq: 8,
            state_digest: state.digest(),
            state,
            proof: vec![],
            view: 2,
            view_active: false,
        })))
        .unwrap();
        drop(s);
        let (_, rec) = Storage::open(dir.path(), FsyncPolicy::Never).unwrap();
        let views: Vec<_> = rec
            .records
            .iter()
            .map(|r| match r {
                Record::ViewChange(v) => ("vc", v.body.view),
                Record::NewView { view, new_view, .. } => {
                    assert_eq!(new_view.as_deref(), Some(&nv));
                    ("nv", *view)
                }
                _ => ("other", 0),
            })
            .collect();
        assert_eq!(views, vec![("nv", 1), ("vc", 2)]);
    }
}
