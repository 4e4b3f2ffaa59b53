//! The conformance suite, run on every primitive file system: the
//! writable, read-only and fixed-names contracts, and the links part of the
//! contract (each service on its own in `links::Follow`, and reporting links
//! bare).

use oanix_conformance::{
    Fixture, LinkSupport, StatSizes, check_fixed_names, check_link_reports, check_links,
    check_read_only, check_writable,
};
use oanix_prims::{CowFs, FuncFs, MapFs, MemFs};
use oanix_vfs::links::Follow;
use oanix_vfs::{DirEntry, FileHandle, FileService, Metadata, OpenFlags, Result, Timestamp};

/// A `MapFs` holding exactly `fixture`.
pub(crate) fn map_fs(fixture: &Fixture) -> MapFs {
    let mut b = MapFs::builder();
    for (p, data) in fixture.files() {
        b = b.file(p, data.to_vec());
    }
    for d in fixture.dirs() {
        b = b.dir(d);
    }
    for (p, target) in fixture.links() {
        b = b.symlink(p, target);
    }
    b.build()
}

/// Content with symbolic links to files, to directories, through parents,
/// absolute, with `..`, dangling and looping.
pub(crate) fn fixture_with_links() -> Fixture {
    Fixture::standard()
        .symlink("/to_a", "a.txt")
        .symlink("/to_dir", "dir")
        .symlink("/dir/up", "../a.txt")
        .symlink("/dir/sub/abs", "/dir/b.txt")
        .symlink("/empty/high", "../../../dir/sub")
        .symlink("/dangling", "missing")
        .symlink("/loop", "loop")
        .symlink("/via", "to_dir/sub/c.txt")
}

/// A `MemFs` that keeps none of its links: every link operation is the
/// trait's default.
#[derive(Default)]
pub(crate) struct NoLinks(MemFs);

impl FileService for NoLinks {
    fn open(&self, path: &str, flags: OpenFlags) -> Result<Box<dyn FileHandle>> {
        self.0.open(path, flags)
    }
    fn readdir(&self, path: &str) -> Result<Vec<DirEntry>> {
        self.0.readdir(path)
    }
    fn stat(&self, path: &str) -> Result<Metadata> {
        self.0.stat(path)
    }
    fn mkdir(&self, path: &str) -> Result<()> {
        self.0.mkdir(path)
    }
    fn remove(&self, path: &str) -> Result<()> {
        self.0.remove(path)
    }
    fn rename(&self, from: &str, to: &str) -> Result<()> {
        self.0.rename(from, to)
    }
    fn set_times(&self, path: &str, a: Option<Timestamp>, m: Option<Timestamp>) -> Result<()> {
        self.0.set_times(path, a, m)
    }
}

/// A `MemFs` with symbolic links but no hard links (`link` is the default).
#[derive(Default)]
pub(crate) struct NoHardLinks(MemFs);

impl FileService for NoHardLinks {
    fn open(&self, path: &str, flags: OpenFlags) -> Result<Box<dyn FileHandle>> {
        self.0.open(path, flags)
    }
    fn readdir(&self, path: &str) -> Result<Vec<DirEntry>> {
        self.0.readdir(path)
    }
    fn stat(&self, path: &str) -> Result<Metadata> {
        self.0.stat(path)
    }
    fn lstat(&self, path: &str) -> Result<Metadata> {
        self.0.lstat(path)
    }
    fn symlink(&self, target: &str, link: &str) -> Result<()> {
        self.0.symlink(target, link)
    }
    fn readlink(&self, path: &str) -> Result<String> {
        self.0.readlink(path)
    }
    fn mkdir(&self, path: &str) -> Result<()> {
        self.0.mkdir(path)
    }
    fn remove(&self, path: &str) -> Result<()> {
        self.0.remove(path)
    }
    fn rename(&self, from: &str, to: &str) -> Result<()> {
        self.0.rename(from, to)
    }
    fn set_times(&self, path: &str, a: Option<Timestamp>, m: Option<Timestamp>) -> Result<()> {
        self.0.set_times(path, a, m)
    }
}

/// A `FuncFs` whose files compute the contents of `fixture`; with
/// `writable`, every file also takes writes (and ignores them).
fn func_fs(fixture: &Fixture, writable: bool) -> FuncFs {
    let mut b = FuncFs::builder();
    for (p, data) in fixture.files() {
        let data = data.to_vec();
        let read = move || Ok(data.clone());
        b = if writable {
            b.read_write(p, read, |_| Ok(()))
        } else {
            b.read_only(p, read)
        };
    }
    for d in fixture.dirs() {
        b = b.dir(d);
    }
    b.build()
}

#[test]
fn memfs_is_writable() {
    check_writable(MemFs::new);
}

#[test]
fn cowfs_over_memfs_is_writable() {
    check_writable(|| CowFs::new(MemFs::new()));
}

#[test]
fn cowfs_over_mapfs_is_writable() {
    check_writable(|| CowFs::new(MapFs::empty()));
}

#[test]
fn cowfs_over_cowfs_is_writable() {
    check_writable(|| CowFs::new(CowFs::new(MapFs::empty())));
}

#[test]
fn memfs_keeps_links() {
    check_links(|| Follow(MemFs::new()), LinkSupport::SymlinksAndHardLinks);
}

#[test]
fn memfs_reports_links() {
    check_link_reports(MemFs::new);
}

#[test]
fn cowfs_over_memfs_keeps_links() {
    check_links(
        || Follow(CowFs::new(MemFs::new())),
        LinkSupport::SymlinksAndHardLinks,
    );
}

#[test]
fn cowfs_over_memfs_reports_links() {
    check_link_reports(|| CowFs::new(MemFs::new()));
}

#[test]
fn cowfs_over_mapfs_keeps_links() {
    check_links(
        || Follow(CowFs::new(MapFs::empty())),
        LinkSupport::SymlinksAndHardLinks,
    );
}

// The suite's own levels of support, on services that keep the trait's
// defaults: what they check is what the defaults answer.
#[test]
fn a_service_without_links_answers_the_defaults() {
    check_links(NoLinks::default, LinkSupport::None);
    check_links(|| Follow(NoLinks::default()), LinkSupport::None);
}

#[test]
fn a_service_without_hard_links_keeps_symbolic_links() {
    check_links(|| Follow(NoHardLinks::default()), LinkSupport::Symlinks);
}

#[test]
fn mapfs_is_read_only() {
    let fixture = Fixture::standard();
    check_read_only(&map_fs(&fixture), &fixture);
}

#[test]
fn mapfs_with_an_odd_fixture_is_read_only() {
    let fixture = Fixture::new()
        .file("/deep/er/still/f", "deep")
        .file("/with space", "s")
        .file("/é", [0u8, 255, 10])
        .dir("/only/dirs/here");
    check_read_only(&map_fs(&fixture), &fixture);
}

#[test]
fn mapfs_with_links_is_read_only() {
    let fixture = fixture_with_links();
    check_read_only(&map_fs(&fixture), &fixture);
}

// `FuncFs` is not a read-only service (its files may take writes) and not a
// writable one (its names are fixed, its files computed): it keeps the
// fixed-names contract, with sizes unknown until read.
#[test]
fn funcfs_keeps_the_fixed_names_contract() {
    let fixture = Fixture::standard();
    check_fixed_names(&func_fs(&fixture, false), &fixture, StatSizes::Unknown);
    check_fixed_names(&func_fs(&fixture, true), &fixture, StatSizes::Unknown);
}

#[test]
fn funcfs_of_files_only_keeps_the_fixed_names_contract() {
    let fixture = Fixture::new().file("/status", "ok\n").file("/zero", "");
    check_fixed_names(&func_fs(&fixture, true), &fixture, StatSizes::Unknown);
}

#[test]
fn the_fixture_populates_a_memfs_exactly() {
    let fixture = Fixture::standard();
    let fs = MemFs::new();
    fixture.populate(&fs).unwrap();
    assert_eq!(oanix_conformance::tree_of(&fs), *fixture.tree());
    assert_eq!(
        oanix_conformance::tree_of(&map_fs(&fixture)),
        *fixture.tree()
    );
    let fixture = fixture_with_links();
    let fs = MemFs::new();
    fixture.populate(&fs).unwrap();
    assert_eq!(oanix_conformance::tree_of(&fs), *fixture.tree());
    assert_eq!(fixture.links().count(), 8);
}

#[test]
fn the_read_checks_hold_for_a_memfs_holding_links() {
    // The read-only checks that read (not those that expect refusals) hold
    // for a writable service holding the fixture, its links included.
    let fixture = fixture_with_links();
    let fs = MemFs::new();
    fixture.populate(&fs).unwrap();
    for check in oanix_conformance::read_only_checks() {
        if [
            "reads_the_fixture",
            "stat_the_fixture",
            "readdir_the_fixture",
            "lstat_and_readlink_of_the_fixture",
            "links_of_the_fixture_are_followed",
            "ids_are_stable_and_distinct",
        ]
        .contains(&check.name)
        {
            (check.run)(&fs, &fixture);
        }
    }
}
