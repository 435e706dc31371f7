//! The exact CDM applier: reports → ledger + counters, in the caller's transaction.
//!
//! For each batch: lock the batch's orders (advisory, sorted), load their ledger entries, run
//! `vault_core::orders::CounterBatch` over the reports in arrival order, then write the changed ledger
//! entries, the net counter deltas and the daily datamart's changes (netted per cell by the
//! warehouse, which sums the money). Replays, duplicates, cancellations and stale versions
//! therefore give exact counts, and two appliers on the same order serialise.

use std::collections::{BTreeSet, HashMap};

use chrono::NaiveDateTime;
use postgres::Transaction;
use uuid::Uuid;
use vault_core::orders::{
    CounterBatch, CounterKey, CounterNames, DayDelta, LedgerEntry, OrderReport, OrderStatus,
    Outcome,
};
use vault_core::{Amount, Timestamp};

use crate::error::{Context, PgError};

/// What applying a batch did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ApplyStats {
    /// Orders seen for the first time.
    pub new: usize,
    /// Newer versions applied.
    pub updated: usize,
    /// Versions already applied (replays, duplicates).
    pub duplicate: usize,
    /// Versions older than the applied one.
    pub stale: usize,
    /// Counter rows changed.
    pub counters_changed: usize,
    /// Orders put into or taken out of a cell of the daily datamart (before netting per cell).
    pub day_changes: usize,
}

/// Applies order reports (in arrival order) to the ledger and the three datamarts.
pub fn apply(tx: &mut Transaction<'_>, reports: &[OrderReport]) -> Result<ApplyStats, PgError> {
    if reports.is_empty() {
        return Ok(ApplyStats::default());
    }
    let order_ids: Vec<Uuid> = reports
        .iter()
        .map(|r| r.object_id)
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    let lock_keys: Vec<i32> = order_ids
        .iter()
        .map(|id| {
            let b = id.as_bytes();
            i32::from_be_bytes([b[0], b[1], b[2], b[3]])
        })
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    tx.execute(include_str!("../sql/cdm/lock_orders.sql"), &[&lock_keys])
        .context("lock the batch's orders")?;

    let known = load_ledger(tx, &order_ids)?;
    let mut batch = CounterBatch::new(known);
    for report in reports {
        batch.apply(report);
    }
    write_ledger(tx, &batch)?;
    let counters_changed = write_counters(tx, &batch)?;
    write_days(tx, batch.day_deltas())?;
    Ok(ApplyStats {
        day_changes: batch.day_deltas().len(),
        new: batch.count(Outcome::New),
        updated: batch.count(Outcome::Updated),
        duplicate: batch.count(Outcome::Duplicate),
        stale: batch.count(Outcome::Stale),
        counters_changed,
    })
}

fn load_ledger(
    tx: &mut Transaction<'_>,
    order_ids: &[Uuid],
) -> Result<HashMap<Uuid, LedgerEntry>, PgError> {
    let rows = tx
        .query(include_str!("../sql/cdm/load_ledger.sql"), &[&order_ids])
        .context("load cdm.order_ledger")?;
    rows.iter()
        .map(|row| {
            let order_id: Uuid = row.try_get(0).context("read cdm.order_ledger")?;
            let status: String = row.try_get(2).context("read cdm.order_ledger")?;
            let status = OrderStatus::parse(&status).ok_or_else(|| {
                PgError::Stored(format!(
                    "cdm.order_ledger {order_id}: unknown status {status:?}"
                ))
            })?;
            let update_ts = Timestamp::new(
                row.try_get::<_, NaiveDateTime>(1)
                    .context("read cdm.order_ledger")?,
            );
            // What the entry put into the daily datamart is kept only while it counts (NULL
            // otherwise: the ledger row stays as narrow as before for the other versions).
            let counted = status == OrderStatus::Closed;
            let daily = |i: usize| -> Result<Option<String>, PgError> {
                row.try_get(i).context("read cdm.order_ledger")
            };
            let amount = |i: usize| -> Result<Amount, PgError> {
                match daily(i)? {
                    Some(text) => text.parse().map_err(|e| {
                        PgError::Stored(format!(
                            "cdm.order_ledger {order_id}: amount {text:?}: {e}"
                        ))
                    }),
                    None if counted => Err(PgError::Stored(format!(
                        "cdm.order_ledger {order_id}: a closed order without its cost \
                         (written by a cdm-service of a release before migration 10?)"
                    ))),
                    None => Ok(Amount::from_i64(0)),
                }
            };
            let category_items: Option<Vec<i32>> =
                row.try_get(7).context("read cdm.order_ledger")?;
            let order_dt: Option<NaiveDateTime> =
                row.try_get(8).context("read cdm.order_ledger")?;
            let entry = LedgerEntry {
                order_id,
                update_ts,
                status,
                user_id: row.try_get(3).context("read cdm.order_ledger")?,
                restaurant_id: row.try_get(4).context("read cdm.order_ledger")?,
                product_ids: row.try_get(5).context("read cdm.order_ledger")?,
                category_ids: row.try_get(6).context("read cdm.order_ledger")?,
                category_items: category_items.unwrap_or_default(),
                order_dt: order_dt.map_or(update_ts, Timestamp::new),
                cost: amount(9)?,
                payment: amount(10)?,
            };
            if counted && entry.category_items.len() != entry.category_ids.len() {
                return Err(PgError::Stored(format!(
                    "cdm.order_ledger {order_id}: category_items does not match category_ids"
                )));
            }
            Ok((order_id, entry))
        })
        .collect()
}

fn write_ledger(tx: &mut Transaction<'_>, batch: &CounterBatch<'_>) -> Result<(), PgError> {
    let entries: Vec<&LedgerEntry> = batch.changed_entries().collect();
    if entries.is_empty() {
        return Ok(());
    }
    let join = |ids: &[Uuid]| {
        ids.iter()
            .map(Uuid::to_string)
            .collect::<Vec<_>>()
            .join(",")
    };
    let order_ids: Vec<Uuid> = entries.iter().map(|e| e.order_id).collect();
    let versions: Vec<NaiveDateTime> = entries.iter().map(|e| e.update_ts.naive()).collect();
    let statuses: Vec<&str> = entries.iter().map(|e| e.status.as_str()).collect();
    let users: Vec<Uuid> = entries.iter().map(|e| e.user_id).collect();
    let restaurants: Vec<Uuid> = entries.iter().map(|e| e.restaurant_id).collect();
    let products: Vec<String> = entries.iter().map(|e| join(&e.product_ids)).collect();
    let categories: Vec<String> = entries.iter().map(|e| join(&e.category_ids)).collect();
    // Only an entry that counts keeps what it put into the daily datamart (see load_ledger).
    let items: Vec<Option<String>> = entries
        .iter()
        .map(|e| {
            e.counted().then(|| {
                e.category_items
                    .iter()
                    .map(i32::to_string)
                    .collect::<Vec<_>>()
                    .join(",")
            })
        })
        .collect();
    let placed: Vec<Option<NaiveDateTime>> = entries
        .iter()
        .map(|e| e.counted().then(|| e.order_dt.naive()))
        .collect();
    let costs: Vec<Option<&str>> = entries
        .iter()
        .map(|e| e.counted().then(|| e.cost.as_str()))
        .collect();
    let payments: Vec<Option<&str>> = entries
        .iter()
        .map(|e| e.counted().then(|| e.payment.as_str()))
        .collect();
    tx.execute(
        include_str!("../sql/cdm/upsert_ledger.sql"),
        &[
            &order_ids,
            &versions,
            &statuses,
            &users,
            &restaurants,
            &products,
            &categories,
            &items,
            &placed,
            &costs,
            &payments,
        ],
    )
    .context("write cdm.order_ledger")?;
    Ok(())
}

/// The daily datamart's changes: the orders put in are added (cells created as needed), then
/// those taken out are subtracted; each statement sums its rows per cell.
fn write_days(tx: &mut Transaction<'_>, days: &[DayDelta]) -> Result<(), PgError> {
    let (put, taken): (Vec<&DayDelta>, Vec<&DayDelta>) = days.iter().partition(|d| d.sign > 0);
    for (rows, sql, what) in [
        (
            put,
            include_str!("../sql/cdm/add_restaurant_category_days.sql"),
            "add to cdm.restaurant_category_days",
        ),
        (
            taken,
            include_str!("../sql/cdm/sub_restaurant_category_days.sql"),
            "take from cdm.restaurant_category_days",
        ),
    ] {
        if rows.is_empty() {
            continue;
        }
        let restaurants: Vec<Uuid> = rows.iter().map(|d| d.restaurant_id).collect();
        let categories: Vec<Uuid> = rows.iter().map(|d| d.category_id).collect();
        let placed: Vec<NaiveDateTime> = rows.iter().map(|d| d.order_dt.naive()).collect();
        let items: Vec<i32> = rows.iter().map(|d| d.items).collect();
        let costs: Vec<&str> = rows.iter().map(|d| d.cost.as_str()).collect();
        let payments: Vec<&str> = rows.iter().map(|d| d.payment.as_str()).collect();
        tx.execute(
            sql,
            &[
                &restaurants,
                &categories,
                &placed,
                &items,
                &costs,
                &payments,
            ],
        )
        .context(what)?;
    }
    Ok(())
}

/// Deltas of one datamart, split into additions (upsert) and subtractions/renames (update).
#[derive(Default)]
struct Columns<'r> {
    first: Vec<Uuid>,
    second: Vec<Uuid>,
    name_a: Vec<Option<&'r str>>,
    name_b: Vec<Option<&'r str>>,
    delta: Vec<i32>,
}

impl<'r> Columns<'r> {
    fn push(
        &mut self,
        first: Uuid,
        second: Uuid,
        names: (Option<&'r str>, Option<&'r str>),
        delta: i64,
    ) {
        self.first.push(first);
        self.second.push(second);
        self.name_a.push(names.0);
        self.name_b.push(names.1);
        // One batch changes a counter by at most its number of orders.
        self.delta
            .push(i32::try_from(delta).unwrap_or(if delta > 0 { i32::MAX } else { i32::MIN }));
    }
}

fn write_counters(tx: &mut Transaction<'_>, batch: &CounterBatch<'_>) -> Result<usize, PgError> {
    // [user_product, user_category, restaurant_category] × [add, sub]
    let mut tables: [[Columns<'_>; 2]; 3] = Default::default();
    let mut changed = 0;
    // In key order, so that concurrent appliers lock counter rows in one order.
    let mut deltas: Vec<_> = batch.deltas().collect();
    deltas.sort_unstable_by_key(|d| d.key);
    for d in deltas {
        let side = usize::from(d.delta <= 0);
        let (table, first, second) = match d.key {
            CounterKey::UserProduct {
                user_id,
                product_id,
            } => (0, user_id, product_id),
            CounterKey::UserCategory {
                user_id,
                category_id,
            } => (1, user_id, category_id),
            CounterKey::RestaurantCategory {
                restaurant_id,
                category_id,
            } => (2, restaurant_id, category_id),
        };
        let names = match d.names {
            Some(CounterNames::Product(n) | CounterNames::Category(n)) => (Some(n), None),
            Some(CounterNames::RestaurantCategory(r, c)) => (Some(r), Some(c)),
            None => (None, None),
        };
        tables[table][side].push(first, second, names, d.delta);
        changed += 1;
    }
    let statements = [
        [
            include_str!("../sql/cdm/add_user_product.sql"),
            include_str!("../sql/cdm/sub_user_product.sql"),
        ],
        [
            include_str!("../sql/cdm/add_user_category.sql"),
            include_str!("../sql/cdm/sub_user_category.sql"),
        ],
        [
            include_str!("../sql/cdm/add_restaurant_category.sql"),
            include_str!("../sql/cdm/sub_restaurant_category.sql"),
        ],
    ];
    for (table, sides) in tables.iter().enumerate() {
        for (side, c) in sides.iter().enumerate() {
            if c.first.is_empty() {
                continue;
            }
            let sql = statements[table][side];
            let result = if table == 2 {
                tx.execute(sql, &[&c.first, &c.second, &c.name_a, &c.name_b, &c.delta])
            } else {
                tx.execute(sql, &[&c.first, &c.second, &c.name_a, &c.delta])
            };
            result.context("update cdm counters")?;
        }
    }
    Ok(changed)
}
