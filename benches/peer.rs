//! The set-based peer of the pipeline bench (issue 14): the same orders loaded the way a
//! dbt / AutomateDV user loads them inside PostgreSQL — the enriched orders `COPY`'d as JSON into
//! a staging table, the Data Vault built with one `INSERT … SELECT … ON CONFLICT DO NOTHING` per
//! table (keys by `uuid_generate_v5`), the three datamarts recomputed with `GROUP BY`. The SQL is
//! in `sql/peer/`. It reads no Kafka, looks nothing up in Redis and keeps no ledger: a generous
//! baseline.

use std::io::Write as _;
use std::time::{Duration, Instant};

use vault_testkit::TestDb;

/// How long each step of the peer took.
#[derive(Debug)]
pub(crate) struct PeerRun {
    pub(crate) copy: Duration,
    pub(crate) vault: Duration,
    pub(crate) marts: Duration,
}

impl PeerRun {
    pub(crate) fn total(&self) -> Duration {
        self.copy + self.vault + self.marts
    }
}

/// Loads `enriched` (one enriched-order JSON document each) into `db`'s (migrated, empty)
/// warehouse; each step is one transaction, as a dbt model is.
pub(crate) fn run(db: &TestDb, enriched: &[Vec<u8>]) -> PeerRun {
    let mut client = db.client();
    client
        .batch_execute(include_str!("sql/peer/stage.sql"))
        .expect("peer: staging table");
    let t = Instant::now();
    let mut writer = client
        .copy_in(include_str!("sql/peer/copy.sql").trim())
        .expect("peer: COPY");
    for doc in enriched {
        writer.write_all(doc).expect("peer: COPY row");
        writer.write_all(b"\n").expect("peer: COPY row");
    }
    writer.finish().expect("peer: COPY finish");
    let copy = t.elapsed();
    // Statement by statement, so that the slowest can be named.
    let step = |client: &mut postgres::Client, sql: &str, what: &str| {
        let t = Instant::now();
        let mut tx = client.transaction().expect("peer: begin");
        let mut slowest: Vec<(Duration, String)> = Vec::new();
        for statement in statements(sql) {
            let s = Instant::now();
            tx.batch_execute(&statement)
                .unwrap_or_else(|e| panic!("peer: {what}: {e}\n{statement}"));
            let first = statement
                .lines()
                .find(|l| !l.trim().is_empty())
                .unwrap_or_default();
            slowest.push((s.elapsed(), first.chars().take(60).collect()));
        }
        tx.commit().expect("peer: commit");
        slowest.sort_by_key(|s| std::cmp::Reverse(s.0));
        let top: Vec<String> = slowest
            .iter()
            .take(4)
            .map(|(d, s)| format!("{:.1} s {s}", d.as_secs_f64()))
            .collect();
        println!("peer: {what}, slowest statements: {}", top.join(" | "));
        t.elapsed()
    };
    let vault = step(&mut client, include_str!("sql/peer/vault.sql"), "vault");
    let marts = step(&mut client, include_str!("sql/peer/marts.sql"), "marts");
    PeerRun { copy, vault, marts }
}

/// The statements of a SQL file: split after each `;` that ends a line; comment lines dropped.
fn statements(sql: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut current = String::new();
    for line in sql.lines().filter(|l| !l.trim_start().starts_with("--")) {
        current.push_str(line);
        current.push('\n');
        if line.trim_end().ends_with(';') {
            out.push(std::mem::take(&mut current));
        }
    }
    if !current.trim().is_empty() {
        out.push(current);
    }
    out
}

/// Per table: rows and a digest of keys and values (`sql/peer/fingerprint.sql`).
pub(crate) fn fingerprint(client: &mut postgres::Client) -> Vec<(String, i64, String)> {
    client
        .query(include_str!("sql/peer/fingerprint.sql"), &[])
        .expect("fingerprint")
        .iter()
        .map(|r| {
            (
                r.get(0),
                r.get(1),
                r.get::<_, Option<String>>(2).unwrap_or_default(),
            )
        })
        .collect()
}
