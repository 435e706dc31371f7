//! The idempotent producer (`acks=all`), used for downstream messages and dead letters alike.

use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, RwLock};
use std::task::{Context, Poll, Wake, Waker};
use std::time::{Duration, Instant};

use rdkafka::message::{Header, OwnedHeaders};
use rdkafka::producer::{DeliveryFuture, FutureProducer, FutureRecord, Producer as _};
use rdkafka::types::RDKafkaErrorCode;
use rdkafka::ClientConfig;

use crate::config::KafkaConfig;
use crate::error::KafkaError;

/// A message to produce.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutRecord {
    /// Topic.
    pub topic: String,
    /// Key (the order id, so all versions of an order stay in one partition, in order).
    pub key: Option<Vec<u8>>,
    /// Value.
    pub payload: Vec<u8>,
    /// Headers as (name, value).
    pub headers: Vec<(String, Vec<u8>)>,
}

/// An idempotent producer that delivers a whole batch and waits for every acknowledgement.
///
/// Clones share one client. [`Producer::renew`] replaces that client for every clone: the way
/// out of a client that lost every broker (librdkafka 2.12 can be left with none after a
/// broker restart and then never delivers nor times out; [`Pending`] bounds the wait itself).
#[derive(Clone)]
pub struct Producer {
    client: Arc<RwLock<FutureProducer>>,
    config: ClientConfig,
    /// How long a delivery may stay unconfirmed: `message.timeout.ms` plus a margin.
    delivery_bound: Duration,
}

impl std::fmt::Debug for Producer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Producer")
    }
}

/// Past `message.timeout.ms`, librdkafka reports a delivery as timed out by itself; this much
/// later the wait gives up on its own.
const DELIVERY_MARGIN: Duration = Duration::from_secs(15);

impl Producer {
    /// A producer with [`KafkaConfig::producer_config`].
    pub fn new(config: &KafkaConfig) -> Result<Self, KafkaError> {
        Self::create(config.producer_config())
    }

    /// A producer that can send one record as large as `max_message_bytes` (a topic's
    /// `max.message.bytes`; librdkafka's own default request limit, 1,000,000 bytes, is below
    /// Kafka's topic default of 1,048,588). Batches of several records stay within
    /// librdkafka's `batch.size`.
    pub fn with_message_limit(
        config: &KafkaConfig,
        max_message_bytes: usize,
    ) -> Result<Self, KafkaError> {
        let mut client = config.producer_config();
        if client.get("message.max.bytes").is_none() {
            client.set("message.max.bytes", (max_message_bytes + 4096).to_string());
        }
        Self::create(client)
    }

    fn create(config: ClientConfig) -> Result<Self, KafkaError> {
        let inner: FutureProducer = config.create().map_err(KafkaError::Setup)?;
        // librdkafka's default message.timeout.ms is 300 s.
        let timeout_ms: u64 = config
            .get("message.timeout.ms")
            .and_then(|v| v.parse().ok())
            .unwrap_or(300_000);
        Ok(Producer {
            client: Arc::new(RwLock::new(inner)),
            config,
            delivery_bound: Duration::from_millis(timeout_ms) + DELIVERY_MARGIN,
        })
    }

    /// Replaces the client (for this producer and every clone) by a new one with the same
    /// settings; the old one is closed in the background. What it had not delivered is
    /// reported as failed to its waiters, who send it again.
    pub fn renew(&self) -> Result<(), KafkaError> {
        let fresh: FutureProducer = self.config.create().map_err(KafkaError::Setup)?;
        let stale = match self.client.write() {
            Ok(mut client) => std::mem::replace(&mut *client, fresh),
            Err(poisoned) => std::mem::replace(&mut *poisoned.into_inner(), fresh),
        };
        std::thread::Builder::new()
            .name("producer-close".into())
            .spawn(move || {
                let _ = stale.flush(Duration::from_secs(5));
                drop(stale);
            })
            .map(|_| ())
            .map_err(|e| KafkaError::Admin {
                context: "close the replaced producer".into(),
                message: e.to_string(),
            })
    }

    fn inner(&self) -> std::sync::RwLockReadGuard<'_, FutureProducer> {
        self.client.read().unwrap_or_else(|p| p.into_inner())
    }

    /// Sends every record and returns once all are acknowledged (or the first failure).
    pub fn send_all(&self, records: &[OutRecord]) -> Result<(), KafkaError> {
        self.send_all_or_cancel(records, || false)
    }

    /// [`Producer::send_all`] that gives up with [`KafkaError::Cancelled`] once `cancel`
    /// returns true (see [`Pending::wait_or_cancel`]).
    pub fn send_all_or_cancel(
        &self,
        records: &[OutRecord],
        cancel: impl Fn() -> bool,
    ) -> Result<(), KafkaError> {
        let mut pending = Pending::default();
        for record in records {
            self.enqueue(record, &mut pending)?;
        }
        pending.wait_or_cancel(cancel)
    }

    /// Hands one record to the client without waiting for its acknowledgement; `pending`
    /// collects the delivery to [`Pending::wait`] for later. Lets a caller overlap delivery with
    /// other work (the warehouse write of the same batch).
    pub fn enqueue(&self, record: &OutRecord, pending: &mut Pending) -> Result<(), KafkaError> {
        let mut headers = OwnedHeaders::new_with_capacity(record.headers.len());
        for (name, value) in &record.headers {
            headers = headers.insert(Header {
                key: name,
                value: Some(value),
            });
        }
        let mut future_record: FutureRecord<'_, [u8], [u8]> = FutureRecord::to(&record.topic)
            .payload(&record.payload[..])
            .headers(headers);
        if let Some(key) = &record.key {
            future_record = future_record.key(&key[..]);
        }
        pending
            .deadline
            .get_or_insert_with(|| Instant::now() + self.delivery_bound);
        let inner = self.inner();
        // The local queue may be full: let deliveries drain, then try again.
        loop {
            match inner.send_result(future_record) {
                Ok(delivery) => {
                    pending.deliveries.push((record.topic.clone(), delivery));
                    return Ok(());
                }
                Err((
                    rdkafka::error::KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull),
                    back,
                )) => {
                    future_record = back;
                    inner.poll(Duration::from_millis(10));
                }
                Err((source, _)) => {
                    return Err(KafkaError::Produce {
                        topic: record.topic.clone(),
                        source,
                    })
                }
            }
        }
    }

    /// At shutdown: waits at most `timeout` for anything still queued, then drops the client
    /// with the same bound (in the background: the process goes on when a broker does not
    /// answer). Returns whether both finished in time.
    pub fn close(self, timeout: Duration) -> bool {
        let started = Instant::now();
        let flushed = self.flush(timeout).is_ok();
        let left = timeout.saturating_sub(started.elapsed());
        let (done, finished) = std::sync::mpsc::channel();
        let spawned = std::thread::Builder::new()
            .name("producer-close".into())
            .spawn(move || {
                drop(self);
                let _ = done.send(());
            });
        flushed && spawned.is_ok() && finished.recv_timeout(left).is_ok()
    }

    /// Waits for anything still queued.
    pub fn flush(&self, timeout: Duration) -> Result<(), KafkaError> {
        self.inner()
            .flush(timeout)
            .map_err(|source| KafkaError::Produce {
                topic: "*".into(),
                source,
            })
    }
}

/// Deliveries handed to the client and not yet confirmed.
#[derive(Default)]
pub struct Pending {
    deliveries: Vec<(String, DeliveryFuture)>,
    /// The first enqueue's time plus the producer's delivery bound.
    deadline: Option<Instant>,
}

impl std::fmt::Debug for Pending {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Pending({} deliveries)", self.deliveries.len())
    }
}

impl Pending {
    /// How many deliveries are outstanding.
    pub fn len(&self) -> usize {
        self.deliveries.len()
    }

    /// Whether none are.
    pub fn is_empty(&self) -> bool {
        self.deliveries.is_empty()
    }

    /// Waits until every delivery is acknowledged; the first failure is returned.
    pub fn wait(self) -> Result<(), KafkaError> {
        self.wait_or_cancel(|| false)
    }

    /// Like [`Pending::wait`], but gives up with [`KafkaError::Cancelled`] as soon as `cancel`
    /// returns true (checked at least every 50 ms while a delivery is outstanding): a stop must
    /// not wait for a broker that does not answer. What was not acknowledged is simply not
    /// committed, and is produced again when the batch is read again.
    ///
    /// A delivery still unconfirmed past the producer's `message.timeout.ms` (plus a margin) is
    /// a timeout ([`KafkaError::is_timed_out`]) even when the client never reports one.
    pub fn wait_or_cancel(self, cancel: impl Fn() -> bool) -> Result<(), KafkaError> {
        let waker = Waker::from(Arc::new(Unpark(std::thread::current())));
        let mut cx = Context::from_waker(&waker);
        for (topic, mut delivery) in self.deliveries {
            loop {
                match Pin::new(&mut delivery).poll(&mut cx) {
                    Poll::Ready(result) => {
                        outcome(topic, result)?;
                        break;
                    }
                    Poll::Pending if cancel() => return Err(KafkaError::Cancelled),
                    Poll::Pending if self.deadline.is_some_and(|d| Instant::now() >= d) => {
                        return Err(KafkaError::Produce {
                            topic,
                            source: rdkafka::error::KafkaError::MessageProduction(
                                RDKafkaErrorCode::MessageTimedOut,
                            ),
                        });
                    }
                    Poll::Pending => std::thread::park_timeout(Duration::from_millis(50)),
                }
            }
        }
        Ok(())
    }
}

/// Wakes the waiting thread when a delivery report arrives.
struct Unpark(std::thread::Thread);

impl Wake for Unpark {
    fn wake(self: Arc<Self>) {
        self.0.unpark();
    }
}

fn outcome(topic: String, result: <DeliveryFuture as Future>::Output) -> Result<(), KafkaError> {
    match result {
        Ok(Ok(_)) => Ok(()),
        Ok(Err((source, _))) => Err(KafkaError::Produce { topic, source }),
        Err(_canceled) => Err(KafkaError::Produce {
            topic,
            source: rdkafka::error::KafkaError::Canceled,
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A client that never gets an acknowledgement (no broker there) and whose own timeout is
    /// far away: the wait still ends, at the producer's bound, as a timeout — the case of a
    /// client left without brokers, which reports nothing at all.
    #[test]
    fn a_delivery_never_confirmed_times_out_at_the_bound() {
        let mut config = ClientConfig::new();
        config
            .set("bootstrap.servers", "127.0.0.1:9")
            .set("message.timeout.ms", "600000")
            .set("log_level", "0");
        let mut producer = Producer::create(config).expect("a client (it connects lazily)");
        producer.delivery_bound = Duration::from_millis(300);
        let mut pending = Pending::default();
        let record = OutRecord {
            topic: "nowhere".into(),
            key: None,
            payload: b"x".to_vec(),
            headers: Vec::new(),
        };
        producer
            .enqueue(&record, &mut pending)
            .expect("queued locally");
        let started = Instant::now();
        let err = pending.wait().expect_err("nothing can confirm it");
        assert!(err.is_timed_out(), "{err}");
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "{:?}",
            started.elapsed()
        );
        producer.renew().expect("a new client");
    }
}
