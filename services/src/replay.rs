//! The backfill path: DDS and CDM rebuilt from the raw layer (`stg.order_events`) without Kafka.
//!
//! Pages through `stg.order_events` in `object_id` order. For each page: parse every row as the
//! STG service did, enrich the orders with one dictionary lookup, build the Data Vault rows and
//! the order reports, and write both in **one** transaction (`vault_pg::dds::write` +
//! `vault_pg::cdm::apply`). DDS is insert-only and CDM goes through its ledger, so a replay is
//! idempotent: running it again changes nothing (every CDM outcome is then a duplicate).
//!
//! Rows that cannot be parsed or enriched are never dropped silently: the summary counts them
//! by reason and keeps the first few as examples. Transient faults of PostgreSQL or Redis are
//! retried with backoff (bounded), then the replay stops with an error saying what and where;
//! since each page is one transaction, running it again resumes safely.
//!
//! The raw layer keeps one row per order (its newest version), so a replay rebuilds the
//! *latest* state of each order: `dds.s_order_status` and `dds.s_order_cost` get the latest
//! version's row of each order, not the periods of intermediate versions the live services may
//! have seen (their effective time is the order version's).

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use vault_core::orders::{vault_batch, EnrichedOrder, SourceOrder};
use vault_core::KeySpec;
use vault_pg::cdm::ApplyStats;
use vault_pg::error::Context;
use vault_pg::stg::StoredOrder;
use vault_pg::{PgError, Warehouse};

use crate::retry::{Failed, RetryPolicy};
use vault_redis::{DictionaryError, DictionaryStats, RedisDictionary};

/// How to replay.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReplayOptions {
    /// Raw orders per page, hence per transaction (default 1000, at least 1).
    pub page_size: u32,
    /// Retries of transient PostgreSQL and Redis faults, per step of a page.
    pub retry: RetryPolicy,
    /// How many skipped rows to keep as examples (default 10).
    pub max_examples: usize,
    /// The key spec of the warehouse (default [`KeySpec::SEED`], the original services' keys).
    pub keys: KeySpec,
}

impl Default for ReplayOptions {
    fn default() -> Self {
        ReplayOptions {
            page_size: 1000,
            retry: RetryPolicy::default(),
            max_examples: 10,
            keys: KeySpec::SEED,
        }
    }
}

/// Where a replay is, for a progress bar.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Progress {
    /// Raw orders processed so far (replayed or skipped).
    pub done: u64,
    /// Raw orders to process: the count when the replay started (raised if more arrived).
    pub total: u64,
    /// Of `done`, how many were skipped.
    pub skipped: u64,
}

/// A raw order the replay could not load.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Skipped {
    /// `stg.order_events.object_id`.
    pub object_id: i64,
    /// The reason code: a `vault_core::pipeline::MessageError::reason` (`invalid_shape`, …) or a
    /// `vault_core::orders::EnrichError::reason` (`unknown_user`, …).
    pub reason: &'static str,
    /// What exactly is wrong.
    pub detail: String,
}

/// What a replay did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ReplaySummary {
    /// Raw orders in `stg.order_events` when the replay started.
    pub total: u64,
    /// Raw orders read.
    pub read: u64,
    /// Orders written to DDS and applied to CDM.
    pub replayed: u64,
    /// DDS rows newly inserted: 0 on a second run.
    pub rows_written: u64,
    /// CDM outcomes of the replayed orders (all `duplicate` on a second run).
    pub cdm: ApplyStats,
    /// Raw orders not loaded, by reason.
    pub skipped: BTreeMap<&'static str, u64>,
    /// The first few skipped rows.
    pub examples: Vec<Skipped>,
    /// Pages (transactions) written.
    pub pages: u64,
    /// Retries of transient faults (each one a failed attempt followed by a wait).
    pub retries: u64,
    /// What the dictionary did.
    pub dictionary: DictionaryStats,
    /// Wall time.
    pub elapsed: Duration,
}

impl ReplaySummary {
    /// Raw orders not loaded, all reasons together.
    pub fn skipped_total(&self) -> u64 {
        self.skipped.values().sum()
    }

    /// Replayed orders per second.
    pub fn rate(&self) -> f64 {
        let secs = self.elapsed.as_secs_f64();
        if secs > 0.0 {
            self.replayed as f64 / secs
        } else {
            0.0
        }
    }

    fn skip(&mut self, max_examples: usize, object_id: i64, reason: &'static str, detail: String) {
        *self.skipped.entry(reason).or_default() += 1;
        if self.examples.len() < max_examples {
            self.examples.push(Skipped {
                object_id,
                reason,
                detail,
            });
        }
    }

    fn add_cdm(&mut self, stats: ApplyStats) {
        self.cdm.new += stats.new;
        self.cdm.updated += stats.updated;
        self.cdm.duplicate += stats.duplicate;
        self.cdm.stale += stats.stale;
        self.cdm.counters_changed += stats.counters_changed;
    }
}

/// A replay stopped. Pages before the one named were committed; running the replay again is
/// safe and finishes the job once the cause is fixed.
#[derive(Debug, thiserror::Error)]
pub enum ReplayError {
    /// PostgreSQL failed: unreachable for longer than the retries allowed (infrastructure), or
    /// a fault retrying cannot fix (stored data, schema, permissions).
    #[error("replay stopped: {during}{}, {attempts} attempt(s): {source}", page(.after))]
    Warehouse {
        /// What was being done.
        during: &'static str,
        /// The page: the object_id it starts after (`None`: the first page, or before it).
        after: Option<i64>,
        /// Attempts made.
        attempts: u32,
        /// The last error (boxed: the warehouse's error is the largest of the CLI's).
        #[source]
        source: Box<PgError>,
    },
    /// The dictionary failed: Redis unreachable for longer than the retries allowed, or an
    /// entry that is not valid (named by its key: the dictionary's data must be fixed).
    #[error("replay stopped: dictionary lookup{}, {attempts} attempt(s): {source}", page(.after))]
    Dictionary {
        /// The page: the object_id it starts after (`None`: the first page).
        after: Option<i64>,
        /// Attempts made.
        attempts: u32,
        /// The last error.
        #[source]
        source: DictionaryError,
    },
}

fn page(after: &Option<i64>) -> String {
    match after {
        Some(id) => format!(" (the page after object_id {id})"),
        None => String::new(),
    }
}

impl ReplayError {
    /// Whether the cause was transient (running the replay again later may succeed as is).
    pub fn is_retryable(&self) -> bool {
        match self {
            ReplayError::Warehouse { source, .. } => source.is_retryable(),
            ReplayError::Dictionary { source, .. } => source.is_retryable(),
        }
    }
}

/// Rebuilds DDS and CDM from `stg.order_events`; `progress` is called after every page.
pub fn replay(
    warehouse: &Warehouse,
    dictionary: &mut RedisDictionary,
    options: &ReplayOptions,
    mut progress: impl FnMut(Progress),
) -> Result<ReplaySummary, ReplayError> {
    let started = Instant::now();
    let page_size = options.page_size.max(1);
    let mut summary = ReplaySummary::default();
    let mut retries = 0u64;

    let total = with_pg(
        options,
        "count stg.order_events",
        None,
        &mut retries,
        || vault_pg::stg::count(&mut *warehouse.client()?),
    )?;
    summary.total = u64::try_from(total).unwrap_or(0);
    let report = |summary: &ReplaySummary, progress: &mut dyn FnMut(Progress)| {
        progress(Progress {
            done: summary.read,
            total: summary.total.max(summary.read),
            skipped: summary.skipped_total(),
        });
    };
    report(&summary, &mut progress);

    // Keyset pagination: `stg::page` reads ids strictly greater than the one given.
    let mut after: Option<i64> = None;
    loop {
        let rows = with_pg(
            options,
            "read stg.order_events",
            after,
            &mut retries,
            || {
                let from = after.unwrap_or(i64::MIN);
                vault_pg::stg::page(&mut *warehouse.client()?, from, i64::from(page_size))
            },
        )?;
        let Some(last) = rows.last().map(|row| row.object_id) else {
            break;
        };
        replay_page(
            warehouse,
            dictionary,
            options,
            after,
            &rows,
            &mut summary,
            &mut retries,
        )?;
        summary.read += rows.len() as u64;
        summary.pages += 1;
        report(&summary, &mut progress);
        after = Some(last);
        if rows.len() < page_size as usize {
            break;
        }
    }

    summary.retries = retries;
    summary.dictionary = dictionary.stats();
    summary.elapsed = started.elapsed();
    Ok(summary)
}

fn replay_page(
    warehouse: &Warehouse,
    dictionary: &mut RedisDictionary,
    options: &ReplayOptions,
    after: Option<i64>,
    rows: &[StoredOrder],
    summary: &mut ReplaySummary,
    retries: &mut u64,
) -> Result<(), ReplayError> {
    let mut orders: Vec<SourceOrder> = Vec::with_capacity(rows.len());
    for row in rows {
        match row.parse() {
            Ok(order) => orders.push(order),
            Err(err) => summary.skip(
                options.max_examples,
                row.object_id,
                err.reason(),
                err.to_string(),
            ),
        }
    }
    if orders.is_empty() {
        return Ok(());
    }

    let enriched = options
        .retry
        .run(
            || dictionary.enrich_batch(&orders),
            DictionaryError::is_retryable,
            |attempt, err, wait| {
                *retries += 1;
                tracing::warn!(attempt, after = ?after, wait_ms = wait.as_millis() as u64, error = %err,
                    next = "retry", "dictionary lookup failed");
            },
        )
        .map_err(|Failed { error, attempts }| ReplayError::Dictionary {
            after,
            attempts,
            source: error,
        })?;
    let mut good: Vec<EnrichedOrder> = Vec::with_capacity(orders.len());
    for (order, result) in orders.iter().zip(enriched) {
        match result {
            Ok(order) => good.push(order),
            Err(err) => summary.skip(
                options.max_examples,
                order.object_id,
                err.reason(),
                err.to_string(),
            ),
        }
    }
    if good.is_empty() {
        return Ok(());
    }

    let (batch, reports) = vault_batch(options.keys, &good, crate::clock::sent_dttm());
    let dv_rows = batch.into_rows();
    let (written, applied) = with_pg(options, "write dds and cdm", after, retries, || {
        let mut client = warehouse.client()?;
        let mut tx = client
            .transaction()
            .context("begin the page's transaction")?;
        let written = vault_pg::dds::write(&mut tx, &dv_rows)?;
        let applied = vault_pg::cdm::apply(&mut tx, &reports)?;
        tx.commit().context("commit the page's transaction")?;
        Ok((written, applied))
    })?;
    summary.replayed += good.len() as u64;
    summary.rows_written += written;
    summary.add_cdm(applied);
    Ok(())
}

fn with_pg<T>(
    options: &ReplayOptions,
    during: &'static str,
    after: Option<i64>,
    retries: &mut u64,
    op: impl FnMut() -> Result<T, PgError>,
) -> Result<T, ReplayError> {
    options
        .retry
        .run(op, PgError::is_retryable, |attempt, err, wait| {
            *retries += 1;
            tracing::warn!(attempt, after = ?after, wait_ms = wait.as_millis() as u64, error = %err,
                next = "retry", "{during} failed");
        })
        .map_err(|Failed { error, attempts }| ReplayError::Warehouse {
            during,
            after,
            attempts,
            source: Box::new(error),
        })
}
