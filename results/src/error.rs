//! The crate's error type.

use std::path::PathBuf;

/// What can go wrong reading or writing results.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A file or directory could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
    /// A JSON file did not parse.
    #[error("{path}: bad JSON: {source}")]
    Json {
        /// The file.
        path: PathBuf,
        /// The parse error.
        source: serde_json::Error,
    },
    /// A directory is not what the command needs (not a run, not a suite).
    #[error("{path}: {why}")]
    NotARun {
        /// The directory.
        path: PathBuf,
        /// What is missing.
        why: String,
    },
    /// A history could not be read.
    #[error("history: {0}")]
    History(#[from] checker::Error),
    /// A threshold or other argument is malformed.
    #[error("{0}")]
    BadArgument(String),
}

/// The crate's result type.
pub type Result<T> = std::result::Result<T, Error>;

/// Tags an IO error with its path.
pub(crate) fn io(path: impl Into<PathBuf>) -> impl FnOnce(std::io::Error) -> Error {
    let path = path.into();
    move |source| Error::Io { path, source }
}

/// Reads and parses a JSON file.
pub(crate) fn read_json(path: &std::path::Path) -> Result<serde_json::Value> {
    let bytes = std::fs::read(path).map_err(io(path))?;
    serde_json::from_slice(&bytes).map_err(|source| Error::Json {
        path: path.to_path_buf(),
        source,
    })
}
