//! The STG writer on a real PostgreSQL: one row per order, newest version wins, payload kept
//! byte for byte, and read back exactly as it was parsed.

mod common;

use common::TestDb;
use vault_core::orders::sample::{Catalog, Rng};
use vault_core::orders::{raw_payload, SourceOrder};
use vault_core::Timestamp;
use vault_pg::stg::{self, StgEvent};

#[test]
fn newest_version_wins_whatever_the_arrival_order() {
    let db = TestDb::new("stg");
    let mut rng = Rng::new(42);
    let catalog = Catalog::generate(&mut rng, 3, 20);
    let start = Timestamp::parse("2024-03-01 12:00:00").expect("ts");
    let mut messages: Vec<Vec<u8>> = Vec::new();
    for i in 0..50 {
        for version in catalog.order_history(&mut rng, 500 + i, start, 0.5) {
            messages.push(serde_json::to_vec(&version).expect("serialize"));
        }
    }
    // Oldest last: every stale version arrives after the newest.
    messages.reverse();
    let orders: Vec<SourceOrder> = messages
        .iter()
        .map(|m| SourceOrder::from_json(m).expect("valid"))
        .collect();
    let events: Vec<StgEvent<'_>> = orders
        .iter()
        .zip(&messages)
        .map(|(o, m)| StgEvent::new(o, raw_payload(m).expect("payload")))
        .collect();
    let mut client = db.client();
    for chunk in events.chunks(17) {
        let mut tx = client.transaction().expect("begin");
        stg::upsert(&mut tx, chunk).expect("upsert");
        tx.commit().expect("commit");
    }
    assert_eq!(stg::count(&mut *client).expect("count"), 50);

    let stored = stg::page(&mut *client, 0, 1000).expect("page");
    assert_eq!(stored.len(), 50);
    for row in &stored {
        let newest = orders
            .iter()
            .filter(|o| o.object_id == row.object_id)
            .max_by_key(|o| o.payload.update_ts)
            .expect("some version");
        assert_eq!(&row.parse().expect("stored order parses"), newest);
    }
    // Keyset pagination covers everything once.
    let first = stg::page(&mut *client, 0, 20).expect("page 1");
    let second = stg::page(&mut *client, first[19].object_id, 1000).expect("page 2");
    assert_eq!(first.len() + second.len(), 50);
}

#[test]
fn payload_text_is_kept_exactly() {
    let db = TestDb::new("stg_raw");
    // Decimal forms that JSON normalisation (jsonb) would change: the keys depend on them.
    let message = r#"{"object_id": 77, "object_type": "order", "sent_dttm": "2023-04-08 20:27:36",
      "payload": {"restaurant": {"id": "r1"}, "date": "2023-04-01 20:45:43", "user": {"id": "u1"},
      "order_items": [{"id": "i1", "name": "Рис с лимоном", "price": 1E2, "quantity": 5}],
      "bonus_payment": 0, "cost": 875.0, "payment": 1e16, "bonus_grant": 0, "statuses": [],
      "final_status": "CLOSED", "update_ts": "2023-04-01 20:45:43", "extra": {"kept": true}}}"#;
    let order = SourceOrder::from_json(message.as_bytes()).expect("valid");
    let payload = raw_payload(message.as_bytes()).expect("payload");
    let mut client = db.client();
    let mut tx = client.transaction().expect("begin");
    stg::upsert(&mut tx, &[StgEvent::new(&order, payload)]).expect("upsert");
    tx.commit().expect("commit");
    let stored = stg::page(&mut *client, 0, 10).expect("page");
    assert_eq!(stored[0].payload, payload);
    let again = stored[0].parse().expect("parses");
    assert_eq!(again.payload.cost.as_str(), "875.0");
    assert_eq!(again.payload.payment.as_str(), "1e+16");
    assert_eq!(again, order);
}
