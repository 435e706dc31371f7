//! Shared helpers of the vault-pg integration tests: a fresh, migrated database per test on the
//! PostgreSQL that `scripts/stack` started (the tests fail, not skip, when it is not there).

#![allow(dead_code)]
// Helpers shared by the test binaries of this crate, not an API.
#![allow(unreachable_pub)]

use std::sync::atomic::{AtomicUsize, Ordering};

use vault_core::sample::{Catalog, Rng};
use vault_core::{enrich, EnrichedOrder, Env, SourceOrder, Timestamp};
use vault_pg::{PgConfig, Warehouse};

/// The stack's connection settings.
pub fn config() -> PgConfig {
    PgConfig::from_env(&Env::new(|name: &str| std::env::var(name).ok())).unwrap_or_else(|err| {
        panic!("{err}: run the tests through scripts/test, which starts PostgreSQL (scripts/stack)")
    })
}

/// A database of its own for one test, migrated; dropped at the end.
pub struct TestDb {
    pub name: String,
    pub warehouse: Warehouse,
    admin: PgConfig,
}

impl TestDb {
    pub fn new(hint: &str) -> Self {
        let db = Self::empty(hint);
        db.warehouse.migrate().expect("migrate the test database");
        db
    }

    /// Created but not migrated.
    pub fn empty(hint: &str) -> Self {
        static COUNTER: AtomicUsize = AtomicUsize::new(0);
        let admin = config();
        let name = format!(
            "vault_test_{hint}_{}_{}",
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::SeqCst)
        );
        let mut client = admin
            .client_config()
            .connect(postgres::NoTls)
            .unwrap_or_else(|err| {
                panic!(
                    "cannot reach PostgreSQL at {}:{}: {err}; run scripts/test",
                    admin.host, admin.port
                )
            });
        client
            .batch_execute(&format!("CREATE DATABASE {name}"))
            .expect("create test database");
        let config = admin.with_dbname(&name);
        let warehouse = Warehouse::new(&config).expect("pool");
        TestDb {
            name,
            warehouse,
            admin,
        }
    }

    pub fn client(&self) -> vault_pg::PooledClient {
        self.warehouse.client().expect("connection")
    }

    /// The single value of a query.
    pub fn scalar(&self, sql: &str) -> i64 {
        self.client().query_one(sql, &[]).expect(sql).get(0)
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        if let Ok(mut client) = self.admin.client_config().connect(postgres::NoTls) {
            let _ = client.batch_execute(&format!(
                "DROP DATABASE IF EXISTS {} WITH (FORCE)",
                self.name
            ));
        }
    }
}

/// Every version of `orders` generated orders, enriched from a generated catalog, oldest version
/// of each order first; versions of different orders interleave as they would on a topic.
pub fn enriched_histories(seed: u64, orders: usize, cancel_after_close: f64) -> Vec<EnrichedOrder> {
    let mut rng = Rng::new(seed);
    let catalog = Catalog::generate(&mut rng, 6, 200);
    let start = Timestamp::parse("2024-01-01 10:00:00").expect("timestamp");
    let mut versions: Vec<SourceOrder> = Vec::new();
    for i in 0..orders {
        let placed = start.plus(chrono::Duration::minutes(i as i64));
        versions.extend(catalog.order_history(
            &mut rng,
            1_000 + i as i64,
            placed,
            cancel_after_close,
        ));
    }
    versions.sort_by_key(|v| (v.payload.update_ts, v.object_id));
    versions
        .iter()
        .map(|v| {
            enrich(
                v,
                catalog.user(&v.payload.user.id),
                catalog.restaurant(&v.payload.restaurant.id),
            )
            .expect("generated orders are enrichable")
        })
        .collect()
}
