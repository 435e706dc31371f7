//! The CDM counter projection (contract §6) as a pure state machine.
//!
//! `order_cnt` of a pair = the number of distinct orders whose latest known status is CLOSED and
//! that contain that product (or at least one product of that category). A per-order ledger entry
//! remembers the last applied version of each order and what it contributed; [`project`] compares
//! a new report with it and yields the counter deltas:
//!
//! * no entry → the report's contribution (if CLOSED);
//! * an older version → new contribution minus old (CLOSED → CANCELLED gives negative deltas);
//! * the same version (a duplicate or replay) → nothing;
//! * a newer version already applied (the report is stale) → nothing.
//!
//! Versions are ordered by `(update_ts, status)`, statuses in lifecycle order with CANCELLED
//! last, so the outcome does not depend on the order in which versions arrive.
//!
//! The same comparison feeds the daily datamart (`cdm.restaurant_category_days`: orders, dishes,
//! cost and payment per restaurant × category × day): a change of what an entry contributes
//! there yields [`DayDelta`]s that take the old contribution out and put the new one in. Money
//! travels as the report's exact [`Amount`] text; the warehouse sums it.

use std::cmp::Ordering;
use std::collections::HashMap;

use uuid::Uuid;

use crate::amount::Amount;
use crate::orders::model::{OrderReport, OrderStatus};
use crate::time::Timestamp;

/// What the ledger remembers of one order: its last applied version and what that version holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LedgerEntry {
    /// `h_order_pk`.
    pub order_id: Uuid,
    /// The applied version's `update_ts`.
    pub update_ts: Timestamp,
    /// The applied version's status; the entry counts iff it is CLOSED.
    pub status: OrderStatus,
    /// `h_user_pk`.
    pub user_id: Uuid,
    /// `h_restaurant_pk`.
    pub restaurant_id: Uuid,
    /// Distinct `h_product_pk`s, sorted.
    pub product_ids: Vec<Uuid>,
    /// Distinct `h_category_pk`s, sorted.
    pub category_ids: Vec<Uuid>,
    /// For each of `category_ids` (same position): how many of `product_ids` are of it.
    pub category_items: Vec<i32>,
    /// When the order was placed (`order_dt`, UTC): its day in the daily datamart.
    pub order_dt: Timestamp,
    /// The applied version's cost (0 when the report carried none).
    pub cost: Amount,
    /// The applied version's payment (0 when the report carried none).
    pub payment: Amount,
}

impl LedgerEntry {
    /// The entry a report would leave in the ledger.
    pub fn from_report(report: &OrderReport) -> Self {
        let p = &report.payload;
        // Distinct products with their category (the first line's, if lines disagreed).
        let mut products: Vec<(Uuid, Uuid)> =
            p.products.iter().map(|x| (x.id, x.category.id)).collect();
        products.sort_by_key(|&(id, _)| id);
        products.dedup_by_key(|&mut (id, _)| id);
        let product_ids: Vec<Uuid> = products.iter().map(|&(id, _)| id).collect();
        let mut category_ids: Vec<Uuid> = p.products.iter().map(|x| x.category.id).collect();
        category_ids.sort_unstable();
        category_ids.dedup();
        let category_items = category_ids
            .iter()
            .map(|c| {
                let n = products.iter().filter(|&&(_, pc)| pc == *c).count();
                i32::try_from(n).unwrap_or(i32::MAX)
            })
            .collect();
        let zero = || Amount::from_i64(0);
        LedgerEntry {
            order_id: report.object_id,
            update_ts: report.version_ts(),
            status: p.status,
            user_id: p.user.id,
            restaurant_id: p.restaurant.id,
            product_ids,
            category_ids,
            category_items,
            order_dt: p.order_dt,
            cost: p.cost.clone().unwrap_or_else(zero),
            payment: p.payment.clone().unwrap_or_else(zero),
        }
    }

    /// Whether this version counts (its status is CLOSED).
    pub fn counted(&self) -> bool {
        self.status == OrderStatus::Closed
    }

    fn version(&self) -> (Timestamp, OrderStatus) {
        (self.update_ts, self.status)
    }

    /// The counter pairs this entry contributes one order to (none unless CLOSED), sorted.
    pub fn contribution(&self) -> Vec<CounterKey> {
        if !self.counted() {
            return Vec::new();
        }
        let products = self
            .product_ids
            .iter()
            .map(|&product_id| CounterKey::UserProduct {
                user_id: self.user_id,
                product_id,
            });
        let categories = self.category_ids.iter().flat_map(|&category_id| {
            [
                CounterKey::UserCategory {
                    user_id: self.user_id,
                    category_id,
                },
                CounterKey::RestaurantCategory {
                    restaurant_id: self.restaurant_id,
                    category_id,
                },
            ]
        });
        let mut keys: Vec<CounterKey> = products.chain(categories).collect();
        keys.sort_unstable();
        keys
    }

    /// What this entry adds to the daily datamart (nothing unless CLOSED): one order, its dishes
    /// of the category, and its whole cost and payment, in each of its categories' cells.
    pub fn day_contribution(&self) -> Vec<DayDelta> {
        self.day_deltas(1)
    }

    fn day_deltas(&self, sign: i32) -> Vec<DayDelta> {
        if !self.counted() {
            return Vec::new();
        }
        self.category_ids
            .iter()
            .zip(&self.category_items)
            .map(|(&category_id, &items)| DayDelta {
                restaurant_id: self.restaurant_id,
                category_id,
                order_dt: self.order_dt,
                sign,
                items,
                cost: self.cost.clone(),
                payment: self.payment.clone(),
            })
            .collect()
    }

    /// Whether two entries put the same into the daily datamart.
    fn same_days(&self, other: &LedgerEntry) -> bool {
        self.counted() == other.counted()
            && (!self.counted()
                || (self.restaurant_id == other.restaurant_id
                    && self.order_dt == other.order_dt
                    && self.category_ids == other.category_ids
                    && self.category_items == other.category_items
                    && self.cost == other.cost
                    && self.payment == other.payment))
    }
}

/// One order put into (`sign` +1) or taken out of (-1) one cell of the daily datamart
/// `cdm.restaurant_category_days`. The cell's day is `order_dt`'s date in the warehouse's time
/// zone (`CDM_DAY_TIME_ZONE`), which the warehouse computes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DayDelta {
    /// `h_restaurant_pk`.
    pub restaurant_id: Uuid,
    /// `h_category_pk`.
    pub category_id: Uuid,
    /// When the order was placed (UTC).
    pub order_dt: Timestamp,
    /// +1 (put in) or -1 (taken out): the change of the cell's order count, and the factor of
    /// `items`, `cost` and `payment`.
    pub sign: i32,
    /// The order's distinct dishes of this category.
    pub items: i32,
    /// The order's cost.
    pub cost: Amount,
    /// The order's payment.
    pub payment: Amount,
}

/// One counter row: a pair of hub keys in one of the three datamarts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum CounterKey {
    /// `cdm.user_product_counters`.
    UserProduct {
        /// `h_user_pk`.
        user_id: Uuid,
        /// `h_product_pk`.
        product_id: Uuid,
    },
    /// `cdm.user_category_counters`.
    UserCategory {
        /// `h_user_pk`.
        user_id: Uuid,
        /// `h_category_pk`.
        category_id: Uuid,
    },
    /// `cdm.restaurant_category_counters`.
    RestaurantCategory {
        /// `h_restaurant_pk`.
        restaurant_id: Uuid,
        /// `h_category_pk`.
        category_id: Uuid,
    },
}

/// The display names a counter row takes from the latest report that mentions its pair.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CounterNames<'r> {
    /// `product_name` of a user×product row.
    Product(&'r str),
    /// `category_name` of a user×category row.
    Category(&'r str),
    /// `restaurant_name`, `category_name` of a restaurant×category row.
    RestaurantCategory(&'r str, &'r str),
}

/// A change of one counter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CounterDelta<'r> {
    /// Which counter.
    pub key: CounterKey,
    /// +1 / -1 for one order; sums for a batch.
    pub delta: i64,
    /// Names from the newest report that mentions the pair; `None` when the pair only lost an
    /// order (the row keeps its names).
    pub names: Option<CounterNames<'r>>,
}

/// What applying a report did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Outcome {
    /// First version of the order seen.
    New,
    /// A newer version replaced the applied one.
    Updated,
    /// The applied version again (replay, duplicate): nothing changes.
    Duplicate,
    /// Older than the applied version: ignored.
    Stale,
}

/// The result of [`project`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Projection<'r> {
    /// What happened.
    pub outcome: Outcome,
    /// The ledger's new entry for the order (`None` when nothing changes).
    pub entry: Option<LedgerEntry>,
    /// Counter changes (empty when nothing changes).
    pub deltas: Vec<CounterDelta<'r>>,
    /// Daily datamart changes: the old contribution out, the new one in (empty when the
    /// version changes nothing there).
    pub days: Vec<DayDelta>,
}

/// Applies one report against what the ledger knows of its order.
pub fn project<'r>(known: Option<&LedgerEntry>, report: &'r OrderReport) -> Projection<'r> {
    let next = LedgerEntry::from_report(report);
    let outcome = match known.map(|prev| next.version().cmp(&prev.version())) {
        None => Outcome::New,
        Some(Ordering::Greater) => Outcome::Updated,
        Some(Ordering::Equal) => Outcome::Duplicate,
        Some(Ordering::Less) => Outcome::Stale,
    };
    if matches!(outcome, Outcome::Duplicate | Outcome::Stale) {
        return Projection {
            outcome,
            entry: None,
            deltas: Vec::new(),
            days: Vec::new(),
        };
    }
    let days = match known {
        Some(prev) if prev.same_days(&next) => Vec::new(),
        Some(prev) => {
            let mut days = prev.day_deltas(-1);
            days.extend(next.day_deltas(1));
            days
        }
        None => next.day_deltas(1),
    };
    let old = known.map(LedgerEntry::contribution).unwrap_or_default();
    let new = next.contribution();
    let mut deltas = Vec::new();
    for key in &old {
        if new.binary_search(key).is_err() {
            deltas.push(CounterDelta {
                key: *key,
                delta: -1,
                names: names_in(report, key),
            });
        }
    }
    for key in &new {
        if old.binary_search(key).is_err() {
            deltas.push(CounterDelta {
                key: *key,
                delta: 1,
                names: names_in(report, key),
            });
        }
    }
    Projection {
        outcome,
        entry: Some(next),
        deltas,
        days,
    }
}

/// The names the report gives for a pair, if it mentions the pair.
fn names_in<'r>(report: &'r OrderReport, key: &CounterKey) -> Option<CounterNames<'r>> {
    let p = &report.payload;
    match *key {
        CounterKey::UserProduct {
            user_id,
            product_id,
        } => (user_id == p.user.id)
            .then(|| p.products.iter().find(|x| x.id == product_id))
            .flatten()
            .map(|x| CounterNames::Product(&x.name)),
        CounterKey::UserCategory {
            user_id,
            category_id,
        } => (user_id == p.user.id)
            .then(|| p.products.iter().find(|x| x.category.id == category_id))
            .flatten()
            .map(|x| CounterNames::Category(&x.category.name)),
        CounterKey::RestaurantCategory {
            restaurant_id,
            category_id,
        } => (restaurant_id == p.restaurant.id)
            .then(|| p.products.iter().find(|x| x.category.id == category_id))
            .flatten()
            .map(|x| CounterNames::RestaurantCategory(&p.restaurant.name, &x.category.name)),
    }
}

/// Applies many reports in arrival order against a ledger, netting the deltas per counter —
/// the shape of one warehouse transaction.
#[derive(Debug, Default, Clone)]
pub struct CounterBatch<'r> {
    ledger: HashMap<Uuid, LedgerEntry>,
    changed: Vec<Uuid>,
    deltas: HashMap<CounterKey, (i64, Option<CounterNames<'r>>)>,
    days: Vec<DayDelta>,
    outcomes: [usize; 4],
}

impl<'r> CounterBatch<'r> {
    /// A batch over the ledger entries already stored for (some of) its orders.
    pub fn new(known: HashMap<Uuid, LedgerEntry>) -> Self {
        CounterBatch {
            ledger: known,
            ..CounterBatch::default()
        }
    }

    /// Applies one report.
    pub fn apply(&mut self, report: &'r OrderReport) -> Outcome {
        let projection = project(self.ledger.get(&report.object_id), report);
        if let Some(entry) = projection.entry {
            if !self.changed.contains(&entry.order_id) {
                self.changed.push(entry.order_id);
            }
            self.ledger.insert(entry.order_id, entry);
        }
        for d in projection.deltas {
            let slot = self.deltas.entry(d.key).or_insert((0, None));
            slot.0 += d.delta;
            if d.names.is_some() {
                slot.1 = d.names;
            }
        }
        self.days.extend(projection.days);
        let outcome = projection.outcome;
        self.outcomes[outcome as usize] += 1;
        outcome
    }

    /// The ledger entries to write (orders whose applied version changed).
    pub fn changed_entries(&self) -> impl Iterator<Item = &LedgerEntry> {
        self.changed.iter().filter_map(|id| self.ledger.get(id))
    }

    /// Net counter changes of the batch, skipping counters whose changes cancelled out unless
    /// they carry new names.
    pub fn deltas(&self) -> impl Iterator<Item = CounterDelta<'r>> + '_ {
        self.deltas
            .iter()
            .filter(|(_, (delta, names))| *delta != 0 || names.is_some())
            .map(|(key, &(delta, names))| CounterDelta {
                key: *key,
                delta,
                names,
            })
    }

    /// The daily datamart's changes of the batch, in arrival order (the warehouse nets them per
    /// cell: money is summed there, exactly).
    pub fn day_deltas(&self) -> &[DayDelta] {
        &self.days
    }

    /// How many reports had this outcome.
    pub fn count(&self, outcome: Outcome) -> usize {
        self.outcomes[outcome as usize]
    }
}
