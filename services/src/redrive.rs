//! Re-driving dead letters: after a fix (a dictionary caught up, a bug fixed), move the messages
//! of a dead-letter topic back to the topic each came from, with the same key and bytes. A
//! message that still cannot be processed is dead-lettered again by its service, with the reason
//! of the day. Re-driving twice is harmless: every stage is idempotent.

use std::time::{Duration, Instant};

use vault_kafka::deadletter::redrive;
use vault_kafka::{positions, BatchConsumer, KafkaConfig, KafkaError, Producer};

/// What a re-drive did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct RedriveSummary {
    /// Messages moved back to their source topic.
    pub redriven: usize,
    /// Messages without origin headers (not written by vault): left where they are, listed here
    /// as `partition/offset` for an operator to look at.
    pub unroutable: Vec<String>,
}

/// Consumes the dead-letter topic `config.source_topic` in group `config.group` until it has been
/// idle for `idle`, re-driving every message; offsets are committed after the re-driven
/// messages are acknowledged.
pub fn run(config: &KafkaConfig, idle: Duration) -> Result<RedriveSummary, KafkaError> {
    let mut consumer = BatchConsumer::new(config)?;
    let producer = Producer::new(config)?;
    let mut summary = RedriveSummary::default();
    let mut last_message = Instant::now();
    loop {
        let batch = consumer.poll_batch(500, Duration::from_millis(500));
        if batch.is_empty() {
            if last_message.elapsed() >= idle {
                if let Some(error) = consumer.recent_error(idle) {
                    return Err(KafkaError::Unavailable(error.to_owned()));
                }
                break;
            }
            continue;
        }
        last_message = Instant::now();
        let mut records = Vec::with_capacity(batch.len());
        for dead in &batch {
            match redrive(dead) {
                Some(record) => records.push(record),
                None => summary
                    .unroutable
                    .push(format!("{}/{}", dead.partition, dead.offset)),
            }
        }
        producer.send_all(&records)?;
        summary.redriven += records.len();
        consumer.commit(&positions(&batch))?;
    }
    consumer.close(Duration::from_secs(5));
    Ok(summary)
}
