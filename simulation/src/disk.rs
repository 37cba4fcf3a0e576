//! What a replica persisted: its last stable snapshot and the write-ahead records after
//! it, compacted with the storage layer's own rule. A killed replica restarts from
//! this and nothing else.

use replica::core::record::{kept_at_compaction, Record, Snapshot};

/// One replica's disk.
#[derive(Clone, Debug, Default)]
pub struct Disk {
    /// The snapshot of the last stable checkpoint.
    pub snapshot: Option<Snapshot>,
    /// The records written since.
    pub records: Vec<Record>,
}

impl Disk {
    /// Writes one `Output::Persist` record (a stable checkpoint compacts the log).
    pub fn write(&mut self, record: &Record) {
        match record {
            Record::Stable(s) => {
                let keys: Vec<_> = self.records.iter().map(|r| (r.seq(), r.kind())).collect();
                let mut keep = kept_at_compaction(&keys, s.seq).into_iter();
                self.records.retain(|_| keep.next().unwrap_or(true));
                self.snapshot = Some((**s).clone());
            }
            other => self.records.push(other.clone()),
        }
    }
}
