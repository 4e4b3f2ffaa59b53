//! FuncFs and the builders of MapFs and FuncFs: computed files, messages
//! per write, a fixed set of files, and what the builders accept.

use std::sync::{Arc, Mutex};

use oanix_prims::{FuncFs, MapFs};
use oanix_vfs::{
    FileKind, FileService, FsErrorKind, OpenFlags, read_file, read_to_string, write_file,
};

/// A control file whose writes are recorded and whose reads count them.
fn control() -> (FuncFs, Arc<Mutex<Vec<Vec<u8>>>>) {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let (r, w) = (Arc::clone(&seen), Arc::clone(&seen));
    let fs = FuncFs::builder()
        .read_only("/version", || Ok(b"1.0\n".to_vec()))
        .read_write(
            "/ctl/messages",
            move || Ok(format!("{}\n", r.lock().unwrap().len()).into_bytes()),
            move |msg| {
                if msg.is_empty() {
                    return Err(oanix_vfs::FsError::invalid_input("/ctl/messages", "empty"));
                }
                w.lock().unwrap().push(msg.to_vec());
                Ok(())
            },
        )
        .write_only("/ctl/sink", |_| Ok(()))
        .dir("/empty")
        .build();
    (fs, seen)
}

#[test]
fn each_write_is_one_message_and_a_read_after_it_sees_its_effect() {
    let (fs, seen) = control();
    let mut h = fs.open("/ctl/messages", OpenFlags::read_write()).unwrap();
    h.write(b"first").unwrap();
    h.write(b"second").unwrap();
    let mut buf = [0u8; 16];
    let n = h.read(&mut buf).unwrap();
    assert_eq!(&buf[..n], b"2\n");
    assert_eq!(
        *seen.lock().unwrap(),
        [b"first".to_vec(), b"second".to_vec()]
    );
    // A refused message fails that write and records nothing.
    let e = h.write(b"").unwrap_err();
    assert_eq!(e.kind(), FsErrorKind::InvalidInput);
    assert_eq!(seen.lock().unwrap().len(), 2);
}

#[test]
fn a_reader_keeps_its_snapshot() {
    let (fs, _) = control();
    let mut reader = fs.open("/ctl/messages", OpenFlags::read_only()).unwrap();
    let mut buf = [0u8; 1];
    reader.read(&mut buf).unwrap();
    write_file(&fs, "/ctl/messages", "x").unwrap();
    let mut rest = [0u8; 8];
    let n = reader.read(&mut rest).unwrap();
    assert_eq!(
        &[&buf[..], &rest[..n]].concat(),
        b"0\n",
        "the snapshot of the first read"
    );
    assert_eq!(read_to_string(&fs, "/ctl/messages").unwrap(), "1\n");
}

#[test]
fn the_set_of_files_is_fixed_and_permissions_hold() {
    let (fs, _) = control();
    assert_eq!(read_file(&fs, "/version").unwrap(), b"1.0\n");
    assert_eq!(
        write_file(&fs, "/version", "2.0").unwrap_err().kind(),
        FsErrorKind::ReadOnly
    );
    let mut sink = fs.open("/ctl/sink", OpenFlags::write_only()).unwrap();
    sink.write(b"ok").unwrap();
    let mut buf = [0u8; 4];
    assert_eq!(
        sink.read(&mut buf).unwrap_err().kind(),
        FsErrorKind::BadHandle
    );
    for r in [
        fs.mkdir("/new").map(|_| ()),
        fs.remove("/version"),
        fs.rename("/version", "/v"),
        fs.open("/new", OpenFlags::create_truncate()).map(|_| ()),
    ] {
        assert_eq!(r.unwrap_err().kind(), FsErrorKind::PermissionDenied);
    }
    assert_eq!(fs.stat("/nope").unwrap_err().kind(), FsErrorKind::NotFound);
    assert_eq!(
        fs.stat("/version/x").unwrap_err().kind(),
        FsErrorKind::NotADirectory
    );
    assert_eq!(
        fs.stat("/version/").unwrap_err().kind(),
        FsErrorKind::NotADirectory
    );
    assert_eq!(
        fs.open("/ctl", OpenFlags::write_only())
            .err()
            .unwrap()
            .kind(),
        FsErrorKind::IsADirectory
    );
}

#[test]
fn listings_and_stat() {
    let (fs, _) = control();
    let root: Vec<(String, FileKind)> = fs
        .readdir("/")
        .unwrap()
        .into_iter()
        .map(|e| (e.name, e.kind))
        .collect();
    assert_eq!(
        root,
        [
            ("ctl".to_owned(), FileKind::Directory),
            ("empty".to_owned(), FileKind::Directory),
            ("version".to_owned(), FileKind::File),
        ]
    );
    let md = fs.stat("/version").unwrap();
    assert_eq!(
        (md.size, md.readonly),
        (0, true),
        "computed files report size 0"
    );
    assert!(!fs.stat("/ctl/messages").unwrap().readonly);
    assert!(fs.readdir("/empty").unwrap().is_empty());
    let ids: std::collections::BTreeSet<u64> = ["/", "/ctl", "/empty", "/version", "/ctl/sink"]
        .iter()
        .map(|p| fs.stat(p).unwrap().id)
        .collect();
    assert_eq!(ids.len(), 5, "ids are distinct");
}

#[test]
fn builders_report_what_they_cannot_build() {
    let e = MapFs::builder()
        .file("/a", "file")
        .file("/a/b", "below a file")
        .try_build()
        .unwrap_err();
    assert_eq!(e.kind(), FsErrorKind::InvalidInput);
    assert_eq!(e.path(), "/a");
    let e = MapFs::builder()
        .file("/x\0", "nul")
        .try_build()
        .unwrap_err();
    assert_eq!(e.kind(), FsErrorKind::InvalidPath);
    let e = MapFs::builder()
        .file("/../x", "up")
        .try_build()
        .unwrap_err();
    assert_eq!(e.kind(), FsErrorKind::Escape);
    let e = MapFs::builder()
        .dir("/d")
        .file("/d", "clash")
        .try_build()
        .unwrap_err();
    assert_eq!(e.path(), "/d");
    let e = FuncFs::builder()
        .read_only("/", || Ok(Vec::new()))
        .try_build()
        .unwrap_err();
    assert_eq!(e.kind(), FsErrorKind::IsADirectory);
    // `build` leaves out what `try_build` refuses, and keeps the rest.
    let fs = MapFs::builder()
        .file("/a", "dropped: a directory is below it")
        .file("/a/b", "kept")
        .file("/bad\0", "dropped")
        .file("/c", "kept")
        .build();
    assert_eq!(read_to_string(&fs, "/a/b").unwrap(), "kept");
    assert_eq!(read_to_string(&fs, "/c").unwrap(), "kept");
    assert_eq!(fs.readdir("/").unwrap().len(), 2);
    // Later entries replace earlier ones; paths are normalised.
    let fs = MapFs::builder()
        .file("x/./y", "old")
        .file("/x/y", "new")
        .build();
    assert_eq!(read_to_string(&fs, "/x/y").unwrap(), "new");
}

#[test]
fn static_data_from_include_bytes_style_arrays_builds() {
    static DATA: [u8; 4] = *b"data";
    let fs = MapFs::builder().file("/d", &DATA).build();
    assert_eq!(read_file(&fs, "/d").unwrap(), b"data");
    assert_eq!(fs.stat("/d").unwrap().size, 4);
}
