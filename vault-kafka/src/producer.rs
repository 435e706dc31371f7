//! The idempotent producer (`acks=all`), used for downstream messages and dead letters alike.

use std::time::Duration;

use futures_executor::block_on;
use rdkafka::message::{Header, OwnedHeaders};
use rdkafka::producer::{FutureProducer, FutureRecord, Producer as _};

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
#[derive(Clone)]
pub struct Producer {
    inner: FutureProducer,
}

impl std::fmt::Debug for Producer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Producer")
    }
}

impl Producer {
    /// A producer with [`KafkaConfig::producer_config`].
    pub fn new(config: &KafkaConfig) -> Result<Self, KafkaError> {
        let inner: FutureProducer = config
            .producer_config()
            .create()
            .map_err(KafkaError::Setup)?;
        Ok(Producer { inner })
    }

    /// Sends every record and returns once all are acknowledged (or the first failure).
    pub fn send_all(&self, records: &[OutRecord]) -> Result<(), KafkaError> {
        let mut pending = Vec::with_capacity(records.len());
        for record in records {
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
            // The local queue may be full: let deliveries drain, then try again.
            loop {
                match self.inner.send_result(future_record) {
                    Ok(delivery) => {
                        pending.push((record.topic.as_str(), delivery));
                        break;
                    }
                    Err((
                        rdkafka::error::KafkaError::MessageProduction(
                            rdkafka::types::RDKafkaErrorCode::QueueFull,
                        ),
                        back,
                    )) => {
                        future_record = back;
                        self.inner.poll(Duration::from_millis(10));
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
        for (topic, delivery) in pending {
            match block_on(delivery) {
                Ok(Ok(_)) => {}
                Ok(Err((source, _))) => {
                    return Err(KafkaError::Produce {
                        topic: topic.to_owned(),
                        source,
                    })
                }
                Err(_canceled) => {
                    return Err(KafkaError::Produce {
                        topic: topic.to_owned(),
                        source: rdkafka::error::KafkaError::Canceled,
                    })
                }
            }
        }
        Ok(())
    }

    /// Waits for anything still queued (at shutdown).
    pub fn flush(&self, timeout: Duration) -> Result<(), KafkaError> {
        self.inner
            .flush(timeout)
            .map_err(|source| KafkaError::Produce {
                topic: "*".into(),
                source,
            })
    }
}
