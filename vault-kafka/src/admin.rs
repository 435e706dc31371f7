//! Cluster administration: topics (the broker may not auto-create them), the live brokers, a
//! consumer group's committed offsets. `vault admin` runs these from the command line, and the
//! project's local stack runs `vault admin` for its own cluster.

use std::time::Duration;

use futures_executor::block_on;
use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::consumer::{BaseConsumer, CommitMode, Consumer};
use rdkafka::metadata::Metadata;
use rdkafka::types::RDKafkaErrorCode;
use rdkafka::{Offset, TopicPartitionList};

use crate::config::KafkaConfig;
use crate::error::KafkaError;
use crate::logs::ClientLogs;

/// How long one request of this module may take (the cluster's metadata, a commit).
const REQUEST_TIMEOUT: Duration = Duration::from_secs(15);

/// This module's clients, in the log lines.
const ADMIN: ClientLogs = ClientLogs { client: "admin" };

/// Creates the topics that do not exist yet, each with `partitions` partitions and the
/// cluster's `default.replication.factor` (3 on a managed cluster, 1 on a one-node stack).
pub fn ensure_topics(
    config: &KafkaConfig,
    topics: &[&str],
    partitions: i32,
) -> Result<(), KafkaError> {
    create_topics(config, topics, &TopicSettings::partitions(partitions)).map(drop)
}

/// How [`create_topics`] makes a topic.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TopicSettings {
    /// Its number of partitions.
    pub partitions: i32,
    /// Its replication factor; `None`: the cluster's `default.replication.factor`.
    pub replication: Option<i32>,
    /// Its `min.insync.replicas`; `None`: the cluster's.
    pub min_insync_replicas: Option<u32>,
}

impl TopicSettings {
    /// `partitions` partitions, the cluster's replication and `min.insync.replicas`.
    pub fn partitions(partitions: i32) -> Self {
        TopicSettings {
            partitions,
            replication: None,
            min_insync_replicas: None,
        }
    }
}

/// Creates the topics that do not exist yet with `settings`; returns the names of those it
/// created (a topic that exists is left as it is, whatever its settings).
pub fn create_topics(
    config: &KafkaConfig,
    topics: &[&str],
    settings: &TopicSettings,
) -> Result<Vec<String>, KafkaError> {
    let admin: AdminClient<ClientLogs> = config
        .client_config()
        .create_with_context(ADMIN)
        .map_err(KafkaError::Setup)?;
    let min_isr = settings.min_insync_replicas.map(|n| n.to_string());
    let new: Vec<NewTopic<'_>> = topics
        .iter()
        .map(|t| {
            let topic = NewTopic::new(
                t,
                settings.partitions,
                TopicReplication::Fixed(settings.replication.unwrap_or(-1)),
            );
            match &min_isr {
                Some(n) => topic.set("min.insync.replicas", n),
                None => topic,
            }
        })
        .collect();
    let options = AdminOptions::new().operation_timeout(Some(Duration::from_secs(10)));
    let results = block_on(admin.create_topics(&new, &options)).map_err(|e| KafkaError::Admin {
        context: "create topics".into(),
        message: e.to_string(),
    })?;
    let mut created = Vec::new();
    for result in results {
        match result {
            Ok(topic) => created.push(topic),
            Err((_, RDKafkaErrorCode::TopicAlreadyExists)) => {}
            Err((topic, code)) => {
                return Err(KafkaError::Admin {
                    context: format!("create topic {topic}"),
                    message: code.to_string(),
                })
            }
        }
    }
    Ok(created)
}

/// Deletes the topics (those that do not exist are skipped).
pub fn delete_topics(config: &KafkaConfig, topics: &[&str]) -> Result<(), KafkaError> {
    let admin: AdminClient<ClientLogs> = config
        .client_config()
        .create_with_context(ADMIN)
        .map_err(KafkaError::Setup)?;
    let options = AdminOptions::new().operation_timeout(Some(Duration::from_secs(10)));
    let results =
        block_on(admin.delete_topics(topics, &options)).map_err(|e| KafkaError::Admin {
            context: "delete topics".into(),
            message: e.to_string(),
        })?;
    for result in results {
        if let Err((topic, code)) = result {
            if code != RDKafkaErrorCode::UnknownTopicOrPartition {
                return Err(KafkaError::Admin {
                    context: format!("delete topic {topic}"),
                    message: code.to_string(),
                });
            }
        }
    }
    Ok(())
}

/// Kafka's default `max.message.bytes` of a topic (the broker's `message.max.bytes`).
pub const DEFAULT_MAX_MESSAGE_BYTES: usize = 1_048_588;

/// The largest record batch the broker accepts on `topic` (its `max.message.bytes`).
pub fn max_message_bytes(config: &KafkaConfig, topic: &str) -> Result<usize, KafkaError> {
    use rdkafka::admin::ResourceSpecifier;
    let admin: AdminClient<ClientLogs> = config
        .client_config()
        .create_with_context(ADMIN)
        .map_err(KafkaError::Setup)?;
    let options = AdminOptions::new().request_timeout(Some(Duration::from_secs(10)));
    let failed = |message: String| KafkaError::Admin {
        context: format!("describe the configuration of topic {topic}"),
        message,
    };
    let results = block_on(admin.describe_configs(&[ResourceSpecifier::Topic(topic)], &options))
        .map_err(|e| failed(e.to_string()))?;
    let resource = results
        .into_iter()
        .next()
        .ok_or_else(|| failed("no answer".into()))?
        .map_err(|code| failed(code.to_string()))?;
    let value = resource
        .get("max.message.bytes")
        .and_then(|entry| entry.value.as_deref())
        .ok_or_else(|| failed("no max.message.bytes".into()))?;
    value
        .parse()
        .map_err(|_| failed(format!("max.message.bytes = {value:?}")))
}

/// The cluster's metadata (every topic when `topic` is `None`).
fn metadata(config: &KafkaConfig, topic: Option<&str>) -> Result<Metadata, KafkaError> {
    let consumer: BaseConsumer<ClientLogs> = config
        .client_config()
        .create_with_context(ADMIN)
        .map_err(KafkaError::Setup)?;
    consumer
        .fetch_metadata(topic, REQUEST_TIMEOUT)
        .map_err(|e| KafkaError::Admin {
            context: match topic {
                Some(topic) => format!("describe topic {topic}"),
                None => "describe the cluster".into(),
            },
            message: e.to_string(),
        })
}

/// How many brokers the cluster reports as live (registered and not fenced).
pub fn live_brokers(config: &KafkaConfig) -> Result<usize, KafkaError> {
    Ok(metadata(config, None)?.brokers().len())
}

/// A topic as the cluster describes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TopicInfo {
    /// Its name.
    pub name: String,
    /// Its number of partitions.
    pub partitions: usize,
    /// The replicas of its first partition (0 when it has none).
    pub replication: usize,
}

/// The cluster's topics by name, without its internal ones (those whose names start with
/// `__`: `__consumer_offsets`, `__transaction_state`, …).
pub fn list_topics(config: &KafkaConfig) -> Result<Vec<TopicInfo>, KafkaError> {
    let metadata = metadata(config, None)?;
    let mut topics: Vec<TopicInfo> = metadata
        .topics()
        .iter()
        .filter(|t| !t.name().starts_with("__"))
        .map(|t| TopicInfo {
            name: t.name().to_owned(),
            partitions: t.partitions().len(),
            replication: t.partitions().first().map_or(0, |p| p.replicas().len()),
        })
        .collect();
    topics.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(topics)
}

/// Sets consumer group `group`'s committed offset on every partition of `topic` to `offset`, as
/// `kafka-consumer-groups --reset-offsets` does; returns the number of partitions. The group
/// must have no members: the offsets are committed by a client outside the group, which the
/// broker refuses while the group has a generation.
pub fn reset_offsets(
    config: &KafkaConfig,
    group: &str,
    topic: &str,
    offset: i64,
) -> Result<usize, KafkaError> {
    let failed = |message: String| KafkaError::Admin {
        context: format!("set the offsets of group {group} on {topic} to {offset}"),
        message,
    };
    let metadata = metadata(config, Some(topic))?;
    let described = metadata
        .topics()
        .iter()
        .find(|t| t.name() == topic)
        .ok_or_else(|| failed("the cluster does not describe the topic".into()))?;
    if let Some(error) = described.error() {
        return Err(failed(RDKafkaErrorCode::from(error).to_string()));
    }
    let mut offsets = TopicPartitionList::new();
    for partition in described.partitions() {
        offsets
            .add_partition_offset(topic, partition.id(), Offset::Offset(offset))
            .map_err(|e| failed(e.to_string()))?;
    }
    if offsets.count() == 0 {
        return Err(failed("the topic has no partitions".into()));
    }
    let consumer: BaseConsumer<ClientLogs> = config
        .client_config()
        .set("group.id", group)
        .set("enable.auto.commit", "false")
        .create_with_context(ADMIN)
        .map_err(KafkaError::Setup)?;
    consumer
        .commit(&offsets, CommitMode::Sync)
        .map_err(|e| failed(e.to_string()))?;
    Ok(offsets.count())
}
