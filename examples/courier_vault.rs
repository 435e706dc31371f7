//! A Data Vault of its own, declared with the toolkit: couriers and deliveries
//! (`examples/courier.rs`, walked through in `docs/toolkit.md`).
//!
//! ```text
//! cargo run --release --example courier_vault                 # the sample events
//! cargo run --release --example courier_vault -- events.jsonl # events of a file ('-': stdin)
//! cargo run --release --example courier_vault -- --ddl        # the model's PostgreSQL DDL
//! ```
//!
//! Reads courier-app events as JSON lines (`examples/data/deliveries.jsonl` when no file is
//! given) and writes every Data Vault row as one JSON object per line, `{"table": "h_courier",
//! "h_courier_pk": "…", "courier_id": "c-17"}`, each row once (the batch is de-duplicated by
//! identity: a satellite keeps each value once per effective time). A line that is not a valid event
//! stops the program with a message naming the line, and exit code 1.

use std::io::{self, BufWriter, Read, Write};
use std::process::ExitCode;

use serde::Serialize;
use vault_core::{DvRow, KeySpec, RowSet, RowVisitor};
use vault_examples::courier::{self, CourierRows, DeliveryEvent};

const SAMPLE: &str = include_str!("data/deliveries.jsonl");

/// One output line: the table name and the row's columns.
#[derive(Serialize)]
struct Line<'r, R> {
    table: &'static str,
    #[serde(flatten)]
    row: &'r R,
}

struct Printer<W: Write> {
    out: W,
    error: Option<io::Error>,
}

impl<W: Write> RowVisitor for Printer<W> {
    fn table<R: DvRow>(&mut self, rows: &[R]) {
        for row in rows {
            if self.error.is_some() {
                return;
            }
            let line = Line {
                table: R::TABLE,
                row,
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

fn input(arg: Option<&str>) -> Result<String, String> {
    match arg {
        None => Ok(SAMPLE.to_owned()),
        Some("-") => {
            let mut text = String::new();
            io::stdin()
                .read_to_string(&mut text)
                .map_err(|e| format!("stdin: {e}"))?;
            Ok(text)
        }
        Some(path) => std::fs::read_to_string(path).map_err(|e| format!("{path}: {e}")),
    }
}

fn run() -> Result<(), String> {
    let arg = std::env::args().nth(1);
    if arg.as_deref() == Some("--ddl") {
        let ddl = vault_pg::model::ddl(&CourierRows::MODEL).map_err(|e| e.to_string())?;
        print!("{ddl}");
        return Ok(());
    }
    let text = input(arg.as_deref())?;
    let events: Vec<DeliveryEvent> = text
        .lines()
        .enumerate()
        .filter(|(_, line)| !line.trim().is_empty())
        .map(|(i, line)| serde_json::from_str(line).map_err(|e| format!("line {}: {e}", i + 1)))
        .collect::<Result<_, _>>()?;
    let keys = KeySpec::SEED;
    let mut rows = CourierRows::default();
    for event in &events {
        courier::add(&mut rows, &keys, event);
    }
    let mut printer = Printer {
        out: BufWriter::new(io::stdout().lock()),
        error: None,
    };
    rows.visit(&mut printer);
    match printer.error {
        Some(e) => Err(format!("stdout: {e}")),
        None => printer.out.flush().map_err(|e| format!("stdout: {e}")),
    }
}

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("courier_vault: {e}");
            ExitCode::FAILURE
        }
    }
}
