//! The one batch runner shared by the STG, DDS and CDM services.
//!
//! ```text
//! poll ≤ BATCH_MAX messages or BATCH_WAIT_MS
//!   → stage: decode each (bad → dead letter) and process the batch inside ONE warehouse transaction
//!   → record the batch's Kafka positions in that transaction
//!   → produce downstream messages and dead letters, wait for every acknowledgement
//!   → commit the transaction → commit the offsets
//! ```
//!
//! A crash anywhere means the batch is read again and applied idempotently: nothing is lost,
//! nothing is counted twice. Retryable faults (PostgreSQL, Redis or Kafka down) rewind the
//! consumer, mark the service not ready and back off (no busy loop, no skipped message).
//! A batch the warehouse refuses for good is split to find the message at fault, which goes to
//! the dead-letter topic with the reason `rejected_by_warehouse`; the partition never sticks.

use std::sync::Arc;
use std::time::{Duration, Instant};

use postgres::Transaction;
use tracing::{error, info, warn};
use vault_core::{ConfigError, DeadLetterReason, Env, MessageError};
use vault_kafka::deadletter::{dead_letter, fit};
use vault_kafka::{
    positions, AssignmentChange, BatchConsumer, GroupLag, InMessage, KafkaConfig, KafkaError,
    OutRecord, Pending, Producer,
};
use vault_pg::{PgError, Warehouse};

use crate::ops::{Health, Metrics};
use crate::retry::RetryPolicy;
use crate::shutdown::Shutdown;

/// Batching and HTTP settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunnerConfig {
    /// `BATCH_MAX` (default 1000): messages per batch at most.
    pub batch_max: usize,
    /// `BATCH_WAIT_MS` (default 200): how long a batch may wait to fill.
    pub batch_wait: Duration,
    /// `HTTP_PORT` (default 5000): health and metrics.
    pub http_port: u16,
    /// `SHUTDOWN_TIMEOUT_MS` (default 8000): the bound of a stop, from SIGTERM to exit.
    pub shutdown_timeout: Duration,
    /// `VAULT_TEST_FAILPOINT` (tests only): where the process aborts on purpose.
    pub failpoint: Option<Failpoint>,
}

/// A place where a test makes the process die on purpose (`VAULT_TEST_FAILPOINT`), to show
/// what a crash there leaves behind. Never set in production.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Failpoint {
    /// `after-warehouse-commit:N`: abort (no unwinding, no clean-up: as SIGKILL) after the
    /// warehouse committed the N-th batch and before its offsets are committed to Kafka.
    AfterWarehouseCommit {
        /// Which batch (1 = the first this process commits).
        batch: u64,
    },
}

impl std::str::FromStr for Failpoint {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let (name, n) = s.split_once(':').unwrap_or((s, "1"));
        let batch: u64 = n
            .parse()
            .ok()
            .filter(|n| *n > 0)
            .ok_or_else(|| format!("batch number {n:?} is not a positive integer"))?;
        match name {
            "after-warehouse-commit" => Ok(Failpoint::AfterWarehouseCommit { batch }),
            other => Err(format!(
                "unknown failpoint {other:?} (known: after-warehouse-commit[:N])"
            )),
        }
    }
}

impl RunnerConfig {
    /// Reads the variables.
    pub fn from_env<F: Fn(&str) -> Option<String>>(env: &Env<F>) -> Result<Self, ConfigError> {
        let batch_max: usize = env.parse_or("BATCH_MAX", 1000)?;
        if batch_max == 0 {
            return Err(ConfigError::Invalid {
                name: "BATCH_MAX".into(),
                value: "0".into(),
                reason: "must be at least 1".into(),
            });
        }
        let shutdown_ms: u64 = env.parse_or(
            "SHUTDOWN_TIMEOUT_MS",
            crate::shutdown::DEFAULT_TIMEOUT.as_millis() as u64,
        )?;
        if shutdown_ms < 1000 {
            return Err(ConfigError::Invalid {
                name: "SHUTDOWN_TIMEOUT_MS".into(),
                value: shutdown_ms.to_string(),
                reason: "must be at least 1000 (a clean stop needs a moment to leave the group)"
                    .into(),
            });
        }
        Ok(RunnerConfig {
            batch_max,
            batch_wait: Duration::from_millis(env.parse_or("BATCH_WAIT_MS", 200)?),
            http_port: env.parse_or("HTTP_PORT", 5000)?,
            shutdown_timeout: Duration::from_millis(shutdown_ms),
            failpoint: match env.get("VAULT_TEST_FAILPOINT") {
                None => None,
                Some(text) => Some(text.parse().map_err(|reason| ConfigError::Invalid {
                    name: "VAULT_TEST_FAILPOINT".into(),
                    value: text.clone(),
                    reason,
                })?),
            },
        })
    }
}

/// A failure of one stage's processing.
#[derive(Debug, thiserror::Error)]
pub enum StageError {
    /// The warehouse.
    #[error(transparent)]
    Pg(#[from] PgError),
    /// The Redis dictionary.
    #[error(transparent)]
    Dictionary(#[from] vault_redis::DictionaryError),
    /// A downstream message could not be encoded.
    #[error("encode downstream message: {0}")]
    Encode(#[from] serde_json::Error),
    /// A downstream message could not be handed to the producer.
    #[error(transparent)]
    Kafka(#[from] KafkaError),
}

impl StageError {
    fn is_retryable(&self) -> bool {
        match self {
            StageError::Pg(e) => e.is_retryable(),
            // Whatever ails Redis (down, a wrong password, a TLS mismatch) is no fault of the
            // message: the batch waits, with backoff and not ready, instead of dead-lettering
            // every order. Unusable entries are per order (`invalid_dictionary_entry`).
            StageError::Dictionary(_) => true,
            StageError::Encode(_) => false,
            StageError::Kafka(e) => e.is_retryable(),
        }
    }

    fn kind(&self) -> &'static str {
        match self {
            StageError::Pg(_) => "postgres",
            StageError::Dictionary(_) => "redis",
            StageError::Encode(_) => "encode",
            StageError::Kafka(_) => "kafka",
        }
    }
}

/// What a stage hands back for a batch: downstream messages (already on their way: delivery
/// starts at once, so it overlaps the stage's warehouse write) and refused messages.
#[derive(Debug)]
pub struct Output {
    destination: Option<String>,
    producer: Producer,
    pending: Pending,
    produced: usize,
    rejected: Vec<(usize, &'static str, String)>,
}

impl Output {
    fn new(destination: Option<String>, producer: Producer) -> Self {
        Output {
            destination,
            producer,
            pending: Pending::default(),
            produced: 0,
            rejected: Vec::new(),
        }
    }

    /// A message for the destination topic, keyed (by order id). Its acknowledgement is awaited
    /// by the runner before the warehouse transaction commits.
    pub fn send(&mut self, key: String, payload: Vec<u8>) -> Result<(), StageError> {
        let record = OutRecord {
            topic: self.destination.clone().unwrap_or_default(),
            key: Some(key.into_bytes()),
            payload,
            headers: Vec::new(),
        };
        self.producer.enqueue(&record, &mut self.pending)?;
        self.produced += 1;
        Ok(())
    }

    /// Message `index` of the batch goes to the dead-letter topic with `reason` and `detail`.
    pub fn reject(&mut self, index: usize, reason: &'static str, detail: impl Into<String>) {
        self.rejected.push((index, reason, detail.into()));
    }

    /// Decodes every message of `batch` with `parse`; each one that does not parse goes to the
    /// dead-letter topic with the error's reason and description. Returns the decoded values
    /// with their index in the batch.
    pub fn decode<'a, T>(
        &mut self,
        batch: &'a [InMessage],
        parse: impl Fn(&'a [u8]) -> Result<T, MessageError>,
    ) -> Vec<(usize, T)> {
        let mut decoded = Vec::with_capacity(batch.len());
        for (index, message) in batch.iter().enumerate() {
            match parse(&message.payload) {
                Ok(value) => decoded.push((index, value)),
                Err(err) => self.reject(index, err.reason(), err.to_string()),
            }
        }
        decoded
    }
}

/// One service's work on a batch, inside the batch's warehouse transaction.
pub trait Stage {
    /// The service name (`stg-service`, …): logs, metrics, dead-letter headers.
    const NAME: &'static str;

    /// Decodes and processes `batch`. Bad messages are `reject`ed (they go to the dead-letter
    /// topic); an `Err` aborts the whole batch (it is retried or split).
    fn process(
        &mut self,
        batch: &[InMessage],
        tx: &mut Transaction<'_>,
        out: &mut Output,
    ) -> Result<(), StageError>;

    /// Whether the stage's own dependencies answer (readiness); the warehouse is checked apart.
    fn check(&mut self) -> Result<(), StageError> {
        Ok(())
    }
}

/// Why a batch attempt failed.
#[derive(Debug, thiserror::Error)]
enum BatchError {
    #[error(transparent)]
    Stage(#[from] StageError),
    #[error(transparent)]
    Pg(#[from] PgError),
    #[error(transparent)]
    Kafka(#[from] KafkaError),
}

impl BatchError {
    /// Whether the broker did not acknowledge a delivery within `message.timeout.ms`.
    fn is_delivery_timeout(&self) -> bool {
        match self {
            BatchError::Stage(StageError::Kafka(e)) | BatchError::Kafka(e) => e.is_timed_out(),
            _ => false,
        }
    }

    fn is_retryable(&self) -> bool {
        match self {
            BatchError::Stage(e) => e.is_retryable(),
            BatchError::Pg(e) => e.is_retryable(),
            BatchError::Kafka(e) => e.is_retryable(),
        }
    }

    /// The dead-letter reason of a message isolated as the cause of a permanent failure.
    fn dead_letter_reason(&self) -> &'static str {
        match self {
            BatchError::Stage(StageError::Encode(_)) => DeadLetterReason::Unencodable.as_str(),
            BatchError::Stage(StageError::Kafka(e)) | BatchError::Kafka(e)
                if e.is_message_too_large() =>
            {
                DeadLetterReason::Oversize.as_str()
            }
            _ => DeadLetterReason::RejectedByWarehouse.as_str(),
        }
    }

    fn kind(&self) -> &'static str {
        match self {
            BatchError::Stage(e) => e.kind(),
            BatchError::Pg(_) => "postgres",
            BatchError::Kafka(_) => "kafka",
        }
    }
}

/// Where a consumer of `group` starts: the warehouse's recorded positions
/// (docs/contract.md §7.7), read when partitions are assigned.
fn warehouse_positions(warehouse: &Warehouse, group: &str) -> vault_kafka::PositionSource {
    let warehouse = warehouse.clone();
    let group = group.to_owned();
    Arc::new(move |partitions: &[(String, i32)]| {
        let mut client = warehouse.client().map_err(|e| e.to_string())?;
        let held = vault_pg::positions::load_partitions(&mut client, &group, partitions)
            .map_err(|e| e.to_string())?;
        Ok(held
            .into_iter()
            .map(|p| (p.topic, p.partition, p.next_offset))
            .collect())
    })
}

/// `topic[0,1,3]` lists, one per topic.
fn partition_list(partitions: &[(String, i32)]) -> String {
    let mut by_topic: std::collections::BTreeMap<&str, Vec<i32>> = Default::default();
    for (topic, partition) in partitions {
        by_topic.entry(topic).or_default().push(*partition);
    }
    if by_topic.is_empty() {
        return "none".to_owned();
    }
    by_topic
        .into_iter()
        .map(|(topic, mut ps)| {
            ps.sort_unstable();
            let list: Vec<String> = ps.iter().map(i32::to_string).collect();
            format!("{topic}[{}]", list.join(","))
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// The runner: a consumer, a producer, the warehouse and a stage.
pub struct Runner<S: Stage> {
    stage: S,
    consumer: BatchConsumer,
    producer: Producer,
    warehouse: Warehouse,
    kafka: KafkaConfig,
    config: RunnerConfig,
    metrics: Metrics,
    health: Arc<Health>,
    backoff: RetryPolicy,
    shutdown: Shutdown,
    idle_since: Option<Instant>,
    /// The dead-letter topic's `max.message.bytes`: larger dead letters are cut to fit.
    dlq_limit: usize,
    /// Per source partition, the highest offset whose downstream messages a failed attempt
    /// produced: their next successful attempt produces them again (counted as re-sent).
    unconfirmed: std::collections::BTreeMap<(String, i32), i64>,
    /// The whole group's lag, from a probe of its own (`None`: the probe could not start).
    group_lag: Option<GroupLag>,
    /// Batches this process committed to the warehouse.
    committed_batches: u64,
}

/// A consumer out of its group this long is not ready ...
const UNJOINED_NOT_READY: Duration = Duration::from_secs(15);
/// ... and this long, replaced (see `Runner::replace_consumer_if_stuck`).
const REJOIN_AFTER: Duration = Duration::from_secs(45);

/// How often the group's lag is read from the broker.
const GROUP_LAG_EVERY: Duration = Duration::from_secs(15);

/// How often a replica that holds no partitions says so.
const IDLE_LOG_EVERY: Duration = Duration::from_secs(60);

/// Bounds of the steps of a stop (each also within the whole stop's deadline).
const LEAVE_GROUP_MAX: Duration = Duration::from_secs(3);
const FLUSH_MAX: Duration = Duration::from_secs(1);

impl<S: Stage> std::fmt::Debug for Runner<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Runner")
            .field("service", &S::NAME)
            .field("kafka", &self.kafka)
            .finish()
    }
}

impl<S: Stage> Runner<S> {
    /// Connects a consumer and a producer; the warehouse pool connects lazily.
    pub fn new(
        stage: S,
        kafka: KafkaConfig,
        warehouse: Warehouse,
        config: RunnerConfig,
        metrics: Metrics,
        health: Arc<Health>,
    ) -> Result<Self, KafkaError> {
        let dlq_limit = match vault_kafka::admin::max_message_bytes(&kafka, &kafka.dlq_topic) {
            Ok(limit) => limit,
            Err(e) => {
                let limit = vault_kafka::admin::DEFAULT_MAX_MESSAGE_BYTES;
                warn!(service = S::NAME, topic = %kafka.dlq_topic, error = %e, limit, "could not read the dead-letter topic's max.message.bytes; assuming Kafka's default");
                limit
            }
        };
        Ok(Runner {
            stage,
            consumer: BatchConsumer::with_positions(
                &kafka,
                warehouse_positions(&warehouse, &kafka.group),
            )?,
            producer: Producer::with_message_limit(&kafka, dlq_limit)?,
            dlq_limit,
            unconfirmed: Default::default(),
            group_lag: match GroupLag::spawn(&kafka, GROUP_LAG_EVERY) {
                Ok(lag) => Some(lag),
                Err(e) => {
                    warn!(service = S::NAME, error = %e, "group lag probe not started: vault_group_lag_messages is not reported");
                    None
                }
            },
            committed_batches: 0,
            warehouse,
            kafka,
            config,
            metrics,
            health,
            backoff: RetryPolicy {
                max_attempts: u32::MAX,
                initial_backoff: Duration::from_millis(200),
                max_backoff: Duration::from_secs(10),
            },
            shutdown: Shutdown::default(),
            idle_since: Some(Instant::now()),
        })
    }

    /// Runs until `shutdown` is requested; then leaves the group and flushes the producer,
    /// each step bounded (see [`crate::shutdown`]).
    pub fn run(mut self, shutdown: &Shutdown) {
        self.shutdown = shutdown.clone();
        info!(service = S::NAME, topic = %self.kafka.source_topic, group = %self.kafka.group, "started");
        let mut failures: u32 = 0;
        let mut last_check = Instant::now() - Duration::from_secs(60);
        while !shutdown.requested() {
            self.health.beat();
            if last_check.elapsed() >= Duration::from_secs(5) {
                last_check = Instant::now();
                self.refresh_health();
            }
            shutdown.step("polling");
            // Blocks up to BATCH_WAIT_MS: an idle or disconnected consumer never spins.
            let batch = self
                .consumer
                .poll_batch(self.config.batch_max, self.config.batch_wait);
            self.log_assignment();
            if batch.is_empty() {
                continue;
            }
            shutdown
                .step("finishing the batch in flight (uncommitted: read again by the next owner)");
            let result = match self.attempt(&batch) {
                Err(err) if !err.is_retryable() => {
                    error!(service = S::NAME, error = %err, size = batch.len(), "batch refused for good; isolating the message at fault");
                    self.metrics
                        .errors
                        .with_label_values(&["warehouse_rejected"])
                        .inc();
                    self.isolate(&batch)
                }
                other => other,
            };
            match result {
                Ok(()) => {
                    if failures > 0 {
                        info!(service = S::NAME, "recovered");
                        failures = 0;
                        self.refresh_health();
                    }
                }
                Err(_) if shutdown.requested() => {
                    info!(service = S::NAME, size = batch.len(), "stopping: the batch in flight is abandoned uncommitted (it is read again by the next owner)");
                }
                Err(err) => {
                    failures += 1;
                    self.failed(err.kind(), &err.to_string(), failures);
                    if err.is_delivery_timeout() {
                        self.replace_producer();
                    }
                    self.rewind(&batch);
                    shutdown.sleep(self.backoff.backoff(failures));
                }
            }
        }
        self.stop();
    }

    /// The end of a stop: leave the group, flush the producer; each step bounded, so that a
    /// broker that does not answer cannot hold the process past its deadline.
    fn stop(self) {
        let shutdown = self.shutdown.clone();
        shutdown.step("leaving the group");
        let budget = shutdown.budget(LEAVE_GROUP_MAX);
        let owned = partition_list(&self.consumer.assignment());
        info!(service = S::NAME, timeout_ms = budget.as_millis() as u64, owned = %owned, "stopping: leaving the group");
        if self.consumer.close(budget) {
            info!(service = S::NAME, group = %self.kafka.group, released = %owned, "left the consumer group");
        } else {
            warn!(service = S::NAME, timeout_ms = budget.as_millis() as u64, "gave up on leaving the group: the broker did not answer in time; its partitions move once the session times out");
        }
        shutdown.step("flushing the producer");
        let budget = shutdown.budget(FLUSH_MAX);
        if !self.producer.close(budget) {
            warn!(
                service = S::NAME,
                timeout_ms = budget.as_millis() as u64,
                "gave up on flushing the producer: nothing committed depends on it"
            );
        }
    }

    /// Logs every assignment change, and once a minute that this replica holds no partitions.
    fn log_assignment(&mut self) {
        let mut resumed = Vec::new();
        for resume in self.consumer.take_resumes() {
            match resume {
                Ok(r) => {
                    resumed.push(vault_kafka::Position {
                        topic: r.topic.clone(),
                        partition: r.partition,
                        next_offset: r.warehouse,
                    });
                    info!(
                    service = S::NAME,
                    topic = %r.topic,
                    partition = r.partition,
                    committed = ?r.committed,
                    warehouse = r.warehouse,
                    "starting from the warehouse's position (ahead of the committed offset)"
                    );
                }
                Err(e) => {
                    warn!(service = S::NAME, error = %e, "warehouse positions not used on this assignment: starting from the committed offsets")
                }
            }
        }
        // The group's offsets catch up with the warehouse at once (lag tools and autoscalers
        // read them), not only after the next batch of each partition.
        if !resumed.is_empty() {
            if let Err(e) = self.consumer.commit(&resumed) {
                warn!(service = S::NAME, error = %e, "could not commit the warehouse's positions as the group's offsets; the next batch does");
            }
        }
        for change in self.consumer.take_assignment_changes() {
            let (what, partitions) = match &change {
                AssignmentChange::Assigned(p) => ("partitions assigned", p),
                AssignmentChange::Revoked(p) => ("partitions revoked", p),
            };
            let owned = self.consumer.assignment();
            info!(
                service = S::NAME,
                group = %self.kafka.group,
                partitions = %partition_list(partitions),
                owned = %partition_list(&owned),
                "{what}"
            );
            self.metrics.assigned.set(owned.len() as i64);
            match (owned.is_empty(), self.idle_since) {
                (true, None) => self.idle_since = Some(Instant::now()),
                (false, Some(_)) => self.idle_since = None,
                _ => {}
            }
        }
        if let Some(since) = self.idle_since {
            if since.elapsed() >= IDLE_LOG_EVERY {
                info!(
                    service = S::NAME,
                    group = %self.kafka.group,
                    topic = %self.kafka.source_topic,
                    "idle: in the group, holding no partitions (more replicas than partitions, or a rebalance under way); ready"
                );
                self.idle_since = Some(Instant::now());
            }
        }
    }

    /// Makes the consumer read `batch` again. If seeking is impossible, the consumer rejoins the
    /// group so every partition restarts from its last committed offset: it never goes on past
    /// an uncommitted batch.
    fn rewind(&mut self, batch: &[InMessage]) {
        if let Err(e) = self.consumer.rewind(batch) {
            warn!(service = S::NAME, error = %e, "rewind failed; rejoining the group to restart from the committed offsets");
            if let Err(e) = self.consumer.reset_to_committed() {
                error!(service = S::NAME, error = %e, "rejoining the group failed");
            }
        }
    }

    fn failed(&self, kind: &str, message: &str, failures: u32) {
        self.metrics.errors.with_label_values(&[kind]).inc();
        self.health.set_ready(false, &format!("{kind}: {message}"));
        warn!(
            service = S::NAME,
            kind,
            error = message,
            attempt = failures,
            "batch attempt failed; retrying with backoff"
        );
    }

    /// librdkafka can stay out of its group after a broker came back from a freeze (seen on
    /// Kafka 4.4 with librdkafka 2.12: the coordinator is never looked up again, and the replica
    /// holds no partitions for ever). A consumer that has not been a steady member for this long
    /// is replaced by a new one, which joins afresh; nothing is lost (uncommitted work is read
    /// again).
    fn replace_consumer_if_stuck(&mut self) {
        let Some((out, state)) = self.consumer.unjoined_for() else {
            return;
        };
        if out < REJOIN_AFTER {
            return;
        }
        warn!(service = S::NAME, group = %self.kafka.group, state = %state, seconds = out.as_secs(), "not a member of the consumer group for too long: replacing the consumer");
        match BatchConsumer::with_positions(
            &self.kafka,
            warehouse_positions(&self.warehouse, &self.kafka.group),
        ) {
            Ok(fresh) => {
                let stale = std::mem::replace(&mut self.consumer, fresh);
                self.metrics
                    .errors
                    .with_label_values(&["kafka_rejoin"])
                    .inc();
                if !stale.close(Duration::from_secs(2)) {
                    warn!(service = S::NAME, "the replaced consumer did not close in 2 s; left to close in the background");
                }
                self.idle_since = Some(Instant::now());
            }
            Err(e) => error!(service = S::NAME, error = %e, "could not create a new consumer"),
        }
    }

    /// After a delivery that timed out (`message.timeout.ms`: the broker gave no answer for a
    /// minute), the producer is replaced by a new one: librdkafka 2.12 was seen to keep a
    /// producer without any broker connection after a broker came back from a freeze. Nothing
    /// depends on the old one: the batch was not committed and is produced again.
    fn replace_producer(&mut self) {
        match self.producer.renew() {
            Ok(()) => {
                self.metrics
                    .errors
                    .with_label_values(&["kafka_producer_replaced"])
                    .inc();
                warn!(
                    service = S::NAME,
                    "deliveries timed out: the producer was replaced by a new one"
                );
            }
            Err(e) => error!(service = S::NAME, error = %e, "could not create a new producer"),
        }
    }

    /// Readiness from live checks: the warehouse and the stage's dependencies answer, the broker
    /// has not reported an error lately, and the consumer is a member of its group — with or
    /// without partitions: a replica beyond the partition count is ready and idle
    /// (`vault_replica_idle`), so it never blocks a rollout.
    fn refresh_health(&mut self) {
        self.replace_consumer_if_stuck();
        self.metrics
            .assigned
            .set(self.consumer.assigned_partitions() as i64);
        self.metrics.lag.set(self.consumer.lag());
        if let Some(lag) = self.group_lag.as_ref().and_then(GroupLag::get) {
            self.metrics.group_lag.set(lag);
        }
        let idle = self.consumer.assigned_partitions() == 0 && self.consumer.in_group();
        if idle && self.metrics.idle.get() == 0 {
            info!(service = S::NAME, group = %self.kafka.group, topic = %self.kafka.source_topic, "idle: in the group, holding no partitions (more replicas than partitions); ready");
            self.idle_since = Some(Instant::now());
        }
        self.metrics.idle.set(i64::from(idle));
        let kafka_error = self
            .consumer
            .recent_error(Duration::from_secs(10))
            .map(str::to_owned);
        let verdict = match (self.warehouse.ping(), self.stage.check()) {
            (Err(e), _) => Err(format!("postgres: {e}")),
            (_, Err(e)) => Err(e.to_string()),
            _ => match kafka_error {
                Some(e) => Err(format!("kafka: {e}")),
                None if self
                    .consumer
                    .unjoined_for()
                    .is_some_and(|(d, _)| d >= UNJOINED_NOT_READY) =>
                {
                    let (d, state) = self.consumer.unjoined_for().unwrap_or_default();
                    Err(format!(
                        "kafka: not in the consumer group for {} s ({state})",
                        d.as_secs()
                    ))
                }
                None if !self.consumer.in_group() => {
                    Err("kafka: not a member of the consumer group yet".to_owned())
                }
                None => Ok(()),
            },
        };
        match verdict {
            Ok(()) => self.health.set_ready(true, ""),
            Err(why) => self.health.set_ready(false, &why),
        }
    }

    /// One attempt at a batch: transaction, positions, downstream acks, commit, offsets.
    fn attempt(&mut self, batch: &[InMessage]) -> Result<(), BatchError> {
        let mut produced = 0;
        let result = self.try_batch(batch, &mut produced);
        match &result {
            Ok(()) => self.count_resent(batch),
            Err(_) if produced > 0 => {
                for p in positions(batch) {
                    let slot = self.unconfirmed.entry((p.topic, p.partition)).or_insert(-1);
                    *slot = (*slot).max(p.next_offset - 1);
                }
            }
            Err(_) => {}
        }
        result
    }

    /// Counts the messages of a committed batch whose downstream messages an earlier, failed
    /// attempt had already produced.
    fn count_resent(&mut self, batch: &[InMessage]) {
        if self.unconfirmed.is_empty() {
            return;
        }
        let resent = batch
            .iter()
            .filter(|m| {
                self.unconfirmed
                    .get(&(m.topic.clone(), m.partition))
                    .is_some_and(|&upto| m.offset <= upto)
            })
            .count();
        if resent > 0 {
            self.metrics.resent.inc_by(resent as u64);
        }
        for p in positions(batch) {
            let key = (p.topic, p.partition);
            if self
                .unconfirmed
                .get(&key)
                .is_some_and(|&upto| upto < p.next_offset)
            {
                self.unconfirmed.remove(&key);
            }
        }
    }

    fn try_batch(
        &mut self,
        batch: &[InMessage],
        produced_so_far: &mut usize,
    ) -> Result<(), BatchError> {
        let started = Instant::now();
        let mut client = self.warehouse.client()?;
        let mut tx = client.transaction().map_err(|source| PgError::Db {
            context: "begin batch".into(),
            source,
        })?;
        let mut out = Output::new(self.kafka.destination_topic.clone(), self.producer.clone());
        let processed = self.stage.process(batch, &mut tx, &mut out);
        *produced_so_far = out.produced;
        processed?;
        let done = positions(batch);
        let before = vault_pg::positions::record(&mut tx, &self.kafka.group, &done)?;
        let reapplied = batch
            .iter()
            .filter(|m| {
                before.iter().any(|p| {
                    p.topic == m.topic && p.partition == m.partition && m.offset < p.next_offset
                })
            })
            .count();
        let Output {
            mut pending,
            produced,
            rejected,
            ..
        } = out;
        for (index, reason, detail) in &rejected {
            if let Some(message) = batch.get(*index) {
                let record = fit(
                    dead_letter(message, &self.kafka.dlq_topic, S::NAME, reason, detail),
                    self.dlq_limit,
                );
                self.producer.enqueue(&record, &mut pending)?;
                self.metrics
                    .dead_lettered
                    .with_label_values(&[reason])
                    .inc();
                warn!(service = S::NAME, reason, detail = %detail, topic = %message.topic, partition = message.partition, offset = message.offset, "dead-lettered");
            }
        }
        // Every downstream message and dead letter acknowledged before the warehouse commits
        // (a stop gives up waiting: the batch is then not committed and is read again).
        self.wait_for_acks(pending)?;
        tx.commit().map_err(|source| PgError::Db {
            context: "commit batch".into(),
            source,
        })?;
        self.committed_batches += 1;
        if let Some(Failpoint::AfterWarehouseCommit { batch }) = self.config.failpoint {
            if batch == self.committed_batches {
                error!(service = S::NAME, batch, "VAULT_TEST_FAILPOINT after-warehouse-commit: aborting before the offset commit");
                std::process::abort();
            }
        }
        if let Err(e) = self.consumer.commit(&done) {
            // The warehouse has the batch; it will be read again and applied idempotently.
            warn!(service = S::NAME, error = %e, "offset commit failed after the warehouse commit");
        }
        if reapplied > 0 {
            self.metrics.reapplied.inc_by(reapplied as u64);
            warn!(
                service = S::NAME,
                messages = reapplied,
                "applied again what the warehouse already held (idempotent)"
            );
        }
        self.metrics.consumed.inc_by(batch.len() as u64);
        self.metrics.produced.inc_by(produced as u64);
        self.metrics.batches.inc();
        self.metrics.batch_size.observe(batch.len() as f64);
        self.metrics
            .batch_duration
            .observe(started.elapsed().as_secs_f64());
        Ok(())
    }

    /// Records the positions after `batch` in a transaction of their own.
    fn record_done(&mut self, batch: &[InMessage]) -> Result<(), BatchError> {
        let recorded = positions(batch);
        let mut client = self.warehouse.client()?;
        let mut tx = client.transaction().map_err(|source| PgError::Db {
            context: "begin recording positions".into(),
            source,
        })?;
        vault_pg::positions::record(&mut tx, &self.kafka.group, &recorded)?;
        tx.commit().map_err(|source| PgError::Db {
            context: "commit positions".into(),
            source,
        })?;
        Ok(())
    }

    /// Waits for the broker's acknowledgements of `pending`: gives up on a stop, keeps the
    /// liveness heartbeat going, and turns readiness off while the wait is long (a broker that
    /// is gone or does not answer; librdkafka keeps retrying up to `message.timeout.ms`).
    fn wait_for_acks(&self, pending: Pending) -> Result<(), KafkaError> {
        if pending.is_empty() {
            return Ok(());
        }
        self.health
            .waiting(Some("kafka: waiting for acknowledgements"));
        let (shutdown, health) = (&self.shutdown, &self.health);
        let result = pending.wait_or_cancel(|| {
            health.beat();
            shutdown.requested()
        });
        self.health.waiting(None);
        result
    }

    /// After a permanent failure: each message alone; the one the warehouse refuses goes to the
    /// dead-letter topic by itself.
    fn isolate(&mut self, batch: &[InMessage]) -> Result<(), BatchError> {
        for message in batch {
            let single = std::slice::from_ref(message);
            match self.attempt(single) {
                Ok(()) => {}
                // The caller rewinds to the batch start; what was done is replayed idempotently.
                Err(err) if err.is_retryable() => return Err(err),
                Err(err) => {
                    let reason = err.dead_letter_reason();
                    let record = fit(
                        dead_letter(
                            message,
                            &self.kafka.dlq_topic,
                            S::NAME,
                            reason,
                            &err.to_string(),
                        ),
                        self.dlq_limit,
                    );
                    let mut pending = Pending::default();
                    self.producer.enqueue(&record, &mut pending)?;
                    self.wait_for_acks(pending)?;
                    self.metrics
                        .dead_lettered
                        .with_label_values(&[reason])
                        .inc();
                    error!(service = S::NAME, error = %err, reason, offset = message.offset, partition = message.partition, "dead-lettered: refused for good");
                    // The warehouse records that it is done with this message too, so that a
                    // restart resumes after it (and does not dead-letter it twice).
                    self.record_done(single)?;
                    self.consumer.commit(&positions(single))?;
                }
            }
        }
        Ok(())
    }
}
