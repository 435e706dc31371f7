//! Dead letters, in one place: decided and recorded in the transaction of the batch (or the
//! refused message) that decides them, produced once that has committed, from the warehouse's
//! outbox (vault_pg::dead_letters), and counted once the broker acknowledged them — never
//! twice, and never for a batch that did not commit.

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use postgres::Transaction;
use tracing::{info, warn};
use vault_core::pipeline::DeadLetterReason;
use vault_kafka::deadletter::{already_on_topic, dead_letter, fit};
use vault_kafka::{positions, InMessage, KafkaError, OutRecord, Pending, Position};
use vault_pg::dead_letters::{Place, Waiting};
use vault_pg::error::Context;

use super::{Runner, Stage, StageError};

/// How old the dead-letter topic's end offsets may be when a batch records them with its dead
/// letters (a search for a dead letter reads the topic from there: at most this much of it
/// beyond what it must).
const DLQ_ENDS_FOR: Duration = Duration::from_secs(60);

/// The longest a broker request about the dead-letter topic may take, and a search of it.
const DLQ_SEARCH_MAX: Duration = Duration::from_secs(30);

/// What the runner keeps about dead letters.
#[derive(Debug)]
pub(super) struct DeadLetters {
    /// The dead-letter topic's `max.message.bytes`: larger dead letters are cut to fit.
    limit: usize,
    /// The dead-letter topic's end offsets and when they were read.
    ends: Option<(Instant, Vec<i64>)>,
    /// Whether dead letters of committed batches may be waiting in the warehouse for the
    /// partitions this replica owns (at the start, after partitions were assigned, after a
    /// failed attempt or delivery): they are delivered before the next batch.
    pub(super) look_for_waiting: bool,
    /// Deliveries of dead letters made (for the test-only hooks).
    deliveries: u64,
}

impl DeadLetters {
    pub(super) fn new(limit: usize) -> Self {
        DeadLetters {
            limit,
            ends: None,
            look_for_waiting: true,
            deliveries: 0,
        }
    }
}

impl<S: Stage> Runner<S> {
    /// Records in `tx` the dead letters of `rejected` (index in `batch`, reason, detail). A
    /// message below a position recorded `before` was decided by a batch that committed: its
    /// dead letter is final already and is not made again.
    pub(super) fn record_dead_letters(
        &mut self,
        tx: &mut Transaction<'_>,
        batch: &[InMessage],
        before: &[Position],
        rejected: &[(usize, DeadLetterReason, String)],
    ) -> Result<Vec<Waiting>, StageError> {
        let mut letters = Vec::with_capacity(rejected.len());
        for (index, reason, detail) in rejected {
            let Some(message) = batch.get(*index) else {
                continue;
            };
            if below(before, message) {
                continue;
            }
            let reason = reason.as_str();
            let record = fit(
                dead_letter(message, &self.kafka.dlq_topic, S::NAME, reason, detail),
                self.letters.limit,
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
        vault_pg::dead_letters::record(tx, &self.kafka.group, &letters)?;
        Ok(letters)
    }

    /// The dead-letter topic's end offsets, read at most [`DLQ_ENDS_FOR`] ago: every dead letter
    /// produced from now on lies beyond them.
    fn dlq_from(&mut self) -> Result<Vec<i64>, KafkaError> {
        if let Some((read, ends)) = &self.letters.ends {
            if read.elapsed() < DLQ_ENDS_FOR {
                return Ok(ends.clone());
            }
        }
        let ends = self
            .clients
            .producer()
            .end_offsets(&self.kafka.dlq_topic, DLQ_SEARCH_MAX)?;
        self.letters.ends = Some((Instant::now(), ends.clone()));
        Ok(ends)
    }

    /// Before a batch, while dead letters of committed batches may wait: delivers them. `false`
    /// when that failed: the batch is not processed now (it is rewound, after a backoff).
    pub(super) fn deliver_waiting_first(
        &mut self,
        batch: &[InMessage],
        failures: &mut u32,
    ) -> bool {
        if !self.letters.look_for_waiting {
            return true;
        }
        self.shutdown
            .step("delivering the dead letters of committed batches");
        match self.deliver_waiting() {
            Ok(()) => {
                self.letters.look_for_waiting = false;
                true
            }
            Err(_) if self.shutdown.requested() => false,
            Err(err) => {
                *failures += 1;
                let message = format!("delivering waiting dead letters: {err}");
                self.failed(err.kind(), &message, *failures);
                if !batch.is_empty() {
                    self.rewind(batch);
                }
                self.shutdown.sleep(self.backoff.backoff(*failures));
                false
            }
        }
    }

    /// Delivers the dead letters a batch just committed. If that fails they stay in the
    /// warehouse and are delivered before the next batch (the batch itself stands).
    pub(super) fn deliver_decided(&mut self, letters: &[Waiting]) {
        if letters.is_empty() {
            return;
        }
        let places: Vec<Place> = letters
            .iter()
            .map(|l| (l.topic.clone(), l.partition, Some(l.offset)))
            .collect();
        if let Err(e) = self.deliver(&places, false) {
            warn!(service = S::NAME, error = %e, count = letters.len(), next = "delivered from the warehouse before the next batch", "dead letters of a committed batch not delivered yet");
            self.letters.look_for_waiting = true;
        }
    }

    /// Delivers every dead letter waiting in the warehouse for the partitions this replica owns
    /// (left by a crash between a batch's commit and the broker's acknowledgement of its dead
    /// letters, or by a delivery that failed); those already on the topic are not produced again.
    fn deliver_waiting(&mut self) -> Result<(), StageError> {
        let places: Vec<Place> = self
            .clients
            .consumer()
            .assignment()
            .into_iter()
            .map(|(topic, partition)| (topic, partition, None))
            .collect();
        let delivered = self.deliver(&places, true)?;
        if delivered > 0 {
            info!(
                service = S::NAME,
                delivered, "delivered the dead letters committed batches left waiting"
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
        let found = match search {
            true => self.already_delivered(&waiting)?,
            false => BTreeSet::new(),
        };
        let send: Vec<&Waiting> = waiting
            .iter()
            .filter(|l| !found.contains(&(l.topic.clone(), l.partition, l.offset)))
            .collect();
        let mut pending = Pending::default();
        for letter in &send {
            let record = OutRecord {
                topic: letter.dlq_topic.clone(),
                key: letter.key.clone(),
                payload: letter.payload.clone(),
                headers: letter.headers.clone(),
            };
            self.clients.producer().enqueue(&record, &mut pending)?;
        }
        self.wait_for_acks(pending)?;
        if !send.is_empty() {
            self.letters.deliveries += 1;
            self.hooks
                .after_dead_letter_delivery(self.letters.deliveries);
        }
        vault_pg::dead_letters::done(&mut tx, &group, &waiting)?;
        tx.commit().context("commit delivered dead letters")?;
        for letter in &send {
            self.metrics.dead_lettered(letter);
        }
        Ok(send.len())
    }

    /// Which of `waiting` are on their dead-letter topic already (a delivery the broker took
    /// but whose removal from the outbox did not commit).
    fn already_delivered(
        &self,
        waiting: &[Waiting],
    ) -> Result<BTreeSet<(String, i32, i64)>, KafkaError> {
        let mut topics: BTreeMap<&str, Vec<i64>> = BTreeMap::new();
        for letter in waiting {
            let from = topics.entry(&letter.dlq_topic).or_default();
            for (partition, &offset) in letter.dlq_from.iter().enumerate() {
                match from.get_mut(partition) {
                    Some(lowest) => *lowest = (*lowest).min(offset),
                    None => from.push(offset),
                }
            }
        }
        let mut found = BTreeSet::new();
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
                next = "not produced again",
                "waiting dead letters found on their topic already"
            );
        }
        Ok(found)
    }

    /// A message the warehouse refused alone: its position and its dead letter are recorded in
    /// a transaction of their own (a restart resumes after it and does not decide it again),
    /// and the dead letter is delivered once that has committed.
    pub(super) fn refuse(
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
        let letters = self.record_dead_letters(&mut tx, single, &before, &[(0, reason, detail)])?;
        tx.commit().context("commit a refused message")?;
        drop(client);
        self.deliver_decided(&letters);
        self.clients.consumer().commit(&recorded)?;
        Ok(())
    }
}

/// Whether `message` lies below a position of `before` (a batch that committed decided it).
pub(super) fn below(before: &[Position], message: &InMessage) -> bool {
    before.iter().any(|p| {
        p.topic == message.topic
            && p.partition == message.partition
            && message.offset < p.next_offset
    })
}
