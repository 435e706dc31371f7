//! Helpers of the integration tests. They run against the real PostgreSQL, Redis and broker
//! whose settings `scripts/test` exports (`PG_WAREHOUSE_*`, `REDIS_*`, `KAFKA_*`); without them
//! the tests fail and say so. [`pipeline`] runs the services as processes, [`expected`] computes
//! what a simulated run must leave in the warehouse. Every test gets its own database (dropped
//! at the end, also when the test fails) and removes the Redis keys it set.
// Helpers shared by the test binaries of this crate, not an API: each binary uses a different
// part, and `pub` is for the binaries.
#![allow(dead_code, unreachable_pub)]

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use serde_json::Value;
use vault_core::sample::{Catalog, Rng};
use vault_core::{
    enrich, order_report, raw_payload, DvBatch, EnrichedOrder, Env, KeySpec, OrderReport,
    SourceOrder, Timestamp,
};
use vault_pg::stg::StgEvent;
use vault_pg::{PgConfig, PooledClient, Warehouse};
use vault_services::{RedisConfig, RedisWriter};

pub mod expected;
pub mod pipeline;
pub mod proxy;
pub mod scenario;
pub mod stack;

/// The value of a variable the tests cannot run without.
pub fn require_env(name: &str) -> String {
    match std::env::var(name) {
        Ok(value) if !value.trim().is_empty() => value,
        _ => panic!(
            "{name} is not set: these tests need the local PostgreSQL, Redis and Apache \
             Kafka; run them via scripts/test (it starts the servers and exports \
             PG_WAREHOUSE_*, REDIS_*, KAFKA_*), or `eval \"$(scripts/stack env)\"` first"
        ),
    }
}

fn process_env() -> Env<impl Fn(&str) -> Option<String>> {
    Env::new(|name: &str| std::env::var(name).ok())
}

/// The warehouse settings of the environment (the `vault` database).
pub fn pg_config() -> PgConfig {
    require_env("PG_WAREHOUSE_HOST");
    PgConfig::from_env(&process_env()).expect("PG_WAREHOUSE_* settings")
}

/// The Redis settings of the environment.
pub fn redis_config() -> RedisConfig {
    require_env("REDIS_HOST");
    RedisConfig::from_env(&process_env()).expect("REDIS_* settings")
}

/// A name no other test (or run) uses: `<tag>_<pid>_<time>_<n>`, lower-case `[a-z0-9_]`.
pub fn unique(tag: &str) -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    format!(
        "{tag}_{}_{:x}_{}",
        std::process::id(),
        nanos % (1 << 48),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    )
}

/// A seed for the sample generator, printed so that a failure can be reproduced.
pub fn seed() -> u64 {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64);
    let seed = nanos ^ (u64::from(std::process::id()) << 32);
    eprintln!("sample seed: {seed}");
    seed
}

fn database_sql(template: &str, database: &str) -> String {
    assert!(
        database.len() <= 63
            && database
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_'),
        "test database name {database:?}"
    );
    template.replace("{database}", database)
}

/// A database of its own for one test, created through the `vault` database and dropped
/// (`WITH (FORCE)`) when the value goes out of scope.
pub struct TestDb {
    /// Its name.
    pub name: String,
    /// Settings pointing at it.
    pub config: PgConfig,
    /// A pool on it.
    pub warehouse: Warehouse,
    admin: Warehouse,
}

impl TestDb {
    /// A new, migrated database.
    pub fn new(tag: &str) -> Self {
        let db = Self::empty(tag);
        db.warehouse.migrate().expect("migrate the test database");
        db
    }

    /// A new database without any schema.
    pub fn empty(tag: &str) -> Self {
        let base = pg_config();
        let name = unique(&format!("vault_test_{tag}"));
        let admin = Warehouse::new(&base).expect("admin pool");
        admin
            .client()
            .expect("connect to the vault database")
            .batch_execute(&database_sql(
                include_str!("../sql/create_database.sql"),
                &name,
            ))
            .expect("create the test database");
        let config = base.with_dbname(&name);
        let warehouse = Warehouse::new(&config).expect("test pool");
        TestDb {
            name,
            config,
            warehouse,
            admin,
        }
    }

    /// A connection to it.
    pub fn client(&self) -> PooledClient {
        self.warehouse
            .client()
            .expect("connect to the test database")
    }

    /// `(table, row)` pairs of a snapshot query (`tests/sql/*_snapshot.sql`).
    pub fn snapshot(&self, sql: &str) -> Vec<(String, Value)> {
        self.client()
            .query(sql, &[])
            .expect("snapshot query")
            .iter()
            .map(|row| {
                let table: String = row.get(0);
                let json: String = row.get(1);
                let value = serde_json::from_str(&json).expect("to_jsonb gives JSON");
                (table, value)
            })
            .collect()
    }

    /// Every Data Vault row, `load_dt` included or not.
    pub fn dds(&self, with_load_dt: bool) -> Vec<(String, Value)> {
        let mut rows = self.snapshot(include_str!("../sql/dds_snapshot.sql"));
        if !with_load_dt {
            for (_, row) in &mut rows {
                if let Value::Object(map) = row {
                    map.remove("load_dt");
                }
            }
            rows.sort_by_key(|(table, row)| (table.clone(), row.to_string()));
        }
        rows
    }

    /// Every datamart row and ledger entry.
    pub fn cdm(&self) -> Vec<(String, Value)> {
        self.snapshot(include_str!("../sql/cdm_snapshot.sql"))
    }

    /// `(h_order_pk, status)` of every order's latest status.
    pub fn latest_statuses(&self) -> Vec<(String, String)> {
        self.client()
            .query(include_str!("../sql/latest_status.sql"), &[])
            .expect("latest statuses")
            .iter()
            .map(|row| (row.get(0), row.get(1)))
            .collect()
    }

    /// Counters that differ from the recomputation from DDS.
    pub fn mismatches(&self) -> Vec<vault_pg::check::Mismatch> {
        vault_pg::check::cdm_mismatches(&mut *self.client()).expect("cdm check")
    }

    /// Upserts raw orders into `stg.order_events` as the STG service does.
    pub fn stg_upsert(&self, orders: &[SourceOrder]) {
        let messages: Vec<Vec<u8>> = orders.iter().map(message).collect();
        let mut client = self.client();
        let mut tx = client.transaction().expect("begin");
        let events: Vec<StgEvent<'_>> = orders
            .iter()
            .zip(&messages)
            .map(|(order, bytes)| StgEvent::new(order, raw_payload(bytes).expect("payload")))
            .collect();
        vault_pg::stg::upsert(&mut tx, &events).expect("stg upsert");
        tx.commit().expect("commit");
    }

    /// Stores a raw row as it is (a corrupted or foreign row, say).
    pub fn stg_raw(&self, event: StgEvent<'_>) {
        let mut client = self.client();
        let mut tx = client.transaction().expect("begin");
        vault_pg::stg::upsert(&mut tx, &[event]).expect("stg upsert");
        tx.commit().expect("commit");
    }

    /// One batch through the writers, as the live services do it: raw layer, enrichment (from
    /// the catalog itself), Data Vault rows and order reports, all in one transaction.
    pub fn write_like_services(&self, catalog: &Catalog, orders: &[SourceOrder]) {
        let messages: Vec<Vec<u8>> = orders.iter().map(message).collect();
        let events: Vec<StgEvent<'_>> = orders
            .iter()
            .zip(&messages)
            .map(|(order, bytes)| StgEvent::new(order, raw_payload(bytes).expect("payload")))
            .collect();
        let enriched: Vec<EnrichedOrder> = orders
            .iter()
            .map(|o| {
                let p = &o.payload;
                enrich(
                    o,
                    catalog.user(&p.user.id),
                    catalog.restaurant(&p.restaurant.id),
                )
                .expect("the catalog knows every id")
            })
            .collect();
        let sent = Timestamp::parse("2024-10-01 00:00:00").expect("timestamp");
        let mut batch = DvBatch::new(KeySpec::SEED);
        let reports: Vec<OrderReport> = enriched
            .iter()
            .map(|o| order_report(o, &batch.add(o), sent))
            .collect();
        let rows = batch.into_rows();
        let mut client = self.client();
        let mut tx = client.transaction().expect("begin");
        vault_pg::stg::upsert(&mut tx, &events).expect("stg upsert");
        vault_pg::dds::write(&mut tx, &rows).expect("dds write");
        vault_pg::cdm::apply(&mut tx, &reports).expect("cdm apply");
        tx.commit().expect("commit");
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        let sql = database_sql(include_str!("../sql/drop_database.sql"), &self.name);
        let dropped = self
            .admin
            .client()
            .map_err(|e| e.to_string())
            .and_then(|mut c| c.batch_execute(&sql).map_err(|e| e.to_string()));
        if let Err(err) = dropped {
            eprintln!("could not drop test database {}: {err}", self.name);
        }
    }
}

/// The source message of an order (docs/contract.md §2), as the source system sends it.
pub fn message(order: &SourceOrder) -> Vec<u8> {
    serde_json::to_vec(order).expect("serialise an order")
}

/// Redis keys a test set; deleted when the value goes out of scope.
pub struct RedisKeys {
    writer: RedisWriter,
    keys: Vec<String>,
}

impl RedisKeys {
    /// A connection for fixtures.
    pub fn new() -> Self {
        RedisKeys {
            writer: RedisWriter::new(&redis_config()).expect("Redis settings"),
            keys: Vec::new(),
        }
    }

    /// `SET key value` (any bytes: broken entries too).
    pub fn set(&mut self, key: &str, value: impl AsRef<[u8]>) {
        self.writer.put_raw(&[(key, value.as_ref())]).expect("SET");
        self.keys.push(key.to_owned());
    }

    /// Every user and restaurant of the catalog under its id (docs/contract.md §3), through
    /// the simulator's loader.
    pub fn load_catalog(&mut self, catalog: &Catalog) {
        let keys = vault_services::simulate::load_dictionaries(&mut self.writer, catalog)
            .expect("load the dictionaries");
        assert_eq!(keys, catalog.users.len() + catalog.restaurants.len());
        self.keys.extend(catalog.users.iter().map(|u| u.id.clone()));
        self.keys
            .extend(catalog.restaurants.iter().map(|r| r.id.clone()));
    }

    /// Keys set by other means (`simulate::load_dictionaries`, say), to delete at the end too.
    pub fn track(&mut self, keys: impl IntoIterator<Item = String>) {
        self.keys.extend(keys);
    }

    /// The fixture connection (to load dictionaries or kill clients, say).
    pub fn writer(&mut self) -> &mut RedisWriter {
        &mut self.writer
    }
}

impl Drop for RedisKeys {
    fn drop(&mut self) {
        for chunk in self.keys.chunks(500) {
            let keys: Vec<&str> = chunk.iter().map(String::as_str).collect();
            if let Err(err) = self.writer.delete(&keys) {
                eprintln!("could not delete test keys from Redis: {err}");
            }
        }
    }
}

/// A catalog and orders with their version histories, in arrival order.
pub struct Scenario {
    /// The dictionaries.
    pub catalog: Catalog,
    /// Every version of every order, grouped in batches as they would arrive.
    pub batches: Vec<Vec<SourceOrder>>,
    /// Order ids.
    pub order_ids: Vec<i64>,
}

impl Scenario {
    /// `orders` orders over a small catalog; each has its full history (OPEN … CLOSED, some
    /// cancelled after closing), versions arrive in `update_ts` order in batches of
    /// `batch_size`, then one more batch re-sends every 7th version (duplicates, stale ones).
    pub fn generate(rng: &mut Rng, orders: usize, batch_size: usize) -> Self {
        let catalog = Catalog::generate(rng, 4, 80);
        let start = Timestamp::parse("2024-09-30 08:00:00").expect("timestamp");
        let first_id = 1_000_000 + rng.below(1_000_000) as i64;
        let mut versions: Vec<SourceOrder> = Vec::new();
        let mut order_ids = Vec::new();
        for i in 0..orders {
            let id = first_id + i as i64;
            let placed = start.plus(chrono::Duration::minutes(rng.below(24 * 60) as i64));
            versions.extend(catalog.order_history(rng, id, placed, 0.25));
            order_ids.push(id);
        }
        versions.sort_by_key(|o| o.payload.update_ts);
        let resent: Vec<SourceOrder> = versions.iter().step_by(7).cloned().collect();
        let mut batches: Vec<Vec<SourceOrder>> =
            versions.chunks(batch_size).map(<[_]>::to_vec).collect();
        batches.push(resent);
        Scenario {
            catalog,
            batches,
            order_ids,
        }
    }

    /// The latest version of every order.
    pub fn latest(&self) -> Vec<SourceOrder> {
        let mut latest: std::collections::BTreeMap<i64, SourceOrder> = Default::default();
        for order in self.batches.iter().flatten() {
            let older = matches!(latest.get(&order.object_id),
                Some(kept) if kept.payload.update_ts > order.payload.update_ts);
            if !older {
                latest.insert(order.object_id, order.clone());
            }
        }
        latest.into_values().collect()
    }
}
