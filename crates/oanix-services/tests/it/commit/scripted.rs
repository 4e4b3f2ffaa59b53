//! `Scripted`: a file service that forwards to another and, on chosen
//! mutating calls, fails or first runs a closure (a host change at an exact
//! moment of a commit).

use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

use oanix_vfs::{
    DirEntry, FileHandle, FileService, FsError, Metadata, OpenFlags, Result, Timestamp,
};

type Hook = Box<dyn FnOnce() + Send>;

/// Forwards to `inner`; counts the mutating calls (open for writing or
/// creating, mkdir, remove, rename, set_times) from 1.
pub(crate) struct Scripted<F> {
    inner: F,
    calls: AtomicUsize,
    fails: Box<dyn Fn(usize) -> bool + Send + Sync>,
    hook: Mutex<Option<(usize, Hook)>>,
}

impl<F: FileService> Scripted<F> {
    /// Forwards everything.
    pub(crate) fn new(inner: F) -> Self {
        Self {
            inner,
            calls: AtomicUsize::new(0),
            fails: Box::new(|_| false),
            hook: Mutex::new(None),
        }
    }

    /// Fails the mutating calls whose numbers `fails` accepts (with an I/O
    /// error, before forwarding).
    pub(crate) fn failing(mut self, fails: impl Fn(usize) -> bool + Send + Sync + 'static) -> Self {
        self.fails = Box::new(fails);
        self
    }

    /// Runs `hook` just before the mutating call numbered `at` is forwarded.
    pub(crate) fn before_call(self, at: usize, hook: impl FnOnce() + Send + 'static) -> Self {
        *self.hook.lock().unwrap() = Some((at, Box::new(hook)));
        self
    }

    /// How many mutating calls were made.
    pub(crate) fn calls(&self) -> usize {
        self.calls.load(Ordering::SeqCst)
    }

    fn mutating(&self, path: &str) -> Result<()> {
        let n = self.calls.fetch_add(1, Ordering::SeqCst) + 1;
        let hook = {
            let mut slot = self.hook.lock().unwrap();
            match slot.take() {
                Some((at, hook)) if at == n => Some(hook),
                other => {
                    *slot = other;
                    None
                }
            }
        };
        if let Some(hook) = hook {
            hook();
        }
        if (self.fails)(n) {
            return Err(FsError::io(path, format!("injected failure of call {n}")));
        }
        Ok(())
    }
}

impl<F: FileService> FileService for Scripted<F> {
    fn open(&self, path: &str, flags: OpenFlags) -> Result<Box<dyn FileHandle>> {
        if flags.mutates() {
            self.mutating(path)?;
        }
        self.inner.open(path, flags)
    }
    fn readdir(&self, path: &str) -> Result<Vec<DirEntry>> {
        self.inner.readdir(path)
    }
    fn stat(&self, path: &str) -> Result<Metadata> {
        self.inner.stat(path)
    }
    fn lstat(&self, path: &str) -> Result<Metadata> {
        self.inner.lstat(path)
    }
    fn mkdir(&self, path: &str) -> Result<()> {
        self.mutating(path)?;
        self.inner.mkdir(path)
    }
    fn remove(&self, path: &str) -> Result<()> {
        self.mutating(path)?;
        self.inner.remove(path)
    }
    fn rename(&self, from: &str, to: &str) -> Result<()> {
        self.mutating(from)?;
        self.inner.rename(from, to)
    }
    fn set_times(
        &self,
        path: &str,
        accessed: Option<Timestamp>,
        modified: Option<Timestamp>,
    ) -> Result<()> {
        self.mutating(path)?;
        self.inner.set_times(path, accessed, modified)
    }
}
