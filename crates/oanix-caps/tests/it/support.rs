//! Helpers shared by the integration tests: writing messages as an agent
//! does, and a minimal `block_on` to show listeners work from async code.

use std::future::Future;
use std::pin::pin;
use std::sync::Arc;
use std::task::{Context, Poll, Wake, Waker};
use std::thread::Thread;
use std::time::{Duration, Instant};

use oanix_vfs::{FileService, OpenFlags, Result, read_to_end};

/// Writes one message to `path` on a fresh handle and reads back the reply
/// (the id), as an agent does.
pub(crate) fn send<F: FileService + ?Sized>(fs: &F, path: &str, message: &str) -> Result<String> {
    let mut h = fs.open(path, OpenFlags::read_write())?;
    let n = h.write(message.as_bytes())?;
    assert_eq!(n, message.len());
    let mut out = Vec::new();
    read_to_end(h.as_mut(), &mut out)?;
    Ok(String::from_utf8(out).expect("ids are text"))
}

/// Reads a whole file as JSON.
pub(crate) fn read_json<F: FileService + ?Sized>(fs: &F, path: &str) -> Result<serde_json::Value> {
    let text = oanix_vfs::read_to_string(fs, path)?;
    Ok(serde_json::from_str(&text).expect("the file holds JSON"))
}

/// Spins (yielding, never sleeping) until `cond` holds; fails after 30 s.
pub(crate) fn until(what: &str, mut cond: impl FnMut() -> bool) {
    let start = Instant::now();
    while !cond() {
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "never happened: {what}"
        );
        std::thread::yield_now();
    }
}

struct Unpark(Thread);

impl Wake for Unpark {
    fn wake(self: Arc<Self>) {
        self.0.unpark();
    }
}

/// Runs a future to completion on this thread, parking between polls.
pub(crate) fn block_on<F: Future>(fut: F) -> F::Output {
    let mut fut = pin!(fut);
    let waker = Waker::from(Arc::new(Unpark(std::thread::current())));
    let mut cx = Context::from_waker(&waker);
    loop {
        if let Poll::Ready(v) = fut.as_mut().poll(&mut cx) {
            return v;
        }
        std::thread::park();
    }
}
