//! A batch consumer with manual offsets that is safe across rebalances.
//!
//! * Offsets are never committed automatically: the caller commits the positions of a batch
//!   after the warehouse transaction holding it committed ([`BatchConsumer::commit`]).
//! * Commits are only made for partitions this consumer still owns.
//! * Messages of partitions revoked while a batch is being collected are dropped from the batch
//!   (the new owner reads them from the last committed offset), so an in-flight batch never
//!   writes data of a partition it no longer owns.
//! * After a failed batch the caller rewinds ([`BatchConsumer::rewind`]) so nothing is skipped.

mod context;

use std::collections::{BTreeMap, HashSet};
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use rdkafka::consumer::{BaseConsumer, CommitMode, Consumer};
use rdkafka::message::{Headers, Message};
use rdkafka::{Offset, TopicPartitionList};

use context::OutOfRange;
pub use context::{LostOffsets, PositionSource, RebalanceContext, Resume};

use crate::config::KafkaConfig;
use crate::error::KafkaError;

/// A consumed message, owned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InMessage {
    /// Topic.
    pub topic: String,
    /// Partition.
    pub partition: i32,
    /// Offset.
    pub offset: i64,
    /// Key, if any.
    pub key: Option<Vec<u8>>,
    /// Value (empty for a null value).
    pub payload: Vec<u8>,
    /// Headers as (name, value).
    pub headers: Vec<(String, Vec<u8>)>,
    /// Creation/append time in ms since the epoch, if known.
    pub timestamp_ms: Option<i64>,
}

impl InMessage {
    /// An owned copy of a message the client handed out.
    pub fn from_message<M: Message>(m: &M) -> InMessage {
        let headers = m
            .headers()
            .map(|h| {
                h.iter()
                    .map(|header| {
                        (
                            header.key.to_owned(),
                            header.value.map(<[u8]>::to_vec).unwrap_or_default(),
                        )
                    })
                    .collect()
            })
            .unwrap_or_default();
        InMessage {
            topic: m.topic().to_owned(),
            partition: m.partition(),
            offset: m.offset(),
            key: m.key().map(<[u8]>::to_vec),
            payload: m.payload().map(<[u8]>::to_vec).unwrap_or_default(),
            headers,
            timestamp_ms: m.timestamp().to_millis(),
        }
    }

    /// A header's value.
    pub fn header(&self, name: &str) -> Option<&[u8]> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_slice())
    }
}

pub use vault_core::pipeline::Position;

/// The positions after a batch: per partition, last offset + 1.
pub fn positions(batch: &[InMessage]) -> Vec<Position> {
    let mut next: BTreeMap<(&str, i32), i64> = BTreeMap::new();
    for m in batch {
        let slot = next
            .entry((m.topic.as_str(), m.partition))
            .or_insert(m.offset + 1);
        *slot = (*slot).max(m.offset + 1);
    }
    next.into_iter()
        .map(|((topic, partition), next_offset)| Position {
            topic: topic.to_owned(),
            partition,
            next_offset,
        })
        .collect()
}

/// A change of the partitions this consumer owns, as the group coordinator decided it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AssignmentChange {
    /// These partitions were handed to this consumer (topic, partitions).
    Assigned(Vec<(String, i32)>),
    /// These were taken away (a rebalance, or the consumer leaving the group).
    Revoked(Vec<(String, i32)>),
}

/// A subscribed consumer that hands out batches.
pub struct BatchConsumer {
    consumer: BaseConsumer<RebalanceContext>,
    context: RebalanceContext,
    topic: String,
    last_error: Option<(Instant, String)>,
}

impl std::fmt::Debug for BatchConsumer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BatchConsumer")
            .field("topic", &self.topic)
            .finish()
    }
}

impl BatchConsumer {
    /// A consumer in the configured group, subscribed to the source topic, that starts each
    /// partition from the group's committed offset.
    pub fn new(config: &KafkaConfig) -> Result<Self, KafkaError> {
        Self::create(config, None)
    }

    /// A consumer that starts each assigned partition from the warehouse's position
    /// (`positions`) when that is ahead of the group's committed offset: work the warehouse
    /// already holds is not applied (nor produced downstream) again, even when the group's
    /// offsets were lost, reset or not committed after a crash.
    pub fn with_positions(
        config: &KafkaConfig,
        positions: PositionSource,
    ) -> Result<Self, KafkaError> {
        Self::create(config, Some(positions))
    }

    fn create(config: &KafkaConfig, positions: Option<PositionSource>) -> Result<Self, KafkaError> {
        let context = RebalanceContext {
            positions,
            ..RebalanceContext::default()
        };
        let consumer: BaseConsumer<RebalanceContext> = config
            .consumer_config()
            .create_with_context(context.clone())
            .map_err(KafkaError::Setup)?;
        consumer
            .subscribe(&[config.source_topic.as_str()])
            .map_err(KafkaError::Setup)?;
        Ok(BatchConsumer {
            consumer,
            context,
            topic: config.source_topic.clone(),
            last_error: None,
        })
    }

    /// Up to `max` messages. Idle, it waits at most `wait` for a first message (no busy
    /// polling); then it takes what the client has already buffered and closes the batch as
    /// soon as nothing more is buffered, when it is full, or `wait` after its first message
    /// (data that keeps arriving). So a trickle is handled at once, and a backlog in full
    /// batches. Messages of partitions revoked meanwhile are left out.
    ///
    /// Client errors delivered by `poll` (broker down, transport failures) are notifications:
    /// librdkafka keeps reconnecting by itself, so they are recorded ([`BatchConsumer::recent_error`])
    /// and polling goes on — returning early on them would leave queued events unread and slow
    /// the recovery down.
    pub fn poll_batch(&mut self, max: usize, wait: Duration) -> Vec<InMessage> {
        self.poll_batch_after(max, wait, wait)
    }

    /// [`BatchConsumer::poll_batch`] waiting up to `first` (rather than `wait`) for a first
    /// message: a message still ends the wait at once, so a longer `first` costs no latency and
    /// saves an idle consumer's wake-ups.
    pub fn poll_batch_after(
        &mut self,
        max: usize,
        first: Duration,
        wait: Duration,
    ) -> Vec<InMessage> {
        let mut deadline = Instant::now() + first;
        let mut batch: Vec<InMessage> = Vec::with_capacity(max.min(4096));
        while batch.len() < max {
            let now = Instant::now();
            if now >= deadline {
                break;
            }
            // The first message may be waited for; the others only taken if already there.
            let timeout = if batch.is_empty() {
                deadline - now
            } else {
                Duration::ZERO
            };
            match self.consumer.poll(timeout) {
                None => break,
                Some(Ok(m)) => {
                    if batch.is_empty() {
                        deadline = Instant::now() + wait;
                    }
                    batch.push(InMessage::from_message(&m));
                }
                Some(Err(source)) => {
                    self.last_error = Some((
                        Instant::now(),
                        KafkaError::Consume {
                            topic: self.topic.clone(),
                            source,
                        }
                        .to_string(),
                    ));
                }
            }
            self.drop_revoked(&mut batch);
        }
        self.drop_revoked(&mut batch);
        if !batch.is_empty() {
            self.last_error = None;
            self.note_resets(&batch);
        }
        batch
    }

    /// For each fetch position librdkafka reset, the first offset of its partition in this
    /// batch past the position: the batch holds what was read after the gap, so the gap's end
    /// is known before the batch is processed ([`BatchConsumer::take_lost`]). The reset's
    /// warning reaches the context before those messages: librdkafka's log lines travel on
    /// the consumer's queue (rdkafka sets `log.queue`), in order with the messages.
    fn note_resets(&self, batch: &[InMessage]) {
        let Ok(mut resets) = self.context.resets.lock() else {
            return;
        };
        for reset in resets.iter_mut().filter(|r| r.first_after.is_none()) {
            reset.first_after = batch
                .iter()
                .filter(|m| m.partition == reset.partition && m.offset > reset.at)
                .filter(|m| m.topic == reset.topic)
                .map(|m| m.offset)
                .min();
        }
    }

    /// The last client error, if it happened within `window` and no message arrived since.
    pub fn recent_error(&self, window: Duration) -> Option<&str> {
        self.last_error
            .as_ref()
            .filter(|(at, _)| at.elapsed() <= window)
            .map(|(_, text)| text.as_str())
    }

    /// Drops every fetch position and rejoins the group, so each owned partition is read again
    /// from its last committed offset (the fallback when a rewind is impossible).
    pub fn reset_to_committed(&self) -> Result<(), KafkaError> {
        self.consumer.unsubscribe();
        self.consumer
            .subscribe(&[self.topic.as_str()])
            .map_err(KafkaError::Setup)
    }

    fn drop_revoked(&self, batch: &mut Vec<InMessage>) {
        let Ok(mut m) = self.context.membership.lock() else {
            return;
        };
        if m.revoked.is_empty() {
            return;
        }
        let revoked: HashSet<(String, i32)> = m.revoked.drain(..).collect();
        batch.retain(|msg| !revoked.contains(&(msg.topic.clone(), msg.partition)));
    }

    /// Commits positions (asynchronously), for the partitions still assigned to this consumer.
    /// Returns how many partitions were committed.
    pub fn commit(&self, positions: &[Position]) -> Result<usize, KafkaError> {
        let assigned = self.consumer.assignment().map_err(KafkaError::Commit)?;
        let owned: HashSet<(String, i32)> = assigned
            .elements()
            .iter()
            .map(|e| (e.topic().to_owned(), e.partition()))
            .collect();
        let mut list = TopicPartitionList::new();
        for p in positions {
            if owned.contains(&(p.topic.clone(), p.partition)) {
                list.add_partition_offset(&p.topic, p.partition, Offset::Offset(p.next_offset))
                    .map_err(KafkaError::Commit)?;
            }
        }
        if list.count() == 0 {
            return Ok(0);
        }
        // Asynchronous: the warehouse already holds the batch, so a lost commit only means the
        // batch is read again and applied idempotently; waiting for the broker buys nothing.
        self.consumer
            .commit(&list, CommitMode::Async)
            .map_err(KafkaError::Commit)?;
        Ok(list.count())
    }

    /// Seeks every partition of a failed batch back to its first message, so the batch is read
    /// again. Partitions no longer owned are skipped (their new owner starts from the commit).
    pub fn rewind(&self, batch: &[InMessage]) -> Result<(), KafkaError> {
        let mut first: BTreeMap<(&str, i32), i64> = BTreeMap::new();
        for m in batch {
            let slot = first
                .entry((m.topic.as_str(), m.partition))
                .or_insert(m.offset);
            *slot = (*slot).min(m.offset);
        }
        for ((topic, partition), offset) in first {
            if let Err(source) = self.consumer.seek(
                topic,
                partition,
                Offset::Offset(offset),
                Duration::from_secs(5),
            ) {
                // Erroneous state for a partition just revoked: nothing to rewind then.
                if self.is_assigned(topic, partition) {
                    return Err(KafkaError::Consume {
                        topic: topic.to_owned(),
                        source,
                    });
                }
            }
        }
        Ok(())
    }

    fn is_assigned(&self, topic: &str, partition: i32) -> bool {
        self.context
            .membership
            .lock()
            .map(|m| m.assigned.contains(&(topic.to_owned(), partition)))
            .unwrap_or(false)
    }

    /// The assignment changes since the last call, oldest first (for the log).
    pub fn take_assignment_changes(&self) -> Vec<AssignmentChange> {
        self.context
            .membership
            .lock()
            .map(|mut m| std::mem::take(&mut m.changes))
            .unwrap_or_default()
    }

    /// The partitions started from the warehouse's positions since the last call, and the
    /// failures to read those positions (then the committed offsets were used), oldest first.
    pub fn take_resumes(&self) -> Vec<Result<Resume, String>> {
        self.context
            .resumes
            .lock()
            .map(|mut r| std::mem::take(&mut *r))
            .unwrap_or_default()
    }

    /// The offsets deleted upstream before this group read them, found since the last call:
    /// on an assignment (the start is below the partition's first offset), or while reading
    /// (librdkafka found the fetch position deleted and reset it, `auto.offset.reset`). A
    /// reading gap ends where reading went on: the first offset of the partition the last
    /// batch holds past the position, else the partition's first offset asked of the broker.
    /// Called after [`BatchConsumer::poll_batch`], before the batch is processed: a batch
    /// that holds anything past a gap has that gap in this list, so a caller that stops on a
    /// gap stops before processing anything past it. Each gap is reported once.
    pub fn take_lost(&self) -> Vec<LostOffsets> {
        let mut lost = self
            .context
            .lost
            .lock()
            .map(|mut l| std::mem::take(&mut *l))
            .unwrap_or_default();
        let resets = self
            .context
            .resets
            .lock()
            .map(|mut r| std::mem::take(&mut *r))
            .unwrap_or_default();
        let mut pending = Vec::new();
        for mut reset in resets {
            let (topic, partition, from) = (reset.topic.clone(), reset.partition, reset.at);
            if self
                .context
                .known_gaps
                .lock()
                .is_ok_and(|k| k.contains(&(topic.clone(), partition, from)))
            {
                continue;
            }
            // Where reading went on: seen in a batch, else the partition's first offset now.
            // Below it: deleted. At or above it (a log truncated by an unclean leader
            // election, the position past the end): read again from there, nothing lost.
            let end = reset
                .first_after
                .or_else(|| self.ask_first_offset(&mut reset));
            match end {
                Some(to) if from < to => {
                    if let Ok(mut k) = self.context.known_gaps.lock() {
                        k.insert((topic.clone(), partition, from));
                    }
                    lost.push(LostOffsets {
                        topic,
                        partition,
                        from,
                        to,
                    });
                }
                Some(_) => {}
                None => pending.push(reset),
            }
        }
        if !pending.is_empty() {
            if let Ok(mut resets) = self.context.resets.lock() {
                resets.extend(pending);
            }
        }
        lost
    }

    /// The first offset of a reset's partition, asked of the broker; `None` when it does not
    /// answer, and after two failures without asking again (each ask may take 5 s): a batch
    /// that reads past the position still tells the gap's end ([`Self::note_resets`]).
    fn ask_first_offset(&self, reset: &mut OutOfRange) -> Option<i64> {
        if reset.attempts >= 2 {
            return None;
        }
        let (topic, partition, from) = (&reset.topic, reset.partition, reset.at);
        match self
            .consumer
            .fetch_watermarks(topic, partition, Duration::from_secs(5))
        {
            Ok((low, _)) => Some(low),
            Err(e) => {
                if reset.attempts == 1 {
                    tracing::warn!(topic, partition, from, error = %e, "librdkafka reset a fetch position the broker did not have, and the partition's first offset cannot be read: the gap is told when a message past it is read");
                }
                reset.attempts += 1;
                None
            }
        }
    }

    /// The partitions this consumer owns now, sorted.
    pub fn assignment(&self) -> Vec<(String, i32)> {
        let mut owned: Vec<(String, i32)> = self
            .context
            .membership
            .lock()
            .map(|m| m.assigned.iter().cloned().collect())
            .unwrap_or_default();
        owned.sort();
        owned
    }

    /// How long this consumer has not been a steady member of its group, with its group state
    /// (`state/join_state` as librdkafka reports them), when the latest statistics (every
    /// `statistics.interval.ms`) say it is not. `None` while it is a member in good standing,
    /// with or without partitions, or when the statistics are too old to tell.
    pub fn unjoined_for(&self) -> Option<(Duration, String)> {
        let standing = self.context.standing.lock().ok()?;
        let fresh = standing.last_report.elapsed() <= Duration::from_secs(15);
        let behind = standing
            .last_report
            .saturating_duration_since(standing.last_joined);
        (fresh && !behind.is_zero())
            .then(|| (standing.last_joined.elapsed(), standing.state.clone()))
    }

    /// Whether this consumer is a member of its group now: it owns partitions, or the latest
    /// statistics (at most 15 s old) say it is a steady member, which it is with no partitions
    /// too (a group with more members than partitions).
    pub fn in_group(&self) -> bool {
        if self.assigned_partitions() > 0 {
            return true;
        }
        self.context
            .standing
            .lock()
            .is_ok_and(|s| s.steady && s.last_report.elapsed() <= Duration::from_secs(15))
    }

    /// How many partitions this consumer owns now.
    pub fn assigned_partitions(&self) -> usize {
        self.context
            .membership
            .lock()
            .map(|m| m.assigned.len())
            .unwrap_or(0)
    }

    /// Messages behind the end of the owned partitions, as of librdkafka's last statistics
    /// (every `statistics.interval.ms`, 5 s by default here).
    pub fn lag(&self) -> i64 {
        self.context.lag.load(Ordering::Relaxed)
    }

    /// Leaves the group cleanly (its partitions move at once, not after the session timeout),
    /// waiting at most `timeout` for the broker. Returns whether the leave completed; when it
    /// did not (a broker that accepts connections and answers nothing), the client is left to
    /// a background thread and the caller goes on — its partitions then move when the session
    /// times out, and nothing is lost: what was not committed is read again.
    pub fn close(self, timeout: Duration) -> bool {
        let BatchConsumer { consumer, .. } = self;
        let (done, finished) = std::sync::mpsc::channel();
        let spawned = std::thread::Builder::new()
            .name("consumer-close".into())
            .spawn(move || {
                consumer.unsubscribe();
                // Dropping the client closes it: LeaveGroup, then the client's own shutdown.
                drop(consumer);
                let _ = done.send(());
            });
        spawned.is_ok() && finished.recv_timeout(timeout).is_ok()
    }
}
