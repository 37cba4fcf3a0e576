//! The crate's error type.

use std::path::PathBuf;

/// Everything that can go wrong in the replica library.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A file could not be read or written.
    #[error("{action} {path}")]
    Io {
        /// What we were doing ("read", "write", "create", ...).
        action: &'static str,
        /// The file concerned.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// A file or message was not valid JSON of the expected shape.
    #[error("parse {what}")]
    Json {
        /// What was being parsed.
        what: String,
        /// The underlying error.
        #[source]
        source: serde_json::Error,
    },
    /// A persisted file failed its checksum where it cannot be a torn tail: the replica
    /// must not execute from it.
    #[error(
        "{path} is corrupt: {reason}; refusing to start (move the data directory away to \
         rejoin empty and catch up by state transfer, as a replica counted among the f faulty)"
    )]
    Corrupt {
        /// The file.
        path: PathBuf,
        /// What the checksum found.
        reason: crate::storage::checksum::Corrupt,
    },
    /// A configuration value is invalid.
    #[error("invalid configuration: {0}")]
    Config(String),
    /// A key is malformed (not 32 bytes of hex).
    #[error("invalid key in {what}: {reason}")]
    Key {
        /// Where the key came from.
        what: String,
        /// Why it was rejected.
        reason: String,
    },
    /// A signature did not verify or the signer is unknown.
    #[error("bad signature on {kind} from {signer}")]
    BadSignature {
        /// Message kind.
        kind: &'static str,
        /// Claimed signer.
        signer: String,
    },
    /// A replica process of a local cluster could not be controlled.
    #[error("replica {replica}: {reason}")]
    Process {
        /// The replica.
        replica: usize,
        /// What went wrong.
        reason: String,
    },
    /// A message was authentic but violates the protocol.
    #[error("rejected {kind}: {reason}")]
    Rejected {
        /// Message kind.
        kind: &'static str,
        /// Why it was rejected.
        reason: String,
    },
}

impl Error {
    /// Wraps an IO error with its path.
    pub fn io(action: &'static str, path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Error::Io {
            action,
            path: path.into(),
            source,
        }
    }

    /// Wraps a JSON error with a description of what was parsed.
    pub fn json(what: impl Into<String>, source: serde_json::Error) -> Self {
        Error::Json {
            what: what.into(),
            source,
        }
    }
}

/// Shorthand result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;
