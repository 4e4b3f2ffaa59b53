//! The resource limiter of a run: memory and table growth past the run's
//! limits is refused, and remembered so that the trap that usually follows
//! is reported as [`TrapKind::MemoryLimit`](crate::TrapKind::MemoryLimit).

/// Limits on one store's memories, tables and instances.
#[derive(Debug)]
pub(crate) struct Limiter {
    memory: usize,
    table: usize,
    /// Whether a growth was refused during the run.
    pub(crate) refused: bool,
}

impl Limiter {
    pub(crate) fn new(memory: usize, table: usize) -> Self {
        Self {
            memory,
            table,
            refused: false,
        }
    }
}

impl wasmtime::ResourceLimiter for Limiter {
    fn memory_growing(
        &mut self,
        _current: usize,
        desired: usize,
        maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        let allowed = desired <= self.memory && maximum.is_none_or(|m| desired <= m);
        if !allowed {
            self.refused = true;
        }
        Ok(allowed)
    }

    fn table_growing(
        &mut self,
        _current: usize,
        desired: usize,
        maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        let allowed = desired <= self.table && maximum.is_none_or(|m| desired <= m);
        if !allowed {
            self.refused = true;
        }
        Ok(allowed)
    }

    fn instances(&self) -> usize {
        1
    }

    fn tables(&self) -> usize {
        4
    }

    fn memories(&self) -> usize {
        1
    }
}
