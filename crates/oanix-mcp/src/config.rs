//! What a server allows per call.

use std::time::Duration;

/// The bounds of one server's tool calls. Every bound refuses a call that
/// goes past it before anything is done.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct McpConfig {
    /// The most bytes one `read_file` returns (a larger file is read in
    /// parts with `offset`). Default 1 MiB.
    pub max_read_bytes: u64,
    /// The most bytes one `write_file`, `append_file` or `set_result`
    /// writes. Default 8 MiB.
    pub max_write_bytes: u64,
    /// The most matches one `find` returns. Default 1 000.
    pub max_find_results: usize,
    /// The longest a `run` may take, and its default. Default 300 s.
    pub run_timeout: Duration,
    /// The longest any other call may wait on a blocking file (an HTTP
    /// response, a file a capability fills). Default 60 s.
    pub call_timeout: Duration,
    /// How often subscribed resources are looked at for changes made
    /// outside tool calls (a running command, an executor). Default 100 ms;
    /// changes made by tool calls are seen at once.
    pub poll_interval: Duration,
}

impl Default for McpConfig {
    fn default() -> Self {
        Self {
            max_read_bytes: 1 << 20,
            max_write_bytes: 8 << 20,
            max_find_results: 1000,
            run_timeout: Duration::from_secs(300),
            call_timeout: Duration::from_secs(60),
            poll_interval: Duration::from_millis(100),
        }
    }
}

impl McpConfig {
    /// Sets [`max_write_bytes`](Self::max_write_bytes).
    #[must_use]
    pub fn max_write_bytes(mut self, bytes: u64) -> Self {
        self.max_write_bytes = bytes;
        self
    }

    /// Sets [`max_read_bytes`](Self::max_read_bytes).
    #[must_use]
    pub fn max_read_bytes(mut self, bytes: u64) -> Self {
        self.max_read_bytes = bytes;
        self
    }

    /// Sets [`run_timeout`](Self::run_timeout).
    #[must_use]
    pub fn run_timeout(mut self, timeout: Duration) -> Self {
        self.run_timeout = timeout;
        self
    }

    /// Sets [`call_timeout`](Self::call_timeout).
    #[must_use]
    pub fn call_timeout(mut self, timeout: Duration) -> Self {
        self.call_timeout = timeout;
        self
    }

    /// Sets [`poll_interval`](Self::poll_interval).
    #[must_use]
    pub fn poll_interval(mut self, interval: Duration) -> Self {
        self.poll_interval = interval;
        self
    }
}
