//! # vault-pg
//!
//! The PostgreSQL side of vault, on the synchronous `postgres` client and an `r2d2` pool:
//!
//! * [`migrate`] — versioned `.sql` migrations, applied in one transaction under an advisory lock;
//! * [`stg`] — batch upsert of raw orders into `stg.order_events` (a stale version never wins);
//! * [`model`] — any declared Data Vault model (`vault_core::data_vault!`): its DDL (tables,
//!   keys, foreign keys, indexes, a `_current` view per satellite) and its loader, one
//!   statement per table per batch (`unnest` arrays), insert-only;
//! * [`dds`] — the order model's writer on that loader, rows deduplicated in memory first by
//!   `vault_core::orders::DvBatch`;
//! * [`cdm`] — the exact counter applier: a per-order ledger plus the three datamarts and the
//!   daily datamart with money, updated in the same transaction from `vault_core`'s projection;
//! * [`positions`] — the Kafka positions a batch consumed, recorded in the batch's transaction;
//! * [`dead_letters`] — the dead letters a batch decided, recorded in the batch's transaction and
//!   produced only once it committed;
//! * [`check`] — the datamarts compared with their recomputation from the Data Vault;
//! * [`top`] — the top rows of each datamart (`vault top`);
//! * [`bi`] — what `vault report` draws, read from the analysts' schema `bi`.
//!
//! Writers take a `&mut postgres::Transaction` so that the caller decides what one transaction
//! holds (a service: one batch, its positions, then downstream acks before commit).
//! All SQL lives in the crate's `sql/` and `migrations/` directories, which the package ships.
//!
//! "Contract §N" refers to the streamvault pipeline's contract (`docs/contract.md` in the
//! source repository): its messages, tables and variables.

pub mod bi;
pub mod cdm;
pub mod check;
pub mod config;
pub mod dds;
pub mod dead_letters;
pub mod error;
pub mod migrate;
pub mod model;
pub mod pool;
pub mod positions;
pub mod stg;
pub mod top;

pub use config::{PgConfig, PgConfigBuilder, SessionAttrs, SslMode};
pub use error::{classify, Fault, PgError};
pub use pool::{PooledClient, Warehouse};
pub use postgres::{Client, Transaction};
