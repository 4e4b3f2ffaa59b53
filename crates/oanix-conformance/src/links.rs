//! The checks of the links part of the contract: symbolic links (made,
//! read, followed in parents and as the last component, relative, absolute
//! and `..` targets, dangling links, loops, `nofollow`, operations on the
//! link itself) and hard links, each run on a fresh, empty service that
//! follows links; the checks that a bare service reports the links it
//! meets instead of following them; and the checks of a service without
//! links.

use oanix_vfs::links::MAX_HOPS;
use oanix_vfs::path::{MAX_NAME_LEN, MAX_PATH_LEN};
use oanix_vfs::{
    FileKind, FileService, FsError, FsErrorKind, Metadata, OpenFlags, Result, Timestamp,
    append_file, remove_all,
};

use crate::check::{Check, LinkSupport};
use crate::tree::{Node, Tree, tree_of};
use crate::writable::{
    assert_content, create_new, expect_kind, malformed_paths, mkdir, names, open, put, rest, short,
    write,
};

/// The checks of a service that keeps symbolic links, then `$extra`.
macro_rules! with_symlink_checks {
    ($($extra:expr),* $(,)?) => {
        &[
            Check::new("symlink_creates_a_link", symlink_creates_a_link),
            Check::new("targets_are_kept_verbatim", targets_are_kept_verbatim),
            Check::new("symlink_errors", symlink_errors),
            Check::new("readlink_errors", readlink_errors),
            Check::new("lstat_describes_the_link_itself", lstat_describes_the_link_itself),
            Check::new("stat_and_open_follow_the_link", stat_and_open_follow_the_link),
            Check::new("links_in_parents_are_followed", links_in_parents_are_followed),
            Check::new(
                "relative_targets_start_at_the_links_directory",
                relative_targets_start_at_the_links_directory,
            ),
            Check::new("absolute_targets_start_at_the_root", absolute_targets_start_at_the_root),
            Check::new(
                "dotdot_in_targets_is_lexical_and_stops_at_the_root",
                dotdot_in_targets_is_lexical_and_stops_at_the_root,
            ),
            Check::new("dangling_links", dangling_links),
            Check::new("loops_end_with_loop", loops_end_with_loop),
            Check::new("chains_of_max_hops_links_are_followed", chains_of_max_hops_links_are_followed),
            Check::new(
                "nofollow_refuses_a_link_as_the_last_component",
                nofollow_refuses_a_link_as_the_last_component,
            ),
            Check::new("create_new_on_a_link_is_already_exists", create_new_on_a_link_is_already_exists),
            Check::new("remove_removes_the_link_not_its_target", remove_removes_the_link_not_its_target),
            Check::new("rename_moves_the_link", rename_moves_the_link),
            Check::new("trailing_slash_on_links", trailing_slash_on_links),
            Check::new(
                "trailing_slash_creates_through_a_dangling_link",
                trailing_slash_creates_through_a_dangling_link,
            ),
            Check::new("mkdir_over_a_link_is_already_exists", mkdir_over_a_link_is_already_exists),
            Check::new("remove_all_does_not_follow_links", remove_all_does_not_follow_links),
            Check::new("set_times_follows_the_link", set_times_follows_the_link),
            Check::new("links_follow_their_targets_changes", links_follow_their_targets_changes),
            Check::new("malformed_paths_in_link_operations", malformed_paths_in_link_operations),
            Check::new("link_error_messages_name_the_path", link_error_messages_name_the_path),
            $($extra),*
        ]
    };
}

/// The checks of a service without links.
pub(crate) const NONE: &[Check] = &[Check::new("links_are_unsupported", links_are_unsupported)];

/// The checks of a service with symbolic links only.
pub(crate) const SYMLINKS: &[Check] = with_symlink_checks![Check::new(
    "hard_links_are_unsupported",
    hard_links_are_unsupported
)];

/// The checks of a service with symbolic and hard links.
pub(crate) const ALL: &[Check] = with_symlink_checks![
    Check::new("hard_links_share_one_file", hard_links_share_one_file),
    Check::new(
        "removing_a_name_keeps_the_file",
        removing_a_name_keeps_the_file
    ),
    Check::new(
        "renaming_a_name_over_another_of_the_same_file",
        renaming_a_name_over_another_of_the_same_file
    ),
    Check::new("hard_link_errors", hard_link_errors),
    Check::new(
        "hard_link_of_a_symlink_links_the_link",
        hard_link_of_a_symlink_links_the_link
    ),
    Check::new(
        "hard_links_through_links_and_trailing_slashes",
        hard_links_through_links_and_trailing_slashes
    ),
    Check::new(
        "malformed_paths_in_hard_links",
        malformed_paths_in_hard_links
    ),
];

pub(crate) fn checks(support: LinkSupport) -> &'static [Check] {
    match support {
        LinkSupport::None => NONE,
        LinkSupport::Symlinks => SYMLINKS,
        LinkSupport::SymlinksAndHardLinks => ALL,
    }
}

/// The checks of a bare service (one that does not follow links): it
/// reports what it meets.
pub(crate) const REPORTS: &[Check] = &[
    Check::new("reports_links_in_parents", reports_links_in_parents),
    Check::new(
        "reports_links_as_the_last_component",
        reports_links_as_the_last_component,
    ),
    Check::new("acts_on_links_itself", acts_on_links_itself),
];

// ---------------------------------------------------------------------------
// Helpers.

fn symlink(fs: &dyn FileService, target: &str, link: &str) {
    if let Err(e) = fs.symlink(target, link) {
        panic!("symlink({target:?}, {link:?}) failed: {e}");
    }
}

fn readlink(fs: &dyn FileService, path: &str) -> String {
    match fs.readlink(path) {
        Ok(t) => t,
        Err(e) => panic!("readlink({path:?}) failed: {e}"),
    }
}

fn stat(fs: &dyn FileService, path: &str) -> Metadata {
    match fs.stat(path) {
        Ok(md) => md,
        Err(e) => panic!("stat({path:?}) failed: {e}"),
    }
}

fn lstat(fs: &dyn FileService, path: &str) -> Metadata {
    match fs.lstat(path) {
        Ok(md) => md,
        Err(e) => panic!("lstat({path:?}) failed: {e}"),
    }
}

fn hard_link(fs: &dyn FileService, from: &str, to: &str) {
    if let Err(e) = fs.link(from, to) {
        panic!("link({from:?}, {to:?}) failed: {e}");
    }
}

/// Asserts that nothing, not even a link, is at `path`.
fn assert_gone(fs: &dyn FileService, path: &str) {
    match fs.lstat(path) {
        Err(e) if e.kind() == FsErrorKind::NotFound => {}
        Err(e) => panic!("lstat({path:?}) of a missing path gave {e}, expected NotFound"),
        Ok(md) => panic!("{path} exists ({:?}) and should not", md.kind),
    }
}

/// A listing as names, kinds and sizes (0 for directories).
fn listing(fs: &dyn FileService, dir: &str) -> Vec<(String, FileKind, u64)> {
    match fs.readdir(dir) {
        Ok(entries) => entries
            .into_iter()
            .map(|e| {
                let size = if e.is_dir() { 0 } else { e.size };
                (e.name, e.kind, size)
            })
            .collect(),
        Err(e) => panic!("readdir({dir:?}) failed: {e}"),
    }
}

fn listed(entries: &[(&str, FileKind, u64)]) -> Vec<(String, FileKind, u64)> {
    entries
        .iter()
        .map(|(n, k, s)| ((*n).to_owned(), *k, *s))
        .collect()
}

/// What a path of an expected tree holds.
enum E {
    D,
    F(&'static str),
    L(&'static str),
}

fn expect(fs: &dyn FileService, entries: &[(&str, E)]) {
    let mut want = Tree::new();
    for (p, e) in entries {
        match e {
            E::D => want.insert(*p, Node::Dir),
            E::F(data) => want.insert(*p, Node::File(data.as_bytes().to_vec())),
            E::L(target) => want.insert_link(*p, *target),
        }
    }
    assert_eq!(tree_of(fs), want, "the tree is not as expected");
}

fn nofollow() -> OpenFlags {
    OpenFlags::read_only().with_nofollow(true)
}

/// A time the services keep exactly (whole seconds).
fn some_time(secs: u64) -> Timestamp {
    Timestamp(secs * 1_000_000_000)
}

// ---------------------------------------------------------------------------
// Making and reading links.

fn symlink_creates_a_link(fs: &dyn FileService) {
    write(fs, "/f", "data");
    mkdir(fs, "/d");
    symlink(fs, "f", "/lf");
    symlink(fs, "d", "/ld");
    symlink(fs, "missing", "/lm");
    for (p, target) in [("/lf", "f"), ("/ld", "d"), ("/lm", "missing")] {
        assert_eq!(readlink(fs, p), target, "readlink({p:?})");
        let md = lstat(fs, p);
        assert_eq!(
            (md.kind, md.size),
            (FileKind::Symlink, target.len() as u64),
            "lstat({p:?}) gives the kind Symlink and the target's length"
        );
    }
    assert_eq!(
        listing(fs, "/"),
        listed(&[
            ("d", FileKind::Directory, 0),
            ("f", FileKind::File, 4),
            ("ld", FileKind::Symlink, 1),
            ("lf", FileKind::Symlink, 1),
            ("lm", FileKind::Symlink, 7),
        ]),
        "listings report links as links, with their targets' lengths"
    );
    expect(
        fs,
        &[
            ("/d", E::D),
            ("/f", E::F("data")),
            ("/ld", E::L("d")),
            ("/lf", E::L("f")),
            ("/lm", E::L("missing")),
        ],
    );
}

fn targets_are_kept_verbatim(fs: &dyn FileService) {
    let long_name = "n".repeat(MAX_NAME_LEN + 1);
    let long_path = "abc/".repeat(250);
    let targets = [
        "a",
        "../x/./y//",
        "/abs/path/",
        "./",
        ".",
        "..",
        "/",
        "with space",
        "é/ü",
        "a//b",
        long_name.as_str(),
        long_path.as_str(),
    ];
    for (i, target) in targets.iter().enumerate() {
        let link = format!("/l{i}");
        symlink(fs, target, &link);
        assert_eq!(readlink(fs, &link), *target, "readlink({link:?})");
        assert_eq!(
            lstat(fs, &link).size,
            target.len() as u64,
            "lstat({link:?}).size is the target's length in bytes"
        );
    }
    let tree = tree_of(fs);
    assert_eq!(tree.len(), targets.len(), "only the links exist: {tree:?}");
}

fn symlink_errors(fs: &dyn FileService) {
    write(fs, "/f", "x");
    mkdir(fs, "/d");
    symlink(fs, "f", "/l");
    symlink(fs, "nowhere", "/dl");
    let before = tree_of(fs);
    for p in ["/f", "/d", "/l", "/dl", "/", "/d/"] {
        err!(fs.symlink("t", p), AlreadyExists);
    }
    for p in ["/m/x", "/m/x/y", "/new/"] {
        err!(fs.symlink("t", p), NotFound);
    }
    err!(fs.symlink("t", "/f/x"), NotADirectory);
    let too_long = "x".repeat(MAX_PATH_LEN + 1);
    for bad in ["", "a\0b", too_long.as_str()] {
        let e = fs.symlink(bad, "/e");
        assert!(
            matches!(&e, Err(e) if e.kind() == FsErrorKind::InvalidPath),
            "symlink({}, \"/e\") gave {e:?}, expected InvalidPath",
            short(bad)
        );
    }
    let mut failures = Vec::new();
    for (bad, want) in malformed_paths() {
        expect_kind(
            &mut failures,
            || format!("symlink(\"t\", {})", short(&bad)),
            fs.symlink("t", &bad),
            want,
        );
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    assert_eq!(tree_of(fs), before, "failed symlinks changed the tree");
}

fn readlink_errors(fs: &dyn FileService) {
    write(fs, "/f", "x");
    mkdir(fs, "/d");
    write(fs, "/d/x", "dx");
    symlink(fs, "d", "/ld");
    symlink(fs, "f", "/lf");
    symlink(fs, "t2", "/d/l2");
    for p in ["/f", "/d", "/", "/d/x"] {
        err!(fs.readlink(p), InvalidInput);
    }
    // A trailing slash follows the link: to a directory, which is no link.
    err!(fs.readlink("/ld/"), InvalidInput);
    // A link in a parent is followed.
    err!(fs.readlink("/ld/x"), InvalidInput);
    assert_eq!(
        readlink(fs, "/ld/l2"),
        "t2",
        "readlink through a linked parent"
    );
    for p in ["/m", "/m/x", "/ld/m"] {
        err!(fs.readlink(p), NotFound);
    }
    for p in ["/f/x", "/f/", "/lf/"] {
        err!(fs.readlink(p), NotADirectory);
    }
    expect(
        fs,
        &[
            ("/d", E::D),
            ("/d/l2", E::L("t2")),
            ("/d/x", E::F("dx")),
            ("/f", E::F("x")),
            ("/ld", E::L("d")),
            ("/lf", E::L("f")),
        ],
    );
}

fn lstat_describes_the_link_itself(fs: &dyn FileService) {
    write(fs, "/f", "12345");
    mkdir(fs, "/d");
    write(fs, "/d/g", "g");
    symlink(fs, "f", "/lf");
    symlink(fs, "d", "/ld");
    symlink(fs, "m", "/lm");
    let (f, lf) = (stat(fs, "/f"), lstat(fs, "/lf"));
    assert_eq!((lf.kind, lf.size), (FileKind::Symlink, 1), "lstat(\"/lf\")");
    assert_eq!(lf.nlink, 1, "a link with one name");
    assert_ne!(lf.id, f.id, "a link has an id of its own");
    assert_ne!(
        lstat(fs, "/ld").id,
        stat(fs, "/d").id,
        "a link has an id of its own"
    );
    let links = ["/lf", "/ld", "/lm"];
    let ids: Vec<u64> = links.iter().map(|p| lstat(fs, p).id).collect();
    for (i, a) in ids.iter().enumerate() {
        for (j, b) in ids.iter().enumerate().skip(i + 1) {
            assert_ne!(a, b, "{} and {} have the same id", links[i], links[j]);
        }
    }
    let again: Vec<u64> = links.iter().map(|p| lstat(fs, p).id).collect();
    assert_eq!(ids, again, "links' ids are stable");
    // What is not a link is described as `stat` describes it.
    for p in ["/f", "/d", "/", "/d/g"] {
        let (l, s) = (lstat(fs, p), stat(fs, p));
        assert_eq!(
            (l.kind, l.size, l.id),
            (s.kind, s.size, s.id),
            "lstat({p:?}) of what is not a link"
        );
    }
    assert_eq!(lstat(fs, "/lm").kind, FileKind::Symlink, "a dangling link");
    // A trailing slash follows; links in parents are followed.
    let md = lstat(fs, "/ld/");
    assert_eq!((md.kind, md.id), (FileKind::Directory, stat(fs, "/d").id));
    err!(fs.lstat("/lf/"), NotADirectory);
    err!(fs.lstat("/lm/"), NotFound);
    let md = lstat(fs, "/ld/g");
    assert_eq!((md.kind, md.id), (FileKind::File, stat(fs, "/d/g").id));
    symlink(fs, "f2", "/d/l2");
    assert_eq!(lstat(fs, "/ld/l2").kind, FileKind::Symlink);
    err!(fs.lstat("/m"), NotFound);
    err!(fs.lstat("/m/x"), NotFound);
    err!(fs.lstat("/f/x"), NotADirectory);
}

// ---------------------------------------------------------------------------
// Following.

fn stat_and_open_follow_the_link(fs: &dyn FileService) {
    write(fs, "/f", "hello");
    mkdir(fs, "/d");
    write(fs, "/d/x", "x");
    symlink(fs, "f", "/lf");
    symlink(fs, "d", "/ld");
    let md = stat(fs, "/lf");
    assert_eq!(
        (md.kind, md.size, md.id),
        (FileKind::File, 5, stat(fs, "/f").id),
        "stat of a link describes its target"
    );
    let md = stat(fs, "/ld");
    assert_eq!((md.kind, md.id), (FileKind::Directory, stat(fs, "/d").id));
    assert_content(fs, "/lf", b"hello");
    write(fs, "/lf", "bye");
    assert_content(fs, "/f", b"bye");
    assert_eq!(readlink(fs, "/lf"), "f", "writing through a link keeps it");
    ok!(append_file(fs, "/lf", "!"));
    assert_content(fs, "/f", b"bye!");
    let h = open(fs, "/lf", OpenFlags::write_only().with_truncate(true));
    assert_eq!(
        ok!(h.stat()).id,
        stat(fs, "/f").id,
        "the handle is the target's"
    );
    drop(h);
    assert_content(fs, "/f", b"");
    let mut h = open(fs, "/lf", OpenFlags::read_write());
    put(&mut h, b"abc");
    assert_content(fs, "/f", b"abc");
    drop(h);
    let mut h = open(fs, "/ld", OpenFlags::directory());
    err!(h.read(&mut [0; 4]), IsADirectory);
    err!(fs.open("/lf", OpenFlags::directory()), NotADirectory);
    err!(fs.open("/ld", OpenFlags::write_only()), IsADirectory);
    assert_eq!(listing(fs, "/ld"), listing(fs, "/d"), "readdir follows");
    expect(
        fs,
        &[
            ("/d", E::D),
            ("/d/x", E::F("x")),
            ("/f", E::F("abc")),
            ("/ld", E::L("d")),
            ("/lf", E::L("f")),
        ],
    );
}

fn links_in_parents_are_followed(fs: &dyn FileService) {
    mkdir(fs, "/d");
    write(fs, "/d/x", "x");
    symlink(fs, "d", "/l");
    let md = stat(fs, "/l/x");
    assert_eq!((md.kind, md.size), (FileKind::File, 1));
    assert_content(fs, "/l/x", b"x");
    write(fs, "/l/new", "n");
    mkdir(fs, "/l/sub");
    assert_eq!(names(fs, "/l"), ["new", "sub", "x"]);
    assert_eq!(names(fs, "/d"), ["new", "sub", "x"]);
    // The new link is in /d: its relative target starts there.
    symlink(fs, "x", "/l/lx");
    assert_eq!(readlink(fs, "/l/lx"), "x");
    assert_content(fs, "/l/lx", b"x");
    ok!(fs.rename("/l/new", "/l/sub/new"));
    ok!(fs.rename("/l/sub/new", "/top"));
    ok!(fs.rename("/top", "/l/back"));
    ok!(fs.remove("/l/back"));
    assert_eq!(lstat(fs, "/l/sub").kind, FileKind::Directory);
    drop(open(fs, "/l/x", nofollow()));
    // Deeper, and through two links.
    mkdir(fs, "/a");
    mkdir(fs, "/a/b");
    symlink(fs, "../../d", "/a/b/up");
    assert_content(fs, "/a/b/up/x", b"x");
    symlink(fs, "/l", "/l2");
    assert_content(fs, "/l2/x", b"x");
    assert_content(fs, "/l2/lx", b"x");
    expect(
        fs,
        &[
            ("/a", E::D),
            ("/a/b", E::D),
            ("/a/b/up", E::L("../../d")),
            ("/d", E::D),
            ("/d/lx", E::L("x")),
            ("/d/sub", E::D),
            ("/d/x", E::F("x")),
            ("/l", E::L("d")),
            ("/l2", E::L("/l")),
        ],
    );
}

fn relative_targets_start_at_the_links_directory(fs: &dyn FileService) {
    mkdir(fs, "/a");
    mkdir(fs, "/a/b");
    write(fs, "/a/b/c", "abc");
    write(fs, "/a/c", "ac");
    write(fs, "/c", "c");
    for (target, link, want) in [
        ("c", "/a/b/l1", "abc"),
        ("../c", "/a/b/l2", "ac"),
        ("./c", "/a/b/l3", "abc"),
        ("../../c", "/a/b/l4", "c"),
        ("b/c", "/a/l5", "abc"),
        ("a/b/c", "/l6", "abc"),
        ("c", "/a/l7", "ac"),
    ] {
        symlink(fs, target, link);
        assert_content(fs, link, want.as_bytes());
    }
    // The target is text: moved elsewhere, the link leads elsewhere.
    ok!(fs.rename("/a/b/l1", "/a/l1"));
    assert_content(fs, "/a/l1", b"ac");
    ok!(fs.rename("/a/l1", "/l1"));
    assert_content(fs, "/l1", b"c");
}

fn absolute_targets_start_at_the_root(fs: &dyn FileService) {
    mkdir(fs, "/a");
    mkdir(fs, "/a/b");
    write(fs, "/a/b/f", "deep");
    write(fs, "/f", "top");
    symlink(fs, "/f", "/a/b/l1");
    assert_content(fs, "/a/b/l1", b"top");
    symlink(fs, "/a/b/f", "/a/l2");
    assert_content(fs, "/a/l2", b"deep");
    symlink(fs, "/a/b", "/ab");
    assert_content(fs, "/ab/f", b"deep");
    symlink(fs, "//a///b/./f", "/odd");
    assert_content(fs, "/odd", b"deep");
    symlink(fs, "/", "/a/root");
    let md = stat(fs, "/a/root");
    assert_eq!((md.kind, md.id), (FileKind::Directory, stat(fs, "/").id));
    assert_eq!(names(fs, "/a/root"), names(fs, "/"));
}

fn dotdot_in_targets_is_lexical_and_stops_at_the_root(fs: &dyn FileService) {
    mkdir(fs, "/a");
    write(fs, "/a/x", "ax");
    write(fs, "/x", "root x");
    mkdir(fs, "/elsewhere");
    mkdir(fs, "/elsewhere/deep");
    symlink(fs, "/elsewhere/deep", "/a/sub");
    // `sub/..` is `.`, whatever `sub` leads to.
    symlink(fs, "sub/../x", "/a/l");
    assert_content(fs, "/a/l", b"ax");
    symlink(fs, "sub/..", "/a/here");
    assert_eq!(stat(fs, "/a/here").id, stat(fs, "/a").id);
    // Never above the root.
    symlink(fs, "../../../../x", "/a/high");
    assert_content(fs, "/a/high", b"root x");
    symlink(fs, "/../../x", "/abs_high");
    assert_content(fs, "/abs_high", b"root x");
    symlink(fs, "..", "/a/up");
    assert_eq!(names(fs, "/a/up"), names(fs, "/"));
    symlink(fs, "../..", "/a/upup");
    assert_eq!(stat(fs, "/a/upup").id, stat(fs, "/").id);
}

fn dangling_links(fs: &dyn FileService) {
    symlink(fs, "missing", "/l");
    assert_eq!(lstat(fs, "/l").kind, FileKind::Symlink);
    err!(fs.stat("/l"), NotFound);
    err!(fs.open("/l", OpenFlags::read_only()), NotFound);
    err!(fs.open("/l", OpenFlags::write_only()), NotFound);
    err!(fs.open("/l", OpenFlags::directory()), NotFound);
    err!(fs.readdir("/l"), NotFound);
    expect(fs, &[("/l", E::L("missing"))]);
    // Creating through a dangling link creates its target.
    write(fs, "/l", "made");
    assert_content(fs, "/missing", b"made");
    assert_eq!(readlink(fs, "/l"), "missing");
    assert_eq!(stat(fs, "/l").size, 4);
    // ...where the target's parent exists, as a path would.
    symlink(fs, "nodir/f", "/l2");
    err!(fs.open("/l2", OpenFlags::create_truncate()), NotFound);
    symlink(fs, "newdir/", "/l3");
    err!(fs.open("/l3", OpenFlags::create_truncate()), IsADirectory);
    write(fs, "/file", "f");
    symlink(fs, "file/x", "/l4");
    err!(fs.open("/l4", OpenFlags::append_create()), NotADirectory);
    ok!(fs.remove("/missing"));
    err!(fs.stat("/l"), NotFound);
    ok!(append_file(fs, "/l", "x"));
    expect(
        fs,
        &[
            ("/file", E::F("f")),
            ("/l", E::L("missing")),
            ("/l2", E::L("nodir/f")),
            ("/l3", E::L("newdir/")),
            ("/l4", E::L("file/x")),
            ("/missing", E::F("x")),
        ],
    );
}

fn loops_end_with_loop(fs: &dyn FileService) {
    symlink(fs, "l2", "/l1");
    symlink(fs, "l1", "/l2");
    symlink(fs, "self", "/self");
    symlink(fs, "s/x", "/s");
    for p in ["/l1", "/l2", "/self", "/s", "/l1/x", "/self/x/y"] {
        err!(fs.stat(p), Loop);
        err!(fs.open(p, OpenFlags::read_only()), Loop);
        err!(fs.open(p, OpenFlags::create_truncate()), Loop);
        err!(fs.readdir(p), Loop);
    }
    for p in ["/l1/x", "/self/x"] {
        err!(fs.mkdir(p), Loop);
        err!(fs.symlink("t", p), Loop);
        err!(fs.remove(p), Loop);
        err!(fs.readlink(p), Loop);
        err!(fs.lstat(p), Loop);
        err!(fs.rename(p, "/y"), Loop);
        err!(fs.rename("/l1", p), Loop);
    }
    assert_eq!(lstat(fs, "/l1").kind, FileKind::Symlink);
    assert_eq!(readlink(fs, "/l1"), "l2");
    err!(fs.mkdir("/l1"), AlreadyExists);
    ok!(fs.remove("/self"));
    expect(
        fs,
        &[
            ("/l1", E::L("l2")),
            ("/l2", E::L("l1")),
            ("/s", E::L("s/x")),
        ],
    );
}

fn chains_of_max_hops_links_are_followed(fs: &dyn FileService) {
    write(fs, "/f", "end");
    let mut prev = "f".to_owned();
    for i in 1..=MAX_HOPS {
        let name = format!("c{i:02}");
        symlink(fs, &prev, &format!("/{name}"));
        prev = name;
    }
    let last = format!("/{prev}");
    assert_content(fs, &last, b"end");
    assert_eq!(stat(fs, &last).size, 3, "{MAX_HOPS} links are followed");
    symlink(fs, &prev, "/over");
    err!(fs.stat("/over"), Loop);
    err!(fs.open("/over", OpenFlags::read_only()), Loop);
    assert_eq!(lstat(fs, "/over").kind, FileKind::Symlink);
    // Links in parents count the same.
    mkdir(fs, "/d");
    write(fs, "/d/x", "dx");
    let mut prev = "d".to_owned();
    for i in 1..=MAX_HOPS {
        let name = format!("p{i:02}");
        symlink(fs, &prev, &format!("/{name}"));
        prev = name;
    }
    assert_content(fs, &format!("/{prev}/x"), b"dx");
    symlink(fs, &prev, "/pover");
    err!(fs.stat("/pover/x"), Loop);
}

fn nofollow_refuses_a_link_as_the_last_component(fs: &dyn FileService) {
    write(fs, "/f", "x");
    mkdir(fs, "/d");
    write(fs, "/d/y", "y");
    symlink(fs, "f", "/lf");
    symlink(fs, "d", "/ld");
    symlink(fs, "m", "/lm");
    for p in ["/lf", "/ld", "/lm"] {
        for flags in [
            nofollow(),
            OpenFlags::write_only().with_nofollow(true),
            OpenFlags::create_truncate().with_nofollow(true),
            OpenFlags::append_create().with_nofollow(true),
            OpenFlags::directory().with_nofollow(true),
        ] {
            match fs.open(p, flags) {
                Err(e) if e.kind() == FsErrorKind::Loop => {}
                Err(e) => panic!("open({p:?}, {flags:?}) gave {e}, expected Loop"),
                Ok(_) => panic!("open({p:?}, {flags:?}) succeeded, expected Loop"),
            }
        }
    }
    let mut h = open(fs, "/f", nofollow());
    assert_eq!(
        rest(&mut h),
        b"x",
        "nofollow of what is not a link opens it"
    );
    drop(open(fs, "/d", nofollow()));
    let mut h = open(fs, "/ld/y", nofollow());
    assert_eq!(rest(&mut h), b"y", "links in parents are followed");
    drop(open(fs, "/ld/", nofollow()));
    drop(open(
        fs,
        "/new",
        OpenFlags::create_truncate().with_nofollow(true),
    ));
    expect(
        fs,
        &[
            ("/d", E::D),
            ("/d/y", E::F("y")),
            ("/f", E::F("x")),
            ("/ld", E::L("d")),
            ("/lf", E::L("f")),
            ("/lm", E::L("m")),
            ("/new", E::F("")),
        ],
    );
}

fn create_new_on_a_link_is_already_exists(fs: &dyn FileService) {
    write(fs, "/f", "keep");
    mkdir(fs, "/d");
    symlink(fs, "f", "/lf");
    symlink(fs, "d", "/ld");
    symlink(fs, "m", "/lm");
    for p in ["/lf", "/ld", "/lm"] {
        err!(fs.open(p, create_new()), AlreadyExists);
        err!(fs.open(p, create_new().with_truncate(true)), AlreadyExists);
        err!(fs.open(p, create_new().with_read(true)), AlreadyExists);
    }
    let mut h = open(fs, "/ld/new", create_new());
    put(&mut h, b"n");
    drop(h);
    expect(
        fs,
        &[
            ("/d", E::D),
            ("/d/new", E::F("n")),
            ("/f", E::F("keep")),
            ("/ld", E::L("d")),
            ("/lf", E::L("f")),
            ("/lm", E::L("m")),
        ],
    );
}

// ---------------------------------------------------------------------------
// Operations on the link itself.

fn remove_removes_the_link_not_its_target(fs: &dyn FileService) {
    write(fs, "/f", "x");
    mkdir(fs, "/d");
    write(fs, "/d/y", "y");
    symlink(fs, "f", "/lf");
    symlink(fs, "d", "/ld");
    symlink(fs, "m", "/lm");
    symlink(fs, "/d", "/abs");
    for p in ["/lf", "/ld", "/lm", "/abs"] {
        ok!(fs.remove(p));
        assert_gone(fs, p);
    }
    expect(fs, &[("/d", E::D), ("/d/y", E::F("y")), ("/f", E::F("x"))]);
    symlink(fs, "d", "/ld");
    ok!(fs.remove("/ld/y"));
    expect(fs, &[("/d", E::D), ("/f", E::F("x")), ("/ld", E::L("d"))]);
}

fn rename_moves_the_link(fs: &dyn FileService) {
    write(fs, "/f", "f");
    mkdir(fs, "/d");
    write(fs, "/d/f", "df");
    symlink(fs, "f", "/l");
    let id = lstat(fs, "/l").id;
    ok!(fs.rename("/l", "/m"));
    assert_gone(fs, "/l");
    assert_eq!(readlink(fs, "/m"), "f");
    assert_eq!(lstat(fs, "/m").id, id, "a renamed link keeps its id");
    assert_content(fs, "/m", b"f");
    ok!(fs.rename("/m", "/d/m"));
    assert_content(fs, "/d/m", b"df");
    // A file over a link replaces the link, not its target.
    write(fs, "/g", "g");
    ok!(fs.rename("/g", "/d/m"));
    assert_eq!(lstat(fs, "/d/m").kind, FileKind::File);
    assert_content(fs, "/d/f", b"df");
    // A link over a file replaces the file.
    symlink(fs, "f", "/l2");
    write(fs, "/h", "h");
    ok!(fs.rename("/l2", "/h"));
    assert_eq!(readlink(fs, "/h"), "f");
    // A link is no directory, whatever it leads to.
    mkdir(fs, "/e");
    symlink(fs, "d", "/ld");
    err!(fs.rename("/ld", "/e"), IsADirectory);
    err!(fs.rename("/e", "/ld"), NotADirectory);
    ok!(fs.rename("/ld", "/ld"));
    expect(
        fs,
        &[
            ("/d", E::D),
            ("/d/f", E::F("df")),
            ("/d/m", E::F("g")),
            ("/e", E::D),
            ("/f", E::F("f")),
            ("/h", E::L("f")),
            ("/ld", E::L("d")),
        ],
    );
}

fn trailing_slash_on_links(fs: &dyn FileService) {
    mkdir(fs, "/d");
    write(fs, "/d/x", "x");
    write(fs, "/f", "f");
    symlink(fs, "d", "/ld");
    symlink(fs, "f", "/lf");
    symlink(fs, "m", "/lm");
    let before = tree_of(fs);
    // A link to a directory, written with a trailing slash, is followed.
    assert!(stat(fs, "/ld/").is_dir());
    assert_eq!(names(fs, "/ld/"), ["x"]);
    drop(open(fs, "/ld/", OpenFlags::read_only()));
    drop(open(fs, "/ld/.", OpenFlags::directory()));
    assert!(lstat(fs, "/ld/").is_dir(), "lstat follows a trailing slash");
    // To a file, it fails as the file would.
    err!(fs.stat("/lf/"), NotADirectory);
    err!(fs.lstat("/lf/"), NotADirectory);
    err!(fs.readdir("/lf/"), NotADirectory);
    err!(fs.open("/lf/", OpenFlags::read_only()), NotADirectory);
    err!(fs.open("/lf/", OpenFlags::create_truncate()), NotADirectory);
    for p in ["/lm/", "/lm/."] {
        err!(fs.stat(p), NotFound);
        err!(fs.lstat(p), NotFound);
        err!(fs.readdir(p), NotFound);
        err!(fs.open(p, OpenFlags::read_only()), NotFound);
    }
    // remove and rename of a link so written: NotADirectory, as Linux.
    for p in ["/ld/", "/lf/", "/lm/"] {
        err!(fs.remove(p), NotADirectory);
        err!(fs.rename(p, "/n"), NotADirectory);
    }
    // Creating at an existing path.
    err!(fs.mkdir("/ld/"), AlreadyExists);
    err!(fs.mkdir("/lf/"), AlreadyExists);
    err!(fs.symlink("t", "/ld/"), AlreadyExists);
    err!(fs.open("/ld/", create_new()), AlreadyExists);
    assert_eq!(tree_of(fs), before, "nothing changed");
}

fn trailing_slash_creates_through_a_dangling_link(fs: &dyn FileService) {
    // "Any operation but remove and rename on a path written with a
    // trailing `/`" follows the link: what it leads to is missing, and is
    // created (mkdir) or refused as a missing path with a trailing `/` is.
    symlink(fs, "m1", "/l1");
    symlink(fs, "m2", "/l2");
    symlink(fs, "m3", "/l3");
    let mut failures = Vec::new();
    let f = &mut failures;
    match fs.mkdir("/l1/") {
        Ok(()) if fs.stat("/m1").is_ok_and(|md| md.is_dir()) => {}
        Ok(()) => f.push("mkdir(\"/l1/\") succeeded but made no directory /m1".to_owned()),
        Err(e) => f.push(format!("mkdir(\"/l1/\") gave {e}, expected to make /m1")),
    }
    let (not_found, is_dir) = (FsErrorKind::NotFound, FsErrorKind::IsADirectory);
    expect_kind(
        f,
        || "symlink(\"t\", \"/l2/\")".into(),
        fs.symlink("t", "/l2/"),
        not_found,
    );
    expect_kind(
        f,
        || "open(\"/l3/\", create_new)".into(),
        fs.open("/l3/", create_new()),
        is_dir,
    );
    let create = OpenFlags::create_truncate();
    expect_kind(
        f,
        || "open(\"/l3/\", create)".into(),
        fs.open("/l3/", create),
        is_dir,
    );
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    expect(
        fs,
        &[
            ("/l1", E::L("m1")),
            ("/l2", E::L("m2")),
            ("/l3", E::L("m3")),
            ("/m1", E::D),
        ],
    );
}

fn mkdir_over_a_link_is_already_exists(fs: &dyn FileService) {
    write(fs, "/f", "f");
    mkdir(fs, "/d");
    symlink(fs, "f", "/lf");
    symlink(fs, "d", "/ld");
    symlink(fs, "m", "/lm");
    for p in ["/lf", "/ld", "/lm"] {
        err!(fs.mkdir(p), AlreadyExists);
    }
    mkdir(fs, "/ld/sub");
    expect(
        fs,
        &[
            ("/d", E::D),
            ("/d/sub", E::D),
            ("/f", E::F("f")),
            ("/ld", E::L("d")),
            ("/lf", E::L("f")),
            ("/lm", E::L("m")),
        ],
    );
}

fn remove_all_does_not_follow_links(fs: &dyn FileService) {
    mkdir(fs, "/keep");
    write(fs, "/keep/y", "y");
    mkdir(fs, "/d");
    write(fs, "/d/x", "x");
    symlink(fs, "/keep", "/d/lk");
    symlink(fs, "../keep/y", "/d/ly");
    symlink(fs, "/keep", "/lk");
    ok!(remove_all(fs, "/d"));
    assert_gone(fs, "/d");
    ok!(remove_all(fs, "/lk"));
    expect(fs, &[("/keep", E::D), ("/keep/y", E::F("y"))]);
}

fn set_times_follows_the_link(fs: &dyn FileService) {
    write(fs, "/f", "f");
    symlink(fs, "f", "/l");
    symlink(fs, "m", "/lm");
    match fs.set_times("/f", None, Some(some_time(1_600_000_000))) {
        Err(e) if e.kind() == FsErrorKind::Unsupported => {
            err!(
                fs.set_times("/l", None, Some(some_time(1_600_000_000))),
                Unsupported
            );
            return;
        }
        Err(e) => panic!("set_times(\"/f\") failed: {e}"),
        Ok(()) => {}
    }
    let t = some_time(1_700_000_000);
    ok!(fs.set_times("/l", None, Some(t)));
    assert_eq!(
        stat(fs, "/f").modified,
        Some(t),
        "set_times through a link sets the target's times"
    );
    err!(fs.set_times("/lm", None, Some(t)), NotFound);
}

fn links_follow_their_targets_changes(fs: &dyn FileService) {
    write(fs, "/f", "one");
    symlink(fs, "f", "/l");
    assert_content(fs, "/l", b"one");
    write(fs, "/f", "two");
    assert_content(fs, "/l", b"two");
    ok!(fs.remove("/f"));
    err!(fs.stat("/l"), NotFound);
    mkdir(fs, "/f");
    assert!(stat(fs, "/l").is_dir());
    assert!(names(fs, "/l").is_empty());
    ok!(fs.remove("/f"));
    write(fs, "/g", "three");
    ok!(fs.rename("/g", "/f"));
    assert_content(fs, "/l", b"three");
    expect(fs, &[("/f", E::F("three")), ("/l", E::L("f"))]);
}

fn malformed_paths_in_link_operations(fs: &dyn FileService) {
    write(fs, "/f", "f");
    mkdir(fs, "/d");
    symlink(fs, "f", "/l");
    let before = tree_of(fs);
    let mut failures = Vec::new();
    let f = &mut failures;
    for (bad, want) in malformed_paths() {
        let p = short(&bad);
        expect_kind(
            f,
            || format!("symlink(\"f\", {p})"),
            fs.symlink("f", &bad),
            want,
        );
        expect_kind(f, || format!("readlink({p})"), fs.readlink(&bad), want);
        expect_kind(f, || format!("lstat({p})"), fs.lstat(&bad), want);
        expect_kind(
            f,
            || format!("open({p}, nofollow)"),
            fs.open(&bad, nofollow()),
            want,
        );
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    assert_eq!(tree_of(fs), before);
}

fn link_error_messages_name_the_path(fs: &dyn FileService) {
    let names_path = |e: FsError, path: &str| {
        let msg = e.to_string();
        assert!(
            msg.contains(path),
            "the message `{msg}` does not name {path}"
        );
    };
    symlink(fs, "l2", "/l1");
    symlink(fs, "l1", "/l2");
    write(fs, "/f", "f");
    names_path(err!(fs.stat("/l1"), Loop), "/l1");
    names_path(err!(fs.open("/l1", nofollow()), Loop), "/l1");
    names_path(err!(fs.symlink("x", "/l1"), AlreadyExists), "/l1");
    names_path(err!(fs.readlink("/f"), InvalidInput), "/f");
    names_path(err!(fs.lstat("/nope"), NotFound), "/nope");
}

// ---------------------------------------------------------------------------
// Hard links.

fn hard_links_share_one_file(fs: &dyn FileService) {
    write(fs, "/f", "one");
    hard_link(fs, "/f", "/g");
    let (f, g) = (stat(fs, "/f"), stat(fs, "/g"));
    assert_eq!(f.id, g.id, "both names are one file");
    assert_eq!((f.nlink, g.nlink), (2, 2), "nlink counts the names");
    let l = lstat(fs, "/g");
    assert_eq!((l.kind, l.id, l.nlink), (FileKind::File, f.id, 2));
    assert_content(fs, "/g", b"one");
    write(fs, "/g", "two");
    assert_content(fs, "/f", b"two");
    ok!(append_file(fs, "/f", "!"));
    assert_content(fs, "/g", b"two!");
    let mut h = open(fs, "/f", OpenFlags::read_write());
    assert_eq!(ok!(h.write_at(b"T", 0)), 1);
    drop(h);
    assert_content(fs, "/g", b"Two!");
    assert_eq!(
        listing(fs, "/"),
        listed(&[("f", FileKind::File, 4), ("g", FileKind::File, 4)])
    );
    mkdir(fs, "/d");
    hard_link(fs, "/g", "/d/h");
    for p in ["/f", "/g", "/d/h"] {
        let md = stat(fs, p);
        assert_eq!(
            (md.id, md.nlink),
            (f.id, 3),
            "stat({p:?}) after a third name"
        );
    }
    let mut h = open(fs, "/d/h", OpenFlags::write_only());
    ok!(h.set_len(2));
    drop(h);
    assert_eq!(stat(fs, "/f").size, 2);
    expect(
        fs,
        &[
            ("/d", E::D),
            ("/d/h", E::F("Tw")),
            ("/f", E::F("Tw")),
            ("/g", E::F("Tw")),
        ],
    );
}

fn removing_a_name_keeps_the_file(fs: &dyn FileService) {
    write(fs, "/f", "data");
    hard_link(fs, "/f", "/g");
    ok!(fs.remove("/f"));
    assert_gone(fs, "/f");
    assert_eq!(stat(fs, "/g").nlink, 1);
    assert_content(fs, "/g", b"data");
    write(fs, "/f", "new");
    assert_ne!(
        stat(fs, "/f").id,
        stat(fs, "/g").id,
        "a new file, not a name"
    );
    assert_eq!((stat(fs, "/f").nlink, stat(fs, "/g").nlink), (1, 1));
    // A handle outlives the last name.
    let mut h = open(fs, "/g", OpenFlags::read_only());
    ok!(fs.remove("/g"));
    assert_eq!(rest(&mut h), b"data");
    // Replacing a name by rename takes one name away.
    hard_link(fs, "/f", "/k");
    write(fs, "/other", "other");
    ok!(fs.rename("/other", "/k"));
    assert_eq!(stat(fs, "/f").nlink, 1);
    expect(fs, &[("/f", E::F("new")), ("/k", E::F("other"))]);
}

fn renaming_a_name_over_another_of_the_same_file(fs: &dyn FileService) {
    // POSIX rename(2): two names of one file are left as they are.
    write(fs, "/f", "x");
    hard_link(fs, "/f", "/g");
    ok!(fs.rename("/f", "/g"));
    assert_eq!((stat(fs, "/f").nlink, stat(fs, "/g").nlink), (2, 2));
    // Two names of one symbolic link, the same.
    symlink(fs, "f", "/l");
    hard_link(fs, "/l", "/l2");
    ok!(fs.rename("/l", "/l2"));
    expect(
        fs,
        &[
            ("/f", E::F("x")),
            ("/g", E::F("x")),
            ("/l", E::L("f")),
            ("/l2", E::L("f")),
        ],
    );
}

fn hard_link_errors(fs: &dyn FileService) {
    write(fs, "/f", "f");
    mkdir(fs, "/d");
    write(fs, "/d/x", "x");
    symlink(fs, "f", "/l");
    let before = tree_of(fs);
    for (from, to) in [("/d", "/new"), ("/", "/new"), ("/d", "/f")] {
        err!(fs.link(from, to), PermissionDenied);
    }
    for to in ["/d", "/l", "/f", "/d/x", "/"] {
        err!(fs.link("/f", to), AlreadyExists);
    }
    for (from, to) in [
        ("/m", "/new"),
        ("/m/x", "/new"),
        ("/f", "/m/new"),
        ("/m", "/f"),
    ] {
        err!(fs.link(from, to), NotFound);
    }
    for (from, to) in [("/f/x", "/new"), ("/f", "/f/new")] {
        err!(fs.link(from, to), NotADirectory);
    }
    assert_eq!(tree_of(fs), before, "failed links changed the tree");
    assert_eq!(stat(fs, "/f").nlink, 1);
}

fn hard_link_of_a_symlink_links_the_link(fs: &dyn FileService) {
    write(fs, "/f", "f");
    symlink(fs, "f", "/l");
    hard_link(fs, "/l", "/l2");
    assert_eq!(readlink(fs, "/l2"), "f");
    let (a, b) = (lstat(fs, "/l"), lstat(fs, "/l2"));
    assert_eq!(
        (b.kind, b.id),
        (FileKind::Symlink, a.id),
        "one link, two names"
    );
    assert_eq!((a.nlink, b.nlink), (2, 2), "nlink counts the link's names");
    assert_eq!(stat(fs, "/f").nlink, 1, "the target gets no name");
    symlink(fs, "m", "/lm");
    hard_link(fs, "/lm", "/lm2");
    assert_eq!(readlink(fs, "/lm2"), "m", "a dangling link is linked too");
    ok!(fs.remove("/l"));
    assert_eq!(lstat(fs, "/l2").nlink, 1);
    expect(
        fs,
        &[
            ("/f", E::F("f")),
            ("/l2", E::L("f")),
            ("/lm", E::L("m")),
            ("/lm2", E::L("m")),
        ],
    );
}

fn hard_links_through_links_and_trailing_slashes(fs: &dyn FileService) {
    mkdir(fs, "/d");
    write(fs, "/d/x", "x");
    write(fs, "/f", "f");
    symlink(fs, "d", "/ld");
    symlink(fs, "d/x", "/lx");
    symlink(fs, "m", "/lm");
    hard_link(fs, "/ld/x", "/ld/y");
    assert_eq!(stat(fs, "/d/y").id, stat(fs, "/d/x").id);
    let before = tree_of(fs);
    // A trailing slash follows the link (link is neither remove nor rename).
    let mut failures = Vec::new();
    for (from, to, want) in [
        ("/ld/", "/z", FsErrorKind::PermissionDenied),
        ("/lx/", "/z", FsErrorKind::NotADirectory),
        ("/f", "/lm/", FsErrorKind::NotFound),
        ("/f", "/ld/", FsErrorKind::AlreadyExists),
    ] {
        expect_kind(
            &mut failures,
            || format!("link({from:?}, {to:?})"),
            fs.link(from, to),
            want,
        );
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    assert_eq!(tree_of(fs), before);
}

fn malformed_paths_in_hard_links(fs: &dyn FileService) {
    write(fs, "/f", "f");
    let before = tree_of(fs);
    let mut failures = Vec::new();
    for (bad, want) in malformed_paths() {
        for (from, to) in [(bad.as_str(), "/new"), ("/f", bad.as_str()), (&bad, &bad)] {
            expect_kind(
                &mut failures,
                || format!("link({}, {})", short(from), short(to)),
                fs.link(from, to),
                want,
            );
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    assert_eq!(tree_of(fs), before);
}

fn hard_links_are_unsupported(fs: &dyn FileService) {
    write(fs, "/f", "f");
    mkdir(fs, "/d");
    symlink(fs, "f", "/l");
    let before = tree_of(fs);
    for (from, to) in [
        ("/f", "/new"),
        ("/f", "/d"),
        ("/m", "/new"),
        ("/d", "/new"),
        ("/l", "/new"),
    ] {
        err!(fs.link(from, to), Unsupported);
    }
    assert_eq!(tree_of(fs), before);
}

// ---------------------------------------------------------------------------
// A service without links.

fn links_are_unsupported(fs: &dyn FileService) {
    write(fs, "/f", "f");
    mkdir(fs, "/d");
    let before = tree_of(fs);
    err!(fs.symlink("f", "/l"), Unsupported);
    err!(fs.symlink("f", "/f"), Unsupported);
    err!(fs.link("/f", "/g"), Unsupported);
    err!(fs.link("/m", "/g"), Unsupported);
    for p in ["/f", "/d", "/"] {
        err!(fs.readlink(p), InvalidInput);
        let (l, s) = (lstat(fs, p), stat(fs, p));
        assert_eq!(
            (l.kind, l.size, l.id),
            (s.kind, s.size, s.id),
            "lstat({p:?})"
        );
    }
    err!(fs.readlink("/m"), NotFound);
    err!(fs.lstat("/m"), NotFound);
    let mut h = open(fs, "/f", nofollow());
    assert_eq!(rest(&mut h), b"f", "nofollow without links is a plain open");
    assert!(
        listing(fs, "/")
            .iter()
            .all(|(_, k, _)| *k != FileKind::Symlink),
        "nothing lists as a link"
    );
    assert_eq!(tree_of(fs), before);
}

// ---------------------------------------------------------------------------
// A bare service reports links.

/// Whether `result` is the report of the link at `link` holding `target`,
/// with `rest` after it; what went wrong if not.
fn reported<T>(
    what: &str,
    result: Result<T>,
    link: &str,
    target: &str,
    rest: &str,
) -> Option<String> {
    let want = FsError::Symlink {
        path: link.to_owned(),
        target: target.to_owned(),
        rest: rest.to_owned(),
    };
    match result {
        Err(e) if e == want => None,
        Err(e) => Some(format!("{what} gave {e:?}, expected {want:?}")),
        Ok(_) => Some(format!(
            "{what} succeeded (followed the link?), expected {want:?}"
        )),
    }
}

fn reports_links_in_parents(fs: &dyn FileService) {
    let mut failures: Vec<String> = Vec::new();
    mkdir(fs, "/d");
    write(fs, "/d/x", "x");
    symlink(fs, "d", "/l");
    symlink(fs, "../d", "/d/up");
    let before = tree_of(fs);
    let (l, t) = ("/l", "d");
    failures.extend(reported("stat(\"/l/x\")", fs.stat("/l/x"), l, t, "x"));
    failures.extend(reported("lstat(\"/l/x\")", fs.lstat("/l/x"), l, t, "x"));
    failures.extend(reported(
        "readlink(\"/l/x\")",
        fs.readlink("/l/x"),
        l,
        t,
        "x",
    ));
    failures.extend(reported("readdir(\"/l/x\")", fs.readdir("/l/x"), l, t, "x"));
    failures.extend(reported(
        "open(\"/l/x\", read)",
        fs.open("/l/x", OpenFlags::read_only()),
        l,
        t,
        "x",
    ));
    failures.extend(reported(
        "open(\"/l/new\", create)",
        fs.open("/l/new", OpenFlags::create_truncate()),
        l,
        t,
        "new",
    ));
    failures.extend(reported(
        "open(\"/l/x\", nofollow)",
        fs.open("/l/x", nofollow()),
        l,
        t,
        "x",
    ));
    failures.extend(reported(
        "mkdir(\"/l/new\")",
        fs.mkdir("/l/new"),
        l,
        t,
        "new",
    ));
    failures.extend(reported("remove(\"/l/x\")", fs.remove("/l/x"), l, t, "x"));
    failures.extend(reported(
        "symlink(\"t\", \"/l/new\")",
        fs.symlink("t", "/l/new"),
        l,
        t,
        "new",
    ));
    failures.extend(reported(
        "rename(\"/l/x\", \"/y\")",
        fs.rename("/l/x", "/y"),
        l,
        t,
        "x",
    ));
    failures.extend(reported(
        "rename(\"/d/x\", \"/l/y\")",
        fs.rename("/d/x", "/l/y"),
        l,
        t,
        "y",
    ));
    // A trailing slash stays in the rest, whatever the operation.
    failures.extend(reported(
        "mkdir(\"/l/new/\")",
        fs.mkdir("/l/new/"),
        l,
        t,
        "new/",
    ));
    failures.extend(reported(
        "symlink(\"t\", \"/l/new/\")",
        fs.symlink("t", "/l/new/"),
        l,
        t,
        "new/",
    ));
    failures.extend(reported(
        "open(\"/l/new/\", create)",
        fs.open("/l/new/", OpenFlags::create_truncate()),
        l,
        t,
        "new/",
    ));
    failures.extend(reported(
        "remove(\"/l/x/\")",
        fs.remove("/l/x/"),
        l,
        t,
        "x/",
    ));
    failures.extend(reported(
        "readlink(\"/l/x/\")",
        fs.readlink("/l/x/"),
        l,
        t,
        "x/",
    ));
    failures.extend(reported("lstat(\"/l/x/\")", fs.lstat("/l/x/"), l, t, "x/"));
    failures.extend(reported(
        "stat(\"/l/a/b/\")",
        fs.stat("/l/a/b/"),
        l,
        t,
        "a/b/",
    ));
    failures.extend(reported("stat(\"/l/x/\")", fs.stat("/l/x/"), l, t, "x/"));
    failures.extend(reported(
        "stat(\"/d/up/x\")",
        fs.stat("/d/up/x"),
        "/d/up",
        "../d",
        "x",
    ));
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    assert_eq!(tree_of(fs), before, "reports changed the tree");
}

fn reports_links_as_the_last_component(fs: &dyn FileService) {
    let mut failures: Vec<String> = Vec::new();
    mkdir(fs, "/d");
    symlink(fs, "d", "/l");
    symlink(fs, "m", "/lm");
    let before = tree_of(fs);
    let (l, t) = ("/l", "d");
    failures.extend(reported("stat(\"/l\")", fs.stat("/l"), l, t, ""));
    failures.extend(reported("readdir(\"/l\")", fs.readdir("/l"), l, t, ""));
    for flags in [
        OpenFlags::read_only(),
        OpenFlags::directory(),
        OpenFlags::write_only(),
        OpenFlags::create_truncate(),
    ] {
        failures.extend(reported(
            &format!("open(\"/l\", {flags:?})"),
            fs.open("/l", flags),
            l,
            t,
            "",
        ));
    }
    failures.extend(reported(
        "open(\"/lm\", create)",
        fs.open("/lm", OpenFlags::create_truncate()),
        "/lm",
        "m",
        "",
    ));
    failures.extend(reported("stat(\"/l/\")", fs.stat("/l/"), l, t, "/"));
    failures.extend(reported("lstat(\"/l/\")", fs.lstat("/l/"), l, t, "/"));
    failures.extend(reported("readlink(\"/l/\")", fs.readlink("/l/"), l, t, "/"));
    failures.extend(reported(
        "open(\"/l/\", nofollow)",
        fs.open("/l/", nofollow()),
        l,
        t,
        "/",
    ));
    match fs.set_times("/l", None, Some(some_time(1_600_000_000))) {
        Err(e) if e.kind() == FsErrorKind::Unsupported => {}
        other => failures.extend(reported("set_times(\"/l\")", other, l, t, "")),
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    assert_eq!(tree_of(fs), before, "reports changed the tree");
}

fn acts_on_links_itself(fs: &dyn FileService) {
    let mut failures: Vec<String> = Vec::new();
    mkdir(fs, "/d");
    symlink(fs, "d", "/l");
    assert_eq!(lstat(fs, "/l").kind, FileKind::Symlink);
    assert_eq!(readlink(fs, "/l"), "d");
    assert_eq!(
        listing(fs, "/"),
        listed(&[("d", FileKind::Directory, 0), ("l", FileKind::Symlink, 1)])
    );
    err!(fs.open("/l", nofollow()), Loop);
    err!(fs.open("/l", create_new()), AlreadyExists);
    err!(fs.mkdir("/l"), AlreadyExists);
    err!(fs.symlink("x", "/l"), AlreadyExists);
    err!(fs.remove("/l/"), NotADirectory);
    ok!(fs.rename("/l", "/m"));
    assert_eq!(readlink(fs, "/m"), "d");
    failures.extend(reported(
        "open(\"/m\", read)",
        fs.open("/m", OpenFlags::read_only()),
        "/m",
        "d",
        "",
    ));
    ok!(fs.remove("/m"));
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    expect(fs, &[("/d", E::D)]);
}
