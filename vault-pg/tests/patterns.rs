//! The Data Vault patterns of the order model on a real PostgreSQL (migrated warehouse):
//! effectivity satellites (a product moving to another category ends the old link's period,
//! whatever the arrival order, and A → B → A keeps three periods) and the point-in-time table
//! (its refresh gives, per order, the satellite rows the as-of functions give).

mod common;

use common::TestDb;
use vault_core::orders::dv::EsProductCategory;
use vault_core::orders::{DvBatch, DvRows, EnrichedOrder};
use vault_core::{KeySpec, Timestamp};

const KEYS: KeySpec = KeySpec::SEED;

/// An enriched order of product `p-1` in `category`, the menu's time `menu_ts`, the order's
/// version time `update_ts`, with `status` and `cost`.
fn order(
    id: i64,
    category: &str,
    menu_ts: &str,
    update_ts: &str,
    status: &str,
    cost: i64,
) -> EnrichedOrder {
    serde_json::from_str(&format!(
        r#"{{"object_id": {id}, "object_type": "order", "payload": {{"id": {id},
            "date": "2024-05-01 09:00:00", "update_ts": "{update_ts}",
            "cost": {cost}, "payment": {cost}, "status": "{status}",
            "restaurant": {{"id": "r-1", "name": "Кофейня", "update_ts_utc": "{menu_ts}"}},
            "user": {{"id": "u-1", "name": "Анна", "login": "anna", "update_ts_utc": "2024-04-01 00:00:00"}},
            "products": [{{"id": "p-1", "price": {cost}, "quantity": 1, "name": "Пирог",
                           "category": "{category}"}}]}}}}"#
    ))
    .expect("a valid order")
}

fn load(db: &TestDb, orders: &[EnrichedOrder]) -> u64 {
    let mut batch = DvBatch::new(KEYS);
    for o in orders {
        batch.add(o);
    }
    let mut client = db.client();
    let mut tx = client.transaction().expect("begin");
    let n = vault_pg::dds::write(&mut tx, batch.rows()).expect("write");
    tx.commit().expect("commit");
    n
}

/// `(category, valid_from, valid_to)` of product p-1's category periods.
fn category_periods(db: &TestDb) -> Vec<(String, String, Option<String>)> {
    db.client()
        .query(
            "SELECT c.category_name, p.valid_from::text, p.valid_to::text \
             FROM dds.es_product_category_periods p \
             JOIN dds.l_product_category l USING (hk_product_category_pk) \
             JOIN dds.h_category c USING (h_category_pk) \
             ORDER BY p.valid_from",
            &[],
        )
        .expect("periods")
        .iter()
        .map(|r| (r.get(0), r.get(1), r.get(2)))
        .collect()
}

fn category_at(db: &TestDb, at: &str) -> Option<String> {
    db.client()
        .query_opt(
            "SELECT c.category_name FROM dds.es_product_category_at($1::text::timestamp) e \
             JOIN dds.l_product_category l USING (hk_product_category_pk) \
             JOIN dds.h_category c USING (h_category_pk)",
            &[&at],
        )
        .expect("as of")
        .map(|r| r.get(0))
}

fn current_category(db: &TestDb) -> Option<String> {
    db.client()
        .query_opt(
            "SELECT c.category_name FROM dds.es_product_category_current e \
             JOIN dds.l_product_category l USING (hk_product_category_pk) \
             JOIN dds.h_category c USING (h_category_pk)",
            &[],
        )
        .expect("current")
        .map(|r| r.get(0))
}

#[test]
fn a_product_moving_category_ends_the_old_links_period_whatever_the_arrival_order() {
    let a1 = order(
        1,
        "Выпечка",
        "2024-05-01 10:00:00",
        "2024-05-01 10:05:00",
        "CLOSED",
        100,
    );
    let b = order(
        2,
        "Супы",
        "2024-05-02 10:00:00",
        "2024-05-02 10:05:00",
        "CLOSED",
        100,
    );
    let a2 = order(
        3,
        "Выпечка",
        "2024-05-03 10:00:00",
        "2024-05-03 10:05:00",
        "CLOSED",
        100,
    );
    let expected = vec![
        (
            "Выпечка".to_owned(),
            "2024-05-01 10:00:00".to_owned(),
            Some("2024-05-02 10:00:00".to_owned()),
        ),
        (
            "Супы".to_owned(),
            "2024-05-02 10:00:00".to_owned(),
            Some("2024-05-03 10:00:00".to_owned()),
        ),
        ("Выпечка".to_owned(), "2024-05-03 10:00:00".to_owned(), None),
    ];
    for (name, arrival) in [
        ("in order", vec![&a1, &b, &a2]),
        ("the move arrives last", vec![&a2, &a1, &b]),
        ("newest first", vec![&a2, &b, &a1]),
    ] {
        let db = TestDb::new("patterns_effectivity");
        for o in &arrival {
            load(&db, std::slice::from_ref(*o));
        }
        assert_eq!(category_periods(&db), expected, "{name}");
        assert_eq!(current_category(&db).as_deref(), Some("Выпечка"), "{name}");
        assert_eq!(
            category_at(&db, "2024-05-02 12:00:00").as_deref(),
            Some("Супы"),
            "{name}"
        );
        assert_eq!(
            category_at(&db, "2024-05-01 09:59:59"),
            None,
            "{name}: before any"
        );
        assert_eq!(
            db.scalar("SELECT count(*) FROM dds.es_product_category"),
            3,
            "{name}: one observation per menu time"
        );
        // A replay of everything adds nothing.
        let replay: Vec<EnrichedOrder> = arrival.iter().map(|o| (*o).clone()).collect();
        assert_eq!(load(&db, &replay), 0, "{name}: a replay adds nothing");
        // The restaurant link never moved: one period since the first menu time.
        assert_eq!(
            db.scalar("SELECT count(*) FROM dds.es_product_restaurant_periods"),
            1,
            "{name}"
        );
    }
}

#[test]
fn an_ended_link_has_no_current_row_and_its_period_closes() {
    let db = TestDb::new("patterns_ended");
    load(
        &db,
        &[order(
            1,
            "Выпечка",
            "2024-05-01 10:00:00",
            "2024-05-01 10:05:00",
            "CLOSED",
            100,
        )],
    );
    let product = KEYS.hub("p-1");
    let link = KEYS.link(&["p-1", "Выпечка"]);
    let mut rows = DvRows::default();
    rows.es_product_category.push(EsProductCategory::ended(
        link,
        product,
        Timestamp::parse("2024-05-04 00:00:00").expect("time"),
    ));
    let mut client = db.client();
    let mut tx = client.transaction().expect("begin");
    assert_eq!(vault_pg::dds::write(&mut tx, &rows).expect("write"), 1);
    tx.commit().expect("commit");
    assert_eq!(current_category(&db), None, "no category in force");
    assert_eq!(
        category_periods(&db),
        [(
            "Выпечка".to_owned(),
            "2024-05-01 10:00:00".to_owned(),
            Some("2024-05-04 00:00:00".to_owned())
        )]
    );
    assert_eq!(
        category_at(&db, "2024-05-03 00:00:00").as_deref(),
        Some("Выпечка")
    );
}

#[test]
fn the_pit_holds_the_rows_the_as_of_functions_give() {
    let db = TestDb::new("patterns_pit");
    // Order 1: CLOSED 100 at 10:00, then CANCELLED at 12:00 (late: loaded first).
    // Order 2: placed at 11:00 only.
    load(
        &db,
        &[order(
            1,
            "Выпечка",
            "2024-05-01 08:00:00",
            "2024-05-01 12:00:00",
            "CANCELLED",
            100,
        )],
    );
    load(
        &db,
        &[
            order(
                1,
                "Выпечка",
                "2024-05-01 08:00:00",
                "2024-05-01 10:00:00",
                "CLOSED",
                100,
            ),
            order(
                2,
                "Выпечка",
                "2024-05-01 08:00:00",
                "2024-05-01 11:00:00",
                "CLOSED",
                250,
            ),
        ],
    );
    let refresh = |at: &str| -> i64 {
        db.client()
            .query_one("SELECT dds.pit_order_refresh($1::text::timestamp)", &[&at])
            .expect("refresh")
            .get(0)
    };
    assert_eq!(refresh("2024-05-01 09:00:00"), 0, "no order had a row yet");
    assert_eq!(refresh("2024-05-01 10:30:00"), 1);
    assert_eq!(refresh("2024-05-01 11:30:00"), 2);
    assert_eq!(refresh("2024-05-01 13:00:00"), 2);
    assert_eq!(
        refresh("2024-05-01 13:00:00"),
        2,
        "a refresh again replaces, not adds"
    );
    assert_eq!(db.scalar("SELECT count(*) FROM dds.pit_order"), 5);
    // Every PIT row joins with equality to the satellite rows the as-of functions give.
    let disagreements = db.scalar(
        "SELECT count(*) FROM dds.pit_order p \
         LEFT JOIN LATERAL dds.s_order_status_at(p.as_of) st ON st.h_order_pk = p.h_order_pk \
         LEFT JOIN LATERAL dds.s_order_cost_at(p.as_of) c ON c.h_order_pk = p.h_order_pk \
         WHERE st.hk_order_status_pk IS DISTINCT FROM p.hk_order_status_pk \
            OR st.update_ts IS DISTINCT FROM p.s_order_status_update_ts \
            OR c.hk_order_cost_pk IS DISTINCT FROM p.hk_order_cost_pk",
    );
    assert_eq!(disagreements, 0);
    let status_at = |at: &str, id: i64| -> String {
        db.client()
            .query_one(
                "SELECT s.status FROM dds.pit_order p \
                 JOIN dds.h_order h USING (h_order_pk) \
                 JOIN dds.s_order_status s \
                   ON s.hk_order_status_pk = p.hk_order_status_pk \
                  AND s.update_ts = p.s_order_status_update_ts \
                 WHERE p.as_of = $1::text::timestamp AND h.order_id = $2",
                &[&at, &id],
            )
            .expect("status")
            .get(0)
    };
    assert_eq!(status_at("2024-05-01 11:30:00", 1), "CLOSED");
    assert_eq!(status_at("2024-05-01 13:00:00", 1), "CANCELLED");
}

#[test]
fn the_order_bridge_gives_each_orders_categories_in_force_at_a_time() {
    let db = TestDb::new("patterns_bridge");
    load(
        &db,
        &[
            order(
                1,
                "Выпечка",
                "2024-05-01 10:00:00",
                "2024-05-01 10:05:00",
                "CLOSED",
                100,
            ),
            order(
                2,
                "Супы",
                "2024-05-02 10:00:00",
                "2024-05-02 10:05:00",
                "CLOSED",
                100,
            ),
        ],
    );
    let categories_at = |at: &str| -> Vec<(i64, String)> {
        let mut client = db.client();
        let written: i64 = client
            .query_one(
                "SELECT dds.b_order_category_refresh($1::text::timestamp)",
                &[&at],
            )
            .expect("refresh")
            .get(0);
        let rows: Vec<(i64, String)> = client
            .query(
                "SELECT o.order_id, c.category_name FROM dds.b_order_category b \
                 JOIN dds.h_order o USING (h_order_pk) JOIN dds.h_category c USING (h_category_pk) \
                 WHERE b.as_of = $1::text::timestamp ORDER BY o.order_id",
                &[&at],
            )
            .expect("bridge")
            .iter()
            .map(|r| (r.get(0), r.get(1)))
            .collect();
        assert_eq!(written, rows.len() as i64);
        rows
    };
    assert_eq!(categories_at("2024-05-01 09:00:00"), []);
    let bakery = "Выпечка".to_owned();
    let soups = "Супы".to_owned();
    assert_eq!(
        categories_at("2024-05-01 12:00:00"),
        [(1, bakery.clone()), (2, bakery)]
    );
    assert_eq!(
        categories_at("2024-05-02 12:00:00"),
        [(1, soups.clone()), (2, soups)],
        "the product moved: both orders' product is in Супы from then on"
    );
}
