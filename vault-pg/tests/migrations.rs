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
