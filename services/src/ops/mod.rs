//! Operations surface of a service: Prometheus metrics and the events that log and count
//! together ([`Metrics`]), the metric names ([`names`]), liveness/readiness ([`Health`]), the
//! HTTP endpoint that serves them (`/healthz`, `/readyz`, `/metrics`), and structured logs.

mod events;
mod health;
mod http;
mod logs;
pub mod names;

pub use events::{BatchCommitted, BatchSteps, Metrics, Step, RUNNER_ERROR_KINDS};
pub use health::{Health, STALLED_AFTER};
pub use http::serve;

/// Structured (JSON) logs on stdout, one object per line (`timestamp`, `level`, `fields`,
/// `target`; no source paths), level from `RUST_LOG` (default `info`).
pub fn init_logging() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let _ = tracing_subscriber::fmt()
        .event_format(logs::JsonLines)
        .with_env_filter(filter)
        .try_init();
}
