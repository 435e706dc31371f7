//! # vault-core
//!
//! The IO-free heart of vault, the food-delivery Data Vault pipeline: the order model
//! (docs/contract.md §2–§5.2), enrichment, deterministic UUIDv5 hub/link/satellite keys compatible
//! with the original Python services, the Data Vault row builders, and the CDM counter projection.
//!
//! No IO happens here: no network, no database, no async runtime. Adapters (`vault-pg`,
//! `vault-kafka`) and services build on it, and so can any other Rust ETL code.
//!
//! ```
//! use vault_core::{build_order, order_report, EnrichedOrder, KeySpec, Timestamp};
//!
//! let line = r#"{"object_id": 322519, "object_type": "order",
//!   "payload": {"id": 322519, "date": "2022-11-19 16:06:36", "update_ts": "2022-11-19 16:06:36",
//!     "cost": 300, "payment": 300, "status": "CLOSED",
//!     "restaurant": {"id": "626a81cfefa404208fe9abae", "name": "Кофейня №1"},
//!     "user": {"id": "626a81ce9a8cd1920641e296", "name": "Котова Ольга Вениаминовна", "login": "konstantin58"},
//!     "products": [{"id": "6276e8cd0cf48b4cded00878", "price": 180, "quantity": 1,
//!                   "name": "РОЛЛ С ТОФУ И ВЯЛЕНЫМИ ТОМАТАМИ", "category": "Выпечка"}]}}"#;
//! let order = EnrichedOrder::from_json(line.as_bytes())?;
//! let (rows, keys) = build_order(&order, KeySpec::SEED);
//! assert_eq!(rows.h_order[0].h_order_pk, KeySpec::SEED.hub("322519"));
//! assert_eq!(rows.len(), 14); // one row in each of the 14 tables
//! let report = order_report(&order, &keys, Timestamp::parse("2022-11-19 16:07:00")?);
//! assert_eq!(report.payload.products[0].category.name, "Выпечка");
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

pub mod amount;
pub mod cdm;
pub mod config;
pub mod dv;
pub mod enrich;
pub mod error;
pub mod keys;
pub mod model;
pub mod position;
pub mod reason;
pub mod report;
pub mod sample;
pub mod time;
pub mod toolkit;

// The toolkit's macro names this crate by its name, also from inside it.
extern crate self as vault_core;
#[doc(hidden)]
pub use serde;
#[doc(hidden)]
pub use uuid;

pub use amount::{Amount, AmountError};
pub use cdm::{
    project, CounterBatch, CounterDelta, CounterKey, CounterNames, LedgerEntry, Outcome, Projection,
};
pub use config::{env_from_pairs, ConfigError, Env};
pub use dv::{build_order, DvBatch, DvRows, OrderKeys, LOAD_SRC};
pub use enrich::{enrich, EnrichError};
pub use error::{decode_message, MessageError, MAX_MESSAGE_BYTES};
pub use keys::{Joining, KeySpec, DELIMITER, KEY_SPEC_VERSION, SEED_NAMESPACE};
pub use model::{
    raw_payload, EnrichedOrder, EnrichedPayload, EnrichedUser, IdRef, KeyedName, MenuItem,
    NamedRef, OrderReport, OrderStatus, Product, ReportPayload, ReportProduct, ReportUser,
    Restaurant, SourceItem, SourceOrder, SourcePayload, StatusEntry, User,
};
pub use position::Position;
pub use reason::DeadLetterReason;
pub use report::{order_report, vault_batch};
pub use time::{Timestamp, TimestampError};
pub use toolkit::{
    hashdiff, Column, ColumnDef, DvRow, ModelDef, ModelError, RowSet, RowVisitor, SqlType,
    SqlValue, Table, TableDef, TableKind,
};
