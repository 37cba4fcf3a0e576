//! Importers and exporters for histories written by other tools.
//!
//! - [`Edn`], [`parse_edn`], [`parse_edn_all`]: a small EDN reader and the conversion of EDN values to JSON ([`Edn::to_json`]).
//! - [`parse_edn_history`]: EDN histories — Knossos fixtures (one vector or list of
//!   operation maps), Jepsen's `history.edn` and Porcupine's kv files (one map per line).
//! - [`parse_jepsen_log`] / [`parse_jepsen_log_with`]: Jepsen log files
//!   (`INFO  jepsen.util - 3 :ok :cas [1 4]`, tab-separated), with [`JepsenLogOptions`] for how to
//!   read `:fail :cas`.
//! - [`write_edn_history`] / [`op_to_edn`]: writing a history as EDN, one map per line.
//! - [`HistoryFormat`], [`detect`], [`detect_file`] and [`read_history`]: naming and recognising formats,
//!   and reading a file in any of them (JSON Lines through [`crate::history::read_jsonl`]).
//!
//! Every reader returns [`crate::Error::Parse`] with the 1-based line of the offending
//! input rather than panicking.

mod edn;
mod edn_export;
mod edn_history;
mod format;
mod jepsen_log;

pub use edn::{parse_edn, parse_edn_all, Edn};
pub use edn_export::{op_to_edn, write_edn_history};
pub use edn_history::parse_edn_history;
pub use format::{detect, detect_file, read_history, HistoryFormat};
pub use jepsen_log::{parse_jepsen_log, parse_jepsen_log_with, JepsenLogOptions};
