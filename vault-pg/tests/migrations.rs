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
    let order = vault_core::orders::SourceOrder::from_json(message.as_bytes()).expect("valid");
    let payload = vault_core::orders::raw_payload(message.as_bytes()).expect("payload");
    let mut client = db.client();
    let mut tx = client.transaction().expect("begin");
    vault_pg::stg::upsert(&mut tx, &[vault_pg::stg::StgEvent::new(&order, payload)])
        .expect("upsert");
    tx.commit().expect("commit");
    let stored = vault_pg::stg::page(&mut *client, 0, 10).expect("page");
    assert_eq!(stored.len(), 1);
    assert_eq!(stored[0].parse().expect("parses"), order);
}

/// A warehouse of the previous release (migrations 1–5: satellites keyed by their hashdiff)
/// whose user went Анна → Борис, and an order with a status but no update_ts: migration 6 keeps
/// every row, Борис stays current, and the name that comes back later (Анна, from the
/// dictionary's time) is a third period and current.
#[test]
fn a_previous_release_warehouse_keeps_its_history_through_the_upgrade() {
    use vault_core::orders::{DvBatch, EnrichedOrder};
    use vault_core::KeySpec;
    let db = TestDb::empty("migrate_history");
    let mut client = at_version(&db, 5);
    // What the previous release wrote: Анна loaded at 10:00, Борис at 11:00; one status.
    let keys = KeySpec::SEED;
    let user = keys.hub("u-1");
    let (anna, boris) = (
        keys.hashdiff("u-1", &["Анна", "anna"]),
        keys.hashdiff("u-1", &["Борис", "boris"]),
    );
    client
        .batch_execute(&format!(
            "INSERT INTO dds.h_user VALUES ('{user}', 'u-1', '2024-05-01 09:00', 'orders-system-kafka');
             INSERT INTO dds.s_user_names VALUES
                 ('{anna}', '{user}', 'Анна', 'anna', '2024-05-01 10:00', 'orders-system-kafka'),
                 ('{boris}', '{user}', 'Борис', 'boris', '2024-05-01 11:00', 'orders-system-kafka');"
        ))
        .expect("the previous release's rows");
    let report = db.warehouse.migrate().expect("migrate");
    assert_eq!(report.applied, [6, 7, 8, 9, 10, 11]);

    let periods = |client: &mut vault_pg::PooledClient| -> Vec<(String, String, Option<String>)> {
        client
            .query(
                "SELECT username, valid_from::text, valid_to::text FROM dds.s_user_names_periods \
                 ORDER BY valid_from, load_dt",
                &[],
            )
            .expect("periods")
            .iter()
            .map(|r| (r.get(0), r.get(1), r.get(2)))
            .collect()
    };
    let current = |client: &mut vault_pg::PooledClient| -> String {
        client
            .query_one("SELECT username FROM dds.s_user_names_current", &[])
            .expect("current")
            .get(0)
    };
    assert_eq!(
        db.scalar("SELECT count(*) FROM dds.s_user_names"),
        2,
        "nothing lost"
    );
    assert_eq!(
        current(&mut client),
        "Борис",
        "the last load is current, as before"
    );
    assert_eq!(
        db.scalar(
            "SELECT count(*) FROM pg_constraint c JOIN pg_attribute a \
             ON a.attrelid = c.conrelid AND a.attnum = ANY (c.conkey) \
             WHERE c.conrelid = 'dds.s_user_names'::regclass AND c.contype = 'p'"
        ),
        2,
        "the primary key is (hk_user_names_pk, update_ts_utc)"
    );

    // The dictionary changes the name back at 12:00; an order carries it.
    let order: EnrichedOrder = serde_json::from_str(
        r#"{"object_id": 1, "object_type": "order", "payload": {"id": 1,
            "date": "2024-05-01 12:05:00", "update_ts": "2024-05-01 12:06:00",
            "cost": 10, "payment": 10, "status": "CLOSED",
            "restaurant": {"id": "r-1", "name": "Кофейня", "update_ts_utc": "2024-04-01 00:00:00"},
            "user": {"id": "u-1", "name": "Анна", "login": "anna", "update_ts_utc": "2024-05-01 12:00:00"},
            "products": []}}"#,
    )
    .expect("order");
    let mut batch = DvBatch::new(keys);
    batch.add(&order);
    let mut tx = client.transaction().expect("begin");
    vault_pg::dds::write(&mut tx, batch.rows()).expect("write");
    tx.commit().expect("commit");

    assert_eq!(
        periods(&mut client),
        [
            ("Анна".into(), "-infinity".into(), Some("-infinity".into())),
            (
                "Борис".into(),
                "-infinity".into(),
                Some("2024-05-01 12:00:00".into())
            ),
            ("Анна".into(), "2024-05-01 12:00:00".into(), None),
        ],
        "A → B (before the upgrade, in load order) → A (from the source's time)"
    );
    assert_eq!(current(&mut client), "Анна");
    let before: String = client
        .query_one(
            "SELECT username FROM dds.s_user_names_at('2024-05-01 11:59:59')",
            &[],
        )
        .expect("as of")
        .get(0);
    assert_eq!(before, "Борис");
    // The migration again changes nothing.
    assert!(db.warehouse.migrate().expect("again").applied.is_empty());
}

/// A loaded warehouse of the previous release (migrations 1–8) whose product p-1 was linked to
/// two categories (Выпечка loaded first, Супы later) and one restaurant: migration 9 gives every
/// existing link an active observation at -infinity, so the current category is the one loaded
/// last, as before; a menu change the source sends afterwards supersedes it, and the PIT table
/// starts empty.
#[test]
fn a_loaded_warehouse_gets_its_links_effectivity_through_the_upgrade() {
    use vault_core::orders::{DvBatch, EnrichedOrder};
    use vault_core::KeySpec;
    let db = TestDb::empty("migrate_effectivity");
    let mut client = at_version(&db, 8);
    let keys = KeySpec::SEED;
    let (product, restaurant) = (keys.hub("p-1"), keys.hub("r-1"));
    let (bakery, soups) = (keys.hub("Выпечка"), keys.hub("Супы"));
    let (l_bakery, l_soups) = (keys.link(&["p-1", "Выпечка"]), keys.link(&["p-1", "Супы"]));
    let l_restaurant = keys.link(&["p-1", "r-1"]);
    client
        .batch_execute(&format!(
            "INSERT INTO dds.h_product VALUES ('{product}', 'p-1', '2024-05-01 09:00', 'orders-system-kafka');
             INSERT INTO dds.h_restaurant VALUES ('{restaurant}', 'r-1', '2024-05-01 09:00', 'orders-system-kafka');
             INSERT INTO dds.h_category VALUES
                 ('{bakery}', 'Выпечка', '2024-05-01 09:00', 'orders-system-kafka'),
                 ('{soups}', 'Супы', '2024-05-02 09:00', 'orders-system-kafka');
             INSERT INTO dds.l_product_category VALUES
                 ('{l_bakery}', '{bakery}', '{product}', '2024-05-01 09:00', 'orders-system-kafka'),
                 ('{l_soups}', '{soups}', '{product}', '2024-05-02 09:00', 'orders-system-kafka');
             INSERT INTO dds.l_product_restaurant VALUES
                 ('{l_restaurant}', '{restaurant}', '{product}', '2024-05-01 09:00', 'orders-system-kafka');"
        ))
        .expect("the previous release's rows");
    let report = db.warehouse.migrate().expect("migrate");
    assert_eq!(report.applied, [9, 10, 11]);
    assert_eq!(db.scalar("SELECT count(*) FROM dds.es_product_category"), 2);
    assert_eq!(
        db.scalar("SELECT count(*) FROM dds.es_product_restaurant"),
        1
    );
    assert_eq!(db.scalar("SELECT count(*) FROM dds.pit_order"), 0);
    let current = |client: &mut vault_pg::PooledClient| -> String {
        client
            .query_one(
                "SELECT c.category_name FROM dds.es_product_category_current e \
                 JOIN dds.l_product_category l USING (hk_product_category_pk) \
                 JOIN dds.h_category c USING (h_category_pk)",
                &[],
            )
            .expect("one current category")
            .get(0)
    };
    assert_eq!(
        current(&mut client),
        "Супы",
        "the link loaded last, as before"
    );

    // The menu puts p-1 back into Выпечка at 2024-05-03 10:00.
    let order: EnrichedOrder = serde_json::from_str(
        r#"{"object_id": 1, "object_type": "order", "payload": {"id": 1,
            "date": "2024-05-03 12:05:00", "update_ts": "2024-05-03 12:06:00",
            "cost": 10, "payment": 10, "status": "CLOSED",
            "restaurant": {"id": "r-1", "name": "Кофейня", "update_ts_utc": "2024-05-03 10:00:00"},
            "user": {"id": "u-1", "name": "Анна", "login": "anna", "update_ts_utc": "2024-05-01 12:00:00"},
            "products": [{"id": "p-1", "price": 10, "quantity": 1, "name": "Пирог", "category": "Выпечка"}]}}"#,
    )
    .expect("order");
    let mut batch = DvBatch::new(keys);
    batch.add(&order);
    let mut tx = client.transaction().expect("begin");
    vault_pg::dds::write(&mut tx, batch.rows()).expect("write");
    tx.commit().expect("commit");
    assert_eq!(current(&mut client), "Выпечка");
    assert_eq!(
        db.scalar("SELECT count(*) FROM dds.es_product_category_periods"),
        3,
        "Выпечка, then Супы (both from before, in load order), then Выпечка again"
    );
    assert!(db.warehouse.migrate().expect("again").applied.is_empty());
}

/// A loaded warehouse of the release before (migrations 1–9) whose CDM has applied the reports
/// of most orders but not all: migration 10 gives each ledger entry its date, cost and dishes from the
/// Data Vault and builds the daily mart from the ledger, so that the orders still on their way
/// are counted once, when their reports arrive; then `vault check` is exact.
#[test]
fn migration_10_backfills_the_daily_mart_of_a_loaded_warehouse() {
    use vault_core::orders::vault_batch;
    use vault_core::{KeySpec, Timestamp};
    let db = TestDb::empty("migrate_days");
    let mut client = at_version(&db, 9);
    let versions = common::enriched_histories(91, 80, 0.3);
    let sent = Timestamp::parse("2024-02-01 00:00:00").expect("timestamp");
    let (batch, reports) = vault_batch(KeySpec::SEED, &versions, sent);
    let mut tx = client.transaction().expect("begin");
    vault_pg::dds::write(&mut tx, batch.rows()).expect("the Data Vault");
    tx.commit().expect("commit");
    client
        .batch_execute(include_str!("fixtures/cdm_before_daily_mart.sql"))
        .expect("the previous release's ledger and counters");
    let ledgered = db.scalar("SELECT count(*) FROM cdm.order_ledger");
    assert!(ledgered > 30, "{ledgered} ledger entries");

    let report = db.warehouse.migrate().expect("migrate");
    assert_eq!(report.applied, [10, 11]);
    assert_eq!(
        db.scalar("SELECT count(*) FROM cdm.order_ledger WHERE status = 'CLOSED' AND (cost IS NULL OR order_dt IS NULL)"),
        0
    );
    // The mart holds exactly what the ledger has counted: each closed entry once per category.
    assert!(db.scalar("SELECT count(*) FROM cdm.restaurant_category_days") > 0);
    assert_eq!(
        db.scalar("SELECT coalesce(sum(order_cnt), 0) FROM cdm.restaurant_category_days"),
        db.scalar(
            "SELECT coalesce(sum(cardinality(category_ids)), 0) FROM cdm.order_ledger \
             WHERE status = 'CLOSED'"
        )
    );
    assert_eq!(
        db.scalar(
            "SELECT (coalesce(sum(cost), 0) * 100)::bigint FROM cdm.restaurant_category_days"
        ),
        db.scalar(
            "SELECT (coalesce(sum(cost * cardinality(category_ids)), 0) * 100)::bigint \
             FROM cdm.order_ledger WHERE status = 'CLOSED'"
        )
    );
    assert_eq!(
        db.scalar("SELECT coalesce(sum(item_cnt), 0) FROM cdm.restaurant_category_days"),
        db.scalar(
            "SELECT coalesce(sum(cardinality(product_ids)), 0) FROM cdm.order_ledger \
             WHERE status = 'CLOSED'"
        )
    );

    // Every report arrives (again, for most): the lagging orders are counted, the others not
    // twice.
    for chunk in reports.chunks(40) {
        let mut tx = client.transaction().expect("begin");
        vault_pg::cdm::apply(&mut tx, chunk).expect("cdm apply");
        tx.commit().expect("commit");
    }
    let mismatches = vault_pg::check::cdm_mismatches(&mut *client).expect("check");
    assert!(mismatches.is_empty(), "{mismatches:?}");
    assert!(db.warehouse.migrate().expect("again").applied.is_empty());
}

/// A loaded warehouse of the release before (migrations 1–10) whose PIT and bridge were
/// refreshed: migration 11 shows their snapshots to analysts through schema `bi`, the values
/// those of the as-of functions at each snapshot time.
#[test]
fn migration_11_shows_a_loaded_warehouses_snapshots_through_bi() {
    use vault_core::orders::vault_batch;
    use vault_core::{KeySpec, Timestamp};
    let db = TestDb::empty("migrate_snapshots");
    let mut client = at_version(&db, 10);
    let versions = common::enriched_histories(111, 60, 0.3);
    let sent = Timestamp::parse("2024-02-01 00:00:00").expect("timestamp");
    let (batch, _) = vault_batch(KeySpec::SEED, &versions, sent);
    let mut tx = client.transaction().expect("begin");
    vault_pg::dds::write(&mut tx, batch.rows()).expect("the Data Vault");
    tx.commit().expect("commit");
    // Two snapshots: mid-history, and after it.
    for as_of in ["2024-01-01 10:30", "2100-01-01"] {
        client
            .batch_execute(&format!(
                "SELECT dds.pit_order_refresh('{as_of}'); \
                 SELECT dds.b_order_category_refresh('{as_of}');"
            ))
            .expect("refresh");
    }

    let report = db.warehouse.migrate().expect("migrate");
    assert_eq!(report.applied, [11]);
    assert_eq!(
        db.scalar("SELECT count(*) FROM bi.order_snapshots"),
        db.scalar("SELECT count(*) FROM dds.pit_order")
    );
    let at = |as_of: &str| {
        db.scalar(&format!(
            "SELECT count(*) FROM bi.order_snapshots WHERE as_of = '{as_of}'"
        ))
    };
    let (mid, end) = (at("2024-01-01 10:30"), at("2100-01-01"));
    assert!(
        0 < mid && mid < end,
        "{mid} orders mid-history, {end} after"
    );
    // At each snapshot, the status the as-of function gives.
    for as_of in ["2024-01-01 10:30", "2100-01-01"] {
        let differ = db.scalar(&format!(
            "SELECT count(*) \
             FROM (SELECT * FROM bi.order_snapshots WHERE as_of = '{as_of}') b \
             FULL JOIN dds.s_order_status_at('{as_of}') s ON s.h_order_pk = b.order_key \
             WHERE b.order_key IS NULL OR s.h_order_pk IS NULL \
                OR b.status IS DISTINCT FROM s.status"
        ));
        assert_eq!(differ, 0, "{as_of}");
    }
    assert_eq!(
        db.scalar("SELECT count(*) FROM bi.order_dish_categories"),
        db.scalar("SELECT count(*) FROM dds.b_order_category")
    );
    assert!(db.warehouse.migrate().expect("again").applied.is_empty());
}

/// A connection to `db` after the migrations up to `version` were applied and recorded as
/// `vault migrate` does: a warehouse of an earlier release, to load and then upgrade.
fn at_version(db: &TestDb, version: i32) -> vault_pg::PooledClient {
    let mut client = db.client();
    client
        .batch_execute(include_str!("../sql/migrate/bootstrap.sql"))
        .expect("bootstrap");
    for m in MIGRATIONS.iter().filter(|m| m.version <= version) {
        client.batch_execute(m.sql).expect("an earlier migration");
        client
            .execute(
                include_str!("../sql/migrate/record.sql"),
                &[&m.version, &m.name, &m.checksum()],
            )
            .expect("record");
    }
    client
}
