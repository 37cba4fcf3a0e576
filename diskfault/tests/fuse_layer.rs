//! The layer mounted for real. Each test needs `/dev/fuse` and `fusermount3`; where
//! they are missing it prints a loud SKIPPED line on stderr and returns.

use std::fs::{self, File, OpenOptions};
use std::io::{ErrorKind, Read, Write};
use std::path::Path;
use std::time::Duration;

use diskfault::{fuse_unavailable, Corruption, FaultyDir};
use tempfile::TempDir;

/// A backing directory, a mountpoint, and the layer mounted between them. Field order
/// matters: the mount is dropped (unmounted) before the directories are removed.
struct Fixture {
    layer: FaultyDir,
    backing: TempDir,
    _mnt: TempDir,
}

fn mounted(test: &str) -> Option<Fixture> {
    if let Some(reason) = fuse_unavailable() {
        // Written to the real stderr, not eprintln!, which libtest captures and hides
        // for a passing test.
        let _ = writeln!(
            std::io::stderr(),
            "\n!!!!!!!! SKIPPED diskfault::{test}: {reason}; install Debian's fuse3 \
             (.ci/run does). The FUSE layer was NOT tested. !!!!!!!!\n"
        );
        return None;
    }
    let backing = tempfile::tempdir().unwrap();
    let mnt = tempfile::tempdir().unwrap();
    let layer = FaultyDir::mount(backing.path(), mnt.path()).expect("mount the layer");
    Some(Fixture {
        layer,
        backing,
        _mnt: mnt,
    })
}

impl Fixture {
    fn path(&self, name: &str) -> std::path::PathBuf {
        self.layer.mountpoint().join(name)
    }
    fn durable(&self, name: &str) -> Vec<u8> {
        fs::read(self.backing.path().join(name)).unwrap()
    }
}

fn append(path: &Path, bytes: &[u8], sync: bool) {
    let mut f = OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .unwrap();
    f.write_all(bytes).unwrap();
    if sync {
        f.sync_data().unwrap();
    }
}

#[test]
fn synced_write_survives_power_loss_and_unsynced_is_lost() {
    let Some(fx) = mounted("synced_write_survives_power_loss_and_unsynced_is_lost") else {
        return;
    };
    let wal = fx.path("wal.jsonl");
    append(&wal, b"one\n", true);
    append(&wal, b"two\n", false);
    // The page-cache view: both writes are there, and the size counts both.
    assert_eq!(fs::read(&wal).unwrap(), b"one\ntwo\n");
    assert_eq!(fs::metadata(&wal).unwrap().len(), 8);
    assert_eq!(fx.durable("wal.jsonl"), b"one\n");
    let loss = fx.layer.faults().lose_unsynced();
    assert_eq!((loss.files, loss.bytes), (1, 4));
    assert_eq!(fs::read(&wal).unwrap(), b"one\n");
    // Appending after the loss starts at the durable end.
    append(&wal, b"three\n", true);
    assert_eq!(fx.durable("wal.jsonl"), b"one\nthree\n");
}

#[test]
fn close_without_fsync_is_not_durable() {
    let Some(fx) = mounted("close_without_fsync_is_not_durable") else {
        return;
    };
    fs::write(fx.path("f"), b"never synced").unwrap();
    assert_eq!(fs::read(fx.path("f")).unwrap(), b"never synced");
    fx.layer.faults().lose_unsynced();
    assert_eq!(fs::read(fx.path("f")).unwrap(), b"");
}

#[test]
fn rename_of_a_synced_file_is_durable_and_of_an_unsynced_one_loses_the_data() {
    let Some(fx) =
        mounted("rename_of_a_synced_file_is_durable_and_of_an_unsynced_one_loses_the_data")
    else {
        return;
    };
    // write tmp, fsync, rename: the snapshot's way.
    let mut f = File::create(fx.path("snap.tmp")).unwrap();
    f.write_all(b"snapshot v1").unwrap();
    f.sync_all().unwrap();
    drop(f);
    fs::rename(fx.path("snap.tmp"), fx.path("snap.json")).unwrap();
    // The same without fsync.
    fs::write(fx.path("other.tmp"), b"not synced").unwrap();
    fs::rename(fx.path("other.tmp"), fx.path("other.json")).unwrap();
    assert_eq!(fs::read(fx.path("other.json")).unwrap(), b"not synced");
    fx.layer.faults().lose_unsynced();
    assert_eq!(fs::read(fx.path("snap.json")).unwrap(), b"snapshot v1");
    assert!(!fx.path("snap.tmp").exists());
    assert_eq!(fs::read(fx.path("other.json")).unwrap(), b"");
    let mut names: Vec<String> = fs::read_dir(fx.layer.mountpoint())
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    names.sort();
    assert_eq!(names, vec!["other.json", "snap.json"]);
}

#[test]
fn torn_write_keeps_a_prefix_of_the_last_write() {
    let Some(fx) = mounted("torn_write_keeps_a_prefix_of_the_last_write") else {
        return;
    };
    let wal = fx.path("wal.jsonl");
    append(&wal, b"{\"a\":1}\n", true);
    append(&wal, b"{\"b\":2}\n", false);
    append(&wal, b"{\"c\":3}\n", false);
    append(&fx.path("other"), b"lost", false);
    let torn = fx
        .layer
        .faults()
        .torn_write(Path::new("wal.jsonl"), 3)
        .unwrap()
        .expect("there was an unsynced write");
    assert_eq!((torn.offset, torn.kept), (16, 3));
    assert_eq!(torn.loss.files, 1);
    assert_eq!(fs::read(&wal).unwrap(), b"{\"a\":1}\n{\"b\":2}\n{\"c");
    assert_eq!(fs::read(fx.path("other")).unwrap(), b"");
    assert_eq!(
        fx.layer
            .faults()
            .torn_write(Path::new("wal.jsonl"), 3)
            .unwrap(),
        None
    );
}

#[test]
fn corrupt_flips_zeroes_or_truncates_the_range_at_rest() {
    let Some(fx) = mounted("corrupt_flips_zeroes_or_truncates_the_range_at_rest") else {
        return;
    };
    append(&fx.path("f"), b"abcdefgh", true);
    let faults = fx.layer.faults();
    faults
        .corrupt(Path::new("f"), 2..4, Corruption::FlipBits)
        .unwrap();
    assert_eq!(
        fs::read(fx.path("f")).unwrap(),
        [b'a', b'b', !b'c', !b'd', b'e', b'f', b'g', b'h']
    );
    faults
        .corrupt(Path::new("f"), 5..100, Corruption::Zero)
        .unwrap();
    assert_eq!(&fs::read(fx.path("f")).unwrap()[4..], b"e\0\0\0");
    faults
        .corrupt(Path::new("f"), 3..4, Corruption::Truncate)
        .unwrap();
    assert_eq!(fs::read(fx.path("f")).unwrap().len(), 3);
    assert!(faults
        .corrupt(Path::new("f"), 4..4, Corruption::Zero)
        .is_err());
    assert!(faults
        .corrupt(Path::new("../f"), 0..1, Corruption::Zero)
        .is_err());
    assert!(faults
        .corrupt(Path::new("missing"), 0..1, Corruption::Zero)
        .is_err());
}

#[test]
fn read_error_gives_eio_then_recovers() {
    let Some(fx) = mounted("read_error_gives_eio_then_recovers") else {
        return;
    };
    append(&fx.path("f"), b"data", true);
    let faults = fx.layer.faults();
    faults
        .read_error(Path::new("f"), Duration::from_millis(300))
        .unwrap();
    let mut buf = Vec::new();
    let err = File::open(fx.path("f"))
        .unwrap()
        .read_to_end(&mut buf)
        .unwrap_err();
    assert_eq!(err.raw_os_error(), Some(libc_eio()), "{err}");
    std::thread::sleep(Duration::from_millis(400));
    assert_eq!(fs::read(fx.path("f")).unwrap(), b"data");
    // passthrough heals before the time is up.
    faults
        .read_error(Path::new("f"), Duration::from_secs(60))
        .unwrap();
    assert!(fs::read(fx.path("f")).is_err());
    faults.passthrough();
    assert_eq!(fs::read(fx.path("f")).unwrap(), b"data");
}

#[test]
fn truncate_mkdir_unlink_and_overwrite_work_through_the_layer() {
    let Some(fx) = mounted("truncate_mkdir_unlink_and_overwrite_work_through_the_layer") else {
        return;
    };
    fs::create_dir(fx.path("d")).unwrap();
    let p = fx.path("d/f");
    let mut f = OpenOptions::new()
        .create(true)
        .read(true)
        .write(true)
        .truncate(true)
        .open(&p)
        .unwrap();
    f.write_all(b"0123456789").unwrap();
    f.sync_all().unwrap();
    f.set_len(4).unwrap();
    assert_eq!(fs::read(&p).unwrap(), b"0123");
    fx.layer.faults().lose_unsynced();
    assert_eq!(fs::read(&p).unwrap(), b"0123456789");
    fs::remove_file(&p).unwrap();
    assert_eq!(fs::metadata(&p).unwrap_err().kind(), ErrorKind::NotFound);
    assert!(!fx.backing.path().join("d/f").exists());
}

fn libc_eio() -> i32 {
    5
}
