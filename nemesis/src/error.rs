//! The nemesis crate's errors.

/// What can go wrong in fault specs, schedules, the proxy and fault actions.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A fault spec (a `--nemesis` family, a `--packet` spec, a target) is malformed.
    #[error("bad fault spec {spec:?}: {reason}")]
    Spec {
        /// The text given.
        spec: String,
        /// What is wrong with it.
        reason: String,
    },
    /// A schedule file is malformed or inconsistent.
    #[error("bad schedule{}: {reason}", window.map(|w| format!(" (fault #{w})")).unwrap_or_default())]
    Schedule {
        /// The fault window (1-based, in file order) at fault, if one.
        window: Option<usize>,
        /// What is wrong.
        reason: String,
    },
    /// A schedule file could not be read.
    #[error("cannot read schedule file {}: {source}", path.display())]
    ScheduleFile {
        /// The file.
        path: std::path::PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
    /// A schedule file's content is bad.
    #[error("schedule file {}: {source}", path.display())]
    InFile {
        /// The file.
        path: std::path::PathBuf,
        /// What is wrong in it.
        source: Box<Error>,
    },
    /// The run's fault settings do not make a plan that can run.
    #[error("{0}")]
    Plan(String),
    /// The proxy could not bind or serve.
    #[error("proxy: {0}")]
    Proxy(String),
    /// A process fault could not be applied.
    #[error("process fault on replica {replica}: {reason}")]
    Process {
        /// The replica.
        replica: usize,
        /// What failed.
        reason: String,
    },
    /// A replica's HTTP control endpoint did not answer as expected.
    #[error("replica {replica} {endpoint}: {reason}")]
    Http {
        /// The replica.
        replica: usize,
        /// The endpoint (`/status`, `/clock`).
        endpoint: &'static str,
        /// What failed.
        reason: String,
    },
}

impl Error {
    /// A spec error.
    pub fn spec(spec: impl Into<String>, reason: impl Into<String>) -> Self {
        Error::Spec {
            spec: spec.into(),
            reason: reason.into(),
        }
    }

    /// A schedule error about window `window` (1-based), or the whole file.
    pub fn schedule(window: Option<usize>, reason: impl Into<String>) -> Self {
        Error::Schedule {
            window,
            reason: reason.into(),
        }
    }
}

/// The crate's result type.
pub type Result<T> = std::result::Result<T, Error>;
