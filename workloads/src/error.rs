//! The crate's error type.

/// What can go wrong when configuring a workload.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A name (workload, key distribution) that is not known.
    #[error("unknown {what} {name:?} (expected one of: {expected})")]
    UnknownName {
        /// What kind of name it was.
        what: &'static str,
        /// The name given.
        name: String,
        /// The names accepted.
        expected: &'static str,
    },
    /// A parameter outside its allowed range.
    #[error("invalid {field}: {message}")]
    Invalid {
        /// The parameter.
        field: &'static str,
        /// Why it is invalid.
        message: String,
    },
    /// The PBFT client could not be built.
    #[error("cannot create the PBFT client: {0}")]
    Client(#[from] replica::ClientError),
}

/// A result with the crate's [`Error`].
pub type Result<T> = std::result::Result<T, Error>;
