//! The one batch runner shared by the STG, DDS and CDM services.
//!
//! ```text
//! poll ≤ BATCH_MAX messages or BATCH_WAIT_MS
//!   → stage: decode each (bad → dead letter) and process the batch inside ONE warehouse transaction
//!   → record the batch's Kafka positions and its dead letters in that transaction
//!   → produce downstream messages, wait for every acknowledgement
//!   → commit the transaction → produce the dead letters → commit the offsets
//! ```
//!
//! A crash anywhere means the batch is read again and applied idempotently: nothing is lost,
//! nothing is counted twice. Retryable faults (PostgreSQL, Redis or Kafka down, a read-only
//! warehouse) rewind the consumer, mark the service not ready and back off (no busy loop, no
//! skipped message). Only a batch refused for a message's data (vault_pg::classify) is split to
//! find the message at fault, which goes to the dead-letter topic with the reason
//! `rejected_by_warehouse`; the partition never sticks. A dead letter is final only with the
//! batch that decided it: it is produced after that batch committed, from the warehouse's
//! outbox (vault_pg::dead_letters), and never twice.

mod config;
mod membership;
mod stage;

use std::sync::Arc;
use std::time::{Duration, Instant};

use tracing::{debug, error, info, warn};
use vault_core::pipeline::DeadLetterReason;
use vault_kafka::deadletter::{already_on_topic, dead_letter, fit};
use vault_kafka::{
    positions, BatchConsumer, GroupLag, InMessage, KafkaConfig, KafkaError, OutRecord, Pending,
    Position, Producer,
};
use vault_pg::dead_letters::{Place, Waiting};
use vault_pg::error::Context;
use vault_pg::Warehouse;

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
    /// The dead-letter topic's end offsets and when they were read (see
    /// [`Runner::dlq_from`]).
    dlq_ends: Option<(Instant, Vec<i64>)>,
    /// Whether dead letters of committed batches may be waiting in the warehouse for the
    /// partitions this replica owns (at the start, after partitions were assigned, after a
    /// failed attempt or delivery): they are delivered before the next batch.
    look_for_waiting: bool,
    /// Deliveries of dead letters made (for the test-only failpoint).
    deliveries: u64,
}

/// How long after its last batch an idle replica commits its last offsets again.
const RECOMMIT_FOR: Duration = Duration::from_secs(10);

/// How old the dead-letter topic's end offsets may be when a batch records them with its dead
/// letters (a search for a dead letter reads the topic from there: at most this much of it
/// beyond what it must).
const DLQ_ENDS_FOR: Duration = Duration::from_secs(60);

/// The longest a broker request about the dead-letter topic may take, and a search of it.
const DLQ_SEARCH_MAX: Duration = Duration::from_secs(30);

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
            dlq_ends: None,
            look_for_waiting: true,
            deliveries: 0,
        }
    }

    /// Runs until `shutdown` is requested; then leaves the group and flushes the producer,
    /// each step bounded (see [`crate::shutdown`]).
    pub fn run(mut self, shutdown: &Shutdown) -> Result<(), String> {
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
            if let Some(why) = self.log_assignment() {
                // Nothing of this batch is processed or committed: the next start finds the
                // same gap, until a person decides.
                self.stop();
                return Err(why);
            }
            if self.look_for_waiting {
                shutdown.step("delivering the dead letters of committed batches");
                match self.deliver_waiting() {
                    Ok(()) => self.look_for_waiting = false,
                    Err(_) if shutdown.requested() => continue,
                    Err(err) => {
                        failures += 1;
                        let message = format!("delivering waiting dead letters: {err}");
                        self.failed(err.kind(), &message, failures);
                        if !batch.is_empty() {
                            self.rewind(&batch);
                        }
                        shutdown.sleep(self.backoff.backoff(failures));
                        continue;
                    }
                }
            }
            if batch.is_empty() {
                self.recommit_while_idle();
                continue;
            }
            shutdown
                .step("finishing the batch in flight (uncommitted: read again by the next owner)");
            let result = match self.attempt(&batch) {
                Err(err) if err.blames_message() => {
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
                    // A commit whose answer was lost (the connection cut while it was sent)
                    // may have gone through: its dead letters then wait in the warehouse, and
                    // the retry, finding the batch's positions recorded, does not decide them
                    // again. They are delivered before the next attempt.
                    self.look_for_waiting = true;
                    if err.is_delivery_timeout() {
                        self.replace_producer();
                    }
                    self.rewind(&batch);
                    shutdown.sleep(self.backoff.backoff(failures));
                }
            }
        }
        self.stop();
        Ok(())
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
        let mut tx = client.transaction().context("begin batch")?;
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
            pending,
            produced,
            rejected,
            ..
        } = out;
        // The dead letters are recorded in the batch's transaction and produced once it has
        // committed: a batch that does not commit sends none.
        let letters = self.decide(batch, &before, &rejected)?;
        vault_pg::dead_letters::record(&mut tx, &self.kafka.group, &letters)?;
        steps.end(Step::Positions);
        // Every downstream message acknowledged before the warehouse commits (a stop gives up
        // waiting: the batch is then not committed and is read again).
        self.wait_for_acks(pending)?;
        steps.end(Step::Acks);
        tx.commit().context("commit batch")?;
        steps.end(Step::Commit);
        self.stage.committed();
        if let Some(Failpoint::AfterWarehouseCommit { batch }) = self.config.failpoint {
            // This one is the (batches committed so far + 1)-th.
            if batch == self.metrics.batches_committed() + 1 {
                error!(service = S::NAME, batch, "VAULT_TEST_FAILPOINT after-warehouse-commit: aborting before the offset commit");
                std::process::abort();
            }
        }
        drop(client);
        self.deliver_decided(&letters);
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
        let last: Vec<Position> = self
            .recent_offsets
            .iter()
            .map(|((topic, partition), next_offset)| Position {
                topic: topic.clone(),
                partition: *partition,
                next_offset: *next_offset,
            })
            .collect();
        if let Err(e) = self.consumer.commit(&last) {
            debug!(service = S::NAME, error = %e, "committing the last offsets again failed; retried on the next idle poll");
        }
    }

    /// The dead letters of `rejected` (index in `batch`, reason, detail), as records for the
    /// dead-letter topic. A message below a position recorded `before` was decided by a batch
    /// that committed: its dead letter is final already and is not made again.
    fn decide(
        &mut self,
        batch: &[InMessage],
        before: &[Position],
        rejected: &[(usize, DeadLetterReason, String)],
    ) -> Result<Vec<Waiting>, KafkaError> {
        let mut letters = Vec::with_capacity(rejected.len());
        for (index, reason, detail) in rejected {
            let Some(message) = batch.get(*index) else {
                continue;
            };
            let decided = before.iter().any(|p| {
                p.topic == message.topic
                    && p.partition == message.partition
                    && message.offset < p.next_offset
            });
            if decided {
                continue;
            }
            let reason = reason.as_str();
            let record = fit(
                dead_letter(message, &self.kafka.dlq_topic, S::NAME, reason, detail),
                self.dlq_limit,
            );
            letters.push(Waiting {
                topic: message.topic.clone(),
                partition: message.partition,
                offset: message.offset,
                dlq_topic: record.topic,
                dlq_from: self.dlq_from()?,
                key: record.key,
                payload: record.payload,
                headers: record.headers,
                reason: reason.to_owned(),
            });
        }
        Ok(letters)
    }

    /// The dead-letter topic's end offsets, read at most [`DLQ_ENDS_FOR`] ago: every dead letter
    /// produced from now on lies beyond them.
    fn dlq_from(&mut self) -> Result<Vec<i64>, KafkaError> {
        if let Some((read, ends)) = &self.dlq_ends {
            if read.elapsed() < DLQ_ENDS_FOR {
                return Ok(ends.clone());
            }
        }
        let ends = self
            .producer
            .end_offsets(&self.kafka.dlq_topic, DLQ_SEARCH_MAX)?;
        self.dlq_ends = Some((Instant::now(), ends.clone()));
        Ok(ends)
    }

    /// Delivers the dead letters a batch just committed. If that fails they stay in the
    /// warehouse and are delivered before the next batch (the batch itself stands).
    fn deliver_decided(&mut self, letters: &[Waiting]) {
        if letters.is_empty() {
            return;
        }
        let places: Vec<Place> = letters
            .iter()
            .map(|l| (l.topic.clone(), l.partition, Some(l.offset)))
            .collect();
        if let Err(e) = self.deliver(&places, false) {
            warn!(service = S::NAME, error = %e, count = letters.len(), "dead letters of a committed batch not delivered yet: they wait in the warehouse and are delivered before the next batch");
            self.look_for_waiting = true;
        }
    }

    /// Delivers every dead letter waiting in the warehouse for the partitions this replica owns
    /// (left by a crash between a batch's commit and the broker's acknowledgement of its dead
    /// letters, or by a delivery that failed); those already on the topic are not produced again.
    fn deliver_waiting(&mut self) -> Result<(), StageError> {
        let places: Vec<Place> = self
            .consumer
            .assignment()
            .into_iter()
            .map(|(topic, partition)| (topic, partition, None))
            .collect();
        let delivered = self.deliver(&places, true)?;
        if delivered > 0 {
            info!(
                service = S::NAME,
                delivered, "delivered dead letters that committed batches had left waiting"
            );
        }
        Ok(())
    }

    /// Takes the dead letters waiting at `places` under a row lock, produces them (with
    /// `search`, only those not on the topic yet), and removes them once acknowledged, all in one
    /// transaction: no two sessions produce the same dead letter, and one that is not
    /// acknowledged stays waiting. Returns how many were produced.
    fn deliver(&mut self, places: &[Place], search: bool) -> Result<usize, StageError> {
        if places.is_empty() {
            return Ok(0);
        }
        let group = self.kafka.group.clone();
        let mut client = self.warehouse.client()?;
        let mut tx = client
            .transaction()
            .context("begin delivering dead letters")?;
        let waiting = vault_pg::dead_letters::take(&mut tx, &group, places)?;
        if waiting.is_empty() {
            return Ok(0);
        }
        let mut send: Vec<&Waiting> = waiting.iter().collect();
        if search {
            let mut topics: std::collections::BTreeMap<&str, Vec<i64>> = Default::default();
            for letter in &waiting {
                let from = topics.entry(&letter.dlq_topic).or_default();
                for (partition, &offset) in letter.dlq_from.iter().enumerate() {
                    match from.get_mut(partition) {
                        Some(lowest) => *lowest = (*lowest).min(offset),
                        None => from.push(offset),
                    }
                }
            }
            let mut found = std::collections::BTreeSet::new();
            for (topic, from) in topics {
                let wanted = waiting
                    .iter()
                    .filter(|l| l.dlq_topic == topic)
                    .map(|l| (l.topic.clone(), l.partition, l.offset))
                    .collect();
                found.extend(already_on_topic(
                    &self.kafka,
                    topic,
                    &from,
                    S::NAME,
                    &wanted,
                    DLQ_SEARCH_MAX,
                )?);
            }
            if !found.is_empty() {
                info!(
                    service = S::NAME,
                    found = found.len(),
                    "waiting dead letters found on their topic already: not produced again"
                );
            }
            send.retain(|l| !found.contains(&(l.topic.clone(), l.partition, l.offset)));
        }
        let mut pending = Pending::default();
        for letter in &send {
            let record = OutRecord {
                topic: letter.dlq_topic.clone(),
                key: letter.key.clone(),
                payload: letter.payload.clone(),
                headers: letter.headers.clone(),
            };
            self.producer.enqueue(&record, &mut pending)?;
        }
        self.wait_for_acks(pending)?;
        if !send.is_empty() {
            self.deliveries += 1;
            if let Some(Failpoint::AfterDeadLetterProduce { delivery }) = self.config.failpoint {
                if delivery == self.deliveries {
                    error!(service = S::NAME, delivery, "VAULT_TEST_FAILPOINT after-dead-letter-produce: aborting before the warehouse forgets the dead letters");
                    std::process::abort();
                }
            }
        }
        vault_pg::dead_letters::done(&mut tx, &group, &waiting)?;
        tx.commit().context("commit delivered dead letters")?;
        for letter in &send {
            self.metrics.dead_lettered(letter);
        }
        Ok(send.len())
    }

    /// A message the warehouse refused alone: its position and its dead letter are recorded in
    /// a transaction of their own (a restart resumes after it and does not decide it again),
    /// and the dead letter is delivered once that has committed.
    fn refuse(
        &mut self,
        message: &InMessage,
        reason: DeadLetterReason,
        detail: String,
    ) -> Result<(), StageError> {
        let single = std::slice::from_ref(message);
        let recorded = positions(single);
        let mut client = self.warehouse.client()?;
        let mut tx = client
            .transaction()
            .context("begin recording a refused message")?;
        let before = vault_pg::positions::record(&mut tx, &self.kafka.group, &recorded)?;
        let letters = self.decide(single, &before, &[(0, reason, detail)])?;
        vault_pg::dead_letters::record(&mut tx, &self.kafka.group, &letters)?;
        tx.commit().context("commit a refused message")?;
        drop(client);
        self.deliver_decided(&letters);
        self.consumer.commit(&recorded)?;
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

    /// After a failure that blames a message's data: each message alone; the one the warehouse
    /// refuses alone for its data goes to the dead-letter topic by itself. Any other failure on
    /// the way (the warehouse gone read-only meanwhile, say) ends the pass: the caller retries
    /// the whole batch.
    fn isolate(&mut self, batch: &[InMessage]) -> Result<(), StageError> {
        for message in batch {
            let single = std::slice::from_ref(message);
            match self.attempt(single) {
                Ok(()) => {}
                // The caller rewinds to the batch start; what was done is replayed idempotently.
                Err(err) if !err.blames_message() => return Err(err),
                Err(err) => {
                    let reason = err.reject_reason();
                    self.metrics
                        .refused_for_good(reason.as_str(), &err, message);
                    self.refuse(message, reason, err.to_string())?;
                }
            }
        }
        Ok(())
    }
}
