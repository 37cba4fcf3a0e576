#![doc = include_str!("../README.md")]

pub mod corpus;
pub mod diagnosis;
pub mod error;
pub mod generate;
pub mod history;
pub mod import;
pub mod model;
pub mod oracles;
pub mod search;
pub mod verdict;

pub use error::{Error, Result};
pub use history::{Call, Op, OpType, Process};
pub use model::{Model, ModelKind, NilRead, Val};
pub use search::{check, check_kind, CheckOptions};
pub use verdict::{CheckResult, Counterexample, OpRef, Verdict, Witness};
