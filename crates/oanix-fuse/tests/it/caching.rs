//! What the kernel keeps, per policy, seen from the service: how many calls
//! reach it, and that nothing kept ever hides a change made through the
//! mount, or a host's change under `Writable` (or once `invalidate` is
//! called under the other policies).

use std::fs::{self, File, OpenOptions};
use std::io::{ErrorKind, Read, Write};
use std::os::unix::fs::FileExt;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use oanix_fuse::{CachePolicy, MountOptions};
use oanix_prims::MemFs;
use oanix_vfs::{
    DirEntry, FileHandle, FileService, Metadata, OpenFlags, Result, Timestamp, read_to_string,
    write_file,
};

use crate::support::Mounted;

/// How many calls of each kind reached the service.
#[derive(Debug, Default)]
struct Calls {
    lstat: AtomicUsize,
    read: AtomicUsize,
}

impl Calls {
    fn lstats(&self) -> usize {
        self.lstat.load(Ordering::SeqCst)
    }
    fn reads(&self) -> usize {
        self.read.load(Ordering::SeqCst)
    }
}

/// A memory file system that counts the lookups and reads made on it.
struct Counting {
    inner: Arc<MemFs>,
    calls: Arc<Calls>,
}

struct CountingHandle {
    inner: Box<dyn FileHandle>,
    calls: Arc<Calls>,
}

impl FileHandle for CountingHandle {
    fn read(&mut self, buf: &mut [u8]) -> Result<usize> {
        self.calls.read.fetch_add(1, Ordering::SeqCst);
        self.inner.read(buf)
    }
    fn write(&mut self, buf: &[u8]) -> Result<usize> {
        self.inner.write(buf)
    }
    fn seek(&mut self, pos: std::io::SeekFrom) -> Result<u64> {
        self.inner.seek(pos)
    }
    fn flush(&mut self) -> Result<()> {
        self.inner.flush()
    }
    fn stat(&self) -> Result<Metadata> {
        self.inner.stat()
    }
    fn set_len(&mut self, len: u64) -> Result<()> {
        self.inner.set_len(len)
    }
    fn read_at(&mut self, buf: &mut [u8], offset: u64) -> Result<usize> {
        self.calls.read.fetch_add(1, Ordering::SeqCst);
        self.inner.read_at(buf, offset)
    }
    fn write_at(&mut self, buf: &[u8], offset: u64) -> Result<usize> {
        self.inner.write_at(buf, offset)
    }
}

impl FileService for Counting {
    fn open(&self, path: &str, flags: OpenFlags) -> Result<Box<dyn FileHandle>> {
        let inner = self.inner.open(path, flags)?;
        Ok(Box::new(CountingHandle {
            inner,
            calls: self.calls.clone(),
        }))
    }
    fn readdir(&self, path: &str) -> Result<Vec<DirEntry>> {
        self.inner.readdir(path)
    }
    fn stat(&self, path: &str) -> Result<Metadata> {
        self.inner.stat(path)
    }
    fn lstat(&self, path: &str) -> Result<Metadata> {
        self.calls.lstat.fetch_add(1, Ordering::SeqCst);
        self.inner.lstat(path)
    }
    fn symlink(&self, target: &str, link: &str) -> Result<()> {
        self.inner.symlink(target, link)
    }
    fn readlink(&self, path: &str) -> Result<String> {
        self.inner.readlink(path)
    }
    fn link(&self, from: &str, to: &str) -> Result<()> {
        self.inner.link(from, to)
    }
    fn mkdir(&self, path: &str) -> Result<()> {
        self.inner.mkdir(path)
    }
    fn remove(&self, path: &str) -> Result<()> {
        self.inner.remove(path)
    }
    fn rename(&self, from: &str, to: &str) -> Result<()> {
        self.inner.rename(from, to)
    }
    fn set_times(
        &self,
        path: &str,
        accessed: Option<Timestamp>,
        modified: Option<Timestamp>,
    ) -> Result<()> {
        self.inner.set_times(path, accessed, modified)
    }
}

/// A counted memory file system mounted with `policy` everywhere.
fn counted(policy: CachePolicy) -> (Arc<MemFs>, Arc<Calls>, Mounted) {
    let inner = Arc::new(MemFs::new());
    let calls = Arc::new(Calls::default());
    let service = Counting {
        inner: inner.clone(),
        calls: calls.clone(),
    };
    let m = Mounted::new(service, MountOptions::new().default_policy(policy));
    (inner, calls, m)
}

/// An hour before now.
fn an_hour_ago() -> Timestamp {
    Timestamp(Timestamp::now().as_nanos() - 3_600_000_000_000)
}

#[test]
fn writable_names_are_kept_and_every_stat_still_asks_the_service() {
    let (host, calls, m) = counted(CachePolicy::Writable);
    host.mkdir("/a").unwrap();
    host.mkdir("/a/b").unwrap();
    write_file(&*host, "/a/b/f", "four").unwrap();
    assert_eq!(fs::metadata(m.p("a/b/f")).unwrap().len(), 4);
    let before = calls.lstats();
    assert_eq!(fs::metadata(m.p("a/b/f")).unwrap().len(), 4);
    assert_eq!(
        calls.lstats() - before,
        1,
        "the directories' names are kept; the file's attributes are asked for"
    );
    // The host's changes show at once all the same.
    write_file(&*host, "/a/b/f", "a longer text").unwrap();
    assert_eq!(fs::metadata(m.p("a/b/f")).unwrap().len(), 13);
    host.remove("/a/b/f").unwrap();
    let gone = fs::metadata(m.p("a/b/f")).unwrap_err();
    assert_eq!(gone.kind(), ErrorKind::NotFound, "{gone}");
    host.mkdir("/a/b/f").unwrap();
    assert!(fs::metadata(m.p("a/b/f")).unwrap().is_dir());
    host.remove("/a/b/f").unwrap();
    write_file(&*host, "/a/b/f", "again").unwrap();
    assert_eq!(fs::read_to_string(m.p("a/b/f")).unwrap(), "again");
    // A name the kernel holds that the host removed is created anew.
    host.remove("/a/b/f").unwrap();
    fs::write(m.p("a/b/f"), "through the mount").unwrap();
    assert_eq!(
        read_to_string(&*host, "/a/b/f").unwrap(),
        "through the mount"
    );
    // A directory the host moved away is gone from the mount at once.
    host.rename("/a/b", "/a/c").unwrap();
    let moved = fs::metadata(m.p("a/b/f")).unwrap_err();
    assert_eq!(moved.kind(), ErrorKind::NotFound, "{moved}");
    assert_eq!(
        fs::read_to_string(m.p("a/c/f")).unwrap(),
        "through the mount"
    );
}

#[test]
fn writable_missing_names_are_never_remembered() {
    let (host, calls, m) = counted(CachePolicy::Writable);
    assert!(fs::metadata(m.p("new")).is_err());
    let before = calls.lstats();
    assert!(fs::metadata(m.p("new")).is_err());
    assert_eq!(calls.lstats() - before, 1, "each miss asks the service");
    write_file(&*host, "/new", "made by the host").unwrap();
    assert_eq!(fs::read_to_string(m.p("new")).unwrap(), "made by the host");
}

#[test]
fn an_old_writable_file_keeps_its_pages_until_it_changes() {
    let (host, calls, m) = counted(CachePolicy::Writable);
    write_file(&*host, "/old", "settled text").unwrap();
    host.set_times("/old", None, Some(an_hour_ago())).unwrap();
    assert_eq!(fs::read_to_string(m.p("old")).unwrap(), "settled text");
    let before = calls.reads();
    assert_eq!(fs::read_to_string(m.p("old")).unwrap(), "settled text");
    assert_eq!(calls.reads(), before, "read again from the kernel's pages");
    // Changed by the host (same size): read from the service again.
    write_file(&*host, "/old", "changed text").unwrap();
    assert_eq!(fs::read_to_string(m.p("old")).unwrap(), "changed text");
    assert!(calls.reads() > before);
    // A file changed just now may change again within the same tick of
    // its time: its pages are dropped at every open.
    write_file(&*host, "/young", "fresh").unwrap();
    assert_eq!(fs::read_to_string(m.p("young")).unwrap(), "fresh");
    let before = calls.reads();
    assert_eq!(fs::read_to_string(m.p("young")).unwrap(), "fresh");
    assert!(calls.reads() > before, "a young file is read again");
}

#[test]
fn a_change_through_the_mount_is_seen_at_once_by_another_reader() {
    for policy in [
        CachePolicy::Writable,
        CachePolicy::Cached(Duration::from_secs(3600)),
        CachePolicy::Immutable,
    ] {
        let (host, _calls, m) = counted(policy);
        write_file(&*host, "/f", "first").unwrap();
        host.set_times("/f", None, Some(an_hour_ago())).unwrap();
        let reader = File::open(m.p("f")).unwrap();
        let mut buf = [0; 5];
        reader.read_exact_at(&mut buf, 0).unwrap();
        assert_eq!(&buf, b"first");
        let size = fs::metadata(m.p("f")).unwrap().len();
        assert_eq!(size, 5);
        // Another descriptor, another process's view: the same kernel.
        let mut writer = OpenOptions::new().write(true).open(m.p("f")).unwrap();
        writer.write_all(b"second, longer").unwrap();
        drop(writer);
        let mut again = String::new();
        File::open(m.p("f"))
            .unwrap()
            .read_to_string(&mut again)
            .unwrap();
        assert_eq!(again, "second, longer", "{policy:?}");
        reader.read_exact_at(&mut buf, 0).unwrap();
        assert_eq!(&buf, b"secon", "{policy:?}: the open reader too");
        assert_eq!(fs::metadata(m.p("f")).unwrap().len(), 14, "{policy:?}");
        // A name found missing, then made through the mount.
        assert!(fs::metadata(m.p("g")).is_err());
        fs::write(m.p("g"), "made").unwrap();
        assert_eq!(fs::read_to_string(m.p("g")).unwrap(), "made", "{policy:?}");
        fs::remove_file(m.p("g")).unwrap();
        assert!(fs::metadata(m.p("g")).is_err(), "{policy:?}");
    }
}

#[test]
fn a_cached_missing_name_shows_once_invalidated() {
    let (host, calls, m) = counted(CachePolicy::Cached(Duration::from_secs(3600)));
    assert!(fs::metadata(m.p("later")).is_err());
    let before = calls.lstats();
    assert!(fs::metadata(m.p("later")).is_err());
    assert_eq!(calls.lstats(), before, "the miss is remembered");
    write_file(&*host, "/later", "made by the host").unwrap();
    assert!(
        fs::metadata(m.p("later")).is_err(),
        "hidden within the time allowed"
    );
    m.mount().invalidate("/later").unwrap();
    assert_eq!(
        fs::read_to_string(m.p("later")).unwrap(),
        "made by the host"
    );
    // A path below a missing directory: its first missing name is dropped.
    assert!(fs::metadata(m.p("d/e/f")).is_err());
    host.mkdir("/d").unwrap();
    host.mkdir("/d/e").unwrap();
    write_file(&*host, "/d/e/f", "deep").unwrap();
    assert!(fs::metadata(m.p("d/e/f")).is_err());
    m.mount().invalidate("/d/e/f").unwrap();
    assert_eq!(fs::read_to_string(m.p("d/e/f")).unwrap(), "deep");
    // A host's change to a known file shows once invalidated.
    write_file(&*host, "/later", "changed").unwrap();
    m.mount().invalidate("/later").unwrap();
    assert_eq!(fs::read_to_string(m.p("later")).unwrap(), "changed");
}
