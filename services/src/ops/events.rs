//! The service's metrics and the events that change them. Each method says what happened (a
//! batch committed, a message dead-lettered, an attempt failed, …), logs it and counts it, so
//! that a log line and its counter never disagree; the runner calls these and touches no
//! counter itself. The names are [`super::names`].

use std::fmt::Display;
use std::time::{Duration, Instant};

use prometheus::{
    Encoder, Histogram, HistogramOpts, HistogramVec, IntCounter, IntCounterVec, IntGauge,
    IntGaugeVec, Opts, Registry, TextEncoder,
};
use tracing::{error, info, warn};
use vault_kafka::InMessage;

use super::names::{self, local};

/// The `kind`s of `vault_errors_total` the runner itself reports; a stage adds its own
/// dependencies' ([`crate::runner::Stage::DEPENDENCIES`]). Each series exists from the start at
/// 0, so that a rate or an alert sees the first failure (a series born at 1 has nothing to
/// increase from).
pub const RUNNER_ERROR_KINDS: [&str; 6] = [
    "postgres",
    "kafka",
    "encode",
    "warehouse_rejected",
    "kafka_rejoin",
    "kafka_producer_replaced",
];

/// What a committed batch did.
#[derive(Debug, Clone, Copy)]
pub struct BatchCommitted {
    /// Source messages in the batch (dead letters included).
    pub messages: usize,
    /// Downstream messages produced (not dead letters).
    pub produced: usize,
    /// Messages the warehouse already held (below its recorded position).
    pub reapplied: usize,
    /// Its time, step by step (their sum: from the transaction's start to the offset commit).
    pub steps: BatchSteps,
}

/// The steps of a batch, in order: where a batch's time goes (`vault_batch_step_seconds`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    /// A warehouse connection from the pool and `BEGIN`.
    Begin,
    /// Decoding every message.
    Decode,
    /// The stage's work inside the transaction (warehouse statements, downstream messages
    /// handed to the producer).
    Stage,
    /// Recording the batch's Kafka positions in the transaction; dead letters handed over.
    Positions,
    /// Waiting for the broker to acknowledge every downstream message and dead letter.
    Acks,
    /// `COMMIT`.
    Commit,
    /// Committing the consumer's offsets.
    Offsets,
}

impl Step {
    /// Every step, in the order a batch goes through them.
    pub const ALL: [Step; 7] = [
        Step::Begin,
        Step::Decode,
        Step::Stage,
        Step::Positions,
        Step::Acks,
        Step::Commit,
        Step::Offsets,
    ];

    /// The `step` label.
    pub fn as_str(self) -> &'static str {
        match self {
            Step::Begin => "begin",
            Step::Decode => "decode",
            Step::Stage => "stage",
            Step::Positions => "positions",
            Step::Acks => "acks",
            Step::Commit => "commit",
            Step::Offsets => "offsets",
        }
    }
}

/// A stopwatch over a batch's [`Step`]s: each [`BatchSteps::end`] gives the time since the
/// previous one to its step.
#[derive(Debug, Clone, Copy)]
pub struct BatchSteps {
    last: Instant,
    spent: [Duration; Step::ALL.len()],
}

impl BatchSteps {
    /// Starts timing the first step now.
    pub fn start() -> Self {
        BatchSteps {
            last: Instant::now(),
            spent: [Duration::ZERO; Step::ALL.len()],
        }
    }

    /// `step` ends now.
    pub fn end(&mut self, step: Step) {
        let now = Instant::now();
        self.spent[step as usize] += now - self.last;
        self.last = now;
    }

    /// The time spent in `step`.
    pub fn spent(&self, step: Step) -> Duration {
        self.spent[step as usize]
    }

    /// The time spent in every step.
    pub fn total(&self) -> Duration {
        self.spent.iter().sum()
    }
}

/// The service's metrics, all prefixed `vault_` and labelled with `service`.
#[derive(Debug, Clone)]
pub struct Metrics {
    service: &'static str,
    registry: Registry,
    produced: IntCounter,
    dead_lettered: IntCounterVec,
    batch_size: Histogram,
    batch_duration: Histogram,
    batch_steps: HistogramVec,
    lag: IntGauge,
    assigned: IntGauge,
    group_lag: IntGauge,
    ready: IntGauge,
    idle: IntGauge,
    errors: IntCounterVec,
    resent: IntCounter,
    reapplied: IntCounter,
    offsets_lost: IntCounter,
}

impl Metrics {
    /// A registry for `service`, with process metrics (RSS, CPU, open fds) included. Every
    /// series of a labelled counter (each dead-letter reason, each error kind: the runner's and
    /// the stage's `dependencies`) exists from the start at 0.
    pub fn new(service: &'static str, dependencies: &[&str]) -> Result<Self, prometheus::Error> {
        let registry = Registry::new_custom(
            Some("vault".into()),
            Some([("service".to_owned(), service.to_owned())].into()),
        )?;
        let counter = |name: &'static str, help: &str| -> Result<IntCounter, prometheus::Error> {
            let c = IntCounter::new(local(name), help)?;
            registry.register(Box::new(c.clone()))?;
            Ok(c)
        };
        let gauge = |name: &'static str, help: &str| -> Result<IntGauge, prometheus::Error> {
            let g = IntGauge::new(local(name), help)?;
            registry.register(Box::new(g.clone()))?;
            Ok(g)
        };
        let labelled = |name: &'static str,
                        help: &str,
                        label: &str,
                        values: &[&str]|
         -> Result<IntCounterVec, prometheus::Error> {
            let c = IntCounterVec::new(Opts::new(local(name), help), &[label])?;
            registry.register(Box::new(c.clone()))?;
            for value in values {
                c.with_label_values(&[value]);
            }
            Ok(c)
        };
        let histogram = |name: &'static str,
                         help: &str,
                         buckets: Vec<f64>|
         -> Result<Histogram, prometheus::Error> {
            let h = Histogram::with_opts(HistogramOpts::new(local(name), help).buckets(buckets))?;
            registry.register(Box::new(h.clone()))?;
            Ok(h)
        };
        let reasons: Vec<&str> = vault_core::pipeline::DeadLetterReason::ALL
            .iter()
            .map(|r| r.as_str())
            .collect();
        let metrics = Metrics {
            service,
            produced: counter(names::PRODUCED, "Messages produced downstream")?,
            offsets_lost: counter(
                names::OFFSETS_LOST,
                "Offsets of the source topic deleted upstream (retention) before they were read",
            )?,
            reapplied: counter(
                names::REAPPLIED,
                "Messages applied again that the warehouse already held (idempotent, but wasted)",
            )?,
            resent: counter(
                names::RESENT,
                "Downstream messages produced again after a failed attempt had produced them",
            )?,
            dead_lettered: labelled(
                names::DEAD_LETTERED,
                "Messages sent to the dead-letter topic",
                "reason",
                &reasons,
            )?,
            errors: labelled(
                names::ERRORS,
                "Failed batch attempts by kind",
                "kind",
                &[&RUNNER_ERROR_KINDS[..], dependencies].concat(),
            )?,
            batch_size: histogram(
                names::BATCH_SIZE,
                "Messages per committed batch (_sum: messages consumed, _count: batches)",
                vec![1.0, 10.0, 50.0, 100.0, 250.0, 500.0, 1000.0, 2500.0, 5000.0],
            )?,
            batch_duration: histogram(
                names::BATCH_DURATION,
                "Time from a polled batch's transaction start to its offset commit",
                prometheus::exponential_buckets(0.001, 2.0, 15)?,
            )?,
            batch_steps: {
                let h = HistogramVec::new(
                    HistogramOpts::new(
                        local(names::BATCH_STEP),
                        "Time of each step of a committed batch (step: begin, decode, stage, \
                         positions, acks, commit, offsets)",
                    )
                    .buckets(prometheus::exponential_buckets(0.0005, 2.0, 15)?),
                    &["step"],
                )?;
                registry.register(Box::new(h.clone()))?;
                for step in Step::ALL {
                    h.with_label_values(&[step.as_str()]);
                }
                h
            },
            lag: gauge(
                names::CONSUMER_LAG,
                "Messages behind the end of the owned partitions",
            )?,
            assigned: gauge(names::ASSIGNED, "Partitions owned by this replica")?,
            group_lag: gauge(
                names::GROUP_LAG,
                "Messages behind the end of the source topic for the whole consumer group",
            )?,
            ready: gauge(
                names::READY,
                "1 while the replica is ready (GET /readyz answers 200)",
            )?,
            idle: gauge(
                names::IDLE,
                "1 while the replica is in its group but holds no partitions",
            )?,
            registry,
        };
        let build_info = IntGaugeVec::new(
            Opts::new(
                local(names::BUILD_INFO),
                "1, labelled with the version and the git revision of the running build",
            ),
            &["version", "revision"],
        )?;
        build_info
            .with_label_values(&[crate::build_info::VERSION, crate::build_info::REVISION])
            .set(1);
        metrics.registry.register(Box::new(build_info))?;
        metrics.registry.register(Box::new(
            prometheus::process_collector::ProcessCollector::for_self(),
        ))?;
        Ok(metrics)
    }

    /// The Prometheus text exposition.
    pub fn render(&self) -> String {
        let mut out = Vec::new();
        let _ = TextEncoder::new().encode(&self.registry.gather(), &mut out);
        String::from_utf8(out).unwrap_or_default()
    }

    /// A batch is committed (warehouse and offsets).
    pub fn batch_committed(&self, batch: &BatchCommitted) {
        self.produced.inc_by(batch.produced as u64);
        self.batch_size.observe(batch.messages as f64);
        self.batch_duration
            .observe(batch.steps.total().as_secs_f64());
        for step in Step::ALL {
            self.batch_steps
                .with_label_values(&[step.as_str()])
                .observe(batch.steps.spent(step).as_secs_f64());
        }
        if batch.reapplied > 0 {
            self.reapplied.inc_by(batch.reapplied as u64);
            warn!(
                service = self.service,
                messages = batch.reapplied,
                idempotent = true,
                "re-applied messages the warehouse already held"
            );
        }
    }

    /// Messages of a committed batch that an earlier, failed attempt had already produced
    /// downstream were produced again.
    pub fn resent(&self, messages: usize) {
        if messages > 0 {
            self.resent.inc_by(messages as u64);
            info!(
                service = self.service,
                messages,
                downstream_idempotent = true,
                "re-sent messages a failed attempt had produced"
            );
        }
    }

    /// Offsets deleted upstream before they were read: counted, and said once (ERROR).
    pub fn offsets_lost(&self, lost: &vault_kafka::LostOffsets) {
        self.offsets_lost.inc_by(lost.count().max(0) as u64);
        tracing::error!(
            service = self.service,
            topic = %lost.topic,
            partition = lost.partition,
            from = lost.from,
            to = lost.to,
            lost = lost.count(),
            "offsets deleted upstream before they were read"
        );
    }

    /// A dead letter is on its topic (acknowledged by the broker), after the batch that decided
    /// it committed.
    pub fn dead_lettered(&self, letter: &vault_pg::dead_letters::Waiting) {
        let reason = letter.reason.as_str();
        self.dead_lettered.with_label_values(&[reason]).inc();
        let detail = letter
            .headers
            .iter()
            .find(|(name, _)| name == vault_kafka::deadletter::DETAIL)
            .map(|(_, value)| String::from_utf8_lossy(value))
            .unwrap_or_default();
        warn!(service = self.service, reason, detail = %detail, topic = %letter.topic, partition = letter.partition, offset = letter.offset, "dead-lettered");
    }

    /// A batch the warehouse refused for a message's data: its messages are tried one by one.
    pub fn batch_refused(&self, error: &dyn Display, size: usize) {
        self.errors.with_label_values(&["warehouse_rejected"]).inc();
        error!(service = self.service, error = %error, size, next = "isolate the message at fault", "batch refused for a message's data");
    }

    /// The message the warehouse refused alone, for its data: it is to be dead-lettered (counted
    /// once its dead letter is on the topic, [`Metrics::dead_lettered`]).
    pub fn refused_for_good(&self, reason: &str, error: &dyn Display, message: &InMessage) {
        error!(service = self.service, error = %error, reason, topic = %message.topic, offset = message.offset, partition = message.partition, next = "dead-letter topic", "message refused for good");
    }

    /// An attempt at a batch failed with a retryable error of `kind`; it is retried with backoff.
    pub fn attempt_failed(&self, kind: &str, error: &str, attempt: u32) {
        self.errors.with_label_values(&[kind]).inc();
        warn!(
            service = self.service,
            kind,
            error,
            attempt,
            next = "retry with backoff",
            "batch attempt failed"
        );
    }

    /// A consumer stuck out of its group was replaced by a new one.
    pub fn consumer_replaced(&self, group: &str) {
        self.errors.with_label_values(&["kafka_rejoin"]).inc();
        warn!(
            service = self.service,
            group,
            next = "the new one joins the group afresh",
            "consumer replaced"
        );
    }

    /// After deliveries timed out, the producer was replaced by a new one.
    pub fn producer_replaced(&self) {
        self.errors
            .with_label_values(&["kafka_producer_replaced"])
            .inc();
        warn!(
            service = self.service,
            why = "deliveries timed out",
            "producer replaced"
        );
    }

    /// Partitions were assigned or revoked (`what`); the replica now owns `owned`.
    pub fn assignment_changed(
        &self,
        what: &str,
        group: &str,
        partitions: &str,
        owned: &str,
        owned_count: usize,
    ) {
        self.assigned.set(owned_count as i64);
        info!(service = self.service, group, partitions, owned, "{what}");
    }

    /// The replica's standing, refreshed every few seconds: partitions owned, their lag, and the
    /// whole group's lag when the probe has a reading.
    pub fn standing(&self, assigned: usize, lag: i64, group_lag: Option<i64>) {
        self.assigned.set(assigned as i64);
        self.lag.set(lag);
        if let Some(lag) = group_lag {
            self.group_lag.set(lag);
        }
    }

    /// Sets `vault_replica_idle`; true when the replica has just become idle.
    pub fn set_idle(&self, idle: bool) -> bool {
        let became_idle = idle && self.idle.get() == 0;
        self.idle.set(i64::from(idle));
        became_idle
    }

    /// Sets `vault_ready` (from `/readyz`'s verdict, at each scrape).
    pub fn set_ready(&self, ready: bool) {
        self.ready.set(i64::from(ready));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::exposition;

    #[test]
    fn every_labelled_series_starts_at_zero_and_events_count() {
        let metrics = Metrics::new("test-service", &["redis"]).expect("metrics");
        let before = exposition::parse(&metrics.render());
        for reason in vault_core::pipeline::DeadLetterReason::ALL {
            let found = before.iter().any(|s| {
                s.name == names::DEAD_LETTERED
                    && s.labels
                        .iter()
                        .any(|(k, v)| k == "reason" && v == reason.as_str())
                    && s.value == 0.0
            });
            assert!(found, "reason {} missing at 0", reason.as_str());
        }
        for kind in RUNNER_ERROR_KINDS.iter().chain(&["redis"]) {
            let found = before.iter().any(|s| {
                s.name == names::ERRORS
                    && s.labels.iter().any(|(k, v)| k == "kind" && v == kind)
                    && s.value == 0.0
            });
            assert!(found, "kind {kind} missing at 0");
        }
        metrics.batch_committed(&BatchCommitted {
            messages: 5,
            produced: 4,
            reapplied: 2,
            steps: BatchSteps::start(),
        });
        metrics.batch_committed(&BatchCommitted {
            messages: 3,
            produced: 3,
            reapplied: 0,
            steps: BatchSteps::start(),
        });
        metrics.dead_lettered(&vault_pg::dead_letters::Waiting {
            topic: "t".into(),
            partition: 2,
            offset: 7,
            dlq_topic: "t.dlq".into(),
            dlq_from: vec![0],
            key: None,
            payload: b"{}".to_vec(),
            headers: vec![(vault_kafka::deadletter::DETAIL.into(), b"not JSON".to_vec())],
            reason: "unparseable".into(),
        });
        metrics.attempt_failed("postgres", "connection refused", 1);
        let after = exposition::parse(&metrics.render());
        let sum = |name: &str| exposition::sum(&after, name);
        assert_eq!(sum(names::BATCH_SIZE_SUM), Some(8.0));
        assert_eq!(sum(names::BATCH_SIZE_COUNT), Some(2.0));
        assert_eq!(sum(names::PRODUCED), Some(7.0));
        assert_eq!(sum(names::REAPPLIED), Some(2.0));
        assert_eq!(sum(names::DEAD_LETTERED), Some(1.0));
        assert_eq!(sum(names::ERRORS), Some(1.0));
    }
}
