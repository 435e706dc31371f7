//! The TPC-H schema as a Data Vault (`examples/tpch/`): TPC-H data generated at a scale factor,
//! loaded through the toolkit and by a set-based SQL load into the warehouse of
//! `PG_WAREHOUSE_*`, the two compared table by table, and the times printed.
//!
//! ```text
//! cargo run --release --example tpch_vault -- --ddl                   # the model's DDL
//! cargo run --release --example tpch_vault -- --sf 0.1 [--batch 10000] [--replace]
//! ```
//!
//! It makes the schemas `tpch` (the toolkit's load), `tpch_sql` (the set-based load) and
//! `tpch_stage` (the raw rows), and refuses to start when `tpch` exists unless `--replace` says
//! to drop the three first. Exit code 1 when the loads differ or anything fails.

use std::process::ExitCode;
use std::time::Instant;

use vault_core::pipeline::Env;
use vault_core::RowSet;
use vault_examples::tpch::data::Tpch;
use vault_examples::tpch::{load, TpchRows};
use vault_pg::error::Context;
use vault_pg::{PgConfig, Warehouse};

struct Args {
    scale_factor: f64,
    batch: usize,
    replace: bool,
    ddl: bool,
}

fn args() -> Result<Args, String> {
    let mut args = Args {
        scale_factor: 0.01,
        batch: 10_000,
        replace: false,
        ddl: false,
    };
    let mut it = std::env::args().skip(1);
    while let Some(arg) = it.next() {
        let mut value = |name: &str| it.next().ok_or(format!("{name} needs a value"));
        match arg.as_str() {
            "--sf" => {
                args.scale_factor = value("--sf")?.parse().map_err(|e| format!("--sf: {e}"))?;
            }
            "--batch" => {
                args.batch = value("--batch")?
                    .parse()
                    .map_err(|e| format!("--batch: {e}"))?;
            }
            "--replace" => args.replace = true,
            "--ddl" => args.ddl = true,
            other => {
                return Err(format!(
                    "unknown argument {other:?} (--sf N, --batch N, --replace, --ddl)"
                ))
            }
        }
    }
    if !(args.scale_factor > 0.0 && args.scale_factor <= 10.0) {
        return Err(format!("--sf {} is outside (0, 10]", args.scale_factor));
    }
    Ok(args)
}

fn run() -> Result<(), String> {
    let args = args()?;
    if args.ddl {
        let ddl = vault_pg::model::ddl(&TpchRows::MODEL).map_err(|e| e.to_string())?;
        print!("{ddl}");
        return Ok(());
    }
    let config = PgConfig::from_env(&Env::new(|name: &str| std::env::var(name).ok()))
        .map_err(|e| e.to_string())?;
    let warehouse = Warehouse::new(&config).map_err(|e| e.to_string())?;
    let mut client = warehouse.client().map_err(|e| e.to_string())?;
    let exists: bool = client
        .query_one(include_str!("sql/tpch/schema_exists.sql"), &[])
        .context("look for the schema tpch")
        .map_err(|e| e.to_string())?
        .get(0);
    if exists && !args.replace {
        return Err(
            "the schema tpch exists: --replace drops tpch, tpch_sql and tpch_stage first".into(),
        );
    }
    load::drop_schemas(&mut client).map_err(|e| e.to_string())?;

    let started = Instant::now();
    let tpch = Tpch::generate(args.scale_factor);
    println!(
        "generated SF {}: {} source rows ({} line items) in {:.2} s",
        args.scale_factor,
        tpch.len(),
        tpch.lineitem.len(),
        started.elapsed().as_secs_f64()
    );

    load::create_toolkit_tables(&mut client).map_err(|e| e.to_string())?;
    let toolkit = load::load_toolkit(&mut client, &tpch, args.batch).map_err(|e| e.to_string())?;
    let set_based = load::load_set_based(&mut client, &tpch).map_err(|e| e.to_string())?;
    for (name, report) in [("toolkit", &toolkit), ("set-based", &set_based)] {
        let phases: Vec<String> = report
            .phases
            .iter()
            .map(|(phase, s)| format!("{phase} {s:.2} s"))
            .collect();
        println!(
            "{name:>9}: {} vault rows in {:.2} s ({}), {:.0} rows/s, {} transaction(s)",
            report.vault_rows,
            report.seconds(),
            phases.join(", "),
            report.rows_per_second(),
            report.transactions
        );
    }

    let comparisons = load::compare(&mut client).map_err(|e| e.to_string())?;
    let mut differ = 0;
    for c in &comparisons {
        let verdict = if c.equal() { "equal" } else { "DIFFER" };
        if !c.equal() {
            differ += 1;
        }
        println!(
            "{:<28} {:>8} {:>8}  only toolkit {:>6}  only set-based {:>6}  {verdict}",
            c.table, c.toolkit, c.set_based, c.only_toolkit, c.only_set_based
        );
    }
    if differ > 0 {
        return Err(format!("{differ} table(s) differ between the two loads"));
    }
    println!(
        "all {} tables equal, row for row (keys, hashdiffs, every column)",
        comparisons.len()
    );
    Ok(())
}

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("tpch_vault: {e}");
            ExitCode::FAILURE
        }
    }
}
