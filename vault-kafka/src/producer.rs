//! The idempotent producer (`acks=all`), used for downstream messages and dead letters alike.
//!
//! Built on rdkafka's `BaseProducer` with a polling thread of its own rather than on
//! `FutureProducer`: that one's thread polls in 100 ms slices and each slice ends in a
//! sub-millisecond busy wait (a timeout below 1 ms is passed to librdkafka as 0), ~0.85 % of a
//! core on an idle service. Ours polls in 1 s slices — a delivery report is still served the
//! moment it arrives, the slice only bounds how soon a replaced client's thread ends — and
//! reports each delivery to the [`Pending`] batch it belongs to.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex, RwLock};
use std::time::{Duration, Instant};

use rdkafka::client::ClientContext;
use rdkafka::config::RDKafkaLogLevel;
use rdkafka::message::{Header, Message as _, OwnedHeaders};
use rdkafka::producer::{BaseProducer, BaseRecord, DeliveryResult, Producer as _, ProducerContext};
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
    client: Arc<RwLock<Arc<Client>>>,
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

/// The polling thread's slice: how often an idle producer wakes, and how soon the thread of a
/// replaced or dropped client ends. Delivery reports do not wait for it.
const POLL_SLICE: Duration = Duration::from_secs(1);

/// One librdkafka client and the thread that serves its events (delivery reports, errors).
struct Client {
    base: Arc<BaseProducer<Deliveries>>,
    stop: Arc<AtomicBool>,
}

impl Client {
    fn create(config: &ClientConfig) -> Result<Self, KafkaError> {
        let base: Arc<BaseProducer<Deliveries>> = Arc::new(
            config
                .create_with_context(Deliveries)
                .map_err(KafkaError::Setup)?,
        );
        let stop = Arc::new(AtomicBool::new(false));
        let (polled, stopped) = (Arc::clone(&base), Arc::clone(&stop));
        std::thread::Builder::new()
            .name("producer-poll".into())
            .spawn(move || {
                while !stopped.load(Ordering::Relaxed) {
                    polled.poll(POLL_SLICE);
                }
                // The last reference usually: librdkafka's destroy (a purge reported to the
                // waiters as failed deliveries, then at most 500 ms of flush) runs here.
                drop(polled);
            })
            .map_err(|e| KafkaError::Admin {
                context: "start the producer's polling thread".into(),
                message: e.to_string(),
            })?;
        Ok(Client { base, stop })
    }
}

impl Drop for Client {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

/// The client context: each delivery report goes to the batch ([`Pending`]) its record came
/// from; errors and logs are logged as `crate::logs` says.
struct Deliveries;

impl ClientContext for Deliveries {
    fn log(&self, level: RDKafkaLogLevel, fac: &str, log_message: &str) {
        crate::logs::log("producer", level, fac, log_message);
    }

    fn error(&self, error: rdkafka::error::KafkaError, reason: &str) {
        crate::logs::error_report("producer", &error, reason);
    }
}

impl ProducerContext for Deliveries {
    type DeliveryOpaque = Arc<Tracker>;

    fn delivery(&self, result: &DeliveryResult<'_>, tracker: Arc<Tracker>) {
        tracker.report(match result {
            Ok(_) => Ok(()),
            Err((source, message)) => Err(KafkaError::Produce {
                topic: message.topic().to_owned(),
                source: source.clone(),
            }),
        });
    }
}

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
        let client = Client::create(&config)?;
        // librdkafka's default message.timeout.ms is 300 s.
        let timeout_ms: u64 = config
            .get("message.timeout.ms")
            .and_then(|v| v.parse().ok())
            .unwrap_or(300_000);
        Ok(Producer {
            client: Arc::new(RwLock::new(Arc::new(client))),
            config,
            delivery_bound: Duration::from_millis(timeout_ms) + DELIVERY_MARGIN,
        })
    }

    /// Replaces the client (for this producer and every clone) by a new one with the same
    /// settings; the old one is closed in the background. What it had not delivered is
    /// reported as failed to its waiters, who send it again.
    pub fn renew(&self) -> Result<(), KafkaError> {
        let fresh = Arc::new(Client::create(&self.config)?);
        let stale = match self.client.write() {
            Ok(mut client) => std::mem::replace(&mut *client, fresh),
            Err(poisoned) => std::mem::replace(&mut *poisoned.into_inner(), fresh),
        };
        std::thread::Builder::new()
            .name("producer-close".into())
            .spawn(move || {
                let _ = stale.base.flush(Duration::from_secs(5));
                drop(stale);
            })
            .map(|_| ())
            .map_err(|e| KafkaError::Admin {
                context: "close the replaced producer".into(),
                message: e.to_string(),
            })
    }

    fn current(&self) -> Arc<Client> {
        Arc::clone(&self.client.read().unwrap_or_else(|p| p.into_inner()))
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
        pending
            .deadline
            .get_or_insert_with(|| Instant::now() + self.delivery_bound);
        pending.tracker.expect_one(&record.topic);
        let mut base_record: BaseRecord<'_, [u8], [u8], Arc<Tracker>> =
            BaseRecord::with_opaque_to(&record.topic, Arc::clone(&pending.tracker))
                .payload(&record.payload[..])
                .headers(headers);
        if let Some(key) = &record.key {
            base_record = base_record.key(&key[..]);
        }
        let client = self.current();
        // The local queue may be full: let the polling thread serve deliveries, then try again.
        loop {
            match client.base.send(base_record) {
                Ok(()) => {
                    pending.enqueued += 1;
                    return Ok(());
                }
                Err((
                    rdkafka::error::KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull),
                    back,
                )) => {
                    base_record = back;
                    std::thread::sleep(Duration::from_millis(10));
                }
                Err((source, _)) => {
                    pending.tracker.forget_one();
                    return Err(KafkaError::Produce {
                        topic: record.topic.clone(),
                        source,
                    });
                }
            }
        }
    }

    /// The end offset (high watermark) of each partition of `topic`, by partition number, from
    /// this producer's own connections (no client of its own is made).
    pub fn end_offsets(&self, topic: &str, timeout: Duration) -> Result<Vec<i64>, KafkaError> {
        let client = self.current();
        let failed = |message: String| KafkaError::Admin {
            context: format!("read the end offsets of {topic}"),
            message,
        };
        let metadata = client
            .base
            .client()
            .fetch_metadata(Some(topic), timeout)
            .map_err(|e| failed(e.to_string()))?;
        let partitions = metadata
            .topics()
            .iter()
            .find(|t| t.name() == topic)
            .map_or(0, |t| t.partitions().len());
        if partitions == 0 {
            return Err(failed(
                "the topic has no partitions (does it exist?)".into(),
            ));
        }
        (0..partitions as i32)
            .map(|partition| {
                client
                    .base
                    .client()
                    .fetch_watermarks(topic, partition, timeout)
                    .map(|(_, high)| high)
                    .map_err(|e| failed(format!("partition {partition}: {e}")))
            })
            .collect()
    }

    /// At shutdown: waits at most `timeout` for anything still queued, then stops the client's
    /// polling thread, which destroys the client in the background (the process goes on when
    /// a broker does not answer). Returns whether everything was delivered in time.
    pub fn close(self, timeout: Duration) -> bool {
        let flushed = self.flush(timeout).is_ok();
        self.current().stop.store(true, Ordering::Relaxed);
        flushed
    }

    /// Waits for anything still queued.
    pub fn flush(&self, timeout: Duration) -> Result<(), KafkaError> {
        self.current()
            .base
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
    tracker: Arc<Tracker>,
    /// Records handed to the client for this batch (reported or not).
    enqueued: usize,
    /// The first enqueue's time plus the producer's delivery bound.
    deadline: Option<Instant>,
}

impl std::fmt::Debug for Pending {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Pending({} deliveries)", self.len())
    }
}

impl Pending {
    /// How many records were handed to the client for this batch — confirmed, failed or still
    /// unreported: only [`Pending::wait`] says how they fared.
    pub fn len(&self) -> usize {
        self.enqueued
    }

    /// Whether none were (then there is nothing to wait for).
    pub fn is_empty(&self) -> bool {
        self.enqueued == 0
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
        let mut state = self.tracker.state();
        loop {
            if let Some(err) = state.failed.take() {
                return Err(err);
            }
            if state.outstanding == 0 {
                return Ok(());
            }
            if cancel() {
                return Err(KafkaError::Cancelled);
            }
            if self.deadline.is_some_and(|d| Instant::now() >= d) {
                return Err(KafkaError::Produce {
                    topic: std::mem::take(&mut state.topic),
                    source: rdkafka::error::KafkaError::MessageProduction(
                        RDKafkaErrorCode::MessageTimedOut,
                    ),
                });
            }
            state = match self
                .tracker
                .reported
                .wait_timeout(state, Duration::from_millis(50))
            {
                Ok((state, _)) => state,
                Err(poisoned) => poisoned.into_inner().0,
            };
        }
    }
}

/// What one [`Pending`] batch is waiting for, shared with the client's delivery reports.
#[derive(Default)]
struct Tracker {
    state: Mutex<Tracked>,
    reported: Condvar,
}

#[derive(Default)]
struct Tracked {
    /// Handed to the client, not reported yet.
    outstanding: usize,
    /// The first failure reported.
    failed: Option<KafkaError>,
    /// The first record's topic: named by a timeout nobody reported.
    topic: String,
}

impl Tracker {
    fn state(&self) -> std::sync::MutexGuard<'_, Tracked> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn expect_one(&self, topic: &str) {
        let mut state = self.state();
        state.outstanding += 1;
        if state.topic.is_empty() {
            state.topic = topic.to_owned();
        }
    }

    fn forget_one(&self) {
        let mut state = self.state();
        state.outstanding = state.outstanding.saturating_sub(1);
    }

    fn report(&self, result: Result<(), KafkaError>) {
        let mut state = self.state();
        state.outstanding = state.outstanding.saturating_sub(1);
        if let Err(err) = result {
            state.failed.get_or_insert(err);
        }
        if state.outstanding == 0 || state.failed.is_some() {
            self.reported.notify_all();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A producer of a broker that is not there (nothing listens on port 9) whose own
    /// `message.timeout.ms` is ten minutes away.
    fn brokerless() -> Producer {
        let mut config = ClientConfig::new();
        config
            .set("bootstrap.servers", "127.0.0.1:9")
            .set("message.timeout.ms", "600000")
            .set("log_level", "0");
        Producer::create(config).expect("a client (it connects lazily)")
    }

    /// A client that never gets an acknowledgement (no broker there) and whose own timeout is
    /// far away: the wait still ends, at the producer's bound, as a timeout — the case of a
    /// client left without brokers, which reports nothing at all.
    #[test]
    fn a_delivery_never_confirmed_times_out_at_the_bound() {
        let mut producer = brokerless();
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

    /// A replaced client reports what it never delivered as failed (purged) to the batch
    /// waiting for it, which then sends it again — long before its own timeout.
    #[test]
    fn renewing_fails_what_the_old_client_did_not_deliver() {
        let producer = brokerless();
        let mut pending = Pending::default();
        let record = OutRecord {
            topic: "nowhere".into(),
            key: Some(b"k".to_vec()),
            payload: b"x".to_vec(),
            headers: vec![("h".into(), b"v".to_vec())],
        };
        producer
            .enqueue(&record, &mut pending)
            .expect("queued locally");
        assert_eq!(pending.len(), 1);
        let started = Instant::now();
        producer.renew().expect("a new client");
        // The failure can be reported before anyone waits: the batch must still say it has
        // something to wait for, or its caller would skip the wait and commit.
        while pending.tracker.state().outstanding > 0 {
            assert!(
                started.elapsed() < Duration::from_secs(30),
                "never reported"
            );
            std::thread::sleep(Duration::from_millis(10));
        }
        assert!(!pending.is_empty());
        assert_eq!(pending.len(), 1);
        let err = pending
            .wait()
            .expect_err("the old client never delivered it");
        assert!(!err.is_timed_out(), "{err}");
        assert!(err.to_string().contains("nowhere"), "{err}");
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "{:?}",
            started.elapsed()
        );
    }
}
