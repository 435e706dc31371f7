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

mod config;
mod membership;
mod stage;

use std::sync::Arc;
use std::time::{Duration, Instant};

use tracing::{debug, error, info, warn};
use vault_kafka::deadletter::{dead_letter, fit};
use vault_kafka::{
    positions, BatchConsumer, GroupLag, InMessage, KafkaConfig, KafkaError, Pending, Producer,
};
use vault_pg::{PgError, Warehouse};

pub use config::{Failpoint, RunnerConfig};
pub use stage::{Decoded, Output, Stage, StageError};

use crate::ops::{BatchCommitted, BatchSteps, Health, Metrics, Step};
use crate::retry::RetryPolicy;
use crate::shutdown::Shutdown;
use membership::{partition_list, warehouse_positions};

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
    /// Since when this replica holds no partitions (or its last line saying so).
    idle_since: Option<Instant>,
    /// The dead-letter topic's `max.message.bytes`: larger dead letters are cut to fit.
    dlq_limit: usize,
    /// Per source partition, the highest offset whose downstream messages a failed attempt
    /// produced: their next successful attempt produces them again (counted as re-sent).
    unconfirmed: std::collections::BTreeMap<(String, i32), i64>,
    /// The whole group's lag, from a probe of its own (`None`: the probe could not start).
    group_lag: Option<GroupLag>,
    /// The offsets committed lately, per partition, committed again while idle (see
    /// [`Runner::recommit_while_idle`]).
    recent_offsets: std::collections::BTreeMap<(String, i32), i64>,
    /// Until when they are committed again.
    recommit_until: Option<Instant>,
}

/// How long after its last batch an idle replica commits its last offsets again.
const RECOMMIT_FOR: Duration = Duration::from_secs(10);

/// The Kafka side of a runner: made apart from it, so that a service whose clients cannot be
/// made (a CA file missing, say) retries instead of exiting.
#[derive(Debug)]
pub struct KafkaClients {
    consumer: BatchConsumer,
    producer: Producer,
    dlq_limit: usize,
    group_lag: Option<GroupLag>,
}

impl KafkaClients {
    /// A consumer that resumes from the warehouse's positions, a producer sized for the
    /// dead-letter topic, and the group-lag probe.
    pub fn connect(
        service: &'static str,
        kafka: &KafkaConfig,
        warehouse: &Warehouse,
    ) -> Result<Self, KafkaError> {
        let dlq_limit = match vault_kafka::admin::max_message_bytes(kafka, &kafka.dlq_topic) {
            Ok(limit) => limit,
            Err(e) => {
                let limit = vault_kafka::admin::DEFAULT_MAX_MESSAGE_BYTES;
                warn!(service, topic = %kafka.dlq_topic, error = %e, limit, "could not read the dead-letter topic's max.message.bytes; assuming Kafka's default");
                limit
            }
        };
        Ok(KafkaClients {
            consumer: BatchConsumer::with_positions(
                kafka,
                warehouse_positions(warehouse, &kafka.group),
            )?,
            producer: Producer::with_message_limit(kafka, dlq_limit)?,
            dlq_limit,
            group_lag: match GroupLag::spawn(kafka, GROUP_LAG_EVERY) {
                Ok(lag) => Some(lag),
                Err(e) => {
                    warn!(service, error = %e, "group lag probe not started: vault_group_lag_messages is not reported");
                    None
                }
            },
        })
    }
}

/// A consumer out of its group this long is not ready ...
const UNJOINED_NOT_READY: Duration = Duration::from_secs(15);
/// ... and this long, replaced (see `Runner::replace_consumer_if_stuck`).
const REJOIN_AFTER: Duration = Duration::from_secs(45);

/// How often the group's lag is read from the broker.
const GROUP_LAG_EVERY: Duration = Duration::from_secs(15);

/// The longest an idle replica waits in one poll for a first message (its wake-ups: CPU at
/// rest; and how late it notices a stop).
const IDLE_POLL: Duration = Duration::from_secs(1);

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
    /// The runner over Kafka clients made by [`KafkaClients::connect`]; the warehouse pool
    /// connects lazily.
    pub fn new(
        stage: S,
        clients: KafkaClients,
        kafka: KafkaConfig,
        warehouse: Warehouse,
        config: RunnerConfig,
        metrics: Metrics,
        health: Arc<Health>,
    ) -> Self {
        let KafkaClients {
            consumer,
            producer,
            dlq_limit,
            group_lag,
        } = clients;
        Runner {
            stage,
            consumer,
            producer,
            dlq_limit,
            unconfirmed: Default::default(),
            group_lag,
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
            recent_offsets: Default::default(),
            recommit_until: None,
        }
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
            // Blocks up to IDLE_POLL for a first message (a message ends the wait at once): an
            // idle or disconnected consumer never spins, and wakes once a second.
            let batch = self.consumer.poll_batch_after(
                self.config.batch_max,
                self.config.batch_wait.max(IDLE_POLL),
                self.config.batch_wait,
            );
            self.log_assignment();
            if batch.is_empty() {
                self.recommit_while_idle();
                continue;
            }
            shutdown
                .step("finishing the batch in flight (uncommitted: read again by the next owner)");
            let result = match self.attempt(&batch) {
                Err(err) if !err.is_retryable() => {
                    self.metrics.batch_refused(&err, batch.len());
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
    /// One attempt at a batch: transaction, positions, downstream acks, commit, offsets.
    fn attempt(&mut self, batch: &[InMessage]) -> Result<(), StageError> {
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
        self.metrics.resent(resent);
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
    ) -> Result<(), StageError> {
        let mut steps = BatchSteps::start();
        let mut client = self.warehouse.client()?;
        let mut tx = client.transaction().map_err(|source| PgError::Db {
            context: "begin batch".into(),
            source,
        })?;
        steps.end(Step::Begin);
        let mut out = Output::new(
            S::NAME,
            self.kafka.destination_topic.clone(),
            self.producer.clone(),
        );
        // The runner decodes; what does not decode is dead-lettered with its reason.
        let mut items = Vec::with_capacity(batch.len());
        for (index, message) in batch.iter().enumerate() {
            match self.stage.decode(&message.payload) {
                Ok(value) => items.push(Decoded { index, value }),
                Err(err) => out.reject(index, err.dead_letter_reason(), err.to_string()),
            }
        }
        steps.end(Step::Decode);
        let processed = self.stage.process(items, &mut tx, &mut out);
        *produced_so_far = out.produced;
        processed?;
        steps.end(Step::Stage);
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
            let reason = reason.as_str();
            if let Some(message) = batch.get(*index) {
                let record = fit(
                    dead_letter(message, &self.kafka.dlq_topic, S::NAME, reason, detail),
                    self.dlq_limit,
                );
                self.producer.enqueue(&record, &mut pending)?;
                self.metrics.dead_lettered(reason, detail, message);
            }
        }
        steps.end(Step::Positions);
        // Every downstream message and dead letter acknowledged before the warehouse commits
        // (a stop gives up waiting: the batch is then not committed and is read again).
        self.wait_for_acks(pending)?;
        steps.end(Step::Acks);
        tx.commit().map_err(|source| PgError::Db {
            context: "commit batch".into(),
            source,
        })?;
        steps.end(Step::Commit);
        self.stage.committed();
        if let Some(Failpoint::AfterWarehouseCommit { batch }) = self.config.failpoint {
            // This one is the (batches committed so far + 1)-th.
            if batch == self.metrics.batches_committed() + 1 {
                error!(service = S::NAME, batch, "VAULT_TEST_FAILPOINT after-warehouse-commit: aborting before the offset commit");
                std::process::abort();
            }
        }
        if let Err(e) = self.consumer.commit(&done) {
            // The warehouse has the batch; it will be read again and applied idempotently.
            warn!(service = S::NAME, error = %e, "offset commit failed after the warehouse commit");
        }
        for p in &done {
            self.recent_offsets
                .insert((p.topic.clone(), p.partition), p.next_offset);
        }
        self.recommit_until = Some(Instant::now() + RECOMMIT_FOR);
        steps.end(Step::Offsets);
        self.metrics.batch_committed(&BatchCommitted {
            messages: batch.len(),
            produced,
            reapplied,
            steps,
        });
        Ok(())
    }

    /// The offset commit is asynchronous, and the broker refuses one made while the group
    /// rebalances (`COMMITFAIL … generation id is not valid`), also for the partitions this
    /// replica keeps. When no message follows on such a partition, nothing would commit it
    /// again: the warehouse is right (it resumes from its own positions), but the group's lag
    /// stays above zero for good, which misleads scaling and alerts. So for a while after its
    /// last batch an idle replica commits its last offsets again — only for the partitions it
    /// still owns ([`BatchConsumer::commit`] leaves out the others).
    fn recommit_while_idle(&mut self) {
        let Some(until) = self.recommit_until else {
            return;
        };
        let owned = self.consumer.assignment();
        self.recent_offsets.retain(|key, _| owned.contains(key));
        if Instant::now() >= until || self.recent_offsets.is_empty() {
            self.recommit_until = None;
            self.recent_offsets.clear();
            return;
        }
        let last: Vec<vault_kafka::Position> = self
            .recent_offsets
            .iter()
            .map(|((topic, partition), next_offset)| vault_kafka::Position {
                topic: topic.clone(),
                partition: *partition,
                next_offset: *next_offset,
            })
            .collect();
        if let Err(e) = self.consumer.commit(&last) {
            debug!(service = S::NAME, error = %e, "committing the last offsets again failed; retried on the next idle poll");
        }
    }

    /// Records the positions after `batch` in a transaction of their own.
    fn record_done(&mut self, batch: &[InMessage]) -> Result<(), StageError> {
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
    fn isolate(&mut self, batch: &[InMessage]) -> Result<(), StageError> {
        for message in batch {
            let single = std::slice::from_ref(message);
            match self.attempt(single) {
                Ok(()) => {}
                // The caller rewinds to the batch start; what was done is replayed idempotently.
                Err(err) if err.is_retryable() => return Err(err),
                Err(err) => {
                    let reason = err.reject_reason().as_str();
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
                    self.metrics.refused_for_good(reason, &err, message);
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
