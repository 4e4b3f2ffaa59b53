//! Links in `CowFs`: the base's links seen and reported through the merged
//! view, links made, removed, renamed and hard-linked in the upper layer,
//! reported as changes and in the diff, committed back as links, and never
//! followed by a commit.

use std::collections::BTreeMap;

use oanix_prims::{ChangeKind, CommitError, CowFs, EntryInfo, MemFs};
use oanix_vfs::links::Follow;
use oanix_vfs::{
    FileKind, FileService, FsError, FsErrorKind as K, Namespace, OpenFlags, Timestamp, exists,
    read_to_string, walk, write_file,
};

fn kind<T>(r: oanix_vfs::Result<T>) -> K {
    match r {
        Ok(_) => panic!("expected an error"),
        Err(e) => e.kind(),
    }
}

/// A base with a directory, files and links of every sort:
/// `/d/f` = "data", `/d/g` = "gee", `/l` → `d`, `/lf` → `/d/f`,
/// `/dangling` → `made`, `/dir/ln` → `../d/f`.
fn base_fs() -> MemFs {
    let base = MemFs::new();
    base.mkdir("/d").unwrap();
    write_file(&base, "/d/f", "data").unwrap();
    write_file(&base, "/d/g", "gee").unwrap();
    base.symlink("d", "/l").unwrap();
    base.symlink("/d/f", "/lf").unwrap();
    base.symlink("made", "/dangling").unwrap();
    base.mkdir("/dir").unwrap();
    base.symlink("../d/f", "/dir/ln").unwrap();
    base
}

fn overlay() -> (MemFs, CowFs, Follow<CowFs>) {
    let base = base_fs();
    let cow = CowFs::new(base.clone());
    let fs = Follow(cow.clone());
    (base, cow, fs)
}

/// What `fs` holds, never following a link: each path with `dir`, its
/// content, or `-> target`.
fn snapshot(fs: &dyn FileService) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    for entry in walk(fs, "/") {
        let entry = entry.unwrap();
        let shown = match entry.kind {
            FileKind::Directory => "dir".to_owned(),
            FileKind::Symlink => format!("-> {}", fs.readlink(&entry.path).unwrap()),
            _ => read_to_string(fs, &entry.path).unwrap(),
        };
        out.insert(entry.path, shown);
    }
    out
}

fn names(fs: &dyn FileService, dir: &str) -> Vec<(String, FileKind)> {
    fs.readdir(dir)
        .unwrap()
        .into_iter()
        .map(|e| (e.name, e.kind))
        .collect()
}

fn changes(cow: &CowFs) -> Vec<(String, ChangeKind, Option<FileKind>, Option<FileKind>)> {
    cow.changes()
        .unwrap()
        .into_iter()
        .map(|c| {
            (
                c.path,
                c.kind,
                c.before.map(|b| b.kind),
                c.after.map(|a| a.kind),
            )
        })
        .collect()
}

fn link(target: &str, rest: &str, path: &str) -> FsError {
    FsError::Symlink {
        path: path.into(),
        target: target.into(),
        rest: rest.into(),
    }
}

#[test]
fn the_bases_links_are_reported_through_the_merged_view() {
    let (_base, cow, _fs) = overlay();
    // The base's own answer passes through, for the resolver.
    assert_eq!(cow.stat("/l/f").unwrap_err(), link("d", "f", "/l"));
    assert_eq!(cow.stat("/l/f/").unwrap_err(), link("d", "f/", "/l"));
    assert_eq!(cow.stat("/l").unwrap_err(), link("d", "", "/l"));
    assert_eq!(cow.readdir("/l").unwrap_err(), link("d", "", "/l"));
    assert_eq!(cow.lstat("/l/").unwrap_err(), link("d", "/", "/l"));
    assert_eq!(
        cow.open("/lf", OpenFlags::read_only()).err(),
        Some(link("/d/f", "", "/lf"))
    );
    assert_eq!(
        cow.open("/l/new", OpenFlags::create_truncate()).err(),
        Some(link("d", "new", "/l"))
    );
    // Also once the directory holding a link is in the upper layer.
    write_file(&cow, "/dir/other", "o").unwrap();
    assert_eq!(
        cow.stat("/dir/ln").unwrap_err(),
        link("../d/f", "", "/dir/ln")
    );
    // Operations on the link itself answer for the link.
    let md = cow.lstat("/l").unwrap();
    assert_eq!((md.kind, md.size), (FileKind::Symlink, 1));
    assert!(!md.readonly);
    assert_eq!(cow.readlink("/lf").unwrap(), "/d/f");
    assert_eq!(cow.readlink("/dir/ln").unwrap(), "../d/f");
    assert_eq!(kind(cow.readlink("/d/f")), K::InvalidInput);
    assert_eq!(kind(cow.readlink("/nope")), K::NotFound);
    assert_eq!(
        kind(cow.open("/l", OpenFlags::read_only().with_nofollow(true))),
        K::Loop
    );
    assert_eq!(
        kind(cow.open("/lf", OpenFlags::write_only().with_create_new(true))),
        K::AlreadyExists
    );
    assert_eq!(
        names(&cow, "/"),
        [
            ("d".to_owned(), FileKind::Directory),
            ("dangling".to_owned(), FileKind::Symlink),
            ("dir".to_owned(), FileKind::Directory),
            ("l".to_owned(), FileKind::Symlink),
            ("lf".to_owned(), FileKind::Symlink),
        ]
    );
    assert_eq!(
        names(&cow, "/dir"),
        [
            ("ln".to_owned(), FileKind::Symlink),
            ("other".to_owned(), FileKind::File),
        ]
    );
}

#[test]
fn reads_follow_the_bases_links() {
    let (_base, cow, fs) = overlay();
    for p in ["/l/f", "/lf", "/dir/ln", "/l/../lf"] {
        assert_eq!(read_to_string(&fs, p).unwrap(), "data", "{p}");
    }
    assert_eq!(fs.stat("/l").unwrap().kind, FileKind::Directory);
    assert_eq!(fs.stat("/lf").unwrap().size, 4);
    assert_eq!(fs.lstat("/l").unwrap().kind, FileKind::Symlink);
    assert_eq!(names(&fs, "/l"), names(&fs, "/d"));
    assert_eq!(kind(fs.stat("/dangling")), K::NotFound);
    assert_eq!(fs.lstat("/dangling").unwrap().kind, FileKind::Symlink);
    assert!(cow.changes().unwrap().is_empty(), "reading changes nothing");
    assert!(cow.upper().readdir("/").unwrap().is_empty());
}

#[test]
fn a_whiteout_or_an_upper_entry_over_a_bases_link_wins() {
    let (base, cow, fs) = overlay();
    cow.remove("/l").unwrap();
    assert_eq!(cow.whiteouts(), ["/l"]);
    assert_eq!(kind(cow.lstat("/l")), K::NotFound);
    assert_eq!(
        cow.stat("/l/f").unwrap_err(),
        FsError::not_found("/l/f"),
        "a deleted link leads nowhere"
    );
    assert_eq!(kind(fs.open("/l/f", OpenFlags::read_only())), K::NotFound);
    // A directory in its place.
    fs.mkdir("/l").unwrap();
    assert!(fs.readdir("/l").unwrap().is_empty());
    write_file(&fs, "/l/f", "mine").unwrap();
    assert_eq!(read_to_string(&fs, "/l/f").unwrap(), "mine");
    assert_eq!(read_to_string(&fs, "/d/f").unwrap(), "data");
    assert_eq!(base.readlink("/l").unwrap(), "d", "the base is untouched");
    // A link of the upper layer over a deleted directory of the base.
    cow.remove("/d/g").unwrap();
    write_file(&fs, "/e", "e").unwrap();
    cow.remove("/dir/ln").unwrap();
    cow.remove("/dir").unwrap();
    cow.symlink("d", "/dir").unwrap();
    assert_eq!(read_to_string(&fs, "/dir/f").unwrap(), "data");
    assert_eq!(kind(fs.stat("/dir/ln")), K::NotFound);
    assert_eq!(
        changes(&cow),
        [
            (
                "/d/g".into(),
                ChangeKind::Deleted,
                Some(FileKind::File),
                None
            ),
            (
                "/dir".into(),
                ChangeKind::Modified,
                Some(FileKind::Directory),
                Some(FileKind::Symlink)
            ),
            (
                "/dir/ln".into(),
                ChangeKind::Deleted,
                Some(FileKind::Symlink),
                None
            ),
            ("/e".into(), ChangeKind::Added, None, Some(FileKind::File)),
            (
                "/l".into(),
                ChangeKind::Modified,
                Some(FileKind::Symlink),
                Some(FileKind::Directory)
            ),
            ("/l/f".into(), ChangeKind::Added, None, Some(FileKind::File)),
        ]
    );
}

#[test]
fn writing_through_a_link_copies_up_its_target_never_the_link() {
    let (base, cow, fs) = overlay();
    // On its own, the overlay reports the link and changes nothing.
    assert_eq!(
        cow.open("/lf", OpenFlags::write_only()).err(),
        Some(link("/d/f", "", "/lf"))
    );
    assert!(cow.upper().readdir("/").unwrap().is_empty());
    write_file(&fs, "/lf", "new").unwrap();
    write_file(&fs, "/l/h", "through a parent").unwrap();
    write_file(&fs, "/dangling", "created at the target").unwrap();
    fs.set_times("/dir/ln", None, Some(Timestamp(7))).unwrap();
    assert_eq!(read_to_string(cow.upper(), "/d/f").unwrap(), "new");
    assert_eq!(
        read_to_string(cow.upper(), "/d/h").unwrap(),
        "through a parent"
    );
    assert_eq!(
        read_to_string(cow.upper(), "/made").unwrap(),
        "created at the target"
    );
    assert_eq!(
        cow.upper().stat("/d/f").unwrap().modified,
        Some(Timestamp(7))
    );
    for l in ["/lf", "/l", "/dangling", "/dir/ln"] {
        assert_eq!(kind(cow.upper().lstat(l)), K::NotFound, "{l} not copied up");
        assert_eq!(cow.lstat(l).unwrap().kind, FileKind::Symlink, "{l}");
    }
    assert_eq!(read_to_string(&base, "/d/f").unwrap(), "data");
    assert_eq!(
        changes(&cow),
        [
            (
                "/d/f".into(),
                ChangeKind::Modified,
                Some(FileKind::File),
                Some(FileKind::File)
            ),
            ("/d/h".into(), ChangeKind::Added, None, Some(FileKind::File)),
            (
                "/made".into(),
                ChangeKind::Added,
                None,
                Some(FileKind::File)
            ),
        ]
    );
}

#[test]
fn links_are_made_and_removed_in_the_upper_layer() {
    let (base, cow, fs) = overlay();
    fs.symlink("g", "/d/lg").unwrap();
    fs.symlink("../d", "/l/up").unwrap();
    assert_eq!(
        kind(base.lstat("/d/lg")),
        K::NotFound,
        "the base is untouched"
    );
    assert_eq!(cow.upper().readlink("/d/lg").unwrap(), "g");
    assert_eq!(cow.upper().readlink("/d/up").unwrap(), "../d");
    assert_eq!(read_to_string(&fs, "/d/lg").unwrap(), "gee");
    assert_eq!(read_to_string(&fs, "/l/up/up/f").unwrap(), "data");
    assert_eq!(kind(fs.symlink("x", "/d/lg")), K::AlreadyExists);
    assert_eq!(kind(fs.symlink("x", "/lf")), K::AlreadyExists);
    assert_eq!(kind(fs.symlink("x", "/nope/l")), K::NotFound);
    assert_eq!(kind(fs.symlink("x", "/d/f/l")), K::NotADirectory);
    assert_eq!(kind(fs.symlink("", "/d/empty")), K::InvalidPath);
    assert_eq!(kind(cow.symlink("x", "/l/new")), K::Symlink);
    assert_eq!(fs.lstat("/d/lg").unwrap().kind, FileKind::Symlink);
    // Removing a link removes the link, never its target.
    fs.remove("/lf").unwrap();
    fs.remove("/d/up").unwrap();
    assert_eq!(kind(fs.remove("/l/")), K::NotADirectory);
    assert_eq!(cow.whiteouts(), ["/lf"]);
    assert_eq!(read_to_string(&fs, "/d/f").unwrap(), "data");
    assert_eq!(kind(cow.upper().lstat("/d/up")), K::NotFound);
    assert_eq!(
        changes(&cow),
        [
            (
                "/d/lg".into(),
                ChangeKind::Added,
                None,
                Some(FileKind::Symlink)
            ),
            (
                "/lf".into(),
                ChangeKind::Deleted,
                Some(FileKind::Symlink),
                None
            ),
        ]
    );
    let added = &cow.changes().unwrap()[0];
    assert_eq!(
        added.after,
        Some(EntryInfo {
            kind: FileKind::Symlink,
            size: 1
        })
    );
    // A link made again where the base had one, with its target: no change.
    fs.symlink("/d/f", "/lf").unwrap();
    fs.remove("/d/lg").unwrap();
    assert!(cow.changes().unwrap().is_empty());
    // Retargeted: a change.
    fs.remove("/lf").unwrap();
    fs.symlink("/d/g", "/lf").unwrap();
    assert_eq!(
        changes(&cow),
        [(
            "/lf".into(),
            ChangeKind::Modified,
            Some(FileKind::Symlink),
            Some(FileKind::Symlink)
        )]
    );
    assert_eq!(read_to_string(&fs, "/lf").unwrap(), "gee");
    assert_eq!(base.readlink("/lf").unwrap(), "/d/f");
}

#[test]
fn the_diff_shows_links_as_their_targets() {
    let (_base, cow, fs) = overlay();
    fs.symlink("g", "/d/lg").unwrap();
    fs.remove("/l").unwrap();
    fs.remove("/lf").unwrap();
    fs.symlink("/d/g", "/lf").unwrap();
    fs.remove("/dangling").unwrap();
    write_file(&fs, "/dangling", "a file now\n").unwrap();
    fs.symlink("two\nlines", "/odd").unwrap();
    let diff = cow.diff().unwrap();
    let want = "\
diff --git a/d/lg b/d/lg
new symlink
--- /dev/null
+++ b/d/lg
@@ -0,0 +1 @@
+symlink -> g
diff --git a/dangling b/dangling
--- a/dangling
+++ b/dangling
@@ -1 +1 @@
-symlink -> made
+a file now
diff --git a/l b/l
deleted symlink
--- a/l
+++ /dev/null
@@ -1 +0,0 @@
-symlink -> d
diff --git a/lf b/lf
--- a/lf
+++ b/lf
@@ -1 +1 @@
-symlink -> /d/f
+symlink -> /d/g
diff --git a/odd b/odd
new symlink
--- /dev/null
+++ b/odd
@@ -0,0 +1 @@
+symlink -> \"two\\nlines\"
";
    assert_eq!(diff, want);
}

#[test]
fn renaming_a_link_moves_the_link() {
    let (base, cow, fs) = overlay();
    // A link of the base is copied up as a link with the same target.
    fs.rename("/lf", "/d/moved").unwrap();
    assert_eq!(fs.readlink("/d/moved").unwrap(), "/d/f");
    assert_eq!(kind(fs.lstat("/lf")), K::NotFound);
    assert_eq!(read_to_string(&fs, "/d/moved").unwrap(), "data");
    assert_eq!(
        cow.upper().lstat("/d/f").err().map(|e| e.kind()),
        Some(K::NotFound),
        "what the link leads to stays in the base"
    );
    // A relative target is kept as it is, so it may now lead elsewhere.
    fs.rename("/l", "/d/l").unwrap();
    assert_eq!(fs.readlink("/d/l").unwrap(), "d");
    assert_eq!(kind(fs.stat("/d/l")), K::NotFound, "/d/d does not exist");
    // A link of the upper layer moves as itself.
    fs.symlink("f", "/d/lf2").unwrap();
    let id = cow.upper().lstat("/d/lf2").unwrap().id;
    fs.rename("/d/lf2", "/lf2").unwrap();
    assert_eq!(cow.upper().lstat("/lf2").unwrap().id, id);
    assert_eq!(fs.readlink("/lf2").unwrap(), "f");
    // A directory of the base with a link in it.
    fs.rename("/dir", "/dir2").unwrap();
    assert_eq!(fs.readlink("/dir2/ln").unwrap(), "../d/f");
    assert_eq!(read_to_string(&fs, "/dir2/ln").unwrap(), "data");
    // Over a link: the link is replaced, never what it leads to.
    write_file(&fs, "/x", "x").unwrap();
    fs.rename("/x", "/dangling").unwrap();
    assert_eq!(fs.lstat("/dangling").unwrap().kind, FileKind::File);
    assert!(!exists(&fs, "/made"));
    // A link named with a trailing slash is not renamed.
    assert_eq!(kind(fs.rename("/d/moved/", "/y")), K::NotADirectory);
    assert_eq!(
        snapshot(&fs),
        BTreeMap::from(
            [
                ("/d", "dir"),
                ("/d/f", "data"),
                ("/d/g", "gee"),
                ("/d/l", "-> d"),
                ("/d/moved", "-> /d/f"),
                ("/dangling", "x"),
                ("/dir2", "dir"),
                ("/dir2/ln", "-> ../d/f"),
                ("/lf2", "-> f"),
            ]
            .map(|(p, s)| (p.to_owned(), s.to_owned()))
        )
    );
    assert_eq!(
        snapshot(&base),
        snapshot(&base_fs()),
        "the base is untouched"
    );
}

#[test]
fn hard_links_share_one_file_of_the_upper_layer() {
    let (base, cow, fs) = overlay();
    fs.link("/d/f", "/hard").unwrap();
    let (a, b) = (fs.stat("/d/f").unwrap(), fs.stat("/hard").unwrap());
    assert_eq!((a.id, a.nlink), (b.id, 2));
    write_file(&fs, "/hard", "both").unwrap();
    assert_eq!(read_to_string(&fs, "/d/f").unwrap(), "both");
    assert_eq!(read_to_string(&base, "/d/f").unwrap(), "data");
    // Through a link in the parents, and of a file made in the overlay.
    fs.link("/l/g", "/l/g2").unwrap();
    write_file(&fs, "/new", "n").unwrap();
    fs.link("/new", "/d/new2").unwrap();
    assert_eq!(fs.stat("/d/new2").unwrap().id, fs.stat("/new").unwrap().id);
    // Removing one name keeps the other.
    fs.remove("/new").unwrap();
    assert_eq!(read_to_string(&fs, "/d/new2").unwrap(), "n");
    assert_eq!(fs.stat("/d/new2").unwrap().nlink, 1);
    // Renaming a name onto another name of the same file changes nothing.
    fs.rename("/hard", "/d/f").unwrap();
    assert_eq!(read_to_string(&fs, "/hard").unwrap(), "both");
    // The contract's refusals, checked before anything changes.
    let before = snapshot(cow.upper());
    assert_eq!(kind(fs.link("/d", "/d3")), K::PermissionDenied);
    assert_eq!(kind(fs.link("/d/f", "/d/g")), K::AlreadyExists);
    assert_eq!(kind(fs.link("/nope", "/x")), K::NotFound);
    assert_eq!(kind(fs.link("/d/f", "/nope/x")), K::NotFound);
    assert_eq!(kind(fs.link("/", "/x")), K::PermissionDenied);
    assert_eq!(snapshot(cow.upper()), before);
    assert_eq!(
        changes(&cow),
        [
            (
                "/d/f".into(),
                ChangeKind::Modified,
                Some(FileKind::File),
                Some(FileKind::File)
            ),
            (
                "/d/g2".into(),
                ChangeKind::Added,
                None,
                Some(FileKind::File)
            ),
            (
                "/d/new2".into(),
                ChangeKind::Added,
                None,
                Some(FileKind::File)
            ),
            (
                "/hard".into(),
                ChangeKind::Added,
                None,
                Some(FileKind::File)
            ),
        ]
    );
}

#[test]
fn a_hard_link_of_the_base_splits_once_one_name_is_copied_up() {
    // The documented limit: copy-up breaks the base's hard links.
    let base = base_fs();
    base.link("/d/f", "/d/f2").unwrap();
    let fs = Follow(CowFs::new(base.clone()));
    assert_eq!(fs.stat("/d/f2").unwrap().id, fs.stat("/d/f").unwrap().id);
    write_file(&fs, "/d/f", "split").unwrap();
    assert_eq!(read_to_string(&fs, "/d/f2").unwrap(), "data");
    assert_eq!(read_to_string(&base, "/d/f2").unwrap(), "data");
    assert_eq!(fs.stat("/d/f").unwrap().nlink, 1);
}

#[test]
fn a_commit_applies_links_to_the_base() {
    let (base, cow, fs) = overlay();
    base.mkdir("/keep").unwrap();
    write_file(&base, "/keep/k", "k").unwrap();
    write_file(&base, "/file", "was a file").unwrap();
    fs.symlink("../d/g", "/keep/lg").unwrap(); // added
    fs.remove("/dangling").unwrap(); // deleted
    fs.remove("/l").unwrap();
    fs.symlink("keep", "/l").unwrap(); // retargeted
    fs.remove("/lf").unwrap();
    write_file(&fs, "/lf", "a file now").unwrap(); // link replaced by a file
    fs.remove("/file").unwrap();
    fs.symlink("d/f", "/file").unwrap(); // file replaced by a link
    fs.rename("/dir/ln", "/keep/ln").unwrap(); // moved
    write_file(&fs, "/d/h", "h").unwrap();
    fs.link("/d/h", "/keep/h2").unwrap(); // two names of one new file
    let shown = snapshot(&cow);
    let report = cow.commit(&base).unwrap();
    assert!(report.leftovers.is_empty());
    assert_eq!(snapshot(&base), shown);
    assert_eq!(base.readlink("/l").unwrap(), "keep");
    assert_eq!(base.readlink("/keep/ln").unwrap(), "../d/f");
    assert_eq!(base.lstat("/lf").unwrap().kind, FileKind::File);
    assert_eq!(read_to_string(&base, "/d/f").unwrap(), "data");
    assert_eq!(read_to_string(&base, "/keep/k").unwrap(), "k");
    let (h, h2) = (base.stat("/d/h").unwrap(), base.stat("/keep/h2").unwrap());
    assert_eq!((h.id, h.nlink), (h2.id, 2), "the hard link is kept");
    // Nothing of the commit's own is left behind.
    assert!(
        snapshot(&base).keys().all(|p| !p.contains(".oanix-")),
        "{:?}",
        snapshot(&base)
    );
    cow.discard();
    assert!(cow.changes().unwrap().is_empty());
    assert_eq!(snapshot(&cow), shown);
}

#[test]
fn a_commit_into_a_namespace_acts_on_the_links_themselves() {
    let (base, cow, fs) = overlay();
    fs.remove("/lf").unwrap();
    write_file(&fs, "/lf", "replaced").unwrap();
    fs.remove("/l").unwrap();
    let ns = Namespace::builder().mount("/", base.clone()).build();
    cow.commit(&ns).unwrap();
    assert_eq!(read_to_string(&base, "/lf").unwrap(), "replaced");
    assert_eq!(read_to_string(&base, "/d/f").unwrap(), "data");
    assert_eq!(kind(base.lstat("/l")), K::NotFound);
    assert_eq!(names(&base, "/d").len(), 2, "the link's target is kept");
}

/// The conflicts of a commit that must not happen.
fn conflicts(r: Result<oanix_prims::CommitReport, CommitError>) -> Vec<String> {
    match r {
        Err(CommitError::Conflicts(c)) => c.into_iter().map(|c| c.path).collect(),
        other => panic!("expected conflicts, got {other:?}"),
    }
}

#[test]
fn a_commit_never_writes_through_a_link_of_the_target() {
    // A file where the base has a link: the link is replaced, its target
    // left alone.
    let base = MemFs::new();
    write_file(&base, "/secret", "s").unwrap();
    base.symlink("/secret", "/l").unwrap();
    let cow = CowFs::new(base.clone());
    cow.remove("/l").unwrap();
    write_file(&cow, "/l", "mine").unwrap();
    cow.commit(&Follow(base.clone())).unwrap();
    assert_eq!(read_to_string(&base, "/secret").unwrap(), "s");
    assert_eq!(base.lstat("/l").unwrap().kind, FileKind::File);
    assert_eq!(read_to_string(&base, "/l").unwrap(), "mine");

    // A link put where the overlay creates a file.
    let base = MemFs::new();
    write_file(&base, "/secret", "s").unwrap();
    let cow = CowFs::new(base.clone());
    write_file(&cow, "/new", "mine").unwrap();
    base.symlink("/secret", "/new").unwrap();
    for target in [&base as &dyn FileService, &Follow(base.clone())] {
        assert_eq!(conflicts(cow.commit(target)), ["/new"]);
        assert_eq!(read_to_string(&base, "/secret").unwrap(), "s");
        assert_eq!(base.readlink("/new").unwrap(), "/secret");
    }

    // A link put in place of a file the overlay modifies.
    let base = MemFs::new();
    write_file(&base, "/secret", "s").unwrap();
    write_file(&base, "/f", "f").unwrap();
    let cow = CowFs::new(base.clone());
    write_file(&cow, "/f", "mine").unwrap();
    base.remove("/f").unwrap();
    base.symlink("/secret", "/f").unwrap();
    assert_eq!(conflicts(cow.commit(&Follow(base.clone()))), ["/f"]);
    assert_eq!(read_to_string(&base, "/secret").unwrap(), "s");

    // A link put in place of a directory the overlay writes in.
    let base = MemFs::new();
    base.mkdir("/victim").unwrap();
    base.mkdir("/w").unwrap();
    write_file(&base, "/w/old", "o").unwrap();
    let cow = CowFs::new(base.clone());
    write_file(&cow, "/w/f", "mine").unwrap();
    write_file(&cow, "/w/old", "changed").unwrap();
    let target = MemFs::new();
    target.mkdir("/victim").unwrap();
    target.symlink("/victim", "/w").unwrap();
    let found = conflicts(cow.commit(&Follow(target.clone())));
    assert!(found.contains(&"/w".to_owned()), "{found:?}");
    assert!(target.readdir("/victim").unwrap().is_empty());
    // The same in the base the overlay read.
    base.remove("/w/old").unwrap();
    base.remove("/w").unwrap();
    base.symlink("/victim", "/w").unwrap();
    let ns = Namespace::builder().mount("/", base.clone()).build();
    assert!(!conflicts(cow.commit(&ns)).is_empty());
    assert!(base.readdir("/victim").unwrap().is_empty());
}

#[test]
fn in_a_namespace_links_of_the_base_resolve_across_mounts() {
    let (base, cow, _fs) = overlay();
    let other = MemFs::new();
    write_file(&other, "/x", "other").unwrap();
    base.symlink("/other/x", "/to_other").unwrap();
    let ns = Namespace::builder()
        .mount("/", cow.clone())
        .mount("/other", other.clone())
        .build();
    assert_eq!(read_to_string(&ns, "/to_other").unwrap(), "other");
    assert_eq!(read_to_string(&ns, "/l/f").unwrap(), "data");
    write_file(&ns, "/to_other", "written").unwrap();
    assert_eq!(read_to_string(&other, "/x").unwrap(), "written");
    write_file(&ns, "/l/f", "through").unwrap();
    assert_eq!(read_to_string(cow.upper(), "/d/f").unwrap(), "through");
    assert_eq!(
        changes(&cow),
        [(
            "/d/f".into(),
            ChangeKind::Modified,
            Some(FileKind::File),
            Some(FileKind::File)
        )]
    );
    // Mounted below the root, a relative target stays in the overlay.
    let ns = Namespace::builder().mount("/w", cow.clone()).build();
    assert_eq!(read_to_string(&ns, "/w/dir/ln").unwrap(), "through");
    assert_eq!(ns.readlink("/w/lf").unwrap(), "/d/f");
    ns.symlink("../d/g", "/w/dir/lg").unwrap();
    assert_eq!(read_to_string(&ns, "/w/dir/lg").unwrap(), "gee");
    assert_eq!(cow.upper().readlink("/dir/lg").unwrap(), "../d/g");
}
