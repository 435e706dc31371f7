//! Topic administration (the broker may not auto-create topics).

use std::time::Duration;

use futures_executor::block_on;
use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::types::RDKafkaErrorCode;

use crate::config::KafkaConfig;
use crate::error::KafkaError;

/// Creates the topics that do not exist yet, each with `partitions` partitions and the
/// cluster's `default.replication.factor` (3 on a managed cluster, 1 on a one-node stack).
pub fn ensure_topics(
    config: &KafkaConfig,
    topics: &[&str],
    partitions: i32,
) -> Result<(), KafkaError> {
    let admin: AdminClient<DefaultClientContext> =
        config.client_config().create().map_err(KafkaError::Setup)?;
    let new: Vec<NewTopic<'_>> = topics
        .iter()
        .map(|t| NewTopic::new(t, partitions, TopicReplication::Fixed(-1)))
        .collect();
    let options = AdminOptions::new().operation_timeout(Some(Duration::from_secs(10)));
    let results = block_on(admin.create_topics(&new, &options)).map_err(|e| KafkaError::Admin {
        context: "create topics".into(),
        message: e.to_string(),
    })?;
    for result in results {
        if let Err((topic, code)) = result {
            if code != RDKafkaErrorCode::TopicAlreadyExists {
                return Err(KafkaError::Admin {
                    context: format!("create topic {topic}"),
                    message: code.to_string(),
                });
            }
        }
    }
    Ok(())
}

/// Deletes the topics (those that do not exist are skipped).
pub fn delete_topics(config: &KafkaConfig, topics: &[&str]) -> Result<(), KafkaError> {
    let admin: AdminClient<DefaultClientContext> =
        config.client_config().create().map_err(KafkaError::Setup)?;
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
    let admin: AdminClient<DefaultClientContext> =
        config.client_config().create().map_err(KafkaError::Setup)?;
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
