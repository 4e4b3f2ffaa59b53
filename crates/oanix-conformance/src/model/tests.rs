//! Tests of the reference model itself: its rules on known cases, so that
//! a disagreement with a service can be trusted to be the service's.

use super::*;

fn op_open(p: &str, flags: OpenFlags) -> Op {
    Op::Open {
        path: p.into(),
        flags,
    }
}

#[test]
fn the_model_follows_the_rules() {
    let mut m = ModelFs::new();
    let create = OpenFlags::create_truncate();
    assert_eq!(m.apply(&op_open("/a", create)), Ok(Outcome::Done));
    assert_eq!(m.apply(&op_open("/a/", create)), Err(K::NotADirectory));
    assert_eq!(m.apply(&op_open("/n/", create)), Err(K::IsADirectory));
    assert_eq!(m.apply(&op_open("/a/b", create)), Err(K::NotADirectory));
    assert_eq!(m.apply(&Op::Mkdir { path: "/d".into() }), Ok(Outcome::Done));
    assert_eq!(m.apply(&op_open("/d/f", create)), Ok(Outcome::Done));
    let rename = |from: &str, to: &str| Op::Rename {
        from: from.into(),
        to: to.into(),
    };
    assert_eq!(m.apply(&rename("/d", "/d/x")), Err(K::InvalidInput));
    assert_eq!(m.apply(&rename("/a", "/d")), Err(K::IsADirectory));
    assert_eq!(m.apply(&rename("/d", "/a")), Err(K::NotADirectory));
    assert_eq!(m.apply(&rename("/d", "/e")), Ok(Outcome::Done));
    assert_eq!(m.apply(&Op::Remove { path: "/e".into() }), Err(K::NotEmpty));
    let tree = m.tree();
    let paths: Vec<&str> = tree.iter().map(|(p, _)| p).collect();
    assert_eq!(paths, ["/a", "/e", "/e/f"]);
}

#[test]
fn mount_points_are_fixed() {
    let mut m = ModelFs::new().with_mounts(["/", "/a", "/a/n", "/b"]);
    let rename = |from: &str, to: &str| Op::Rename {
        from: from.into(),
        to: to.into(),
    };
    assert_eq!(
        m.apply(&Op::Remove { path: "/b".into() }),
        Err(K::PermissionDenied)
    );
    assert_eq!(
        m.apply(&Op::Mkdir { path: "/a".into() }),
        Err(K::AlreadyExists)
    );
    assert_eq!(m.apply(&rename("/a/x", "/a/n/x")), Err(K::CrossDevice));
    assert_eq!(m.apply(&rename("/a/x", "/a/y")), Err(K::NotFound));
    assert_eq!(m.apply(&rename("/x", "/b")), Err(K::PermissionDenied));
    let listing = m.apply(&Op::Readdir { path: "/a".into() });
    assert_eq!(
        listing,
        Ok(Outcome::Entries(vec![("n".into(), FileKind::Directory, 0)]))
    );
}

fn op(kind: fn(String) -> Op, p: &str) -> Op {
    kind(p.to_owned())
}

fn stat(p: String) -> Op {
    Op::Stat { path: p }
}

fn read(p: String) -> Op {
    Op::Read { path: p }
}

fn symlink(m: &mut ModelFs, target: &str, link: &str) {
    let op = Op::Symlink {
        target: target.into(),
        link: link.into(),
    };
    assert_eq!(m.apply(&op), Ok(Outcome::Done), "{op}");
}

fn file(m: &mut ModelFs, p: &str, data: &str) {
    assert_eq!(
        m.apply(&op_open(p, OpenFlags::create_truncate())),
        Ok(Outcome::Done)
    );
    let append = Op::Append {
        path: p.into(),
        data: data.as_bytes().to_vec(),
    };
    assert_eq!(m.apply(&append), Ok(Outcome::Wrote(data.len())));
}

fn data(d: &str) -> OpResult {
    Ok(Outcome::Data(d.as_bytes().to_vec()))
}

#[test]
fn the_model_resolves_targets_as_the_contract_says() {
    let mut m = ModelFs::new();
    for d in ["/a", "/a/b", "/elsewhere"] {
        assert_eq!(m.apply(&Op::Mkdir { path: d.into() }), Ok(Outcome::Done));
    }
    file(&mut m, "/a/b/c", "abc");
    file(&mut m, "/a/c", "ac");
    file(&mut m, "/c", "c");
    symlink(&mut m, "c", "/a/b/rel");
    symlink(&mut m, "../c", "/a/b/up");
    symlink(&mut m, "/c", "/a/b/abs");
    symlink(&mut m, "../../../../c", "/a/high");
    symlink(&mut m, "/elsewhere", "/a/sub");
    symlink(&mut m, "sub/../c", "/a/lexical");
    symlink(&mut m, "b", "/a/lb");
    assert_eq!(m.apply(&op(read, "/a/b/rel")), data("abc"));
    assert_eq!(m.apply(&op(read, "/a/b/up")), data("ac"));
    assert_eq!(m.apply(&op(read, "/a/b/abs")), data("c"));
    assert_eq!(m.apply(&op(read, "/a/high")), data("c"));
    assert_eq!(m.apply(&op(read, "/a/lexical")), data("ac"));
    assert_eq!(m.apply(&op(read, "/a/lb/c")), data("abc"));
    assert_eq!(m.apply(&op(read, "/a/lb/rel")), data("abc"));
    let lstat = Op::Lstat {
        path: "/a/lb".into(),
    };
    assert_eq!(
        m.apply(&lstat),
        Ok(Outcome::Stat {
            kind: FileKind::Symlink,
            size: 1,
            nlink: 1
        })
    );
    assert_eq!(m.apply(&op(stat, "/a/lb/c/")), Err(K::NotADirectory));
    let listing = m.apply(&Op::Readdir {
        path: "/a/lb/".into(),
    });
    assert!(matches!(listing, Ok(Outcome::Entries(e)) if e.len() == 4));
}

#[test]
fn the_model_ends_loops_after_max_hops() {
    let mut m = ModelFs::new();
    file(&mut m, "/f", "end");
    let mut prev = "f".to_owned();
    for i in 1..=MAX_HOPS {
        let name = format!("c{i}");
        symlink(&mut m, &prev, &format!("/{name}"));
        prev = name;
    }
    assert_eq!(m.apply(&op(read, &format!("/{prev}"))), data("end"));
    symlink(&mut m, &prev, "/over");
    assert_eq!(m.apply(&op(stat, "/over")), Err(K::Loop));
    symlink(&mut m, "self", "/self");
    assert_eq!(m.apply(&op(stat, "/self/x")), Err(K::Loop));
    let nofollow = op_open("/c1", OpenFlags::read_only().with_nofollow(true));
    assert_eq!(m.apply(&nofollow), Err(K::Loop));
    let exclusive = op_open("/c1", OpenFlags::write_only().with_create_new(true));
    assert_eq!(m.apply(&exclusive), Err(K::AlreadyExists));
}

#[test]
fn the_model_creates_through_dangling_links() {
    let mut m = ModelFs::new();
    symlink(&mut m, "missing", "/l");
    assert_eq!(m.apply(&op(stat, "/l")), Err(K::NotFound));
    assert_eq!(
        m.apply(&op_open("/l", OpenFlags::create_truncate())),
        Ok(Outcome::Done)
    );
    let tree = m.tree();
    assert_eq!(tree.get("/missing"), Some(&Node::File(Vec::new())));
    assert_eq!(tree.link("/l"), Some("missing"));
    assert_eq!(
        m.apply(&Op::Remove { path: "/l/".into() }),
        Err(K::NotADirectory)
    );
    assert_eq!(
        m.apply(&Op::Remove { path: "/l".into() }),
        Ok(Outcome::Done)
    );
}

#[test]
fn hard_links_share_one_file_in_the_model() {
    let mut m = ModelFs::new();
    file(&mut m, "/a", "one");
    let link = |from: &str, to: &str| Op::Link {
        from: from.into(),
        to: to.into(),
    };
    assert_eq!(m.apply(&link("/a", "/b")), Ok(Outcome::Done));
    let two = Ok(Outcome::Stat {
        kind: FileKind::File,
        size: 3,
        nlink: 2,
    });
    assert_eq!(m.apply(&op(stat, "/b")), two);
    let write = Op::WriteAt {
        path: "/b".into(),
        offset: 0,
        data: b"T".to_vec(),
    };
    assert_eq!(m.apply(&write), Ok(Outcome::Wrote(1)));
    assert_eq!(m.apply(&op(read, "/a")), data("Tne"));
    let rename = Op::Rename {
        from: "/a".into(),
        to: "/b".into(),
    };
    assert_eq!(m.apply(&rename), Ok(Outcome::Done));
    assert_eq!(m.apply(&op(stat, "/a")), two, "both names are left");
    assert_eq!(m.apply(&Op::Mkdir { path: "/d".into() }), Ok(Outcome::Done));
    assert_eq!(m.apply(&link("/d", "/e")), Err(K::PermissionDenied));
    assert_eq!(m.apply(&link("/a", "/d")), Err(K::AlreadyExists));
    assert_eq!(
        m.apply(&Op::Remove { path: "/a".into() }),
        Ok(Outcome::Done)
    );
    assert_eq!(
        m.apply(&op(stat, "/b")),
        Ok(Outcome::Stat {
            kind: FileKind::File,
            size: 3,
            nlink: 1
        })
    );
    let mut none = ModelFs::new().with_links(LinkSupport::Symlinks);
    assert_eq!(none.apply(&link("/x", "/y")), Err(K::Unsupported));
}

#[test]
fn links_in_a_namespace_follow_mount_rules_at_every_step() {
    let mut m = ModelFs::new().with_mounts(["/", "/a", "/b"]);
    file(&mut m, "/b/f", "bf");
    symlink(&mut m, "/b", "/a/l");
    // Both paths go through /a/l: one step takes both to /b.
    let rename = Op::Rename {
        from: "/a/l/f".into(),
        to: "/a/l/g".into(),
    };
    assert_eq!(m.apply(&rename), Ok(Outcome::Done));
    let rename = Op::Rename {
        from: "/a/l/g".into(),
        to: "/a/g".into(),
    };
    assert_eq!(m.apply(&rename), Err(K::CrossDevice));
    let link = Op::Link {
        from: "/a/l/g".into(),
        to: "/a/l/h".into(),
    };
    assert_eq!(m.apply(&link), Ok(Outcome::Done));
    let link = Op::Link {
        from: "/b".into(),
        to: "/x".into(),
    };
    assert_eq!(m.apply(&link), Err(K::PermissionDenied));
    assert_eq!(
        m.apply(&Op::Symlink {
            target: "x".into(),
            link: "/a".into()
        }),
        Err(K::AlreadyExists)
    );
}
