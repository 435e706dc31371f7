//! A database of a test's own on the stack's PostgreSQL, and what the tests read from it.

use serde_json::Value;
use vault_core::orders::sample::Catalog;
use vault_core::orders::{raw_payload, vault_batch, EnrichedOrder, SourceOrder};
use vault_core::{KeySpec, Timestamp};
use vault_pg::stg::StgEvent;
use vault_pg::{PgConfig, PooledClient, Warehouse};

use crate::{message, pg_config, unique};

pub(crate) fn database_sql(template: &str, database: &str) -> String {
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
    keep: bool,
}

impl std::fmt::Debug for TestDb {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TestDb").field("name", &self.name).finish()
    }
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
        Self::empty_on(pg_config(), tag)
    }

    /// A new, migrated database on the server(s) of `base` (a [`crate::stack::PgPair`], say).
    pub fn new_on(base: PgConfig, tag: &str) -> Self {
        let db = Self::empty_on(base, tag);
        db.warehouse.migrate().expect("migrate the test database");
        db
    }

    fn empty_on(base: PgConfig, tag: &str) -> Self {
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
            keep: false,
        }
    }

    /// Makes the database read-only for every new session (`default_transaction_read_only`),
    /// or writable again, as a managed PostgreSQL does during a switchover; sessions already
    /// open keep what they had (see [`TestDb::cut_sessions`]).
    pub fn set_read_only(&self, read_only: bool) {
        let setting = if read_only { "on" } else { "off" };
        self.admin
            .client()
            .expect("connect to the vault database")
            .batch_execute(
                &database_sql(include_str!("../sql/read_only_database.sql"), &self.name)
                    .replace("{setting}", setting),
            )
            .unwrap_or_else(|e| panic!("default_transaction_read_only = {setting}: {e}"));
    }

    /// Cuts every session on the database (`pg_terminate_backend`); returns how many.
    pub fn cut_sessions(&self) -> i64 {
        self.admin
            .client()
            .expect("connect to the vault database")
            .query_one(include_str!("../sql/terminate_sessions.sql"), &[&self.name])
            .and_then(|row| row.try_get(0))
            .unwrap_or_else(|e| panic!("terminate the sessions on {}: {e}", self.name))
    }

    /// Keeps the database at the end (for a look after a bench run); its name is printed.
    pub fn keep(&mut self) {
        self.keep = true;
    }

    /// A connection to it.
    pub fn client(&self) -> PooledClient {
        self.warehouse
            .client()
            .expect("connect to the test database")
    }

    /// The single `bigint` value of a query (`SELECT count(*) …`).
    pub fn scalar(&self, sql: &str) -> i64 {
        self.client()
            .query_one(sql, &[])
            .unwrap_or_else(|e| panic!("{sql}: {e}"))
            .get(0)
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

    /// Every row of the 14 original Data Vault tables, `load_dt` included or not.
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

    /// Every row of the effectivity satellites (the original services had none: [`TestDb::dds`]
    /// leaves them out), without `load_dt`.
    pub fn dds_effectivity(&self) -> Vec<(String, Value)> {
        let mut rows = self.snapshot(include_str!("../sql/dds_patterns_snapshot.sql"));
        for (_, row) in &mut rows {
            if let Value::Object(map) = row {
                map.remove("load_dt");
            }
        }
        rows.sort_by_key(|(table, row)| (table.clone(), row.to_string()));
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
        let events = stg_events(orders, &messages);
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
        let events = stg_events(orders, &messages);
        let enriched: Vec<EnrichedOrder> = orders
            .iter()
            .map(|o| catalog.enrich(o).expect("the catalog knows every id"))
            .collect();
        let sent = Timestamp::parse("2024-10-01 00:00:00").expect("timestamp");
        let (batch, reports) = vault_batch(KeySpec::SEED, &enriched, sent);
        let rows = batch.into_rows();
        let mut client = self.client();
        let mut tx = client.transaction().expect("begin");
        vault_pg::stg::upsert(&mut tx, &events).expect("stg upsert");
        vault_pg::dds::write(&mut tx, &rows).expect("dds write");
        vault_pg::cdm::apply(&mut tx, &reports).expect("cdm apply");
        tx.commit().expect("commit");
    }
}

/// The raw-layer rows of `orders`, whose source messages are `messages`.
fn stg_events<'a>(orders: &'a [SourceOrder], messages: &'a [Vec<u8>]) -> Vec<StgEvent<'a>> {
    orders
        .iter()
        .zip(messages)
        .map(|(order, bytes)| StgEvent::new(order, raw_payload(bytes).expect("payload")))
        .collect()
}

impl Drop for TestDb {
    fn drop(&mut self) {
        if self.keep {
            eprintln!("kept database {}", self.name);
            return;
        }
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
