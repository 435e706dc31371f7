//! The TPC-H Data Vault (`examples/tpch/`): a model nobody here designed, declared with the
//! toolkit, loaded through `vault_pg::model::write` into a real PostgreSQL and compared row for
//! row — keys, hashdiffs, every column — with an independent set-based SQL load of the same
//! generated data (`examples/sql/tpch/load.sql`, keys by uuid-ossp's `uuid_generate_v5`).

use std::process::Command;
use std::time::Instant;

use vault_core::{DvRow, RowSet, TableKind};
use vault_examples::tpch::data::Tpch;
use vault_examples::tpch::{self, load, HLineitem, HOrder, TpchRows, KEYS, SQL_MODEL};
use vault_testkit::TestDb;

#[test]
fn the_model_is_automatedvs_tpch_vault_with_keys_from_its_declarations() {
    TpchRows::MODEL.validate().expect("a valid model");
    SQL_MODEL.validate().expect("a valid model");
    let count = |kind| {
        TpchRows::MODEL
            .tables
            .iter()
            .filter(|t| t.kind == kind)
            .count()
    };
    assert_eq!(
        (
            count(TableKind::Hub),
            count(TableKind::Link),
            count(TableKind::Satellite)
        ),
        (7, 7, 8)
    );
    // A hub's key is the key spec's over its business key; the line item's over both columns.
    assert_eq!(HOrder::new(&KEYS, 1).key(), KEYS.hub("1"));
    assert_eq!(HLineitem::new(&KEYS, 1, 3).key(), KEYS.key(["1", "3"]));
    assert_eq!(
        KEYS.namespace().to_string(),
        "d67470c8-78c8-55b3-9ea3-3d7a74f7c2aa"
    );
    let ddl = vault_pg::model::ddl(&TpchRows::MODEL).expect("the DDL");
    assert!(ddl.contains("PRIMARY KEY (hk_order_details_pk, o_orderdate)"));
    assert!(ddl.contains("PRIMARY KEY (hk_customer_details_pk, as_of)"));
    assert!(ddl.contains("PRIMARY KEY (hk_lineitem_details_pk)"));
    assert!(ddl.contains("REFERENCES tpch.l_part_supplier (hk_part_supplier_pk)"));
    assert!(ddl.contains("c_acctbal numeric NOT NULL"));
    let sql_ddl = vault_pg::model::ddl(&SQL_MODEL).expect("the DDL");
    assert_eq!(
        sql_ddl,
        ddl.replace("tpch.", "tpch_sql.").replace(
            "SCHEMA IF NOT EXISTS tpch;",
            "SCHEMA IF NOT EXISTS tpch_sql;"
        )
    );
}

#[test]
fn the_toolkit_load_equals_a_set_based_sql_load_row_for_row() {
    let db = TestDb::empty("tpch");
    let mut client = db.client();
    let started = Instant::now();
    let data = Tpch::generate(0.01);
    assert_eq!(
        (
            data.customer.len(),
            data.orders.len(),
            data.lineitem.len(),
            data.partsupp.len()
        ),
        (1_500, 15_000, 60_175, 8_000),
        "TPC-H SF 0.01"
    );
    eprintln!("generated in {:.1} s", started.elapsed().as_secs_f64());

    load::create_toolkit_tables(&mut client).expect("create the toolkit's tables");
    let toolkit = load::load_toolkit(&mut client, &data, 5_000).expect("the toolkit's load");
    let set_based = load::load_set_based(&mut client, &data).expect("the set-based load");
    eprintln!("toolkit: {toolkit:?}\nset-based: {set_based:?}");
    // 7 hubs, 7 links, 8 satellites: 310,585 rows at SF 0.01, each written once.
    assert_eq!(toolkit.vault_rows, 310_585);
    assert_eq!(set_based.vault_rows, toolkit.vault_rows);

    let comparisons = load::compare(&mut client).expect("compare");
    assert_eq!(comparisons.len(), 22);
    for c in &comparisons {
        assert!(c.toolkit > 0, "{c:?}");
        assert!(c.equal(), "the two loads differ: {c:?}");
        assert_eq!(c.keys_only_toolkit, 0, "{c:?}");
    }
    let rows = |table: &str| {
        comparisons
            .iter()
            .find(|c| c.table == table)
            .map(|c| c.toolkit)
    };
    assert_eq!(rows("h_lineitem"), Some(60_175));
    assert_eq!(rows("l_lineitem_part_supplier"), Some(60_175));
    assert_eq!(rows("s_order_details"), Some(15_000));
    assert_eq!(rows("l_part_supplier"), Some(8_000));

    // A replay of a batch writes nothing.
    let mut replay = TpchRows::default();
    for order in &data.orders[..100] {
        tpch::add_order(&mut replay, &KEYS, order);
    }
    for line in data
        .lineitem
        .iter()
        .filter(|l| l.l_orderkey <= data.orders[99].o_orderkey)
    {
        tpch::add_lineitem(&mut replay, &KEYS, line);
    }
    let mut tx = client.transaction().expect("begin");
    assert_eq!(vault_pg::model::write(&mut tx, &replay).expect("replay"), 0);
    tx.commit().expect("commit");

    // The history views: the snapshot satellites hold from the snapshot date, the orders from
    // their order dates.
    let count = |sql: &str| db.scalar(sql);
    assert_eq!(
        count("SELECT count(*) FROM tpch.s_customer_details_at('1995-06-16')"),
        0
    );
    assert_eq!(
        count("SELECT count(*) FROM tpch.s_customer_details_at('1995-06-17')"),
        1_500
    );
    assert_eq!(
        count("SELECT count(*) FROM tpch.s_order_details_current"),
        15_000
    );
    assert_eq!(
        count("SELECT count(*) FROM tpch.s_order_details_at('1993-01-01')"),
        count("SELECT count(*) FROM tpch_stage.orders WHERE o_orderdate <= '1993-01-01'")
    );

    // The comparison sees a difference of one value.
    client
        .batch_execute(
            "UPDATE tpch_sql.s_customer_details SET c_comment = c_comment || '.' \
             WHERE h_customer_pk = (SELECT h_customer_pk FROM tpch_sql.h_customer \
             WHERE c_custkey = 7)",
        )
        .expect("change one value");
    let changed: Vec<_> = load::compare(&mut client)
        .expect("compare")
        .into_iter()
        .filter(|c| !c.equal())
        .map(|c| (c.table, c.only_toolkit, c.only_set_based))
        .collect();
    assert_eq!(changed, [("s_customer_details", 1, 1)]);
}

#[test]
fn the_example_loads_compares_and_refuses_to_overwrite() {
    let db = TestDb::empty("tpch_example");
    let example = vault_testkit::process::example_binary("tpch_vault");
    let run = |args: &[&str]| {
        Command::new(&example)
            .args(args)
            .env("PG_WAREHOUSE_DBNAME", &db.name)
            .output()
            .expect("run the example")
    };
    // SF 0.001: PARTSUPP repeats 100 (part, supplier) pairs; both loads must agree on them.
    let output = run(&["--sf", "0.001", "--batch", "500"]);
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(stdout.contains("all 22 tables equal"), "{stdout}");
    assert!(
        stdout.contains("toolkit:") && stdout.contains("set-based:"),
        "{stdout}"
    );

    let again = run(&["--sf", "0.001"]);
    assert_eq!(again.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&again.stderr).contains("--replace"),
        "{}",
        String::from_utf8_lossy(&again.stderr)
    );
    let replaced = run(&["--sf", "0.001", "--replace"]);
    assert!(replaced.status.success());
}
