//! The test and benchmark kit of vault (dev-only, not published): what the integration tests of
//! every crate, the benchmarks and the end-to-end runs share, so that each is written once.
//!
//! * [`require_env`], [`require_servers`], [`unique`], [`seed`]: the servers `scripts/test`
//!   starts and exports (`PG_WAREHOUSE_*`, `REDIS_*`, `KAFKA_*`) — without them a test fails and
//!   says so, it never skips — and names no other test uses;
//! * [`db::TestDb`]: a database of a test's own, dropped at the end;
//! * [`redis::RedisKeys`]: Redis keys a test set, deleted at the end;
//! * [`kafka`]: the broker ([`kafka::Broker`]), a test's topics ([`kafka::Topics`]), reading a
//!   topic back and a group's uncommitted messages;
//! * [`stack::KafkaStack`]: a Kafka cluster of a test's own, for the tests that crash, stop or
//!   freeze brokers; [`proxy::Proxy`]: a TCP proxy to cut a server's connections;
//! * [`ports`], [`http`], [`process`]: free ports, an HTTP probe with the metrics scrape, and a
//!   supervised child process ([`process::Service`]) with its log and `/proc` figures;
//! * [`pipeline::Pipeline`]: the three services as processes on a test's database and topics,
//!   with bounded waits that fail with every service's log.
//!
//! Everything a test creates is removed when its value goes out of scope, also when the test
//! fails (logs and, for a failed fault test, the broker's data are kept and their place printed).

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use vault_core::orders::SourceOrder;
use vault_core::pipeline::Env;
use vault_pg::PgConfig;
use vault_redis::RedisConfig;

pub mod db;
pub mod http;
pub mod kafka;
pub mod pipeline;
pub mod ports;
pub mod process;
pub mod proxy;
pub mod redis;
pub mod stack;

pub use db::TestDb;
pub use redis::RedisKeys;

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

/// The process environment as `vault_core::pipeline::Env` (what the services read their settings from).
pub fn process_env() -> Env<impl Fn(&str) -> Option<String>> {
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

/// Every server the tests need, checked up front so that a missing one fails with the hint to
/// run via `scripts/test`.
pub fn require_servers() {
    for name in [
        "KAFKA_HOST",
        "KAFKA_PORT",
        "PG_WAREHOUSE_HOST",
        "PG_WAREHOUSE_PORT",
        "PG_WAREHOUSE_USER",
        "REDIS_HOST",
        "REDIS_PORT",
    ] {
        require_env(name);
    }
}

/// The source message of an order (docs/contract.md §2), as the source system sends it.
pub fn message(order: &SourceOrder) -> Vec<u8> {
    serde_json::to_vec(order).expect("serialise an order")
}
