//! Every Data Vault pattern of the toolkit on a model of the test's own, on a real PostgreSQL:
//! ghost records, a non-historized link, per-row record sources (a hub fed by two systems),
//! an effectivity satellite, a multi-active satellite, reference tables, a point-in-time table
//! joined with equalities thanks to the ghost records, and a bridge that follows the
//! effectivity satellite.

mod common;

use common::TestDb;
use vault_core::{data_vault, KeySpec, RowSet, Timestamp};

data_vault! {
    /// Customers, accounts, payments, phones, countries and currencies.
    pub struct CrmRows<'a> {
        model: "crm", schema: "crm", load_src: "crm-app", ghost_records: true;
        hubs {
            /// A customer.
            h_customer: HCustomer<'a> { h_customer_pk; customer_id: &'a str }
            /// An account.
            h_account: HAccount { h_account_pk; account_no: i64 }
        }
        links {
            /// Whose an account is.
            l_customer_account: LCustomerAccount {
                hk_customer_account_pk; h_customer_pk -> h_customer, h_account_pk -> h_account
            }
            /// A payment: a non-historized link with its payload.
            t_payment: TPayment {
                hk_payment_pk; h_customer_pk -> h_customer, h_account_pk -> h_account;
                payment_id: i64, amount_cents: i64, paid_at: Timestamp
            }
        }
        satellites {
            /// A customer's name.
            s_customer_name: SCustomerName<'a> {
                hk_customer_name_pk; h_customer_pk -> h_customer; name: &'a str; effective updated_at
            }
            /// A customer's tier.
            s_customer_tier: SCustomerTier<'a> {
                hk_customer_tier_pk; h_customer_pk -> h_customer; tier: &'a str; effective updated_at
            }
        }
        effectivity {
            /// Which customer an account belongs to, by the account.
            es_customer_account: EsCustomerAccount {
                hk_customer_account_pk -> l_customer_account; driving h_account_pk -> h_account;
                effective since
            }
        }
        multi_active {
            /// A customer's phone numbers, by kind.
            ma_customer_phone: MaCustomerPhone<'a> {
                hk_customer_phone_pk; h_customer_pk -> h_customer; kind: &'a str; number: &'a str;
                effective updated_at
            }
        }
        references {
            /// Countries, renamed now and then.
            r_country: RCountry<'a> { hk_country; country_code: &'a str; name: &'a str; effective updated_at }
            /// Currencies, which never change.
            r_currency: RCurrency<'a> { hk_currency; currency_code: &'a str; name: &'a str, minor_units: i16; insert_once }
        }
        pits {
            /// A customer's name and tier in force.
            pit_customer { h_customer; s_customer_name, s_customer_tier }
        }
        bridges {
            /// Each account's customer in force.
            b_account_customer { h_account -> l_customer_account -> h_customer }
        }
    }
}

const KEYS: KeySpec = KeySpec::SEED;

fn at(text: &str) -> Timestamp {
    Timestamp::parse(text).expect("a timestamp")
}

fn crm_db(tag: &str) -> TestDb {
    let db = TestDb::empty(tag);
    let mut client = db.client();
    vault_pg::model::create(&mut *client, &CrmRows::MODEL).expect("the DDL applies");
    vault_pg::model::create(&mut *client, &CrmRows::MODEL).expect("and again, unchanged");
    db
}

fn load(db: &TestDb, rows: &CrmRows<'_>) -> u64 {
    let mut client = db.client();
    let mut tx = client.transaction().expect("begin");
    let n = vault_pg::model::write(&mut tx, rows).expect("write");
    tx.commit().expect("commit");
    n
}

fn strings(db: &TestDb, sql: &str) -> Vec<String> {
    db.client()
        .query(sql, &[])
        .expect(sql)
        .iter()
        .map(|r| r.get(0))
        .collect()
}

/// Ann's customer and account 7 hubs, the link between them, and its effectivity from `since`
/// (the account is Ann's): the rows, for satellites and links of them.
fn ann_owns_account_7(
    rows: &mut CrmRows<'static>,
    since: Timestamp,
) -> (HCustomer<'static>, HAccount) {
    let ann = HCustomer::new(&KEYS, "c-ann");
    let account = HAccount::new(&KEYS, 7);
    let owner = LCustomerAccount::new(&KEYS, &ann, &account);
    rows.es_customer_account.push(EsCustomerAccount::new(
        owner.hk_customer_account_pk,
        account.h_account_pk,
        since,
    ));
    rows.l_customer_account.push(owner);
    rows.h_customer.push(ann.clone());
    rows.h_account.push(account.clone());
    (ann, account)
}

fn customer<'a>(rows: &mut CrmRows<'a>, id: &'a str) -> uuid::Uuid {
    let hub = HCustomer::new(&KEYS, id);
    let key = hub.h_customer_pk;
    rows.h_customer.push(hub);
    key
}

#[test]
fn every_table_has_its_ghost_record_and_the_pit_joins_it_with_equalities() {
    let db = crm_db("crm_ghosts");
    for table in CrmRows::TABLES {
        let key = CrmRows::MODEL.table(table).expect("declared").key();
        assert_eq!(
            db.scalar(&format!(
                "SELECT count(*) FROM crm.{table} WHERE {key}::text IN \
                 ('00000000-0000-0000-0000-000000000000', '(unknown)') AND load_src = 'SYSTEM'"
            )),
            1,
            "{table}"
        );
    }
    // Ann has a name from 10:00 and a tier from 12:00; at 11:00 her tier is the ghost's.
    let mut rows = CrmRows::default();
    customer(&mut rows, "c-ann");
    rows.s_customer_name.push(SCustomerName::new(
        &KEYS,
        &HCustomer::new(&KEYS, "c-ann"),
        "Ann",
        at("2024-05-01 10:00:00"),
    ));
    rows.s_customer_tier.push(SCustomerTier::new(
        &KEYS,
        &HCustomer::new(&KEYS, "c-ann"),
        "gold",
        at("2024-05-01 12:00:00"),
    ));
    load(&db, &rows);
    let refreshed: i64 = db
        .client()
        .query_one("SELECT crm.pit_customer_refresh('2024-05-01 11:00')", &[])
        .expect("refresh")
        .get(0);
    assert_eq!(refreshed, 1, "Ann alone: the ghost customer is no customer");
    assert_eq!(
        db.scalar("SELECT count(*) FROM crm.pit_customer"),
        1,
        "the function's count is the table's"
    );
    let joined = strings(
        &db,
        "SELECT n.name || '/' || t.tier FROM crm.pit_customer p \
         JOIN crm.h_customer h USING (h_customer_pk) \
         JOIN crm.s_customer_name n ON n.hk_customer_name_pk = p.hk_customer_name_pk \
          AND n.updated_at = p.s_customer_name_updated_at \
         JOIN crm.s_customer_tier t ON t.hk_customer_tier_pk = p.hk_customer_tier_pk \
          AND t.updated_at = p.s_customer_tier_updated_at \
         WHERE h.customer_id = 'c-ann'",
    );
    assert_eq!(joined, ["Ann/(unknown)"], "inner joins find the ghost tier");
}

#[test]
fn a_non_historized_link_keeps_each_transaction_once_with_its_payload() {
    let db = crm_db("crm_payments");
    let mut rows = CrmRows::default();
    let ann = customer(&mut rows, "c-ann");
    let account = HAccount::new(&KEYS, 7);
    let acc = account.h_account_pk;
    rows.h_account.push(account);
    for (id, cents) in [(1_i64, 500_i64), (2, 1250), (1, 500)] {
        rows.t_payment.push(TPayment {
            hk_payment_pk: KEYS.link(&["c-ann", "7", &id.to_string()]),
            h_customer_pk: ann,
            h_account_pk: acc,
            payment_id: id,
            amount_cents: cents,
            paid_at: at("2024-05-01 10:00:00"),
        });
    }
    assert_eq!(
        rows.t_payment.len(),
        2,
        "the repeated transaction is one row"
    );
    load(&db, &rows);
    assert_eq!(load(&db, &rows), 0, "a replay adds nothing");
    assert_eq!(
        db.scalar("SELECT sum(amount_cents)::bigint FROM crm.t_payment WHERE payment_id > 0"),
        1750
    );
}

#[test]
fn a_hub_fed_by_two_systems_keeps_the_source_that_delivered_each_key_first() {
    let db = crm_db("crm_sources");
    let mut shop = CrmRows::default();
    shop.h_customer
        .push_from(HCustomer::new(&KEYS, "c-1"), "web-shop");
    shop.h_customer
        .push_from(HCustomer::new(&KEYS, "c-2"), "web-shop");
    shop.h_customer.push(HCustomer::new(&KEYS, "c-3")); // the model's own source
    assert_eq!(shop.h_customer.record_source(0), Some("web-shop"));
    assert_eq!(shop.h_customer.record_source(2), None);
    load(&db, &shop);
    let mut crm = CrmRows::default();
    crm.h_customer
        .push_from(HCustomer::new(&KEYS, "c-2"), "crm-import");
    crm.h_customer
        .push_from(HCustomer::new(&KEYS, "c-4"), "crm-import");
    assert_eq!(load(&db, &crm), 1, "c-2 is there already");
    assert_eq!(
        strings(
            &db,
            "SELECT customer_id || ':' || load_src FROM crm.h_customer \
             WHERE load_src <> 'SYSTEM' ORDER BY customer_id"
        ),
        [
            "c-1:web-shop",
            "c-2:web-shop",
            "c-3:crm-app",
            "c-4:crm-import"
        ]
    );
}

#[test]
fn a_multi_active_satellite_keeps_whole_sets_whatever_the_arrival_order() {
    let db = crm_db("crm_phones");
    let sets: [(&str, &[(&str, &str)]); 3] = [
        ("2024-05-01 10:00:00", &[("home", "111"), ("work", "222")]),
        ("2024-05-02 10:00:00", &[("home", "111"), ("mobile", "333")]),
        ("2024-05-03 10:00:00", &[("home", "111"), ("work", "222")]),
    ];
    // The newest set first, then the oldest, then the middle one (late).
    for i in [2, 0, 1] {
        let (time, members) = sets[i];
        let mut rows = CrmRows::default();
        customer(&mut rows, "c-ann");
        for (kind, number) in members {
            rows.ma_customer_phone.push(MaCustomerPhone::new(
                &KEYS,
                &HCustomer::new(&KEYS, "c-ann"),
                kind,
                number,
                at(time),
            ));
        }
        load(&db, &rows);
    }
    let numbers = |sql: &str| {
        strings(
            &db,
            &format!("SELECT string_agg(kind || '=' || number, ',' ORDER BY kind) FROM ({sql}) s"),
        )
    };
    assert_eq!(
        numbers("SELECT * FROM crm.ma_customer_phone_current"),
        ["home=111,work=222"]
    );
    assert_eq!(
        numbers("SELECT * FROM crm.ma_customer_phone_at('2024-05-02 12:00')"),
        ["home=111,mobile=333"]
    );
    assert_eq!(
        strings(
            &db,
            "SELECT valid_from::text || ' ' || coalesce(valid_to::text, '-') || ' ' || count(*) \
             FROM crm.ma_customer_phone_periods \
             GROUP BY valid_from, valid_to ORDER BY valid_from"
        ),
        [
            "2024-05-01 10:00:00 2024-05-02 10:00:00 2",
            "2024-05-02 10:00:00 2024-05-03 10:00:00 2",
            "2024-05-03 10:00:00 - 2"
        ],
        "A → B → A: three periods of two members"
    );
    assert_eq!(
        db.scalar("SELECT count(*) FROM crm.ma_customer_phone"),
        1 + 6
    );
}

#[test]
fn reference_tables_keep_a_codes_history_or_one_row_per_code() {
    let db = crm_db("crm_reference");
    let mut rows = CrmRows::default();
    for (name, time) in [
        ("Swaziland", "2000-01-01 00:00:00"),
        ("Eswatini", "2018-04-19 00:00:00"),
        ("Swaziland", "2030-01-01 00:00:00"),
        ("Swaziland", "2000-01-01 00:00:00"),
    ] {
        rows.r_country
            .push(RCountry::new(&KEYS, "SZ", name, at(time)));
    }
    rows.r_currency
        .push(RCurrency::new(&KEYS, "EUR", "Euro", 2));
    rows.r_currency
        .push(RCurrency::new(&KEYS, "EUR", "Euro (again)", 2));
    assert_eq!(rows.r_country.len(), 3);
    assert_eq!(rows.r_currency.len(), 1, "insert-once: one row per code");
    load(&db, &rows);
    assert_eq!(
        strings(
            &db,
            "SELECT name FROM crm.r_country_at('2020-01-01') WHERE country_code = 'SZ'"
        ),
        ["Eswatini"]
    );
    assert_eq!(
        strings(
            &db,
            "SELECT name FROM crm.r_country_current WHERE country_code = 'SZ'"
        ),
        ["Swaziland"]
    );
    assert_eq!(
        db.scalar("SELECT count(*) FROM crm.r_country_periods WHERE country_code = 'SZ'"),
        3
    );
    assert_eq!(
        strings(
            &db,
            "SELECT name FROM crm.r_currency WHERE currency_code = 'EUR'"
        ),
        ["Euro"]
    );
}

#[test]
fn the_bridge_follows_the_effectivity_satellite() {
    let db = crm_db("crm_bridge");
    let mut rows = CrmRows::default();
    let ann = customer(&mut rows, "c-ann");
    let bob = customer(&mut rows, "c-bob");
    let account = HAccount::new(&KEYS, 7);
    let acc = account.h_account_pk;
    rows.h_account.push(account);
    for (owner, id, since) in [
        (ann, "c-ann", "2024-05-01 00:00:00"),
        (bob, "c-bob", "2024-06-01 00:00:00"),
    ] {
        let link = KEYS.link(&[id, "7"]);
        rows.l_customer_account.push(LCustomerAccount {
            hk_customer_account_pk: link,
            h_customer_pk: owner,
            h_account_pk: acc,
        });
        rows.es_customer_account
            .push(EsCustomerAccount::new(link, acc, at(since)));
    }
    load(&db, &rows);
    let owner_at = |time: &str| -> Vec<String> {
        db.client()
            .query_one(
                "SELECT crm.b_account_customer_refresh($1::text::timestamp)",
                &[&time],
            )
            .expect("refresh");
        strings(
            &db,
            &format!(
                "SELECT c.customer_id FROM crm.b_account_customer b JOIN crm.h_customer c USING (h_customer_pk) \
                 JOIN crm.h_account a USING (h_account_pk) \
                 WHERE b.as_of = '{time}' AND a.account_no = 7"
            ),
        )
    };
    assert_eq!(owner_at("2024-04-01 00:00:00"), Vec::<String>::new());
    assert_eq!(owner_at("2024-05-15 00:00:00"), ["c-ann"]);
    assert_eq!(owner_at("2024-07-01 00:00:00"), ["c-bob"]);
}

/// The ghost records are in the tables (what a PIT points at for "no row yet"), and in no read:
/// not in a satellite's, a multi-active satellite's, an effectivity satellite's or a reference
/// table's `_current`, `_at` and `_periods`, nor in a PIT's or a bridge's snapshot.
#[test]
fn no_read_shows_a_ghost_record() {
    let db = crm_db("crm_no_ghosts");
    let ghost = "'00000000-0000-0000-0000-000000000000'";
    let mut reads = Vec::new();
    for table in CrmRows::MODEL.tables {
        let historized = table.effective.is_some();
        let views = match table.kind {
            vault_core::TableKind::Satellite
            | vault_core::TableKind::MultiActive
            | vault_core::TableKind::Effectivity => true,
            vault_core::TableKind::Reference => historized,
            _ => false,
        };
        if !views {
            continue;
        }
        let name = table.name;
        let key = table.key();
        reads.push((name, format!("crm.{name}_current"), key));
        if historized {
            reads.push((name, format!("crm.{name}_at('infinity')"), key));
            reads.push((name, format!("crm.{name}_periods"), key));
        }
    }
    assert_eq!(
        reads.len(),
        3 * 5,
        "_current, _at and _periods of 2 satellites, the multi-active, the effectivity and r_country"
    );
    // An empty model: every read is empty, though every table holds its ghost.
    for (table, from, key) in &reads {
        assert_eq!(
            db.scalar(&format!("SELECT count(*) FROM {from}")),
            0,
            "{from}"
        );
        assert_eq!(
            db.scalar(&format!(
                "SELECT count(*) FROM crm.{table} WHERE {key} = {ghost}"
            )),
            1,
            "{from}: the table's ghost is there"
        );
    }
    for refresh in [
        "SELECT crm.pit_customer_refresh('infinity')",
        "SELECT crm.b_account_customer_refresh('infinity')",
    ] {
        let rows: i64 = db.client().query_one(refresh, &[]).expect(refresh).get(0);
        assert_eq!(rows, 0, "{refresh}");
    }
    // With one row of each: one row in each read, and never the ghost.
    let mut rows = CrmRows::default();
    let since = at("2024-05-01 10:00:00");
    let (ann_row, _) = ann_owns_account_7(&mut rows, since);
    rows.s_customer_name
        .push(SCustomerName::new(&KEYS, &ann_row, "Ann", since));
    rows.s_customer_tier
        .push(SCustomerTier::new(&KEYS, &ann_row, "gold", since));
    rows.ma_customer_phone
        .push(MaCustomerPhone::new(&KEYS, &ann_row, "home", "111", since));
    rows.r_country
        .push(RCountry::new(&KEYS, "SZ", "Eswatini", since));
    rows.r_currency
        .push(RCurrency::new(&KEYS, "EUR", "Euro", 2));
    load(&db, &rows);
    for (_, from, key) in &reads {
        assert_eq!(
            db.scalar(&format!(
                "SELECT count(*) FROM {from} WHERE {key} <> {ghost}"
            )),
            1,
            "{from}"
        );
        assert_eq!(
            db.scalar(&format!("SELECT count(*) FROM {from}")),
            1,
            "{from}: no ghost"
        );
    }
    for (refresh, table, hub_key) in [
        (
            "SELECT crm.pit_customer_refresh('infinity')",
            "pit_customer",
            "h_customer_pk",
        ),
        (
            "SELECT crm.b_account_customer_refresh('infinity')",
            "b_account_customer",
            "h_account_pk",
        ),
    ] {
        let rows: i64 = db.client().query_one(refresh, &[]).expect(refresh).get(0);
        assert_eq!(rows, 1, "{refresh}");
        assert_eq!(
            db.scalar(&format!(
                "SELECT count(*) FROM crm.{table} WHERE {hub_key} = {ghost}"
            )),
            0,
            "{table}"
        );
    }
}

/// docs/toolkit.md §7 shows, per pattern, an excerpt of the SQL generated for its `shop` model
/// (this test's model but for its schema and one column of `r_currency`): every excerpt is in
/// what `vault_pg::model` generates here, and every query of §7 on `shop.` tables runs here on a
/// loaded model (`'…'` standing for a key).
#[test]
fn the_sql_of_docs_toolkit_md_section_7_is_generated_and_its_queries_run() {
    const MARKER: &str = "-- generated by vault_pg::model for the model above (excerpt)";
    let doc = include_str!("../../docs/toolkit.md");
    let section = doc
        .split_once("## 7. ")
        .and_then(|(_, rest)| rest.split_once("## 8. "))
        .map(|(section, _)| section)
        .expect("docs/toolkit.md has §7 and §8");
    let mut generated = vault_pg::model::ddl(&CrmRows::MODEL).expect("ddl");
    let hub = CrmRows::MODEL.table("h_customer").expect("declared");
    generated.push_str(&vault_pg::model::insert_sourced_sql(&CrmRows::MODEL, hub));
    let blocks: Vec<String> = section
        .split("```sql\n")
        .skip(1)
        .filter_map(|rest| {
            rest.split_once("```")
                .map(|(block, _)| block.replace("shop.", "crm."))
        })
        .collect();

    let db = crm_db("crm_doc");
    let mut rows = CrmRows::default();
    let (ann_row, account) = ann_owns_account_7(&mut rows, at("2024-05-01 00:00:00"));
    let (ann, acc) = (ann_row.h_customer_pk, account.h_account_pk);
    rows.s_customer_name.push(SCustomerName::new(
        &KEYS,
        &ann_row,
        "Ann",
        at("2024-05-01 10:00:00"),
    ));
    rows.ma_customer_phone.push(MaCustomerPhone::new(
        &KEYS,
        &ann_row,
        "home",
        "111",
        at("2024-05-01 10:00:00"),
    ));
    rows.t_payment.push(TPayment {
        hk_payment_pk: KEYS.link(&["c-ann", "7", "p-1"]),
        h_customer_pk: ann,
        h_account_pk: acc,
        payment_id: 1,
        amount_cents: 1250,
        paid_at: at("2024-05-02 12:00:00"),
    });
    rows.r_country.push(RCountry::new(
        &KEYS,
        "SZ",
        "Eswatini",
        at("2018-04-19 00:00:00"),
    ));
    load(&db, &rows);
    db.client()
        .query_one("SELECT crm.pit_customer_refresh('2024-05-01 11:00')", &[])
        .expect("refresh");

    let (mut excerpts, mut queries) = (0, 0);
    for block in &blocks {
        if let Some(excerpt) = block.strip_prefix(MARKER) {
            for chunk in excerpt.split("\n-- …\n") {
                let chunk = chunk.trim();
                assert!(
                    generated.contains(chunk),
                    "not generated for the model:\n{chunk}"
                );
                excerpts += 1;
            }
        } else if block.contains("crm.") {
            let sql = block.replace("'…'", "'00000000-0000-0000-0000-000000000000'");
            db.client()
                .batch_execute(&sql)
                .unwrap_or_else(|e| panic!("{sql}: {e}"));
            queries += 1;
        }
    }
    assert_eq!((excerpts, queries), (9, 6), "the blocks of §7 found");
}
