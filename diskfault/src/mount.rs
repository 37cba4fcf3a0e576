//! [`FaultyDir`]: the layer mounted over a backing directory, unmounted on drop.
//!
//! The mount runs in the process that holds the `FaultyDir` (the harness), in a
//! background thread of its own; the process that uses the directory (a replica) is
//! another process and sees an ordinary directory. Faults are plain method calls on
//! [`DiskFaults`], applied before they return, so the nemesis needs no control
//! protocol and a fault is in force when it is recorded in the history. Dropping the
//! `FaultyDir` (also while a failing test unwinds) unmounts; a busy mount is detached
//! lazily (`fusermount3 -uz`). Only a `kill -9` of the mounting process leaves a dead
//! mount behind (fusermount3's `auto_unmount` helper proved unreliable here: it exited
//! early and left the unmount hanging), and `fusermount3 -u` removes it.

use std::path::{Path, PathBuf};

use fuser::{BackgroundSession, Config, MountOption};

use crate::error::{Error, Result};
use crate::faults::DiskFaults;
use crate::fs::LazyFs;
use crate::state::Shared;

/// Why FUSE cannot be used here, or `None` when `/dev/fuse` and `fusermount3` are there.
pub fn fuse_unavailable() -> Option<String> {
    if !Path::new("/dev/fuse").exists() {
        return Some("/dev/fuse does not exist".to_string());
    }
    let on_path = std::env::var_os("PATH")
        .map(|p| std::env::split_paths(&p).any(|d| d.join("fusermount3").is_file()))
        .unwrap_or(false);
    if !on_path {
        return Some("fusermount3 is not on PATH (Debian package fuse3)".to_string());
    }
    None
}

/// A mounted fault-injecting layer.
#[derive(Debug)]
pub struct FaultyDir {
    session: Option<BackgroundSession>,
    mountpoint: PathBuf,
    faults: DiskFaults,
}

impl FaultyDir {
    /// Mounts the layer at `mountpoint` (an existing empty directory) over `backing`
    /// (an existing directory that holds the durable bytes).
    pub fn mount(backing: &Path, mountpoint: &Path) -> Result<Self> {
        if let Some(reason) = fuse_unavailable() {
            return Err(Error::FuseUnavailable { reason });
        }
        let backing = backing
            .canonicalize()
            .map_err(|e| Error::io("open backing directory", backing, e))?;
        let shared = Shared::new(backing.clone());
        let mut config = Config::default();
        config.mount_options = vec![
            MountOption::FSName("diskfault".to_string()),
            MountOption::DefaultPermissions,
        ];
        let fs = LazyFs {
            shared: shared.clone(),
        };
        let session =
            fuser::spawn_mount(fs, mountpoint, &config).map_err(|source| Error::Mount {
                mountpoint: mountpoint.to_path_buf(),
                backing: backing.clone(),
                source,
            })?;
        Ok(FaultyDir {
            session: Some(session),
            mountpoint: mountpoint.to_path_buf(),
            faults: DiskFaults { shared },
        })
    }

    /// The fault handle.
    pub fn faults(&self) -> DiskFaults {
        self.faults.clone()
    }

    /// Where the layer is mounted.
    pub fn mountpoint(&self) -> &Path {
        &self.mountpoint
    }

    /// Unmounts now and reports a failure (drop does the same, logging it).
    pub fn unmount(mut self) -> Result<()> {
        self.unmount_inner()
    }

    fn unmount_inner(&mut self) -> Result<()> {
        let Some(session) = self.session.take() else {
            return Ok(());
        };
        session.umount_and_join().map_err(|e| {
            // Busy (a process still has a file open): detach it lazily, so the
            // mountpoint is free now and the kernel lets go when the last file closes.
            let lazy = std::process::Command::new("fusermount3")
                .arg("-uz")
                .arg(&self.mountpoint)
                .status();
            tracing::warn!(error = %e, ?lazy, mountpoint = %self.mountpoint.display(),
                "unmount failed; detached lazily");
            Error::io("unmount", &self.mountpoint, e)
        })
    }
}

impl Drop for FaultyDir {
    fn drop(&mut self) {
        if let Err(e) = self.unmount_inner() {
            tracing::warn!(error = %e, "unmounting the disk-fault layer failed");
        }
    }
}
