//! The live-namespace guest: `live watch|cap|cow` shows that file calls reach
//! the namespace as it is at that moment.
//!
//! - `watch`: reads `/data/value`, signals the host through `/ctl/signal`,
//!   waits on `/ctl/gate` (a read that blocks until the host opens it), and
//!   reads the value again; then writes `/data/out` and signals again.
//! - `cap`: sends an HTTP request through `/cap/http/request` and prints the
//!   response the host completes while the guest waits for it.
//! - `nonblock`: sends a request, then reads its response without waiting,
//!   once through a descriptor opened with `fdflags::nonblock` and once
//!   through one switched to it with `fd_fdstat_set_flags`: both `again`.
//! - `cow`: changes, deletes and creates files under `/workspace`.

#![allow(unsafe_code, reason = "calling the preview1 imports directly")]

use std::fs;
use std::io::{Read, Write};
use std::os::fd::AsRawFd;

use oanix_test_guests::raw;

/// Sends a GET request through `/cap/http/request` and returns its id.
fn request() -> String {
    let mut req = fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open("/cap/http/request")
        .unwrap();
    req.write_all(br#"{"method":"GET","url":"https://api.example.com/ping"}"#)
        .unwrap();
    let mut id = String::new();
    req.read_to_string(&mut id).unwrap();
    id.trim().to_owned()
}

/// One raw read of `fd`: its errno.
fn read_errno(fd: u32) -> u16 {
    let mut buf = [0u8; 64];
    let iov = [buf.as_mut_ptr() as u32, 64];
    let mut n = 0;
    unsafe { raw::fd_read(fd, iov.as_ptr(), 1, &mut n) }
}

fn signal(message: &str) {
    fs::write("/ctl/signal", message).unwrap();
    let mut gate = Vec::new();
    fs::File::open("/ctl/gate")
        .unwrap()
        .read_to_end(&mut gate)
        .unwrap();
}

fn main() {
    match std::env::args().nth(1).as_deref() {
        Some("watch") => {
            println!("before: {}", fs::read_to_string("/data/value").unwrap());
            signal("change it");
            println!("after: {}", fs::read_to_string("/data/value").unwrap());
            fs::write("/data/out", "written by the guest").unwrap();
            signal("look at /data/out");
        }
        Some("cap") => {
            let id = request();
            println!("request {id}");
            let response = fs::read_to_string(format!("/cap/http/responses/{id}.json"));
            match response {
                Ok(r) => println!("response {r}"),
                Err(e) => println!("no response: {e}"),
            }
        }
        Some("nonblock") => {
            let id = request();
            let path = format!("cap/http/responses/{id}.json");
            let mut fd = 0u32;
            let e = unsafe {
                raw::path_open(
                    3,
                    0,
                    path.as_ptr(),
                    path.len() as u32,
                    0,
                    1 << 1,
                    0,
                    4,
                    &mut fd,
                )
            };
            assert_eq!(e, 0, "path_open");
            assert_eq!(read_errno(fd), 6, "EAGAIN through a nonblocking open");
            let f = fs::File::open(format!("/{path}")).unwrap();
            let bfd = f.as_raw_fd() as u32;
            assert_eq!(unsafe { raw::fd_fdstat_set_flags(bfd, 4) }, 0);
            assert_eq!(read_errno(bfd), 6, "EAGAIN after fd_fdstat_set_flags");
            println!("would block twice");
        }
        Some("cow") => {
            fs::write("/workspace/a.txt", "changed").unwrap();
            fs::remove_file("/workspace/b.txt").unwrap();
            fs::write("/workspace/c.txt", "new").unwrap();
            println!("{}", fs::read_to_string("/workspace/a.txt").unwrap());
        }
        other => panic!("unknown mode {other:?}"),
    }
}
