//! # vault-redis
//!
//! The Redis side of vault: the enrichment dictionary (contract §3), where plain string
//! keys are entity ids and values are JSON.
//!
//! * [`RedisConfig`] — the `REDIS_*` variables of contract §7.4;
//! * [`RedisDictionary`] — resolves the distinct user and restaurant ids of a whole batch with
//!   **one** `MGET`, minus what its in-process cache ([`CacheConfig`]: short TTL, bounded)
//!   already holds, so repeated ids do not hit Redis and a changed entry is picked up soon;
//! * [`Lookup`] — what a batch's lookup found, and [`Lookup::enrich`] for an order;
//! * [`RedisWriter`] — writes entries (the simulator, `vault simulate`, tests).
//!
//! Faults are told apart ([`DictionaryError::is_retryable`]): Redis unreachable or the
//! connection lost (retryable; the connection is reopened on the next call), the server refusing
//! us (configuration, not retryable). An entry that is present but unusable concerns only the
//! orders that reference it: [`Lookup::invalid`] names it, never a silent miss. An id that is
//! simply absent is not an error: enrichment reports it as `unknown_user` /
//! `unknown_restaurant`.
//!
//! "Contract §N" refers to the streamvault pipeline's contract (`docs/contract.md` in the
//! source repository): its dictionary, messages and variables.

mod cache;
mod client;
mod config;
mod error;
mod lookup;
mod writer;

pub use cache::CacheConfig;
pub use client::{DictionaryStats, RedisDictionary};
pub use config::{RedisConfig, RedisConfigBuilder};
pub use error::DictionaryError;
pub use lookup::{DictionaryEntry, EntryKind, Lookup};
pub use writer::RedisWriter;
