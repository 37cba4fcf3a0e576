//! Loading a history file in any supported format into paired calls.

use anyhow::{Context, Result};
use checker::import::{
    detect, parse_jepsen_log_with, read_history, HistoryFormat, JepsenLogOptions,
};
use checker::{Call, Op};
use std::io::Read;
use std::path::Path;

/// Reads a history file (format given by name, or detected) and returns its operations.
///
/// `fail_cas_did_not_happen` changes how Jepsen logs read `:fail :cas` (see
/// [`JepsenLogOptions`]).
pub(crate) fn read_ops(
    path: &Path,
    format: Option<&str>,
    fail_cas_did_not_happen: bool,
) -> Result<Vec<Op>> {
    let format: HistoryFormat = match format {
        Some(name) => name.parse().context("bad --format")?,
        None => {
            let mut head = String::new();
            std::fs::File::open(path)
                .and_then(|f| f.take(4096).read_to_string(&mut head))
                .with_context(|| format!("cannot read {}", path.display()))?;
            detect(path, &head)
        }
    };
    if format == HistoryFormat::JepsenLog {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read {}", path.display()))?;
        let options = JepsenLogOptions {
            fail_cas_returned_false: !fail_cas_did_not_happen,
        };
        return Ok(parse_jepsen_log_with(
            &text,
            &path.display().to_string(),
            &options,
        )?);
    }
    Ok(read_history(path, Some(format))?)
}

/// Reads and pairs a history file.
pub(crate) fn read_calls(
    path: &Path,
    format: Option<&str>,
    fail_cas_did_not_happen: bool,
) -> Result<Vec<Call>> {
    let ops = read_ops(path, format, fail_cas_did_not_happen)?;
    Ok(checker::history::pair(ops)?)
}
