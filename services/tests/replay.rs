//! The backfill path against real PostgreSQL and Redis (run via `scripts/test`).

mod common;

use std::collections::BTreeMap;
use std::time::Duration;

use serde_json::Value;
use vault_core::orders::sample::Rng;
use vault_core::orders::{OrderStatus, SourceOrder};
use vault_core::Timestamp;
use vault_pg::stg::StgEvent;
use vault_services::{
    replay, CacheConfig, Progress, RedisDictionary, ReplayError, ReplayOptions, ReplaySummary,
    RetryPolicy,
};

use common::Scenario;
use vault_testkit::{redis_config, seed, RedisKeys, TestDb};

fn dictionary() -> RedisDictionary {
    RedisDictionary::new(&redis_config(), CacheConfig::default()).expect("dictionary")
}

fn options(page_size: u32) -> ReplayOptions {
    ReplayOptions {
        page_size,
        ..ReplayOptions::default()
    }
}

fn run(db: &TestDb, page_size: u32) -> (ReplaySummary, Vec<Progress>) {
    let mut progress = Vec::new();
    let summary = replay(
        &db.warehouse,
        &mut dictionary(),
        &options(page_size),
        |p: Progress| progress.push(p),
    )
    .expect("replay");
    (summary, progress)
}

/// Rows of one table.
fn table<'r>(rows: &'r [(String, Value)], name: &str) -> Vec<&'r Value> {
    rows.iter()
        .filter(|(t, _)| t == name)
        .map(|(_, row)| row)
        .collect()
}

fn without(mut row: Value, column: &str) -> Value {
    if let Value::Object(map) = &mut row {
        map.remove(column);
    }
    row
}

/// Counters that count something (a row at 0 and no row mean the same), and ledger entries
/// without their wall-clock `applied_at`.
fn cdm_state(db: &TestDb) -> Vec<(String, Value)> {
    db.cdm()
        .into_iter()
        .filter(|(_, row)| row.get("order_cnt").and_then(Value::as_i64) != Some(0))
        .map(|(t, row)| (t, without(row, "applied_at")))
        .collect()
}

#[test]
fn replay_equals_the_writers() {
    let mut rng = Rng::new(seed());
    let scenario = Scenario::generate(&mut rng, 300, 50);
    let mut redis = RedisKeys::new();
    redis.load_catalog(&scenario.catalog);
    let writers = TestDb::new("writers");
    let replayed = TestDb::new("replayed");
    for batch in &scenario.batches {
        writers.write_like_services(&scenario.catalog, batch);
        replayed.stg_upsert(batch);
    }

    // The scenario has what makes the comparison worth it: orders cancelled after closing,
    // and re-sent versions (duplicates and stale ones).
    let latest = scenario.latest();
    let cancelled_after_close = latest
        .iter()
        .filter(|o| {
            o.payload.final_status == OrderStatus::Cancelled
                && o.payload
                    .statuses
                    .iter()
                    .any(|s| s.status == OrderStatus::Closed)
        })
        .count();
    assert!(cancelled_after_close > 0, "no CLOSED→CANCELLED order");
    assert!(scenario.batches.iter().flatten().count() > 4 * 300);

    let (summary, progress) = run(&replayed, 37);
    assert_eq!(
        (summary.total, summary.read, summary.replayed),
        (300, 300, 300)
    );
    assert_eq!(summary.skipped_total(), 0, "{:?}", summary.examples);
    assert_eq!(
        (
            summary.cdm.new,
            summary.cdm.updated,
            summary.cdm.duplicate,
            summary.cdm.stale
        ),
        (300, 0, 0, 0)
    );
    assert_eq!(summary.pages, 300_u64.div_ceil(37));
    assert!(summary.rows_written > 0);
    assert!(
        summary.dictionary.mgets <= summary.pages,
        "at most one MGET per page: {:?}",
        summary.dictionary
    );
    assert_eq!(progress.first().map(|p| p.done), Some(0));
    assert!(progress.windows(2).all(|w| w[0].done <= w[1].done));
    let last = progress.last().copied().expect("progress reported");
    assert_eq!((last.done, last.total, last.skipped), (300, 300, 0));

    // DDS: the same rows, except that the raw layer only keeps each order's newest version,
    // so replay knows only the latest version's status and cost of each order (the writers saw
    // every version: a row per version in these satellites, whose effective time is the
    // order's).
    let (mut dds_w, mut dds_r) = (writers.dds(false), replayed.dds(false));
    dds_w.extend(writers.dds_effectivity());
    dds_r.extend(replayed.dds_effectivity());
    for &name in vault_core::orders::DvRows::TABLES {
        let (w, r) = (table(&dds_w, name), table(&dds_r, name));
        assert!(!w.is_empty(), "{name} is empty");
        if name == "s_order_status" || name == "s_order_cost" {
            assert_eq!(r.len(), 300, "{name}: one row per order");
            assert!(w.len() > 4 * 300, "{name}: the writers saw every version");
            for row in &r {
                assert!(w.contains(row), "{name}: {row} not written by the writers");
            }
        } else {
            assert_eq!(w, r, "{name} differs");
        }
    }
    assert_eq!(writers.latest_statuses(), replayed.latest_statuses());
    assert_eq!(replayed.latest_statuses().len(), 300);

    // CDM: the same counters and ledger; both exact.
    let (cdm_w, cdm_r) = (cdm_state(&writers), cdm_state(&replayed));
    for name in [
        "user_product_counters",
        "user_category_counters",
        "restaurant_category_counters",
        "order_ledger",
    ] {
        let (w, r) = (table(&cdm_w, name), table(&cdm_r, name));
        assert!(!w.is_empty(), "{name} is empty");
        assert_eq!(w, r, "{name} differs");
    }
    assert_eq!(writers.mismatches(), []);
    assert_eq!(replayed.mismatches(), []);

    // Replaying over what the live writers loaded changes nothing either.
    let before = (writers.dds(true), writers.cdm());
    let (again, _) = run(&writers, 100);
    assert_eq!(again.rows_written, 0);
    assert_eq!(
        (again.cdm.new, again.cdm.updated, again.cdm.duplicate),
        (0, 0, 300)
    );
    assert_eq!((writers.dds(true), writers.cdm()), before);
}

#[test]
fn replay_is_idempotent() {
    let mut rng = Rng::new(seed());
    let scenario = Scenario::generate(&mut rng, 200, 64);
    let mut redis = RedisKeys::new();
    redis.load_catalog(&scenario.catalog);
    let db = TestDb::new("idempotent");
    for batch in &scenario.batches {
        db.stg_upsert(batch);
    }

    let (first, _) = run(&db, 50);
    assert_eq!((first.replayed, first.cdm.new), (200, 200));
    let dds = db.dds(true);
    let cdm = db.cdm();
    assert!(!dds.is_empty() && !cdm.is_empty());

    let (second, progress) = run(&db, 50);
    assert_eq!(second.replayed, 200);
    assert_eq!(second.skipped_total(), 0);
    assert_eq!(second.rows_written, 0, "no DDS row inserted or moved");
    assert_eq!(
        (
            second.cdm.new,
            second.cdm.updated,
            second.cdm.duplicate,
            second.cdm.stale,
            second.cdm.counters_changed
        ),
        (0, 0, 200, 0, 0),
        "every CDM outcome is a duplicate"
    );
    assert_eq!(progress.last().map(|p| p.done), Some(200));
    // Not a single row changed, load_dt and ledger timestamps included.
    assert_eq!(db.dds(true), dds);
    assert_eq!(db.cdm(), cdm);
    assert_eq!(db.mismatches(), []);
}

#[test]
fn unknown_ids_and_unparsable_rows_are_reported_not_dropped() {
    let mut rng = Rng::new(seed());
    let scenario = Scenario::generate(&mut rng, 20, 100);
    let mut redis = RedisKeys::new();
    redis.load_catalog(&scenario.catalog);
    let db = TestDb::new("skipped");
    let good = scenario.latest();
    db.stg_upsert(&good);

    let template = good[0].clone();
    let variant = |object_id: i64, change: &dyn Fn(&mut SourceOrder)| {
        let mut order = template.clone();
        order.object_id = object_id;
        change(&mut order);
        order
    };
    let unknown_user = variant(10, &|o| {
        o.payload.user.id = "0123456789abcdef01234567".into()
    });
    let unknown_restaurant = variant(11, &|o| {
        o.payload.restaurant.id = "fedcba9876543210fedcba98".into()
    });
    let unknown_item = variant(12, &|o| {
        o.payload.order_items[0].id = "00000000000000000000beef".into()
    });
    db.stg_upsert(&[unknown_user, unknown_restaurant, unknown_item]);
    let ts = Timestamp::parse("2024-10-01 12:00:00").expect("timestamp");
    // Valid JSON that is not an order, and an order stored under another object_type.
    db.stg_raw(StgEvent {
        object_id: 13,
        object_type: "order",
        sent_dttm: ts,
        update_ts: ts,
        payload: r#"{"hello": "world", "cost": 5}"#,
    });
    let payload = String::from_utf8(vault_testkit::message(&template)).expect("utf-8");
    let raw = vault_core::orders::raw_payload(payload.as_bytes()).expect("payload");
    db.stg_raw(StgEvent {
        object_id: 14,
        object_type: "bonus_event",
        sent_dttm: ts,
        update_ts: ts,
        payload: raw,
    });

    let (summary, progress) = run(&db, 7);
    assert_eq!((summary.total, summary.read), (25, 25));
    assert_eq!(summary.replayed, 20, "the rest is loaded");
    let expected: BTreeMap<&str, u64> = [
        ("invalid_shape", 1),
        ("unknown_menu_item", 1),
        ("unknown_object_type", 1),
        ("unknown_restaurant", 1),
        ("unknown_user", 1),
    ]
    .into_iter()
    .collect();
    assert_eq!(summary.skipped, expected);
    let examples: BTreeMap<i64, &str> = summary
        .examples
        .iter()
        .map(|s| (s.object_id, s.reason))
        .collect();
    assert_eq!(
        examples,
        [
            (10, "unknown_user"),
            (11, "unknown_restaurant"),
            (12, "unknown_menu_item"),
            (13, "invalid_shape"),
            (14, "unknown_object_type"),
        ]
        .into_iter()
        .collect()
    );
    let detail = |id: i64| {
        summary
            .examples
            .iter()
            .find(|s| s.object_id == id)
            .map(|s| s.detail.clone())
            .unwrap_or_default()
    };
    assert!(
        detail(10).contains("0123456789abcdef01234567"),
        "{}",
        detail(10)
    );
    assert!(detail(13).contains("payload"), "{}", detail(13));
    assert_eq!(progress.last().map(|p| (p.done, p.skipped)), Some((25, 5)));

    let dds = db.dds(false);
    assert_eq!(table(&dds, "h_order").len(), 20);
    assert_eq!(db.mismatches(), []);

    // Still reported on the next run: skipped rows are not forgotten.
    let (again, _) = run(&db, 100);
    assert_eq!(again.skipped, expected);
}

#[test]
fn a_fault_that_needs_a_person_stops_at_once() {
    // A database without the schema: not retryable, one attempt, and the error says where.
    let db = TestDb::empty("noschema");
    let started = std::time::Instant::now();
    let err = replay(
        &db.warehouse,
        &mut dictionary(),
        &ReplayOptions::default(),
        |_| {},
    )
    .expect_err("no stg table");
    assert!(started.elapsed() < Duration::from_secs(5));
    match &err {
        ReplayError::Warehouse {
            during, attempts, ..
        } => assert_eq!((*during, *attempts), ("count stg.order_events", 1)),
        other => panic!("unexpected {other:?}"),
    }
    assert!(!err.is_retryable());
    assert!(err.to_string().contains("stg.order_events"), "{err}");
}

fn fast_retries() -> RetryPolicy {
    RetryPolicy {
        max_attempts: 3,
        initial_backoff: Duration::from_millis(10),
        max_backoff: Duration::from_millis(20),
    }
}

#[test]
fn transient_faults_are_retried_then_reported() {
    // PostgreSQL unreachable: retried, then a clear, retryable error.
    let mut config = vault_testkit::pg_config().with_dbname("vault");
    config = config.with_host("127.0.0.1", 1);
    config.connect_timeout = Duration::from_millis(500);
    let nowhere = vault_pg::Warehouse::new(&config).expect("lazy pool");
    let options = ReplayOptions {
        retry: fast_retries(),
        ..ReplayOptions::default()
    };
    let err = replay(&nowhere, &mut dictionary(), &options, |_| {}).expect_err("unreachable");
    assert!(
        matches!(err, ReplayError::Warehouse { attempts: 3, .. }),
        "{err:?}"
    );
    assert!(err.is_retryable());

    // Redis unreachable while the warehouse is fine.
    let mut rng = Rng::new(seed());
    let scenario = Scenario::generate(&mut rng, 5, 100);
    let db = TestDb::new("noredis");
    db.stg_upsert(&scenario.latest());
    let mut redis = redis_config();
    redis.port = 1;
    let mut no_dictionary =
        RedisDictionary::new(&redis, CacheConfig::default()).expect("lazy dictionary");
    let err = replay(&db.warehouse, &mut no_dictionary, &options, |_| {}).expect_err("no redis");
    assert!(
        matches!(err, ReplayError::Dictionary { attempts: 3, .. }),
        "{err:?}"
    );
    assert!(err.is_retryable());
    assert!(err.to_string().contains("redis://"), "{err}");
    assert_eq!(
        table(&db.dds(false), "h_order").len(),
        0,
        "nothing half-written"
    );
}
