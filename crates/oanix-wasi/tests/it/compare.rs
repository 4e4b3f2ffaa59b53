//! OANIX against wasmtime-wasi on the same programs: the `errnos` guests
//! (one in Rust on the raw preview1 imports, one in C on wasi-libc's POSIX
//! calls) print one numbered line per call — its errno or what it returned
//! — and run under wasmtime-wasi over a real temporary directory and under
//! OANIX over the same tree (a `MemFs`, and a `WorkspaceFs` over another
//! real directory), preopened the same way as fd 3. The outputs are compared
//! line by line: every difference fails the test unless it is one of the
//! [`Known`] differences listed below, each with the reason OANIX answers
//! what it does. A listed difference that no longer occurs fails too, so
//! the list stays exact.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::Path;

use oanix_prims::MemFs;
use oanix_services::WorkspaceFs;
use oanix_vfs::{FileService, Namespace, OpenFlags};
use oanix_wasi::RunConfig;
use wasmtime::{Engine, Linker, Module, Store};
use wasmtime_wasi::p1::WasiP1Ctx;
use wasmtime_wasi::p2::pipe::MemoryOutputPipe;
use wasmtime_wasi::{FsPerms, I32Exit, WasiCtxBuilder};

use crate::c_guest;
use crate::guests::{guest, runtime};

/// The name the tree is preopened as, in both runtimes.
const PREOPEN: &str = "/sandbox";

/// The tree every run starts from: directories, then files with contents.
const DIRS: [&str; 2] = ["dir", "emptydir"];
const FILES: [(&str, &str); 3] = [
    ("file.txt", "hello world"),
    ("empty", ""),
    ("dir/inner.txt", "inner"),
];

/// Where OANIX serves the tree from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Backend {
    MemFs,
    WorkspaceFs,
}

/// A difference between OANIX and wasmtime-wasi that OANIX means.
struct Known {
    /// The case's name (without its number); `*` stands for any run of
    /// characters, for a difference every case of a kind shares.
    case: &'static str,
    /// What OANIX prints after the name.
    oanix: &'static str,
    /// What wasmtime-wasi prints after the name.
    wasmtime: &'static str,
}

/// A known difference (with both backends).
const fn both(case: &'static str, oanix: &'static str, wasmtime: &'static str) -> Known {
    Known {
        case,
        oanix,
        wasmtime,
    }
}

fn make_host_tree(root: &Path) {
    for d in DIRS {
        std::fs::create_dir_all(root.join(d)).unwrap();
    }
    for (f, data) in FILES {
        std::fs::write(root.join(f), data).unwrap();
    }
}

fn make_tree(fs: &dyn FileService) {
    for d in DIRS {
        fs.mkdir(&format!("/{d}")).unwrap();
    }
    for (f, data) in FILES {
        let mut h = fs
            .open(&format!("/{f}"), OpenFlags::create_truncate())
            .unwrap();
        h.write(data.as_bytes()).unwrap();
    }
}

/// Runs `wasm` under wasmtime-wasi with `dir` preopened; its stdout.
fn run_wasmtime(wasm: &[u8], dir: &Path, name: &str) -> String {
    let engine = Engine::default();
    let mut linker: Linker<WasiP1Ctx> = Linker::new(&engine);
    wasmtime_wasi::p1::add_to_linker_sync(&mut linker, |t| t).unwrap();
    let module = Module::new(&engine, wasm).unwrap();
    let stdout = MemoryOutputPipe::new(1 << 20);
    let stderr = MemoryOutputPipe::new(1 << 20);
    let ctx = WasiCtxBuilder::new()
        .args(&[name])
        .stdout(stdout.clone())
        .stderr(stderr.clone())
        .allow_blocking_current_thread(true)
        .preopened_dir(dir, PREOPEN, FsPerms::ReadWrite)
        .unwrap()
        .build_p1();
    let mut store = Store::new(&engine, ctx);
    let instance = linker.instantiate(&mut store, &module).unwrap();
    let start = instance
        .get_typed_func::<(), ()>(&mut store, "_start")
        .unwrap();
    match start.call(&mut store, ()) {
        Ok(()) => {}
        Err(e) => match e.downcast_ref::<I32Exit>() {
            Some(I32Exit(0)) => {}
            _ => panic!(
                "{name} under wasmtime-wasi: {e:?}\nstdout: {}\nstderr: {}",
                String::from_utf8_lossy(&stdout.contents()),
                String::from_utf8_lossy(&stderr.contents())
            ),
        },
    }
    drop(store);
    String::from_utf8(stdout.contents().to_vec()).unwrap()
}

/// Runs `wasm` under OANIX with the tree served by `backend`; its stdout.
fn run_oanix(wasm: &[u8], backend: Backend, name: &str) -> String {
    let host_dir = tempfile::tempdir().unwrap();
    let ns = match backend {
        Backend::MemFs => {
            let fs = MemFs::new();
            make_tree(&fs);
            Namespace::builder().mount(PREOPEN, fs).build()
        }
        Backend::WorkspaceFs => {
            make_host_tree(host_dir.path());
            let fs = WorkspaceFs::new(host_dir.path()).unwrap();
            Namespace::builder().mount(PREOPEN, fs).build()
        }
    };
    let config = RunConfig::new()
        .arg0(name)
        .clear_preopens()
        .preopen(PREOPEN, PREOPEN);
    let r = runtime().run_bytes(wasm, &ns, &config).unwrap();
    assert!(
        r.success(),
        "{name} under OANIX ({backend:?}): exit {:?}, trap {:?}\nstderr: {}",
        r.exit_code,
        r.trap,
        r.stderr_text()
    );
    r.stdout_text()
}

/// Whether `name` matches `pattern`, where `*` is any run of characters.
fn matches(pattern: &str, name: &str) -> bool {
    match pattern.split_once('*') {
        None => pattern == name,
        Some((head, tail)) => {
            name.starts_with(head)
                && (0..=name.len() - head.len()).any(|i| {
                    name.is_char_boundary(head.len() + i) && matches(tail, &name[head.len() + i..])
                })
        }
    }
}

/// `NNN name result` lines by number: (name, result).
fn cases(out: &str) -> BTreeMap<u32, (String, String)> {
    let mut map = BTreeMap::new();
    for line in out.lines() {
        let mut parts = line.splitn(3, ' ');
        let (Some(n), Some(name)) = (parts.next(), parts.next()) else {
            panic!("malformed line {line:?}");
        };
        let n: u32 = n
            .parse()
            .unwrap_or_else(|_| panic!("malformed line {line:?}"));
        let rest = parts.next().unwrap_or_default().to_owned();
        assert!(map.insert(n, (name.to_owned(), rest)).is_none(), "{line}");
    }
    map
}

/// Compares the two outputs of `guest`; returns the number of cases.
fn compare(guest: &str, wasm: &[u8], backend: Backend, known: &[Known]) -> usize {
    let host_dir = tempfile::tempdir().unwrap();
    make_host_tree(host_dir.path());
    let theirs = cases(&run_wasmtime(wasm, host_dir.path(), guest));
    let ours = cases(&run_oanix(wasm, backend, guest));
    let mut report = String::new();
    let mut used = vec![false; known.len()];
    for (n, (name, ours_v)) in &ours {
        let Some((their_name, theirs_v)) = theirs.get(n) else {
            let _ = writeln!(report, "{n:03} {name}: only OANIX ran it ({ours_v})");
            continue;
        };
        assert_eq!(name, their_name, "case {n} has two names");
        if ours_v == theirs_v {
            continue;
        }
        let listed = known
            .iter()
            .enumerate()
            .find(|(_, k)| matches(k.case, name) && k.oanix == ours_v && k.wasmtime == theirs_v);
        match listed {
            Some((i, _)) => used[i] = true,
            None => {
                let _ = writeln!(
                    report,
                    "{n:03} {name}: OANIX {ours_v:?}, wasmtime-wasi {theirs_v:?}"
                );
            }
        }
    }
    for n in theirs.keys().filter(|n| !ours.contains_key(n)) {
        let _ = writeln!(report, "{n:03} {}: only wasmtime-wasi ran it", theirs[n].0);
    }
    for (k, used) in known.iter().zip(&used) {
        if !used {
            let _ = writeln!(report, "listed but not seen: {}", k.case);
        }
    }
    assert!(
        report.is_empty(),
        "{guest} over {backend:?} differs from wasmtime-wasi:\n{report}"
    );
    let differ = ours
        .iter()
        .filter(|(n, v)| theirs.get(n) != Some(v))
        .count();
    eprintln!(
        "{guest} over {backend:?}: {} cases, {differ} known differences",
        ours.len()
    );
    ours.len()
}

/// Where the Rust guest deliberately differs.
const RUST_KNOWN: &[Known] = &[
    // OANIX implements `fd_allocate` (the file grows to `offset + len`, and
    // needs a descriptor open to write and the `fd_allocate` right);
    // wasmtime-wasi answers ENOTSUP for every file.
    both("fd_allocate.file", "ok", "ENOTSUP"),
    both("fd_allocate.rofile", "EBADF", "ENOTSUP"),
    both("mode.read_only.allocate", "EBADF", "ENOTSUP"),
    both("allocate.overflow", "EFBIG", "ENOTSUP"),
    both("rights.allocate_dropped", "ENOTCAPABLE", "ENOTSUP"),
    // A call that needs a directory, given any other open descriptor, is
    // ENOTDIR, as POSIX answers for the `*at` calls and `fdopendir`;
    // wasmtime-wasi answers EBADF (but ENOTDIR for `path_open` on a file).
    both("path_*.file", "ENOTDIR", "EBADF"),
    both("path_*.rofile", "ENOTDIR", "EBADF"),
    both("path_*.stdin", "ENOTDIR", "EBADF"),
    both("path_*.stdout", "ENOTDIR", "EBADF"),
    both("fd_readdir.*", "ENOTDIR", "EBADF"),
    // A subscription to a descriptor that cannot be polled fails in its own
    // event (`event.error`, as the interface defines it), and the others
    // are still reported; wasmtime-wasi fails the whole call.
    both("poll_read.*", "ok events=1 error=EBADF", "EBADF"),
    // A directory gets only rights that apply to directories: `fd_read` is
    // not one (reading a directory is EBADF in both).
    both(
        "fd_fdstat_get.dir",
        "ok type=3 flags=0 read=false write=false",
        "ok type=3 flags=0 read=true write=false",
    ),
    // A preopen's times are set like any directory's; wasmtime-wasi holds
    // its preopens as `O_PATH` descriptors, on which futimens(2) fails.
    both("fd_filestat_set_times.preopen", "ok", "EBADF"),
    // rmdir(2) removes `dir/`; wasmtime-wasi's lookup turns the trailing
    // slash into `dir/.`, which rmdir refuses.
    both("rmdir.trailing_slash", "ok", "EINVAL"),
    // A trailing slash means the path must be a directory: stat(2) of
    // `file/` is ENOTDIR, and of `link-to-dir/` describes the directory.
    both("stat.file_slash", "ENOTDIR", "ok type=4 size=11"),
    both("stat.dir_link_slash", "ok type=3", "ok type=7"),
    // Rights. OANIX keeps every descriptor's base and inheriting rights,
    // narrows them with `fd_fdstat_set_rights` and by `path_open`, and
    // checks them in every call (ENOTCAPABLE), as the interface defines
    // them. wasmtime-wasi keeps none: `fd_fdstat_set_rights` is ENOTSUP on
    // files and directories (EBADF on the streams), `fd_fdstat_get` reports
    // nearly every right, and calls are never refused for a right. The
    // cases after a narrowing therefore differ, and so do the values that
    // follow from calls wasmtime-wasi let through.
    both(
        "rights.file_opened",
        "ok base=0x8e001ff inheriting=0xfffffff",
        "ok base=0x3fffffff inheriting=0x3fffffff",
    ),
    both("rights.drop_read", "ok", "ENOTSUP"),
    both(
        "rights.after_drop_read",
        "ok base=0x8e001fd inheriting=0x0",
        "ok base=0x3fffffff inheriting=0x3fffffff",
    ),
    both("rights.read_dropped", "ENOTCAPABLE", "ok 4 \"hell\""),
    both("rights.pread_dropped", "ENOTCAPABLE", "ok 4 \"hell\""),
    both(
        "rights.poll_read_dropped",
        "ok events=1 error=ENOTCAPABLE",
        "ok events=1 error=SUCCESS",
    ),
    both("rights.widen", "ENOTCAPABLE", "ENOTSUP"),
    both("rights.widen_inheriting", "ENOTCAPABLE", "ENOTSUP"),
    both("rights.drop_set_size", "ok", "ENOTSUP"),
    both("rights.set_size_dropped", "ENOTCAPABLE", "ok"),
    both("rights.drop_seek", "ok", "ENOTSUP"),
    both("rights.seek_dropped", "ENOTCAPABLE", "ok 1"),
    both("rights.seek_cur0_with_tell", "ok 0", "ok 1"),
    both("rights.tell_with_tell", "ok 0", "ok 1"),
    both("rights.pwrite_without_seek", "ENOTCAPABLE", "ok 1"),
    both("rights.drop_tell", "ok", "ENOTSUP"),
    both("rights.tell_dropped", "ENOTCAPABLE", "ok 1"),
    both("rights.stat_dropped", "ENOTCAPABLE", "ok type=4 size=11"),
    both("rights.times_dropped", "ENOTCAPABLE", "ok"),
    both("rights.advise_dropped", "ENOTCAPABLE", "ok"),
    both("rights.sync_dropped", "ENOTCAPABLE", "ok"),
    both("rights.datasync_dropped", "ENOTCAPABLE", "ok"),
    both("rights.set_flags_dropped", "ENOTCAPABLE", "ok"),
    both("rights.drop_all", "ok", "ENOTSUP"),
    both("rights.write_dropped", "ENOTCAPABLE", "ok 1"),
    both(
        "dir_rights.opened",
        "ok base=0x7bffe00 inheriting=0xfffffff",
        "ok base=0x3fb7ffbb inheriting=0x3fb7ffbb",
    ),
    both("dir_rights.drop_create_file", "ok", "ENOTSUP"),
    both("dir_rights.creat_dropped", "ENOTCAPABLE", "ok"),
    both("dir_rights.drop_trunc", "ok", "ENOTSUP"),
    both("dir_rights.trunc_dropped", "ENOTCAPABLE", "ok"),
    both(
        "dir_rights.inner_intact",
        "ok type=4 size=5",
        "ok type=4 size=0",
    ),
    both("dir_rights.inherit_no_write", "ok", "ENOTSUP"),
    // Without `fd_write` to inherit, the file is opened to read only.
    both(
        "dir_rights.opened_without_write",
        "ok type=4 flags=0 read=true write=false",
        "ok type=4 flags=0 read=true write=true",
    ),
    both("dir_rights.write_not_inherited", "EBADF", "ok 1"),
    both("dir_rights.drop_mkdir", "ok", "ENOTSUP"),
    both("dir_rights.mkdir_dropped", "ENOTCAPABLE", "ok"),
    both("dir_rights.drop_readdir", "ok", "ENOTSUP"),
    both(
        "dir_rights.readdir_dropped",
        "ENOTCAPABLE",
        "ok ..:3,.:3,inner.txt:4,new.txt:4,sub:3",
    ),
    both("dir_rights.drop_stat", "ok", "ENOTSUP"),
    both("dir_rights.stat_dropped", "ENOTCAPABLE", "ok type=4 size=1"),
    both("dir_rights.drop_unlink", "ok", "ENOTSUP"),
    both("dir_rights.unlink_dropped", "ENOTCAPABLE", "ok"),
    both("dir_rights.drop_rename", "ok", "ENOTSUP"),
    both("dir_rights.rename_dropped", "ENOTCAPABLE", "ENOENT"),
    both("dir_rights.rename_target_dropped", "ENOTCAPABLE", "ENOENT"),
    both("dir_rights.rmdir_dropped", "ENOTCAPABLE", "ENOENT"),
    both("dir_rights.symlink_dropped", "ENOTCAPABLE", "ok"),
    both("dir_rights.link_dropped", "ENOTCAPABLE", "ENOENT"),
    both("dir_rights.readlink_dropped", "ENOTCAPABLE", "ENOENT"),
    both("dir_rights.utimes_dropped", "ENOTCAPABLE", "ENOENT"),
    both("dir_rights.open_kept", "ok", "ENOENT"),
    both("dir_rights.drop_open", "ok", "ENOTSUP"),
    both("dir_rights.open_dropped", "ENOTCAPABLE", "ENOENT"),
    // A descriptor opened with no rights can do nothing.
    both(
        "asked.nothing_fdstat",
        "ok base=0x0 inheriting=0xfffffff",
        "ok base=0x3fffffbf inheriting=0x3fffffbf",
    ),
    both("asked.nothing_stat", "ENOTCAPABLE", "ok type=4 size=11"),
    both("asked.nothing_read", "ENOTCAPABLE", "ok 4 \"hhll\""),
    both(
        "asked.dir_open_only",
        "ENOTCAPABLE",
        "ok ..:3,.:3,l:7,new.txt:4,sub:3",
    ),
    // The rights reported are the rights held: the preopen's include
    // `path_filestat_set_size` (the right to open with `oflags::trunc`),
    // the streams' `fd_filestat_get` and `poll_fd_readwrite`, which both
    // runtimes allow on them.
    both(
        "asked.preopen",
        "ok base=0x7bffe00 inheriting=0xfffffff",
        "ok base=0x7b7fe00 inheriting=0xff7ffff",
    ),
    both(
        "asked.stdin",
        "ok base=0x8200002 inheriting=0x0",
        "ok base=0x2 inheriting=0x2",
    ),
    both(
        "asked.stdout",
        "ok base=0x8200040 inheriting=0x0",
        "ok base=0x40 inheriting=0x40",
    ),
    both("stderr.drop_write", "ok", "EBADF"),
    both("stderr.write_dropped", "ENOTCAPABLE", "ok 1"),
];

/// Where the C guest deliberately differs.
const C_KNOWN: &[Known] = &[
    // mkdirat(2) and fdopendir(3) on a descriptor that is not a directory
    // are ENOTDIR (see the Rust guest's `path_*.file`).
    both("mkdirat.file_as_dir", "ENOTDIR", "EBADF"),
    both("fdopendir.file", "ENOTDIR", "EBADF"),
    // wasi-libc opens `O_RDONLY` files without `fd_filestat_set_size`, so
    // ftruncate(2) on one is refused for the right (wasmtime-wasi keeps no
    // rights and answers what the host's ftruncate does).
    both("ftruncate.rdonly", "ENOTCAPABLE", "EINVAL"),
    // lstat(2) of `link-to-dir/` describes the directory (a trailing slash
    // is followed); wasmtime-wasi describes the link.
    both("lstat.dir_link_slash", "ok dir", "ok link"),
];

#[test]
fn patterns_match_runs_of_characters() {
    assert!(matches("path_*.file", "path_open.file"));
    assert!(matches("*.file", "x.file"));
    assert!(!matches("path_*.file", "path_open.rofile"));
    assert!(matches("a*b*c", "abxbc"));
    assert!(!matches("a*b*c", "acb"));
    assert!(matches("exact", "exact"));
}

#[test]
fn rust_guest_matches_wasmtime_over_memfs() {
    let n = compare("errnos", &guest("errnos"), Backend::MemFs, RUST_KNOWN);
    assert!(n > 400, "{n} cases");
}

#[test]
fn rust_guest_matches_wasmtime_over_workspacefs() {
    compare("errnos", &guest("errnos"), Backend::WorkspaceFs, RUST_KNOWN);
}

#[test]
fn c_guest_matches_wasmtime_over_memfs() {
    let n = compare(
        "errnos-c",
        &c_guest::build("errnos"),
        Backend::MemFs,
        C_KNOWN,
    );
    assert!(n > 100, "{n} cases");
}

#[test]
fn c_guest_matches_wasmtime_over_workspacefs() {
    compare(
        "errnos-c",
        &c_guest::build("errnos"),
        Backend::WorkspaceFs,
        C_KNOWN,
    );
}
