//! Migrations on a real PostgreSQL: fresh database, re-run, two concurrent runs.

mod common;

use std::thread;

use common::TestDb;
use vault_pg::migrate::MIGRATIONS;

#[test]
fn fresh_database_then_rerun_is_a_no_op() {
    let db = TestDb::empty("migrate");
    let all: Vec<i32> = MIGRATIONS.iter().map(|m| m.version).collect();

    let first = db.warehouse.migrate().expect("first run");
    assert_eq!(first.applied, all);
    assert!(first.already_applied.is_empty());
    for table in [
        "stg.order_events",
        "dds.h_order",
        "dds.s_order_status",
        "cdm.order_ledger",
        "cdm.user_product_counters",
    ] {
        assert_eq!(
            db.scalar(&format!("SELECT count(*) FROM {table}")),
            0,
            "{table} exists"
        );
    }

    let second = db.warehouse.migrate().expect("second run");
    assert!(second.applied.is_empty());
    assert_eq!(second.already_applied, all);
    assert_eq!(
        db.scalar("SELECT count(*) FROM vault.schema_migrations"),
        all.len() as i64
    );
}

#[test]
fn concurrent_runs_apply_once_and_both_succeed() {
    let db = TestDb::empty("migrate_race");
    let runs: Vec<_> = (0..3)
        .map(|_| {
            let warehouse = db.warehouse.clone();
            thread::spawn(move || warehouse.migrate())
        })
        .collect();
    let reports: Vec<_> = runs
        .into_iter()
        .map(|h| {
            h.join()
                .expect("thread")
                .expect("every concurrent run succeeds")
        })
        .collect();
    let applied: usize = reports.iter().map(|r| r.applied.len()).sum();
    assert_eq!(
        applied,
        MIGRATIONS.len(),
        "each migration applied by exactly one run"
    );
    assert_eq!(
        db.scalar("SELECT count(*) FROM vault.schema_migrations"),
        MIGRATIONS.len() as i64
    );
}

#[test]
fn an_edited_migration_is_refused() {
    let db = TestDb::new("migrate_edit");
    db.client()
        .execute(
            "UPDATE vault.schema_migrations SET checksum = 'x' WHERE version = 1",
            &[],
        )
        .expect("tamper");
    let err = db.warehouse.migrate().expect_err("checksum mismatch");
    assert!(
        err.to_string().contains("migration 1 (init) was edited"),
        "{err}"
    );
    assert!(!err.is_retryable());
}

#[test]
fn a_warehouse_of_the_original_services_is_upgraded_in_place() {
    let db = TestDb::empty("migrate_original");
    // The raw layer as the original STG service created it: int ids, no update_ts, no load_dt.
    db.client()
        .batch_execute(
            "CREATE SCHEMA stg;
             CREATE TABLE stg.order_events (
                 id serial PRIMARY KEY, object_id int NOT NULL UNIQUE,
                 object_type varchar NOT NULL, sent_dttm timestamp NOT NULL, payload json NOT NULL);
             INSERT INTO stg.order_events (object_id, object_type, sent_dttm, payload)
             VALUES (322519, 'order', '2022-11-19 16:07:00', '{\"old\": true}');",
        )
        .expect("original schema");
    db.warehouse
        .migrate()
        .expect("migrations apply over the original tables");

    // The STG writer works on the upgraded table and replaces the row the original loaded.
    let message = r#"{"object_id": 322519, "object_type": "order", "sent_dttm": "2022-11-19 16:07:00",
      "payload": {"restaurant": {"id": "r1"}, "date": "2022-11-19 16:06:36", "user": {"id": "u1"},
      "order_items": [], "cost": 300, "payment": 300, "final_status": "CLOSED",
      "update_ts": "2022-11-19 16:06:36"}}"#;
    let order = vault_core::SourceOrder::from_json(message.as_bytes()).expect("valid");
    let payload = vault_core::raw_payload(message.as_bytes()).expect("payload");
    let mut client = db.client();
    let mut tx = client.transaction().expect("begin");
    vault_pg::stg::upsert(&mut tx, &[vault_pg::stg::StgEvent::new(&order, payload)])
        .expect("upsert");
    tx.commit().expect("commit");
    let stored = vault_pg::stg::page(&mut *client, 0, 10).expect("page");
    assert_eq!(stored.len(), 1);
    assert_eq!(stored[0].parse().expect("parses"), order);
}
