//! The analysts' schema on a real PostgreSQL: `vault migrate` makes schema `bi` (one view per
//! datamart with names and source ids, a comment on every view and column) and the role
//! `vault_bi`; a login granted that role reads the views and nothing else — not `stg`, not the
//! Data Vault, not `vault.consumer_positions` — and writes nothing.

mod common;

use common::{enriched_histories, TestDb};

const VIEWS: [&str; 9] = [
    "guest_dishes",
    "guest_categories",
    "restaurant_categories",
    "restaurant_category_days",
    "restaurant_days",
    "freshness",
    "dishes",
    "order_snapshots",
    "order_dish_categories",
];

/// A login of its own, member of vault_bi; dropped at the end.
struct BiLogin {
    name: String,
    db: String,
    admin: postgres::Config,
}

impl BiLogin {
    fn new(db: &TestDb) -> Self {
        let name = format!("bi_reader_{}", std::process::id());
        let login = BiLogin {
            name,
            db: db.name.clone(),
            admin: db.config.client_config(),
        };
        let mut admin = login
            .admin
            .connect(postgres::NoTls)
            .expect("admin connection");
        admin
            .batch_execute(&format!(
                "DROP ROLE IF EXISTS {0}; CREATE ROLE {0} LOGIN PASSWORD 'bi' IN ROLE vault_bi",
                login.name
            ))
            .expect("a login in vault_bi");
        login
    }

    fn connect(&self) -> postgres::Client {
        let mut config = self.admin.clone();
        config.user(&self.name).password("bi").dbname(&self.db);
        config
            .connect(postgres::NoTls)
            .expect("the BI login connects")
    }
}

impl Drop for BiLogin {
    fn drop(&mut self) {
        if let Ok(mut admin) = self.admin.connect(postgres::NoTls) {
            let _ = admin.batch_execute(&format!("DROP ROLE IF EXISTS {}", self.name));
        }
    }
}

#[test]
fn the_bi_role_reads_the_bi_views_and_nothing_else() {
    let db = TestDb::new("bi");
    // Orders through the writers of the services (DDS, then CDM's ledger and counters).
    let versions = enriched_histories(77, 60, 0.2);
    assert!(!versions.is_empty());
    let mut client = db.client();
    for chunk in versions.chunks(25) {
        let mut batch = vault_core::orders::DvBatch::new(vault_core::KeySpec::SEED);
        let mut reports = Vec::new();
        let sent = vault_core::Timestamp::parse("2024-06-01 10:00:00").expect("timestamp");
        for order in chunk {
            let keys = batch.add(order);
            reports.push(vault_core::orders::order_report(order, &keys, sent));
        }
        let mut tx = client.transaction().expect("begin");
        vault_pg::dds::write(&mut tx, batch.rows()).expect("dds");
        vault_pg::cdm::apply(&mut tx, &reports).expect("cdm");
        tx.commit().expect("commit");
    }
    let login = BiLogin::new(&db);
    let mut bi = login.connect();

    // The views: rows, names beside the keys, as many rows as the counters above zero.
    for (view, counters) in VIEWS.iter().zip([
        "user_product_counters",
        "user_category_counters",
        "restaurant_category_counters",
        "restaurant_category_days",
    ]) {
        let seen: i64 = bi
            .query_one(&format!("SELECT count(*) FROM bi.{view}"), &[])
            .expect("the BI login reads its views")
            .get(0);
        let expected = db.scalar(&format!(
            "SELECT count(*) FROM cdm.{counters} WHERE order_cnt > 0"
        ));
        assert!(seen > 0, "bi.{view} is empty");
        assert_eq!(seen, expected, "bi.{view}");
    }
    let unnamed: i64 = bi
        .query_one(
            "SELECT count(*) FROM bi.guest_dishes \
             WHERE guest_name IS NULL OR guest_id IS NULL OR dish_name IS NULL OR dish_id IS NULL",
            &[],
        )
        .expect("names")
        .get(0);
    assert_eq!(unnamed, 0, "every row has its names and source ids");
    let unnamed: i64 = bi
        .query_one(
            "SELECT count(*) FROM bi.restaurant_category_days \
             WHERE restaurant_name IS NULL OR category_name IS NULL OR restaurant_id IS NULL",
            &[],
        )
        .expect("names of the daily mart")
        .get(0);
    assert_eq!(unnamed, 0, "every day row has its names");
    // The restaurants' days count each closed order once, whatever its categories.
    let orders: i64 = bi
        .query_one(
            "SELECT coalesce(sum(orders), 0) FROM bi.restaurant_days",
            &[],
        )
        .expect("bi.restaurant_days")
        .get(0);
    assert!(orders > 0);
    assert_eq!(
        orders,
        db.scalar("SELECT count(*) FROM cdm.order_ledger WHERE status = 'CLOSED'")
    );

    // The snapshots of the PIT and the bridge, once refreshed: every order with the status and
    // cost in force, each order line with its category, through bi alone.
    db.client()
        .batch_execute(
            "SELECT dds.pit_order_refresh('2100-01-01'); \
             SELECT dds.b_order_category_refresh('2100-01-01');",
        )
        .expect("refresh");
    let bi_count =
        |bi: &mut postgres::Client, sql: &str| -> i64 { bi.query_one(sql, &[]).expect(sql).get(0) };
    assert_eq!(
        bi_count(&mut bi, "SELECT count(*) FROM bi.order_snapshots"),
        db.scalar("SELECT count(*) FROM dds.h_order")
    );
    assert_eq!(
        bi_count(
            &mut bi,
            "SELECT count(*) FROM bi.order_snapshots \
             WHERE status IS NULL OR cost IS NULL OR order_id IS NULL"
        ),
        0
    );
    assert_eq!(
        bi_count(
            &mut bi,
            "SELECT count(*) FROM bi.order_snapshots WHERE status = 'CLOSED'"
        ),
        db.scalar("SELECT count(*) FROM dds.s_order_status_current WHERE status = 'CLOSED'")
    );
    let lines = db.scalar("SELECT count(*) FROM dds.b_order_category");
    assert!(lines > 0);
    assert_eq!(
        bi_count(
            &mut bi,
            "SELECT count(*) FROM bi.order_dish_categories WHERE category_name IS NOT NULL"
        ),
        lines
    );

    // The queries docs/bi.md gives for them run (as the loader: the last one reads dds).
    let queries = include_str!("../../docs/bi.md")
        .split_once("## Snapshots")
        .and_then(|(_, rest)| rest.split_once("```sql\n"))
        .and_then(|(_, rest)| rest.split_once("```"))
        .map(|(block, _)| block)
        .expect("docs/bi.md has the snapshots' queries");
    assert!(queries.contains("bi.order_snapshots"), "{queries}");
    db.client()
        .batch_execute(queries)
        .expect("docs/bi.md's queries");

    // What `vault report` reads, the BI login reads too.
    let report: serde_json::Value = serde_json::from_str(
        &vault_pg::bi::report_json(&mut bi, 5).expect("the report's data as the BI login"),
    )
    .expect("JSON");
    assert_eq!(report["top_dishes"].as_array().map(Vec::len), Some(5));
    assert_eq!(report["freshness"].as_array().map(Vec::len), Some(3));
    assert!(report["days"].as_array().is_some_and(|d| !d.is_empty()));

    // Nothing else: the raw layer, the Data Vault, the positions; and no write anywhere.
    for sql in [
        "SELECT count(*) FROM stg.order_events",
        "SELECT count(*) FROM dds.h_user",
        "SELECT count(*) FROM dds.pit_order",
        "SELECT count(*) FROM cdm.user_product_counters",
        "SELECT count(*) FROM vault.consumer_positions",
        "DELETE FROM bi.guest_dishes",
        "UPDATE cdm.user_product_counters SET order_cnt = 0",
        "CREATE TABLE bi.mine (x int)",
    ] {
        let err = bi.batch_execute(sql).expect_err(sql);
        let code = err.code().map(|c| c.code().to_owned());
        // 42501 insufficient privilege; 55000 for a write to a view PostgreSQL cannot update,
        // refused before privileges are looked at (the privileges are checked below).
        assert!(
            matches!(code.as_deref(), Some("42501" | "55000")),
            "{sql}: {err}"
        );
    }
    for view in VIEWS {
        for privilege in ["INSERT", "UPDATE", "DELETE", "TRUNCATE"] {
            let granted: bool = bi
                .query_one(
                    "SELECT has_table_privilege(current_user, 'bi.' || $1, $2)",
                    &[&view, &privilege],
                )
                .expect("privilege")
                .get(0);
            assert!(!granted, "{privilege} on bi.{view}");
        }
    }

    // Every view and every column says what it is.
    let mut admin = db.client();
    for view in VIEWS {
        let undocumented: Vec<String> = admin
            .query(
                "SELECT a.attname::text FROM pg_attribute a \
                 WHERE a.attrelid = ('bi.' || $1)::regclass AND a.attnum > 0 \
                   AND col_description(a.attrelid, a.attnum) IS NULL",
                &[&view],
            )
            .expect("column comments")
            .iter()
            .map(|r| r.get(0))
            .collect();
        assert!(undocumented.is_empty(), "bi.{view}: {undocumented:?}");
        let comment: Option<String> = admin
            .query_one("SELECT obj_description(('bi.' || $1)::regclass)", &[&view])
            .expect("view comment")
            .get(0);
        assert!(comment.is_some_and(|c| c.len() > 20), "bi.{view}");
    }
}
