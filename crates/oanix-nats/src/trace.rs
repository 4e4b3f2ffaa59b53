//! Trace context across the cluster. Jobs are submitted, run and written
//! under `tracing` spans (`oanix.submit`, `oanix.job.run`,
//! `oanix.job.result`); with the `otel` feature the submitting span's
//! context travels as a W3C `traceparent` header of each job message, so a
//! worker's spans continue the submitter's trace when both processes export
//! to OpenTelemetry. The propagator is the global one the program sets
//! (`opentelemetry::global::set_text_map_propagator`); without one, or
//! without the feature, nothing is added and nothing is read.

use async_nats::HeaderMap;

/// Adds the context of `span` to `headers`.
#[cfg(feature = "otel")]
pub(crate) fn inject(span: &tracing::Span, headers: &mut HeaderMap) {
    use tracing_opentelemetry::OpenTelemetrySpanExt as _;

    struct Into<'a>(&'a mut HeaderMap);
    impl opentelemetry::propagation::Injector for Into<'_> {
        fn set(&mut self, key: &str, value: String) {
            self.0.insert(key, value.as_str());
        }
    }
    let cx = span.context();
    opentelemetry::global::get_text_map_propagator(|p| p.inject_context(&cx, &mut Into(headers)));
}

/// Makes the context in `headers`, if any, the parent of `span`.
#[cfg(feature = "otel")]
pub(crate) fn continue_in(span: &tracing::Span, headers: Option<&HeaderMap>) {
    use tracing_opentelemetry::OpenTelemetrySpanExt as _;

    struct From<'a>(&'a HeaderMap);
    impl opentelemetry::propagation::Extractor for From<'_> {
        fn get(&self, key: &str) -> Option<&str> {
            self.0.get(key).map(|v| v.as_str())
        }
        fn keys(&self) -> Vec<&str> {
            self.0.iter().map(|(k, _)| k.as_ref()).collect()
        }
    }
    let Some(headers) = headers else { return };
    let cx = opentelemetry::global::get_text_map_propagator(|p| p.extract(&From(headers)));
    // A span that is not recorded (no subscriber wants it) has no parent to set.
    let _ = span.set_parent(cx);
}

/// Without the `otel` feature: nothing travels.
#[cfg(not(feature = "otel"))]
pub(crate) fn inject(_span: &tracing::Span, _headers: &mut HeaderMap) {}

/// Without the `otel` feature: nothing is read.
#[cfg(not(feature = "otel"))]
pub(crate) fn continue_in(_span: &tracing::Span, _headers: Option<&HeaderMap>) {}
