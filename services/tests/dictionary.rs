//! The Redis dictionary against a real Redis (run via `scripts/test`).

mod common;

use std::time::Duration;

use vault_core::orders::sample::{Catalog, Rng};
use vault_core::orders::{SourceOrder, User};
use vault_core::Timestamp;
use vault_services::{CacheConfig, EntryKind, RedisDictionary};

use vault_testkit::{redis_config, seed, RedisKeys};

fn user_json(id: &str, name: &str) -> String {
    serde_json::to_string(&User {
        id: id.to_owned(),
        name: name.to_owned(),
        login: Some("login".into()),
        update_ts_utc: None,
    })
    .expect("user JSON")
}

fn cache(ttl_ms: u64) -> CacheConfig {
    CacheConfig {
        ttl: Duration::from_millis(ttl_ms),
        miss_ttl: Duration::from_millis(ttl_ms),
        capacity: 1000,
    }
}

#[test]
fn one_mget_per_batch_and_a_short_cache() {
    let mut rng = Rng::new(seed());
    let catalog = Catalog::generate(&mut rng, 2, 5);
    let mut redis = RedisKeys::new();
    redis.load_catalog(&catalog);
    let user = catalog.users[0].id.clone();
    let restaurant = catalog.restaurants[0].id.clone();
    let missing = rng.object_id();

    let mut dict = RedisDictionary::new(&redis_config(), cache(1500)).expect("dictionary");
    let found = dict
        .lookup(
            [user.as_str(), user.as_str(), missing.as_str()],
            [restaurant.as_str()],
        )
        .expect("lookup");
    assert_eq!(found.user(&user), Some(&catalog.users[0]));
    assert_eq!(found.restaurant(&restaurant), Some(&catalog.restaurants[0]));
    assert_eq!(found.user(&missing), None);
    let stats = dict.stats();
    assert_eq!(
        (stats.mgets, stats.keys_fetched),
        (1, 3),
        "one MGET, distinct keys"
    );

    // Again within the TTL: nothing asked of Redis (remembered misses included).
    let found = dict
        .lookup([user.as_str(), missing.as_str()], [restaurant.as_str()])
        .expect("lookup");
    assert_eq!(
        found.user(&user).map(|u| u.name.as_str()),
        Some(catalog.users[0].name.as_str())
    );
    assert_eq!(dict.stats().mgets, 1);
    assert_eq!(dict.stats().cache_hits, 3);

    // The entry changes in Redis: still the cached value within the TTL …
    redis.set(&user, user_json(&user, "Новое Имя"));
    let cached = dict.lookup([user.as_str()], []).expect("lookup");
    assert_eq!(
        cached.user(&user).map(|u| u.name.as_str()),
        Some(catalog.users[0].name.as_str())
    );
    assert_eq!(dict.stats().mgets, 1);
    // … and the new one after it.
    std::thread::sleep(Duration::from_millis(1700));
    let fresh = dict.lookup([user.as_str()], []).expect("lookup");
    assert_eq!(
        fresh.user(&user).map(|u| u.name.as_str()),
        Some("Новое Имя")
    );
    assert_eq!(dict.stats().mgets, 2);

    // A whole batch of orders: one MGET for all the ids it does not have yet.
    let placed = Timestamp::parse("2024-10-01 12:00:00").expect("timestamp");
    let orders: Vec<SourceOrder> = (0..40)
        .filter_map(|i| catalog.order_history(&mut rng, i, placed, 0.0).pop())
        .collect();
    let mut fresh_dict = RedisDictionary::new(&redis_config(), cache(30_000)).expect("dictionary");
    let enriched = fresh_dict.enrich_batch(&orders).expect("enrich");
    assert_eq!(fresh_dict.stats().mgets, 1);
    assert_eq!(enriched.len(), orders.len());
    for (order, result) in orders.iter().zip(&enriched) {
        let enriched = result.as_ref().expect("known ids");
        assert_eq!(enriched.object_id, order.object_id);
        assert_eq!(
            enriched.payload.products.len(),
            order.payload.order_items.len()
        );
    }
    fresh_dict.enrich_batch(&orders).expect("enrich");
    assert_eq!(
        fresh_dict.stats().mgets,
        1,
        "second batch served from the cache"
    );
}

#[test]
fn unknown_ids_are_reported_per_order() {
    let mut rng = Rng::new(seed());
    let catalog = Catalog::generate(&mut rng, 1, 3);
    let mut redis = RedisKeys::new();
    redis.load_catalog(&catalog);
    let placed = Timestamp::parse("2024-10-01 12:00:00").expect("timestamp");
    let good = catalog
        .order_history(&mut rng, 1, placed, 0.0)
        .pop()
        .expect("a version");
    let mut unknown_user = good.clone();
    unknown_user.payload.user.id = rng.object_id();
    let mut unknown_restaurant = good.clone();
    unknown_restaurant.payload.restaurant.id = rng.object_id();
    let mut unknown_item = good.clone();
    unknown_item.payload.order_items[0].id = rng.object_id();

    let mut dict = RedisDictionary::new(&redis_config(), CacheConfig::default()).expect("dict");
    let results = dict
        .enrich_batch(&[good, unknown_user, unknown_restaurant, unknown_item])
        .expect("enrich");
    let reasons: Vec<&str> = results
        .iter()
        .map(|r| r.as_ref().map_or_else(|e| e.reason(), |_| "ok"))
        .collect();
    assert_eq!(
        reasons,
        [
            "ok",
            "unknown_user",
            "unknown_restaurant",
            "unknown_menu_item"
        ]
    );
    assert_eq!(dict.stats().mgets, 1);
}

#[test]
fn an_invalid_entry_concerns_only_its_orders() {
    let mut rng = Rng::new(seed());
    let mut redis = RedisKeys::new();
    let not_json = rng.object_id();
    let no_name = rng.object_id();
    let other_id = rng.object_id();
    let good = rng.object_id();
    redis.set(&not_json, "{not json");
    redis.set(&no_name, format!(r#"{{"_id": "{no_name}"}}"#));
    redis.set(&other_id, user_json("someone-else", "Имя"));
    redis.set(&good, user_json(&good, "Имя"));

    let mut dict = RedisDictionary::new(&redis_config(), CacheConfig::default()).expect("dict");
    for (key, as_user) in [
        (&not_json, true),
        (&not_json, false),
        (&no_name, true),
        (&other_id, true),
    ] {
        let kind = if as_user {
            EntryKind::User
        } else {
            EntryKind::Restaurant
        };
        // The lookup itself goes through (the other entries of the batch are fine) ...
        let lookup = if as_user {
            dict.lookup([key.as_str(), good.as_str()], [])
        } else {
            dict.lookup([good.as_str()], [key.as_str()])
        }
        .expect("a lookup with an unusable entry in it");
        // ... and says which entry is unusable and why.
        let why = lookup.invalid(kind, key).expect("marked invalid");
        assert!(!why.is_empty());
        if as_user {
            assert!(lookup.user(&good).is_some(), "the good entry is there");
            assert!(lookup.user(key).is_none());
        }
    }
    // Not cached: still unusable on the next lookup, and usable at once once fixed.
    let again = dict.lookup([not_json.as_str()], []).expect("lookup");
    assert!(again.invalid(EntryKind::User, &not_json).is_some());
    redis.set(&not_json, user_json(&not_json, "Исправлено"));
    let fixed = dict.lookup([not_json.as_str()], []).expect("lookup");
    assert!(fixed.invalid(EntryKind::User, &not_json).is_none());
    assert_eq!(
        fixed.user(&not_json).map(|u| u.name.as_str()),
        Some("Исправлено")
    );
}

#[test]
fn a_lost_connection_is_reopened() {
    let mut rng = Rng::new(seed());
    let mut redis = RedisKeys::new();
    let id = rng.object_id();
    redis.set(&id, user_json(&id, "Имя"));

    let mut dict = RedisDictionary::new(&redis_config(), cache(0)).expect("dict");
    let first = dict.connection_id().expect("CLIENT ID");
    assert!(redis.writer().kill_client(first).expect("CLIENT KILL"));

    let found = dict
        .lookup([id.as_str()], [])
        .expect("reconnects by itself");
    assert_eq!(found.user(&id).map(|u| u.name.as_str()), Some("Имя"));
    assert_eq!(dict.stats().reconnects, 1);
    assert_eq!(dict.stats().connects, 2);
    assert_ne!(dict.connection_id().expect("CLIENT ID"), first);
}

#[test]
fn redis_down_is_a_retryable_error() {
    let mut config = redis_config();
    config.port = 1;
    config.timeout = Duration::from_millis(500);
    let mut dict = RedisDictionary::new(&config, CacheConfig::default()).expect("lazy");
    let err = dict
        .lookup(["0123456789abcdef01234567"], [])
        .expect_err("down");
    assert!(err.is_retryable(), "{err:?}");
    assert!(err.to_string().contains(":1"), "names the address: {err}");
    assert!(dict.ping().is_err());
}
