//! The simulation's typed errors.

/// Why a simulation could not be set up or judged.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The fault schedule does not fit the cluster or the time limit.
    #[error("bad schedule: {0}")]
    Schedule(#[from] nemesis::Error),
    /// The cluster configuration was refused by the replica crate.
    #[error("bad cluster configuration: {0}")]
    Cluster(#[from] replica::Error),
    /// The workload parameters were refused.
    #[error("bad workload: {0}")]
    Workload(#[from] workloads::Error),
    /// A simulation parameter is out of range.
    #[error("bad simulation parameter `{field}`: {message}")]
    Invalid {
        /// The parameter.
        field: &'static str,
        /// What is wrong with it.
        message: String,
    },
}

/// The simulation's result type.
pub type Result<T> = std::result::Result<T, Error>;
