//! `ExecutorConfig` (timeouts, limits, retries of every executor) with its
//! builder, and `RetryPolicy`, exponential backoff with jitter.

use std::collections::hash_map::RandomState;
use std::hash::{BuildHasher, Hasher};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// How often, and after how long, a failed operation is tried again.
///
/// The delay before retry `n` (counting from 0) is `base × 2ⁿ`, at most
/// `max_delay`; with jitter (the default) it is drawn uniformly from the
/// upper half of that, `[d/2, d]`, so that many clients failing together do
/// not retry together.
///
/// ```
/// use std::time::Duration;
/// use oanix_exec::RetryPolicy;
///
/// let p = RetryPolicy::exponential(3, Duration::from_millis(100)).without_jitter();
/// assert_eq!(p.delay(0), Some(Duration::from_millis(100)));
/// assert_eq!(p.delay(2), Some(Duration::from_millis(400)));
/// assert_eq!(p.delay(3), None); // three retries, then give up
/// assert_eq!(RetryPolicy::none().delay(0), None);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    max_retries: u32,
    base: Duration,
    max_delay: Duration,
    jitter: bool,
}

impl Default for RetryPolicy {
    /// No retries.
    fn default() -> Self {
        Self::none()
    }
}

impl RetryPolicy {
    /// Never retry.
    pub const fn none() -> Self {
        Self {
            max_retries: 0,
            base: Duration::ZERO,
            max_delay: Duration::ZERO,
            jitter: false,
        }
    }

    /// Up to `max_retries` retries, the first after about `base`, each
    /// delay doubling, at most 30 s, with jitter.
    pub const fn exponential(max_retries: u32, base: Duration) -> Self {
        Self {
            max_retries,
            base,
            max_delay: Duration::from_secs(30),
            jitter: true,
        }
    }

    /// Caps each delay at `max`.
    #[must_use]
    pub const fn max_delay(mut self, max: Duration) -> Self {
        self.max_delay = max;
        self
    }

    /// Uses the exact delays, without jitter (for tests and reproducible runs).
    #[must_use]
    pub const fn without_jitter(mut self) -> Self {
        self.jitter = false;
        self
    }

    /// How many retries at most.
    pub const fn max_retries(&self) -> u32 {
        self.max_retries
    }

    /// The delay before retry `retry` (0 for the first retry), or `None`
    /// when the retries are used up.
    pub fn delay(&self, retry: u32) -> Option<Duration> {
        if retry >= self.max_retries {
            return None;
        }
        let factor = 1u32.checked_shl(retry.min(31)).unwrap_or(u32::MAX);
        let full = self
            .base
            .checked_mul(factor)
            .unwrap_or(self.max_delay)
            .min(self.max_delay);
        if !self.jitter || full.is_zero() {
            return Some(full);
        }
        let half = full / 2;
        let span = u64::try_from((full - half).as_nanos()).unwrap_or(u64::MAX);
        let offset = if span == 0 { 0 } else { random_u64() % span };
        Some(half + Duration::from_nanos(offset))
    }
}

/// A random number for jitter: the standard library's randomly keyed hasher
/// over a counter. Not for cryptography; enough to spread retries apart.
fn random_u64() -> u64 {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let mut h = RandomState::new().build_hasher();
    h.write_u64(COUNTER.fetch_add(1, Ordering::Relaxed));
    h.finish()
}

/// The configuration of an [`ExecutorManager`](crate::ExecutorManager) and
/// its executors. Build one with [`ExecutorConfig::builder`]; the
/// [`Default`] values are listed on each field.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct ExecutorConfig {
    /// A fallback wake-up period. Executors wake on the services'
    /// notifications (`work_listener`) and never poll in the normal path;
    /// set this only to guard against a service that fails to notify.
    /// Default `None`.
    pub poll_interval: Option<Duration>,
    /// Worker threads of the runtime the manager creates (ignored with
    /// [`ExecutorManager::with_handle`](crate::ExecutorManager::with_handle)).
    /// Default 2.
    pub worker_threads: usize,
    /// How long one HTTP attempt (connect, send, receive the whole body) may
    /// take; the request's own timeout bounds all attempts, retries and
    /// redirects together. Default 30 s.
    pub http_timeout: Duration,
    /// Retries of HTTP requests, where a retry is safe. Default: 2 retries
    /// from 100 ms.
    pub http_retry: RetryPolicy,
    /// Redirects followed, at most. Default 10.
    pub http_max_redirects: usize,
    /// HTTP requests in flight at once, at most. Default 64.
    pub http_max_concurrent: usize,
    /// How long an idle pooled HTTP connection is kept. Default 90 s.
    pub http_pool_idle_timeout: Duration,
    /// How long a TCP connection (each address tried) may take to open.
    /// Default 10 s.
    pub connect_timeout: Duration,
    /// How long opening a WebSocket (TCP, TLS, handshake) may take. Default 10 s.
    pub ws_connect_timeout: Duration,
    /// WebSocket connections open at once, at most. Default 100.
    pub ws_max_concurrent: usize,
    /// How often an idle WebSocket is pinged. Default 30 s; `None` never.
    pub ws_ping_interval: Option<Duration>,
    /// How long after a ping the peer may stay silent before it is taken
    /// for dead. Default 10 s.
    pub ws_pong_timeout: Duration,
    /// Reconnection of WebSockets that drop. Default: none (a dropped
    /// connection closes with the reason).
    pub ws_reconnect: RetryPolicy,
    /// The largest WebSocket message received, in bytes. Default 16 MiB.
    pub ws_max_message: usize,
    /// The largest WebSocket frame received, in bytes. Default 4 MiB.
    pub ws_max_frame: usize,
    /// The WebSocket write buffer: bytes waiting for the socket at most
    /// (always at least the largest message the policy lets out). Default 1 MiB.
    pub ws_max_write_buffer: usize,
    /// How long a relay has to answer an `EVENT` with `OK`. Default 10 s.
    pub nostr_ok_timeout: Duration,
    /// Retries of a publication a relay failed transiently (no `OK`,
    /// `rate-limited:`, `error:`). Default: 5 retries from 500 ms.
    pub nostr_publish_retry: RetryPolicy,
    /// Reconnection of relay connections. Default: unlimited in practice
    /// (1000 retries from 500 ms, at most 30 s apart).
    pub nostr_reconnect: RetryPolicy,
    /// Ids of received events remembered to drop duplicates across relays.
    /// Default 65 536.
    pub nostr_seen_capacity: usize,
    /// How long `shutdown` lets in-flight work finish before failing it.
    /// Default 5 s.
    pub shutdown_grace: Duration,
    /// Trust the Mozilla root certificates (`webpki-roots`). Default true.
    pub tls_webpki_roots: bool,
    /// Further trusted root certificates, DER.
    pub tls_root_certificates: Vec<Vec<u8>>,
}

impl Default for ExecutorConfig {
    fn default() -> Self {
        Self {
            poll_interval: None,
            worker_threads: 2,
            http_timeout: Duration::from_secs(30),
            http_retry: RetryPolicy::exponential(2, Duration::from_millis(100)),
            http_max_redirects: 10,
            http_max_concurrent: 64,
            http_pool_idle_timeout: Duration::from_secs(90),
            connect_timeout: Duration::from_secs(10),
            ws_connect_timeout: Duration::from_secs(10),
            ws_max_concurrent: 100,
            ws_ping_interval: Some(Duration::from_secs(30)),
            ws_pong_timeout: Duration::from_secs(10),
            ws_reconnect: RetryPolicy::none(),
            ws_max_message: 16 << 20,
            ws_max_frame: 4 << 20,
            ws_max_write_buffer: 1 << 20,
            nostr_ok_timeout: Duration::from_secs(10),
            nostr_publish_retry: RetryPolicy::exponential(5, Duration::from_millis(500)),
            nostr_reconnect: RetryPolicy::exponential(1000, Duration::from_millis(500)),
            nostr_seen_capacity: 1 << 16,
            shutdown_grace: Duration::from_secs(5),
            tls_webpki_roots: true,
            tls_root_certificates: Vec::new(),
        }
    }
}

impl ExecutorConfig {
    /// Starts from the defaults.
    pub fn builder() -> ExecutorConfigBuilder {
        ExecutorConfigBuilder::default()
    }
}

/// Builds an [`ExecutorConfig`]; every method sets the field of the same name.
#[derive(Debug, Clone, Default)]
pub struct ExecutorConfigBuilder {
    config: ExecutorConfig,
}

macro_rules! setters {
    ($($(#[$doc:meta])* $name:ident: $ty:ty;)*) => {
        $(
            $(#[$doc])*
            #[must_use]
            pub fn $name(mut self, value: $ty) -> Self {
                self.config.$name = value;
                self
            }
        )*
    };
}

impl ExecutorConfigBuilder {
    setters! {
        /// Sets [`ExecutorConfig::worker_threads`].
        worker_threads: usize;
        /// Sets [`ExecutorConfig::http_timeout`].
        http_timeout: Duration;
        /// Sets [`ExecutorConfig::http_retry`].
        http_retry: RetryPolicy;
        /// Sets [`ExecutorConfig::http_max_redirects`].
        http_max_redirects: usize;
        /// Sets [`ExecutorConfig::http_max_concurrent`].
        http_max_concurrent: usize;
        /// Sets [`ExecutorConfig::http_pool_idle_timeout`].
        http_pool_idle_timeout: Duration;
        /// Sets [`ExecutorConfig::connect_timeout`].
        connect_timeout: Duration;
        /// Sets [`ExecutorConfig::ws_connect_timeout`].
        ws_connect_timeout: Duration;
        /// Sets [`ExecutorConfig::ws_max_concurrent`].
        ws_max_concurrent: usize;
        /// Sets [`ExecutorConfig::ws_pong_timeout`].
        ws_pong_timeout: Duration;
        /// Sets [`ExecutorConfig::ws_reconnect`].
        ws_reconnect: RetryPolicy;
        /// Sets [`ExecutorConfig::ws_max_message`].
        ws_max_message: usize;
        /// Sets [`ExecutorConfig::ws_max_frame`].
        ws_max_frame: usize;
        /// Sets [`ExecutorConfig::ws_max_write_buffer`].
        ws_max_write_buffer: usize;
        /// Sets [`ExecutorConfig::nostr_ok_timeout`].
        nostr_ok_timeout: Duration;
        /// Sets [`ExecutorConfig::nostr_publish_retry`].
        nostr_publish_retry: RetryPolicy;
        /// Sets [`ExecutorConfig::nostr_reconnect`].
        nostr_reconnect: RetryPolicy;
        /// Sets [`ExecutorConfig::nostr_seen_capacity`].
        nostr_seen_capacity: usize;
        /// Sets [`ExecutorConfig::shutdown_grace`].
        shutdown_grace: Duration;
        /// Sets [`ExecutorConfig::tls_webpki_roots`].
        tls_webpki_roots: bool;
    }

    /// Sets the fallback wake-up period ([`ExecutorConfig::poll_interval`]).
    #[must_use]
    pub fn poll_interval(mut self, every: Duration) -> Self {
        self.config.poll_interval = Some(every);
        self
    }

    /// Sets the WebSocket ping period ([`ExecutorConfig::ws_ping_interval`]).
    #[must_use]
    pub fn ws_ping_interval(mut self, every: Duration) -> Self {
        self.config.ws_ping_interval = Some(every);
        self
    }

    /// Never pings WebSockets (no dead-peer detection).
    #[must_use]
    pub fn no_ws_ping(mut self) -> Self {
        self.config.ws_ping_interval = None;
        self
    }

    /// Trusts a further root certificate (DER) for HTTPS and WSS.
    #[must_use]
    pub fn add_root_certificate(mut self, der: impl Into<Vec<u8>>) -> Self {
        self.config.tls_root_certificates.push(der.into());
        self
    }

    /// The configuration.
    pub fn build(self) -> ExecutorConfig {
        self.config
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delays_double_up_to_the_cap_and_stop_after_the_retries() {
        let p = RetryPolicy::exponential(40, Duration::from_millis(10))
            .max_delay(Duration::from_millis(70))
            .without_jitter();
        let delays: Vec<_> = (0..5).map(|n| p.delay(n)).collect();
        assert_eq!(
            delays,
            [10, 20, 40, 70, 70].map(|ms| Some(Duration::from_millis(ms)))
        );
        assert_eq!(p.delay(39), Some(Duration::from_millis(70)));
        assert_eq!(p.delay(40), None);
    }

    #[test]
    fn jitter_stays_in_the_upper_half() {
        let p = RetryPolicy::exponential(3, Duration::from_millis(100));
        let mut seen = std::collections::BTreeSet::new();
        for _ in 0..200 {
            let d = p.delay(1).unwrap();
            assert!(d >= Duration::from_millis(100) && d <= Duration::from_millis(200));
            seen.insert(d);
        }
        assert!(seen.len() > 10, "jitter should vary: {seen:?}");
    }

    #[test]
    fn builder_sets_fields() {
        let c = ExecutorConfig::builder()
            .poll_interval(Duration::from_millis(50))
            .http_timeout(Duration::from_secs(3))
            .http_retry(RetryPolicy::exponential(3, Duration::from_millis(100)))
            .ws_connect_timeout(Duration::from_secs(1))
            .ws_max_concurrent(7)
            .ws_ping_interval(Duration::from_secs(2))
            .ws_reconnect(RetryPolicy::exponential(1, Duration::from_millis(5)))
            .build();
        assert_eq!(c.poll_interval, Some(Duration::from_millis(50)));
        assert_eq!(c.http_timeout, Duration::from_secs(3));
        assert_eq!(c.http_retry.max_retries(), 3);
        assert_eq!(c.ws_max_concurrent, 7);
        assert_eq!(c.ws_ping_interval, Some(Duration::from_secs(2)));
        assert_eq!(c.ws_reconnect.max_retries(), 1);
        assert_eq!(ExecutorConfig::default().poll_interval, None);
    }
}
