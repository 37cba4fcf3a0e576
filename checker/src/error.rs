//! The checker crate's one error type.

use std::path::PathBuf;

/// Everything that can go wrong while reading, converting or checking a history.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A line of a history file could not be parsed.
    #[error("{source_name}:{line}: {message}")]
    Parse {
        /// The file (or stream) name the line came from.
        source_name: String,
        /// The 1-based line number.
        line: usize,
        /// What was wrong with it.
        message: String,
    },
    /// A history is well-formed line by line but inconsistent as a whole
    /// (a completion without an invocation, two invocations in flight on one process, ...).
    #[error("history is malformed at operation {index}: {message}")]
    Malformed {
        /// The index of the offending operation.
        index: u64,
        /// What was wrong with it.
        message: String,
    },
    /// An operation does not fit the model it is checked against.
    #[error("operation {index} does not fit the {model} model: {message}")]
    Model {
        /// The index of the offending operation.
        index: u64,
        /// The model's name.
        model: &'static str,
        /// What was wrong with it.
        message: String,
    },
    /// A file could not be opened, read or written.
    #[error("{}: {source}", path.display())]
    Io {
        /// The path involved.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
    /// A stream without a path could not be read or written.
    #[error("i/o error: {0}")]
    Stream(#[from] std::io::Error),
    /// An unknown name was given where a model or format name was expected.
    #[error("unknown {what} {name:?}; expected one of: {expected}")]
    UnknownName {
        /// What kind of name it was (model, format).
        what: &'static str,
        /// The name given.
        name: String,
        /// The names accepted.
        expected: &'static str,
    },
}

/// The checker's result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;
