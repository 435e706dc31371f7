//! The raw layer: `stg.order_events`, one row per order, the newest version wins.

use std::collections::HashMap;

use chrono::NaiveDateTime;
use postgres::{GenericClient, Transaction};
use vault_core::orders::SourceOrder;
use vault_core::pipeline::MessageError;
use vault_core::Timestamp;

use crate::error::{Context, PgError};

/// One raw order to keep: the parsed envelope and the payload exactly as it was sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StgEvent<'a> {
    /// The order id.
    pub object_id: i64,
    /// `order`.
    pub object_type: &'a str,
    /// When the source sent it.
    pub sent_dttm: Timestamp,
    /// Orders versions of one order.
    pub update_ts: Timestamp,
    /// The `payload` object as sent (JSON text).
    pub payload: &'a str,
}

impl<'a> StgEvent<'a> {
    /// The event of a parsed order whose raw payload text is `payload`
    /// (see [`vault_core::orders::model::raw_payload`]).
    pub fn new(order: &'a SourceOrder, payload: &'a str) -> Self {
        StgEvent {
            object_id: order.object_id,
            object_type: &order.object_type,
            sent_dttm: order.sent_dttm,
            update_ts: order.payload.update_ts,
            payload,
        }
    }
}

/// Upserts a batch; within the batch the newest version of each order is kept (the last one of
/// equal versions). Returns the number of rows inserted or updated.
pub fn upsert(tx: &mut Transaction<'_>, events: &[StgEvent<'_>]) -> Result<u64, PgError> {
    let mut newest: HashMap<i64, &StgEvent<'_>> = HashMap::with_capacity(events.len());
    for event in events {
        newest
            .entry(event.object_id)
            .and_modify(|kept| {
                if kept.update_ts <= event.update_ts {
                    *kept = event;
                }
            })
            .or_insert(event);
    }
    if newest.is_empty() {
        return Ok(0);
    }
    let mut batch: Vec<&StgEvent<'_>> = newest.into_values().collect();
    batch.sort_by_key(|e| e.object_id); // a stable lock order between concurrent writers
    let ids: Vec<i64> = batch.iter().map(|e| e.object_id).collect();
    let types: Vec<&str> = batch.iter().map(|e| e.object_type).collect();
    let sent: Vec<NaiveDateTime> = batch.iter().map(|e| e.sent_dttm.naive()).collect();
    let payloads: Vec<&str> = batch.iter().map(|e| e.payload).collect();
    let versions: Vec<NaiveDateTime> = batch.iter().map(|e| e.update_ts.naive()).collect();
    tx.execute(
        include_str!("../sql/stg/upsert.sql"),
        &[&ids, &types, &sent, &payloads, &versions],
    )
    .context("upsert stg.order_events")
}

/// A raw order read back from `stg.order_events`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredOrder {
    /// The order id.
    pub object_id: i64,
    /// `order`.
    pub object_type: String,
    /// When the source sent it.
    pub sent_dttm: NaiveDateTime,
    /// The payload as stored (the text that was sent).
    pub payload: String,
}

impl StoredOrder {
    /// The source message (contract §2) this row was loaded from.
    pub fn to_message(&self) -> Vec<u8> {
        let object_type =
            serde_json::to_string(&self.object_type).unwrap_or_else(|_| "\"\"".to_owned());
        format!(
            r#"{{"object_id":{},"object_type":{},"sent_dttm":"{}","payload":{}}}"#,
            self.object_id,
            object_type,
            Timestamp::new(self.sent_dttm),
            self.payload
        )
        .into_bytes()
    }

    /// The order, parsed again exactly as the STG service parsed it.
    pub fn parse(&self) -> Result<SourceOrder, MessageError> {
        SourceOrder::from_json(&self.to_message())
    }
}

/// Up to `limit` raw orders with `object_id > after`, in `object_id` order.
pub fn page(
    client: &mut impl GenericClient,
    after: i64,
    limit: i64,
) -> Result<Vec<StoredOrder>, PgError> {
    let rows = client
        .query(include_str!("../sql/stg/page.sql"), &[&after, &limit])
        .context("read stg.order_events")?;
    rows.iter()
        .map(|row| {
            let get = "read stg.order_events";
            Ok(StoredOrder {
                object_id: row.try_get(0).context(get)?,
                object_type: row.try_get(1).context(get)?,
                sent_dttm: row.try_get(2).context(get)?,
                payload: row.try_get(3).context(get)?,
            })
        })
        .collect()
}

/// How many raw orders there are.
pub fn count(client: &mut impl GenericClient) -> Result<i64, PgError> {
    let row = client
        .query_one(include_str!("../sql/stg/count.sql"), &[])
        .context("count stg")?;
    row.try_get(0).context("count stg")
}
