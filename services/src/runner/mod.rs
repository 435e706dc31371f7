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
//! nothing is counted twice. Retryable faults (PostgreSQL, Kafka or a stage's own dependency
//! down, a read-only warehouse) rewind the consumer, mark the service not ready and back off (no
//! busy loop, no skipped message). Only a batch refused for a message's data (vault_pg::classify)
//! is split to find the message at fault, which goes to the dead-letter topic with the reason
//! `rejected_by_warehouse`; the partition never sticks. Dead letters: `runner/dead_letters.rs`;
//! a failed batch: `runner/recovery.rs`; the group, readiness and stop: `runner/membership.rs`;
//! the Kafka clients kept working: [`vault_kafka::ServiceClients`].

mod clients;
mod config;
mod dead_letters;
mod hooks;
mod membership;
mod recovery;
mod resent;
mod stage;

use std::sync::Arc;
use std::time::{Duration, Instant};

use tracing::{debug, info};
use vault_kafka::{positions, GroupLag, InMessage, KafkaConfig, KafkaError, LostOffsets};
use vault_kafka::{Pending, Position, ServiceClients};
use vault_pg::error::Context;
use vault_pg::Warehouse;

pub use clients::KafkaClients;
pub use config::RunnerConfig;
pub use hooks::{Failpoint, Hooks, NoHooks};
pub use stage::{Decoded, Output, Stage, StageError};

use crate::ops::{BatchCommitted, BatchSteps, Health, Metrics, Step};
use crate::retry::RetryPolicy;
use crate::shutdown::Shutdown;
use dead_letters::{below, DeadLetters};
use resent::Unconfirmed;

/// Why a runner stopped other than on request.
#[derive(Debug, thiserror::Error)]
pub enum RunnerError {
    /// `KAFKA_LOST_OFFSETS=stop`, and offsets were deleted upstream before they were read.
    #[error("{}/{}: offsets {}..{} were deleted upstream before they were read (KAFKA_LOST_OFFSETS=stop)", .0.topic, .0.partition, .0.from, .0.to)]
    OffsetsLost(LostOffsets),
}

/// The runner: the Kafka clients, the warehouse and a stage.
pub struct Runner<S: Stage> {
    stage: S,
    clients: ServiceClients,
    warehouse: Warehouse,
    kafka: KafkaConfig,
    config: RunnerConfig,
    metrics: Metrics,
    health: Arc<Health>,
    backoff: RetryPolicy,
    shutdown: Shutdown,
    /// Since when this replica holds no partitions (or its last line saying so).
    idle_since: Option<Instant>,
    /// The whole group's lag, from a probe of its own (`None`: the probe could not start).
    group_lag: Option<GroupLag>,
    unconfirmed: Unconfirmed,
    letters: DeadLetters,
    hooks: Box<dyn Hooks>,
    /// Batches this process committed to the warehouse.
    committed: u64,
}

/// A consumer out of its group this long is not ready (and replaced after
/// [`vault_kafka::clients::REJOIN_AFTER`]).
const UNJOINED_NOT_READY: Duration = Duration::from_secs(15);

/// The longest an idle replica waits in one poll for a first message (its wake-ups: CPU at
/// rest; and how late it notices a stop).
const IDLE_POLL: Duration = Duration::from_secs(1);

/// How often a replica that holds no partitions says so.
const IDLE_LOG_EVERY: Duration = Duration::from_secs(60);

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
    /// connects lazily. No [`Hooks`] (see [`Runner::with_hooks`]).
    pub fn new(
        stage: S,
        clients: KafkaClients,
        kafka: KafkaConfig,
        warehouse: Warehouse,
        config: RunnerConfig,
        metrics: Metrics,
        health: Arc<Health>,
    ) -> Self {
        Runner {
            stage,
            clients: clients.clients,
            letters: DeadLetters::new(clients.dlq_limit),
            group_lag: clients.group_lag,
            unconfirmed: Unconfirmed::default(),
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
            hooks: Box::new(NoHooks),
            committed: 0,
        }
    }

    /// The same runner calling `hooks` (tests only: [`Failpoint`]).
    pub fn with_hooks(self, hooks: Box<dyn Hooks>) -> Self {
        Runner { hooks, ..self }
    }

    /// Runs until `shutdown` is requested; then leaves the group and flushes the producer,
    /// each step bounded (see [`crate::shutdown`]).
    pub fn run(mut self, shutdown: &Shutdown) -> Result<(), RunnerError> {
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
            let (max, wait) = (self.config.batch_max, self.config.batch_wait);
            let consumer = self.clients.consumer_mut();
            let batch = consumer.poll_batch_after(max, wait.max(IDLE_POLL), wait);
            if let Some(why) = self.log_assignment() {
                // Nothing of this batch is processed or committed: the next start finds the
                // same gap, until a person decides.
                self.stop();
                return Err(why);
            }
            if !self.deliver_waiting_first(&batch, &mut failures) {
                continue;
            }
            if batch.is_empty() {
                if let Err(e) = self.clients.recommit_while_idle() {
                    debug!(service = S::NAME, error = %e, next = "retry on the next idle poll", "idle re-commit of the last offsets failed");
                }
                continue;
            }
            shutdown
                .step("finishing the batch in flight (uncommitted: read again by the next owner)");
            match self.attempt_or_isolate(&batch) {
                Ok(()) if failures > 0 => {
                    info!(service = S::NAME, "recovered");
                    failures = 0;
                    self.refresh_health();
                }
                Ok(()) => {}
                Err(_) if shutdown.requested() => {
                    info!(
                        service = S::NAME,
                        size = batch.len(),
                        next = "read again by the next owner",
                        "stopping: the batch in flight is abandoned uncommitted"
                    );
                }
                Err(err) => {
                    failures += 1;
                    self.retry_later(&batch, &err, failures);
                }
            }
        }
        self.stop();
        Ok(())
    }

    /// One attempt at a batch: transaction, positions, downstream acks, commit, offsets.
    fn attempt(&mut self, batch: &[InMessage]) -> Result<(), StageError> {
        let mut produced = 0;
        let result = self.try_batch(batch, &mut produced);
        match &result {
            Ok(()) => self.metrics.resent(self.unconfirmed.committed(batch)),
            Err(_) if produced > 0 => self.unconfirmed.produced_by_failed(batch),
            Err(_) => {}
        }
        result
    }

    fn try_batch(&mut self, batch: &[InMessage], produced: &mut usize) -> Result<(), StageError> {
        let mut steps = BatchSteps::start();
        let mut client = self.warehouse.client()?;
        let mut tx = client.transaction().context("begin batch")?;
        steps.end(Step::Begin);
        let producer = self.clients.producer().clone();
        let mut out = Output::new(S::NAME, self.kafka.destination_topic.clone(), producer);
        let items = self.decode(batch, &mut out);
        steps.end(Step::Decode);
        let processed = self.stage.process(items, &mut tx, &mut out);
        *produced = out.produced;
        processed?;
        steps.end(Step::Stage);
        let done = positions(batch);
        let before = vault_pg::positions::record(&mut tx, &self.kafka.group, &done)?;
        // Recorded in the batch's transaction, produced once it has committed.
        let letters = self.record_dead_letters(&mut tx, batch, &before, &out.rejected)?;
        steps.end(Step::Positions);
        // Every downstream message acknowledged before the warehouse commits (a stop gives up
        // waiting: the batch is then not committed and is read again).
        self.wait_for_acks(std::mem::take(&mut out.pending))?;
        steps.end(Step::Acks);
        tx.commit().context("commit batch")?;
        steps.end(Step::Commit);
        drop(client);
        self.after_commit(&done, &letters);
        steps.end(Step::Offsets);
        let reapplied = batch.iter().filter(|m| below(&before, m)).count();
        let (messages, produced) = (batch.len(), out.produced);
        let committed = BatchCommitted {
            messages,
            produced,
            reapplied,
            steps,
        };
        self.metrics.batch_committed(&committed);
        Ok(())
    }

    /// The runner decodes; what does not decode is dead-lettered with its reason.
    fn decode<'b>(&self, batch: &'b [InMessage], out: &mut Output) -> Vec<Decoded<S::Input<'b>>> {
        let mut items = Vec::with_capacity(batch.len());
        for (index, message) in batch.iter().enumerate() {
            match self.stage.decode(&message.payload) {
                Ok(value) => items.push(Decoded { index, value }),
                Err(err) => out.reject(index, err.dead_letter_reason(), err.to_string()),
            }
        }
        items
    }

    /// What follows a batch's warehouse commit: the stage is told, its dead letters are
    /// delivered, its offsets committed (a failure there only means it is read again).
    fn after_commit(&mut self, done: &[Position], letters: &[vault_pg::dead_letters::Waiting]) {
        self.stage.committed();
        self.committed += 1;
        self.hooks.after_warehouse_commit(self.committed);
        self.deliver_decided(letters);
        if let Err(e) = self.clients.commit(done) {
            tracing::warn!(service = S::NAME, error = %e, "offset commit failed after the warehouse commit");
        }
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
}
