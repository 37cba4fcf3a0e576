//! Exit statuses, as Jepsen uses them.

use checker::Verdict;

/// How a command ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exit {
    /// The history is linearizable (or the command succeeded).
    Valid,
    /// The history is not linearizable (or a benchmark found a wrong verdict).
    Invalid,
    /// No verdict within the budget.
    Unknown,
    /// Bad arguments or unreadable input.
    BadInput,
    /// The run itself broke.
    Broken,
}

impl Exit {
    /// The process exit status.
    pub fn code(self) -> i32 {
        match self {
            Exit::Valid => 0,
            Exit::Invalid => 1,
            Exit::Unknown => 2,
            Exit::BadInput => 254,
            Exit::Broken => 255,
        }
    }
}

impl From<Verdict> for Exit {
    fn from(v: Verdict) -> Exit {
        match v {
            Verdict::Valid => Exit::Valid,
            Verdict::Invalid => Exit::Invalid,
            Verdict::Unknown => Exit::Unknown,
        }
    }
}

/// An error together with the exit status it should produce.
pub struct Failure {
    /// What went wrong, with context.
    pub error: anyhow::Error,
    /// The status to exit with.
    pub exit: Exit,
}

/// Tags an error result with an exit status.
pub trait ExitContext<T> {
    /// Fails with `exit` if this is an error.
    fn or_exit(self, exit: Exit) -> Result<T, Failure>;
}

impl<T, E: Into<anyhow::Error>> ExitContext<T> for Result<T, E> {
    fn or_exit(self, exit: Exit) -> Result<T, Failure> {
        self.map_err(|error| Failure {
            error: error.into(),
            exit,
        })
    }
}
