//! What the integration tests of the services share beyond `vault-testkit` (the databases,
//! topics, Redis keys, Kafka clusters and service processes of a test): the oracle
//! ([`expected`]: what a simulated run must leave in the warehouse), the simulator's plan as
//! input and the dead-letter checks ([`scenario`]), and [`Scenario`], orders with their version
//! histories for the tests that write through the library.
// Helpers shared by the test binaries of this crate, not an API: each binary uses a different
// part, and `pub` is for the binaries.
#![allow(dead_code, unreachable_pub)]

use vault_core::orders::sample::{Catalog, Rng};
use vault_core::orders::SourceOrder;
use vault_core::Timestamp;

pub mod expected;
pub mod scenario;

/// A catalog and orders with their version histories, in arrival order.
pub struct Scenario {
    /// The dictionaries.
    pub catalog: Catalog,
    /// Every version of every order, grouped in batches as they would arrive.
    pub batches: Vec<Vec<SourceOrder>>,
    /// Order ids.
    pub order_ids: Vec<i64>,
}

impl Scenario {
    /// `orders` orders over a small catalog; each has its full history (OPEN … CLOSED, some
    /// cancelled after closing), versions arrive in `update_ts` order in batches of
    /// `batch_size`, then one more batch re-sends every 7th version (duplicates, stale ones).
    pub fn generate(rng: &mut Rng, orders: usize, batch_size: usize) -> Self {
        let catalog = Catalog::generate(rng, 4, 80);
        let start = Timestamp::parse("2024-09-30 08:00:00").expect("timestamp");
        let first_id = 1_000_000 + rng.below(1_000_000) as i64;
        let mut versions: Vec<SourceOrder> = Vec::new();
        let mut order_ids = Vec::new();
        for i in 0..orders {
            let id = first_id + i as i64;
            let placed = start.plus(chrono::Duration::minutes(rng.below(24 * 60) as i64));
            versions.extend(catalog.order_history(rng, id, placed, 0.25));
            order_ids.push(id);
        }
        versions.sort_by_key(|o| o.payload.update_ts);
        let resent: Vec<SourceOrder> = versions.iter().step_by(7).cloned().collect();
        let mut batches: Vec<Vec<SourceOrder>> =
            versions.chunks(batch_size).map(<[_]>::to_vec).collect();
        batches.push(resent);
        Scenario {
            catalog,
            batches,
            order_ids,
        }
    }

    /// The latest version of every order.
    pub fn latest(&self) -> Vec<SourceOrder> {
        let mut latest: std::collections::BTreeMap<i64, SourceOrder> = Default::default();
        for order in self.batches.iter().flatten() {
            let older = matches!(latest.get(&order.object_id),
                Some(kept) if kept.payload.update_ts > order.payload.update_ts);
            if !older {
                latest.insert(order.object_id, order.clone());
            }
        }
        latest.into_values().collect()
    }
}
