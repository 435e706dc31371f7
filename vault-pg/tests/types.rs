//! Every column type the toolkit takes, on a real PostgreSQL: the DDL's SQL types and NULL-ness,
//! values and NULLs loaded and read back, each type's key material (Python's `str()` of the
//! value, docs/keys.md), a type of the user's own, and a row whose value does not match its
//! column refused with a clear error.

mod common;

use std::borrow::Cow;
use std::collections::BTreeMap;

use chrono::{DateTime, NaiveDate, Utc};
use common::TestDb;
use uuid::Uuid;
use vault_core::{
    data_vault, Amount, Column, DvRow, KeySpec, RowSet, SqlType, SqlValue, Timestamp,
};

/// A book's format, stored as its name: a column type of the user's own.
#[derive(Debug, Clone, Copy, PartialEq, vault_core::serde::Serialize)]
#[serde(crate = "vault_core::serde")]
pub enum Format {
    /// Paper.
    Paper,
    /// An e-book.
    Ebook,
}

impl SqlValue for Format {
    const SQL_TYPE: SqlType = SqlType::Text;
    fn column(&self) -> Column<'_> {
        Column::Text(Cow::Borrowed(match self {
            Format::Paper => "paper",
            Format::Ebook => "ebook",
        }))
    }
}

/// A type whose implementation is wrong: it says BIGINT and gives text.
#[derive(Debug, Clone, Copy, PartialEq, vault_core::serde::Serialize)]
#[serde(crate = "vault_core::serde")]
pub struct Broken;

impl SqlValue for Broken {
    const SQL_TYPE: SqlType = SqlType::BigInt;
    fn column(&self) -> Column<'_> {
        Column::Text(Cow::Borrowed("not a number"))
    }
}

data_vault! {
    /// Books with every kind of attribute.
    pub struct BookRows<'a> {
        model: "books", schema: "book", load_src: "types-test";
        hubs {
            /// A book, by ISBN.
            h_book: HBook<'a> { h_book_pk; isbn: &'a str }
        }
        links {}
        satellites {
            /// Everything a catalogue says of a book.
            s_book_details: SBookDetails {
                hk_book_details_pk; h_book_pk -> h_book;
                title: String, subtitle: Option<String>, in_print: bool, edition: i16,
                pages: i32, copies_sold: i64, rating: f64, price: Amount,
                discount: Option<Amount>, published: NaiveDate, catalogued_at: DateTime<Utc>,
                scanned_at: Option<Timestamp>, shelf: Option<Uuid>, extra: serde_json::Value,
                format: Format, series_no: Option<i32>;
                effective changed_at
            }
            /// A satellite that must fail to load.
            s_book_broken: SBookBroken { hk_book_broken_pk; h_book_pk -> h_book; broken: Broken; insert_once }
        }
    }
}

const KEYS: KeySpec = KeySpec::SEED;

fn details(full: bool) -> SBookDetails {
    let at = |t: &str| Timestamp::parse(t).expect("timestamp");
    SBookDetails {
        hk_book_details_pk: Uuid::nil(),
        h_book_pk: KEYS.hub("978-0"),
        title: "Война и мир".to_owned(),
        subtitle: full.then(|| " Том 1 ".to_owned()),
        in_print: full,
        edition: -3,
        pages: 1225,
        copies_sold: 36_000_000_000,
        rating: if full { 1e16 } else { 0.00001 },
        price: "875.0".parse().expect("amount"),
        discount: full.then(|| "1E2".parse().expect("amount")),
        published: NaiveDate::from_ymd_opt(1869, 1, 1).expect("date"),
        catalogued_at: at("2024-05-01T10:00:00+02:00").naive().and_utc(),
        scanned_at: full.then(|| at("2024-05-01 12:00:00.25")),
        shelf: full.then(|| Uuid::from_u128(0x1234)),
        extra: serde_json::json!({"tags": ["classic", null], "awards": 0}),
        format: if full { Format::Paper } else { Format::Ebook },
        series_no: None,
        changed_at: at(if full {
            "2024-05-01 10:00:00"
        } else {
            "2024-05-02 10:00:00"
        }),
    }
    .with_hashdiff(&KEYS, "978-0")
}

/// The key material of every attribute, in declared order.
fn material(row: &SBookDetails) -> Vec<String> {
    let attributes: Vec<&str> = SBookDetails::DEF.attributes().map(|c| c.name).collect();
    let mut out = Vec::new();
    let mut i = 0;
    row.visit_columns(&mut |value| {
        if attributes.contains(&SBookDetails::COLUMNS[i]) {
            out.push(value.material().into_owned());
        }
        i += 1;
    });
    out
}

#[test]
fn every_type_has_python_str_material() {
    // What Python's str() gives for the same values (the original services' rule).
    assert_eq!(
        material(&details(true)),
        [
            "Война и мир",
            " Том 1 ",
            "True",
            "-3",
            "1225",
            "36000000000",
            "1e+16",
            "875.0",
            "100.0",
            "1869-01-01",
            "2024-05-01 08:00:00+00:00",
            "2024-05-01 12:00:00.250000",
            "00000000-0000-0000-0000-000000001234",
            r#"{"awards":0,"tags":["classic",null]}"#,
            "paper",
            "None",
        ]
    );
    assert_eq!(
        material(&details(false))[1..3],
        ["None".to_owned(), "False".to_owned()],
        "NULL is None, false is False"
    );
    assert_eq!(material(&details(false))[6], "1e-05");
    let row = details(true);
    let expected = KEYS.hashdiff(
        "978-0",
        &material(&row)
            .iter()
            .map(String::as_str)
            .collect::<Vec<_>>(),
    );
    assert_eq!(row.key(), expected);
}

#[test]
fn every_type_loads_and_reads_back() {
    let db = TestDb::empty("types");
    let sql = vault_pg::model::ddl(&BookRows::MODEL).expect("ddl");
    assert!(sql.contains("subtitle varchar,\n"), "{sql}");
    assert!(sql.contains("title varchar NOT NULL,"), "{sql}");
    vault_pg::model::create(&mut *db.client(), &BookRows::MODEL).expect("create");
    let types: BTreeMap<String, (String, String)> = db
        .client()
        .query(
            "SELECT column_name::text, data_type::text, is_nullable::text \
             FROM information_schema.columns \
             WHERE table_schema = 'book' AND table_name = 's_book_details'",
            &[],
        )
        .expect("columns")
        .iter()
        .map(|r| (r.get(0), (r.get(1), r.get(2))))
        .collect();
    let ty = |c: &str| types[c].0.as_str();
    let nullable = |c: &str| types[c].1 == "YES";
    assert_eq!(
        [
            ty("title"),
            ty("in_print"),
            ty("edition"),
            ty("pages"),
            ty("copies_sold"),
            ty("rating"),
            ty("price"),
            ty("published"),
            ty("catalogued_at"),
            ty("scanned_at"),
            ty("shelf"),
            ty("extra"),
            ty("format"),
        ],
        [
            "character varying",
            "boolean",
            "smallint",
            "integer",
            "bigint",
            "double precision",
            "numeric",
            "date",
            "timestamp with time zone",
            "timestamp without time zone",
            "uuid",
            "jsonb",
            "character varying",
        ]
    );
    assert!(nullable("subtitle") && nullable("discount") && nullable("series_no"));
    assert!(!nullable("title") && !nullable("rating") && !nullable("changed_at"));

    let mut rows = BookRows::default();
    rows.h_book.push(HBook {
        h_book_pk: KEYS.hub("978-0"),
        isbn: "978-0",
    });
    rows.s_book_details.push(details(true));
    rows.s_book_details.push(details(false));
    let mut client = db.client();
    let mut tx = client.transaction().expect("begin");
    assert_eq!(vault_pg::model::write(&mut tx, &rows).expect("write"), 3);
    tx.commit().expect("commit");
    let back = client
        .query_one(
            "SELECT subtitle, in_print, edition, pages, copies_sold, rating, price::text, \
                    discount::text, published, catalogued_at, scanned_at::text, shelf, \
                    extra->'tags'->>0, format, series_no \
             FROM book.s_book_details WHERE changed_at = '2024-05-01 10:00:00'",
            &[],
        )
        .expect("the full row");
    assert_eq!(back.get::<_, Option<String>>(0).as_deref(), Some(" Том 1 "));
    assert!(back.get::<_, bool>(1));
    assert_eq!(back.get::<_, i16>(2), -3);
    assert_eq!(back.get::<_, i32>(3), 1225);
    assert_eq!(back.get::<_, i64>(4), 36_000_000_000);
    assert_eq!(back.get::<_, f64>(5), 1e16);
    assert_eq!(back.get::<_, String>(6), "875.0");
    assert_eq!(back.get::<_, Option<String>>(7).as_deref(), Some("100.0"));
    assert_eq!(
        back.get::<_, NaiveDate>(8),
        NaiveDate::from_ymd_opt(1869, 1, 1).expect("date")
    );
    assert_eq!(
        back.get::<_, DateTime<Utc>>(9).to_rfc3339(),
        "2024-05-01T08:00:00+00:00"
    );
    assert_eq!(
        back.get::<_, Option<String>>(10).as_deref(),
        Some("2024-05-01 12:00:00.25")
    );
    assert_eq!(
        back.get::<_, Option<Uuid>>(11),
        Some(Uuid::from_u128(0x1234))
    );
    assert_eq!(back.get::<_, String>(12), "classic");
    assert_eq!(back.get::<_, String>(13), "paper");
    assert_eq!(back.get::<_, Option<i32>>(14), None);
    let nulls: i64 = db.scalar(
        "SELECT count(*) FROM book.s_book_details \
         WHERE subtitle IS NULL AND discount IS NULL AND scanned_at IS NULL AND shelf IS NULL",
    );
    assert_eq!(nulls, 1, "the second row's NULLs");

    // A value that does not match its column's declared type is refused, naming the column.
    let mut broken = BookRows::default();
    broken.s_book_broken.push(SBookBroken {
        hk_book_broken_pk: Uuid::from_u128(1),
        h_book_pk: KEYS.hub("978-0"),
        broken: Broken,
    });
    let mut tx = client.transaction().expect("begin");
    let err = vault_pg::model::write(&mut tx, &broken).expect_err("a text for a BIGINT");
    assert!(
        err.to_string()
            .contains("s_book_broken.broken: a Text value for a column declared BigInt"),
        "{err}"
    );
}

/// A loan's channel, stored in an enum type of the database's own ([`SqlType::Named`]).
#[derive(Debug, Clone, Copy, PartialEq, vault_core::serde::Serialize)]
#[serde(crate = "vault_core::serde")]
pub enum Channel {
    /// At the desk.
    Desk,
    /// In the app.
    App,
}

impl SqlValue for Channel {
    const SQL_TYPE: SqlType = SqlType::Named("book.loan_channel");
    fn column(&self) -> Column<'_> {
        Column::Text(Cow::Borrowed(match self {
            Channel::Desk => "desk",
            Channel::App => "app",
        }))
    }
}

/// A code the database holds to eight characters (a domain with a check).
#[derive(Debug, Clone, PartialEq, vault_core::serde::Serialize)]
#[serde(crate = "vault_core::serde")]
pub struct ShelfCode(String);

impl SqlValue for ShelfCode {
    const SQL_TYPE: SqlType = SqlType::Named("book.shelf_code");
    fn column(&self) -> Column<'_> {
        Column::Text(Cow::Borrowed(&self.0))
    }
}

data_vault! {
    /// Loans, with columns of types the database names.
    pub struct LoanRows<'a> {
        model: "loans", schema: "book", load_src: "types-test";
        hubs {
            /// A loan, by number.
            h_loan: HLoan { h_loan_pk; loan_no: i64 }
        }
        links {}
        satellites {
            /// How and where a loan was made.
            s_loan_terms: SLoanTerms {
                hk_loan_terms_pk; h_loan_pk -> h_loan;
                channel: Channel, shelf: Option<ShelfCode>, fee: Amount;
                effective changed_at
            }
        }
    }
}

/// A type the database names: the DDL says it, the loader casts to it, the value reads back,
/// and the database's own rule on it (a domain's check: eight characters) refuses a longer
/// value as bad data, not truncated.
#[test]
fn a_named_type_is_made_cast_and_enforced_by_the_database() {
    let db = TestDb::empty("types_named");
    let sql = vault_pg::model::ddl(&LoanRows::MODEL).expect("ddl");
    assert!(sql.contains("channel book.loan_channel NOT NULL,"), "{sql}");
    assert!(sql.contains("shelf book.shelf_code,"), "{sql}");
    let mut client = db.client();
    client
        .batch_execute(
            "CREATE SCHEMA IF NOT EXISTS book; CREATE TYPE book.loan_channel AS ENUM ('desk', 'app'); \
             CREATE DOMAIN book.shelf_code AS text CHECK (length(VALUE) <= 8)",
        )
        .expect("the enum and the domain, made by the user");
    vault_pg::model::create(&mut *client, &LoanRows::MODEL).expect("create");
    let at = Timestamp::parse("2024-05-01 10:00:00").expect("timestamp");
    let loan = HLoan::new(&KEYS, 42);
    let terms = |channel, shelf: Option<&str>| {
        SLoanTerms::new(
            &KEYS,
            &loan,
            channel,
            shelf.map(|s| ShelfCode(s.to_owned())),
            "1.50".parse::<Amount>().expect("amount"),
            at,
        )
    };
    let mut rows = LoanRows::default();
    rows.h_loan.push(loan.clone());
    rows.s_loan_terms.push(terms(Channel::App, Some("A-12")));
    let mut tx = client.transaction().expect("begin");
    assert_eq!(vault_pg::model::write(&mut tx, &rows).expect("write"), 2);
    tx.commit().expect("commit");
    let back = client
        .query_one(
            "SELECT channel::text, shelf::text, pg_typeof(channel)::text FROM book.s_loan_terms",
            &[],
        )
        .expect("the row");
    assert_eq!(
        (
            back.get::<_, String>(0),
            back.get::<_, String>(1),
            back.get::<_, String>(2)
        ),
        (
            "app".to_owned(),
            "A-12".to_owned(),
            "book.loan_channel".to_owned()
        )
    );
    let mut rows = LoanRows::default();
    rows.s_loan_terms
        .push(terms(Channel::Desk, Some("A-12-far-too-long")));
    let mut tx = client.transaction().expect("begin");
    let err = vault_pg::model::write(&mut tx, &rows).expect_err("nine characters and more");
    // 23514 (check violation): the message's fault, not the warehouse's.
    assert!(err.blames_message(), "{err}");
    assert!(err.to_string().contains("shelf_code"), "{err}");
}

/// A named type is spliced into DDL and casts: anything but a type name is refused by the
/// model's validation, and so is a modifier (an explicit cast to `varchar(8)` truncates).
#[test]
fn a_named_type_that_is_not_a_type_name_is_refused() {
    use vault_core::{ColumnDef, ModelDef, TableDef, TableKind};
    const KEY: ColumnDef = ColumnDef {
        name: "h_x_pk",
        sql_type: SqlType::Uuid,
        nullable: false,
        references: None,
    };
    const INJECTED: ColumnDef = ColumnDef {
        name: "code",
        sql_type: SqlType::Named("text); DROP TABLE x; --"),
        nullable: false,
        references: None,
    };
    const MODEL: ModelDef = ModelDef {
        name: "m",
        schema: "m",
        load_src: "t",
        ghost_records: false,
        tables: &[TableDef {
            name: "h_x",
            kind: TableKind::Hub,
            columns: &[KEY, INJECTED],
            business_key: &["code"],
            effective: None,
        }],
        pits: &[],
        bridges: &[],
    };
    let err = MODEL.validate().expect_err("not a type name");
    assert!(err.to_string().contains("named SQL type"), "{err}");
    const MODIFIED: ColumnDef = ColumnDef {
        sql_type: SqlType::Named("varchar(8)"),
        ..INJECTED
    };
    const WITH_MODIFIER: ModelDef = ModelDef {
        tables: &[TableDef {
            name: "h_x",
            kind: TableKind::Hub,
            columns: &[KEY, MODIFIED],
            business_key: &["code"],
            effective: None,
        }],
        ..MODEL
    };
    let err = WITH_MODIFIER.validate().expect_err("a modifier");
    assert!(err.to_string().contains("domain"), "{err}");
}
