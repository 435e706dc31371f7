//! History end to end: a user's and a restaurant's names go A → B → A in the dictionaries
//! between orders, and the three services (real processes, real Kafka, PostgreSQL and Redis)
//! leave three periods in each name satellite, the newest current, the middle one found by the
//! as-of function; a replay of every order adds no row; the counters stay exact.

mod common;

use std::collections::BTreeMap;
use std::time::Duration;

use vault_core::orders::sample::Catalog;
use vault_core::Timestamp;
use vault_services::simulate::{plan, Planned, SimulateOptions};

use common::scenario::{load_catalog, producer, send, verify_no_downstream_dead_letters};
use vault_testkit::pipeline::Pipeline;
use vault_testkit::{require_servers, seed};

fn ts(text: &str) -> Timestamp {
    Timestamp::parse(text).expect("timestamp")
}

/// `(value, valid_from, valid_to)` of each period of `satellite` (a `_periods` view), in time
/// order, `value` being `column`.
fn periods(p: &Pipeline, satellite: &str, column: &str) -> Vec<(String, String, Option<String>)> {
    let sql = format!(
        "SELECT {column}, valid_from::text, valid_to::text FROM dds.{satellite}_periods \
         ORDER BY valid_from"
    );
    p.db.client()
        .query(sql.as_str(), &[])
        .expect("periods")
        .iter()
        .map(|r| (r.get(0), r.get(1), r.get(2)))
        .collect()
}

#[test]
fn names_that_come_back_keep_three_periods_through_the_services() {
    require_servers();
    let plan = plan(&SimulateOptions {
        seed: seed(),
        restaurants: 1,
        users: 1,
        orders: 3,
        duplicates: 0.0,
        cancel_after_close: 0.0,
        first_id: 51_000_000,
        ..SimulateOptions::default()
    });
    let orders: Vec<Planned> = plan
        .messages
        .iter()
        .filter(|m| matches!(m, Planned::Order(_)))
        .cloned()
        .collect();
    assert_eq!(orders.len(), 3, "one message per order");
    let mut catalog = plan.catalog.clone();
    // Three versions of each dictionary entry, an hour apart: Анна → Борис → Анна.
    let versions = [
        ("Анна Первая", "Кофейня Старая", ts("2024-05-01 10:00:00")),
        ("Борис Второй", "Кофейня Новая", ts("2024-05-01 11:00:00")),
        ("Анна Первая", "Кофейня Старая", ts("2024-05-01 12:00:00")),
    ];
    let set_version = |catalog: &mut Catalog, (user, restaurant, at): (&str, &str, Timestamp)| {
        catalog.users[0].name = user.to_owned();
        catalog.users[0].update_ts_utc = Some(at);
        catalog.restaurants[0].name = restaurant.to_owned();
        catalog.restaurants[0].update_ts_utc = Some(at);
    };
    set_version(&mut catalog, versions[0]);
    let mut redis = load_catalog(&catalog);

    let mut p = Pipeline::new("history");
    // No dictionary cache: each order sees the entry Redis has when STG reads it.
    p.set_setting("REDIS_CACHE_TTL_MS", Some("0"));
    p.spawn_all();
    let producer = producer(&p);
    let source = p.topics.source.clone();
    let user_rows = |p: &Pipeline| p.db.scalar("SELECT count(*) FROM dds.s_user_names");
    for (i, version) in versions.iter().enumerate() {
        if i > 0 {
            set_version(&mut catalog, *version);
            redis.load_catalog(&catalog);
        }
        send(&producer, &source, &orders[i..=i], None);
        p.settle(&format!("order {} in the Data Vault", i + 1), |p| {
            let loaded = user_rows(p);
            if loaded == i as i64 + 1 {
                Ok(())
            } else {
                Err(format!("{loaded} row(s) in dds.s_user_names"))
            }
        });
    }

    let at = |t: &str| Some(t.to_owned());
    assert_eq!(
        periods(&p, "s_user_names", "username"),
        [
            (
                "Анна Первая".into(),
                "2024-05-01 10:00:00".into(),
                at("2024-05-01 11:00:00")
            ),
            (
                "Борис Второй".into(),
                "2024-05-01 11:00:00".into(),
                at("2024-05-01 12:00:00")
            ),
            ("Анна Первая".into(), "2024-05-01 12:00:00".into(), None),
        ],
        "A → B → A: three periods from the dictionary's own times"
    );
    assert_eq!(
        periods(&p, "s_restaurant_names", "name")
            .into_iter()
            .map(|(name, _, _)| name)
            .collect::<Vec<_>>(),
        ["Кофейня Старая", "Кофейня Новая", "Кофейня Старая"]
    );
    let mut client = p.db.client();
    let current: String = client
        .query_one("SELECT username FROM dds.s_user_names_current", &[])
        .expect("current name")
        .get(0);
    assert_eq!(current, "Анна Первая");
    let then: String = client
        .query_one(
            "SELECT username FROM dds.s_user_names_at('2024-05-01 11:30:00')",
            &[],
        )
        .expect("the name at 11:30")
        .get(0);
    assert_eq!(then, "Борис Второй");
    // Dish names: one period per restaurant version that carried the dish, all the same name.
    let dish_names: i64 =
        p.db.scalar("SELECT count(*) FROM dds.s_product_names_periods WHERE valid_to IS NOT NULL");
    assert_eq!(dish_names, 0, "an unchanged dish name is one period");

    // The counters (vault check's oracle) and the guest's name in `vault top`'s query.
    let mismatches = vault_pg::check::cdm_mismatches(&mut *client).expect("vault check");
    assert!(mismatches.is_empty(), "{mismatches:?}");
    let guests: Vec<String> = client
        .query(
            include_str!("../../vault-pg/sql/cdm/top_user_products.sql"),
            &[&10_i64],
        )
        .expect("top")
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert!(
        !guests.is_empty() && guests.iter().all(|g| g == "Анна Первая"),
        "{guests:?}"
    );

    // Every order again (a replay of the source): STG enriches them anew, with the
    // dictionaries as they are now, so the dishes of the first two orders are seen again at the
    // restaurant's newest time: rows of the same names (stored, as every observation is), and
    // not one period more or less. The names and the orders' satellites gain no row at all.
    let before = history(&p);
    let rows_before = satellite_counts(&p);
    send(&producer, &source, &orders, None);
    std::thread::sleep(Duration::from_secs(3));
    p.settle("the replay consumed", |p| p.drained());
    assert_eq!(history(&p), before, "a replay changes no period");
    let rows_after = satellite_counts(&p);
    for table in [
        "s_user_names",
        "s_restaurant_names",
        "s_order_cost",
        "s_order_status",
    ] {
        assert_eq!(rows_after[table], rows_before[table], "{table}");
    }
    verify_no_downstream_dead_letters(&p);
}

/// Every period of every satellite, as text.
fn history(p: &Pipeline) -> Vec<String> {
    SATELLITES
        .iter()
        .flat_map(|t| {
            p.db.client()
                .query(
                    format!("SELECT to_jsonb(p)::text FROM dds.{t}_periods p ORDER BY 1").as_str(),
                    &[],
                )
                .expect("periods")
                .iter()
                .map(|r| r.get::<_, String>(0))
                .collect::<Vec<_>>()
        })
        .collect()
}

const SATELLITES: [&str; 5] = [
    "s_user_names",
    "s_restaurant_names",
    "s_product_names",
    "s_order_cost",
    "s_order_status",
];

fn satellite_counts(p: &Pipeline) -> BTreeMap<&'static str, i64> {
    SATELLITES
        .iter()
        .map(|t| (*t, p.db.scalar(&format!("SELECT count(*) FROM dds.{t}"))))
        .collect()
}
