//! A service's consumer and producer, kept working: a consumer left out of its group is
//! replaced, a producer whose deliveries timed out is renewed, and the last offsets are
//! committed again while idle. The caller (the batch runner) decides when; this type knows
//! how, and reports what it did so that the caller logs and counts it.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use crate::{BatchConsumer, KafkaConfig, KafkaError, Position, PositionSource, Producer};

/// How long a consumer may stay out of its group before [`ServiceClients::heal_consumer`]
/// replaces it.
pub const REJOIN_AFTER: Duration = Duration::from_secs(45);

/// How long after its last commit an idle consumer commits its last offsets again.
pub const RECOMMIT_FOR: Duration = Duration::from_secs(10);

/// How long a replaced consumer is given to close.
const CLOSE_REPLACED: Duration = Duration::from_secs(2);

/// What [`ServiceClients::heal_consumer`] did about a consumer out of its group.
#[derive(Debug)]
pub struct Rejoin {
    /// How long the consumer had been out of its group.
    pub out_for: Duration,
    /// Its group state then (librdkafka's words).
    pub state: String,
    /// `Ok(closed)`: a new consumer took its place (`closed`: the old one closed in time, else
    /// it is left to close in the background); `Err`: no new consumer could be made, the old
    /// one stays.
    pub outcome: Result<bool, KafkaError>,
}

/// The consumer and producer of a service.
pub struct ServiceClients {
    config: KafkaConfig,
    positions: PositionSource,
    consumer: BatchConsumer,
    producer: Producer,
    /// The offsets committed lately, per partition, committed again while idle.
    recent: BTreeMap<(String, i32), i64>,
    /// Until when they are committed again.
    recommit_until: Option<Instant>,
}

impl std::fmt::Debug for ServiceClients {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServiceClients")
            .field("group", &self.config.group)
            .field("consumer", &self.consumer)
            .finish_non_exhaustive()
    }
}

impl ServiceClients {
    /// A consumer of `config`'s group that starts from `positions` where they are ahead of the
    /// group's offsets, and a producer whose messages may be up to `message_limit` bytes.
    pub fn connect(
        config: &KafkaConfig,
        positions: PositionSource,
        message_limit: usize,
    ) -> Result<Self, KafkaError> {
        Ok(ServiceClients {
            consumer: BatchConsumer::with_positions(config, positions.clone())?,
            producer: Producer::with_message_limit(config, message_limit)?,
            config: config.clone(),
            positions,
            recent: BTreeMap::new(),
            recommit_until: None,
        })
    }

    /// The consumer.
    pub fn consumer(&self) -> &BatchConsumer {
        &self.consumer
    }

    /// The consumer, to poll it.
    pub fn consumer_mut(&mut self) -> &mut BatchConsumer {
        &mut self.consumer
    }

    /// The producer (clones share its client, renewed or not).
    pub fn producer(&self) -> &Producer {
        &self.producer
    }

    /// Commits `done` as the group's offsets, and keeps them to commit again while idle
    /// ([`ServiceClients::recommit_while_idle`]).
    pub fn commit(&mut self, done: &[Position]) -> Result<usize, KafkaError> {
        for p in done {
            self.recent
                .insert((p.topic.clone(), p.partition), p.next_offset);
        }
        self.recommit_until = Some(Instant::now() + RECOMMIT_FOR);
        self.consumer.commit(done)
    }

    /// The offset commit is asynchronous, and the broker refuses one made while the group
    /// rebalances (`COMMITFAIL … generation id is not valid`), also for the partitions this
    /// consumer keeps. When no message follows on such a partition, nothing would commit it
    /// again: the warehouse is right (it resumes from its own positions), but the group's lag
    /// stays above zero for good, which misleads scaling and alerts. So for [`RECOMMIT_FOR`]
    /// after its last commit an idle consumer commits its last offsets again — only for the
    /// partitions it still owns. An error is for the caller to note; the next idle poll tries
    /// again.
    pub fn recommit_while_idle(&mut self) -> Result<(), KafkaError> {
        let Some(until) = self.recommit_until else {
            return Ok(());
        };
        let owned = self.consumer.assignment();
        self.recent.retain(|key, _| owned.contains(key));
        if Instant::now() >= until || self.recent.is_empty() {
            self.recommit_until = None;
            self.recent.clear();
            return Ok(());
        }
        let last: Vec<Position> = self
            .recent
            .iter()
            .map(|((topic, partition), next_offset)| Position {
                topic: topic.clone(),
                partition: *partition,
                next_offset: *next_offset,
            })
            .collect();
        self.consumer.commit(&last).map(|_| ())
    }

    /// librdkafka can stay out of its group after a broker came back from a freeze (seen on
    /// Kafka 4.4 with librdkafka 2.12: the coordinator is never looked up again, and the
    /// consumer holds no partitions for ever). A consumer that has not been a steady member for
    /// [`REJOIN_AFTER`] is replaced by a new one, which joins afresh; nothing is lost
    /// (uncommitted work is read again). `None`: nothing to do.
    pub fn heal_consumer(&mut self) -> Option<Rejoin> {
        let (out_for, state) = self.consumer.unjoined_for()?;
        if out_for < REJOIN_AFTER {
            return None;
        }
        let outcome =
            BatchConsumer::with_positions(&self.config, self.positions.clone()).map(|fresh| {
                let stale = std::mem::replace(&mut self.consumer, fresh);
                stale.close(CLOSE_REPLACED)
            });
        Some(Rejoin {
            out_for,
            state,
            outcome,
        })
    }

    /// After a delivery that timed out (`message.timeout.ms`: the broker gave no answer), the
    /// producer's client is replaced by a new one: librdkafka 2.12 was seen to keep a producer
    /// without any broker connection after a broker came back from a freeze.
    pub fn renew_producer(&self) -> Result<(), KafkaError> {
        self.producer.renew()
    }

    /// The consumer and the producer, to close them one after the other.
    pub fn into_parts(self) -> (BatchConsumer, Producer) {
        (self.consumer, self.producer)
    }
}
