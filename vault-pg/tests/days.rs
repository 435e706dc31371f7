//! The daily datamart (`cdm.restaurant_category_days`) on a real PostgreSQL: fed by the CDM
//! applier in the counters' transaction, it equals its recomputation from the Data Vault
//! (`cdm.v_restaurant_category_days_recomputed`, part of `vault check`) after every batch of
//! random histories with duplicates, corrections of cost, CLOSED→CANCELLED, stale versions and
//! a replay; a cancelled order leaves the day it was counted in; a new `CDM_DAY_TIME_ZONE`
//! moves every order to its date in that zone.

mod common;

use common::{assert_exact, load_batch, TestDb};
use proptest::prelude::*;
use vault_core::orders::sample::{Catalog, Rng};
use vault_core::orders::{EnrichedOrder, OrderStatus};
use vault_core::{Amount, Timestamp};

/// Every version of `orders` orders placed 5 h 17 min apart (so over many days, some near
/// midnight), oldest version first, interleaved by version time. The CLOSED version costs more
/// than the earlier ones (a correction) and the guest pays less than the cost (a bonus).
fn histories(seed: u64, orders: usize, cancel_after_close: f64) -> Vec<EnrichedOrder> {
    let mut rng = Rng::new(seed);
    let catalog = Catalog::generate(&mut rng, 4, 50);
    let start = Timestamp::parse("2024-01-01 00:40:00").expect("timestamp");
    let mut versions = Vec::new();
    for i in 0..orders {
        let placed = start.plus(chrono::Duration::minutes(317 * i as i64));
        for source in catalog.order_history(&mut rng, 5_000 + i as i64, placed, cancel_after_close)
        {
            let mut order = catalog.enrich(&source).expect("enrichable");
            let p = &mut order.payload;
            if p.status == OrderStatus::Closed {
                let cost = p.cost.to_f64() + 12.5;
                p.cost = Amount::from_f64(cost).expect("finite");
                p.payment = Amount::from_f64(cost - 2.25).expect("finite");
            }
            versions.push(order);
        }
    }
    versions.sort_by_key(|v| (v.version_ts(), v.object_id));
    versions
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 6, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn the_daily_mart_equals_the_recomputation_after_every_batch(
        seed in any::<u64>(),
        orders in 20usize..60,
        duplicates in prop::collection::vec(any::<prop::sample::Index>(), 0..40),
        shuffle_seed in any::<u64>(),
        batch_sizes in prop::collection::vec(1usize..30, 1..5),
    ) {
        let db = TestDb::new_on(vault_testkit::pg_config().with_day_time_zone("Asia/Tokyo"), "days");
        let mut arrivals = histories(seed, orders, 0.3);
        for index in &duplicates {
            let copy = index.get(&arrivals).clone();
            arrivals.push(copy);
        }
        let mut rng = Rng::new(shuffle_seed);
        for i in (1..arrivals.len()).rev() {
            let j = rng.below(i as u64 + 1) as usize;
            arrivals.swap(i, j);
        }
        let mut rest = &arrivals[..];
        let mut sizes = batch_sizes.iter().cycle();
        let mut batches = 0;
        while !rest.is_empty() {
            let take = sizes.next().copied().unwrap_or(1).min(rest.len());
            let (batch, tail) = rest.split_at(take);
            rest = tail;
            load_batch(&db, batch);
            batches += 1;
            assert_exact(&db, &format!("batch {batches}"));
        }
        prop_assert!(db.scalar("SELECT count(DISTINCT order_day) FROM cdm.restaurant_category_days WHERE order_cnt > 0") > 1);
        // A replay of everything changes nothing.
        let snapshot = "SELECT coalesce(sum(order_cnt), 0) * 1000000 + coalesce(sum(item_cnt), 0) \
                        + coalesce(sum(cost * 100), 0)::bigint FROM cdm.restaurant_category_days";
        let before = db.scalar(snapshot);
        let stats = load_batch(&db, &arrivals);
        prop_assert_eq!(stats.new + stats.updated, 0);
        prop_assert_eq!(stats.day_changes, 0);
        prop_assert_eq!(db.scalar(snapshot), before);
        assert_exact(&db, "the replay");
    }
}

/// One order, placed 2024-03-09 22:30 UTC (2024-03-10 in Tokyo): closed, then cancelled, with
/// the warehouse's zone changed in between.
#[test]
fn a_cancelled_order_leaves_its_day_and_a_new_zone_moves_the_days() {
    let base = vault_testkit::pg_config();
    let db = TestDb::new_on(base.clone(), "days_zone");
    let version = |status: &str, update_ts: &str, cost: &str| -> EnrichedOrder {
        serde_json::from_str(&format!(
            r#"{{"object_id": 77, "object_type": "order", "payload": {{"id": 77,
                "date": "2024-03-09 22:30:00", "update_ts": "{update_ts}",
                "cost": {cost}, "payment": 100, "status": "{status}",
                "restaurant": {{"id": "r-1", "name": "Кофейня"}},
                "user": {{"id": "u-1", "name": "Анна", "login": "anna"}},
                "products": [
                  {{"id": "p-1", "name": "Капучино", "price": 60, "quantity": 2, "category": "Напитки"}},
                  {{"id": "p-2", "name": "Латте", "price": 70, "quantity": 1, "category": "Напитки"}},
                  {{"id": "p-3", "name": "Сырники", "price": 90, "quantity": 1, "category": "Завтраки"}}]}}}}"#
        ))
        .expect("order")
    };
    let day_rows = |db: &TestDb| -> Vec<(String, String, i32, i32, String, String)> {
        db.client()
            .query(
                "SELECT day::text, category_name, orders, dishes, cost::text, payment::text \
                 FROM bi.restaurant_category_days ORDER BY 1, 2",
                &[],
            )
            .expect("bi.restaurant_category_days")
            .iter()
            .map(|r| (r.get(0), r.get(1), r.get(2), r.get(3), r.get(4), r.get(5)))
            .collect()
    };
    let row = |day: &str, category: &str, dishes: i32, cost: &str| {
        (
            day.to_owned(),
            category.to_owned(),
            1,
            dishes,
            cost.to_owned(),
            "100".to_owned(),
        )
    };

    load_batch(&db, &[version("OPEN", "2024-03-09 22:30:00", "280")]);
    assert!(day_rows(&db).is_empty(), "an open order counts nowhere");
    load_batch(&db, &[version("CLOSED", "2024-03-09 23:10:00", "290.5")]);
    assert_eq!(
        day_rows(&db),
        [
            row("2024-03-09", "Завтраки", 1, "290.5"),
            row("2024-03-09", "Напитки", 2, "290.5"),
        ],
        "UTC: the order's date; its whole cost in each of its categories"
    );
    assert_exact(&db, "closing");

    // Tokyo (UTC+9): the same order is on the 10th; `vault migrate` moves it.
    let tokyo =
        vault_pg::Warehouse::new(&base.with_dbname(&db.name).with_day_time_zone("Asia/Tokyo"))
            .expect("pool");
    let report = tokyo
        .migrate()
        .expect("migrate with CDM_DAY_TIME_ZONE=Asia/Tokyo");
    assert!(report.day_time_zone_changed);
    assert_eq!(
        day_rows(&db),
        [
            row("2024-03-10", "Завтраки", 1, "290.5"),
            row("2024-03-10", "Напитки", 2, "290.5"),
        ]
    );
    assert_exact(&db, "the new zone");
    assert!(!tokyo.migrate().expect("again").day_time_zone_changed);

    // Cancelled the next day: the order leaves the 10th; the stale CLOSED and a replay of the
    // cancellation change nothing.
    load_batch(&db, &[version("CANCELLED", "2024-03-10 12:00:00", "290.5")]);
    assert!(day_rows(&db).is_empty(), "{:?}", day_rows(&db));
    assert_eq!(
        db.scalar(
            "SELECT count(*) FROM cdm.restaurant_category_days WHERE order_cnt <> 0 OR cost <> 0"
        ),
        0
    );
    let stats = load_batch(
        &db,
        &[
            version("CLOSED", "2024-03-09 23:10:00", "290.5"),
            version("CANCELLED", "2024-03-10 12:00:00", "290.5"),
        ],
    );
    assert_eq!((stats.stale, stats.duplicate, stats.day_changes), (1, 1, 0));
    assert!(day_rows(&db).is_empty());
    assert_exact(&db, "the cancellation");

    // A zone the server does not know stops the migration with the variable's name.
    let nowhere = vault_pg::Warehouse::new(
        &base
            .with_dbname(&db.name)
            .with_day_time_zone("Mars/Olympus"),
    )
    .expect("pool");
    let err = nowhere.migrate().expect_err("unknown zone");
    assert!(err.to_string().contains("CDM_DAY_TIME_ZONE"), "{err}");
}
