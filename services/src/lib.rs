//! The services of vault and the `vault` operator CLI.
//!
//! * the enrichment dictionary on Redis (docs/contract.md §3) is the `vault-redis` crate,
//!   re-exported here ([`RedisDictionary`], [`RedisConfig`], …);
//! * [`mod@replay`] — the backfill path: DDS and CDM rebuilt from `stg.order_events` without Kafka;
//! * [`retry`] — bounded retries with exponential backoff for transient faults;
//! * [`runner`] — the one batch runner the three services share; [`stages`] — their work;
//!   [`service`] — the process around it (config, logs, health, metrics, shutdown);
//! * [`ops`] — metrics, health endpoints, logging; [`shutdown`] — SIGTERM handling;
//! * [`simulate`], [`redrive`] — the source-system simulator and dead-letter re-drive;
//! * [`toolkit_guide`] — `docs/toolkit.md`: your own Data Vault, loaded by this runner (its
//!   code is compiled and run as doc tests);
//! * [`cli`] — the commands of the `vault` binary ([`cli::Command`]);
//! * [`build_info`] — the version and git revision every binary reports.

pub mod build_info;
pub mod cli;
pub mod clock;
pub mod exposition;
pub mod ops;
pub mod redrive;
pub mod replay;
pub mod retry;
pub mod runner;
pub mod service;
pub mod shutdown;
pub mod simulate;
pub mod stages;
pub mod watch;

#[doc = include_str!("../../docs/toolkit.md")]
pub mod toolkit_guide {}

pub use replay::{replay, Progress, ReplayError, ReplayOptions, ReplaySummary, Skipped};
pub use retry::RetryPolicy;
pub use vault_redis::{
    CacheConfig, DictionaryError, DictionaryStats, EntryKind, Lookup, RedisConfig, RedisDictionary,
    RedisWriter,
};
