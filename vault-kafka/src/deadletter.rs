//! Dead letters: the original bytes and key, plus headers saying why and where from.

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use chrono::{SecondsFormat, Utc};
use rdkafka::consumer::{BaseConsumer, Consumer as _};
use rdkafka::{Offset, TopicPartitionList};
use sha2::{Digest, Sha256};

use crate::config::KafkaConfig;
use crate::consumer::InMessage;
use crate::error::KafkaError;
use crate::logs::ClientLogs;
use crate::producer::OutRecord;

/// Header: the reason code (`invalid_json`, `unknown_user`, …).
pub const REASON: &str = "vault.reason";
/// Header: a human-readable description (field path and what is wrong).
pub const DETAIL: &str = "vault.detail";
/// Header: the topic the message came from.
pub const SOURCE_TOPIC: &str = "vault.source.topic";
/// Header: its partition.
pub const SOURCE_PARTITION: &str = "vault.source.partition";
/// Header: its offset.
pub const SOURCE_OFFSET: &str = "vault.source.offset";
/// Header: the service that refused it.
pub const SERVICE: &str = "vault.service";
/// Header: when it was dead-lettered (RFC 3339, UTC).
pub const TIME: &str = "vault.time";
/// Header set by `vault redrive` on the re-driven message: the dead-letter offset it came from.
pub const REDRIVEN_FROM: &str = "vault.redriven_from";
/// Header of a dead letter whose value (or key) was cut to fit the topic: `true`.
pub const TRUNCATED: &str = "vault.truncated";
/// Header of a truncated dead letter: the size of the original value in bytes.
pub const ORIGINAL_SIZE: &str = "vault.original.size";
/// Header of a truncated dead letter: SHA-256 of the original value, lower-case hex.
pub const ORIGINAL_SHA256: &str = "vault.original.sha256";
/// Header of a dead letter whose key was cut: the size of the original key in bytes.
pub const ORIGINAL_KEY_SIZE: &str = "vault.original.key.size";

/// Room kept in a record batch for the framing of one record (batch header, record header,
/// varints).
const FRAMING: usize = 512;
/// A key longer than this is cut when the record must be shortened.
const KEY_KEPT: usize = 1024;

/// `record` as it fits into one record batch of at most `limit` bytes (the topic's
/// `max.message.bytes`): unchanged when it fits; otherwise its value becomes a prefix of the
/// original bytes (and an oversized key a prefix of the key), with headers that say so and
/// carry the full size and a SHA-256 of the original value. A dead letter is always writable
/// (contract §7.2).
pub fn fit(mut record: OutRecord, limit: usize) -> OutRecord {
    let size_of = |record: &OutRecord| {
        record.payload.len()
            + record.key.as_ref().map_or(0, Vec::len)
            + record
                .headers
                .iter()
                .map(|(k, v)| k.len() + v.len() + 8)
                .sum::<usize>()
            + FRAMING
    };
    if size_of(&record) <= limit {
        return record;
    }
    let original = record.payload.len();
    let digest: String = Sha256::digest(&record.payload)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    if let Some(key) = record.key.as_mut().filter(|k| k.len() > KEY_KEPT) {
        let key_size = key.len();
        key.truncate(KEY_KEPT);
        record.headers.push((
            ORIGINAL_KEY_SIZE.to_owned(),
            key_size.to_string().into_bytes(),
        ));
    }
    record.headers.extend([
        (TRUNCATED.to_owned(), b"true".to_vec()),
        (ORIGINAL_SIZE.to_owned(), original.to_string().into_bytes()),
        (ORIGINAL_SHA256.to_owned(), digest.into_bytes()),
    ]);
    let mut payload = std::mem::take(&mut record.payload);
    payload.truncate(limit.saturating_sub(size_of(&record)));
    record.payload = payload;
    record
}

/// The dead-letter record of `original` for `dlq_topic`.
pub fn dead_letter(
    original: &InMessage,
    dlq_topic: &str,
    service: &str,
    reason: &str,
    detail: &str,
) -> OutRecord {
    let mut headers = original.headers.clone();
    headers.retain(|(name, _)| !name.starts_with("vault."));
    headers.extend([
        (REASON.to_owned(), reason.as_bytes().to_vec()),
        (
            DETAIL.to_owned(),
            detail.chars().take(2000).collect::<String>().into_bytes(),
        ),
        (SOURCE_TOPIC.to_owned(), original.topic.as_bytes().to_vec()),
        (
            SOURCE_PARTITION.to_owned(),
            original.partition.to_string().into_bytes(),
        ),
        (
            SOURCE_OFFSET.to_owned(),
            original.offset.to_string().into_bytes(),
        ),
        (SERVICE.to_owned(), service.as_bytes().to_vec()),
        (
            TIME.to_owned(),
            Utc::now()
                .to_rfc3339_opts(SecondsFormat::Millis, true)
                .into_bytes(),
        ),
    ]);
    OutRecord {
        topic: dlq_topic.to_owned(),
        key: original.key.clone(),
        payload: original.payload.clone(),
        headers,
    }
}

/// Where a dead letter came from: source topic, partition, offset.
pub type Origin = (String, i32, i64);

/// The origin a dead letter of `service` names in its headers.
pub fn origin(dead: &InMessage, service: &str) -> Option<Origin> {
    if dead.header(SERVICE)? != service.as_bytes() {
        return None;
    }
    let text = |name: &str| {
        std::str::from_utf8(dead.header(name)?)
            .ok()
            .map(str::to_owned)
    };
    Some((
        text(SOURCE_TOPIC)?,
        text(SOURCE_PARTITION)?.parse().ok()?,
        text(SOURCE_OFFSET)?.parse().ok()?,
    ))
}

/// Which of `wanted` are on `dlq_topic` already as dead letters of `service`: the topic is read
/// from `from` (an offset per partition, by partition number; 0 for a partition not listed) to
/// its end as of now, within `timeout`. Used before delivering dead letters that a crashed or
/// failed delivery may have produced already, so that none is produced twice.
pub fn already_on_topic(
    config: &KafkaConfig,
    dlq_topic: &str,
    from: &[i64],
    service: &str,
    wanted: &BTreeSet<Origin>,
    timeout: Duration,
) -> Result<BTreeSet<Origin>, KafkaError> {
    let mut found = BTreeSet::new();
    if wanted.is_empty() {
        return Ok(found);
    }
    let consumer: BaseConsumer<ClientLogs> = config
        .client_config()
        .set("group.id", format!("{}.dead-letter-search", config.group))
        .set("enable.auto.commit", "false")
        .set("enable.partition.eof", "false")
        .create_with_context(ClientLogs {
            client: "dead-letter-search",
        })
        .map_err(KafkaError::Setup)?;
    let failed = |message: String| KafkaError::Admin {
        context: format!("search {dlq_topic} for dead letters delivered before"),
        message,
    };
    let metadata = consumer
        .fetch_metadata(Some(dlq_topic), timeout)
        .map_err(|e| failed(e.to_string()))?;
    let partitions = metadata
        .topics()
        .iter()
        .find(|t| t.name() == dlq_topic)
        .map_or(0, |t| t.partitions().len()) as i32;
    let mut list = TopicPartitionList::new();
    let mut ends = std::collections::BTreeMap::new();
    for partition in 0..partitions {
        let (low, high) = consumer
            .fetch_watermarks(dlq_topic, partition, timeout)
            .map_err(|e| failed(format!("partition {partition}: {e}")))?;
        let start = from.get(partition as usize).copied().unwrap_or(0).max(low);
        if high > start {
            list.add_partition_offset(dlq_topic, partition, Offset::Offset(start))
                .map_err(|e| failed(e.to_string()))?;
            ends.insert(partition, high);
        }
    }
    if ends.is_empty() {
        return Ok(found);
    }
    consumer.assign(&list).map_err(|e| failed(e.to_string()))?;
    let deadline = Instant::now() + timeout;
    while !ends.is_empty() {
        if Instant::now() >= deadline {
            return Err(failed(format!(
                "not read to the end within {timeout:?} (partitions left: {:?})",
                ends.keys().collect::<Vec<_>>()
            )));
        }
        let message = match consumer.poll(Duration::from_millis(200)) {
            None => continue,
            Some(Err(e)) => return Err(failed(e.to_string())),
            Some(Ok(message)) => InMessage::from_message(&message),
        };
        let Some(&end) = ends.get(&message.partition) else {
            continue;
        };
        if message.offset + 1 >= end {
            ends.remove(&message.partition);
        }
        if message.offset >= end {
            continue;
        }
        if let Some(at) = origin(&message, service).filter(|o| wanted.contains(o)) {
            found.insert(at);
        }
    }
    Ok(found)
}

/// The record that puts a dead letter back on its source topic (same key and bytes), or `None`
/// when the dead letter does not say where it came from.
pub fn redrive(dead: &InMessage) -> Option<OutRecord> {
    let topic = String::from_utf8(dead.header(SOURCE_TOPIC)?.to_vec()).ok()?;
    let mut headers: Vec<(String, Vec<u8>)> = dead
        .headers
        .iter()
        .filter(|(n, _)| !n.starts_with("vault."))
        .cloned()
        .collect();
    headers.push((
        REDRIVEN_FROM.to_owned(),
        format!("{}/{}/{}", dead.topic, dead.partition, dead.offset).into_bytes(),
    ));
    Some(OutRecord {
        topic,
        key: dead.key.clone(),
        payload: dead.payload.clone(),
        headers,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn message() -> InMessage {
        InMessage {
            topic: "order-service_orders".into(),
            partition: 3,
            offset: 42,
            key: Some(b"1371198".to_vec()),
            payload: b"{not json".to_vec(),
            headers: vec![("trace".into(), b"abc".to_vec())],
            timestamp_ms: None,
        }
    }

    #[test]
    fn keeps_the_original_and_says_why_and_where() {
        let record = dead_letter(
            &message(),
            "order-service_orders.dlq",
            "stg-service",
            "invalid_json",
            "line 1",
        );
        assert_eq!(record.topic, "order-service_orders.dlq");
        assert_eq!(record.payload, b"{not json");
        assert_eq!(record.key.as_deref(), Some(&b"1371198"[..]));
        let header = |n: &str| {
            record
                .headers
                .iter()
                .find(|(k, _)| k == n)
                .map(|(_, v)| v.clone())
        };
        assert_eq!(header(REASON).as_deref(), Some(&b"invalid_json"[..]));
        assert_eq!(header(SOURCE_PARTITION).as_deref(), Some(&b"3"[..]));
        assert_eq!(header(SOURCE_OFFSET).as_deref(), Some(&b"42"[..]));
        assert_eq!(header("trace").as_deref(), Some(&b"abc"[..]));
        assert!(header(TIME).is_some());
    }

    #[test]
    fn a_dead_letter_too_large_for_the_topic_is_cut_with_its_size_and_checksum() {
        let mut big = message();
        big.payload = vec![b'x'; 1_200_000];
        big.key = Some(vec![b'k'; 5000]);
        let limit = 1_048_588;
        let record = fit(
            dead_letter(&big, "dlq", "stg-service", "oversize", "big"),
            limit,
        );
        let header = |n: &str| {
            record
                .headers
                .iter()
                .find(|(k, _)| k == n)
                .map(|(_, v)| String::from_utf8_lossy(v).into_owned())
        };
        assert_eq!(header(TRUNCATED).as_deref(), Some("true"));
        assert_eq!(header(ORIGINAL_SIZE).as_deref(), Some("1200000"));
        assert_eq!(header(ORIGINAL_KEY_SIZE).as_deref(), Some("5000"));
        let sha = header(ORIGINAL_SHA256).expect("checksum");
        assert_eq!(sha.len(), 64);
        let expected: String = Sha256::digest(&big.payload)
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        assert_eq!(sha, expected);
        assert!(record.payload.len() > 1_000_000 && record.payload.len() < limit);
        assert!(big.payload.starts_with(&record.payload));
        let total = record.payload.len()
            + record.key.as_ref().map_or(0, Vec::len)
            + record
                .headers
                .iter()
                .map(|(k, v)| k.len() + v.len() + 8)
                .sum::<usize>();
        assert!(total + FRAMING <= limit, "{total}");
        // One that fits is left alone.
        let small = dead_letter(&message(), "dlq", "stg-service", "invalid_json", "x");
        assert_eq!(fit(small.clone(), limit), small);
    }

    #[test]
    fn redrive_goes_back_to_the_source_topic() {
        let record = dead_letter(&message(), "dlq", "stg-service", "unknown_user", "u1");
        let dead = InMessage {
            topic: "dlq".into(),
            partition: 0,
            offset: 7,
            key: record.key.clone(),
            payload: record.payload.clone(),
            headers: record.headers.clone(),
            timestamp_ms: None,
        };
        let back = redrive(&dead).expect("has a source");
        assert_eq!(back.topic, "order-service_orders");
        assert_eq!(back.payload, b"{not json");
        assert!(back
            .headers
            .iter()
            .all(|(n, _)| n == "trace" || n == REDRIVEN_FROM));
    }
}
