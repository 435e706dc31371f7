//! The lag of a whole consumer group on its source topic, as the broker sees it: per partition,
//! the high watermark minus the group's committed offset (the log start when it has none),
//! summed. Every replica reports it, the idle ones too — the figure a lag-based autoscaler
//! (KEDA's Kafka scaler) and the "lag, but nobody reads" alert look at. A replica's own
//! `consumer_lag` only covers the partitions it owns.

use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::{Offset, TopicPartitionList};

use crate::config::KafkaConfig;
use crate::error::KafkaError;
use crate::logs::ClientLogs;

/// The probe's client, in the log lines.
const LAG_PROBE: ClientLogs = ClientLogs {
    client: "group-lag",
};

/// A broker request of the probe waits this long at most.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(5);

/// The group's lag, refreshed by a background thread, which stops when this is dropped;
/// `None` until the first reading, and again when the broker could not be asked.
#[derive(Debug)]
pub struct GroupLag {
    value: Arc<AtomicI64>,
    stop: Arc<AtomicBool>,
}

impl GroupLag {
    /// Starts the probe: one metadata request, one watermark request per partition and one
    /// offset fetch every `every`. It reads the group's committed offsets only; it never joins
    /// the group.
    pub fn spawn(config: &KafkaConfig, every: Duration) -> Result<Self, KafkaError> {
        let mut client = config.client_config();
        // Not consumer_config(): no group.instance.id, no subscription, no assignment strategy.
        client
            .set("group.id", &config.group)
            .set("enable.auto.commit", "false");
        let mut consumer: BaseConsumer<ClientLogs> = client
            .create_with_context(LAG_PROBE)
            .map_err(KafkaError::Setup)?;
        let lag = GroupLag {
            value: Arc::new(AtomicI64::new(-1)),
            stop: Arc::new(AtomicBool::new(false)),
        };
        let (value, stop) = (Arc::clone(&lag.value), Arc::clone(&lag.stop));
        let topic = config.source_topic.clone();
        std::thread::Builder::new()
            .name("group-lag".into())
            .spawn(move || {
                let mut failures = 0;
                while !stop.load(Ordering::Relaxed) {
                    let reading = group_lag(&consumer, &topic);
                    // Serve its queue: librdkafka's log lines and errors wait there (rdkafka
                    // sets log.queue) and would pile up while brokers are away. Not
                    // subscribed, it holds no message.
                    let _ = consumer.poll(Duration::ZERO);
                    value.store(reading.unwrap_or(-1), Ordering::Relaxed);
                    failures = if reading.is_some() { 0 } else { failures + 1 };
                    // A client can be left without any broker after an outage (librdkafka
                    // 2.12): after a few failed readings, start a new one.
                    if failures >= 3 {
                        if let Ok(fresh) = client.create_with_context(LAG_PROBE) {
                            consumer = fresh;
                            failures = 0;
                        }
                    }
                    let mut slept = Duration::ZERO;
                    while slept < every && !stop.load(Ordering::Relaxed) {
                        std::thread::sleep(Duration::from_millis(200));
                        slept += Duration::from_millis(200);
                    }
                }
            })
            .map_err(|e| KafkaError::Admin {
                context: "start the group lag probe".into(),
                message: e.to_string(),
            })?;
        Ok(lag)
    }

    /// The last reading, if there is one.
    pub fn get(&self) -> Option<i64> {
        Some(self.value.load(Ordering::Relaxed)).filter(|v| *v >= 0)
    }
}

impl Drop for GroupLag {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

/// One reading; `None` when the broker could not be asked.
fn group_lag(consumer: &BaseConsumer<ClientLogs>, topic: &str) -> Option<i64> {
    let metadata = consumer.fetch_metadata(Some(topic), REQUEST_TIMEOUT).ok()?;
    let partitions: Vec<i32> = metadata
        .topics()
        .iter()
        .find(|t| t.name() == topic && t.error().is_none())?
        .partitions()
        .iter()
        .map(|p| p.id())
        .collect();
    if partitions.is_empty() {
        return None;
    }
    let mut list = TopicPartitionList::new();
    for &p in &partitions {
        list.add_partition(topic, p);
    }
    let committed = consumer.committed_offsets(list, REQUEST_TIMEOUT).ok()?;
    let mut total = 0i64;
    for &p in &partitions {
        let (low, high) = consumer.fetch_watermarks(topic, p, REQUEST_TIMEOUT).ok()?;
        let from = match committed.find_partition(topic, p).map(|e| e.offset()) {
            Some(Offset::Offset(o)) => o.clamp(low, high),
            _ => low,
        };
        total += high - from;
    }
    Some(total)
}
