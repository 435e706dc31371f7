//! The switch from the original Python services (docs/contract.md §8), as a user makes it: a
//! warehouse created and loaded by the original services, `vault migrate`, then the new DDS and
//! CDM services on the same data, re-reading the old orders and new ones.
//!
//! The original warehouse is built here the way their code built it: their DDL to the letter
//! (`sql/original_schema.sql`), one row per statement with `ON CONFLICT DO NOTHING`, `load_dt`
//! from the loader's clock, `userlogin` = the user's name, counters incremented once per message.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::process::Command;
use std::time::Duration;

use postgres::types::ToSql;
use serde_json::Value;
use vault_core::orders::sample::Rng;
use vault_core::orders::{order_report, DvBatch, EnrichedOrder, SourceOrder, LOAD_SRC};
use vault_core::{Column, DvRow, KeySpec, RowVisitor, TableKind, Timestamp};
use vault_kafka::{OutRecord, Producer};

use common::Scenario;
use vault_testkit::kafka::Broker;
use vault_testkit::pipeline::{Kind, Pipeline};
use vault_testkit::{require_servers, seed, TestDb};

/// An order id above 2^31 − 1: the original `integer` column could not hold it.
const BIG_ORDER_ID: i64 = 3_000_000_000;

/// Inserts every row of `orders` the way the original DDS service did: one statement per row,
/// `ON CONFLICT DO NOTHING`, `load_dt` from this process's clock; columns the original tables do
/// not have (the satellites' effective times) and its tables the original did not have (the
/// effectivity satellites) are left out.
struct OriginalLoader<'c> {
    client: &'c mut postgres::Client,
}

impl RowVisitor for OriginalLoader<'_> {
    fn table<R: DvRow>(&mut self, rows: &[R]) {
        if R::DEF.kind == TableKind::Effectivity {
            return;
        }
        for row in rows {
            let mut columns: Vec<&str> = Vec::new();
            let mut casts: Vec<&str> = Vec::new();
            let mut values: Vec<Box<dyn ToSql + Sync>> = Vec::new();
            let mut names = R::COLUMNS.iter();
            row.visit_columns(&mut |value| {
                let Some(&name) = names.next() else { return };
                if Some(name) == R::DEF.effective {
                    return;
                }
                columns.push(name);
                let (cast, boxed): (&str, Box<dyn ToSql + Sync>) = match value {
                    Column::Uuid(v) => ("uuid", Box::new(v)),
                    Column::BigInt(v) => ("bigint", Box::new(v)),
                    Column::Timestamp(v) => ("timestamp", Box::new(v.naive())),
                    Column::Numeric(v) => ("text::numeric", Box::new(v.into_owned())),
                    // The order model has nothing else: text (names, ids, statuses).
                    other => ("text", Box::new(other.material().into_owned())),
                };
                casts.push(cast);
                values.push(boxed);
            });
            let placeholders: Vec<String> = casts
                .iter()
                .enumerate()
                .map(|(i, cast)| format!("${}::{cast}", i + 1))
                .collect();
            let sql = format!(
                "INSERT INTO dds.{} ({}, load_dt, load_src) VALUES ({}, ${}, ${}) ON CONFLICT DO NOTHING",
                R::TABLE,
                columns.join(", "),
                placeholders.join(", "),
                values.len() + 1,
                values.len() + 2,
            );
            let load_dt = chrono::Utc::now().naive_utc();
            let mut params: Vec<&(dyn ToSql + Sync)> = values.iter().map(|v| v.as_ref()).collect();
            params.push(&load_dt);
            params.push(&LOAD_SRC);
            self.client
                .execute(&sql, &params)
                .unwrap_or_else(|e| panic!("original insert into dds.{}: {e}", R::TABLE));
        }
    }
}

/// The enriched order as the original STG service published it (no `login`, no `update_ts`).
fn as_original(order: &EnrichedOrder) -> EnrichedOrder {
    let mut old = order.clone();
    old.payload.user.login = None;
    old
}

/// Loads `versions` (in arrival order) into the original warehouse as the original services did.
fn load_like_the_original(
    db: &TestDb,
    catalog: &vault_core::orders::sample::Catalog,
    versions: &[SourceOrder],
) {
    let mut client = db.client();
    let sent = Timestamp::parse("2024-09-30 23:59:00").expect("timestamp");
    for order in versions {
        // STG: the raw payload, one row per order, the last arrival kept.
        let message: Value = serde_json::to_value(order).expect("order JSON");
        client
            .execute(
                "INSERT INTO stg.order_events (object_id, object_type, sent_dttm, payload) \
                 VALUES ($1::bigint, $2, $3, $4::text::json) ON CONFLICT (object_id) DO UPDATE \
                 SET object_type = EXCLUDED.object_type, sent_dttm = EXCLUDED.sent_dttm, \
                 payload = EXCLUDED.payload",
                &[
                    &order.object_id,
                    &order.object_type,
                    &order.sent_dttm.naive(),
                    &message["payload"].to_string(),
                ],
            )
            .expect("original stg insert");
        let enriched = catalog.enrich(order).expect("the catalog knows every id");
        let original = as_original(&enriched);
        // DDS: one row per statement.
        let mut batch = DvBatch::new(KeySpec::SEED);
        let keys = batch.add(&original);
        batch.rows().visit(&mut OriginalLoader {
            client: &mut client,
        });
        // CDM: +1 per pair for every CLOSED message (duplicates included).
        let report = order_report(&original, &keys, sent);
        if report.payload.status.as_str() != "CLOSED" {
            continue;
        }
        let user = report.payload.user.id;
        let restaurant = &report.payload.restaurant;
        for product in &report.payload.products {
            client
                .execute(
                    "INSERT INTO cdm.user_product_counters (user_id, product_id, product_name, order_cnt) \
                     VALUES ($1, $2, $3, 1) ON CONFLICT (user_id, product_id) DO UPDATE \
                     SET order_cnt = cdm.user_product_counters.order_cnt + 1",
                    &[&user, &product.id, &product.name],
                )
                .expect("original counter");
            client
                .execute(
                    "INSERT INTO cdm.user_category_counters (user_id, category_id, category_name, order_cnt) \
                     VALUES ($1, $2, $3, 1) ON CONFLICT (user_id, category_id) DO UPDATE \
                     SET order_cnt = cdm.user_category_counters.order_cnt + 1",
                    &[&user, &product.category.id, &product.category.name],
                )
                .expect("original counter");
            client
                .execute(
                    "INSERT INTO cdm.restaurant_category_counters (restaurant_id, category_id, restaurant_name, category_name, order_cnt) \
                     VALUES ($1, $2, $3, $4, 1) ON CONFLICT (restaurant_id, category_id) DO UPDATE \
                     SET order_cnt = cdm.restaurant_category_counters.order_cnt + 1",
                    &[&restaurant.id, &product.category.id, &restaurant.name, &product.category.name],
                )
                .expect("original counter");
        }
    }
}

fn column_type(db: &TestDb, schema: &str, table: &str, column: &str) -> String {
    db.client()
        .query_one(
            "SELECT data_type FROM information_schema.columns \
             WHERE table_schema = $1 AND table_name = $2 AND column_name = $3",
            &[&schema, &table, &column],
        )
        .and_then(|row| row.try_get(0))
        .unwrap_or_else(|e| panic!("type of {schema}.{table}.{column}: {e}"))
}

#[test]
fn upgrade_a_warehouse_of_the_original_services() {
    require_servers();
    let mut rng = Rng::new(seed());
    let scenario = Scenario::generate(&mut rng, 150, 40);
    let versions: Vec<SourceOrder> = scenario.batches.iter().flatten().cloned().collect();
    let db = TestDb::empty("upgrade");
    db.client()
        .batch_execute(include_str!("sql/original_schema.sql"))
        .expect("the original DDL");
    load_like_the_original(&db, &scenario.catalog, &versions);
    let seed_rows: BTreeSet<String> = db
        .dds(true)
        .iter()
        .map(|(table, row)| format!("{table} {row}"))
        .collect();
    let inflated: i64 = db
        .client()
        .query_one(
            "SELECT coalesce(sum(order_cnt), 0)::bigint FROM cdm.user_product_counters",
            &[],
        )
        .and_then(|r| r.try_get(0))
        .expect("sum");
    eprintln!(
        "original warehouse: {} DDS rows, {} versions, counters summing to {inflated}",
        seed_rows.len(),
        versions.len()
    );

    // The upgrade, as a user runs it.
    let output = Command::new(env!("CARGO_BIN_EXE_vault"))
        .arg("migrate")
        .env("PG_WAREHOUSE_DBNAME", &db.name)
        .output()
        .expect("run vault migrate");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "vault migrate failed on the original warehouse:\n{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(
        stdout.contains("adopted a warehouse of the original services"),
        "{stdout}"
    );
    eprintln!("vault migrate:\n{stdout}");
    assert_eq!(column_type(&db, "dds", "h_order", "order_id"), "bigint");
    assert_eq!(
        column_type(&db, "stg", "order_events", "object_id"),
        "bigint"
    );
    let rebuilt: i64 = db
        .client()
        .query_one(
            "SELECT coalesce(sum(order_cnt), 0)::bigint FROM cdm.user_product_counters",
            &[],
        )
        .and_then(|r| r.try_get(0))
        .expect("sum");
    assert!(
        rebuilt < inflated,
        "the original counters count every message ({inflated}); rebuilt from the Data Vault \
         they must be lower ({rebuilt})"
    );
    let after_migrate = db.mismatches();
    assert!(
        after_migrate.is_empty(),
        "vault check right after the upgrade: {} mismatches, e.g. {:?}",
        after_migrate.len(),
        after_migrate.first()
    );
    // Running it again changes nothing.
    let again = Command::new(env!("CARGO_BIN_EXE_vault"))
        .arg("migrate")
        .env("PG_WAREHOUSE_DBNAME", &db.name)
        .output()
        .expect("run vault migrate");
    assert!(again.status.success());
    assert!(String::from_utf8_lossy(&again.stdout).contains("nothing to apply"));

    // The new services on the same warehouse: the same orders again (now with logins, as the
    // new STG publishes them), and new ones, one of them with an id above 2^31.
    let placed = Timestamp::parse("2024-10-02 09:00:00").expect("timestamp");
    let mut fresh: Vec<SourceOrder> = Vec::new();
    for id in [5_000_000, 5_000_001, BIG_ORDER_ID] {
        fresh.extend(scenario.catalog.order_history(&mut rng, id, placed, 0.0));
    }
    let replayed: Vec<EnrichedOrder> = versions
        .iter()
        .chain(&fresh)
        .map(|o| scenario.catalog.enrich(o).expect("known ids"))
        .collect();
    let mut p = Pipeline::on_database("upgrade", Broker::local(), db);
    let dds = p.spawn(Kind::Dds);
    let cdm = p.spawn(Kind::Cdm);
    p.wait_ready(&[dds, cdm], Duration::from_secs(60));
    let producer = Producer::new(&p.broker.kafka_config("e2e-producer", &p.topics.stg, None))
        .expect("producer");
    // One order the original warehouse cannot take: its cost overflows the original
    // `decimal(19, 5)`. DDS dead-letters it (`rejected_by_warehouse`, found by retrying its
    // batch message by message) and nothing of it reaches CDM.
    let mut refused = replayed
        .iter()
        .find(|o| o.object_id == 5_000_001)
        .cloned()
        .expect("order 5000001");
    refused.object_id = 5_000_002;
    refused.payload.id = 5_000_002;
    refused.payload.cost = vault_core::Amount::from_i64(10_i64.pow(15));
    let mut replayed = replayed;
    replayed.push(refused);
    let records: Vec<OutRecord> = replayed
        .iter()
        .map(|o| OutRecord {
            topic: p.topics.stg.clone(),
            key: Some(o.object_id.to_string().into_bytes()),
            payload: o.to_json().expect("JSON"),
            headers: Vec::new(),
        })
        .collect();
    producer
        .send_all(&records)
        .expect("produce the enriched orders");

    let all_ids: BTreeSet<i64> = versions.iter().chain(&fresh).map(|o| o.object_id).collect();
    let latest: BTreeMap<i64, String> = {
        let mut latest: BTreeMap<i64, &SourceOrder> = BTreeMap::new();
        for o in versions.iter().chain(&fresh) {
            if latest
                .get(&o.object_id)
                .is_none_or(|kept| kept.payload.update_ts <= o.payload.update_ts)
            {
                latest.insert(o.object_id, o);
            }
        }
        latest
            .into_iter()
            .map(|(id, o)| (id, o.payload.final_status.as_str().to_owned()))
            .collect()
    };
    // Users the original services loaded whose login differs from their name: the original
    // stored their name as userlogin; now their current userlogin is the login.
    let original_users: BTreeSet<&str> = versions
        .iter()
        .map(|o| o.payload.user.id.as_str())
        .collect();
    let users_with_login: BTreeSet<String> = replayed
        .iter()
        .filter(|o| original_users.contains(o.payload.user.id.as_str()))
        .filter(|o| {
            o.payload
                .user
                .login
                .as_deref()
                .is_some_and(|l| l != o.payload.user.name)
        })
        .map(|o| o.payload.user.id.clone())
        .collect();
    p.settle("the upgraded warehouse, loaded again", |p| {
        let refused = p
            .broker
            .read_topic(&vault_testkit::kafka::dlq(&p.topics.stg));
        let reasons: Vec<String> = refused
            .iter()
            .map(|r| r.header("vault.reason").unwrap_or_default())
            .collect();
        if reasons != ["rejected_by_warehouse"] {
            return Err(format!(
                "dead letters of DDS: {reasons:?}, expected one rejected_by_warehouse"
            ));
        }
        let mut client = p.db.client();
        let ids: BTreeSet<i64> = client
            .query("SELECT order_id FROM dds.h_order", &[])
            .map_err(|e| e.to_string())?
            .iter()
            .map(|r| r.try_get::<_, i64>(0).map_err(|e| e.to_string()))
            .collect::<Result<_, _>>()?;
        if ids != all_ids {
            return Err(format!(
                "dds.h_order has {} orders, expected {} ({} missing, e.g. {:?})",
                ids.len(),
                all_ids.len(),
                all_ids.difference(&ids).count(),
                all_ids.difference(&ids).next()
            ));
        }
        let ledger: i64 = client
            .query_one("SELECT count(*) FROM cdm.order_ledger", &[])
            .and_then(|r| r.try_get(0))
            .map_err(|e| e.to_string())?;
        if ledger != all_ids.len() as i64 {
            return Err(format!(
                "cdm.order_ledger holds {ledger} orders, expected {}",
                all_ids.len()
            ));
        }
        let mismatches = p.db.mismatches();
        if !mismatches.is_empty() {
            return Err(format!(
                "{} counter mismatches, e.g. {:?}",
                mismatches.len(),
                mismatches[0]
            ));
        }
        Ok(())
    });

    // No seed row changed or vanished: each kept its columns, and gained its satellite's
    // effective time as -infinity (no source time is known of it).
    let now: BTreeSet<String> =
        p.db.dds(true)
            .into_iter()
            .map(|(table, mut row)| {
                if let Value::Object(map) = &mut row {
                    map.retain(|column, value| {
                        !(matches!(column.as_str(), "update_ts" | "update_ts_utc")
                            && value == "-infinity")
                    });
                }
                format!("{table} {row}")
            })
            .collect();
    let changed: Vec<&String> = seed_rows.iter().filter(|row| !now.contains(*row)).collect();
    assert!(
        changed.is_empty(),
        "{} seed row(s) changed or gone, e.g. {:?}",
        changed.len(),
        changed.first()
    );
    // Besides them, the old orders' statuses as the source dated them: one row per version.
    let sourced: BTreeSet<(i64, String, String)> =
        p.db.client()
            .query(
                "SELECT o.order_id, s.status, s.update_ts::text FROM dds.s_order_status s \
                 JOIN dds.h_order o USING (h_order_pk) \
                 WHERE o.order_id < 5000000 AND s.update_ts > '-infinity'",
                &[],
            )
            .expect("sourced statuses")
            .iter()
            .map(|r| (r.get(0), r.get(1), r.get(2)))
            .collect();
    let versions_sent: BTreeSet<(i64, String, String)> = replayed
        .iter()
        .filter(|o| o.object_id < 5_000_000)
        .map(|o| {
            (
                o.object_id,
                o.payload.status.as_str().to_owned(),
                o.version_ts().to_string(),
            )
        })
        .collect();
    assert_eq!(sourced, versions_sent, "status rows of the old orders");
    // The latest status of every order.
    let found: BTreeMap<i64, String> = p
        .db
        .client()
        .query(
            "SELECT o.order_id, s.status FROM cdm.v_order_latest_status s JOIN dds.h_order o USING (h_order_pk)",
            &[],
        )
        .expect("latest statuses")
        .iter()
        .map(|r| (r.get::<_, i64>(0), r.get::<_, String>(1)))
        .collect();
    assert_eq!(found, latest, "latest statuses");
    // The refused order left no trace: not in DDS, not in the ledger, not on the report topic.
    let traces: i64 = p
        .db
        .client()
        .query_one(
            "SELECT (SELECT count(*) FROM dds.h_order WHERE order_id = 5000002) \
                  + (SELECT count(*) FROM cdm.order_ledger l JOIN dds.h_order o ON o.h_order_pk = l.order_id WHERE o.order_id = 5000002)",
            &[],
        )
        .and_then(|r| r.try_get(0))
        .expect("count");
    assert_eq!(traces, 0, "the refused order is in the warehouse");
    let reports = p.broker.read_topic(&p.topics.dds);
    assert_eq!(
        reports.len(),
        replayed.len() - 1,
        "one report per order DDS took, none for the refused one"
    );
    // The documented change: every user the new services saw has a period from the
    // dictionary's time (its login as userlogin where it has one), current over the row the
    // original services loaded (userlogin = name, from -infinity).
    let current: BTreeMap<String, (String, i64)> =
        p.db.client()
            .query(
                "SELECT u.user_id, c.userlogin, \
                    (SELECT count(*) FROM dds.s_user_names s WHERE s.h_user_pk = u.h_user_pk) \
             FROM dds.s_user_names_current c JOIN dds.h_user u USING (h_user_pk)",
                &[],
            )
            .expect("user names")
            .iter()
            .map(|r| {
                (
                    r.get::<_, String>(0),
                    (r.get::<_, String>(1), r.get::<_, i64>(2)),
                )
            })
            .collect();
    for o in replayed.iter().filter(|o| o.object_id < 5_000_000) {
        let user = &o.payload.user;
        let (login, rows) = &current[&user.id];
        assert_eq!(
            login,
            user.userlogin(),
            "current userlogin of user {}",
            user.id
        );
        assert_eq!(
            *rows, 2,
            "s_user_names rows of user {}: the original's and the new one",
            user.id
        );
    }
    eprintln!(
        "upgrade: {} orders ({} new, one with id {BIG_ORDER_ID}), {} users whose current \
         userlogin became their login; counters exact",
        all_ids.len(),
        fresh
            .iter()
            .map(|o| o.object_id)
            .collect::<BTreeSet<_>>()
            .len(),
        users_with_login.len()
    );
}
