//! Every `wasi_snapshot_preview1` import, written against the documented
//! ABI with `Linker::func_wrap`, over the namespace and the descriptor table.
//!
//! Each import reads its arguments out of guest memory through [`Mem`](abi::Mem)
//! (bounds-checked: a bad pointer is `EFAULT`), calls the namespace or the
//! open `FileHandle` directly on the calling thread, and answers an `errno`.
//! Reads and writes go straight between the guest's memory and the handle,
//! without an intermediate copy.
//!
//! Each call checks, in this order: its flag and enum arguments (`EINVAL`),
//! that the descriptor is open (`EBADF`) and of a kind the call takes
//! (`EBADF` for a file call on anything else and `ESPIPE` for seeks and
//! positional I/O on a stream, as wasmtime-wasi answers; `ENOTDIR` for a
//! directory call on anything else, as POSIX answers), that a file is open
//! for what the call does (`EBADF`, or `EINVAL` for `fd_filestat_set_size`
//! as ftruncate(2)), then the rights the call needs (`ENOTCAPABLE`), then
//! the path (see [`resolve_path`] and [`confined`]).

use std::collections::VecDeque;
use std::io::SeekFrom;
use std::time::{SystemTime, UNIX_EPOCH};

use oanix_vfs::{FileService, Metadata, Namespace, OpenFlags, Timestamp, links};
use wasmtime::{Caller, Linker};

use super::abi::{
    self, DIRENT_SIZE, Errno, Filestat, clock, fdflags, filetype, fstflags, oflags, rights,
};
use super::call::{Cx, HostResult, call};
use super::errno::from_fs_error;
use super::fdtable::{DirFd, Fd, FdKind, FileFd, Rights, listing};
use super::{Exit, Host, monotonic_anchor, poll};

/// `lookupflags::symlink_follow`.
const SYMLINK_FOLLOW: u32 = 1;

/// The import module every preview1 guest names.
pub(crate) const MODULE: &str = "wasi_snapshot_preview1";

/// Registers one import whose arguments are all converted with `as`.
macro_rules! import {
    ($linker:ident, $name:literal, |$cx:ident $(, $arg:ident : $wasm:ty => $ty:ty)*| $body:expr) => {
        $linker.func_wrap(
            MODULE,
            $name,
            |mut caller: Caller<'_, Host>, $($arg: $wasm),*| -> wasmtime::Result<i32> {
                $(
                    #[allow(clippy::cast_sign_loss, reason = "wasm passes unsigned values as signed")]
                    let $arg = $arg as $ty;
                )*
                call(&mut caller, |$cx| $body)
            },
        )?;
    };
}

/// Defines every preview1 import in `linker`.
pub(crate) fn add_to_linker(linker: &mut Linker<Host>) -> wasmtime::Result<()> {
    import!(linker, "args_get", |cx, argv: i32 => u32, buf: i32 => u32| cx.strings_get(true, argv, buf));
    import!(linker, "args_sizes_get", |cx, count: i32 => u32, size: i32 => u32| cx.strings_sizes(true, count, size));
    import!(linker, "environ_get", |cx, environ: i32 => u32, buf: i32 => u32| cx.strings_get(false, environ, buf));
    import!(linker, "environ_sizes_get", |cx, count: i32 => u32, size: i32 => u32| cx.strings_sizes(false, count, size));
    import!(linker, "clock_res_get", |cx, id: i32 => u32, out: i32 => u32| cx.clock_res_get(id, out));
    import!(linker, "clock_time_get", |cx, id: i32 => u32, _precision: i64 => u64, out: i32 => u32| cx.clock_time_get(id, out));
    import!(linker, "fd_advise", |cx, fd: i32 => u32, _offset: i64 => u64, _len: i64 => u64, advice: i32 => u32| cx.fd_advise(fd, advice));
    import!(linker, "fd_allocate", |cx, fd: i32 => u32, offset: i64 => u64, len: i64 => u64| cx.fd_allocate(fd, offset, len));
    import!(linker, "fd_close", |cx, fd: i32 => u32| cx.fd_close(fd));
    import!(linker, "fd_datasync", |cx, fd: i32 => u32| cx.fd_sync(fd, rights::FD_DATASYNC));
    import!(linker, "fd_fdstat_get", |cx, fd: i32 => u32, out: i32 => u32| cx.fd_fdstat_get(fd, out));
    import!(linker, "fd_fdstat_set_flags", |cx, fd: i32 => u32, flags: i32 => u32| cx.fd_fdstat_set_flags(fd, flags));
    import!(linker, "fd_fdstat_set_rights", |cx, fd: i32 => u32, base: i64 => u64, inheriting: i64 => u64| cx.fd_fdstat_set_rights(fd, base, inheriting));
    import!(linker, "fd_filestat_get", |cx, fd: i32 => u32, out: i32 => u32| cx.fd_filestat_get(fd, out));
    import!(linker, "fd_filestat_set_size", |cx, fd: i32 => u32, size: i64 => u64| cx.fd_filestat_set_size(fd, size));
    import!(linker, "fd_filestat_set_times", |cx, fd: i32 => u32, atim: i64 => u64, mtim: i64 => u64, flags: i32 => u32| cx.fd_filestat_set_times(fd, atim, mtim, flags));
    import!(linker, "fd_pread", |cx, fd: i32 => u32, iovs: i32 => u32, n: i32 => u32, offset: i64 => u64, out: i32 => u32| cx.fd_pread(fd, iovs, n, offset, out));
    import!(linker, "fd_prestat_get", |cx, fd: i32 => u32, out: i32 => u32| cx.fd_prestat_get(fd, out));
    import!(linker, "fd_prestat_dir_name", |cx, fd: i32 => u32, buf: i32 => u32, len: i32 => u32| cx.fd_prestat_dir_name(fd, buf, len));
    import!(linker, "fd_pwrite", |cx, fd: i32 => u32, iovs: i32 => u32, n: i32 => u32, offset: i64 => u64, out: i32 => u32| cx.fd_pwrite(fd, iovs, n, offset, out));
    import!(linker, "fd_read", |cx, fd: i32 => u32, iovs: i32 => u32, n: i32 => u32, out: i32 => u32| cx.fd_read(fd, iovs, n, out));
    import!(linker, "fd_readdir", |cx, fd: i32 => u32, buf: i32 => u32, len: i32 => u32, cookie: i64 => u64, out: i32 => u32| cx.fd_readdir(fd, buf, len, cookie, out));
    import!(linker, "fd_renumber", |cx, from: i32 => u32, to: i32 => u32| Ok(cx.h.fds.renumber(from, to)?));
    import!(linker, "fd_seek", |cx, fd: i32 => u32, offset: i64 => i64, whence: i32 => u32, out: i32 => u32| cx.fd_seek(fd, offset, whence, out));
    import!(linker, "fd_sync", |cx, fd: i32 => u32| cx.fd_sync(fd, rights::FD_SYNC));
    import!(linker, "fd_tell", |cx, fd: i32 => u32, out: i32 => u32| cx.fd_seek(fd, 0, 1, out));
    import!(linker, "fd_write", |cx, fd: i32 => u32, iovs: i32 => u32, n: i32 => u32, out: i32 => u32| cx.fd_write(fd, iovs, n, out));
    import!(linker, "path_create_directory", |cx, fd: i32 => u32, p: i32 => u32, len: i32 => u32| cx.path_create_directory(fd, p, len));
    import!(linker, "path_filestat_get", |cx, fd: i32 => u32, flags: i32 => u32, p: i32 => u32, len: i32 => u32, out: i32 => u32| cx.path_filestat_get(fd, flags, p, len, out));
    import!(linker, "path_filestat_set_times", |cx, fd: i32 => u32, lookup: i32 => u32, p: i32 => u32, len: i32 => u32, atim: i64 => u64, mtim: i64 => u64, flags: i32 => u32| cx.path_filestat_set_times(fd, lookup, p, len, atim, mtim, flags));
    import!(linker, "path_link", |cx, old_fd: i32 => u32, old_flags: i32 => u32, old_p: i32 => u32, old_len: i32 => u32, new_fd: i32 => u32, new_p: i32 => u32, new_len: i32 => u32| cx.path_link(old_fd, old_flags, old_p, old_len, new_fd, new_p, new_len));
    import!(linker, "path_open", |cx, fd: i32 => u32, dirflags: i32 => u32, p: i32 => u32, len: i32 => u32, oflags: i32 => u32, base: i64 => u64, inheriting: i64 => u64, fdflags: i32 => u32, out: i32 => u32| cx.path_open(fd, dirflags, p, len, oflags, base, inheriting, fdflags, out));
    import!(linker, "path_readlink", |cx, fd: i32 => u32, p: i32 => u32, len: i32 => u32, buf: i32 => u32, buf_len: i32 => u32, out: i32 => u32| cx.path_readlink(fd, p, len, buf, buf_len, out));
    import!(linker, "path_remove_directory", |cx, fd: i32 => u32, p: i32 => u32, len: i32 => u32| cx.path_remove_directory(fd, p, len));
    import!(linker, "path_rename", |cx, fd: i32 => u32, old_p: i32 => u32, old_len: i32 => u32, new_fd: i32 => u32, new_p: i32 => u32, new_len: i32 => u32| cx.path_rename(fd, old_p, old_len, new_fd, new_p, new_len));
    import!(linker, "path_symlink", |cx, old_p: i32 => u32, old_len: i32 => u32, fd: i32 => u32, new_p: i32 => u32, new_len: i32 => u32| cx.path_symlink(old_p, old_len, fd, new_p, new_len));
    import!(linker, "path_unlink_file", |cx, fd: i32 => u32, p: i32 => u32, len: i32 => u32| cx.path_unlink_file(fd, p, len));
    import!(linker, "poll_oneoff", |cx, subs: i32 => u32, events: i32 => u32, n: i32 => u32, out: i32 => u32| poll::poll_oneoff(cx, subs, events, n, out));
    linker.func_wrap(
        MODULE,
        "proc_exit",
        |_caller: Caller<'_, Host>, code: i32| -> wasmtime::Result<()> {
            #[allow(clippy::cast_sign_loss, reason = "the exit code is a u32")]
            Err(Exit(code as u32).into())
        },
    )?;
    import!(linker, "proc_raise", |_cx, _signal: i32 => u32| Err(Errno::NOTSUP.into()));
    import!(linker, "sched_yield", |_cx| {
        std::thread::yield_now();
        Ok(())
    });
    import!(linker, "random_get", |cx, buf: i32 => u32, len: i32 => u32| cx.random_get(buf, len));
    import!(linker, "sock_accept", |cx, fd: i32 => u32, _flags: i32 => u32, _out: i32 => u32| cx.no_sockets(fd));
    import!(linker, "sock_recv", |cx, fd: i32 => u32, _ri: i32 => u32, _ri_len: i32 => u32, _flags: i32 => u32, _out_len: i32 => u32, _out_flags: i32 => u32| cx.no_sockets(fd));
    import!(linker, "sock_send", |cx, fd: i32 => u32, _si: i32 => u32, _si_len: i32 => u32, _flags: i32 => u32, _out: i32 => u32| cx.no_sockets(fd));
    import!(linker, "sock_shutdown", |cx, fd: i32 => u32, _how: i32 => u32| cx.no_sockets(fd));
    Ok(())
}

#[cfg(test)]
/// The names of the 46 preview1 imports [`add_to_linker`] defines.
pub(crate) const IMPORTS: [&str; 46] = [
    "args_get",
    "args_sizes_get",
    "environ_get",
    "environ_sizes_get",
    "clock_res_get",
    "clock_time_get",
    "fd_advise",
    "fd_allocate",
    "fd_close",
    "fd_datasync",
    "fd_fdstat_get",
    "fd_fdstat_set_flags",
    "fd_fdstat_set_rights",
    "fd_filestat_get",
    "fd_filestat_set_size",
    "fd_filestat_set_times",
    "fd_pread",
    "fd_prestat_get",
    "fd_prestat_dir_name",
    "fd_pwrite",
    "fd_read",
    "fd_readdir",
    "fd_renumber",
    "fd_seek",
    "fd_sync",
    "fd_tell",
    "fd_write",
    "path_create_directory",
    "path_filestat_get",
    "path_filestat_set_times",
    "path_link",
    "path_open",
    "path_readlink",
    "path_remove_directory",
    "path_rename",
    "path_symlink",
    "path_unlink_file",
    "poll_oneoff",
    "proc_exit",
    "proc_raise",
    "sched_yield",
    "random_get",
    "sock_accept",
    "sock_recv",
    "sock_send",
    "sock_shutdown",
];

/// The bytes a write call writes (see `Cx::write_source`).
enum WriteSource {
    /// One buffer of guest memory, used in place.
    Guest { buf: u32, len: u32 },
    /// Several buffers, concatenated.
    Gathered(Vec<u8>),
}

/// A guest path resolved against a directory descriptor.
struct Resolved {
    /// The namespace path.
    path: String,
    /// Whether the guest wrote it so that it must name a directory (a
    /// trailing `/`, `.` or `..`).
    must_be_dir: bool,
    /// Whether its last component is `.` or `..`.
    ends_in_dots: bool,
    /// Whether it names the directory descriptor itself (`.`, `a/..`).
    is_base: bool,
}

/// Resolves `guest` relative to the directory at `dir`, as a capability:
/// the result is `dir` or below it. Empty paths are `ENOENT`; absolute paths
/// and a `..` that would climb above `dir` are `EPERM` (a path that leaves
/// the directory it was given, as wasmtime-wasi answers); NUL is `EINVAL`.
/// `.` and empty components are skipped; a `..` removes the component
/// before it (lexically, as the namespace's own lookups do), which must then
/// be a directory (`stat` tells, as a POSIX lookup would find `file/..` to
/// be `ENOTDIR` and `missing/..` `ENOENT`).
fn resolve_path(
    stat: impl Fn(&str) -> Result<Metadata, Errno>,
    dir: &str,
    guest: &str,
) -> Result<Resolved, Errno> {
    if guest.is_empty() {
        return Err(Errno::NOENT);
    }
    if guest.len() > oanix_vfs::path::MAX_PATH_LEN {
        return Err(Errno::NAMETOOLONG);
    }
    if guest.contains('\0') {
        return Err(Errno::INVAL);
    }
    if guest.starts_with('/') {
        return Err(Errno::PERM);
    }
    let mut out = String::with_capacity(dir.len() + guest.len() + 1);
    out.push_str(dir);
    let base_len = out.len();
    let mut depth = 0usize;
    let mut last = "";
    for comp in guest.split('/') {
        last = comp;
        match comp {
            "" | "." => {}
            ".." => {
                if depth == 0 {
                    return Err(Errno::PERM);
                }
                if !stat(&out)?.is_dir() {
                    return Err(Errno::NOTDIR);
                }
                let cut = out.rfind('/').unwrap_or(0);
                out.truncate(cut.max(base_len));
                if out.is_empty() {
                    out.push('/');
                }
                depth -= 1;
            }
            name => {
                if name.len() > oanix_vfs::path::MAX_NAME_LEN {
                    return Err(Errno::NAMETOOLONG);
                }
                if !out.ends_with('/') {
                    out.push('/');
                }
                out.push_str(name);
                depth += 1;
            }
        }
    }
    Ok(Resolved {
        path: out,
        must_be_dir: matches!(last, "" | "." | ".."),
        ends_in_dots: matches!(last, "." | ".."),
        is_base: depth == 0,
    })
}

/// `path` (canonical, at or below `base`) with the symbolic links it goes
/// through resolved as a lookup that may not leave `base`: the link's
/// target is taken relative to the link's directory (lexically, as the
/// namespace takes it), and a target that is absolute or climbs above
/// `base` is `EPERM`, as for the guest's own paths; more than
/// [`links::MAX_HOPS`] links is `ELOOP`. The last component is followed
/// only if `follow_last`. What cannot be looked up is left as it is, for
/// the call to report.
///
/// Below the namespace root a link could otherwise lead outside the
/// directory the guest was given; at the root the namespace itself keeps
/// every lookup inside, so `base == "/"` is left to it (an absolute target
/// is then the namespace's own root, the guest's `/`).
fn confined(ns: &Namespace, base: &str, path: String, follow_last: bool) -> Result<String, Errno> {
    if base == "/" {
        return Ok(path);
    }
    let below = |p: &str| -> Vec<String> {
        p.get(base.len()..)
            .unwrap_or_default()
            .split('/')
            .filter(|c| !c.is_empty())
            .map(str::to_owned)
            .collect()
    };
    let mut todo: VecDeque<String> = below(&path).into();
    let mut done = base.to_owned();
    let mut hops = 0;
    while let Some(comp) = todo.pop_front() {
        let candidate = format!("{done}/{comp}");
        if todo.is_empty() && !follow_last {
            return Ok(candidate);
        }
        let Ok(md) = ns.lstat(&candidate) else {
            done = candidate;
            break;
        };
        if !md.is_symlink() {
            done = candidate;
            continue;
        }
        hops += 1;
        if hops > links::MAX_HOPS {
            return Err(Errno::LOOP);
        }
        let target = ns.readlink(&candidate).map_err(|e| from_fs_error(&e))?;
        if target.starts_with('/') {
            return Err(Errno::PERM);
        }
        // The target from the link's directory, lexically, then what was
        // left of the path; looked up again from `base`.
        let mut stack = below(&done);
        for t in target.split('/') {
            match t {
                "" | "." => {}
                ".." => {
                    if stack.pop().is_none() {
                        return Err(Errno::PERM);
                    }
                }
                name => stack.push(name.to_owned()),
            }
        }
        stack.extend(todo.drain(..));
        todo = stack.into();
        done = base.to_owned();
    }
    for rest in todo {
        done.push('/');
        done.push_str(&rest);
    }
    Ok(done)
}

/// A `filestat` from metadata.
fn filestat(md: &Metadata) -> Filestat {
    let t = |ts: Option<Timestamp>| ts.map_or(0, Timestamp::as_nanos);
    Filestat {
        dev: md.device,
        ino: md.id,
        filetype: filetype::of(md.kind),
        nlink: md.nlink,
        size: md.size,
        atim: t(md.accessed),
        mtim: t(md.modified),
        ctim: t(md.created.or(md.modified)),
    }
}

/// The times `fst_flags` asks for (`EINVAL` for a time both given and `now`).
fn times(
    atim: u64,
    mtim: u64,
    flags: u32,
) -> Result<(Option<Timestamp>, Option<Timestamp>), Errno> {
    let flags = u16::try_from(flags).map_err(|_| Errno::INVAL)?;
    let all = fstflags::ATIM | fstflags::ATIM_NOW | fstflags::MTIM | fstflags::MTIM_NOW;
    if flags & !all != 0
        || flags & (fstflags::ATIM | fstflags::ATIM_NOW) == (fstflags::ATIM | fstflags::ATIM_NOW)
        || flags & (fstflags::MTIM | fstflags::MTIM_NOW) == (fstflags::MTIM | fstflags::MTIM_NOW)
    {
        return Err(Errno::INVAL);
    }
    let now = Timestamp::now();
    let pick = |set: u16, set_now: u16, value: u64| {
        if flags & set != 0 {
            Some(Timestamp(value))
        } else if flags & set_now != 0 {
            Some(now)
        } else {
            None
        }
    };
    Ok((
        pick(fstflags::ATIM, fstflags::ATIM_NOW, atim),
        pick(fstflags::MTIM, fstflags::MTIM_NOW, mtim),
    ))
}

impl Cx<'_> {
    fn strings(&self, args: bool) -> &[Vec<u8>] {
        if args { &self.h.args } else { &self.h.env }
    }

    fn strings_get(&mut self, args: bool, ptrs: u32, buf: u32) -> HostResult {
        let list = if args {
            std::mem::take(&mut self.h.args)
        } else {
            std::mem::take(&mut self.h.env)
        };
        let result = (|| {
            let mut offset = buf;
            for (i, s) in list.iter().enumerate() {
                let slot = u32::try_from(i)
                    .ok()
                    .and_then(|i| i.checked_mul(4))
                    .and_then(|o| ptrs.checked_add(o))
                    .ok_or(Errno::FAULT)?;
                self.mem.put_u32(slot, offset)?;
                self.mem.write(offset, s)?;
                let len = u32::try_from(s.len()).map_err(|_| Errno::FAULT)?;
                offset = offset.checked_add(len).ok_or(Errno::FAULT)?;
            }
            Ok::<(), Errno>(())
        })();
        if args {
            self.h.args = list;
        } else {
            self.h.env = list;
        }
        Ok(result?)
    }

    fn strings_sizes(&mut self, args: bool, count: u32, size: u32) -> HostResult {
        let list = self.strings(args);
        let n = u32::try_from(list.len()).map_err(|_| Errno::TOOBIG)?;
        let bytes: usize = list.iter().map(Vec::len).sum();
        let bytes = u32::try_from(bytes).map_err(|_| Errno::TOOBIG)?;
        self.mem.put_u32(count, n)?;
        self.mem.put_u32(size, bytes)?;
        Ok(())
    }

    fn clock_res_get(&mut self, id: u32, out: u32) -> HostResult {
        let res = match id {
            clock::REALTIME => 1_000,
            clock::MONOTONIC | clock::PROCESS_CPUTIME | clock::THREAD_CPUTIME => 1,
            _ => return Err(Errno::INVAL.into()),
        };
        Ok(self.mem.put_u64(out, res)?)
    }

    fn clock_time_get(&mut self, id: u32, out: u32) -> HostResult {
        let nanos = |d: std::time::Duration| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX);
        let now = match id {
            clock::REALTIME => nanos(
                SystemTime::now()
                    .duration_since(UNIX_EPOCH)
                    .unwrap_or_default(),
            ),
            clock::MONOTONIC => nanos(monotonic_anchor().elapsed()),
            // No CPU clocks here: the time since the run started stands in.
            clock::PROCESS_CPUTIME | clock::THREAD_CPUTIME => nanos(self.h.started.elapsed()),
            _ => return Err(Errno::INVAL.into()),
        };
        Ok(self.mem.put_u64(out, now)?)
    }

    /// The open regular file `fd`, whose rights hold `needed`: `EBADF` for
    /// any other kind of descriptor (as wasmtime-wasi answers for the calls
    /// that take a file only), `ENOTCAPABLE` without the rights.
    fn file(&mut self, fd: u32, needed: u64) -> Result<&mut FileFd, Errno> {
        let entry = self.h.fds.get(fd)?;
        match &mut entry.kind {
            FdKind::File(f) => {
                entry.rights.require(needed)?;
                Ok(f)
            }
            _ => Err(Errno::BADF),
        }
    }

    fn fd_advise(&mut self, fd: u32, advice: u32) -> HostResult {
        if advice > 5 {
            return Err(Errno::INVAL.into());
        }
        self.file(fd, rights::FD_ADVISE)?;
        Ok(())
    }

    fn fd_allocate(&mut self, fd: u32, offset: u64, len: u64) -> HostResult {
        let f = self.file(fd, rights::FD_ALLOCATE)?;
        let end = offset.checked_add(len).ok_or(Errno::FBIG)?;
        if i64::try_from(end).is_err() {
            return Err(Errno::FBIG.into());
        }
        if !f.open_flags.can_write() {
            return Err(Errno::BADF.into());
        }
        if f.handle.stat()?.size < end {
            f.handle.set_len(end)?;
        }
        Ok(())
    }

    fn fd_close(&mut self, fd: u32) -> HostResult {
        let closed = self.h.fds.remove(fd)?;
        if let FdKind::File(mut f) = closed.kind {
            // The descriptor is closed either way (as close(2) does), but a
            // final flush that fails — a `result.json` that is not JSON, say —
            // is the guest's to know.
            f.handle.flush()?;
        }
        Ok(())
    }

    /// `fd_sync` (`needed` is `fd_sync`) and `fd_datasync` (`fd_datasync`):
    /// files only, as wasmtime-wasi answers (`EBADF` for directories).
    fn fd_sync(&mut self, fd: u32, needed: u64) -> HostResult {
        Ok(self.file(fd, needed)?.handle.flush()?)
    }

    fn fd_fdstat_get(&mut self, fd: u32, out: u32) -> HostResult {
        let entry = self.h.fds.get(fd)?;
        let ty = match &entry.kind {
            // Captured streams, not terminals (so `isatty` is false, as
            // wasmtime-wasi answers for streams that are not terminals).
            FdKind::Stdin | FdKind::Stdout | FdKind::Stderr => filetype::UNKNOWN,
            FdKind::File(_) => filetype::REGULAR_FILE,
            FdKind::Dir(_) => filetype::DIRECTORY,
        };
        let bytes = abi::encode_fdstat(
            ty,
            entry.fdflags,
            entry.rights.base,
            entry.rights.inheriting,
        );
        Ok(self.mem.write(out, &bytes)?)
    }

    fn fd_fdstat_set_flags(&mut self, fd: u32, flags: u32) -> HostResult {
        let flags = u16::try_from(flags).map_err(|_| Errno::INVAL)?;
        if flags & !fdflags::ALL != 0 {
            return Err(Errno::INVAL.into());
        }
        let ns = self.h.ns.clone();
        let entry = self.h.fds.get(fd)?;
        let FdKind::File(f) = &mut entry.kind else {
            // Only a file's flags change (wasmtime-wasi answers the same).
            return Err(Errno::BADF.into());
        };
        entry.rights.require(rights::FD_FDSTAT_SET_FLAGS)?;
        // No service has synchronous-write modes to switch on.
        if flags & (fdflags::DSYNC | fdflags::RSYNC | fdflags::SYNC) != 0 {
            return Err(Errno::INVAL.into());
        }
        let append = flags & fdflags::APPEND != 0;
        let nonblocking = flags & fdflags::NONBLOCK != 0;
        // Append switched on is done here (each write goes to the end);
        // switching it off, or a change of blocking mode, needs the service
        // to open the file again with the new flags.
        let reopen = (f.open_flags.append && !append) || f.open_flags.nonblocking != nonblocking;
        if reopen {
            let mut new_flags = f.open_flags;
            new_flags.create = false;
            new_flags.create_new = false;
            new_flags.truncate = false;
            if f.open_flags.append && !append {
                new_flags.append = false;
                new_flags.write = true;
            }
            new_flags.nonblocking = nonblocking;
            let pos = f.handle.seek(SeekFrom::Current(0))?;
            let mut handle = ns.open(&f.path, new_flags)?;
            handle.seek(SeekFrom::Start(pos))?;
            f.handle = handle;
            f.open_flags = new_flags;
        }
        entry.fdflags = flags;
        Ok(())
    }

    fn fd_fdstat_set_rights(&mut self, fd: u32, base: u64, inheriting: u64) -> HostResult {
        Ok(self.h.fds.get(fd)?.rights.narrow(base, inheriting)?)
    }

    fn fd_filestat_get(&mut self, fd: u32, out: u32) -> HostResult {
        let ns = self.h.ns.clone();
        let entry = self.h.fds.get(fd)?;
        entry.rights.require(rights::FD_FILESTAT_GET)?;
        let st = match &entry.kind {
            FdKind::File(f) => filestat(&f.handle.stat()?),
            FdKind::Dir(d) => match &d.handle {
                Some(h) => filestat(&h.stat()?),
                None => filestat(&ns.stat(&d.path)?),
            },
            FdKind::Stdin | FdKind::Stdout | FdKind::Stderr => Filestat::default(),
        };
        Ok(self.mem.write(out, &st.encode())?)
    }

    fn fd_filestat_set_size(&mut self, fd: u32, size: u64) -> HostResult {
        let f = self.file(fd, rights::FD_FILESTAT_SET_SIZE)?;
        if !f.open_flags.can_write() {
            // What ftruncate(2) answers on a descriptor not open to write.
            return Err(Errno::INVAL.into());
        }
        if i64::try_from(size).is_err() {
            return Err(Errno::INVAL.into());
        }
        Ok(f.handle.set_len(size)?)
    }

    fn fd_filestat_set_times(&mut self, fd: u32, atim: u64, mtim: u64, flags: u32) -> HostResult {
        let (a, m) = times(atim, mtim, flags)?;
        let ns = self.h.ns.clone();
        let entry = self.h.fds.get(fd)?;
        let path = match &entry.kind {
            FdKind::File(f) => f.path.clone(),
            FdKind::Dir(d) => d.path.clone(),
            FdKind::Stdin | FdKind::Stdout | FdKind::Stderr => return Err(Errno::BADF.into()),
        };
        entry.rights.require(rights::FD_FILESTAT_SET_TIMES)?;
        Ok(ns.set_times(&path, a, m)?)
    }

    /// The file `fd` for a positional or current-position read: stdin is
    /// `ESPIPE` for `fd_pread`, anything else but a file `EBADF`; a file not
    /// opened for reading is `EBADF`, one without `needed` `ENOTCAPABLE`.
    fn readable(&mut self, fd: u32, needed: u64, positional: bool) -> HostResult {
        let entry = self.h.fds.get(fd)?;
        match &entry.kind {
            FdKind::File(f) if !f.open_flags.can_read() => return Err(Errno::BADF.into()),
            FdKind::File(_) => {}
            FdKind::Stdin if positional => return Err(Errno::SPIPE.into()),
            FdKind::Stdin => {}
            _ => return Err(Errno::BADF.into()),
        }
        Ok(entry.rights.require(needed)?)
    }

    /// As [`readable`](Self::readable), for writes (stdout and stderr are
    /// `ESPIPE` for `fd_pwrite`).
    fn writable(&mut self, fd: u32, needed: u64, positional: bool) -> HostResult {
        let entry = self.h.fds.get(fd)?;
        match &entry.kind {
            FdKind::File(f) if !f.open_flags.can_write() => return Err(Errno::BADF.into()),
            FdKind::File(_) => {}
            FdKind::Stdout | FdKind::Stderr if positional => return Err(Errno::SPIPE.into()),
            FdKind::Stdout | FdKind::Stderr => {}
            _ => return Err(Errno::BADF.into()),
        }
        Ok(entry.rights.require(needed)?)
    }

    fn fd_pread(&mut self, fd: u32, iovs: u32, n: u32, offset: u64, out: u32) -> HostResult {
        self.readable(fd, rights::FD_READ | rights::FD_SEEK, true)?;
        let max = self.h.max_io as u64;
        let mut total: u64 = 0;
        for i in 0..n {
            let (buf, len) = self.mem.iovec(iovs, i)?;
            // At most `max_io` bytes per call: a short read.
            let len = len.min(u32::try_from(max - total).unwrap_or(u32::MAX));
            if len == 0 {
                if total >= max {
                    break;
                }
                continue;
            }
            let at = offset.checked_add(total).ok_or(Errno::INVAL)?;
            let FdKind::File(f) = &mut self.h.fds.get(fd)?.kind else {
                return Err(Errno::BADF.into());
            };
            let dst = self.mem.slice_mut(buf, len)?;
            let got = match f.handle.read_at(dst, at) {
                Ok(got) => got,
                Err(e) if total == 0 => {
                    self.check_deadline()?;
                    return Err(e.into());
                }
                Err(_) => break,
            };
            total += got as u64;
            if got < len as usize {
                break;
            }
        }
        self.check_deadline()?;
        Ok(self
            .mem
            .put_u32(out, u32::try_from(total).unwrap_or(u32::MAX))?)
    }

    fn fd_pwrite(&mut self, fd: u32, iovs: u32, n: u32, offset: u64, out: u32) -> HostResult {
        self.writable(fd, rights::FD_WRITE | rights::FD_SEEK, true)?;
        let source = self.write_source(iovs, n)?;
        let data: &[u8] = match &source {
            WriteSource::Guest { buf, len } => self.mem.slice(*buf, *len)?,
            WriteSource::Gathered(data) => data,
        };
        let FdKind::File(f) = &mut self.h.fds.get(fd)?.kind else {
            return Err(Errno::BADF.into());
        };
        let written = if data.is_empty() {
            0
        } else {
            f.handle.write_at(data, offset)?
        };
        Ok(self
            .mem
            .put_u32(out, u32::try_from(written).unwrap_or(u32::MAX))?)
    }

    /// What a write call writes: the bytes of its ciovec list, at most
    /// `max_io` of them. One buffer (the common case) is used where it lies
    /// in guest memory; several are concatenated into one host buffer, so
    /// that a capability file gets one message per call. Every iovec is
    /// checked, also those past the limit.
    fn write_source(&self, iovs: u32, n: u32) -> Result<WriteSource, Errno> {
        let max = self.h.max_io;
        let mut total = 0usize;
        let mut used = 0usize;
        let mut single = None;
        for i in 0..n {
            let (buf, len) = self.mem.iovec(iovs, i)?;
            self.mem.slice(buf, len)?;
            if len > 0 && total < max {
                used += 1;
                single = Some((buf, len));
            }
            total = total.saturating_add(len as usize);
        }
        match (used, single) {
            (1, Some((buf, len))) => Ok(WriteSource::Guest {
                buf,
                len: len.min(u32::try_from(max).unwrap_or(u32::MAX)),
            }),
            (0, _) | (_, None) => Ok(WriteSource::Gathered(Vec::new())),
            _ => {
                let mut data = Vec::with_capacity(total.min(max));
                for i in 0..n {
                    let room = max - data.len();
                    if room == 0 {
                        break;
                    }
                    let (buf, len) = self.mem.iovec(iovs, i)?;
                    let len = len.min(u32::try_from(room).unwrap_or(u32::MAX));
                    data.extend_from_slice(self.mem.slice(buf, len)?);
                }
                Ok(WriteSource::Gathered(data))
            }
        }
    }

    fn fd_prestat_get(&mut self, fd: u32, out: u32) -> HostResult {
        let name_len = match &self.h.fds.get(fd)?.kind {
            FdKind::Dir(DirFd {
                preopen: Some(name),
                ..
            }) => u32::try_from(name.len()).map_err(|_| Errno::NAMETOOLONG)?,
            _ => return Err(Errno::BADF.into()),
        };
        let mut prestat = [0u8; 8];
        prestat[4..].copy_from_slice(&name_len.to_le_bytes());
        Ok(self.mem.write(out, &prestat)?)
    }

    fn fd_prestat_dir_name(&mut self, fd: u32, buf: u32, len: u32) -> HostResult {
        let name = match &self.h.fds.get(fd)?.kind {
            FdKind::Dir(DirFd {
                preopen: Some(name),
                ..
            }) => name.clone(),
            // An open descriptor that is no preopen (the errno wasmtime-wasi
            // and the implementations before it answer).
            _ => return Err(Errno::NOTDIR.into()),
        };
        if (len as usize) < name.len() {
            return Err(Errno::NAMETOOLONG.into());
        }
        Ok(self.mem.write(buf, name.as_bytes())?)
    }

    fn fd_read(&mut self, fd: u32, iovs: u32, n: u32, out: u32) -> HostResult {
        self.readable(fd, rights::FD_READ, false)?;
        let max = self.h.max_io;
        let mut total: usize = 0;
        for i in 0..n {
            let (buf, len) = self.mem.iovec(iovs, i)?;
            // At most `max_io` bytes per call: a short read.
            let len = len.min(u32::try_from(max - total).unwrap_or(u32::MAX));
            if len == 0 {
                if total >= max {
                    break;
                }
                continue;
            }
            let dst = self.mem.slice_mut(buf, len)?;
            let result = match &mut self.h.fds.get(fd)?.kind {
                FdKind::Stdin => self.h.stdin.read(dst),
                FdKind::File(f) => f.handle.read(dst),
                _ => return Err(Errno::BADF.into()),
            };
            let got = match result {
                Ok(got) => got,
                Err(e) if total == 0 => {
                    self.check_deadline()?;
                    return Err(e.into());
                }
                Err(_) => break,
            };
            total += got;
            if got < len as usize {
                break;
            }
        }
        self.check_deadline()?;
        Ok(self
            .mem
            .put_u32(out, u32::try_from(total).unwrap_or(u32::MAX))?)
    }

    fn fd_write(&mut self, fd: u32, iovs: u32, n: u32, out: u32) -> HostResult {
        let source = self.write_source(iovs, n)?;
        self.writable(fd, rights::FD_WRITE, false)?;
        let data: &[u8] = match &source {
            WriteSource::Guest { buf, len } => self.mem.slice(*buf, *len)?,
            WriteSource::Gathered(data) => data,
        };
        let entry = self.h.fds.get(fd)?;
        let append = entry.fdflags & fdflags::APPEND != 0;
        let written = match &mut entry.kind {
            FdKind::Stdout => {
                self.h.stdout.push(data);
                data.len()
            }
            FdKind::Stderr => {
                self.h.stderr.push(data);
                data.len()
            }
            FdKind::File(f) => {
                if data.is_empty() {
                    0
                } else {
                    if append && !f.open_flags.append {
                        f.handle.seek(SeekFrom::End(0))?;
                    }
                    match f.handle.write(data) {
                        Ok(n) => n,
                        Err(e) => {
                            self.check_deadline()?;
                            return Err(e.into());
                        }
                    }
                }
            }
            FdKind::Stdin | FdKind::Dir(_) => return Err(Errno::BADF.into()),
        };
        self.check_deadline()?;
        Ok(self
            .mem
            .put_u32(out, u32::try_from(written).unwrap_or(u32::MAX))?)
    }

    fn fd_readdir(&mut self, fd: u32, buf: u32, len: u32, cookie: u64, out: u32) -> HostResult {
        let Host { fds, ns, .. } = &mut *self.h;
        let d = fds.dir(fd, rights::FD_READDIR)?;
        if cookie == 0 || d.listing.is_none() {
            let entries = ns.readdir(&d.path)?;
            d.listing = Some(listing(ns, &d.path, &d.root, entries));
        }
        let Some(entries) = &d.listing else {
            return Err(Errno::IO.into());
        };
        let skip = usize::try_from(cookie).unwrap_or(usize::MAX);
        let mut used: u32 = 0;
        let mut scratch = Vec::with_capacity(DIRENT_SIZE + 64);
        for (i, (name, ino, ft)) in entries.iter().enumerate().skip(skip) {
            abi::encode_dirent(i as u64 + 1, *ino, *ft, name, &mut scratch);
            let room = (len - used) as usize;
            let take = room.min(scratch.len());
            let at = buf.checked_add(used).ok_or(Errno::FAULT)?;
            self.mem.write(at, &scratch[..take])?;
            used += take as u32;
            if take < scratch.len() {
                break;
            }
        }
        Ok(self.mem.put_u32(out, used)?)
    }

    /// `fd_seek`, and `fd_tell` as a seek by 0 from the current position:
    /// such a seek needs `fd_tell` or `fd_seek`, any other `fd_seek`.
    fn fd_seek(&mut self, fd: u32, offset: i64, whence: u32, out: u32) -> HostResult {
        let pos = match whence {
            0 => SeekFrom::Start(u64::try_from(offset).map_err(|_| Errno::INVAL)?),
            1 => SeekFrom::Current(offset),
            2 => SeekFrom::End(offset),
            _ => return Err(Errno::INVAL.into()),
        };
        let entry = self.h.fds.get(fd)?;
        let f = match &mut entry.kind {
            FdKind::File(f) => f,
            FdKind::Dir(_) => return Err(Errno::BADF.into()),
            _ => return Err(Errno::SPIPE.into()),
        };
        if pos == SeekFrom::Current(0) {
            entry
                .rights
                .require_any(rights::FD_TELL | rights::FD_SEEK)?;
        } else {
            entry.rights.require(rights::FD_SEEK)?;
        }
        let at = f.handle.seek(pos)?;
        if i64::try_from(at).is_err() {
            return Err(Errno::OVERFLOW.into());
        }
        Ok(self.mem.put_u64(out, at)?)
    }

    /// Resolves the guest's path at `ptr` against the directory `fd`, whose
    /// rights must hold `needed`, following the links on the way (see
    /// [`confined`]); a link as the last component is followed when
    /// `follow_last` is set or the path must name a directory.
    fn resolve(
        &mut self,
        fd: u32,
        needed: u64,
        ptr: u32,
        len: u32,
        follow_last: bool,
    ) -> HostResult<Resolved> {
        let Host { fds, ns, .. } = &mut *self.h;
        let base = fds.dir(fd, needed)?.path.as_str();
        let guest = self.mem.str(ptr, len)?;
        let stat = |p: &str| {
            let p = confined(ns, base, p.to_owned(), true)?;
            ns.stat(&p).map_err(|e| from_fs_error(&e))
        };
        let mut r = resolve_path(stat, base, guest)?;
        r.path = confined(ns, base, r.path, follow_last || r.must_be_dir)?;
        Ok(r)
    }

    fn path_create_directory(&mut self, fd: u32, p: u32, len: u32) -> HostResult {
        let r = self.resolve(fd, rights::PATH_CREATE_DIRECTORY, p, len, false)?;
        if r.is_base {
            return Err(Errno::EXIST.into());
        }
        Ok(self.h.ns.mkdir(&r.path)?)
    }

    fn path_filestat_get(&mut self, fd: u32, flags: u32, p: u32, len: u32, out: u32) -> HostResult {
        let follow = flags & SYMLINK_FOLLOW != 0;
        let r = self.resolve(fd, rights::PATH_FILESTAT_GET, p, len, follow)?;
        let md = if follow || r.must_be_dir {
            self.h.ns.stat(&r.path)?
        } else {
            self.h.ns.lstat(&r.path)?
        };
        if r.must_be_dir && !md.is_dir() {
            return Err(Errno::NOTDIR.into());
        }
        Ok(self.mem.write(out, &filestat(&md).encode())?)
    }

    #[allow(clippy::too_many_arguments, reason = "the import's own parameters")]
    fn path_filestat_set_times(
        &mut self,
        fd: u32,
        lookup: u32,
        p: u32,
        len: u32,
        atim: u64,
        mtim: u64,
        flags: u32,
    ) -> HostResult {
        let (a, m) = times(atim, mtim, flags)?;
        let follow = lookup & SYMLINK_FOLLOW != 0;
        let r = self.resolve(fd, rights::PATH_FILESTAT_SET_TIMES, p, len, follow)?;
        if r.must_be_dir && !self.h.ns.stat(&r.path)?.is_dir() {
            return Err(Errno::NOTDIR.into());
        }
        if !follow && !r.must_be_dir && self.h.ns.lstat(&r.path)?.is_symlink() {
            // A link's own times: no service keeps any.
            return Err(Errno::NOTSUP.into());
        }
        Ok(self.h.ns.set_times(&r.path, a, m)?)
    }

    #[allow(clippy::too_many_arguments, reason = "the import's own parameters")]
    fn path_link(
        &mut self,
        old_fd: u32,
        old_flags: u32,
        old_p: u32,
        old_len: u32,
        new_fd: u32,
        new_p: u32,
        new_len: u32,
    ) -> HostResult {
        // With `symlink_follow` a link as the source is followed and its
        // target linked, as linkat(2) with `AT_SYMLINK_FOLLOW`.
        let follow = old_flags & SYMLINK_FOLLOW != 0;
        let mut old = self.resolve(old_fd, rights::PATH_LINK_SOURCE, old_p, old_len, follow)?;
        let new = self.resolve(new_fd, rights::PATH_LINK_TARGET, new_p, new_len, false)?;
        if follow {
            // Below the root `resolve` followed it; at the root the
            // namespace would link the link itself, so follow it here.
            let mut hops = 0;
            while self.h.ns.lstat(&old.path).is_ok_and(|m| m.is_symlink()) {
                hops += 1;
                if hops > links::MAX_HOPS {
                    return Err(Errno::LOOP.into());
                }
                let target = self.h.ns.readlink(&old.path)?;
                old.path = links::next_path(&old.path, &target, "")?;
            }
        }
        if old.must_be_dir && !self.h.ns.stat(&old.path)?.is_dir() {
            return Err(Errno::NOTDIR.into());
        }
        if new.must_be_dir && self.h.ns.lstat(&new.path).is_err() {
            // A missing name written as a directory is not found (link(2)).
            self.h
                .ns
                .lstat(oanix_vfs::path::parent(&new.path).unwrap_or("/"))?;
            return Err(Errno::NOENT.into());
        }
        Ok(self.h.ns.link(&old.path, &new.path)?)
    }

    #[allow(clippy::too_many_arguments, reason = "the import's own parameters")]
    fn path_open(
        &mut self,
        fd: u32,
        dirflags: u32,
        p: u32,
        len: u32,
        oflags_bits: u32,
        base: u64,
        inheriting: u64,
        fdflags_bits: u32,
        out: u32,
    ) -> HostResult {
        let of = u16::try_from(oflags_bits).map_err(|_| Errno::INVAL)?;
        let ff = u16::try_from(fdflags_bits).map_err(|_| Errno::INVAL)?;
        if of & !oflags::ALL != 0 || ff & !fdflags::ALL != 0 {
            return Err(Errno::INVAL.into());
        }
        let mut needed = rights::PATH_OPEN;
        if of & oflags::CREAT != 0 {
            needed |= rights::PATH_CREATE_FILE;
        }
        if of & oflags::TRUNC != 0 {
            needed |= rights::PATH_FILESTAT_SET_SIZE;
        }
        // `O_CREAT | O_EXCL` acts on a link itself (`EEXIST`), as open(2).
        let exclusive = of & oflags::CREAT != 0 && of & oflags::EXCL != 0;
        let follow = dirflags & SYMLINK_FOLLOW != 0 && !exclusive;
        let r = self.resolve(fd, needed, p, len, follow)?;
        let dir = self.h.fds.get(fd)?.rights;
        if of & oflags::DIRECTORY != 0 && of & (oflags::CREAT | oflags::EXCL | oflags::TRUNC) != 0 {
            return Err(Errno::INVAL.into());
        }
        // No service has synchronous-write modes.
        if ff & (fdflags::DSYNC | fdflags::RSYNC | fdflags::SYNC) != 0 {
            return Err(Errno::NOTSUP.into());
        }
        // The new descriptor gets what was asked for, within what the
        // directory passes on (the spec lets an implementation give fewer
        // rights; it never gives more).
        let granted = base & dir.inheriting;
        let inheriting = inheriting & dir.inheriting;
        let want_dir = of & oflags::DIRECTORY != 0 || r.must_be_dir;
        let truncate = of & oflags::TRUNC != 0;
        let create = of & oflags::CREAT != 0;
        let write = granted & rights::FD_WRITE != 0 || truncate;
        let append = ff & fdflags::APPEND != 0 && write;
        let nofollow = !follow && !exclusive && !r.must_be_dir;
        if create && r.must_be_dir {
            // `O_CREAT` never makes a directory: a name that must be one is
            // `EISDIR` once its parent is found (as open(2) answers).
            let parent = oanix_vfs::path::parent(&r.path).unwrap_or("/");
            let lookup = if r.ends_in_dots { &r.path } else { parent };
            if !self.h.ns.stat(lookup)?.is_dir() {
                return Err(Errno::NOTDIR.into());
            }
            return Err(Errno::ISDIR.into());
        }
        if want_dir && write {
            // A directory is never opened to write: `EISDIR` if it is one
            // (`ENOTDIR`, `ENOENT`, `ELOOP` from the lookup otherwise), as
            // POSIX.
            let lookup = OpenFlags {
                nofollow,
                ..OpenFlags::directory()
            };
            drop(self.h.ns.open(&r.path, lookup)?);
            return Err(Errno::ISDIR.into());
        }
        let flags = OpenFlags {
            read: granted & (rights::FD_READ | rights::FD_READDIR) != 0 || !write,
            write: write && !append,
            create,
            create_new: create && of & oflags::EXCL != 0,
            truncate,
            append,
            directory: want_dir,
            nonblocking: ff & fdflags::NONBLOCK != 0,
            nofollow,
        };
        let handle = self.h.ns.open(&r.path, flags)?;
        let is_dir = want_dir || (!flags.mutates() && handle.stat()?.is_dir());
        let entry = if is_dir {
            let root = match &self.h.fds.get(fd)?.kind {
                FdKind::Dir(d) => d.root.clone(),
                _ => return Err(Errno::NOTDIR.into()),
            };
            let dir = DirFd {
                path: r.path,
                root,
                preopen: None,
                handle: Some(handle),
                listing: None,
            };
            let rights = Rights {
                base: granted & rights::DIRECTORY,
                inheriting,
            };
            Fd::new(FdKind::Dir(dir), rights)
        } else {
            let file = FileFd {
                handle,
                path: r.path,
                open_flags: flags,
            };
            let rights = Rights {
                base: granted & rights::FILE,
                inheriting,
            };
            Fd {
                fdflags: ff & (fdflags::APPEND | fdflags::NONBLOCK),
                ..Fd::new(FdKind::File(file), rights)
            }
        };
        let new_fd = self.h.fds.insert(entry)?;
        Ok(self.mem.put_u32(out, new_fd)?)
    }

    #[allow(clippy::too_many_arguments, reason = "the import's own parameters")]
    fn path_readlink(
        &mut self,
        fd: u32,
        p: u32,
        len: u32,
        buf: u32,
        buf_len: u32,
        out: u32,
    ) -> HostResult {
        let r = self.resolve(fd, rights::PATH_READLINK, p, len, false)?;
        let target = self.h.ns.readlink(&r.path)?;
        // A buffer too small gets the start of the target (readlink(2)).
        let bytes = target.as_bytes();
        let n = bytes.len().min(buf_len as usize);
        self.mem.write(buf, &bytes[..n])?;
        Ok(self
            .mem
            .put_u32(out, u32::try_from(n).unwrap_or(u32::MAX))?)
    }

    fn path_remove_directory(&mut self, fd: u32, p: u32, len: u32) -> HostResult {
        let r = self.resolve(fd, rights::PATH_REMOVE_DIRECTORY, p, len, false)?;
        let md = if r.must_be_dir {
            self.h.ns.stat(&r.path)?
        } else {
            self.h.ns.lstat(&r.path)?
        };
        if !md.is_dir() {
            return Err(Errno::NOTDIR.into());
        }
        if r.is_base || r.ends_in_dots {
            // `rmdir("x/.")`, or the directory the path is relative to.
            return Err(Errno::INVAL.into());
        }
        Ok(self.h.ns.remove(&r.path)?)
    }

    fn path_rename(
        &mut self,
        fd: u32,
        old_p: u32,
        old_len: u32,
        new_fd: u32,
        new_p: u32,
        new_len: u32,
    ) -> HostResult {
        let from = self.resolve(fd, rights::PATH_RENAME_SOURCE, old_p, old_len, false)?;
        let to = self.resolve(new_fd, rights::PATH_RENAME_TARGET, new_p, new_len, false)?;
        if from.ends_in_dots || to.ends_in_dots || from.is_base || to.is_base {
            // A `.` or `..` on either side names a directory in use.
            return Err(Errno::BUSY.into());
        }
        if from.must_be_dir || to.must_be_dir {
            let md = self.h.ns.stat(&from.path)?;
            if !md.is_dir() {
                return Err(Errno::NOTDIR.into());
            }
        }
        Ok(self.h.ns.rename(&from.path, &to.path)?)
    }

    fn path_symlink(
        &mut self,
        old_p: u32,
        old_len: u32,
        fd: u32,
        new_p: u32,
        new_len: u32,
    ) -> HostResult {
        let target = self.mem.str(old_p, old_len)?.to_owned();
        let new = self.resolve(fd, rights::PATH_SYMLINK, new_p, new_len, false)?;
        if target.is_empty() {
            return Err(Errno::NOENT.into());
        }
        if target.starts_with('/') {
            // A target that leaves the directory before anything is looked
            // up (as wasmtime-wasi refuses it too).
            return Err(Errno::PERM.into());
        }
        if new.is_base {
            return Err(Errno::EXIST.into());
        }
        if new.must_be_dir {
            // A link is never a directory: a name written as one exists
            // already, or is not found (symlink(2)).
            return match self.h.ns.lstat(&new.path) {
                Ok(_) => Err(Errno::EXIST.into()),
                Err(e) => Err(e.into()),
            };
        }
        Ok(self.h.ns.symlink(&target, &new.path)?)
    }

    fn path_unlink_file(&mut self, fd: u32, p: u32, len: u32) -> HostResult {
        let r = self.resolve(fd, rights::PATH_UNLINK_FILE, p, len, false)?;
        let md = if r.must_be_dir {
            self.h.ns.stat(&r.path)?
        } else {
            self.h.ns.lstat(&r.path)?
        };
        if md.is_dir() {
            return Err(Errno::ISDIR.into());
        }
        if r.must_be_dir {
            return Err(Errno::NOTDIR.into());
        }
        Ok(self.h.ns.remove(&r.path)?)
    }

    fn random_get(&mut self, buf: u32, len: u32) -> HostResult {
        let dst = self.mem.slice_mut(buf, len)?;
        getrandom::fill(dst).map_err(|_| Errno::IO)?;
        Ok(())
    }

    /// `sock_accept`, `sock_recv`, `sock_send`, `sock_shutdown`: no
    /// descriptor is a socket (the network is reached through capability
    /// files), so an open one is `ENOTSOCK`, any other `EBADF`.
    fn no_sockets(&mut self, fd: u32) -> HostResult {
        self.h.fds.get(fd)?;
        Err(Errno::NOTSOCK.into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `resolve_path` over a tree of directories `/ws`, `/ws/a`, `/ws/a/b`
    /// and the file `/ws/f`.
    fn resolve(dir: &str, guest: &str) -> Result<(String, bool, bool), Errno> {
        let stat = |p: &str| match p {
            "/" | "/ws" | "/ws/a" | "/ws/a/b" => Ok(Metadata::directory(1)),
            "/ws/f" => Ok(Metadata::file(2, 0)),
            _ => Err(Errno::NOENT),
        };
        resolve_path(stat, dir, guest).map(|r| (r.path, r.must_be_dir, r.is_base))
    }

    #[test]
    fn paths_stay_below_their_directory() {
        assert_eq!(resolve("/ws", "a/b"), Ok(("/ws/a/b".into(), false, false)));
        assert_eq!(resolve("/ws", "a/../f"), Ok(("/ws/f".into(), false, false)));
        assert_eq!(resolve("/ws", "a/.."), Ok(("/ws".into(), true, true)));
        assert_eq!(resolve("/ws", "."), Ok(("/ws".into(), true, true)));
        assert_eq!(resolve("/", "ws/a/"), Ok(("/ws/a".into(), true, false)));
        assert_eq!(resolve("/", "./ws//a/."), Ok(("/ws/a".into(), true, false)));
        assert_eq!(resolve("/ws/a", "b/../../x"), Err(Errno::PERM));
        assert_eq!(resolve("/ws", ".."), Err(Errno::PERM));
        assert_eq!(resolve("/", ".."), Err(Errno::PERM));
        assert_eq!(resolve("/ws", "/ws/a"), Err(Errno::PERM));
        // The component before `..` must be a directory that exists.
        assert_eq!(resolve("/ws", "f/../a"), Err(Errno::NOTDIR));
        assert_eq!(resolve("/ws", "missing/../a"), Err(Errno::NOENT));
        assert_eq!(resolve("/ws", ""), Err(Errno::NOENT));
        assert_eq!(resolve("/ws", "a\0b"), Err(Errno::INVAL));
        assert_eq!(resolve("/ws", &"x".repeat(300)), Err(Errno::NAMETOOLONG));
    }

    #[test]
    fn links_are_followed_without_leaving_the_directory() {
        let fs = oanix_prims::MemFs::new();
        let ns = Namespace::builder().mount("/box", fs).build();
        for d in ["/box/d", "/box/d/e"] {
            ns.mkdir(d).unwrap();
        }
        let link = |target: &str, at: &str| ns.symlink(target, at).unwrap();
        link("d/e", "/box/to_e");
        link("../../d", "/box/d/e/up");
        link("../../x", "/box/d/out");
        link("/box/d", "/box/abs");
        link("self", "/box/self");
        let c = |p: &str, follow| confined(&ns, "/box", p.to_owned(), follow);
        assert_eq!(c("/box/to_e/f", true), Ok("/box/d/e/f".into()));
        assert_eq!(c("/box/to_e", false), Ok("/box/to_e".into()));
        assert_eq!(c("/box/to_e", true), Ok("/box/d/e".into()));
        assert_eq!(c("/box/d/e/up/e", true), Ok("/box/d/e".into()));
        assert_eq!(c("/box/d/out", true), Err(Errno::PERM));
        assert_eq!(c("/box/d/out", false), Ok("/box/d/out".into()));
        assert_eq!(c("/box/abs/e", true), Err(Errno::PERM));
        assert_eq!(c("/box/self", true), Err(Errno::LOOP));
        assert_eq!(c("/box/missing/x", true), Ok("/box/missing/x".into()));
        // The namespace root keeps its own lookups inside.
        assert_eq!(
            confined(&ns, "/", "/box/abs/e".to_owned(), true),
            Ok("/box/abs/e".into())
        );
    }

    #[test]
    fn every_import_is_defined_once() {
        let engine = wasmtime::Engine::default();
        let mut linker = Linker::new(&engine);
        assert!(add_to_linker(&mut linker).is_ok());
        let names: std::collections::BTreeSet<_> = IMPORTS.iter().collect();
        assert_eq!(names.len(), IMPORTS.len());
        let ns = oanix_vfs::Namespace::default();
        let host = Host::new(&ns, &crate::RunConfig::new(), 1 << 20).unwrap();
        let mut store = wasmtime::Store::new(&engine, host);
        for name in IMPORTS {
            assert!(linker.get(&mut store, MODULE, name).is_ok(), "{name}");
        }
        assert_eq!(linker.iter(&mut store).count(), IMPORTS.len());
    }
}
