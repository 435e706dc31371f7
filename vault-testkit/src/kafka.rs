//! The broker the tests talk to, a test's topics, and what they read back from them.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::message::Message;
use rdkafka::{ClientConfig, Offset, TopicPartitionList};
use vault_kafka::{KafkaConfig, KafkaConnection, Security};

use crate::{require_env, unique};

/// Partitions of every topic of a test.
pub const PARTITIONS: i32 = 4;

/// A Kafka cluster the tests talk to: the local stack's (`KAFKA_HOST`/`KAFKA_PORT` of the
/// environment), or one a test started for itself ([`crate::stack::KafkaStack`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Broker {
    /// `KAFKA_HOST` as the services get it (one host, or a comma-separated list).
    pub host: String,
    /// `KAFKA_PORT`.
    pub port: u16,
    /// How the test's own clients connect: plaintext, or SASL_SSL with the environment's
    /// `KAFKA_CONSUMER_USERNAME`/`KAFKA_CONSUMER_PASSWORD`/`KAFKA_CA_FILE` (the stack's TLS
    /// profile, whose admin user they are).
    pub security: Security,
}

impl Broker {
    /// The local stack's broker, from the environment `scripts/test` exports.
    pub fn local() -> Self {
        let port = require_env("KAFKA_PORT");
        let security = match std::env::var("KAFKA_CONSUMER_USERNAME") {
            Ok(username) if !username.is_empty() => Security::SaslSsl {
                username,
                password: require_env("KAFKA_CONSUMER_PASSWORD"),
                ca_file: require_env("KAFKA_CA_FILE"),
            },
            _ => Security::Plaintext,
        };
        Broker {
            host: require_env("KAFKA_HOST"),
            port: port
                .parse()
                .unwrap_or_else(|e| panic!("KAFKA_PORT={port}: {e}")),
            security,
        }
    }

    /// `bootstrap.servers`: every host with its port.
    pub fn bootstrap(&self) -> String {
        vault_kafka::config::bootstrap_servers(&self.host, self.port)
            .unwrap_or_else(|e| panic!("KAFKA_HOST={}: {e}", self.host))
    }

    /// Plaintext client settings for this broker.
    pub fn kafka_config(
        &self,
        group: &str,
        source: &str,
        destination: Option<&str>,
    ) -> KafkaConfig {
        let connection = KafkaConnection {
            bootstrap: self.bootstrap(),
            security: self.security.clone(),
            extra: Vec::new(),
        };
        let config = connection.build(group, source);
        match destination {
            Some(topic) => config.with_destination_topic(topic),
            None => config,
        }
    }
}

/// The default dead-letter topic of a source topic (docs/contract.md §7.2).
pub fn dlq(topic: &str) -> String {
    vault_kafka::config::default_dlq_topic(topic)
}

// ---------------------------------------------------------------------------------------------
// topics

/// The six topics of one test (source, stg→dds, dds→cdm and their `.dlq`), 4 partitions each,
/// deleted when the value goes out of scope.
#[derive(Debug)]
pub struct Topics {
    /// The source system's topic (`order-service_orders`).
    pub source: String,
    /// STG → DDS (`stg-service-orders`).
    pub stg: String,
    /// DDS → CDM (`dds-service-orders`).
    pub dds: String,
    broker: Broker,
}

impl Topics {
    /// Creates them through `vault_kafka::admin::ensure_topics`.
    pub fn create(tag: &str, broker: &Broker) -> Self {
        let base = unique(&format!("e2e_{tag}"));
        let topics = Topics {
            source: format!("{base}.orders"),
            stg: format!("{base}.stg"),
            dds: format!("{base}.dds"),
            broker: broker.clone(),
        };
        let all = topics.all();
        let names: Vec<&str> = all.iter().map(String::as_str).collect();
        let config = broker.kafka_config("e2e-admin", &topics.source, None);
        vault_kafka::admin::ensure_topics(&config, &names, PARTITIONS)
            .unwrap_or_else(|e| panic!("create topics {names:?}: {e}"));
        // The broker may take a moment until every partition has a leader.
        let deadline = Instant::now() + Duration::from_secs(30);
        for topic in &all {
            loop {
                match broker.total_messages(topic) {
                    Ok(_) => break,
                    Err(e) if Instant::now() > deadline => {
                        panic!("topic {topic} not usable after creation: {e}")
                    }
                    Err(_) => std::thread::sleep(Duration::from_millis(200)),
                }
            }
        }
        topics
    }

    /// All six names.
    pub fn all(&self) -> Vec<String> {
        vec![
            self.source.clone(),
            self.stg.clone(),
            self.dds.clone(),
            dlq(&self.source),
            dlq(&self.stg),
            dlq(&self.dds),
        ]
    }
}

impl Drop for Topics {
    fn drop(&mut self) {
        let all = self.all();
        let names: Vec<&str> = all.iter().map(String::as_str).collect();
        let config = self.broker.kafka_config("e2e-admin", &self.source, None);
        if let Err(e) = vault_kafka::admin::delete_topics(&config, &names) {
            eprintln!("could not delete the test topics {names:?}: {e}");
        }
    }
}

/// A message read back from a topic.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    /// Partition.
    pub partition: i32,
    /// Offset.
    pub offset: i64,
    /// Key.
    pub key: Option<Vec<u8>>,
    /// Value.
    pub payload: Vec<u8>,
    /// Headers.
    pub headers: Vec<(String, Vec<u8>)>,
}

impl Record {
    /// A header's value as text.
    pub fn header(&self, name: &str) -> Option<String> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| String::from_utf8_lossy(v).into_owned())
    }
}

impl Broker {
    /// Client settings for this cluster, security included.
    pub fn client_config(&self) -> ClientConfig {
        self.kafka_config("e2e-client", "unused", None)
            .client_config()
    }

    fn reader(&self) -> Result<BaseConsumer, String> {
        self.client_config()
            .set("group.id", unique("e2e_reader"))
            .set("enable.auto.commit", "false")
            .set("enable.auto.offset.store", "false")
            .set("enable.partition.eof", "false")
            .set("auto.offset.reset", "earliest")
            .create()
            .map_err(|e| format!("reader: {e}"))
    }

    /// How many messages `topic` holds (Σ high − low watermark over its partitions).
    pub fn total_messages(&self, topic: &str) -> Result<i64, String> {
        let consumer = self.reader()?;
        Ok(watermarks(&consumer, topic)?
            .iter()
            .map(|(low, high)| high - low)
            .sum())
    }

    /// Messages of `topic` that consumer group `group` has not committed yet (Σ over partitions of
    /// high watermark − committed offset; a partition without commit counts from its low mark).
    /// Asks the group coordinator only (OffsetFetch): the group itself is not joined.
    pub fn uncommitted(&self, group: &str, topic: &str) -> Result<i64, String> {
        let consumer: BaseConsumer = self
            .client_config()
            .set("group.id", group)
            .set("enable.auto.commit", "false")
            .create()
            .map_err(|e| format!("offsets reader: {e}"))?;
        let marks = watermarks(&consumer, topic)?;
        let mut list = TopicPartitionList::new();
        for partition in 0..PARTITIONS {
            list.add_partition(topic, partition);
        }
        let committed = consumer
            .committed_offsets(list, Duration::from_secs(10))
            .map_err(|e| format!("committed offsets of {group} on {topic}: {e}"))?;
        let mut behind = 0;
        for (partition, &(low, high)) in (0..PARTITIONS).zip(&marks) {
            let at = match committed
                .find_partition(topic, partition)
                .map(|e| e.offset())
            {
                Some(Offset::Offset(offset)) => offset,
                _ => low,
            };
            behind += (high - at).max(0);
        }
        Ok(behind)
    }

    /// Every message of `topic` up to its current end, read with a fresh group (no commits).
    pub fn read_topic(&self, topic: &str) -> Vec<Record> {
        let consumer = self.reader().unwrap_or_else(|e| panic!("{e}"));
        let marks = watermarks(&consumer, topic).unwrap_or_else(|e| panic!("{e}"));
        let mut list = TopicPartitionList::new();
        let mut pending: BTreeMap<i32, i64> = BTreeMap::new();
        for (partition, &(low, high)) in (0..PARTITIONS).zip(&marks) {
            if high > low {
                list.add_partition_offset(topic, partition, Offset::Offset(low))
                    .expect("partition offset");
                pending.insert(partition, high);
            }
        }
        let mut records = Vec::new();
        if pending.is_empty() {
            return records;
        }
        consumer.assign(&list).expect("assign partitions");
        let deadline = Instant::now() + Duration::from_secs(60);
        while !pending.is_empty() {
            assert!(
                Instant::now() < deadline,
                "reading {topic} to its end timed out; still to read: {pending:?} (read {})",
                records.len()
            );
            let Some(result) = consumer.poll(Duration::from_millis(200)) else {
                continue;
            };
            // A broker of the cluster being down is reported as an error, not the end: the
            // client goes on with the others (the deadline above bounds the wait).
            let message = match result {
                Ok(message) => message,
                Err(e) => {
                    eprintln!("reading {topic}: {e} (going on)");
                    continue;
                }
            };
            let partition = message.partition();
            let Some(&high) = pending.get(&partition) else {
                continue;
            };
            if message.offset() >= high {
                pending.remove(&partition);
                continue;
            }
            let m = vault_kafka::InMessage::from_message(&message);
            records.push(Record {
                partition: m.partition,
                offset: m.offset,
                key: m.key,
                payload: m.payload,
                headers: m.headers,
            });
            if message.offset() + 1 >= high {
                pending.remove(&partition);
            }
        }
        records
    }
}

fn watermarks(consumer: &BaseConsumer, topic: &str) -> Result<Vec<(i64, i64)>, String> {
    (0..PARTITIONS)
        .map(|p| {
            consumer
                .fetch_watermarks(topic, p, Duration::from_secs(10))
                .map_err(|e| format!("watermarks of {topic}/{p}: {e}"))
        })
        .collect()
}
