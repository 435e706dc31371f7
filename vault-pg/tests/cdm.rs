//! The CDM applier on a real PostgreSQL: for random histories of versions (duplicates,
//! CLOSED→CANCELLED, stale versions, reorderings, many batches) the counters equal the
//! recomputation from the Data Vault after every batch.

mod common;

use common::{assert_exact, enriched_histories, load_batch, TestDb};
use proptest::prelude::*;
use vault_core::orders::vault_batch;
use vault_core::{KeySpec, Timestamp};
use vault_pg::check::cdm_mismatches;

proptest! {
    #![proptest_config(ProptestConfig { cases: 10, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn counters_equal_the_recomputation_after_every_batch(
        seed in any::<u64>(),
        orders in 20usize..80,
        duplicates in prop::collection::vec(any::<prop::sample::Index>(), 0..60),
        shuffle_seed in any::<u64>(),
        batch_sizes in prop::collection::vec(1usize..40, 1..6),
    ) {
        let db = TestDb::new("cdm");
        let mut arrivals = enriched_histories(seed, orders, 0.3);
        // Duplicates (redeliveries) and a reordering (replays, rebalances): stale versions arrive
        // after newer ones.
        for index in &duplicates {
            let copy = index.get(&arrivals).clone();
            arrivals.push(copy);
        }
        let mut rng = vault_core::orders::sample::Rng::new(shuffle_seed);
        for i in (1..arrivals.len()).rev() {
            let j = rng.below(i as u64 + 1) as usize;
            arrivals.swap(i, j);
        }
        let mut rest = &arrivals[..];
        let mut sizes = batch_sizes.iter().cycle();
        let mut batches = 0;
        while !rest.is_empty() {
            let take = sizes.next().copied().unwrap_or(1).min(rest.len());
            let (batch, tail) = rest.split_at(take);
            rest = tail;
            load_batch(&db, batch);
            batches += 1;
            assert_exact(&db, &format!("batch {batches}"));
        }
        // Replaying everything once more changes nothing.
        let before = db.scalar("SELECT coalesce(sum(order_cnt), 0) FROM cdm.user_category_counters");
        let stats = load_batch(&db, &arrivals);
        prop_assert_eq!(stats.new + stats.updated, 0);
        prop_assert_eq!(stats.counters_changed, 0);
        prop_assert_eq!(db.scalar("SELECT coalesce(sum(order_cnt), 0) FROM cdm.user_category_counters"), before);
        assert_exact(&db, "the replay");
    }
}

#[test]
fn closed_then_cancelled_is_uncounted_and_names_follow() {
    let db = TestDb::new("cdm_cancel");
    let versions = enriched_histories(5, 1, 1.0); // one order: OPEN … CLOSED, then CANCELLED
    let (before_cancel, cancel) = versions.split_at(versions.len() - 1);
    assert_eq!(
        cancel[0].payload.status,
        vault_core::orders::OrderStatus::Cancelled
    );
    load_batch(&db, before_cancel);
    let products = db.scalar("SELECT count(*) FROM cdm.user_product_counters WHERE order_cnt = 1");
    assert!(products >= 1);
    assert_exact(&db, "closing");
    let stats = load_batch(&db, cancel);
    assert_eq!(stats.updated, 1);
    assert_eq!(
        db.scalar("SELECT coalesce(sum(order_cnt), 0) FROM cdm.user_product_counters"),
        0
    );
    assert_eq!(
        db.scalar("SELECT coalesce(sum(order_cnt), 0) FROM cdm.restaurant_category_counters"),
        0
    );
    assert_exact(&db, "cancelling");
    // The stale CLOSED version arriving late changes nothing.
    let stats = load_batch(&db, before_cancel);
    assert_eq!(
        (stats.stale, stats.counters_changed),
        (before_cancel.len(), 0)
    );
    assert_eq!(
        db.scalar("SELECT coalesce(sum(order_cnt), 0) FROM cdm.user_product_counters"),
        0
    );
    assert_exact(&db, "the stale replay");
}

#[test]
fn concurrent_appliers_on_the_same_orders_stay_exact() {
    // A rebalance can hand one partition to two replicas for a moment: both apply the same batch.
    let db = TestDb::new("cdm_race");
    let orders = enriched_histories(9, 120, 0.2);
    let handles: Vec<_> = (0..3)
        .map(|_| {
            let warehouse = db.warehouse.clone();
            let orders = orders.clone();
            std::thread::spawn(move || {
                let sent = Timestamp::parse("2024-02-01 00:00:00").expect("timestamp");
                for chunk in orders.chunks(50) {
                    let (batch, reports) = vault_batch(KeySpec::SEED, chunk, sent);
                    let mut client = warehouse.client().expect("client");
                    let mut tx = client.transaction().expect("begin");
                    vault_pg::dds::write(&mut tx, batch.rows()).expect("dds");
                    vault_pg::cdm::apply(&mut tx, &reports).expect("cdm");
                    tx.commit().expect("commit");
                }
            })
        })
        .collect();
    for h in handles {
        h.join().expect("applier thread");
    }
    assert_exact(&db, "three concurrent appliers");
    assert!(db.scalar("SELECT count(*) FROM cdm.order_ledger") == 120);
}

/// The check right after a load, before autovacuum has looked at the tables (a test or a bench
/// checking as soon as the services drained): with no statistics the planner took a plan that
/// ran for minutes after a 100,000-order drain (1.1 s with statistics). So the check takes the
/// statistics of the tables it reads first.
#[test]
fn the_check_takes_fresh_statistics_first() {
    let db = TestDb::new("cdm_check_fresh");
    let mut client = db.client();
    client
        .batch_execute(
            "DO $$ DECLARE t record; BEGIN
               FOR t IN SELECT schemaname, tablename FROM pg_tables
                        WHERE schemaname IN ('dds', 'cdm') LOOP
                 EXECUTE format('ALTER TABLE %I.%I SET (autovacuum_enabled = false)',
                                t.schemaname, t.tablename);
               END LOOP;
             END $$",
        )
        .expect("autovacuum off");
    for batch in enriched_histories(7, 500, 0.1).chunks(400) {
        load_batch(&db, batch);
    }
    assert_eq!(
        statistics_rows(&mut client, "s_order_status"),
        0,
        "no statistics before the check"
    );

    let mismatches = cdm_mismatches(&mut *client).expect("the check");
    assert!(mismatches.is_empty(), "{:?}", mismatches.first());
    assert!(
        statistics_rows(&mut client, "s_order_status") > 0,
        "the check took statistics first"
    );
}

/// Rows of `pg_stats` for `dds.<table>`: 0 until the table has been analyzed.
fn statistics_rows(client: &mut postgres::Client, table: &str) -> i64 {
    client
        .query_one(
            "SELECT count(*) FROM pg_stats WHERE schemaname = 'dds' AND tablename = $1",
            &[&table],
        )
        .expect("pg_stats")
        .get(0)
}

/// A table held by another session's maintenance (a `VACUUM`, an index build: a SHARE UPDATE
/// EXCLUSIVE lock) is not waited for: the check skips its statistics, runs on what it has, and
/// still finds what differs.
#[test]
fn the_check_does_not_wait_for_a_table_under_maintenance() {
    let db = TestDb::new("cdm_check_skip_locked");
    let mut client = db.client();
    client
        .batch_execute(
            "ALTER TABLE dds.s_order_status SET (autovacuum_enabled = false); \
             ALTER TABLE dds.l_order_product SET (autovacuum_enabled = false)",
        )
        .expect("autovacuum off");
    for batch in enriched_histories(11, 300, 0.1).chunks(300) {
        load_batch(&db, batch);
    }
    let changed = client
        .execute(
            "UPDATE cdm.user_product_counters SET order_cnt = order_cnt + 1 \
             WHERE ctid = (SELECT min(ctid) FROM cdm.user_product_counters WHERE order_cnt > 0)",
            &[],
        )
        .expect("spoil one counter");
    assert_eq!(changed, 1);

    let mut maintenance = db.client();
    let mut held = maintenance.transaction().expect("begin");
    held.batch_execute("LOCK TABLE dds.s_order_status IN SHARE UPDATE EXCLUSIVE MODE")
        .expect("the lock a VACUUM takes");
    let mut checker = db.client();
    // Were the table waited for, ANALYZE would give up after a second, and with it the
    // statistics of the other tables (one statement, one savepoint): see the last assertion.
    checker
        .batch_execute("SET lock_timeout = '1s'")
        .expect("lock_timeout");
    let mismatches = cdm_mismatches(&mut *checker).expect("the check beside the maintenance");
    held.rollback().expect("release");

    assert_eq!(mismatches.len(), 1, "{mismatches:?}");
    assert_eq!(mismatches[0].datamart, "user_product_counters");
    let count = |text: &str| text.parse::<i32>().expect("a count");
    assert_eq!(
        count(&mismatches[0].stored),
        count(&mismatches[0].recomputed) + 1,
        "{mismatches:?}"
    );
    assert_eq!(
        statistics_rows(&mut client, "s_order_status"),
        0,
        "the held table was skipped"
    );
    assert!(
        statistics_rows(&mut client, "l_order_product") > 0,
        "the others were analyzed"
    );
}
