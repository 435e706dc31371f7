//! Shared fixtures of the benchmarks (see `core.rs`): realistic enriched orders from
//! `vault_core::orders::sample` (a few restaurants with 20–50 dishes each, ten shared categories,
//! hundreds of users, orders of one to five dishes), the same for every run.

use vault_core::orders::sample::{Catalog, Rng};
use vault_core::Timestamp;

/// `n` enriched orders (docs/contract.md §4) as JSON lines.
pub fn enriched_orders(n: usize) -> Vec<String> {
    let mut rng = Rng::new(0x9e37_79b9_7f4a_7c15);
    let catalog = Catalog::generate(&mut rng, 5, 500);
    let start = Timestamp::parse("2023-04-01 18:55:52")
        .unwrap_or_else(|_| Timestamp::new(Default::default()));
    (0..n)
        .map(|i| {
            let placed = start.plus(chrono::Duration::seconds(12 * i as i64));
            let mut history = catalog.order_history(&mut rng, 1_000_000 + i as i64, placed, 0.0);
            let last = history.pop().expect("a history has versions");
            let order = catalog
                .enrich(&last)
                .expect("generated orders are enrichable");
            String::from_utf8(order.to_json().expect("serializable")).expect("JSON is UTF-8")
        })
        .collect()
}
