//! # streamvault-core (`vault_core`)
//!
//! A Data Vault 2.0 toolkit for Rust ETL code: declare your hubs, links and satellites, build
//! typed rows with deterministic keys, keep every satellite's history by the source's time, and
//! hand batches to an adapter (`streamvault-pg` writes the DDL, the loader and the history
//! views for any model declared here). No IO happens in this crate: no network, no database, no
//! async runtime, and no feature forced on your build.
//!
//! ```
//! use vault_core::{data_vault, DvRow, KeySpec, RowSet, Timestamp};
//!
//! data_vault! {
//!     /// Books, members and loans.
//!     pub struct LibraryRows<'a> {
//!         model: "library", schema: "library", load_src: "library-app";
//!         hubs {
//!             /// A book, by ISBN.
//!             h_book: HBook<'a> { h_book_pk; isbn: &'a str }
//!             /// A member, by card number.
//!             h_member: HMember { h_member_pk; card_no: i64 }
//!         }
//!         links {
//!             /// A loan: a member and a book.
//!             l_loan: LLoan { hk_loan_pk; h_book_pk -> h_book, h_member_pk -> h_member }
//!         }
//!         satellites {
//!             /// Where a book is, from the time the app says it moved there.
//!             s_book_state: SBookState<'a> {
//!                 hk_book_state_pk; h_book_pk -> h_book; state: &'a str, shelf: Option<&'a str>;
//!                 effective changed_at
//!             }
//!         }
//!     }
//! }
//!
//! let keys = KeySpec::SEED;
//! let at = |t: &str| Timestamp::parse(t);
//! let book = HBook::new(&keys, "978-5-17-090335-1"); // the key from the business key
//! let mut rows = LibraryRows::default();
//! // OUT → RETURNED → OUT, then the first message again (a replay).
//! for (state, shelf, time) in [("OUT", None, "2024-05-01T10:00:00Z"), ("RETURNED", Some("A3"), "2024-05-03 09:00:00"),
//!                              ("OUT", None, "2024-05-07 18:30:00"), ("OUT", None, "2024-05-01T10:00:00Z")] {
//!     rows.h_book.push(book.clone());
//!     rows.s_book_state.push(SBookState::new(&keys, book.isbn, book.h_book_pk, state, shelf, at(time)?));
//! }
//! assert_eq!(rows.s_book_state.len(), 3); // three periods; the replay adds nothing
//! assert_eq!(rows.s_book_state[0].key(), rows.s_book_state[2].key()); // the same value, twice
//! LibraryRows::MODEL.validate()?;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! * [`data_vault!`] declares a model; [`toolkit`] documents the rules (business keys,
//!   history, insert-once satellites, compile-time checks);
//! * [`KeySpec`] makes the keys: UUIDv5 over delimited material, byte-identical to Python's
//!   `uuid.uuid5` over the same material (the seed namespace is the original services');
//! * [`SqlValue`] is how a Rust type becomes a column (text, booleans, integers, floats, exact
//!   decimals ([`Amount`]), UUIDs, dates, [`Timestamp`]s, instants, JSON, `Option<T>`, and
//!   types of your own), and [`Column::material`] its key material.
//!
//! ## The order model
//!
//! The food-delivery pipeline of the streamvault services is a user of the toolkit like any
//! other: its messages ([`model`]), enrichment ([`enrich()`]), the Data Vault declared with
//! [`data_vault!`] and its builder ([`DvRows`], [`DvBatch`]), the order report ([`report`]) and
//! the exact counter projection of its datamarts ([`cdm`]).
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
//!
//! References of the form "contract §N" are to the pipeline's contract, `docs/contract.md` in
//! the project's repository.

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
