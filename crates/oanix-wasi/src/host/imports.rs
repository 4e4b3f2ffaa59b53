//! Every `wasi_snapshot_preview1` import, written against the documented
//! ABI with `Linker::func_wrap`, over the namespace and the descriptor table.
//!
//! Each import reads its arguments out of guest memory through [`Mem`](abi::Mem)
//! (bounds-checked: a bad pointer is `EFAULT`), calls the namespace or the
//! open `FileHandle` directly on the calling thread, and answers an `errno`.
//! Reads and writes go straight between the guest's memory and the handle,
//! without an intermediate copy.

use std::io::SeekFrom;
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use oanix_vfs::{FileKind, FileService, Metadata, OpenFlags, Timestamp};
use wasmtime::{Caller, Linker};

use super::abi::{
    self, DIRENT_SIZE, Errno, Filestat, clock, fdflags, filetype, fstflags, oflags, rights,
};
use super::call::{Cx, HostResult, call};
use super::fdtable::{DirFd, Fd, FileFd, listing};
use super::{Exit, Host, monotonic_anchor, poll};

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
    import!(linker, "fd_datasync", |cx, fd: i32 => u32| cx.fd_sync(fd));
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
    import!(linker, "fd_sync", |cx, fd: i32 => u32| cx.fd_sync(fd));
    import!(linker, "fd_tell", |cx, fd: i32 => u32, out: i32 => u32| cx.fd_seek(fd, 0, 1, out));
    import!(linker, "fd_write", |cx, fd: i32 => u32, iovs: i32 => u32, n: i32 => u32, out: i32 => u32| cx.fd_write(fd, iovs, n, out));
    import!(linker, "path_create_directory", |cx, fd: i32 => u32, p: i32 => u32, len: i32 => u32| cx.path_create_directory(fd, p, len));
    import!(linker, "path_filestat_get", |cx, fd: i32 => u32, _flags: i32 => u32, p: i32 => u32, len: i32 => u32, out: i32 => u32| cx.path_filestat_get(fd, p, len, out));
    import!(linker, "path_filestat_set_times", |cx, fd: i32 => u32, _flags: i32 => u32, p: i32 => u32, len: i32 => u32, atim: i64 => u64, mtim: i64 => u64, flags: i32 => u32| cx.path_filestat_set_times(fd, p, len, atim, mtim, flags));
    import!(linker, "path_link", |cx, old_fd: i32 => u32, _old_flags: i32 => u32, old_p: i32 => u32, old_len: i32 => u32, new_fd: i32 => u32, new_p: i32 => u32, new_len: i32 => u32| cx.path_link(old_fd, old_p, old_len, new_fd, new_p, new_len));
    import!(linker, "path_open", |cx, fd: i32 => u32, _dirflags: i32 => u32, p: i32 => u32, len: i32 => u32, oflags: i32 => u32, base: i64 => u64, inheriting: i64 => u64, fdflags: i32 => u32, out: i32 => u32| cx.path_open(fd, p, len, oflags, base, inheriting, fdflags, out));
    import!(linker, "path_readlink", |cx, fd: i32 => u32, p: i32 => u32, len: i32 => u32, _buf: i32 => u32, _buf_len: i32 => u32, _out: i32 => u32| cx.path_readlink(fd, p, len));
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
    /// Whether the guest wrote it so that it must name a directory.
    must_be_dir: bool,
    /// The root of the directory's preopen.
    root: Arc<str>,
}

/// Resolves `guest` (relative to the directory at `dir`, never above
/// `root`): `.` and empty components are skipped, `..` at the root stays
/// there, and a leading `/` starts at the root.
fn resolve_path(dir: &str, root: &str, guest: &str) -> Result<(String, bool), Errno> {
    if guest.is_empty() {
        return Err(Errno::NOENT);
    }
    if guest.len() > oanix_vfs::path::MAX_PATH_LEN {
        return Err(Errno::NAMETOOLONG);
    }
    if guest.contains('\0') {
        return Err(Errno::INVAL);
    }
    let mut out = String::with_capacity(dir.len() + guest.len() + 1);
    out.push_str(if guest.starts_with('/') { root } else { dir });
    let root_len = if root == "/" { 0 } else { root.len() };
    let mut last = "";
    for comp in guest.split('/') {
        last = comp;
        match comp {
            "" | "." => {}
            ".." => {
                if out.len() > root_len.max(1) {
                    let cut = out.rfind('/').unwrap_or(0);
                    out.truncate(cut.max(root_len));
                    if out.is_empty() {
                        out.push('/');
                    }
                }
            }
            name => {
                if name.len() > oanix_vfs::path::MAX_NAME_LEN {
                    return Err(Errno::NAMETOOLONG);
                }
                if !out.ends_with('/') {
                    out.push('/');
                }
                out.push_str(name);
            }
        }
    }
    let must_be_dir = matches!(last, "" | "." | "..");
    Ok((out, must_be_dir))
}

/// A `filestat` from metadata.
fn filestat(md: &Metadata) -> Filestat {
    let t = |ts: Option<Timestamp>| ts.map_or(0, Timestamp::as_nanos);
    Filestat {
        dev: md.device,
        ino: md.id,
        filetype: kind_filetype(md.kind),
        nlink: 1,
        size: md.size,
        atim: t(md.accessed),
        mtim: t(md.modified),
        ctim: t(md.created.or(md.modified)),
    }
}

fn kind_filetype(kind: FileKind) -> u8 {
    match kind {
        FileKind::Directory => filetype::DIRECTORY,
        FileKind::File => filetype::REGULAR_FILE,
        _ => filetype::UNKNOWN,
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

    fn file(&mut self, fd: u32) -> Result<&mut FileFd, Errno> {
        match self.h.fds.get(fd)? {
            Fd::File(f) => Ok(f),
            Fd::Dir(_) => Err(Errno::ISDIR),
            _ => Err(Errno::SPIPE),
        }
    }

    fn fd_advise(&mut self, fd: u32, advice: u32) -> HostResult {
        if advice > 5 {
            return Err(Errno::INVAL.into());
        }
        match self.h.fds.get(fd)? {
            Fd::File(_) => Ok(()),
            Fd::Dir(_) => Err(Errno::BADF.into()),
            _ => Err(Errno::SPIPE.into()),
        }
    }

    fn fd_allocate(&mut self, fd: u32, offset: u64, len: u64) -> HostResult {
        let f = self
            .file(fd)
            .map_err(|e| if e == Errno::ISDIR { Errno::BADF } else { e })?;
        let end = offset.checked_add(len).ok_or(Errno::FBIG)?;
        if i64::try_from(end).is_err() {
            return Err(Errno::FBIG.into());
        }
        if f.handle.stat()?.size < end {
            f.handle.set_len(end)?;
        }
        Ok(())
    }

    fn fd_close(&mut self, fd: u32) -> HostResult {
        let closed = self.h.fds.remove(fd)?;
        if let Fd::File(mut f) = closed {
            // The descriptor is closed either way (as close(2) does), but a
            // final flush that fails — a `result.json` that is not JSON, say —
            // is the guest's to know.
            f.handle.flush()?;
        }
        Ok(())
    }

    fn fd_sync(&mut self, fd: u32) -> HostResult {
        match self.h.fds.get(fd)? {
            Fd::File(f) => Ok(f.handle.flush()?),
            _ => Ok(()),
        }
    }

    fn fd_fdstat_get(&mut self, fd: u32, out: u32) -> HostResult {
        let bytes = match self.h.fds.get(fd)? {
            Fd::Stdin { fdflags } | Fd::Stdout { fdflags } | Fd::Stderr { fdflags } => {
                abi::encode_fdstat(filetype::CHARACTER_DEVICE, *fdflags, rights::STDIO, 0)
            }
            Fd::File(f) => {
                abi::encode_fdstat(filetype::REGULAR_FILE, f.fdflags, f.rights, f.inheriting)
            }
            Fd::Dir(d) => {
                abi::encode_fdstat(filetype::DIRECTORY, d.fdflags, d.rights, d.inheriting)
            }
        };
        Ok(self.mem.write(out, &bytes)?)
    }

    fn fd_fdstat_set_flags(&mut self, fd: u32, flags: u32) -> HostResult {
        let flags = u16::try_from(flags).map_err(|_| Errno::INVAL)?;
        if flags & !fdflags::ALL != 0 {
            return Err(Errno::INVAL.into());
        }
        let ns = self.h.ns.clone();
        match self.h.fds.get(fd)? {
            Fd::File(f) => {
                let append = flags & fdflags::APPEND != 0;
                let nonblocking = flags & fdflags::NONBLOCK != 0;
                // Append switched on is done here (each write goes to the
                // end); switching it off, or a change of blocking mode, needs
                // the service to open the file again with the new flags.
                let reopen =
                    (f.open_flags.append && !append) || f.open_flags.nonblocking != nonblocking;
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
                f.fdflags = flags;
            }
            Fd::Dir(d) => d.fdflags = flags,
            other => {
                if let Some(f) = other.stdio_fdflags() {
                    *f = flags;
                }
            }
        }
        Ok(())
    }

    fn fd_fdstat_set_rights(&mut self, fd: u32, base: u64, inheriting: u64) -> HostResult {
        let (cur_base, cur_inh) = match self.h.fds.get(fd)? {
            Fd::File(f) => (&mut f.rights, &mut f.inheriting),
            Fd::Dir(d) => (&mut d.rights, &mut d.inheriting),
            _ => return Err(Errno::NOTSUP.into()),
        };
        if base & !*cur_base != 0 || inheriting & !*cur_inh != 0 {
            return Err(Errno::NOTCAPABLE.into());
        }
        *cur_base = base;
        *cur_inh = inheriting;
        Ok(())
    }

    fn fd_filestat_get(&mut self, fd: u32, out: u32) -> HostResult {
        let ns = self.h.ns.clone();
        let st = match self.h.fds.get(fd)? {
            Fd::File(f) => filestat(&f.handle.stat()?),
            Fd::Dir(d) => match &d.handle {
                Some(h) => filestat(&h.stat()?),
                None => filestat(&ns.stat(&d.path)?),
            },
            _ => Filestat {
                filetype: filetype::CHARACTER_DEVICE,
                nlink: 1,
                ..Filestat::default()
            },
        };
        Ok(self.mem.write(out, &st.encode())?)
    }

    fn fd_filestat_set_size(&mut self, fd: u32, size: u64) -> HostResult {
        if i64::try_from(size).is_err() {
            return Err(Errno::FBIG.into());
        }
        let f = self
            .file(fd)
            .map_err(|e| if e == Errno::SPIPE { Errno::INVAL } else { e })?;
        Ok(f.handle.set_len(size)?)
    }

    fn fd_filestat_set_times(&mut self, fd: u32, atim: u64, mtim: u64, flags: u32) -> HostResult {
        let (a, m) = times(atim, mtim, flags)?;
        let ns = self.h.ns.clone();
        let path = match self.h.fds.get(fd)? {
            Fd::File(f) => f.path.clone(),
            Fd::Dir(d) => d.path.clone(),
            _ => return Err(Errno::NOTSUP.into()),
        };
        Ok(ns.set_times(&path, a, m)?)
    }

    fn fd_pread(&mut self, fd: u32, iovs: u32, n: u32, offset: u64, out: u32) -> HostResult {
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
            let f = match self.h.fds.get(fd)? {
                Fd::File(f) => f,
                Fd::Dir(_) => return Err(Errno::ISDIR.into()),
                _ => return Err(Errno::SPIPE.into()),
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
        let source = self.write_source(iovs, n)?;
        let data: &[u8] = match &source {
            WriteSource::Guest { buf, len } => self.mem.slice(*buf, *len)?,
            WriteSource::Gathered(data) => data,
        };
        let f = match self.h.fds.get(fd)? {
            Fd::File(f) => f,
            Fd::Dir(_) => return Err(Errno::BADF.into()),
            _ => return Err(Errno::SPIPE.into()),
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
        let name_len = match self.h.fds.get(fd)? {
            Fd::Dir(DirFd {
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
        let name = match self.h.fds.get(fd)? {
            Fd::Dir(DirFd {
                preopen: Some(name),
                ..
            }) => name.clone(),
            _ => return Err(Errno::BADF.into()),
        };
        if (len as usize) < name.len() {
            return Err(Errno::NAMETOOLONG.into());
        }
        Ok(self.mem.write(buf, name.as_bytes())?)
    }

    fn fd_read(&mut self, fd: u32, iovs: u32, n: u32, out: u32) -> HostResult {
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
            let result = match self.h.fds.get(fd)? {
                Fd::Stdin { .. } => self.h.stdin.read(dst),
                Fd::File(f) => f.handle.read(dst),
                Fd::Dir(_) => return Err(Errno::ISDIR.into()),
                Fd::Stdout { .. } | Fd::Stderr { .. } => return Err(Errno::BADF.into()),
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
        let data: &[u8] = match &source {
            WriteSource::Guest { buf, len } => self.mem.slice(*buf, *len)?,
            WriteSource::Gathered(data) => data,
        };
        let written = match self.h.fds.get(fd)? {
            Fd::Stdout { .. } => {
                self.h.stdout.push(data);
                data.len()
            }
            Fd::Stderr { .. } => {
                self.h.stderr.push(data);
                data.len()
            }
            Fd::File(f) => {
                if data.is_empty() {
                    0
                } else {
                    if f.fdflags & fdflags::APPEND != 0 && !f.open_flags.append {
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
            Fd::Stdin { .. } | Fd::Dir(_) => return Err(Errno::BADF.into()),
        };
        self.check_deadline()?;
        Ok(self
            .mem
            .put_u32(out, u32::try_from(written).unwrap_or(u32::MAX))?)
    }

    fn fd_readdir(&mut self, fd: u32, buf: u32, len: u32, cookie: u64, out: u32) -> HostResult {
        let Host { fds, ns, .. } = &mut *self.h;
        let d = fds.dir(fd)?;
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

    fn fd_seek(&mut self, fd: u32, offset: i64, whence: u32, out: u32) -> HostResult {
        let pos = match whence {
            0 => SeekFrom::Start(u64::try_from(offset).map_err(|_| Errno::INVAL)?),
            1 => SeekFrom::Current(offset),
            2 => SeekFrom::End(offset),
            _ => return Err(Errno::INVAL.into()),
        };
        let f = match self.h.fds.get(fd)? {
            Fd::File(f) => f,
            Fd::Dir(_) => return Err(Errno::BADF.into()),
            _ => return Err(Errno::SPIPE.into()),
        };
        let at = f.handle.seek(pos)?;
        if i64::try_from(at).is_err() {
            return Err(Errno::OVERFLOW.into());
        }
        Ok(self.mem.put_u64(out, at)?)
    }

    fn resolve(&mut self, fd: u32, ptr: u32, len: u32) -> HostResult<Resolved> {
        let guest = self.mem.str(ptr, len)?;
        let dir = self.h.fds.dir(fd)?;
        let (path, must_be_dir) = resolve_path(&dir.path, &dir.root, guest)?;
        Ok(Resolved {
            path,
            must_be_dir,
            root: dir.root.clone(),
        })
    }

    fn path_create_directory(&mut self, fd: u32, p: u32, len: u32) -> HostResult {
        let r = self.resolve(fd, p, len)?;
        Ok(self.h.ns.mkdir(&r.path)?)
    }

    fn path_filestat_get(&mut self, fd: u32, p: u32, len: u32, out: u32) -> HostResult {
        let r = self.resolve(fd, p, len)?;
        let md = self.h.ns.stat(&r.path)?;
        if r.must_be_dir && !md.is_dir() {
            return Err(Errno::NOTDIR.into());
        }
        Ok(self.mem.write(out, &filestat(&md).encode())?)
    }

    fn path_filestat_set_times(
        &mut self,
        fd: u32,
        p: u32,
        len: u32,
        atim: u64,
        mtim: u64,
        flags: u32,
    ) -> HostResult {
        let r = self.resolve(fd, p, len)?;
        let (a, m) = times(atim, mtim, flags)?;
        Ok(self.h.ns.set_times(&r.path, a, m)?)
    }

    fn path_link(
        &mut self,
        old_fd: u32,
        old_p: u32,
        old_len: u32,
        new_fd: u32,
        new_p: u32,
        new_len: u32,
    ) -> HostResult {
        let old = self.resolve(old_fd, old_p, old_len)?;
        let new = self.resolve(new_fd, new_p, new_len)?;
        let md = self.h.ns.stat(&old.path)?;
        if md.is_dir() {
            return Err(Errno::PERM.into());
        }
        if self.h.ns.stat(&new.path).is_ok() {
            return Err(Errno::EXIST.into());
        }
        // No OANIX service has hard links.
        Err(Errno::NOTSUP.into())
    }

    #[allow(clippy::too_many_arguments, reason = "the import's own parameters")]
    fn path_open(
        &mut self,
        fd: u32,
        p: u32,
        len: u32,
        oflags_bits: u32,
        base: u64,
        inheriting: u64,
        fdflags_bits: u32,
        out: u32,
    ) -> HostResult {
        let r = self.resolve(fd, p, len)?;
        let of = u16::try_from(oflags_bits).map_err(|_| Errno::INVAL)?;
        let ff = u16::try_from(fdflags_bits).map_err(|_| Errno::INVAL)?;
        if of & !oflags::ALL != 0 || ff & !fdflags::ALL != 0 {
            return Err(Errno::INVAL.into());
        }
        let dir_inheriting = self.h.fds.dir(fd)?.inheriting;
        let want_dir = of & oflags::DIRECTORY != 0 || r.must_be_dir;
        let truncate = of & oflags::TRUNC != 0;
        let append = ff & fdflags::APPEND != 0;
        let write = !want_dir && (base & rights::FD_WRITE != 0 || truncate || append);
        let read = base & (rights::FD_READ | rights::FD_READDIR) != 0 || !write;
        let flags = OpenFlags {
            read,
            write: write && !append,
            create: of & oflags::CREAT != 0,
            create_new: of & oflags::CREAT != 0 && of & oflags::EXCL != 0,
            truncate,
            append: append && !want_dir,
            directory: want_dir,
            nonblocking: ff & fdflags::NONBLOCK != 0,
        };
        let handle = self.h.ns.open(&r.path, flags)?;
        let is_dir = want_dir || (!flags.mutates() && handle.stat()?.is_dir());
        let entry = if is_dir {
            Fd::Dir(DirFd {
                path: r.path,
                root: r.root,
                preopen: None,
                handle: Some(handle),
                listing: None,
                fdflags: ff,
                rights: base & dir_inheriting & rights::DIRECTORY,
                inheriting: inheriting & dir_inheriting,
            })
        } else {
            let mut file_rights = base & dir_inheriting & rights::FILE;
            if !flags.can_write() {
                file_rights &= !(rights::FD_WRITE
                    | rights::FD_ALLOCATE
                    | rights::FD_FILESTAT_SET_SIZE
                    | rights::FD_DATASYNC);
            }
            if !flags.can_read() {
                file_rights &= !rights::FD_READ;
            }
            Fd::File(FileFd {
                handle,
                path: r.path,
                open_flags: flags,
                fdflags: ff,
                rights: file_rights,
                inheriting: inheriting & dir_inheriting,
            })
        };
        let new_fd = self.h.fds.insert(entry)?;
        Ok(self.mem.put_u32(out, new_fd)?)
    }

    fn path_readlink(&mut self, fd: u32, p: u32, len: u32) -> HostResult {
        let r = self.resolve(fd, p, len)?;
        // The path exists (or the error says why not) and is no link.
        self.h.ns.stat(&r.path)?;
        Err(Errno::INVAL.into())
    }

    fn path_remove_directory(&mut self, fd: u32, p: u32, len: u32) -> HostResult {
        let r = self.resolve(fd, p, len)?;
        if !self.h.ns.stat(&r.path)?.is_dir() {
            return Err(Errno::NOTDIR.into());
        }
        if *r.root == r.path {
            return Err(Errno::BUSY.into());
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
        let from = self.resolve(fd, old_p, old_len)?;
        let to = self.resolve(new_fd, new_p, new_len)?;
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
        self.mem.str(old_p, old_len)?;
        let new = self.resolve(fd, new_p, new_len)?;
        if self.h.ns.stat(&new.path).is_ok() {
            return Err(Errno::EXIST.into());
        }
        // No OANIX service has symbolic links.
        Err(Errno::NOTSUP.into())
    }

    fn path_unlink_file(&mut self, fd: u32, p: u32, len: u32) -> HostResult {
        let r = self.resolve(fd, p, len)?;
        let md = self.h.ns.stat(&r.path)?;
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

    fn no_sockets(&mut self, fd: u32) -> HostResult {
        // Only an open descriptor gets as far as "not supported": there are
        // no sockets, network access goes through capability files.
        self.h.fds.get(fd)?;
        Err(Errno::NOTSUP.into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dot_dot_stays_at_the_root() {
        assert_eq!(resolve_path("/", "/", ".."), Ok(("/".into(), true)));
        assert_eq!(resolve_path("/", "/", "../../a"), Ok(("/a".into(), false)));
        assert_eq!(
            resolve_path("/ws", "/ws", "../x"),
            Ok(("/ws/x".into(), false))
        );
        assert_eq!(
            resolve_path("/ws/a", "/ws", "../../b/"),
            Ok(("/ws/b".into(), true))
        );
        assert_eq!(
            resolve_path("/ws/a", "/ws", "/c"),
            Ok(("/ws/c".into(), false))
        );
        assert_eq!(
            resolve_path("/a", "/", "./b//c/."),
            Ok(("/a/b/c".into(), true))
        );
        assert_eq!(resolve_path("/", "/", ""), Err(Errno::NOENT));
        assert_eq!(resolve_path("/", "/", "a\0b"), Err(Errno::INVAL));
        assert_eq!(
            resolve_path("/", "/", &"x".repeat(300)),
            Err(Errno::NAMETOOLONG)
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
