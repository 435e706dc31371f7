//! The order model of the streamvault services: a user of the toolkit like any other.
//!
//! A food-delivery aggregator's orders arrive as JSON ([`model`]), are enriched from the
//! dictionaries of users and restaurants ([`enrich()`]), loaded into a Data Vault declared with
//! [`data_vault!`](crate::data_vault) ([`dv`]: 14 tables whose keys are byte-identical to the
//! original Python services), published as an order report ([`report`]), and counted into
//! datamarts exactly under at-least-once delivery ([`cdm`]). [`sample`] generates realistic
//! orders and dictionaries for tests and benchmarks.
//!
//! ```
//! use vault_core::orders::{build_order, order_report, EnrichedOrder};
//! use vault_core::{KeySpec, Timestamp};
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
//! assert_eq!(rows.len(), 16); // one row in each of the original 14 tables, and 2 effectivity rows
//! let report = order_report(&order, &keys, Timestamp::parse("2022-11-19 16:07:00")?);
//! assert_eq!(report.payload.products[0].category.name, "Выпечка");
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! References of the form "contract §N" are to the pipeline's contract, `docs/contract.md` in
//! the project's repository.

pub mod cdm;
pub mod dv;
pub mod enrich;
pub mod model;
pub mod report;
pub mod sample;

pub use cdm::{
    project, CounterBatch, CounterDelta, CounterKey, CounterNames, DayDelta, LedgerEntry, Outcome,
    Projection,
};
pub use dv::{build_order, DvBatch, DvRows, OrderKeys, LOAD_SRC};
pub use enrich::{enrich, EnrichError};
pub use model::{
    raw_payload, EnrichedOrder, EnrichedPayload, EnrichedUser, IdRef, KeyedName, MenuItem,
    NamedRef, OrderReport, OrderStatus, Product, ReportPayload, ReportProduct, ReportUser,
    Restaurant, SourceItem, SourceOrder, SourcePayload, StatusEntry, User,
};
pub use report::{order_report, vault_batch};
