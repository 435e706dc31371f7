//! Dead letters: the original bytes and key, plus headers saying why and where from.

use chrono::{SecondsFormat, Utc};

use crate::consumer::InMessage;
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
