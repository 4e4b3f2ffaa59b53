//! Compiled modules, cached by the SHA-256 of their bytes: in memory for the
//! life of the runtime, and on disk (`Module::serialize`) when a cache
//! directory is configured, so that a module is compiled once per machine.

use std::collections::{HashMap, VecDeque};
use std::hash::{DefaultHasher, Hash, Hasher};
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};
use wasmtime::{Engine, Module};

use crate::error::{Result, WasiError};

/// The SHA-256 of a module's bytes.
pub(crate) fn content_hash(wasm: &[u8]) -> [u8; 32] {
    Sha256::digest(wasm).into()
}

pub(crate) fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write as _;
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        // Writing to a String cannot fail.
        let _ = write!(s, "{b:02x}");
    }
    s
}

/// A bounded in-memory map from content hash to value, oldest out first.
#[derive(Debug)]
pub(crate) struct MemoryCache<V> {
    map: HashMap<[u8; 32], V>,
    order: VecDeque<[u8; 32]>,
    capacity: usize,
}

impl<V: Clone> MemoryCache<V> {
    pub(crate) fn new(capacity: usize) -> Self {
        Self {
            map: HashMap::new(),
            order: VecDeque::new(),
            capacity,
        }
    }

    pub(crate) fn get(&self, key: &[u8; 32]) -> Option<V> {
        self.map.get(key).cloned()
    }

    pub(crate) fn insert(&mut self, key: [u8; 32], value: V) {
        if self.capacity == 0 {
            return;
        }
        if self.map.insert(key, value).is_none() {
            self.order.push_back(key);
        }
        while self.order.len() > self.capacity {
            if let Some(old) = self.order.pop_front() {
                self.map.remove(&old);
            }
        }
    }

    pub(crate) fn len(&self) -> usize {
        self.map.len()
    }
}

/// Where a module's compiled code lives in `dir`: its content hash and the
/// engine's compatibility hash name the file, so engines configured
/// differently never share an entry.
fn cache_file(dir: &Path, engine: &Engine, key: &[u8; 32]) -> PathBuf {
    let mut h = DefaultHasher::new();
    engine.precompile_compatibility_hash().hash(&mut h);
    dir.join(format!("{}-{:016x}.cwasm", hex(key), h.finish()))
}

/// The module for `wasm`: from the disk cache when there is a usable entry,
/// else compiled (and then written to the cache).
pub(crate) fn load_or_compile(
    engine: &Engine,
    dir: Option<&Path>,
    key: &[u8; 32],
    wasm: &[u8],
) -> Result<Module> {
    let Some(dir) = dir else {
        return compile(engine, wasm);
    };
    let file = cache_file(dir, engine, key);
    if file.is_file()
        && let Ok(module) = deserialize(engine, &file)
    {
        return Ok(module);
    }
    let module = compile(engine, wasm)?;
    // The cache only saves time: a failure to write it costs the next
    // process a compilation, nothing more.
    let _ = store(&module, dir, &file);
    Ok(module)
}

/// Writes `module` to `file` in `dir`: aside first, then renamed, so that a
/// reader never sees half a file.
fn store(module: &Module, dir: &Path, file: &Path) -> std::result::Result<(), String> {
    let bytes = module.serialize().map_err(|e| e.to_string())?;
    std::fs::create_dir_all(dir).map_err(|e| e.to_string())?;
    let tmp = file.with_extension(format!("tmp{}", std::process::id()));
    std::fs::write(&tmp, bytes).map_err(|e| e.to_string())?;
    std::fs::rename(&tmp, file).map_err(|e| {
        let _ = std::fs::remove_file(&tmp);
        e.to_string()
    })
}

fn compile(engine: &Engine, wasm: &[u8]) -> Result<Module> {
    Module::new(engine, wasm).map_err(|e| WasiError::Compile(format!("{e:#}")))
}

/// Loads compiled code written by [`load_or_compile`].
#[allow(
    unsafe_code,
    reason = "loading precompiled code is unsafe in wasmtime: it is native code"
)]
fn deserialize(engine: &Engine, file: &Path) -> wasmtime::Result<Module> {
    // Read into memory rather than mapped: a file changed or truncated on
    // disk later cannot then pull pages from under running code.
    let bytes = std::fs::read(file)?;
    // SAFETY: the bytes are a file this runtime wrote with
    // `Module::serialize` into the cache directory its owner configured (the
    // directory is as trusted as the host binary; the threat model in the
    // crate docs says so), and its name carries the engine's compatibility
    // hash. Wasmtime checks the header (version and engine settings) before
    // using it, and a file that fails to load is recompiled and replaced.
    unsafe { Module::deserialize(engine, &bytes) }
}
