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
//!     rows.s_book_state.push(SBookState::new(&keys, &book, state, shelf, at(time)?));
//! }
//! let member = HMember::new(&keys, 7);
//! rows.l_loan.push(LLoan::new(&keys, &book, &member)); // the key from the hubs' business keys
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
//! ## Also in this crate
//!
//! * [`orders`]: the food-delivery pipeline of the streamvault services, a user of the toolkit
//!   like any other (its messages, enrichment, its 14-table Data Vault and builder, the order
//!   report and the exact counter projection of its datamarts);
//! * [`pipeline`]: what the streamvault services share with their adapters (configuration
//!   variables, their stages, partition positions, refused messages and dead-letter reasons).

pub mod amount;
pub mod keys;
pub mod orders;
pub mod pipeline;
pub mod time;
pub mod toolkit;

// The toolkit's macro names this crate by its name, also from inside it.
extern crate self as vault_core;
#[doc(hidden)]
pub use serde;
#[doc(hidden)]
pub use uuid;

pub use amount::{Amount, AmountError};
pub use keys::{Joining, KeySpec, DELIMITER, KEY_SPEC_VERSION, SEED_NAMESPACE};
pub use time::{Timestamp, TimestampError};
pub use toolkit::{
    hashdiff, BridgeDef, BridgeStep, Column, ColumnDef, DvRow, Linked, ModelDef, ModelError,
    Parent, PitDef, RowSet, RowVisitor, SqlType, SqlValue, Table, TableDef, TableKind,
};
