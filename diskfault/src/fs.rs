//! The FUSE filesystem: a passthrough over the backing directory whose file data is
//! held back in memory until fsync.
//!
//! - Data (write, truncate) goes to the file's [`PendingWrites`]; reads see it laid over
//!   the backing bytes; `fsync`/`fdatasync` apply it to the backing file. Closing a file
//!   does not make its writes durable (as in LazyFS): only fsync does, so a power loss
//!   after `close` without `fsync` loses them, which is what real file systems may do.
//! - Metadata (create, mkdir, rename, unlink, rmdir, chmod) goes to the backing
//!   directory at once and survives a power loss, as on a file system that journals
//!   metadata synchronously; `fsyncdir` therefore has nothing to do. A file renamed
//!   before its data was fsynced has, after a power loss, only its synced bytes: the
//!   classic lost "write tmp, rename" without fsync.
//! - Every file is opened with direct I/O and every attribute and entry has a zero TTL,
//!   so the kernel caches nothing: after a fault, processes read what the layer says.

use std::ffi::OsStr;
use std::fs::{File, OpenOptions};
use std::io;
use std::os::unix::fs::{FileExt, MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use fuser::{
    Errno, FileAttr, FileHandle, FileType, Filesystem, FopenFlags, Generation, INodeNo, LockOwner,
    OpenFlags, RenameFlags, ReplyAttr, ReplyCreate, ReplyData, ReplyDirectory, ReplyEmpty,
    ReplyEntry, ReplyOpen, ReplyWrite, Request, TimeOrNow, WriteFlags,
};

use crate::state::{Handle, LayerState, Shared};

/// Nothing is cached by the kernel: attributes change under it when faults strike.
const TTL: Duration = Duration::ZERO;

/// The filesystem served by the FUSE session.
#[derive(Debug)]
pub(crate) struct LazyFs {
    pub(crate) shared: Shared,
}

fn errno(e: io::Error) -> Errno {
    if e.raw_os_error().is_some() {
        Errno::from(e)
    } else {
        Errno::EIO
    }
}

fn system_time(secs: i64, nsecs: i64) -> SystemTime {
    if secs >= 0 {
        UNIX_EPOCH + Duration::new(secs as u64, nsecs as u32)
    } else {
        UNIX_EPOCH
    }
}

/// The attributes of `rel` as processes see them (the size includes unsynced writes).
fn attr_of(st: &mut LayerState, ino: u64, rel: &Path) -> Result<FileAttr, Errno> {
    let md = std::fs::symlink_metadata(st.backing_path(rel)).map_err(errno)?;
    let kind = FileType::from_std(md.file_type()).unwrap_or(FileType::RegularFile);
    let size = match st.pending.get(&ino) {
        Some(p) if kind == FileType::RegularFile => p.visible_len(md.len()),
        _ => md.len(),
    };
    Ok(FileAttr {
        ino: INodeNo(ino),
        size,
        blocks: size.div_ceil(512),
        atime: system_time(md.atime(), md.atime_nsec()),
        mtime: system_time(md.mtime(), md.mtime_nsec()),
        ctime: system_time(md.ctime(), md.ctime_nsec()),
        crtime: UNIX_EPOCH,
        kind,
        perm: (md.mode() & 0o7777) as u16,
        nlink: md.nlink() as u32,
        uid: md.uid(),
        gid: md.gid(),
        rdev: md.rdev() as u32,
        blksize: 4096,
        flags: 0,
    })
}

impl LazyFs {
    fn child(st: &LayerState, parent: INodeNo, name: &OsStr) -> Result<PathBuf, Errno> {
        let dir = st.inodes.path_of(parent.0).ok_or(Errno::ENOENT)?;
        Ok(dir.join(name))
    }

    fn entry(st: &mut LayerState, rel: &Path, reply: ReplyEntry) {
        let ino = st.inodes.ino_of(rel);
        match attr_of(st, ino, rel) {
            Ok(attr) => reply.entry(&TTL, &attr, Generation(0)),
            Err(e) => {
                st.inodes.remove(rel);
                reply.error(e)
            }
        }
    }

    fn open_handle(st: &mut LayerState, ino: u64, flags: i32) -> u64 {
        if flags & libc::O_TRUNC != 0 {
            st.pending.entry(ino).or_default().truncate(0);
        }
        let fh = st.next_handle;
        st.next_handle += 1;
        st.handles.insert(
            fh,
            Handle {
                append: flags & libc::O_APPEND != 0,
            },
        );
        fh
    }

    /// Reads `size` bytes at `offset` of the page-cache view of `rel`.
    fn read_visible(
        st: &LayerState,
        ino: u64,
        rel: &Path,
        offset: u64,
        size: u32,
    ) -> io::Result<Vec<u8>> {
        let file = File::open(st.backing_path(rel))?;
        let durable_len = file.metadata()?.len();
        let mut durable = vec![0u8; size as usize];
        let mut got = 0;
        while got < durable.len() {
            let n = file.read_at(&mut durable[got..], offset + got as u64)?;
            if n == 0 {
                break;
            }
            got += n;
        }
        durable.truncate(got);
        Ok(match st.pending.get(&ino) {
            Some(p) => p.overlay(offset, size as usize, &durable, durable_len),
            None => durable,
        })
    }

    fn sync_file(st: &mut LayerState, ino: u64) -> Result<(), Errno> {
        let Some(pending) = st.pending.get_mut(&ino) else {
            return Ok(());
        };
        let rel = st.inodes.path_of(ino).ok_or(Errno::ENOENT)?;
        let backing = OpenOptions::new()
            .write(true)
            .open(st.backing.join(rel))
            .map_err(errno)?;
        pending.apply_to(&backing).map_err(errno)?;
        st.pending.remove(&ino);
        Ok(())
    }
}

impl Filesystem for LazyFs {
    fn lookup(&self, _req: &Request, parent: INodeNo, name: &OsStr, reply: ReplyEntry) {
        let mut st = self.shared.lock();
        match Self::child(&st, parent, name) {
            Ok(rel) => {
                if st.backing_path(&rel).symlink_metadata().is_err() {
                    return reply.error(Errno::ENOENT);
                }
                Self::entry(&mut st, &rel, reply)
            }
            Err(e) => reply.error(e),
        }
    }

    fn getattr(&self, _req: &Request, ino: INodeNo, _fh: Option<FileHandle>, reply: ReplyAttr) {
        let mut st = self.shared.lock();
        let Some(rel) = st.inodes.path_of(ino.0).map(Path::to_path_buf) else {
            return reply.error(Errno::ENOENT);
        };
        match attr_of(&mut st, ino.0, &rel) {
            Ok(attr) => reply.attr(&TTL, &attr),
            Err(e) => reply.error(e),
        }
    }

    fn setattr(
        &self,
        _req: &Request,
        ino: INodeNo,
        mode: Option<u32>,
        _uid: Option<u32>,
        _gid: Option<u32>,
        size: Option<u64>,
        _atime: Option<TimeOrNow>,
        _mtime: Option<TimeOrNow>,
        _ctime: Option<SystemTime>,
        _fh: Option<FileHandle>,
        _crtime: Option<SystemTime>,
        _chgtime: Option<SystemTime>,
        _bkuptime: Option<SystemTime>,
        _flags: Option<fuser::BsdFileFlags>,
        reply: ReplyAttr,
    ) {
        let mut st = self.shared.lock();
        let Some(rel) = st.inodes.path_of(ino.0).map(Path::to_path_buf) else {
            return reply.error(Errno::ENOENT);
        };
        if let Some(mode) = mode {
            let perms = std::fs::Permissions::from_mode(mode & 0o7777);
            if let Err(e) = std::fs::set_permissions(st.backing_path(&rel), perms) {
                return reply.error(errno(e));
            }
        }
        if let Some(len) = size {
            st.pending.entry(ino.0).or_default().truncate(len);
        }
        match attr_of(&mut st, ino.0, &rel) {
            Ok(attr) => reply.attr(&TTL, &attr),
            Err(e) => reply.error(e),
        }
    }

    fn mkdir(
        &self,
        _req: &Request,
        parent: INodeNo,
        name: &OsStr,
        mode: u32,
        umask: u32,
        reply: ReplyEntry,
    ) {
        let mut st = self.shared.lock();
        let rel = match Self::child(&st, parent, name) {
            Ok(rel) => rel,
            Err(e) => return reply.error(e),
        };
        let path = st.backing_path(&rel);
        if let Err(e) = std::fs::create_dir(&path) {
            return reply.error(errno(e));
        }
        let _ = std::fs::set_permissions(
            &path,
            std::fs::Permissions::from_mode(mode & !umask & 0o7777),
        );
        Self::entry(&mut st, &rel, reply)
    }

    fn unlink(&self, _req: &Request, parent: INodeNo, name: &OsStr, reply: ReplyEmpty) {
        let mut st = self.shared.lock();
        let rel = match Self::child(&st, parent, name) {
            Ok(rel) => rel,
            Err(e) => return reply.error(e),
        };
        if let Err(e) = std::fs::remove_file(st.backing_path(&rel)) {
            return reply.error(errno(e));
        }
        if let Some(ino) = st.inodes.remove(&rel) {
            st.pending.remove(&ino);
        }
        reply.ok()
    }

    fn rmdir(&self, _req: &Request, parent: INodeNo, name: &OsStr, reply: ReplyEmpty) {
        let mut st = self.shared.lock();
        let rel = match Self::child(&st, parent, name) {
            Ok(rel) => rel,
            Err(e) => return reply.error(e),
        };
        if let Err(e) = std::fs::remove_dir(st.backing_path(&rel)) {
            return reply.error(errno(e));
        }
        st.inodes.remove(&rel);
        reply.ok()
    }

    fn rename(
        &self,
        _req: &Request,
        parent: INodeNo,
        name: &OsStr,
        newparent: INodeNo,
        newname: &OsStr,
        flags: RenameFlags,
        reply: ReplyEmpty,
    ) {
        if !flags.is_empty() {
            return reply.error(Errno::EINVAL);
        }
        let mut st = self.shared.lock();
        let (from, to) = match (
            Self::child(&st, parent, name),
            Self::child(&st, newparent, newname),
        ) {
            (Ok(f), Ok(t)) => (f, t),
            (Err(e), _) | (_, Err(e)) => return reply.error(e),
        };
        if let Err(e) = std::fs::rename(st.backing_path(&from), st.backing_path(&to)) {
            return reply.error(errno(e));
        }
        // The replaced target's unsynced data goes with it.
        if let Some(ino) = st.inodes.remove(&to) {
            st.pending.remove(&ino);
        }
        st.inodes.rename(&from, &to);
        reply.ok()
    }

    fn open(&self, _req: &Request, ino: INodeNo, flags: OpenFlags, reply: ReplyOpen) {
        let mut st = self.shared.lock();
        if st.inodes.path_of(ino.0).is_none() {
            return reply.error(Errno::ENOENT);
        }
        let fh = Self::open_handle(&mut st, ino.0, flags.0);
        reply.opened(FileHandle(fh), FopenFlags::FOPEN_DIRECT_IO)
    }

    fn create(
        &self,
        _req: &Request,
        parent: INodeNo,
        name: &OsStr,
        mode: u32,
        umask: u32,
        flags: i32,
        reply: ReplyCreate,
    ) {
        let mut st = self.shared.lock();
        let rel = match Self::child(&st, parent, name) {
            Ok(rel) => rel,
            Err(e) => return reply.error(e),
        };
        let path = st.backing_path(&rel);
        let mut opts = OpenOptions::new();
        opts.write(true);
        if flags & libc::O_EXCL != 0 {
            opts.create_new(true);
        } else {
            opts.create(true);
        }
        if let Err(e) = opts.open(&path) {
            return reply.error(errno(e));
        }
        let _ = std::fs::set_permissions(
            &path,
            std::fs::Permissions::from_mode(mode & !umask & 0o7777),
        );
        let ino = st.inodes.ino_of(&rel);
        let fh = Self::open_handle(&mut st, ino, flags);
        match attr_of(&mut st, ino, &rel) {
            Ok(attr) => reply.created(
                &TTL,
                &attr,
                Generation(0),
                FileHandle(fh),
                FopenFlags::FOPEN_DIRECT_IO,
            ),
            Err(e) => reply.error(e),
        }
    }

    fn read(
        &self,
        _req: &Request,
        ino: INodeNo,
        _fh: FileHandle,
        offset: u64,
        size: u32,
        _flags: OpenFlags,
        _lock_owner: Option<LockOwner>,
        reply: ReplyData,
    ) {
        let mut st = self.shared.lock();
        let Some(rel) = st.inodes.path_of(ino.0).map(Path::to_path_buf) else {
            return reply.error(Errno::ENOENT);
        };
        if st.read_fails(&rel) {
            return reply.error(Errno::EIO);
        }
        match Self::read_visible(&st, ino.0, &rel, offset, size) {
            Ok(data) => reply.data(&data),
            Err(e) => reply.error(errno(e)),
        }
    }

    fn write(
        &self,
        _req: &Request,
        ino: INodeNo,
        fh: FileHandle,
        offset: u64,
        data: &[u8],
        _write_flags: WriteFlags,
        _flags: OpenFlags,
        _lock_owner: Option<LockOwner>,
        reply: ReplyWrite,
    ) {
        let mut st = self.shared.lock();
        let Some(rel) = st.inodes.path_of(ino.0).map(Path::to_path_buf) else {
            return reply.error(Errno::ENOENT);
        };
        let append = st.handles.get(&fh.0).is_some_and(|h| h.append);
        let at = if append {
            let durable_len = match std::fs::metadata(st.backing_path(&rel)) {
                Ok(md) => md.len(),
                Err(e) => return reply.error(errno(e)),
            };
            st.pending
                .get(&ino.0)
                .map_or(durable_len, |p| p.visible_len(durable_len))
        } else {
            offset
        };
        st.pending.entry(ino.0).or_default().write(at, data);
        reply.written(data.len() as u32)
    }

    fn flush(
        &self,
        _req: &Request,
        _ino: INodeNo,
        _fh: FileHandle,
        _lock_owner: LockOwner,
        reply: ReplyEmpty,
    ) {
        // close(2) makes nothing durable; see the module doc.
        reply.ok()
    }

    fn release(
        &self,
        _req: &Request,
        _ino: INodeNo,
        fh: FileHandle,
        _flags: OpenFlags,
        _lock_owner: Option<LockOwner>,
        _flush: bool,
        reply: ReplyEmpty,
    ) {
        self.shared.lock().handles.remove(&fh.0);
        reply.ok()
    }

    fn fsync(
        &self,
        _req: &Request,
        ino: INodeNo,
        _fh: FileHandle,
        _datasync: bool,
        reply: ReplyEmpty,
    ) {
        let mut st = self.shared.lock();
        match Self::sync_file(&mut st, ino.0) {
            Ok(()) => reply.ok(),
            Err(e) => reply.error(e),
        }
    }

    fn readdir(
        &self,
        _req: &Request,
        ino: INodeNo,
        _fh: FileHandle,
        offset: u64,
        mut reply: ReplyDirectory,
    ) {
        let mut st = self.shared.lock();
        let Some(dir) = st.inodes.path_of(ino.0).map(Path::to_path_buf) else {
            return reply.error(Errno::ENOENT);
        };
        let listing = match std::fs::read_dir(st.backing_path(&dir)) {
            Ok(it) => it,
            Err(e) => return reply.error(errno(e)),
        };
        let mut names: Vec<(std::ffi::OsString, FileType)> = Vec::new();
        for entry in listing {
            let entry = match entry {
                Ok(e) => e,
                Err(e) => return reply.error(errno(e)),
            };
            let kind = entry
                .file_type()
                .ok()
                .and_then(FileType::from_std)
                .unwrap_or(FileType::RegularFile);
            names.push((entry.file_name(), kind));
        }
        names.sort_by(|a, b| a.0.cmp(&b.0));
        let parent_ino = dir
            .parent()
            .map_or(crate::inodes::ROOT, |p| st.inodes.ino_of(p));
        let mut entries = vec![
            (ino.0, FileType::Directory, std::ffi::OsString::from(".")),
            (
                parent_ino,
                FileType::Directory,
                std::ffi::OsString::from(".."),
            ),
        ];
        for (name, kind) in names {
            let child = st.inodes.ino_of(&dir.join(&name));
            entries.push((child, kind, name));
        }
        for (i, (child, kind, name)) in entries.into_iter().enumerate().skip(offset as usize) {
            if reply.add(INodeNo(child), (i + 1) as u64, kind, name) {
                break;
            }
        }
        reply.ok()
    }

    fn fsyncdir(
        &self,
        _req: &Request,
        _ino: INodeNo,
        _fh: FileHandle,
        _datasync: bool,
        reply: ReplyEmpty,
    ) {
        // Metadata is durable as soon as it is done; see the module doc.
        reply.ok()
    }

    fn access(&self, _req: &Request, _ino: INodeNo, _mask: fuser::AccessFlags, reply: ReplyEmpty) {
        // The kernel checks permissions itself (`default_permissions`).
        reply.ok()
    }
}
