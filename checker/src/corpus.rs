//! Corpora of histories with known verdicts (`VERDICTS.tsv`), as in `shared/data`:
//! how each file is to be read and checked, for tests and benchmarks.

use crate::error::{Error, Result};
use crate::model::{ModelKind, NilRead, Val};
use crate::verdict::Verdict;
use std::path::{Path, PathBuf};

/// One row of a `VERDICTS.tsv`: a history file and how to check it.
#[derive(Debug, Clone)]
pub struct KnownCase {
    /// The path relative to the corpus directory.
    pub file: String,
    /// The file format name (`jepsen-log` or `edn`).
    pub format: &'static str,
    /// The model.
    pub model: ModelKind,
    /// The initial value of every register or key.
    pub initial: Val,
    /// Whether to split by key.
    pub partition: bool,
    /// In Jepsen logs, `:fail :cas` means the cas ran and returned false.
    pub fail_cas_returned_false: bool,
    /// What a read of `nil` means: the table does not say, so this is the default for the
    /// file's format and model ([`NilRead::default_for`]).
    pub nil_read: NilRead,
    /// The verdict the history is known to have.
    pub expected: Verdict,
    /// The peer checker's median time in milliseconds, if it decided.
    pub peer_ms: Option<f64>,
    /// The number of operations the table states.
    pub ops: usize,
}

impl KnownCase {
    /// The history file's full path.
    pub fn path(&self, dir: &Path) -> PathBuf {
        dir.join(&self.file)
    }
}

/// Reads `dir/VERDICTS.tsv` (columns: file, model description, expected verdict, ops,
/// peer median ms; a header line first).
pub fn read_known_cases(dir: &Path) -> Result<Vec<KnownCase>> {
    let table = dir.join("VERDICTS.tsv");
    let text = std::fs::read_to_string(&table).map_err(|source| Error::Io {
        path: table.clone(),
        source,
    })?;
    text.lines()
        .enumerate()
        .skip(1)
        .filter(|(_, l)| !l.trim().is_empty())
        .map(|(n, line)| {
            parse_row(line).map_err(|message| Error::Parse {
                source_name: table.display().to_string(),
                line: n + 1,
                message,
            })
        })
        .collect()
}

fn parse_row(line: &str) -> std::result::Result<KnownCase, String> {
    let cols: Vec<&str> = line.split('\t').collect();
    let [file, model, expected, ops, peer, ..] = cols[..] else {
        return Err(format!(
            "expected 5 tab-separated columns, got {}",
            cols.len()
        ));
    };
    let expected = match expected {
        "linearizable" => Verdict::Valid,
        "not-linearizable" => Verdict::Invalid,
        other => return Err(format!("unknown expected verdict {other:?}")),
    };
    let (format, kind, initial) = if file.ends_with(".log") {
        ("jepsen-log", ModelKind::CasRegister, Val::Nil)
    } else if model.starts_with("kv") {
        // Porcupine's kv model: every key starts as the empty string.
        ("edn", ModelKind::Kv, Val::Str("".into()))
    } else if model.starts_with("multi-register") {
        ("edn", ModelKind::MultiRegister, Val::Int(0))
    } else if model.starts_with("mutex") {
        ("edn", ModelKind::Mutex, Val::Nil)
    } else if model.starts_with("cas-register") {
        ("edn", ModelKind::CasRegister, Val::Int(0))
    } else {
        return Err(format!("unknown model description {model:?}"));
    };
    let nil_read = NilRead::default_for(format.parse().map_err(|e: Error| e.to_string())?, kind);
    Ok(KnownCase {
        file: file.to_string(),
        nil_read,
        format,
        model: kind,
        initial,
        partition: !model.contains("no partitioning"),
        fail_cas_returned_false: model.contains(":fail cas = returned false"),
        expected,
        peer_ms: peer.parse().ok(),
        ops: ops.parse().map_err(|_| format!("bad op count {ops:?}"))?,
    })
}
