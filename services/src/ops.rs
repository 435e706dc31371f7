//! Operations surface of a service: Prometheus metrics, liveness/readiness, the HTTP endpoint
//! that serves them (`/healthz`, `/readyz`, `/metrics`), and structured logs.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use prometheus::{
    Encoder, Histogram, HistogramOpts, IntCounter, IntCounterVec, IntGauge, Opts, Registry,
    TextEncoder,
};

/// The names of the metrics the services export, as scraped (with the `vault_` namespace).
pub mod names {
    /// Messages read from the source topic.
    pub const CONSUMED: &str = "vault_messages_consumed_total";
    /// Messages produced downstream (not dead letters).
    pub const PRODUCED: &str = "vault_messages_produced_total";
    /// Messages dead-lettered, by `reason`.
    pub const DEAD_LETTERED: &str = "vault_messages_dead_lettered_total";
    /// Downstream messages produced again after a failed attempt.
    pub const RESENT: &str = "vault_messages_resent_total";
    /// Messages applied again that the warehouse already held.
    pub const REAPPLIED: &str = "vault_messages_reapplied_total";
    /// Batches committed.
    pub const BATCHES: &str = "vault_batches_total";
    /// Messages per batch (histogram).
    pub const BATCH_SIZE: &str = "vault_batch_size_messages";
    /// Batch duration (histogram).
    pub const BATCH_DURATION: &str = "vault_batch_duration_seconds";
    /// Lag of the partitions this replica owns.
    pub const CONSUMER_LAG: &str = "vault_consumer_lag_messages";
    /// Lag of the whole consumer group.
    pub const GROUP_LAG: &str = "vault_group_lag_messages";
    /// Partitions owned.
    pub const ASSIGNED: &str = "vault_assigned_partitions";
    /// 1 while ready.
    pub const READY: &str = "vault_ready";
    /// 1 while in the group with no partitions.
    pub const IDLE: &str = "vault_replica_idle";
    /// Failed batch attempts, by `kind`.
    pub const ERRORS: &str = "vault_errors_total";
    /// Resident memory of the process.
    pub const RSS: &str = "vault_process_resident_memory_bytes";

    /// A name as registered (the registry adds the `vault_` namespace).
    pub(crate) fn local(name: &'static str) -> &'static str {
        name.strip_prefix("vault_").unwrap_or(name)
    }
}

/// Every `kind` of `vault_errors_total`. Each series exists from the start at 0, so that a
/// rate or an alert sees the first failure (a series born at 1 has nothing to increase from).
pub const ERROR_KINDS: [&str; 7] = [
    "postgres",
    "redis",
    "kafka",
    "encode",
    "warehouse_rejected",
    "kafka_rejoin",
    "kafka_producer_replaced",
];

/// The service's metrics, all prefixed `vault_` and labelled with `service`.
#[derive(Debug, Clone)]
pub struct Metrics {
    registry: Registry,
    /// `vault_messages_consumed_total`.
    pub consumed: IntCounter,
    /// `vault_messages_produced_total` (downstream, not dead letters).
    pub produced: IntCounter,
    /// `vault_messages_dead_lettered_total{reason}`.
    pub dead_lettered: IntCounterVec,
    /// `vault_batches_total`.
    pub batches: IntCounter,
    /// `vault_batch_size_messages`.
    pub batch_size: Histogram,
    /// `vault_batch_duration_seconds`.
    pub batch_duration: Histogram,
    /// `vault_consumer_lag_messages`.
    pub lag: IntGauge,
    /// `vault_assigned_partitions`.
    pub assigned: IntGauge,
    /// `vault_group_lag_messages`: the whole group's lag on the source topic (from its
    /// committed offsets), the same on every replica.
    pub group_lag: IntGauge,
    /// `vault_ready`: 1 while `/readyz` answers 200.
    pub ready: IntGauge,
    /// `vault_replica_idle`: 1 while this replica is a member of its group holding no
    /// partitions (more replicas than partitions): ready, with nothing to do.
    pub idle: IntGauge,
    /// `vault_errors_total{kind}` (`postgres`, `redis`, `kafka`, `warehouse_rejected`).
    pub errors: IntCounterVec,
    /// `vault_messages_resent_total`: downstream messages produced again because an earlier
    /// attempt at the same source messages had produced them and then failed.
    pub resent: IntCounter,
    /// `vault_messages_reapplied_total`: messages the warehouse already held (below its recorded
    /// position) that a batch applied again, idempotently.
    pub reapplied: IntCounter,
}

impl Metrics {
    /// A registry for `service`, with process metrics (RSS, CPU, open fds) included.
    pub fn new(service: &str) -> Result<Self, prometheus::Error> {
        use names::local;
        let registry = Registry::new_custom(
            Some("vault".into()),
            Some([("service".to_owned(), service.to_owned())].into()),
        )?;
        let counter = |name: &str, help: &str| -> Result<IntCounter, prometheus::Error> {
            let c = IntCounter::new(name, help)?;
            registry.register(Box::new(c.clone()))?;
            Ok(c)
        };
        let consumed = counter(
            local(names::CONSUMED),
            "Messages read from the source topic",
        )?;
        let produced = counter(local(names::PRODUCED), "Messages produced downstream")?;
        let reapplied = counter(
            local(names::REAPPLIED),
            "Messages applied again that the warehouse already held (idempotent, but wasted)",
        )?;
        let resent = counter(
            local(names::RESENT),
            "Downstream messages produced again after a failed attempt had produced them",
        )?;
        let batches = counter(local(names::BATCHES), "Batches committed")?;
        let dead_lettered = IntCounterVec::new(
            Opts::new(
                local(names::DEAD_LETTERED),
                "Messages sent to the dead-letter topic",
            ),
            &["reason"],
        )?;
        registry.register(Box::new(dead_lettered.clone()))?;
        // Every reason's series exists from the start at 0 (a rate sees the first one).
        for reason in vault_core::DeadLetterReason::ALL {
            dead_lettered.with_label_values(&[reason.as_str()]);
        }
        let errors = IntCounterVec::new(
            Opts::new(local(names::ERRORS), "Failed batch attempts by kind"),
            &["kind"],
        )?;
        registry.register(Box::new(errors.clone()))?;
        for kind in ERROR_KINDS {
            errors.with_label_values(&[kind]);
        }
        let batch_size = Histogram::with_opts(
            HistogramOpts::new(local(names::BATCH_SIZE), "Messages per batch").buckets(vec![
                1.0, 10.0, 50.0, 100.0, 250.0, 500.0, 1000.0, 2500.0, 5000.0,
            ]),
        )?;
        registry.register(Box::new(batch_size.clone()))?;
        let batch_duration = Histogram::with_opts(
            HistogramOpts::new(
                local(names::BATCH_DURATION),
                "Time from a polled batch's transaction start to its offset commit",
            )
            .buckets(prometheus::exponential_buckets(0.001, 2.0, 15)?),
        )?;
        registry.register(Box::new(batch_duration.clone()))?;
        let lag = IntGauge::new(
            local(names::CONSUMER_LAG),
            "Messages behind the end of the owned partitions",
        )?;
        registry.register(Box::new(lag.clone()))?;
        let gauge = |name: &str, help: &str| -> Result<IntGauge, prometheus::Error> {
            let g = IntGauge::new(name, help)?;
            registry.register(Box::new(g.clone()))?;
            Ok(g)
        };
        let assigned = gauge(local(names::ASSIGNED), "Partitions owned by this replica")?;
        let group_lag = gauge(
            local(names::GROUP_LAG),
            "Messages behind the end of the source topic for the whole consumer group",
        )?;
        let ready = gauge(
            local(names::READY),
            "1 while the replica is ready (GET /readyz answers 200)",
        )?;
        let idle = gauge(
            local(names::IDLE),
            "1 while the replica is in its group but holds no partitions",
        )?;
        registry.register(Box::new(
            prometheus::process_collector::ProcessCollector::for_self(),
        ))?;
        Ok(Metrics {
            registry,
            consumed,
            produced,
            dead_lettered,
            batches,
            batch_size,
            batch_duration,
            lag,
            assigned,
            group_lag,
            ready,
            idle,
            errors,
            resent,
            reapplied,
        })
    }

    /// The Prometheus text exposition.
    pub fn render(&self) -> String {
        let mut out = Vec::new();
        let _ = TextEncoder::new().encode(&self.registry.gather(), &mut out);
        String::from_utf8(out).unwrap_or_default()
    }
}

/// Liveness and readiness, updated by the batch runner.
#[derive(Debug, Default)]
pub struct Health {
    ready: AtomicBool,
    reason: std::sync::Mutex<String>,
    heartbeat: AtomicU64,
    waiting: std::sync::Mutex<Option<(std::time::Instant, &'static str)>>,
}

/// A wait on a dependency longer than this makes the service not ready, live: the runner is
/// inside a batch and cannot refresh its readiness meanwhile (a broker that died while the
/// batch waited for its acknowledgements, say).
pub const STALLED_AFTER: Duration = Duration::from_secs(5);

impl Health {
    /// Marks the runner alive now.
    pub fn beat(&self) {
        self.heartbeat.store(now_secs(), Ordering::Relaxed);
    }

    /// Ready (partitions assigned, warehouse reachable) or not, with why not.
    pub fn set_ready(&self, ready: bool, reason: &str) {
        self.ready.store(ready, Ordering::Relaxed);
        if let Ok(mut r) = self.reason.lock() {
            reason.clone_into(&mut r);
        }
    }

    /// The runner starts (`Some(what)`, e.g. `kafka: waiting for acknowledgements`) or ends
    /// (`None`) a wait on a dependency.
    pub fn waiting(&self, what: Option<&'static str>) {
        if let Ok(mut waiting) = self.waiting.lock() {
            *waiting = what.map(|w| (std::time::Instant::now(), w));
        }
    }

    /// Whether the service takes traffic, and why not.
    pub fn ready(&self) -> (bool, String) {
        let stalled = self
            .waiting
            .lock()
            .ok()
            .and_then(|w| *w)
            .filter(|(since, _)| since.elapsed() >= STALLED_AFTER);
        if let Some((since, what)) = stalled {
            return (false, format!("{what} for {} s", since.elapsed().as_secs()));
        }
        let reason = self.reason.lock().map(|r| r.clone()).unwrap_or_default();
        (self.ready.load(Ordering::Relaxed), reason)
    }

    /// Whether the runner loop has beaten within `window` (a stuck loop fails liveness).
    pub fn alive(&self, window: Duration) -> bool {
        now_secs().saturating_sub(self.heartbeat.load(Ordering::Relaxed)) <= window.as_secs()
    }
}

fn now_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// Serves `/healthz`, `/readyz` and `/metrics` on `0.0.0.0:port` from a background thread.
pub fn serve(
    port: u16,
    metrics: Metrics,
    health: Arc<Health>,
) -> std::io::Result<std::thread::JoinHandle<()>> {
    let server = tiny_http::Server::http(("0.0.0.0", port)).map_err(std::io::Error::other)?;
    std::thread::Builder::new()
        .name("http".into())
        .spawn(move || {
            for request in server.incoming_requests() {
                let (status, body, content_type) = match request.url() {
                    "/healthz" | "/livez" => {
                        if health.alive(Duration::from_secs(60)) {
                            (200, "ok\n".to_owned(), "text/plain")
                        } else {
                            (503, "batch loop stuck\n".to_owned(), "text/plain")
                        }
                    }
                    "/readyz" => match health.ready() {
                        (true, _) => (200, "ready\n".to_owned(), "text/plain"),
                        (false, why) => (503, format!("not ready: {why}\n"), "text/plain"),
                    },
                    "/metrics" => {
                        metrics.ready.set(i64::from(health.ready().0));
                        (200, metrics.render(), "text/plain; version=0.0.4")
                    }
                    _ => (404, "not found\n".to_owned(), "text/plain"),
                };
                let mut response = tiny_http::Response::from_string(body).with_status_code(status);
                // A static, valid header: `from_bytes` cannot fail on it.
                if let Ok(header) = tiny_http::Header::from_bytes("Content-Type", content_type) {
                    response = response.with_header(header);
                }
                let _ = request.respond(response);
            }
        })
}

/// Structured (JSON) logs on stdout, level from `RUST_LOG` (default `info`).
pub fn init_logging() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let _ = tracing_subscriber::fmt()
        .json()
        .with_env_filter(filter)
        .with_current_span(false)
        .try_init();
}
