//! OpenTelemetry for `worker` and `batch --nats`: when
//! `OTEL_EXPORTER_OTLP_ENDPOINT` (or `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`)
//! is set, the commands' spans (`oanix.batch`, `oanix.submit`,
//! `oanix.follow`, `oanix.job.run`, `oanix.job.result`) are exported over
//! OTLP/HTTP with JSON bodies to that collector, and the W3C trace context
//! travels in the job messages, so that one trace runs from a batch's
//! submission through every worker's runs to their results. The other
//! standard variables (`OTEL_EXPORTER_OTLP_HEADERS`, `..._TIMEOUT`) apply.
//! Unset, nothing is installed and spans cost nothing.

use anyhow::{Context, Result};
use opentelemetry::trace::TracerProvider as _;
use opentelemetry_otlp::{Protocol, WithExportConfig as _};
use opentelemetry_sdk::trace::SdkTracerProvider;
use tracing_subscriber::layer::SubscriberExt as _;
use tracing_subscriber::util::SubscriberInitExt as _;

/// The installed exporter; dropping it sends the spans not yet sent.
pub(crate) struct Telemetry(Option<SdkTracerProvider>);

impl Drop for Telemetry {
    fn drop(&mut self) {
        if let Some(provider) = self.0.take()
            && let Err(e) = provider.shutdown()
        {
            eprintln!("warning: sending the last spans: {e}");
        }
    }
}

/// Installs the exporter for `service` (`oanix-worker`, `oanix-batch`) if
/// the environment names a collector. Call it before the runtime starts.
pub(crate) fn init(service: &'static str) -> Result<Telemetry> {
    let configured = [
        "OTEL_EXPORTER_OTLP_ENDPOINT",
        "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
    ]
    .iter()
    .any(|k| std::env::var_os(k).is_some_and(|v| !v.is_empty()));
    if !configured {
        return Ok(Telemetry(None));
    }
    opentelemetry::global::set_text_map_propagator(
        opentelemetry_sdk::propagation::TraceContextPropagator::new(),
    );
    let exporter = opentelemetry_otlp::SpanExporter::builder()
        .with_http()
        .with_protocol(Protocol::HttpJson)
        .build()
        .context("OTEL_EXPORTER_OTLP_ENDPOINT: the OTLP exporter")?;
    let provider = SdkTracerProvider::builder()
        .with_batch_exporter(exporter)
        .with_resource(
            opentelemetry_sdk::Resource::builder()
                .with_service_name(service)
                .build(),
        )
        .build();
    let layer = tracing_opentelemetry::layer().with_tracer(provider.tracer("oanix"));
    tracing_subscriber::registry()
        .with(layer)
        .try_init()
        .context("installing the span exporter")?;
    Ok(Telemetry(Some(provider)))
}
