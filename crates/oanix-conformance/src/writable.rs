//! The checks of the writable contract, each run on a fresh, empty service.

use std::io::SeekFrom;

use oanix_vfs::path::{MAX_NAME_LEN, MAX_PATH_LEN};
use oanix_vfs::{
    FileHandle, FileKind, FileService, FsErrorKind, OpenFlags, Result, append_file, read_file,
    read_to_end, write_all, write_file,
};

use crate::check::Check;
use crate::tree::{Node, Tree, tree_of};

pub(crate) const CHECKS: &[Check] = &[
    Check::new("root_is_an_empty_directory", root_is_an_empty_directory),
    Check::new("write_then_read", write_then_read),
    Check::new("write_file_replaces", write_file_replaces),
    Check::new("append_goes_to_the_end", append_goes_to_the_end),
    Check::new("truncate_on_open", truncate_on_open),
    Check::new(
        "truncate_without_write_is_invalid",
        truncate_without_write_is_invalid,
    ),
    Check::new(
        "directory_flag_with_mutation_is_invalid",
        directory_flag_with_mutation_is_invalid,
    ),
    Check::new(
        "seek_from_start_end_and_current",
        seek_from_start_end_and_current,
    ),
    Check::new(
        "seek_before_the_start_is_invalid",
        seek_before_the_start_is_invalid,
    ),
    Check::new(
        "seek_past_the_end_fills_with_zeros",
        seek_past_the_end_fills_with_zeros,
    ),
    Check::new(
        "read_at_and_write_at_keep_the_position",
        read_at_and_write_at_keep_the_position,
    ),
    Check::new("set_len_grows_and_shrinks", set_len_grows_and_shrinks),
    Check::new("open_missing_without_create", open_missing_without_create),
    Check::new("create_makes_an_empty_file", create_makes_an_empty_file),
    Check::new("create_new_fails_on_existing", create_new_fails_on_existing),
    Check::new(
        "create_in_a_missing_directory",
        create_in_a_missing_directory,
    ),
    Check::new("directory_flag_on_a_file", directory_flag_on_a_file),
    Check::new("trailing_slash_on_a_file", trailing_slash_on_a_file),
    Check::new(
        "trailing_slash_on_a_directory",
        trailing_slash_on_a_directory,
    ),
    Check::new("create_with_a_trailing_slash", create_with_a_trailing_slash),
    Check::new("open_a_directory_read_only", open_a_directory_read_only),
    Check::new("open_a_directory_for_writing", open_a_directory_for_writing),
    Check::new(
        "handles_keep_their_access_mode",
        handles_keep_their_access_mode,
    ),
    Check::new("handles_share_the_file", handles_share_the_file),
    Check::new("handle_stat_follows_writes", handle_stat_follows_writes),
    Check::new("large_file", large_file),
    Check::new("mkdir_and_readdir", mkdir_and_readdir),
    Check::new("readdir_is_sorted", readdir_is_sorted),
    Check::new("mkdir_errors", mkdir_errors),
    Check::new("readdir_errors", readdir_errors),
    Check::new("remove_a_file", remove_a_file),
    Check::new("remove_an_empty_directory", remove_an_empty_directory),
    Check::new("remove_a_non_empty_directory", remove_a_non_empty_directory),
    Check::new("remove_the_root", remove_the_root),
    Check::new("remove_missing", remove_missing),
    Check::new("rename_a_file", rename_a_file),
    Check::new("rename_a_directory", rename_a_directory),
    Check::new(
        "rename_into_and_out_of_directories",
        rename_into_and_out_of_directories,
    ),
    Check::new("rename_over_a_file", rename_over_a_file),
    Check::new("rename_over_an_open_file", rename_over_an_open_file),
    Check::new(
        "rename_a_file_over_a_directory",
        rename_a_file_over_a_directory,
    ),
    Check::new(
        "rename_a_directory_over_a_file",
        rename_a_directory_over_a_file,
    ),
    Check::new(
        "rename_a_directory_over_a_non_empty_directory",
        rename_a_directory_over_a_non_empty_directory,
    ),
    Check::new(
        "rename_a_directory_over_an_empty_directory",
        rename_a_directory_over_an_empty_directory,
    ),
    Check::new("rename_into_its_own_subtree", rename_into_its_own_subtree),
    Check::new("rename_to_itself", rename_to_itself),
    Check::new("rename_a_missing_source", rename_a_missing_source),
    Check::new("rename_to_a_missing_parent", rename_to_a_missing_parent),
    Check::new("rename_the_root", rename_the_root),
    Check::new(
        "removed_open_files_keep_working",
        removed_open_files_keep_working,
    ),
    Check::new("stat_sizes_and_kinds", stat_sizes_and_kinds),
    Check::new("ids_are_stable_and_distinct", ids_are_stable_and_distinct),
    Check::new("ids_survive_rename", ids_survive_rename),
    Check::new("parent_is_a_file", parent_is_a_file),
    Check::new("parent_is_missing", parent_is_missing),
    Check::new("paths_are_normalised", paths_are_normalised),
    Check::new(
        "malformed_paths_change_nothing",
        malformed_paths_change_nothing,
    ),
    Check::new("error_messages_name_the_path", error_messages_name_the_path),
];

// ---------------------------------------------------------------------------
// Small helpers. They panic with the path concerned; the check's name says
// which check.

pub(crate) fn open(fs: &dyn FileService, path: &str, flags: OpenFlags) -> Box<dyn FileHandle> {
    match fs.open(path, flags) {
        Ok(h) => h,
        Err(e) => panic!("open({path:?}, {flags:?}) failed: {e}"),
    }
}

pub(crate) fn write(fs: &dyn FileService, path: &str, data: &str) {
    if let Err(e) = write_file(fs, path, data) {
        panic!("write_file({path:?}) failed: {e}");
    }
}

pub(crate) fn mkdir(fs: &dyn FileService, path: &str) {
    if let Err(e) = fs.mkdir(path) {
        panic!("mkdir({path:?}) failed: {e}");
    }
}

pub(crate) fn content(fs: &dyn FileService, path: &str) -> Vec<u8> {
    match read_file(fs, path) {
        Ok(data) => data,
        Err(e) => panic!("read_file({path:?}) failed: {e}"),
    }
}

pub(crate) fn assert_content(fs: &dyn FileService, path: &str, expected: &[u8]) {
    let got = content(fs, path);
    assert!(
        got == expected,
        "{path} holds \"{}\", expected \"{}\"",
        got.escape_ascii(),
        expected.escape_ascii()
    );
}

pub(crate) fn assert_missing(fs: &dyn FileService, path: &str) {
    match fs.stat(path) {
        Err(e) if e.kind() == FsErrorKind::NotFound => {}
        Err(e) => panic!("stat({path:?}) of a missing path gave {e}, expected NotFound"),
        Ok(md) => panic!("{path} exists ({:?}) and should not", md.kind),
    }
}

pub(crate) fn names(fs: &dyn FileService, dir: &str) -> Vec<String> {
    match fs.readdir(dir) {
        Ok(entries) => entries.into_iter().map(|e| e.name).collect(),
        Err(e) => panic!("readdir({dir:?}) failed: {e}"),
    }
}

fn size(fs: &dyn FileService, path: &str) -> u64 {
    match fs.stat(path) {
        Ok(md) => md.size,
        Err(e) => panic!("stat({path:?}) failed: {e}"),
    }
}

fn id(fs: &dyn FileService, path: &str) -> u64 {
    match fs.stat(path) {
        Ok(md) => md.id,
        Err(e) => panic!("stat({path:?}) failed: {e}"),
    }
}

/// Writes all of `data` through a handle.
pub(crate) fn put(h: &mut Box<dyn FileHandle>, data: &[u8]) {
    if let Err(e) = write_all(h.as_mut(), "(handle)", data) {
        panic!(
            "writing \"{}\" through a handle failed: {e}",
            data.escape_ascii()
        );
    }
}

/// Reads up to `n` bytes (fewer only at the end of the file).
pub(crate) fn take(h: &mut Box<dyn FileHandle>, n: usize) -> Vec<u8> {
    let mut out = vec![0; n];
    let mut filled = 0;
    while filled < n {
        match h.read(&mut out[filled..]) {
            Ok(0) => break,
            Ok(k) => filled += k,
            Err(e) => panic!("reading through a handle failed: {e}"),
        }
    }
    out.truncate(filled);
    out
}

/// Reads from the position to the end.
pub(crate) fn rest(h: &mut Box<dyn FileHandle>) -> Vec<u8> {
    let mut out = Vec::new();
    ok!(read_to_end(h.as_mut(), &mut out));
    out
}

fn position(h: &mut Box<dyn FileHandle>) -> u64 {
    ok!(h.seek(SeekFrom::Current(0)))
}

fn tree(entries: &[(&str, Option<&str>)]) -> Tree {
    let mut t = Tree::new();
    for (p, data) in entries {
        t.insert(
            *p,
            data.map_or(Node::Dir, |d| Node::File(d.as_bytes().to_vec())),
        );
    }
    t
}

fn assert_tree(fs: &dyn FileService, expected: &[(&str, Option<&str>)]) {
    assert_eq!(tree_of(fs), tree(expected), "the tree is not as expected");
}

fn append_only() -> OpenFlags {
    OpenFlags::default().with_append(true)
}

pub(crate) fn create_new() -> OpenFlags {
    OpenFlags::write_only().with_create_new(true)
}

// ---------------------------------------------------------------------------
// Files and handles.

fn root_is_an_empty_directory(fs: &dyn FileService) {
    let md = ok!(fs.stat("/"));
    assert_eq!(md.kind, FileKind::Directory, "stat(\"/\")");
    assert!(
        names(fs, "/").is_empty(),
        "a fresh service lists nothing at its root"
    );
    let mut h = open(fs, "/", OpenFlags::read_only());
    err!(h.read(&mut [0; 4]), IsADirectory);
    assert!(
        ok!(h.stat()).is_dir(),
        "a handle on the root stats as a directory"
    );
    assert!(tree_of(fs).is_empty());
}

fn write_then_read(fs: &dyn FileService) {
    write(fs, "/f", "hello");
    assert_content(fs, "/f", b"hello");
    let md = ok!(fs.stat("/f"));
    assert!(md.is_file(), "/f is a file");
    assert_eq!(md.size, 5, "size of /f");
    let mut h = open(fs, "/f", OpenFlags::read_only());
    assert_eq!(take(&mut h, 3), b"hel");
    assert_eq!(
        take(&mut h, 10),
        b"lo",
        "reads continue where the last one stopped"
    );
    assert_eq!(ok!(h.read(&mut [0; 4])), 0, "a read at the end gives 0");
    assert_eq!(names(fs, "/"), ["f"]);
}

fn write_file_replaces(fs: &dyn FileService) {
    write(fs, "/f", "hello world");
    write(fs, "/f", "bye");
    assert_content(fs, "/f", b"bye");
    assert_eq!(size(fs, "/f"), 3);
}

fn append_goes_to_the_end(fs: &dyn FileService) {
    ok!(append_file(fs, "/log", "ab"));
    ok!(append_file(fs, "/log", "cd"));
    assert_content(fs, "/log", b"abcd");

    let mut h = open(fs, "/log", append_only());
    ok!(h.seek(SeekFrom::Start(0)));
    put(&mut h, b"ef");
    assert_content(fs, "/log", b"abcdef");
    drop(h);

    let mut h = open(fs, "/log", append_only().with_read(true));
    assert_eq!(
        rest(&mut h),
        b"abcdef",
        "an append handle with read starts reading at 0"
    );
    ok!(h.seek(SeekFrom::Start(1)));
    put(&mut h, b"g");
    assert_content(fs, "/log", b"abcdefg");
}

fn truncate_on_open(fs: &dyn FileService) {
    write(fs, "/f", "hello");
    let h = open(fs, "/f", OpenFlags::create_truncate());
    assert_eq!(
        size(fs, "/f"),
        0,
        "the file is empty as soon as it is opened with truncate"
    );
    drop(h);
    assert_content(fs, "/f", b"");

    write(fs, "/f", "hello");
    drop(open(fs, "/f", OpenFlags::write_only().with_truncate(true)));
    assert_content(fs, "/f", b"");

    write(fs, "/f", "hello");
    let mut h = open(fs, "/f", append_only().with_truncate(true));
    put(&mut h, b"x");
    assert_content(fs, "/f", b"x");

    err!(
        fs.open("/missing", OpenFlags::write_only().with_truncate(true)),
        NotFound
    );
    assert_missing(fs, "/missing");
}

fn truncate_without_write_is_invalid(fs: &dyn FileService) {
    write(fs, "/f", "hello");
    err!(
        fs.open("/f", OpenFlags::read_only().with_truncate(true)),
        InvalidInput
    );
    err!(
        fs.open("/f", OpenFlags::default().with_truncate(true)),
        InvalidInput
    );
    err!(
        fs.open(
            "/new",
            OpenFlags::read_only().with_truncate(true).with_create(true)
        ),
        InvalidInput
    );
    assert_content(fs, "/f", b"hello");
    assert_missing(fs, "/new");
}

fn directory_flag_with_mutation_is_invalid(fs: &dyn FileService) {
    mkdir(fs, "/d");
    let d = OpenFlags::directory();
    for flags in [
        d.with_write(true),
        d.with_append(true),
        d.with_create(true),
        d.with_create_new(true),
        d.with_write(true).with_truncate(true),
    ] {
        for path in ["/d", "/new"] {
            match fs.open(path, flags) {
                Err(e) if e.kind() == FsErrorKind::InvalidInput => {}
                Err(e) => panic!("open({path:?}, {flags:?}) gave {e}, expected InvalidInput"),
                Ok(_) => panic!("open({path:?}, {flags:?}) succeeded, expected InvalidInput"),
            }
        }
    }
    assert_tree(fs, &[("/d", None)]);
}

fn seek_from_start_end_and_current(fs: &dyn FileService) {
    write(fs, "/f", "hello world");
    let mut h = open(fs, "/f", OpenFlags::read_only());
    assert_eq!(ok!(h.seek(SeekFrom::Start(6))), 6);
    assert_eq!(take(&mut h, 5), b"world");
    assert_eq!(ok!(h.seek(SeekFrom::End(-5))), 6);
    assert_eq!(ok!(h.seek(SeekFrom::Current(-2))), 4);
    assert_eq!(take(&mut h, 2), b"o ");
    assert_eq!(position(&mut h), 6);
    assert_eq!(ok!(h.seek(SeekFrom::End(0))), 11);
    assert_eq!(ok!(h.read(&mut [0; 4])), 0);
    assert_eq!(ok!(h.seek(SeekFrom::Current(-11))), 0);
    assert_eq!(rest(&mut h), b"hello world");
}

fn seek_before_the_start_is_invalid(fs: &dyn FileService) {
    write(fs, "/f", "hello");
    let mut h = open(fs, "/f", OpenFlags::read_only());
    ok!(h.seek(SeekFrom::Start(2)));
    err!(h.seek(SeekFrom::Current(-3)), InvalidInput);
    assert_eq!(position(&mut h), 2, "a failed seek leaves the position");
    err!(h.seek(SeekFrom::End(-6)), InvalidInput);
    assert_eq!(position(&mut h), 2, "a failed seek leaves the position");
    err!(h.seek(SeekFrom::Current(i64::MIN)), InvalidInput);
    assert_eq!(ok!(h.seek(SeekFrom::End(-5))), 0);
    assert_eq!(take(&mut h, 5), b"hello");
}

fn seek_past_the_end_fills_with_zeros(fs: &dyn FileService) {
    let mut h = open(fs, "/f", OpenFlags::read_write().with_create(true));
    put(&mut h, b"ab");
    assert_eq!(ok!(h.seek(SeekFrom::Start(5))), 5);
    assert_eq!(ok!(h.read(&mut [0; 4])), 0, "a read past the end gives 0");
    assert_eq!(
        size(fs, "/f"),
        2,
        "seeking past the end does not grow the file"
    );
    put(&mut h, b"c");
    assert_eq!(size(fs, "/f"), 6);
    assert_content(fs, "/f", b"ab\0\0\0c");
    assert_eq!(ok!(h.seek(SeekFrom::End(3))), 9);
    put(&mut h, b"d");
    assert_content(fs, "/f", b"ab\0\0\0c\0\0\0d");
}

fn read_at_and_write_at_keep_the_position(fs: &dyn FileService) {
    let mut h = open(fs, "/f", OpenFlags::read_write().with_create(true));
    put(&mut h, b"abcdef");
    assert_eq!(position(&mut h), 6);
    let mut buf = [0u8; 3];
    assert_eq!(ok!(h.read_at(&mut buf, 1)), 3);
    assert_eq!(&buf, b"bcd");
    assert_eq!(position(&mut h), 6, "read_at does not move the position");
    assert_eq!(ok!(h.write_at(b"XY", 0)), 2);
    assert_eq!(position(&mut h), 6, "write_at does not move the position");
    assert_content(fs, "/f", b"XYcdef");
    ok!(h.seek(SeekFrom::Start(1)));
    assert_eq!(
        ok!(h.read_at(&mut buf, 4)),
        2,
        "read_at near the end reads what is there"
    );
    assert_eq!(&buf[..2], b"ef");
    assert_eq!(take(&mut h, 2), b"Yc", "the position was kept at 1");
    assert_eq!(ok!(h.write_at(b"Z", 8)), 1);
    assert_content(fs, "/f", b"XYcdef\0\0Z");
    assert_eq!(position(&mut h), 3);
    assert_eq!(
        ok!(h.read_at(&mut buf, 20)),
        0,
        "read_at past the end gives 0"
    );
}

fn set_len_grows_and_shrinks(fs: &dyn FileService) {
    let mut h = open(fs, "/f", OpenFlags::read_write().with_create(true));
    put(&mut h, b"hello");
    ok!(h.set_len(2));
    assert_eq!(size(fs, "/f"), 2);
    assert_eq!(
        ok!(h.stat()).size,
        2,
        "the handle's stat sees the new length"
    );
    assert_eq!(position(&mut h), 5, "set_len does not move the position");
    ok!(h.seek(SeekFrom::Start(0)));
    assert_eq!(take(&mut h, 10), b"he");
    ok!(h.set_len(5));
    assert_content(fs, "/f", b"he\0\0\0");
    ok!(h.set_len(0));
    assert_content(fs, "/f", b"");
    drop(h);
    let mut h = open(fs, "/f", OpenFlags::write_only());
    ok!(h.set_len(3));
    assert_content(fs, "/f", b"\0\0\0");
}

fn open_missing_without_create(fs: &dyn FileService) {
    for flags in [
        OpenFlags::read_only(),
        OpenFlags::write_only(),
        OpenFlags::read_write(),
        append_only(),
        OpenFlags::directory(),
        OpenFlags::write_only().with_truncate(true),
    ] {
        match fs.open("/missing", flags) {
            Err(e) if e.kind() == FsErrorKind::NotFound => {}
            Err(e) => panic!("open(\"/missing\", {flags:?}) gave {e}, expected NotFound"),
            Ok(_) => panic!("open(\"/missing\", {flags:?}) succeeded, expected NotFound"),
        }
    }
    assert!(
        tree_of(fs).is_empty(),
        "opening without create created something"
    );
}

fn create_makes_an_empty_file(fs: &dyn FileService) {
    let h = open(fs, "/f", OpenFlags::write_only().with_create(true));
    let md = ok!(fs.stat("/f"));
    assert!(
        md.is_file() && md.size == 0,
        "a created file is an empty file: {md:?}"
    );
    drop(h);
    assert_content(fs, "/f", b"");

    write(fs, "/g", "keep");
    drop(open(fs, "/g", OpenFlags::write_only().with_create(true)));
    assert_content(fs, "/g", b"keep");

    let mut h = open(fs, "/r", OpenFlags::read_only().with_create(true));
    assert_eq!(ok!(h.read(&mut [0; 4])), 0);
    assert_content(fs, "/r", b"");
    assert_eq!(names(fs, "/"), ["f", "g", "r"]);
}

fn create_new_fails_on_existing(fs: &dyn FileService) {
    let mut h = open(fs, "/f", create_new());
    put(&mut h, b"one");
    drop(h);
    err!(fs.open("/f", create_new()), AlreadyExists);
    err!(fs.open("/f", create_new().with_create(true)), AlreadyExists);
    err!(
        fs.open("/f", create_new().with_truncate(true)),
        AlreadyExists
    );
    assert_content(fs, "/f", b"one");
    mkdir(fs, "/d");
    err!(fs.open("/d", create_new()), AlreadyExists);
    err!(fs.open("/", create_new()), AlreadyExists);
    assert_tree(fs, &[("/d", None), ("/f", Some("one"))]);
}

fn create_in_a_missing_directory(fs: &dyn FileService) {
    err!(fs.open("/m/f", OpenFlags::create_truncate()), NotFound);
    err!(fs.open("/m/f", create_new()), NotFound);
    err!(fs.open("/m/n/f", OpenFlags::append_create()), NotFound);
    write(fs, "/f", "x");
    err!(fs.open("/f/g", OpenFlags::create_truncate()), NotADirectory);
    err!(fs.open("/f/g", create_new()), NotADirectory);
    assert_tree(fs, &[("/f", Some("x"))]);
}

fn directory_flag_on_a_file(fs: &dyn FileService) {
    write(fs, "/f", "x");
    err!(fs.open("/f", OpenFlags::directory()), NotADirectory);
    mkdir(fs, "/d");
    let mut h = open(fs, "/d", OpenFlags::directory());
    err!(h.read(&mut [0; 4]), IsADirectory);
    drop(open(fs, "/", OpenFlags::directory()));
    err!(fs.open("/missing", OpenFlags::directory()), NotFound);
    assert_tree(fs, &[("/d", None), ("/f", Some("x"))]);
}

fn trailing_slash_on_a_file(fs: &dyn FileService) {
    write(fs, "/f", "data");
    for p in ["/f/", "/f/.", "/f//"] {
        err!(fs.open(p, OpenFlags::read_only()), NotADirectory);
        err!(fs.open(p, OpenFlags::write_only()), NotADirectory);
        err!(fs.open(p, OpenFlags::create_truncate()), NotADirectory);
        err!(fs.stat(p), NotADirectory);
        err!(fs.readdir(p), NotADirectory);
        err!(fs.remove(p), NotADirectory);
    }
    assert_tree(fs, &[("/f", Some("data"))]);
}

fn trailing_slash_on_a_directory(fs: &dyn FileService) {
    mkdir(fs, "/d");
    write(fs, "/d/x", "1");
    assert!(ok!(fs.stat("/d/")).is_dir());
    assert_eq!(names(fs, "/d/"), ["x"]);
    drop(open(fs, "/d/", OpenFlags::read_only()));
    drop(open(fs, "/d/.", OpenFlags::directory()));
    mkdir(fs, "/e");
    ok!(fs.remove("/e/"));
    assert_missing(fs, "/e");
    mkdir(fs, "/g/");
    assert!(
        ok!(fs.stat("/g")).is_dir(),
        "mkdir(\"/g/\") makes a directory"
    );
    assert_tree(fs, &[("/d", None), ("/d/x", Some("1")), ("/g", None)]);
}

fn create_with_a_trailing_slash(fs: &dyn FileService) {
    err!(fs.open("/new/", OpenFlags::create_truncate()), IsADirectory);
    err!(fs.open("/new/", create_new()), IsADirectory);
    err!(fs.open("/new/", OpenFlags::append_create()), IsADirectory);
    assert!(tree_of(fs).is_empty(), "nothing is created");
}

fn open_a_directory_read_only(fs: &dyn FileService) {
    mkdir(fs, "/d");
    for flags in [OpenFlags::read_only(), OpenFlags::default()] {
        let mut h = open(fs, "/d", flags);
        err!(h.read(&mut [0; 4]), IsADirectory);
        err!(h.read_at(&mut [0; 4], 0), IsADirectory);
        // The contract says both "writes on a directory handle give
        // IsADirectory" and "writing a handle not opened for writing gives
        // BadHandle": either is right here.
        match h.write(b"x") {
            Err(e) if matches!(e.kind(), FsErrorKind::IsADirectory | FsErrorKind::BadHandle) => {}
            Err(e) => panic!("writing a directory handle gave {e}"),
            Ok(_) => panic!("writing a directory handle succeeded"),
        }
        let md = ok!(h.stat());
        assert!(md.is_dir(), "a directory handle stats as a directory");
    }
    assert_tree(fs, &[("/d", None)]);
}

fn open_a_directory_for_writing(fs: &dyn FileService) {
    mkdir(fs, "/d");
    for flags in [
        OpenFlags::write_only(),
        OpenFlags::read_write(),
        append_only(),
        OpenFlags::create_truncate(),
        OpenFlags::write_only().with_create(true),
        OpenFlags::append_create(),
        // Creation asks to modify too (POSIX: `O_CREAT` on a directory is `EISDIR`).
        OpenFlags::read_only().with_create(true),
    ] {
        for path in ["/d", "/d/", "/"] {
            match fs.open(path, flags) {
                Err(e) if e.kind() == FsErrorKind::IsADirectory => {}
                Err(e) => panic!("open({path:?}, {flags:?}) gave {e}, expected IsADirectory"),
                Ok(_) => panic!("open({path:?}, {flags:?}) succeeded, expected IsADirectory"),
            }
        }
    }
    assert_tree(fs, &[("/d", None)]);
}

fn handles_keep_their_access_mode(fs: &dyn FileService) {
    write(fs, "/f", "data");
    let mut buf = [0u8; 4];
    let mut h = open(fs, "/f", OpenFlags::read_only());
    err!(h.write(b"x"), BadHandle);
    err!(h.write_at(b"x", 0), BadHandle);
    let mut h = open(fs, "/f", OpenFlags::default());
    assert_eq!(
        take(&mut h, 4),
        b"data",
        "a handle opened with no flags reads"
    );
    err!(h.write(b"x"), BadHandle);
    let mut h = open(fs, "/f", OpenFlags::write_only());
    err!(h.read(&mut buf), BadHandle);
    err!(h.read_at(&mut buf, 0), BadHandle);
    let mut h = open(fs, "/f", append_only());
    err!(h.read(&mut buf), BadHandle);
    assert_content(fs, "/f", b"data");
}

fn handles_share_the_file(fs: &dyn FileService) {
    let mut w = open(fs, "/f", OpenFlags::read_write().with_create(true));
    let mut r = open(fs, "/f", OpenFlags::read_only());
    put(&mut w, b"abc");
    assert_eq!(
        take(&mut r, 3),
        b"abc",
        "a write is visible through another handle"
    );
    let mut w2 = open(fs, "/f", OpenFlags::write_only());
    assert_eq!(ok!(w2.write_at(b"X", 0)), 1);
    ok!(r.seek(SeekFrom::Start(0)));
    assert_eq!(rest(&mut r), b"Xbc");
    assert_content(fs, "/f", b"Xbc");
}

fn handle_stat_follows_writes(fs: &dyn FileService) {
    let mut h = open(fs, "/f", OpenFlags::read_write().with_create(true));
    assert_eq!(ok!(h.stat()).size, 0);
    put(&mut h, b"12345");
    let md = ok!(h.stat());
    assert!(md.is_file());
    assert_eq!(md.size, 5, "the handle's stat sees its writes");
    assert_eq!(
        size(fs, "/f"),
        5,
        "stat of the path sees writes through an open handle"
    );
    assert_eq!(
        md.id,
        id(fs, "/f"),
        "a handle and its path have the same id"
    );
    ok!(h.flush());
    assert_eq!(size(fs, "/f"), 5);
}

fn large_file(fs: &dyn FileService) {
    let data: Vec<u8> = (0..300_000u32).map(|i| (i * 7 % 251) as u8).collect();
    ok!(write_file(fs, "/big", &data));
    assert_eq!(size(fs, "/big"), 300_000);
    assert!(
        content(fs, "/big") == data,
        "a large file reads back as written"
    );
    let mut h = open(fs, "/big", OpenFlags::read_only());
    let mut buf = [0u8; 10];
    assert_eq!(ok!(h.read_at(&mut buf, 299_995)), 5);
    assert_eq!(buf[..5], data[299_995..]);
}

// ---------------------------------------------------------------------------
// Directories and removal.

fn mkdir_and_readdir(fs: &dyn FileService) {
    mkdir(fs, "/d");
    mkdir(fs, "/d/e");
    write(fs, "/d/f", "abc");
    write(fs, "/top", "x");
    let entries = ok!(fs.readdir("/d"));
    let got: Vec<_> = entries
        .iter()
        .map(|e| (e.name.as_str(), e.kind, if e.is_dir() { 0 } else { e.size }))
        .collect();
    assert_eq!(
        got,
        [("e", FileKind::Directory, 0), ("f", FileKind::File, 3)],
        "readdir(\"/d\")"
    );
    assert_eq!(names(fs, "/"), ["d", "top"]);
    assert!(names(fs, "/d/e").is_empty());
    assert!(ok!(fs.stat("/d/e")).is_dir());
}

fn readdir_is_sorted(fs: &dyn FileService) {
    let all = ["b", "a", "C", "aa", "a.b", "_", "z9", "10", "9", "é"];
    for (i, name) in all.iter().enumerate() {
        let p = format!("/{name}");
        if i % 2 == 0 {
            mkdir(fs, &p);
        } else {
            write(fs, &p, name);
        }
    }
    let mut sorted: Vec<String> = all.iter().map(|s| (*s).to_owned()).collect();
    sorted.sort();
    let got = names(fs, "/");
    assert_eq!(
        got, sorted,
        "readdir lists by name, in byte order, without . and .."
    );
}

fn mkdir_errors(fs: &dyn FileService) {
    mkdir(fs, "/d");
    err!(fs.mkdir("/d"), AlreadyExists);
    write(fs, "/f", "x");
    err!(fs.mkdir("/f"), AlreadyExists);
    err!(fs.mkdir("/"), AlreadyExists);
    err!(fs.mkdir("/m/x"), NotFound);
    err!(fs.mkdir("/f/x"), NotADirectory);
    assert_tree(fs, &[("/d", None), ("/f", Some("x"))]);
}

fn readdir_errors(fs: &dyn FileService) {
    write(fs, "/f", "x");
    err!(fs.readdir("/missing"), NotFound);
    err!(fs.readdir("/f"), NotADirectory);
    err!(fs.readdir("/f/x"), NotADirectory);
    err!(fs.readdir("/m/x"), NotFound);
}

fn remove_a_file(fs: &dyn FileService) {
    write(fs, "/f", "x");
    mkdir(fs, "/d");
    write(fs, "/d/g", "y");
    ok!(fs.remove("/f"));
    assert_missing(fs, "/f");
    assert_eq!(names(fs, "/"), ["d"]);
    ok!(fs.remove("/d/g"));
    assert!(names(fs, "/d").is_empty());
    write(fs, "/f", "again");
    assert_tree(fs, &[("/d", None), ("/f", Some("again"))]);
}

fn remove_an_empty_directory(fs: &dyn FileService) {
    mkdir(fs, "/d");
    mkdir(fs, "/d/e");
    ok!(fs.remove("/d/e"));
    ok!(fs.remove("/d"));
    assert!(tree_of(fs).is_empty());
}

fn remove_a_non_empty_directory(fs: &dyn FileService) {
    mkdir(fs, "/d");
    write(fs, "/d/f", "x");
    err!(fs.remove("/d"), NotEmpty);
    mkdir(fs, "/e");
    mkdir(fs, "/e/sub");
    err!(fs.remove("/e"), NotEmpty);
    assert_tree(
        fs,
        &[
            ("/d", None),
            ("/d/f", Some("x")),
            ("/e", None),
            ("/e/sub", None),
        ],
    );
}

fn remove_the_root(fs: &dyn FileService) {
    err!(fs.remove("/"), PermissionDenied);
    mkdir(fs, "/d");
    err!(fs.remove("/"), PermissionDenied);
    err!(fs.remove("/."), PermissionDenied);
    err!(fs.remove("/d/.."), PermissionDenied);
    assert_tree(fs, &[("/d", None)]);
}

fn remove_missing(fs: &dyn FileService) {
    err!(fs.remove("/m"), NotFound);
    err!(fs.remove("/m/x"), NotFound);
    write(fs, "/f", "x");
    err!(fs.remove("/f/x"), NotADirectory);
    assert_tree(fs, &[("/f", Some("x"))]);
}

// ---------------------------------------------------------------------------
// Renames (POSIX rename(2), see the contract's rule order).

fn rename_a_file(fs: &dyn FileService) {
    write(fs, "/a", "1");
    ok!(fs.rename("/a", "/b"));
    assert_missing(fs, "/a");
    assert_content(fs, "/b", b"1");
    assert_eq!(names(fs, "/"), ["b"]);
}

fn rename_a_directory(fs: &dyn FileService) {
    mkdir(fs, "/d");
    mkdir(fs, "/d/e");
    write(fs, "/d/e/f", "deep");
    write(fs, "/d/g", "g");
    ok!(fs.rename("/d", "/x"));
    assert_tree(
        fs,
        &[
            ("/x", None),
            ("/x/e", None),
            ("/x/e/f", Some("deep")),
            ("/x/g", Some("g")),
        ],
    );
}

fn rename_into_and_out_of_directories(fs: &dyn FileService) {
    mkdir(fs, "/d");
    mkdir(fs, "/e");
    write(fs, "/f", "1");
    ok!(fs.rename("/f", "/d/f"));
    ok!(fs.rename("/d/f", "/d/g"));
    ok!(fs.rename("/d/g", "/e/h"));
    mkdir(fs, "/d/sub");
    write(fs, "/d/sub/x", "x");
    ok!(fs.rename("/d/sub", "/e/sub"));
    ok!(fs.rename("/e/h", "/top"));
    ok!(fs.rename("/e/sub", "/sub"));
    assert_tree(
        fs,
        &[
            ("/d", None),
            ("/e", None),
            ("/sub", None),
            ("/sub/x", Some("x")),
            ("/top", Some("1")),
        ],
    );
}

fn rename_over_a_file(fs: &dyn FileService) {
    write(fs, "/a", "new");
    write(fs, "/b", "old");
    ok!(fs.rename("/a", "/b"));
    assert_tree(fs, &[("/b", Some("new"))]);
}

fn rename_over_an_open_file(fs: &dyn FileService) {
    write(fs, "/a", "new");
    write(fs, "/b", "old");
    let mut h = open(fs, "/b", OpenFlags::read_only());
    ok!(fs.rename("/a", "/b"));
    assert_eq!(
        rest(&mut h),
        b"old",
        "a handle on the replaced file still reads it"
    );
    assert_tree(fs, &[("/b", Some("new"))]);
}

fn rename_a_file_over_a_directory(fs: &dyn FileService) {
    write(fs, "/f", "x");
    mkdir(fs, "/d");
    mkdir(fs, "/e");
    write(fs, "/e/y", "y");
    err!(fs.rename("/f", "/d"), IsADirectory);
    err!(fs.rename("/f", "/e"), IsADirectory);
    // Onto the directory that holds it (Linux's own answer is "not empty").
    err!(fs.rename("/e/y", "/e"), IsADirectory);
    assert_tree(
        fs,
        &[
            ("/d", None),
            ("/e", None),
            ("/e/y", Some("y")),
            ("/f", Some("x")),
        ],
    );
}

fn rename_a_directory_over_a_file(fs: &dyn FileService) {
    mkdir(fs, "/d");
    write(fs, "/d/x", "x");
    write(fs, "/f", "f");
    err!(fs.rename("/d", "/f"), NotADirectory);
    assert_tree(fs, &[("/d", None), ("/d/x", Some("x")), ("/f", Some("f"))]);
}

fn rename_a_directory_over_a_non_empty_directory(fs: &dyn FileService) {
    mkdir(fs, "/d");
    write(fs, "/d/x", "x");
    mkdir(fs, "/e");
    write(fs, "/e/y", "y");
    mkdir(fs, "/empty");
    err!(fs.rename("/d", "/e"), NotEmpty);
    err!(fs.rename("/empty", "/e"), NotEmpty);
    assert_tree(
        fs,
        &[
            ("/d", None),
            ("/d/x", Some("x")),
            ("/e", None),
            ("/e/y", Some("y")),
            ("/empty", None),
        ],
    );
}

fn rename_a_directory_over_an_empty_directory(fs: &dyn FileService) {
    mkdir(fs, "/d");
    write(fs, "/d/x", "x");
    mkdir(fs, "/e");
    ok!(fs.rename("/d", "/e"));
    assert_tree(fs, &[("/e", None), ("/e/x", Some("x"))]);
}

fn rename_into_its_own_subtree(fs: &dyn FileService) {
    mkdir(fs, "/d");
    mkdir(fs, "/d/e");
    err!(fs.rename("/d", "/d/e"), InvalidInput);
    err!(fs.rename("/d", "/d/x"), InvalidInput);
    err!(fs.rename("/d", "/d/e/f"), InvalidInput);
    // Rule 3 comes before rule 5 (the parent of `to` must exist).
    err!(fs.rename("/d", "/d/missing/x"), InvalidInput);
    assert_tree(fs, &[("/d", None), ("/d/e", None)]);
    // `/dx` is not inside `/d`: paths are compared by components.
    ok!(fs.rename("/d", "/dx"));
    assert_tree(fs, &[("/dx", None), ("/dx/e", None)]);
}

fn rename_to_itself(fs: &dyn FileService) {
    write(fs, "/f", "1");
    mkdir(fs, "/d");
    write(fs, "/d/x", "x");
    ok!(fs.rename("/f", "/f"));
    ok!(fs.rename("/f", "/./f"));
    ok!(fs.rename("/d", "/d"));
    ok!(fs.rename("/d/x", "/d/../d/x"));
    assert_tree(fs, &[("/d", None), ("/d/x", Some("x")), ("/f", Some("1"))]);
}

fn rename_a_missing_source(fs: &dyn FileService) {
    err!(fs.rename("/m", "/n"), NotFound);
    write(fs, "/f", "x");
    err!(fs.rename("/m", "/f"), NotFound);
    err!(fs.rename("/m/x", "/y"), NotFound);
    // Rule 2 (`from` must exist) comes before rule 3 (subtree).
    err!(fs.rename("/m", "/m/x"), NotFound);
    err!(fs.rename("/f/x", "/y"), NotADirectory);
    assert_tree(fs, &[("/f", Some("x"))]);
}

fn rename_to_a_missing_parent(fs: &dyn FileService) {
    write(fs, "/f", "x");
    write(fs, "/h", "h");
    err!(fs.rename("/f", "/m/g"), NotFound);
    err!(fs.rename("/f", "/h/g"), NotADirectory);
    mkdir(fs, "/d");
    err!(fs.rename("/d", "/m/d"), NotFound);
    assert_tree(fs, &[("/d", None), ("/f", Some("x")), ("/h", Some("h"))]);
}

fn rename_the_root(fs: &dyn FileService) {
    mkdir(fs, "/d");
    err!(fs.rename("/", "/x"), PermissionDenied);
    err!(fs.rename("/d", "/"), PermissionDenied);
    err!(fs.rename("/", "/"), PermissionDenied);
    // Rule 1 comes before rule 2 (`from` must exist).
    err!(fs.rename("/m", "/"), PermissionDenied);
    assert_tree(fs, &[("/d", None)]);
}

fn removed_open_files_keep_working(fs: &dyn FileService) {
    write(fs, "/f", "data");
    let mut h = open(fs, "/f", OpenFlags::read_write());
    ok!(fs.remove("/f"));
    assert_missing(fs, "/f");
    assert_eq!(
        take(&mut h, 4),
        b"data",
        "a removed file stays readable through its handle"
    );
    put(&mut h, b"more");
    ok!(h.seek(SeekFrom::Start(0)));
    assert_eq!(rest(&mut h), b"datamore");
    assert_eq!(ok!(h.stat()).size, 8, "a removed file's handle still stats");
    assert!(
        tree_of(fs).is_empty(),
        "writing a removed file brings nothing back"
    );
    write(fs, "/f", "new");
    assert_eq!(ok!(h.read_at(&mut [0; 8], 0)), 8);
    put(&mut h, b"!");
    assert_tree(fs, &[("/f", Some("new"))]);
}

fn stat_sizes_and_kinds(fs: &dyn FileService) {
    write(fs, "/f", "12345");
    mkdir(fs, "/d");
    let md = ok!(fs.stat("/f"));
    assert!(md.is_file() && md.size == 5, "stat(\"/f\") = {md:?}");
    assert!(
        !md.readonly,
        "a file of a writable service is not read-only"
    );
    let md = ok!(fs.stat("/d"));
    assert!(md.is_dir(), "stat(\"/d\") = {md:?}");
    assert_eq!(md.size, 0, "directories have size 0");
    ok!(append_file(fs, "/f", "678"));
    assert_eq!(size(fs, "/f"), 8);
    let entries = ok!(fs.readdir("/"));
    let f = entries
        .iter()
        .find(|e| e.name == "f")
        .expect("/f is listed");
    assert_eq!(
        (f.kind, f.size),
        (FileKind::File, 8),
        "readdir agrees with stat"
    );
    let d = entries
        .iter()
        .find(|e| e.name == "d")
        .expect("/d is listed");
    assert_eq!(d.kind, FileKind::Directory);
}

fn ids_are_stable_and_distinct(fs: &dyn FileService) {
    write(fs, "/a", "a");
    write(fs, "/b", "b");
    mkdir(fs, "/d");
    write(fs, "/d/c", "c");
    let paths = ["/", "/a", "/b", "/d", "/d/c"];
    let ids: Vec<u64> = paths.iter().map(|p| id(fs, p)).collect();
    for (i, a) in ids.iter().enumerate() {
        for (j, b) in ids.iter().enumerate().skip(i + 1) {
            assert_ne!(a, b, "{} and {} have the same id", paths[i], paths[j]);
        }
    }
    ok!(append_file(fs, "/a", "more"));
    write(fs, "/b", "replaced");
    let again: Vec<u64> = paths.iter().map(|p| id(fs, p)).collect();
    assert_eq!(ids, again, "ids stay the same while the files exist");
    let h = open(fs, "/a", OpenFlags::read_only());
    assert_eq!(
        ok!(h.stat()).id,
        ids[1],
        "a handle stats with its file's id"
    );
    for e in ok!(fs.readdir("/")) {
        let want = id(fs, &format!("/{}", e.name));
        assert!(
            e.id == 0 || e.id == want,
            "readdir lists /{} with id {}, stat says {want}",
            e.name,
            e.id
        );
    }
}

fn ids_survive_rename(fs: &dyn FileService) {
    write(fs, "/a", "a");
    mkdir(fs, "/d");
    let (file, dir) = (id(fs, "/a"), id(fs, "/d"));
    ok!(fs.rename("/a", "/b"));
    ok!(fs.rename("/d", "/e"));
    assert_eq!(id(fs, "/b"), file, "a renamed file keeps its id");
    assert_eq!(id(fs, "/e"), dir, "a renamed directory keeps its id");
}

fn parent_is_a_file(fs: &dyn FileService) {
    write(fs, "/f", "x");
    write(fs, "/g", "g");
    for p in ["/f/x", "/f/x/y"] {
        err!(fs.stat(p), NotADirectory);
        err!(fs.open(p, OpenFlags::read_only()), NotADirectory);
        err!(fs.open(p, OpenFlags::create_truncate()), NotADirectory);
        err!(fs.mkdir(p), NotADirectory);
        err!(fs.remove(p), NotADirectory);
        err!(fs.readdir(p), NotADirectory);
        err!(fs.rename(p, "/y"), NotADirectory);
        err!(fs.rename("/g", p), NotADirectory);
    }
    assert_tree(fs, &[("/f", Some("x")), ("/g", Some("g"))]);
}

fn parent_is_missing(fs: &dyn FileService) {
    write(fs, "/g", "g");
    for p in ["/m/x", "/m/x/y"] {
        err!(fs.stat(p), NotFound);
        err!(fs.open(p, OpenFlags::read_only()), NotFound);
        err!(fs.open(p, OpenFlags::create_truncate()), NotFound);
        err!(fs.mkdir(p), NotFound);
        err!(fs.remove(p), NotFound);
        err!(fs.readdir(p), NotFound);
        err!(fs.rename(p, "/y"), NotFound);
        err!(fs.rename("/g", p), NotFound);
    }
    assert_tree(fs, &[("/g", Some("g"))]);
}

fn paths_are_normalised(fs: &dyn FileService) {
    write(fs, "f", "relative");
    assert_content(fs, "/f", b"relative");
    write(fs, "/x/../g", "dotdot");
    assert_content(fs, "/g", b"dotdot");
    mkdir(fs, "//d//");
    write(fs, "/d/./x", "x");
    assert_content(fs, "d/x", b"x");
    assert_eq!(names(fs, "/d/."), ["x"]);
    ok!(fs.rename("d/x", "/d/../y"));
    assert_tree(
        fs,
        &[
            ("/d", None),
            ("/f", Some("relative")),
            ("/g", Some("dotdot")),
            ("/y", Some("x")),
        ],
    );
}

// ---------------------------------------------------------------------------
// Malformed paths and messages.

/// Malformed paths and the error kind each must give, whatever the operation.
pub(crate) fn malformed_paths() -> Vec<(String, FsErrorKind)> {
    use FsErrorKind::{Escape, InvalidPath};
    vec![
        (String::new(), InvalidPath),
        ("/f\0".to_owned(), InvalidPath),
        ("/d/\0x".to_owned(), InvalidPath),
        ("f\0/../g".to_owned(), InvalidPath),
        ("/..".to_owned(), Escape),
        ("..".to_owned(), Escape),
        ("/d/../..".to_owned(), Escape),
        ("/d/../../f".to_owned(), Escape),
        ("d/../../new".to_owned(), Escape),
        (format!("/{}", "n".repeat(MAX_NAME_LEN + 1)), InvalidPath),
        (
            format!("/d/./{}", "n".repeat(MAX_NAME_LEN + 45)),
            InvalidPath,
        ),
        ("/abc".repeat(MAX_PATH_LEN / 4 + 1), InvalidPath),
        // Short enough as written, one byte too long once made absolute.
        (
            format!("{}xx", "x/".repeat(MAX_PATH_LEN / 2 - 1)),
            InvalidPath,
        ),
    ]
}

/// A path as printed in a failure message: long ones are cut short.
pub(crate) fn short(path: &str) -> String {
    if path.len() <= 48 {
        format!("{path:?}")
    } else {
        let mut end = 32;
        while !path.is_char_boundary(end) {
            end -= 1;
        }
        format!("{:?}... ({} bytes)", &path[..end], path.len())
    }
}

/// Records whether `result` is an error of kind `want`.
pub(crate) fn expect_kind<T>(
    failures: &mut Vec<String>,
    what: impl FnOnce() -> String,
    result: Result<T>,
    want: FsErrorKind,
) {
    match result {
        Err(e) if e.kind() == want => {}
        Err(e) => failures.push(format!("{} gave {e}, expected {want:?}", what())),
        Ok(_) => failures.push(format!("{} succeeded, expected {want:?}", what())),
    }
}

/// Every operation given `bad` must fail with `want`; returns the failures.
pub(crate) fn try_everything(
    fs: &dyn FileService,
    bad: &str,
    want: FsErrorKind,
    file: &str,
    dir: &str,
) -> Vec<String> {
    let mut failures = Vec::new();
    let p = short(bad);
    let f = &mut failures;
    expect_kind(f, || format!("stat({p})"), fs.stat(bad), want);
    expect_kind(f, || format!("readdir({p})"), fs.readdir(bad), want);
    expect_kind(f, || format!("mkdir({p})"), fs.mkdir(bad), want);
    expect_kind(f, || format!("remove({p})"), fs.remove(bad), want);
    for flags in [
        OpenFlags::read_only(),
        OpenFlags::write_only(),
        OpenFlags::read_write(),
        OpenFlags::create_truncate(),
        OpenFlags::append_create(),
        create_new(),
        OpenFlags::directory(),
        // Invalid flags too: the path is checked first.
        OpenFlags::read_only().with_truncate(true),
    ] {
        expect_kind(
            f,
            || format!("open({p}, {flags:?})"),
            fs.open(bad, flags),
            want,
        );
    }
    for (from, to) in [
        (bad, "/new"),
        (bad, file),
        (bad, dir),
        (file, bad),
        (dir, bad),
        ("/missing", bad),
        (bad, bad),
    ] {
        let what = || format!("rename({}, {})", short(from), short(to));
        expect_kind(f, what, fs.rename(from, to), want);
    }
    failures
}

fn malformed_paths_change_nothing(fs: &dyn FileService) {
    write(fs, "/f", "data");
    mkdir(fs, "/d");
    write(fs, "/d/g", "g");
    mkdir(fs, "/e");
    let before = tree_of(fs);
    let mut failures = Vec::new();
    for (bad, want) in malformed_paths() {
        failures.extend(try_everything(fs, &bad, want, "/f", "/d"));
        let now = tree_of(fs);
        if now != before {
            failures.push(format!(
                "operations on {} changed the tree: {now:?}",
                short(&bad)
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    assert_eq!(tree_of(fs), before);
}

fn error_messages_name_the_path(fs: &dyn FileService) {
    let names_path = |e: oanix_vfs::FsError, path: &str| {
        let msg = e.to_string();
        assert!(
            msg.contains(path),
            "the message `{msg}` does not name {path}"
        );
    };
    names_path(err!(fs.stat("/nope"), NotFound), "/nope");
    names_path(
        err!(fs.open("/nope/x", OpenFlags::read_only()), NotFound),
        "/nope",
    );
    mkdir(fs, "/dir");
    write(fs, "/dir/f", "x");
    names_path(err!(fs.remove("/dir"), NotEmpty), "/dir");
    names_path(
        err!(fs.open("/dir", OpenFlags::write_only()), IsADirectory),
        "/dir",
    );
    names_path(err!(fs.mkdir("/dir"), AlreadyExists), "/dir");
    names_path(err!(fs.readdir("/dir/f"), NotADirectory), "/dir/f");
    names_path(err!(fs.stat("/a\0b"), InvalidPath), "/a");
    names_path(err!(fs.stat("/x/../.."), Escape), "/x/../..");
}
