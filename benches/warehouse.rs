//! Warehouse load benchmark (a command, not a timed test), on the PostgreSQL of `scripts/stack`:
//!
//! ```text
//! eval "$(scripts/stack env)"; cargo bench -p vault-benches --bench warehouse [-- ORDERS [BATCH]]
//! ```
//!
//! 1. builds the Data Vault rows of ORDERS generated orders (default 50,000) in batches of BATCH
//!    (default 1,000), as the DDS service would;
//! 2. loads them through `vault_pg::dds::write` (one transaction per batch) into a fresh database;
//! 3. `COPY`s the same precomputed rows (text format, deduplicated over the whole backlog, one
//!    transaction) into the same tables of another fresh database — the bulk-load ceiling;
//! 4. applies the orders' reports through `vault_pg::cdm::apply` (one transaction per batch),
//!    then times `vault check` on the result;
//! 5. refreshes the order model's point-in-time and bridge tables as `vault refresh` does (one
//!    transaction per table) in the middle of the orders' two weeks (the dishes' categories are
//!    not in force yet: the catalog's menus date from September), then after the menus' time,
//!    twice (the second run replaces the snapshot: what a re-run costs);
//!
//! and prints the rates, the writer/COPY ratio and the PostgreSQL CPU each load cost per order
//! (its server process's, from `/proc`: the stack runs on this machine).

use std::io::Write;
use std::time::{Duration, Instant};

use vault_core::orders::sample::{Catalog, Rng};
use vault_core::orders::{order_report, DvBatch, EnrichedOrder, OrderReport, LOAD_SRC};
use vault_core::{Column, DvRow, KeySpec, RowVisitor, Timestamp};
use vault_testkit::TestDb;

fn main() {
    let args: Vec<usize> = std::env::args()
        .skip(1)
        .filter_map(|a| a.parse().ok())
        .collect();
    let orders_n = args.first().copied().unwrap_or(50_000);
    let batch_n = args.get(1).copied().unwrap_or(1_000);

    println!("generating {orders_n} orders …");
    let orders = generate(orders_n);
    let batches: Vec<&[EnrichedOrder]> = orders.chunks(batch_n).collect();
    let t = Instant::now();
    let built: Vec<DvBatch<'_>> = batches
        .iter()
        .map(|chunk| {
            let mut b = DvBatch::new(KeySpec::SEED);
            for o in chunk.iter() {
                b.add(o);
            }
            b
        })
        .collect();
    let build_time = t.elapsed();
    let rows: usize = built.iter().map(|b| b.rows().len()).sum();
    println!(
        "{rows} rows in {} batches of {batch_n} orders (built in {build_time:.2?})",
        built.len()
    );

    // The DDS writer.
    let writer_db = TestDb::new("bench_writer");
    let mut client = writer_db.warehouse.client().expect("client");
    let cpu = session_cpu(&mut client);
    let t = Instant::now();
    for batch in &built {
        let mut tx = client.transaction().expect("begin");
        vault_pg::dds::write(&mut tx, batch.rows()).expect("write");
        tx.commit().expect("commit");
    }
    let writer = t.elapsed();
    let writer_cpu = session_cpu(&mut client) - cpu;

    // COPY of the same rows, deduplicated over the whole backlog (raw COPY cannot skip keys that
    // exist), into fresh tables, in one transaction.
    let mut all = DvBatch::new(KeySpec::SEED);
    for o in &orders {
        all.add(o);
    }
    let copy_db = TestDb::new("bench_copy");
    let mut copy_client = copy_db.warehouse.client().expect("client");
    let cpu = session_cpu(&mut copy_client);
    let t = Instant::now();
    let mut tx = copy_client.transaction().expect("begin");
    let mut copier = Copier {
        tx: &mut tx,
        line: String::new(),
    };
    all.rows().visit(&mut copier);
    tx.commit().expect("commit");
    let copy = t.elapsed();
    let copy_cpu = session_cpu(&mut copy_client) - cpu;
    let count = |c: &mut vault_pg::PooledClient| -> i64 {
        c.query_one("SELECT (SELECT count(*) FROM dds.l_order_product) + (SELECT count(*) FROM dds.h_order)", &[])
            .expect("count")
            .get(0)
    };
    assert_eq!(
        count(&mut client),
        count(&mut copy_client),
        "both loads hold the same rows"
    );

    // The CDM applier (reports of the same orders, in the writer's database).
    let sent = Timestamp::parse("2024-02-01 00:00:00").expect("ts");
    let reports: Vec<Vec<OrderReport>> = batches
        .iter()
        .zip(&built)
        .map(|(chunk, _)| {
            let mut b = DvBatch::new(KeySpec::SEED);
            chunk
                .iter()
                .map(|o| order_report(o, &b.add(o), sent))
                .collect()
        })
        .collect();
    // Timed in halves: the first mostly creates counter rows, the second mostly adds to them
    // (a warehouse's steady state).
    let mut cdm = Duration::ZERO;
    let mut cdm_cpu = [0.0; 2];
    for (half, reports) in reports.chunks(reports.len().div_ceil(2)).enumerate() {
        let cpu = session_cpu(&mut client);
        let t = Instant::now();
        for batch in reports {
            let mut tx = client.transaction().expect("begin");
            vault_pg::cdm::apply(&mut tx, batch).expect("apply");
            tx.commit().expect("commit");
        }
        cdm += t.elapsed();
        cdm_cpu[half] = session_cpu(&mut client) - cpu;
    }
    let t = Instant::now();
    let exact = vault_pg::check::cdm_mismatches(&mut *client)
        .expect("check")
        .is_empty();
    let check = t.elapsed();

    let refreshes = refresh_snapshots(&mut client);

    let rate = |d: Duration| orders_n as f64 / d.as_secs_f64();
    println!();
    println!(
        "DDS writer (unnest + ON CONFLICT): {:>9.0} orders/s  ({:.2?}, {:.0} rows/s)",
        rate(writer),
        writer,
        rows as f64 / writer.as_secs_f64()
    );
    println!(
        "COPY of the same rows:             {:>9.0} orders/s  ({:.2?}, {:.0} rows/s)",
        rate(copy),
        copy,
        all.rows().len() as f64 / copy.as_secs_f64()
    );
    println!(
        "writer / COPY:                     {:>9.1} %",
        100.0 * copy.as_secs_f64() / writer.as_secs_f64()
    );
    println!(
        "DDS writer incl. building rows:    {:>9.0} orders/s",
        rate(writer + build_time)
    );
    println!(
        "CDM applier:                       {:>9.0} orders/s  ({:.2?}; counters exact: {exact})",
        rate(cdm),
        cdm
    );
    println!("vault check (datamarts vs recomputation): {check:.2?}");
    let per_order = |seconds: f64| 1e6 * seconds / orders_n as f64;
    println!(
        "PostgreSQL CPU per order: DDS writer {:.1} µs, COPY {:.1} µs, CDM applier {:.1} µs \
         (first half {:.1}, second half {:.1})",
        per_order(writer_cpu),
        per_order(copy_cpu),
        per_order(cdm_cpu[0] + cdm_cpu[1]),
        2.0 * per_order(cdm_cpu[0]),
        2.0 * per_order(cdm_cpu[1])
    );
    for line in refreshes {
        println!("{line}");
    }
    drop(client);
    drop(copy_client);
}

/// Step 5: each snapshot table of the order model refreshed in the middle of the orders' two
/// weeks, then after the menus' time twice; one line per refresh (rows, time, PostgreSQL CPU).
fn refresh_snapshots(client: &mut vault_pg::PooledClient) -> Vec<String> {
    let model = <vault_core::orders::DvRows<'_> as vault_core::RowSet>::MODEL;
    let mut lines = Vec::new();
    for as_of in [
        "2024-01-08 00:00:00",
        "2024-10-01 00:00:00",
        "2024-10-01 00:00:00",
    ] {
        let time = chrono::NaiveDateTime::parse_from_str(as_of, "%Y-%m-%d %H:%M:%S")
            .expect("a snapshot time");
        for table in vault_pg::model::snapshot_tables(&model) {
            let cpu = session_cpu(client);
            let t = Instant::now();
            let mut tx = client.transaction().expect("begin");
            let done = vault_pg::model::refresh_snapshot(&mut tx, &model, &table, time, None)
                .expect("refresh");
            tx.commit().expect("commit");
            let elapsed = t.elapsed();
            lines.push(format!(
                "refresh {:<18} as of {as_of}: {:>7} rows in {elapsed:>9.2?} ({:.0} rows/s, \
                 PostgreSQL CPU {:.2} s)",
                table.name,
                done.rows,
                done.rows as f64 / elapsed.as_secs_f64(),
                session_cpu(client) - cpu
            ));
        }
    }
    // What the snapshots take on disk, per row (table and indexes, the replaced rows vacuumed).
    for table in vault_pg::model::snapshot_tables(&model) {
        let name = format!("{}.{}", model.schema, table.name);
        client
            .batch_execute(&format!("VACUUM {name}"))
            .expect("vacuum");
        let row = client
            .query_one(
                &format!("SELECT pg_total_relation_size('{name}'), count(*) FROM {name}"),
                &[],
            )
            .expect("size");
        let (bytes, rows): (i64, i64) = (row.get(0), row.get(1));
        lines.push(format!(
            "{name}: {rows} rows, {:.1} MiB with its indexes ({} bytes a row)",
            bytes as f64 / 1_048_576.0,
            bytes / rows.max(1)
        ));
    }
    lines
}

/// CPU seconds used so far by the server process of `client`'s session.
fn session_cpu(client: &mut vault_pg::PooledClient) -> f64 {
    let pid: i32 = client
        .query_one("SELECT pg_backend_pid()", &[])
        .expect("pg_backend_pid")
        .get(0);
    u32::try_from(pid)
        .ok()
        .and_then(vault_testkit::process::proc_cpu)
        .map_or(0.0, |(_, seconds)| seconds)
}

fn generate(n: usize) -> Vec<EnrichedOrder> {
    let mut rng = Rng::new(20_261_124);
    let catalog = Catalog::generate(&mut rng, 8, 1_000);
    let start = Timestamp::parse("2024-01-01 00:00:00").expect("ts");
    (0..n)
        .map(|i| {
            let placed = start.plus(chrono::Duration::seconds(12 * i as i64));
            let mut history = catalog.order_history(&mut rng, 10_000_000 + i as i64, placed, 0.02);
            let last = history.pop().expect("a history has versions");
            catalog.enrich(&last).expect("enrichable")
        })
        .collect()
}

/// COPY … FROM STDIN (text format) of each table's rows.
struct Copier<'t, 'c> {
    tx: &'t mut postgres::Transaction<'c>,
    line: String,
}

impl RowVisitor for Copier<'_, '_> {
    fn table<R: DvRow>(&mut self, rows: &[R]) {
        if rows.is_empty() {
            return;
        }
        let sql = format!(
            "COPY dds.{} ({}, load_dt, load_src) FROM STDIN",
            R::TABLE,
            R::COLUMNS.join(", ")
        );
        let load_dt = chrono::Utc::now()
            .naive_utc()
            .format("%Y-%m-%d %H:%M:%S%.f")
            .to_string();
        let mut writer = self.tx.copy_in(&sql).expect("copy in");
        for row in rows {
            self.line.clear();
            row.visit_columns(&mut |c| {
                match c {
                    Column::Null => self.line.push_str("\\N"),
                    Column::Text(v) | Column::Json(v) => escape(&mut self.line, &v),
                    Column::Boolean(v) => self.line.push_str(if v { "t" } else { "f" }),
                    // Every other kind's key material is also PostgreSQL's input text.
                    other => self.line.push_str(&other.material()),
                }
                self.line.push('\t');
            });
            self.line.push_str(&load_dt);
            self.line.push('\t');
            self.line.push_str(LOAD_SRC);
            self.line.push('\n');
            writer.write_all(self.line.as_bytes()).expect("copy row");
        }
        writer.finish().expect("copy finish");
    }
}

fn escape(out: &mut String, text: &str) {
    for c in text.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\t' => out.push_str("\\t"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            _ => out.push(c),
        }
    }
}
