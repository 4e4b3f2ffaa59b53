//! Metrics in the Prometheus text format, and the endpoint that serves them.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::{Arc, Mutex, PoisonError};

/// Upper bounds of the duration histograms, in seconds.
const BUCKETS: &[f64] = &[
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0,
];

#[derive(Debug, Default, Clone)]
struct Histogram {
    counts: Vec<u64>,
    sum: f64,
    count: u64,
}

impl Histogram {
    fn observe(&mut self, secs: f64) {
        if self.counts.is_empty() {
            self.counts = vec![0; BUCKETS.len()];
        }
        for (i, b) in BUCKETS.iter().enumerate() {
            if secs <= *b {
                self.counts[i] += 1;
            }
        }
        self.sum += secs;
        self.count += 1;
    }
}

#[derive(Debug, Default)]
struct State {
    /// `name{labels}` → value, for counters and gauges.
    values: BTreeMap<(String, String), f64>,
    histograms: BTreeMap<String, Histogram>,
}

/// A set of metrics: counters, gauges and histograms with labels, read out
/// in the Prometheus text format. Cloning gives another handle on the same
/// set.
#[derive(Debug, Clone, Default)]
pub struct Metrics {
    state: Arc<Mutex<State>>,
    help: Arc<BTreeMap<&'static str, (&'static str, &'static str)>>,
}

impl Metrics {
    /// A set whose metrics are `described`: `(name, type, help)`.
    pub fn new(described: &[(&'static str, &'static str, &'static str)]) -> Self {
        Self {
            state: Arc::default(),
            help: Arc::new(described.iter().map(|(n, t, h)| (*n, (*t, *h))).collect()),
        }
    }

    fn with<R>(&self, f: impl FnOnce(&mut State) -> R) -> R {
        f(&mut self.state.lock().unwrap_or_else(PoisonError::into_inner))
    }

    /// Adds `by` to counter `name` with `labels` (`state="completed"`).
    pub fn add(&self, name: &str, labels: &str, by: f64) {
        self.with(|s| {
            *s.values
                .entry((name.to_owned(), labels.to_owned()))
                .or_default() += by
        });
    }

    /// Sets gauge `name` with `labels` to `value`.
    pub fn set(&self, name: &str, labels: &str, value: f64) {
        self.with(|s| {
            s.values.insert((name.to_owned(), labels.to_owned()), value);
        });
    }

    /// Records `secs` in histogram `name`.
    pub fn observe(&self, name: &str, secs: f64) {
        self.with(|s| {
            s.histograms
                .entry(name.to_owned())
                .or_default()
                .observe(secs)
        });
    }

    /// The value of counter or gauge `name` with `labels`.
    pub fn value(&self, name: &str, labels: &str) -> f64 {
        self.with(|s| {
            s.values
                .get(&(name.to_owned(), labels.to_owned()))
                .copied()
                .unwrap_or(0.0)
        })
    }

    /// Every metric, in the Prometheus text exposition format (0.0.4).
    pub fn render(&self) -> String {
        let mut out = String::new();
        let (values, histograms) = self.with(|s| (s.values.clone(), s.histograms.clone()));
        for (name, (kind, help)) in self.help.iter() {
            let _ = writeln!(out, "# HELP {name} {help}");
            let _ = writeln!(out, "# TYPE {name} {kind}");
            if *kind == "histogram" {
                let h = histograms.get(*name).cloned().unwrap_or_default();
                let counts = if h.counts.is_empty() {
                    vec![0; BUCKETS.len()]
                } else {
                    h.counts.clone()
                };
                for (b, c) in BUCKETS.iter().zip(&counts) {
                    let _ = writeln!(out, "{name}_bucket{{le=\"{b}\"}} {c}");
                }
                let _ = writeln!(out, "{name}_bucket{{le=\"+Inf\"}} {}", h.count);
                let _ = writeln!(out, "{name}_sum {}", h.sum);
                let _ = writeln!(out, "{name}_count {}", h.count);
                continue;
            }
            for ((n, labels), v) in values.iter().filter(|((n, _), _)| n == name) {
                if labels.is_empty() {
                    let _ = writeln!(out, "{n} {v}");
                } else {
                    let _ = writeln!(out, "{n}{{{labels}}} {v}");
                }
            }
        }
        out
    }
}

/// The worker's metrics.
pub(crate) const WORKER_METRICS: &[(&str, &str, &str)] = &[
    (
        "oanix_worker_jobs_total",
        "counter",
        "Deliveries handled, by how they ended.",
    ),
    (
        "oanix_worker_job_duration_seconds",
        "histogram",
        "How long jobs ran.",
    ),
    (
        "oanix_worker_environment_starts_total",
        "counter",
        "Environments built for jobs.",
    ),
    (
        "oanix_worker_queue_depth",
        "gauge",
        "Jobs waiting in each band, as the worker last saw.",
    ),
    (
        "oanix_worker_capability_requests_total",
        "counter",
        "Requests jobs made through their HTTP capability, by outcome.",
    ),
];

/// The batch's metrics.
pub(crate) const BATCH_METRICS: &[(&str, &str, &str)] = &[
    (
        "oanix_batch_jobs",
        "gauge",
        "The batch's jobs, by state (pending until their result).",
    ),
    (
        "oanix_batch_submit_to_result_seconds",
        "histogram",
        "From a job's submission to its result.",
    ),
];

impl Metrics {
    /// The metrics a worker keeps.
    pub fn worker() -> Self {
        Self::new(WORKER_METRICS)
    }

    /// The metrics `oanix batch --nats` keeps.
    pub fn batch() -> Self {
        Self::new(BATCH_METRICS)
    }
}

/// Serves `metrics` at `GET /metrics` on `listener` until `shutdown`.
pub async fn serve_metrics(
    metrics: Metrics,
    listener: tokio::net::TcpListener,
    shutdown: tokio_util::sync::CancellationToken,
) {
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
    loop {
        let (mut stream, _) = tokio::select! {
            () = shutdown.cancelled() => return,
            a = listener.accept() => match a { Ok(a) => a, Err(_) => continue },
        };
        let metrics = metrics.clone();
        tokio::spawn(async move {
            // One request per connection: read the head, answer, close.
            let mut head = Vec::new();
            let mut buf = [0u8; 1024];
            while !head.windows(4).any(|w| w == b"\r\n\r\n") && head.len() < 16 * 1024 {
                match stream.read(&mut buf).await {
                    Ok(0) | Err(_) => return,
                    Ok(n) => head.extend_from_slice(&buf[..n]),
                }
            }
            let line = String::from_utf8_lossy(&head);
            let target = line.split_whitespace().nth(1).unwrap_or("/");
            let response = if line.starts_with("GET ") && target == "/metrics" {
                let body = metrics.render();
                format!(
                    "HTTP/1.1 200 OK\r\ncontent-type: text/plain; version=0.0.4\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                    body.len()
                )
            } else {
                "HTTP/1.1 404 Not Found\r\ncontent-length: 0\r\nconnection: close\r\n\r\n"
                    .to_owned()
            };
            let _ = stream.write_all(response.as_bytes()).await;
            let _ = stream.shutdown().await;
        });
    }
}
