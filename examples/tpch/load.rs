//! The two loads of the same generated data, and their comparison:
//!
//! * [`load_toolkit`] — rows built with the toolkit (keys from the declarations) and written
//!   with `vault_pg::model::write`, batch by batch, one transaction each, into the schema
//!   `tpch`;
//! * [`load_set_based`] — the raw rows COPYed into `tpch_stage`, then one `INSERT … SELECT`
//!   per table into `tpch_sql`, the keys computed in SQL (`examples/sql/tpch/load.sql`);
//! * [`compare`] — per table, rows in each and rows in one but not the other, on every
//!   declared column.
//!
//! The SQL is in `examples/sql/tpch/`.

use std::fmt;
use std::io::Write;
use std::time::Instant;

use postgres::Client;
use vault_core::{ModelDef, RowSet, TableKind};
use vault_pg::error::Context;
use vault_pg::PgError;

use super::data::Tpch;
use super::{TpchRows, KEYS, SQL_MODEL};

/// Why a load or a comparison failed.
#[derive(Debug)]
pub enum LoadError {
    /// A statement failed.
    Pg(PgError),
    /// Rows could not be sent to a COPY.
    Copy {
        /// The raw table.
        table: &'static str,
        /// What went wrong.
        source: std::io::Error,
    },
}

impl fmt::Display for LoadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LoadError::Pg(err) => write!(f, "{err}"),
            LoadError::Copy { table, source } => {
                write!(f, "COPY into tpch_stage.{table}: {source}")
            }
        }
    }
}

impl std::error::Error for LoadError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            LoadError::Pg(err) => Some(err),
            LoadError::Copy { source, .. } => Some(source),
        }
    }
}

impl From<PgError> for LoadError {
    fn from(err: PgError) -> Self {
        LoadError::Pg(err)
    }
}

/// What a load did and how long it took.
#[derive(Debug, Clone, PartialEq)]
pub struct LoadReport {
    /// Source rows read.
    pub source_rows: u64,
    /// Rows inserted into the vault's tables.
    pub vault_rows: u64,
    /// Transactions committed.
    pub transactions: u64,
    /// Seconds per phase: the toolkit's `build` (rows and keys in Rust) and `write`; the
    /// set-based load's `copy` (raw rows into staging) and `insert` (INSERT … SELECT).
    pub phases: Vec<(&'static str, f64)>,
}

impl LoadReport {
    /// Seconds in all phases.
    pub fn seconds(&self) -> f64 {
        self.phases.iter().map(|(_, s)| s).sum()
    }

    /// Vault rows per second over all phases.
    pub fn rows_per_second(&self) -> f64 {
        self.vault_rows as f64 / self.seconds().max(f64::EPSILON)
    }
}

/// `{name}` → value, in a template.
fn fill(template: &str, values: &[(&str, &str)]) -> String {
    let mut out = template.to_owned();
    for (name, value) in values {
        out = out.replace(&format!("{{{name}}}"), value);
    }
    out
}

/// Drops the schemas the example makes (`tpch`, `tpch_sql`, `tpch_stage`) and everything in
/// them.
pub fn drop_schemas(client: &mut Client) -> Result<(), LoadError> {
    client
        .batch_execute(include_str!("../sql/tpch/drop.sql"))
        .context("drop the TPC-H schemas")?;
    Ok(())
}

/// Creates the toolkit's tables (schema `tpch`, `vault_pg::model::create`).
pub fn create_toolkit_tables(client: &mut Client) -> Result<(), LoadError> {
    vault_pg::model::create(client, &TpchRows::MODEL)?;
    Ok(())
}

/// One batch: rows built, then written and committed; the seconds of each are added to
/// `build` and `write`.
struct Batches<'c> {
    client: &'c mut Client,
    build: f64,
    write: f64,
    written: u64,
    transactions: u64,
}

impl Batches<'_> {
    fn run<'a>(&mut self, fill: impl FnOnce(&mut TpchRows<'a>)) -> Result<(), LoadError> {
        let started = Instant::now();
        let mut rows = TpchRows::default();
        fill(&mut rows);
        let built = Instant::now();
        let mut tx = self.client.transaction().context("begin a batch")?;
        self.written += vault_pg::model::write(&mut tx, &rows)?;
        tx.commit().context("commit a batch")?;
        self.build += (built - started).as_secs_f64();
        self.write += built.elapsed().as_secs_f64();
        self.transactions += 1;
        Ok(())
    }
}

/// Loads `tpch` through the toolkit into the schema `tpch` (made by
/// [`create_toolkit_tables`]), about `batch` source rows per transaction (an order counts with
/// its line items), tables in the order their references need: regions and nations, then
/// customers, suppliers, parts, the inventory, then orders with their line items.
pub fn load_toolkit(
    client: &mut Client,
    tpch: &Tpch,
    batch: usize,
) -> Result<LoadReport, LoadError> {
    let batch = batch.max(1);
    let keys = &KEYS;
    let mut batches = Batches {
        client,
        build: 0.0,
        write: 0.0,
        written: 0,
        transactions: 0,
    };
    batches.run(|rows| {
        tpch.region
            .iter()
            .for_each(|r| super::add_region(rows, keys, r));
        tpch.nation
            .iter()
            .for_each(|n| super::add_nation(rows, keys, n));
    })?;
    for chunk in tpch.customer.chunks(batch) {
        batches.run(|rows| {
            chunk
                .iter()
                .for_each(|c| super::add_customer(rows, keys, c))
        })?;
    }
    for chunk in tpch.supplier.chunks(batch) {
        batches.run(|rows| {
            chunk
                .iter()
                .for_each(|s| super::add_supplier(rows, keys, s))
        })?;
    }
    for chunk in tpch.part.chunks(batch) {
        batches.run(|rows| chunk.iter().for_each(|p| super::add_part(rows, keys, p)))?;
    }
    for chunk in tpch.partsupp.chunks(batch) {
        batches.run(|rows| {
            chunk
                .iter()
                .for_each(|ps| super::add_partsupp(rows, keys, ps))
        })?;
    }
    // Orders with their line items (both in order-key order): an order and its lines are in
    // one batch.
    let (mut order, mut line) = (0, 0);
    while order < tpch.orders.len() {
        let first_order = order;
        let first_line = line;
        while order < tpch.orders.len() && (order - first_order) + (line - first_line) < batch {
            let key = tpch.orders[order].o_orderkey;
            order += 1;
            while line < tpch.lineitem.len() && tpch.lineitem[line].l_orderkey == key {
                line += 1;
            }
        }
        let (orders, lines) = (
            &tpch.orders[first_order..order],
            &tpch.lineitem[first_line..line],
        );
        batches.run(|rows| {
            orders.iter().for_each(|o| super::add_order(rows, keys, o));
            lines
                .iter()
                .for_each(|l| super::add_lineitem(rows, keys, l));
        })?;
    }
    // Line items of no order would be lost by the grouping above: the generator makes none.
    if line != tpch.lineitem.len() {
        batches.run(|rows| {
            tpch.lineitem[line..]
                .iter()
                .for_each(|l| super::add_lineitem(rows, keys, l))
        })?;
    }
    Ok(LoadReport {
        source_rows: tpch.len() as u64,
        vault_rows: batches.written,
        transactions: batches.transactions,
        phases: vec![("build", batches.build), ("write", batches.write)],
    })
}

/// COPY's text format: `\` and the separators escaped.
fn field(out: &mut Vec<u8>, value: &str) {
    for b in value.bytes() {
        match b {
            b'\\' => out.extend_from_slice(b"\\\\"),
            b'\t' => out.extend_from_slice(b"\\t"),
            b'\n' => out.extend_from_slice(b"\\n"),
            b'\r' => out.extend_from_slice(b"\\r"),
            _ => out.push(b),
        }
    }
}

/// One COPY line of `values` (each already text).
fn line(out: &mut Vec<u8>, values: &[&dyn fmt::Display]) {
    for (i, value) in values.iter().enumerate() {
        if i > 0 {
            out.push(b'\t');
        }
        field(out, &value.to_string());
    }
    out.push(b'\n');
}

fn copy<T>(
    client: &mut Client,
    table: &'static str,
    rows: &[T],
    values: impl Fn(&T, &mut Vec<u8>),
) -> Result<(), LoadError> {
    let sql = fill(include_str!("../sql/tpch/copy.sql"), &[("table", table)]);
    let mut writer = client
        .copy_in(sql.as_str())
        .context(format!("COPY into tpch_stage.{table}"))?;
    let mut buffer = Vec::with_capacity(1 << 20);
    for row in rows {
        values(row, &mut buffer);
        if buffer.len() >= 1 << 20 {
            writer
                .write_all(&buffer)
                .map_err(|source| LoadError::Copy { table, source })?;
            buffer.clear();
        }
    }
    writer
        .write_all(&buffer)
        .map_err(|source| LoadError::Copy { table, source })?;
    writer
        .finish()
        .context(format!("COPY into tpch_stage.{table}"))?;
    Ok(())
}

/// Puts the raw rows into the staging tables (`examples/sql/tpch/staging.sql`, made here) by
/// COPY, one statement per table.
pub fn copy_staging(client: &mut Client, tpch: &Tpch) -> Result<(), LoadError> {
    client
        .batch_execute(include_str!("../sql/tpch/staging.sql"))
        .context("create the TPC-H staging tables")?;
    copy(client, "region", &tpch.region, |r, out| {
        line(out, &[&r.r_regionkey, &r.r_name, &r.r_comment])
    })?;
    copy(client, "nation", &tpch.nation, |n, out| {
        line(
            out,
            &[&n.n_nationkey, &n.n_name, &n.n_regionkey, &n.n_comment],
        )
    })?;
    copy(client, "customer", &tpch.customer, |c, out| {
        line(
            out,
            &[
                &c.c_custkey,
                &c.c_name,
                &c.c_address,
                &c.c_nationkey,
                &c.c_phone,
                &c.c_acctbal,
                &c.c_mktsegment,
                &c.c_comment,
            ],
        )
    })?;
    copy(client, "supplier", &tpch.supplier, |s, out| {
        line(
            out,
            &[
                &s.s_suppkey,
                &s.s_name,
                &s.s_address,
                &s.s_nationkey,
                &s.s_phone,
                &s.s_acctbal,
                &s.s_comment,
            ],
        )
    })?;
    copy(client, "part", &tpch.part, |p, out| {
        line(
            out,
            &[
                &p.p_partkey,
                &p.p_name,
                &p.p_mfgr,
                &p.p_brand,
                &p.p_type,
                &p.p_size,
                &p.p_container,
                &p.p_retailprice,
                &p.p_comment,
            ],
        )
    })?;
    copy(client, "partsupp", &tpch.partsupp, |ps, out| {
        line(
            out,
            &[
                &ps.ps_partkey,
                &ps.ps_suppkey,
                &ps.ps_availqty,
                &ps.ps_supplycost,
                &ps.ps_comment,
            ],
        )
    })?;
    copy(client, "orders", &tpch.orders, |o, out| {
        line(
            out,
            &[
                &o.o_orderkey,
                &o.o_custkey,
                &o.o_orderstatus,
                &o.o_totalprice,
                &o.o_orderdate,
                &o.o_orderpriority,
                &o.o_clerk,
                &o.o_shippriority,
                &o.o_comment,
            ],
        )
    })?;
    copy(client, "lineitem", &tpch.lineitem, |l, out| {
        line(
            out,
            &[
                &l.l_orderkey,
                &l.l_partkey,
                &l.l_suppkey,
                &l.l_linenumber,
                &l.l_quantity,
                &l.l_extendedprice,
                &l.l_discount,
                &l.l_tax,
                &l.l_returnflag,
                &l.l_linestatus,
                &l.l_shipdate,
                &l.l_commitdate,
                &l.l_receiptdate,
                &l.l_shipinstruct,
                &l.l_shipmode,
                &l.l_comment,
            ],
        )
    })?;
    Ok(())
}

/// The set-based load's statements (`examples/sql/tpch/load.sql`) for the schema of `model`.
pub fn set_based_sql(model: &ModelDef) -> String {
    let namespace = KEYS.namespace().to_string();
    let snapshot = super::snapshot().to_string();
    fill(
        include_str!("../sql/tpch/load.sql"),
        &[
            ("schema", model.schema),
            ("namespace", &namespace),
            ("snapshot", &snapshot),
            ("load_src", model.load_src),
        ],
    )
}

/// The set-based load of `tpch`: its raw rows COPYed into `tpch_stage` ([`copy_staging`]),
/// the tables of `tpch_sql` made by the model's DDL ([`SQL_MODEL`]), then every hub, link and
/// satellite filled by one `INSERT … SELECT` in one transaction.
pub fn load_set_based(client: &mut Client, tpch: &Tpch) -> Result<LoadReport, LoadError> {
    vault_pg::model::create(client, &SQL_MODEL)?;
    let started = Instant::now();
    copy_staging(client, tpch)?;
    let copied = Instant::now();
    let mut tx = client.transaction().context("begin the set-based load")?;
    tx.batch_execute(&set_based_sql(&SQL_MODEL))
        .context("the set-based load (load.sql)")?;
    tx.commit().context("commit the set-based load")?;
    let inserted = Instant::now();
    let mut vault_rows = 0;
    for table in SQL_MODEL.tables {
        let sql = fill(
            include_str!("../sql/tpch/count.sql"),
            &[("schema", SQL_MODEL.schema), ("table", table.name)],
        );
        let count: i64 = client
            .query_one(sql.as_str(), &[])
            .context(format!("count {}", table.name))?
            .get(0);
        vault_rows += count as u64;
    }
    Ok(LoadReport {
        source_rows: tpch.len() as u64,
        vault_rows,
        transactions: 1,
        phases: vec![
            ("copy", (copied - started).as_secs_f64()),
            ("insert", (inserted - copied).as_secs_f64()),
        ],
    })
}

/// One table of the two loads compared.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Comparison {
    /// The table.
    pub table: &'static str,
    /// Hub, link or satellite.
    pub kind: TableKind,
    /// Rows in the toolkit's load (`tpch`).
    pub toolkit: i64,
    /// Rows in the set-based load (`tpch_sql`).
    pub set_based: i64,
    /// Rows of the toolkit's that the set-based load does not have, on every declared column
    /// and `load_src` (`EXCEPT ALL`).
    pub only_toolkit: i64,
    /// Rows of the set-based load's that the toolkit's does not have.
    pub only_set_based: i64,
    /// Identities (key, and a historized satellite's effective time) of the toolkit's that
    /// the set-based load does not have.
    pub keys_only_toolkit: i64,
}

impl Comparison {
    /// Whether the two tables hold the same rows.
    pub fn equal(&self) -> bool {
        self.toolkit == self.set_based && self.only_toolkit == 0 && self.only_set_based == 0
    }
}

/// Every table of the model in both schemas compared (`examples/sql/tpch/compare.sql`).
pub fn compare(client: &mut Client) -> Result<Vec<Comparison>, LoadError> {
    let mut out = Vec::new();
    for table in TpchRows::MODEL.tables {
        let mut columns: Vec<&str> = table.columns.iter().map(|c| c.name).collect();
        columns.push("load_src");
        let key = match table.effective {
            Some(effective) => format!("{}, {effective}", table.key()),
            None => table.key().to_owned(),
        };
        let sql = fill(
            include_str!("../sql/tpch/compare.sql"),
            &[
                ("table", table.name),
                ("columns", &columns.join(", ")),
                ("key", &key),
            ],
        );
        let row = client
            .query_one(sql.as_str(), &[])
            .context(format!("compare {}", table.name))?;
        out.push(Comparison {
            table: table.name,
            kind: table.kind,
            toolkit: row.get(0),
            set_based: row.get(1),
            only_toolkit: row.get(2),
            only_set_based: row.get(3),
            keys_only_toolkit: row.get(4),
        });
    }
    Ok(out)
}
