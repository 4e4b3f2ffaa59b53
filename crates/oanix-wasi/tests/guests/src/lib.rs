//! Shared helpers of the test guests: raw preview1 calls for what the
//! standard library does not expose, and small assertions.

#![allow(unsafe_code, reason = "calling the preview1 imports directly")]

/// The raw preview1 imports the guests call directly (`errno` results).
#[allow(missing_docs, reason = "the imports are documented by the interface")]
pub mod raw {
    #[link(wasm_import_module = "wasi_snapshot_preview1")]
    unsafe extern "C" {
        pub fn args_sizes_get(argc: *mut u32, size: *mut u32) -> u16;
        pub fn environ_sizes_get(count: *mut u32, size: *mut u32) -> u16;
        pub fn clock_res_get(id: u32, out: *mut u64) -> u16;
        pub fn clock_time_get(id: u32, precision: u64, out: *mut u64) -> u16;
        pub fn fd_advise(fd: u32, offset: u64, len: u64, advice: u32) -> u16;
        pub fn fd_allocate(fd: u32, offset: u64, len: u64) -> u16;
        pub fn fd_close(fd: u32) -> u16;
        pub fn fd_datasync(fd: u32) -> u16;
        pub fn fd_fdstat_get(fd: u32, out: *mut u8) -> u16;
        pub fn fd_fdstat_set_flags(fd: u32, flags: u32) -> u16;
        pub fn fd_fdstat_set_rights(fd: u32, base: u64, inheriting: u64) -> u16;
        pub fn fd_filestat_get(fd: u32, out: *mut u8) -> u16;
        pub fn fd_filestat_set_size(fd: u32, size: u64) -> u16;
        pub fn fd_filestat_set_times(fd: u32, atim: u64, mtim: u64, flags: u32) -> u16;
        pub fn fd_pread(fd: u32, iovs: *const u32, n: u32, offset: u64, out: *mut u32) -> u16;
        pub fn fd_prestat_get(fd: u32, out: *mut u32) -> u16;
        pub fn fd_prestat_dir_name(fd: u32, buf: *mut u8, len: u32) -> u16;
        pub fn fd_pwrite(fd: u32, iovs: *const u32, n: u32, offset: u64, out: *mut u32) -> u16;
        pub fn fd_read(fd: u32, iovs: *const u32, n: u32, out: *mut u32) -> u16;
        pub fn fd_readdir(fd: u32, buf: *mut u8, len: u32, cookie: u64, out: *mut u32) -> u16;
        pub fn fd_renumber(from: u32, to: u32) -> u16;
        pub fn fd_seek(fd: u32, offset: i64, whence: u32, out: *mut u64) -> u16;
        pub fn fd_sync(fd: u32) -> u16;
        pub fn fd_tell(fd: u32, out: *mut u64) -> u16;
        pub fn fd_write(fd: u32, iovs: *const u32, n: u32, out: *mut u32) -> u16;
        pub fn path_create_directory(fd: u32, path: *const u8, len: u32) -> u16;
        pub fn path_filestat_get(
            fd: u32,
            flags: u32,
            path: *const u8,
            len: u32,
            out: *mut u8,
        ) -> u16;
        pub fn path_filestat_set_times(
            fd: u32,
            flags: u32,
            path: *const u8,
            len: u32,
            atim: u64,
            mtim: u64,
            fst: u32,
        ) -> u16;
        pub fn path_link(
            old_fd: u32,
            old_flags: u32,
            old: *const u8,
            old_len: u32,
            new_fd: u32,
            new: *const u8,
            new_len: u32,
        ) -> u16;
        pub fn path_open(
            fd: u32,
            dirflags: u32,
            path: *const u8,
            len: u32,
            oflags: u32,
            base: u64,
            inheriting: u64,
            fdflags: u32,
            out: *mut u32,
        ) -> u16;
        pub fn path_readlink(
            fd: u32,
            path: *const u8,
            len: u32,
            buf: *mut u8,
            buf_len: u32,
            out: *mut u32,
        ) -> u16;
        pub fn path_remove_directory(fd: u32, path: *const u8, len: u32) -> u16;
        pub fn path_rename(
            fd: u32,
            old: *const u8,
            old_len: u32,
            new_fd: u32,
            new: *const u8,
            new_len: u32,
        ) -> u16;
        pub fn path_symlink(
            old: *const u8,
            old_len: u32,
            fd: u32,
            new: *const u8,
            new_len: u32,
        ) -> u16;
        pub fn path_unlink_file(fd: u32, path: *const u8, len: u32) -> u16;
        pub fn poll_oneoff(subs: *const u8, events: *mut u8, n: u32, out: *mut u32) -> u16;
        pub fn proc_raise(signal: u32) -> u16;
        pub fn sched_yield() -> u16;
        pub fn random_get(buf: *mut u8, len: u32) -> u16;
        pub fn sock_accept(fd: u32, flags: u32, out: *mut u32) -> u16;
        pub fn sock_recv(
            fd: u32,
            ri: *const u32,
            ri_len: u32,
            flags: u32,
            out_len: *mut u32,
            out_flags: *mut u16,
        ) -> u16;
        pub fn sock_send(fd: u32, si: *const u32, si_len: u32, flags: u32, out: *mut u32) -> u16;
        pub fn sock_shutdown(fd: u32, how: u32) -> u16;
    }
}

/// Errno values the guests check.
pub mod errno {
    pub const SUCCESS: u16 = 0;
    pub const BADF: u16 = 8;
    pub const BUSY: u16 = 10;
    pub const EXIST: u16 = 20;
    pub const FAULT: u16 = 21;
    pub const INVAL: u16 = 28;
    pub const ISDIR: u16 = 31;
    pub const LOOP: u16 = 32;
    pub const NAMETOOLONG: u16 = 37;
    pub const NOENT: u16 = 44;
    pub const NOTDIR: u16 = 54;
    pub const NOTEMPTY: u16 = 55;
    pub const NOTSOCK: u16 = 57;
    pub const NOTSUP: u16 = 58;
    pub const PERM: u16 = 63;
    pub const ROFS: u16 = 69;
    pub const SPIPE: u16 = 70;
    pub const XDEV: u16 = 75;
    pub const NOTCAPABLE: u16 = 76;
}

/// Asserts that an errno is the expected one, naming the call.
#[macro_export]
macro_rules! expect_errno {
    ($call:expr, $want:expr) => {{
        let got = unsafe { $call };
        if got != $want {
            panic!(
                "{} returned errno {}, expected {}",
                stringify!($call),
                got,
                $want
            );
        }
    }};
}
