//! The crate's error type.

use std::path::PathBuf;

/// What can go wrong mounting the layer or injecting a fault.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// FUSE cannot be used on this machine (no `/dev/fuse` or no `fusermount3`).
    #[error("FUSE is not available: {reason}")]
    FuseUnavailable {
        /// What is missing.
        reason: String,
    },
    /// Mounting failed.
    #[error("mount {mountpoint} over {backing}: {source}")]
    Mount {
        /// Where the layer was to be mounted.
        mountpoint: PathBuf,
        /// The backing directory.
        backing: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
    /// A file operation on the backing directory failed.
    #[error("{op} {path}: {source}")]
    Io {
        /// What was being done.
        op: &'static str,
        /// The file.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
    /// A fault named a path that is absolute or climbs out of the mount (`..`).
    #[error("{path} is not a relative path inside the mount")]
    OutsideMount {
        /// The path given.
        path: PathBuf,
    },
    /// A byte range that is empty or reversed.
    #[error("empty byte range {start}..{end}")]
    EmptyRange {
        /// First byte.
        start: u64,
        /// One past the last byte.
        end: u64,
    },
}

/// `Result` with this crate's [`Error`].
pub type Result<T> = std::result::Result<T, Error>;

impl Error {
    pub(crate) fn io(op: &'static str, path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Error::Io {
            op,
            path: path.into(),
            source,
        }
    }
}
