//! The DDS writer on a real PostgreSQL: load, reload (no change), keys equal vault-core's, FKs hold.

mod common;

use std::collections::{BTreeMap, BTreeSet};

use common::{enriched_histories, TestDb};
use vault_core::orders::{DvBatch, DvRows, EnrichedOrder};
use vault_core::{DvRow, KeySpec, RowVisitor, SqlType};

fn load(db: &TestDb, orders: &[EnrichedOrder], batch_size: usize) -> u64 {
    let mut client = db.client();
    let mut written = 0;
    for chunk in orders.chunks(batch_size) {
        let mut batch = DvBatch::new(KeySpec::SEED);
        for order in chunk {
            batch.add(order);
        }
        let mut tx = client.transaction().expect("begin");
        written += vault_pg::dds::write(&mut tx, batch.rows()).expect("write batch");
        tx.commit().expect("commit");
    }
    written
}

fn counts(db: &TestDb) -> BTreeMap<&'static str, i64> {
    DvRows::TABLES
        .iter()
        .map(|t| (*t, db.scalar(&format!("SELECT count(*) FROM dds.{t}"))))
        .collect()
}

/// Expected rows as text, per table, from one batch over all orders (columns in DvRow order).
struct Expected(BTreeMap<&'static str, BTreeSet<Vec<String>>>);

impl RowVisitor for Expected {
    fn table<R: DvRow>(&mut self, rows: &[R]) {
        let set = self.0.entry(R::TABLE).or_default();
        for row in rows {
            let mut values = Vec::new();
            row.visit_columns(&mut |c| values.push(c.material().into_owned()));
            set.insert(values);
        }
    }
}

/// The same rows read back from the database, every column as text.
struct Stored<'d>(&'d TestDb, BTreeMap<&'static str, BTreeSet<Vec<String>>>);

impl RowVisitor for Stored<'_> {
    fn table<R: DvRow>(&mut self, _: &[R]) {
        // Text as key material: booleans as Python writes them.
        let columns: Vec<String> = R::DEF
            .columns
            .iter()
            .map(|c| match c.sql_type {
                SqlType::Boolean => format!("CASE WHEN {0} THEN 'True' ELSE 'False' END", c.name),
                _ => format!("{}::text", c.name),
            })
            .collect();
        let sql = format!("SELECT {} FROM dds.{}", columns.join(", "), R::TABLE);
        let rows = self.0.client().query(&sql, &[]).expect(&sql);
        let set = self.1.entry(R::TABLE).or_default();
        for row in rows {
            set.insert(
                (0..R::COLUMNS.len())
                    .map(|i| row.get::<_, String>(i))
                    .collect(),
            );
        }
    }
}

#[test]
fn load_twice_changes_nothing_and_rows_equal_vault_core() {
    let db = TestDb::new("dds");
    let orders = enriched_histories(7, 400, 0.1);
    assert!(orders.len() > 1200, "histories have several versions");

    let first = load(&db, &orders, 100);
    let after_first = counts(&db);
    assert!(first > 0);
    assert_eq!(after_first["h_order"], 400);

    // The same orders again, in other batch sizes: nothing new.
    let second = load(&db, &orders, 333);
    assert_eq!(second, 0, "a reload writes no row");
    assert_eq!(counts(&db), after_first);

    // Every stored row, every column, equals what vault-core builds from the same orders.
    let mut all = DvBatch::new(KeySpec::SEED);
    for order in &orders {
        all.add(order);
    }
    let mut expected = Expected(BTreeMap::new());
    all.rows().visit(&mut expected);
    let mut stored = Stored(&db, BTreeMap::new());
    all.rows().visit(&mut stored);
    for &table in DvRows::TABLES {
        assert_eq!(stored.1[table], expected.0[table], "dds.{table}");
    }
    assert_eq!(
        db.scalar("SELECT count(*) FROM dds.h_order WHERE load_src <> 'orders-system-kafka' OR load_dt IS NULL"),
        0
    );
}

#[test]
fn links_and_satellites_reference_existing_hubs() {
    let db = TestDb::new("dds_fk");
    load(&db, &enriched_histories(11, 150, 0.2), 64);
    let orphans = [
        "SELECT count(*) FROM dds.l_order_product l LEFT JOIN dds.h_order h USING (h_order_pk) WHERE h.h_order_pk IS NULL",
        "SELECT count(*) FROM dds.l_order_product l LEFT JOIN dds.h_product h USING (h_product_pk) WHERE h.h_product_pk IS NULL",
        "SELECT count(*) FROM dds.l_product_category l LEFT JOIN dds.h_category h USING (h_category_pk) WHERE h.h_category_pk IS NULL",
        "SELECT count(*) FROM dds.l_product_restaurant l LEFT JOIN dds.h_restaurant h USING (h_restaurant_pk) WHERE h.h_restaurant_pk IS NULL",
        "SELECT count(*) FROM dds.l_order_user l LEFT JOIN dds.h_user h USING (h_user_pk) WHERE h.h_user_pk IS NULL",
        "SELECT count(*) FROM dds.s_user_names s LEFT JOIN dds.h_user h USING (h_user_pk) WHERE h.h_user_pk IS NULL",
        "SELECT count(*) FROM dds.s_order_status s LEFT JOIN dds.h_order h USING (h_order_pk) WHERE h.h_order_pk IS NULL",
    ];
    for sql in orphans {
        assert_eq!(db.scalar(sql), 0, "{sql}");
    }
    // And the constraints are there, so it cannot be otherwise.
    assert_eq!(
        db.scalar("SELECT count(*) FROM information_schema.table_constraints WHERE table_schema = 'dds' AND constraint_type = 'FOREIGN KEY'"),
        19, // 4 links × 2 hubs + 5 satellites × 1 hub + 2 effectivity satellites × 2 + PIT + bridge
    );
    // Every order has exactly one user link, and a latest status.
    assert_eq!(db.scalar("SELECT count(*) FROM dds.l_order_user"), 150);
    assert_eq!(
        db.scalar("SELECT count(*) FROM cdm.v_order_latest_status"),
        150
    );
}

#[test]
fn a_failed_batch_leaves_nothing_behind() {
    let db = TestDb::new("dds_rollback");
    let orders = enriched_histories(3, 20, 0.0);
    let mut batch = DvBatch::new(KeySpec::SEED);
    for order in &orders {
        batch.add(order);
    }
    let mut client = db.client();
    let mut tx = client.transaction().expect("begin");
    vault_pg::dds::write(&mut tx, batch.rows()).expect("write");
    // Something later in the same transaction fails: the batch must vanish with it.
    assert!(tx.execute("SELECT 1/0", &[]).is_err());
    drop(tx);
    assert_eq!(db.scalar("SELECT count(*) FROM dds.h_order"), 0);
}
