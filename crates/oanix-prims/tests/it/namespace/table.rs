//! The printed mount table, and replaying it.

use std::collections::HashMap;
use std::sync::Arc;

use oanix_conformance::tree_of;
use oanix_prims::{CowFs, MapFs, MemFs};
use oanix_vfs::{
    FileService, FsErrorKind as K, MountFlags, MountSpec, Namespace, NamespaceBuilder, read_file,
    walk, write_file,
};

type Services = HashMap<&'static str, Arc<dyn FileService>>;

fn services() -> Services {
    let mut s: Services = HashMap::new();
    s.insert("root", Arc::new(MemFs::new()));
    s.insert(
        "tools",
        Arc::new(MapFs::builder().file("/ls", "ls").build()),
    );
    s.insert("core", Arc::new(MemFs::new()));
    s.insert("it's #1", Arc::new(CowFs::new(MemFs::new())));
    s
}

fn build(s: &Services) -> Namespace {
    Namespace::builder()
        .mount_shared("/", "root", s["root"].clone(), MountFlags::replace())
        .mount_shared("/tools", "tools", s["tools"].clone(), MountFlags::replace())
        .mount_shared(
            "/tools",
            "core",
            s["core"].clone(),
            MountFlags::before().create(),
        )
        .mount_shared(
            "/with space/x",
            "it's #1",
            s["it's #1"].clone(),
            MountFlags::after().create(),
        )
        .bind("/tools", "/bin")
        .bind_with("/with space", "/bin", MountFlags::after())
        .build()
}

fn replay(text: &str, s: &Services) -> Namespace {
    NamespaceBuilder::from_mount_table(text, |source, _target| s.get(source).cloned())
        .unwrap()
        .build()
}

#[test]
fn the_mount_table_reads_like_plan_9() {
    let s = services();
    let ns = build(&s);
    assert_eq!(
        ns.mount_table(),
        "mount / root\n\
         mount /tools tools\n\
         mount -bc /tools core\n\
         mount -ac '/with space/x' 'it''s #1'\n\
         bind /tools /bin\n\
         bind -a '/with space' /bin\n"
    );
}

#[test]
fn a_replayed_table_builds_an_equal_namespace_that_behaves_the_same() {
    let s = services();
    let ns = build(&s);
    let text = ns.mount_table();
    let again = replay(&text, &s);
    assert_eq!(again, ns);
    assert_eq!(again.mount_table(), text);
    assert_eq!(again.specs(), ns.specs());
    assert_eq!(again.mount_points(), ns.mount_points());

    write_file(&ns, "/f", "root file").unwrap();
    write_file(&ns, "/tools/new", "into core").unwrap();
    write_file(&ns, "/with space/x/deep", "cow").unwrap();
    assert_eq!(tree_of(&again), tree_of(&ns));
    for entry in walk(&ns, "/") {
        let p = entry.unwrap().path;
        let (a, b) = (ns.stat(&p).unwrap(), again.stat(&p).unwrap());
        assert_eq!(
            (a.kind, a.size, a.device),
            (b.kind, b.size, b.device),
            "{p}"
        );
        if a.is_file() {
            assert_eq!(
                read_file(&ns, &p).unwrap(),
                read_file(&again, &p).unwrap(),
                "{p}"
            );
        } else {
            assert_eq!(ns.readdir(&p).unwrap(), again.readdir(&p).unwrap(), "{p}");
        }
    }
    assert_eq!(
        ns.rename("/tools/new", "/tools/ls").unwrap_err().kind(),
        again.rename("/tools/new", "/tools/ls").unwrap_err().kind()
    );
}

#[test]
fn namespaces_of_other_services_are_not_equal() {
    let (s, t) = (services(), services());
    let ns = build(&s);
    assert_eq!(ns, ns.clone());
    assert_ne!(build(&t), ns, "same table, other service instances");
    assert_eq!(replay(&ns.mount_table(), &t), build(&t));
    let shorter =
        NamespaceBuilder::from_mount_table("mount / root\n", |src, _| s.get(src).cloned())
            .unwrap()
            .build();
    assert_ne!(shorter, ns);
}

#[test]
fn specs_serialise() {
    let ns = build(&services());
    let json = serde_json::to_string(&ns.specs()).unwrap();
    let back: Vec<MountSpec> = serde_json::from_str(&json).unwrap();
    assert_eq!(back, ns.specs());
}

#[test]
fn replay_errors_name_the_line() {
    let s = services();
    let resolve = |src: &str, _: &str| s.get(src).cloned();
    let err = |text: &str| NamespaceBuilder::from_mount_table(text, resolve).unwrap_err();
    let e = err("mount / root\nmount /x nosuch\n");
    assert_eq!(
        (e.kind(), e.path()),
        (K::InvalidInput, "mount table line 2")
    );
    assert!(e.to_string().contains("nosuch"), "{e}");
    let e = err("# comment\n\nmount /.. root\n");
    assert_eq!(e.path(), "mount table line 3");
    assert!(e.to_string().contains("escapes"), "{e}");
    let e = err("mount / root\nbind /a '/b\0'\n");
    assert_eq!(e.path(), "mount table line 2");
    let e = err("umount /\n");
    assert_eq!(e.path(), "mount table line 1");
    assert!(e.to_string().contains("umount"), "{e}");
}
