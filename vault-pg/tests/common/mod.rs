//! Shared helpers of the vault-pg integration tests: a fresh, migrated database per test on the
//! PostgreSQL that `scripts/stack` started (`vault_testkit::TestDb`: the tests fail, not skip,
//! when it is not there), and generated order histories.

#![allow(dead_code)]
// Helpers shared by the test binaries of this crate, not an API.
#![allow(unreachable_pub)]

use vault_core::orders::sample::{Catalog, Rng};
use vault_core::orders::{EnrichedOrder, SourceOrder};
use vault_core::Timestamp;

pub use vault_testkit::TestDb;

/// Every version of `orders` generated orders, enriched from a generated catalog, oldest version
/// of each order first; versions of different orders interleave as they would on a topic.
pub fn enriched_histories(seed: u64, orders: usize, cancel_after_close: f64) -> Vec<EnrichedOrder> {
    let mut rng = Rng::new(seed);
    let catalog = Catalog::generate(&mut rng, 6, 200);
    let start = Timestamp::parse("2024-01-01 10:00:00").expect("timestamp");
    let mut versions: Vec<SourceOrder> = Vec::new();
    for i in 0..orders {
        let placed = start.plus(chrono::Duration::minutes(i as i64));
        versions.extend(catalog.order_history(
            &mut rng,
            1_000 + i as i64,
            placed,
            cancel_after_close,
        ));
    }
    versions.sort_by_key(|v| (v.payload.update_ts, v.object_id));
    versions
        .iter()
        .map(|v| catalog.enrich(v).expect("generated orders are enrichable"))
        .collect()
}

/// One warehouse transaction as the DDS and CDM services make it.
pub fn load_batch(db: &TestDb, orders: &[EnrichedOrder]) -> vault_pg::cdm::ApplyStats {
    let sent = Timestamp::parse("2024-02-01 00:00:00").expect("timestamp");
    let (batch, reports) = vault_core::orders::vault_batch(vault_core::KeySpec::SEED, orders, sent);
    let mut client = db.client();
    let mut tx = client.transaction().expect("begin");
    vault_pg::dds::write(&mut tx, batch.rows()).expect("dds write");
    let stats = vault_pg::cdm::apply(&mut tx, &reports).expect("cdm apply");
    tx.commit().expect("commit");
    stats
}

/// The CDM counters and datamarts equal their recomputation from the Data Vault.
pub fn assert_exact(db: &TestDb, after: &str) {
    let mismatches = vault_pg::check::cdm_mismatches(&mut *db.client()).expect("check");
    assert!(
        mismatches.is_empty(),
        "after {after}: {} mismatches, first {:?}",
        mismatches.len(),
        mismatches.first()
    );
}
