//! A FUSE layer for disk faults, in the manner of LazyFS: a passthrough filesystem over
//! a backing directory that keeps every write not yet fsynced in memory, so the harness
//! can simulate what a real disk does when the power goes.
//!
//! - [`mount`]: [`FaultyDir`] mounts the layer (in a thread of the calling process) and
//!   unmounts it on drop; [`fuse_unavailable`] says why it cannot run here.
//! - [`fs`](self): the filesystem: data held back until fsync, metadata passed through
//!   (the durability model is documented there).
//! - [`pending`]: one file's unsynced writes, the page-cache view and how they are made
//!   durable or torn (sans-IO, unit-tested).
//! - [`faults`]: [`DiskFaults`], the control handle: `lose_unsynced`, `torn_write`,
//!   `corrupt`, `read_error`, and `passthrough` to heal.
//! - `inodes`, `state`: the inode table and the state the FUSE threads and the handle share.
//! - [`error`]: the crate's error type.

pub mod error;
pub mod faults;
mod fs;
mod inodes;
pub mod mount;
pub mod pending;
mod state;

pub use error::{Error, Result};
pub use faults::{Corruption, DiskFaults, Loss, TornWrite};
pub use mount::{fuse_unavailable, FaultyDir};
