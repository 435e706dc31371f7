//! Enriched orders in, Data Vault rows out — the smallest useful vault-core pipeline.
//!
//! ```text
//! cargo run -q --release --example dds_rows < examples/data/orders.jsonl
//! ```
//!
//! Reads enriched orders (docs/contract.md §4) as JSON lines on stdin and writes every Data Vault
//! row (docs/contract.md §5) as one JSON object per line: `{"table": "h_user", "h_user_pk": "…",
//! "user_id": "…", "load_src": "orders-system-kafka"}`. A row already written for an earlier order
//! is not written again. A line that is not a valid order stops the program with a message naming
//! the line and the field, and exit code 1.

use std::collections::HashSet;
use std::io::{self, BufRead, BufWriter, Write};
use std::process::ExitCode;

use serde::Serialize;
use vault_core::orders::{build_order, EnrichedOrder, LOAD_SRC};
use vault_core::{DvRow, KeySpec, RowVisitor};

/// One output line: the table name, the row's columns, `load_src`.
#[derive(Serialize)]
struct Line<'r, R> {
    table: &'static str,
    #[serde(flatten)]
    row: &'r R,
    load_src: &'static str,
}

/// Writes each row not written before.
struct Printer<W: Write> {
    out: W,
    written: HashSet<(&'static str, uuid::Uuid)>,
    error: Option<io::Error>,
}

impl<W: Write> RowVisitor for Printer<W> {
    fn table<R: DvRow>(&mut self, rows: &[R]) {
        for row in rows {
            if self.error.is_some() || !self.written.insert((R::TABLE, row.key())) {
                continue;
            }
            let line = Line {
                table: R::TABLE,
                row,
                load_src: LOAD_SRC,
            };
            let result = serde_json::to_writer(&mut self.out, &line)
                .map_err(io::Error::from)
                .and_then(|()| self.out.write_all(b"\n"));
            if let Err(err) = result {
                self.error = Some(err);
            }
        }
    }
}

fn run() -> Result<(), String> {
    let stdin = io::stdin().lock();
    let mut printer = Printer {
        out: BufWriter::new(io::stdout().lock()),
        written: HashSet::new(),
        error: None,
    };
    for (index, line) in stdin.lines().enumerate() {
        let line_no = index + 1;
        let line = line.map_err(|err| format!("stdin line {line_no}: {err}"))?;
        if line.trim().is_empty() {
            continue;
        }
        let order = EnrichedOrder::from_json(line.as_bytes())
            .map_err(|err| format!("stdin line {line_no}: {err}"))?;
        let (rows, _keys) = build_order(&order, KeySpec::SEED);
        rows.visit(&mut printer);
        if let Some(err) = printer.error.take() {
            return Err(format!("stdout: {err}"));
        }
    }
    printer.out.flush().map_err(|err| format!("stdout: {err}"))
}

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        // A closed pipe (`| head`) is the reader's choice, not a failure.
        Err(msg) if msg.contains("Broken pipe") => ExitCode::SUCCESS,
        Err(msg) => {
            eprintln!("dds_rows: {msg}");
            ExitCode::FAILURE
        }
    }
}
