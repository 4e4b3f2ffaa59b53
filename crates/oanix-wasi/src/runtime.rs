//! `WasiRuntime`: one engine, compiled modules cached by content, and runs
//! of preview1 commands over a namespace with hard limits.

use std::path::PathBuf;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use oanix_vfs::{Namespace, deadline};
use wasmtime::{
    Engine, InstanceAllocationStrategy, InstancePre, Linker, PoolingAllocationConfig, Store,
    UpdateDeadline,
};

use crate::cache::{self, MemoryCache};
use crate::config::{RunConfig, RunResult, Trap, TrapKind};
use crate::error::{Result, WasiError};
use crate::host::{self, DeadlineReached, Exit, Host, SetupError};
use crate::ticker::Ticker;

/// How the runtime's engine is set up: settings shared by every run.
///
/// ```
/// use std::time::Duration;
/// use oanix_wasi::RuntimeConfig;
///
/// let config = RuntimeConfig::new()
///     .pooling(Some(16))
///     .max_memory(512 << 20)
///     .epoch_tick(Duration::from_millis(2));
/// # let _ = config;
/// ```
#[derive(Debug, Clone)]
pub struct RuntimeConfig {
    fuel_metering: bool,
    pooling: Option<u32>,
    max_memory: usize,
    max_table_elements: usize,
    max_wasm_stack: usize,
    epoch_tick: Duration,
    cache_dir: Option<PathBuf>,
    memory_cache_entries: usize,
    keep_resident: usize,
}

impl Default for RuntimeConfig {
    fn default() -> Self {
        Self {
            fuel_metering: true,
            pooling: Some(32),
            max_memory: 1 << 30,
            max_table_elements: 20_000,
            max_wasm_stack: 512 << 10,
            epoch_tick: Duration::from_millis(5),
            cache_dir: None,
            memory_cache_entries: 64,
            keep_resident: 2 << 20,
        }
    }
}

impl RuntimeConfig {
    /// The defaults: fuel metering on, a pool of 32 instance slots keeping up
    /// to 2 MiB of touched memory resident, at most 1 GiB of memory and
    /// 20,000 table elements per guest, a 512 KiB wasm stack, a 5 ms epoch
    /// tick, no disk cache, 64 modules kept in memory.
    pub fn new() -> Self {
        Self::default()
    }

    /// Whether the engine counts fuel, so that runs may have a fuel budget
    /// ([`RunConfig::fuel`]). It costs a few percent of guest speed.
    #[must_use]
    pub fn fuel_metering(mut self, on: bool) -> Self {
        self.fuel_metering = on;
        self
    }

    /// The pooling allocator with this many instance slots (how many runs
    /// may be in progress at once), or `None` for on-demand allocation.
    /// Pooling makes instantiation cheaper; each slot reserves address space
    /// (not memory) for one guest memory.
    #[must_use]
    pub fn pooling(mut self, slots: Option<u32>) -> Self {
        self.pooling = slots;
        self
    }

    /// The most linear memory any guest may have, in bytes; a run's own
    /// [`RunConfig::memory_limit`] is capped by it.
    #[must_use]
    pub fn max_memory(mut self, bytes: usize) -> Self {
        self.max_memory = bytes;
        self
    }

    /// The most elements any table of a guest may have.
    #[must_use]
    pub fn max_table_elements(mut self, elements: usize) -> Self {
        self.max_table_elements = elements;
        self
    }

    /// The WebAssembly stack limit, in bytes: deeper recursion traps with
    /// [`TrapKind::StackOverflow`]. The thread that runs guests needs at
    /// least this much free stack plus room for the host calls.
    #[must_use]
    pub fn max_wasm_stack(mut self, bytes: usize) -> Self {
        self.max_wasm_stack = bytes;
        self
    }

    /// How often the epoch advances while runs are in progress: the
    /// precision of wall-clock timeouts (at least 100 µs).
    #[must_use]
    pub fn epoch_tick(mut self, period: Duration) -> Self {
        self.epoch_tick = period.max(Duration::from_micros(100));
        self
    }

    /// A directory where compiled modules are kept across processes. The
    /// directory must be as trusted as the host binary: what is in it is
    /// loaded as native code.
    #[must_use]
    pub fn cache_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.cache_dir = Some(dir.into());
        self
    }

    /// With pooling: how many bytes of a guest's memory that it touched stay
    /// mapped when its slot is freed, reset in place rather than returned to
    /// the kernel, so that the next run in the slot takes no page faults for
    /// them (on Linux, where the kernel can report which pages were touched).
    /// Costs up to this much resident memory per idle slot. Default 2 MiB;
    /// without that report (other systems, kernels before 6.7) it is not used.
    #[must_use]
    pub fn keep_resident(mut self, bytes: usize) -> Self {
        self.keep_resident = bytes;
        self
    }

    /// How many compiled modules are kept in memory (oldest out first).
    #[must_use]
    pub fn memory_cache_entries(mut self, entries: usize) -> Self {
        self.memory_cache_entries = entries;
        self
    }
}

/// A compiled command module, ready to instantiate: cheap to clone and to
/// run many times.
#[derive(Clone)]
pub struct WasiModule {
    inner: Arc<ModuleInner>,
}

struct ModuleInner {
    hash: [u8; 32],
    pre: InstancePre<Host>,
}

impl std::fmt::Debug for WasiModule {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WasiModule")
            .field("sha256", &cache::hex(&self.inner.hash))
            .finish()
    }
}

impl WasiModule {
    /// The SHA-256 of the module's bytes, its key in the caches.
    pub fn sha256(&self) -> [u8; 32] {
        self.inner.hash
    }
}

/// The WASI runtime: one engine, one linker holding the preview1 imports,
/// the module caches and the epoch ticker. Create one and share it; every
/// run gets a fresh store, so one guest never affects the next.
pub struct WasiRuntime {
    engine: Engine,
    linker: Linker<Host>,
    config: RuntimeConfig,
    modules: Mutex<MemoryCache<WasiModule>>,
    ticker: Ticker,
}

impl std::fmt::Debug for WasiRuntime {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WasiRuntime")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

/// How a run's WebAssembly part ended.
enum Ending {
    Returned,
    Exit(u32),
    Trap(Trap),
}

impl WasiRuntime {
    /// A runtime with the default [`RuntimeConfig`].
    pub fn new() -> Result<Self> {
        Self::with_config(RuntimeConfig::default())
    }

    /// A runtime with `config`.
    pub fn with_config(config: RuntimeConfig) -> Result<Self> {
        let mut wt = wasmtime::Config::new();
        wt.epoch_interruption(true);
        wt.consume_fuel(config.fuel_metering);
        wt.max_wasm_stack(config.max_wasm_stack);
        if let Some(slots) = config.pooling {
            let mut pool = PoolingAllocationConfig::new();
            pool.total_core_instances(slots)
                .total_memories(slots)
                .total_tables(slots.saturating_mul(4))
                .max_tables_per_module(4)
                .max_memory_size(config.max_memory)
                .table_elements(config.max_table_elements);
            // Without the kernel's report of touched pages, keeping memory
            // resident means resetting the whole region each time: only
            // worth it with the report.
            if PoolingAllocationConfig::is_pagemap_scan_available() {
                pool.linear_memory_keep_resident(config.keep_resident)
                    .table_keep_resident(config.keep_resident.min(64 << 10))
                    .pagemap_scan(wasmtime::Enabled::Yes);
            }
            wt.allocation_strategy(InstanceAllocationStrategy::Pooling(pool));
        }
        let engine = Engine::new(&wt).map_err(|e| WasiError::Config(format!("{e:#}")))?;
        let mut linker = Linker::new(&engine);
        host::add_to_linker(&mut linker).map_err(|e| WasiError::Runtime(format!("{e:#}")))?;
        let ticker = Ticker::start(engine.clone(), config.epoch_tick)
            .map_err(|e| WasiError::Runtime(format!("cannot start the epoch ticker: {e}")))?;
        Ok(Self {
            engine,
            linker,
            modules: Mutex::new(MemoryCache::new(config.memory_cache_entries)),
            config,
            ticker,
        })
    }

    /// Compiles `wasm` (a binary module), or takes it from the caches.
    ///
    /// The module must be a preview1 command: it may import only
    /// `wasi_snapshot_preview1` functions and must export `_start`.
    pub fn load(&self, wasm: &[u8]) -> Result<WasiModule> {
        let hash = cache::content_hash(wasm);
        if let Some(m) = self.lock_modules().get(&hash) {
            return Ok(m);
        }
        let module =
            cache::load_or_compile(&self.engine, self.config.cache_dir.as_deref(), &hash, wasm)?;
        match module.get_export("_start") {
            Some(wasmtime::ExternType::Func(_)) => {}
            _ => {
                return Err(WasiError::Link(
                    "the module exports no `_start` function (not a command)".to_owned(),
                ));
            }
        }
        let pre = self
            .linker
            .instantiate_pre(&module)
            .map_err(|e| WasiError::Link(format!("{e:#}")))?;
        let loaded = WasiModule {
            inner: Arc::new(ModuleInner { hash, pre }),
        };
        self.lock_modules().insert(hash, loaded.clone());
        Ok(loaded)
    }

    /// How many compiled modules the in-memory cache holds.
    pub fn cached_modules(&self) -> usize {
        self.lock_modules().len()
    }

    fn lock_modules(&self) -> std::sync::MutexGuard<'_, MemoryCache<WasiModule>> {
        self.modules.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Loads `wasm` (see [`load`](Self::load)) and runs it.
    pub fn run_bytes(&self, wasm: &[u8], ns: &Namespace, config: &RunConfig) -> Result<RunResult> {
        let module = self.load(wasm)?;
        self.run(&module, ns, config)
    }

    /// Runs `module` in `ns` on the calling thread.
    ///
    /// The guest's file calls go to `ns` as they happen. A trap, a timeout
    /// or a refused allocation ends the run and is reported in the result;
    /// `Err` means the run could not be set up.
    pub fn run(
        &self,
        module: &WasiModule,
        ns: &Namespace,
        config: &RunConfig,
    ) -> Result<RunResult> {
        let started = Instant::now();
        let host = Host::new(ns, config, self.config.max_memory).map_err(|e| match e {
            SetupError::Stdin(path, source) => WasiError::Stdin { path, source },
            SetupError::Preopen(path, source) => WasiError::Preopen { path, source },
        })?;
        let run_deadline = host.deadline;
        let mut store = Store::new(&self.engine, host);
        store.limiter(|h| &mut h.limiter);
        if self.config.fuel_metering {
            store
                .set_fuel(config.fuel.unwrap_or(u64::MAX))
                .map_err(|e| WasiError::Runtime(format!("{e:#}")))?;
        } else if config.fuel.is_some() {
            return Err(WasiError::Config(
                "a fuel budget needs a runtime with fuel metering".to_owned(),
            ));
        }
        let stop = config.stop.clone();
        let _ticking = if run_deadline.is_some() || stop.is_some() {
            store.set_epoch_deadline(1);
            store.epoch_deadline_callback(move |_| {
                if stop.as_ref().is_some_and(|s| s.load(Ordering::Relaxed)) {
                    return Err(Stopped.into());
                }
                Ok(match run_deadline {
                    Some(d) if Instant::now() >= d => UpdateDeadline::Interrupt,
                    _ => UpdateDeadline::Continue(1),
                })
            });
            Some(self.ticker.activate())
        } else {
            store.set_epoch_deadline(u64::MAX / 2);
            None
        };

        let mut execute = || -> std::result::Result<Ending, WasiError> {
            let instance = match module.inner.pre.instantiate(&mut store) {
                Ok(i) => i,
                Err(e) => {
                    return classify(e, store.data().limiter.refused, true);
                }
            };
            let memory = instance.get_memory(&mut store, "memory");
            store.data_mut().memory = memory;
            let start = instance
                .get_typed_func::<(), ()>(&mut store, "_start")
                .map_err(|e| WasiError::Link(format!("{e:#}")))?;
            match start.call(&mut store, ()) {
                Ok(()) => Ok(Ending::Returned),
                Err(e) => classify(e, store.data().limiter.refused, false),
            }
        };
        let ending = match run_deadline {
            Some(d) => deadline::scoped(d, execute)?,
            None => execute()?,
        };

        let fuel_consumed = match config.fuel {
            Some(budget) => store
                .get_fuel()
                .ok()
                .map(|left| budget.saturating_sub(left)),
            None => None,
        };
        let host = store.into_data();
        let (exit_code, trap) = match ending {
            Ending::Returned => (Some(0), None),
            Ending::Exit(code) => (Some(code), None),
            Ending::Trap(t) => (None, Some(t)),
        };
        Ok(RunResult {
            exit_code,
            trap,
            stdout: host.stdout.data,
            stderr: host.stderr.data,
            stdout_truncated: host.stdout.truncated,
            stderr_truncated: host.stderr.truncated,
            duration: started.elapsed(),
            fuel_consumed,
        })
    }
}

/// The trap of a run stopped through its stop flag.
#[derive(Debug)]
struct Stopped;

impl std::fmt::Display for Stopped {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("the run was stopped")
    }
}

impl std::error::Error for Stopped {}

/// Sorts out how a call into the guest failed.
fn classify(
    err: wasmtime::Error,
    refused: bool,
    instantiating: bool,
) -> std::result::Result<Ending, WasiError> {
    if let Some(Exit(code)) = err.downcast_ref::<Exit>() {
        return Ok(Ending::Exit(*code));
    }
    let kind = if err.downcast_ref::<Stopped>().is_some() {
        TrapKind::Cancelled
    } else if err.downcast_ref::<DeadlineReached>().is_some() {
        TrapKind::Timeout
    } else {
        match err.downcast_ref::<wasmtime::Trap>() {
            Some(wasmtime::Trap::Interrupt) => TrapKind::Timeout,
            Some(wasmtime::Trap::OutOfFuel) => TrapKind::OutOfFuel,
            Some(wasmtime::Trap::StackOverflow) => TrapKind::StackOverflow,
            _ if refused => TrapKind::MemoryLimit,
            Some(_) => TrapKind::Guest,
            // An error that is no trap while instantiating: the module
            // itself cannot be set up (too many instances at once...).
            None if instantiating => {
                return Err(WasiError::Instantiate(format!("{err:#}")));
            }
            None => TrapKind::Guest,
        }
    };
    Ok(Ending::Trap(Trap {
        kind,
        message: format!("{err:?}"),
    }))
}
