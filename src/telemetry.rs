//! Logging and metrics: tracing to stderr, as text or JSON, filtered by
//! RUST_LOG; Prometheus counters in `metrics`, served at `/metrics`.

use tracing_subscriber::EnvFilter;

pub mod metrics;

/// Installs the global subscriber once; later calls do nothing.
///
/// JSON lines carry the current span and its parents, so the `request`
/// span's `request_id` is on every line logged while serving a request.
pub fn init(format: &str) {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    let _ = if format == "json" {
        builder
            .json()
            .with_current_span(true)
            .with_span_list(true)
            .try_init()
    } else {
        builder.try_init()
    };
}
