//! The commands of the `vault` operator CLI. Configuration comes only from the contract's
//! environment variables (`PG_WAREHOUSE_*`, `REDIS_*`).
//!
//! Exit codes: 0 success; 1 the command ran and found a problem (counters that differ from
//! their recomputation, raw orders that could not be replayed); 2 missing or invalid
//! configuration or usage (one line on stderr naming the variable); 3 the command could not run
//! to the end (warehouse or Redis unreachable after retries, a fault in stored data).

use std::io::{self, IsTerminal, Write};
use std::process::ExitCode;
use std::time::Duration;

use clap::{Args, Parser, Subcommand};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use vault_core::{ConfigError, Env};
use vault_pg::migrate::MIGRATIONS;
use vault_pg::{PgConfig, PgError, Warehouse};

use crate::replay::{replay, Progress, ReplayError, ReplayOptions, ReplaySummary};
use vault_redis::{CacheConfig, DictionaryError, RedisConfig, RedisDictionary, RedisWriter};

const EXIT_CODES: &str = "Exit codes: 0 success; 1 problems found (mismatching counters, \
skipped orders); 2 missing or invalid configuration; 3 could not run (warehouse or Redis \
unreachable, faulty stored data).\n\
Configuration: PG_WAREHOUSE_HOST, PG_WAREHOUSE_PORT, PG_WAREHOUSE_DBNAME, PG_WAREHOUSE_USER, \
PG_WAREHOUSE_PASSWORD (+ PG_WAREHOUSE_SSLMODE, PG_WAREHOUSE_SSLROOTCERT); replay also \
REDIS_HOST, REDIS_PORT, REDIS_PASSWORD, REDIS_TLS.";

/// `vault`: operator commands of the warehouse.
#[derive(Debug, Parser)]
#[command(
    name = "vault",
    version,
    about = "Operator commands of the vault warehouse and pipeline: schema, backfill, checks, simulation, dead letters, progress, positions",
    after_help = EXIT_CODES
)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The commands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Apply pending schema migrations and print what was applied.
    Migrate,
    /// Rebuild DDS and CDM from stg.order_events (no Kafka); safe to run again.
    Replay(ReplayArgs),
    /// Compare the CDM counters with their recomputation from DDS.
    Check,
    /// Act as the source system: load dictionaries into Redis, produce source orders.
    Simulate(SimulateArgs),
    /// Move dead letters back to the topic they came from (after a fix).
    Redrive(RedriveArgs),
    /// Show each running stage's progress (from its /metrics), optionally until drained.
    Watch(WatchArgs),
    /// Print the top rows of each datamart.
    Top(TopArgs),
    /// Show the Kafka positions the warehouse holds per consumer group, or forget a group's.
    Positions(PositionsArgs),
}

/// Options of `vault positions`.
#[derive(Debug, Args)]
pub struct PositionsArgs {
    /// Only this consumer group (required with --reset).
    #[arg(long)]
    pub group: Option<String>,
    /// With --reset: only this topic.
    #[arg(long)]
    pub topic: Option<String>,
    /// Forget the group's positions: it then starts from its committed offsets (to replay a
    /// topic on purpose, or before pointing the group at a new cluster). Stop its services first.
    #[arg(long, requires = "group")]
    pub reset: bool,
}

/// Options of `vault watch`.
#[derive(Debug, Args)]
pub struct WatchArgs {
    /// A stage to watch, as NAME=HOST:PORT of its HTTP endpoint (repeat for each stage).
    #[arg(long = "stage", required = true, value_parser = parse_stage)]
    pub stages: Vec<(String, String)>,
    /// Stop (exit 0) once each stage has consumed what the stage before it produced.
    #[arg(long)]
    pub until_drained: bool,
    /// With --until-drained: also wait until the first stage consumed this many messages.
    #[arg(long, default_value_t = 0)]
    pub expect: u64,
    /// Give up (exit 1) after this many seconds.
    #[arg(long, default_value_t = 3600)]
    pub timeout_s: u64,
}

/// Options of `vault top`.
#[derive(Debug, Args)]
pub struct TopArgs {
    /// Rows per datamart.
    #[arg(long, default_value_t = 5)]
    pub limit: i64,
}

fn parse_stage(text: &str) -> Result<(String, String), String> {
    match text.split_once('=') {
        Some((name, addr)) if !name.is_empty() && addr.contains(':') => {
            Ok((name.to_owned(), addr.to_owned()))
        }
        _ => Err(format!("`{text}`: expected NAME=HOST:PORT")),
    }
}

/// Options of `vault simulate`.
#[derive(Debug, Args)]
pub struct SimulateArgs {
    /// Orders to produce.
    #[arg(long, default_value_t = 1000)]
    pub orders: usize,
    /// Orders per second (default: the whole backlog as fast as the broker takes it).
    #[arg(long)]
    pub rate: Option<f64>,
    /// Seed of all generated data (same seed, same dictionaries and orders).
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Restaurants in the dictionary.
    #[arg(long, default_value_t = 8)]
    pub restaurants: usize,
    /// Users in the dictionary.
    #[arg(long, default_value_t = 500)]
    pub users: usize,
    /// First order id (use distinct ranges for several runs).
    #[arg(long, default_value_t = 1_000_000)]
    pub first_id: i64,
    /// Fraction of orders sent twice.
    #[arg(long, default_value_t = 0.0)]
    pub duplicates: f64,
    /// Fraction of orders closed and later cancelled.
    #[arg(long, default_value_t = 0.0)]
    pub cancel_after_close: f64,
    /// Fraction of orders with ids Redis does not know.
    #[arg(long, default_value_t = 0.0)]
    pub unknown: f64,
    /// Fraction of extra garbage messages.
    #[arg(long, default_value_t = 0.0)]
    pub garbage: f64,
    /// Topic to produce to (default: KAFKA_SOURCE_TOPIC, else order-service_orders).
    #[arg(long)]
    pub topic: Option<String>,
    /// Do not write the dictionaries into Redis.
    #[arg(long)]
    pub no_dictionaries: bool,
}

/// Options of `vault redrive`.
#[derive(Debug, Args)]
pub struct RedriveArgs {
    /// The dead-letter topic (e.g. order-service_orders.dlq).
    #[arg(long)]
    pub topic: String,
    /// Consumer group that remembers what was re-driven.
    #[arg(long, default_value = "vault-redrive")]
    pub group: String,
    /// Stop after this long without new dead letters.
    #[arg(long, default_value_t = 3000)]
    pub idle_ms: u64,
}

/// Options of `vault replay`.
#[derive(Debug, Args)]
pub struct ReplayArgs {
    /// Raw orders per page (one transaction each).
    #[arg(long, default_value_t = 1000, value_parser = clap::value_parser!(u32).range(1..))]
    pub page_size: u32,
    /// Do not draw a progress bar.
    #[arg(long)]
    pub no_progress: bool,
    /// Exit 0 even if some raw orders could not be replayed.
    #[arg(long)]
    pub allow_skipped: bool,
}

/// A command could not do its job.
#[derive(Debug, thiserror::Error)]
pub enum CliError {
    /// Missing or invalid configuration: the operator's to fix (exit 2).
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// The warehouse failed (exit 3).
    #[error(transparent)]
    Warehouse(#[from] PgError),
    /// The dictionary failed (exit 3).
    #[error(transparent)]
    Dictionary(#[from] DictionaryError),
    /// The replay stopped (exit 3).
    #[error(transparent)]
    Replay(#[from] ReplayError),
    /// Kafka failed (exit 3).
    #[error(transparent)]
    Kafka(#[from] vault_kafka::KafkaError),
    /// Standard output is gone (exit 3).
    #[error("writing the output: {0}")]
    Output(#[from] io::Error),
}

impl CliError {
    /// The process exit code for this error.
    pub fn exit_code(&self) -> u8 {
        match self {
            CliError::Config(_) => 2,
            _ => 3,
        }
    }
}

/// How a command that ran to the end judged what it found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// All good (exit 0).
    Clean,
    /// Problems found and reported (exit 1).
    Problems,
}

/// Runs a command with configuration from the process environment, printing to stdout and
/// errors (one line) to stderr; returns the exit code.
pub fn main(cli: &Cli) -> ExitCode {
    let env = Env::new(|name: &str| std::env::var(name).ok());
    let stdout = io::stdout();
    match run(cli, &env, &mut stdout.lock()) {
        Ok(Verdict::Clean) => ExitCode::SUCCESS,
        Ok(Verdict::Problems) => ExitCode::from(1),
        Err(err) => {
            eprintln!("vault: {}", one_line(&with_causes(&err)));
            ExitCode::from(err.exit_code())
        }
    }
}

/// Logs (retries, warnings) go to stderr; `RUST_LOG` sets the filter (default: warnings, but
/// not the connection pool's own error lines, which the command reports itself).
pub fn init_logging() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn,r2d2=off"));
    // Fails only if a subscriber is already set, which is then the one to use.
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(io::stderr)
        .with_ansi(io::stderr().is_terminal())
        .try_init();
}

/// The error and its causes (drivers often keep the useful part, such as PostgreSQL's message,
/// in a source), each said once.
fn with_causes(err: &dyn std::error::Error) -> String {
    let mut text = err.to_string();
    let mut source = err.source();
    while let Some(cause) = source {
        let said = cause.to_string();
        if !text.contains(&said) {
            text.push_str(": ");
            text.push_str(&said);
        }
        source = cause.source();
    }
    text
}

/// Runs a command with configuration from `env`, writing its report to `out`.
pub fn run<F: Fn(&str) -> Option<String>>(
    cli: &Cli,
    env: &Env<F>,
    out: &mut dyn Write,
) -> Result<Verdict, CliError> {
    match &cli.command {
        Command::Migrate => migrate(env, out),
        Command::Replay(args) => run_replay(args, env, out),
        Command::Check => check(env, out),
        Command::Simulate(args) => simulate(args, env, out),
        Command::Redrive(args) => redrive(args, env, out),
        Command::Watch(args) => watch(args, out),
        Command::Top(args) => top(args, env, out),
        Command::Positions(args) => positions(args, env, out),
    }
}

fn positions<F: Fn(&str) -> Option<String>>(
    args: &PositionsArgs,
    env: &Env<F>,
    out: &mut dyn Write,
) -> Result<Verdict, CliError> {
    let warehouse = warehouse(env)?;
    let mut client = warehouse.client()?;
    if args.reset {
        let Some(group) = args.group.as_deref() else {
            return Err(CliError::Config(ConfigError::Missing(
                "--group (with --reset)".into(),
            )));
        };
        let forgotten = vault_pg::positions::reset(&mut client, group, args.topic.as_deref())?;
        writeln!(
            out,
            "forgot {forgotten} position(s) of group {group}{}: it starts from its committed offsets",
            args.topic.as_deref().map(|t| format!(" on {t}")).unwrap_or_default()
        )?;
        return Ok(Verdict::Clean);
    }
    let recorded = vault_pg::positions::all(&mut client, args.group.as_deref())?;
    if recorded.is_empty() {
        writeln!(out, "no positions recorded")?;
    }
    for r in &recorded {
        writeln!(
            out,
            "{}\t{}\t{}\t{}\t{}",
            r.consumer,
            r.position.topic,
            r.position.partition,
            r.position.next_offset,
            r.updated_at
        )?;
    }
    Ok(Verdict::Clean)
}

fn watch(args: &WatchArgs, out: &mut dyn Write) -> Result<Verdict, CliError> {
    let options = crate::watch::WatchOptions {
        stages: args.stages.clone(),
        until_drained: args.until_drained,
        expect: args.expect,
        timeout: Duration::from_secs(args.timeout_s),
    };
    Ok(match crate::watch::watch(&options, out)? {
        crate::watch::WatchEnd::Drained => Verdict::Clean,
        crate::watch::WatchEnd::TimedOut => Verdict::Problems,
    })
}

fn top<F: Fn(&str) -> Option<String>>(
    args: &TopArgs,
    env: &Env<F>,
    out: &mut dyn Write,
) -> Result<Verdict, CliError> {
    let warehouse = warehouse(env)?;
    let mut client = warehouse.client()?;
    for vault_pg::top::Top {
        title,
        header,
        rows,
    } in vault_pg::top::top(&mut *client, args.limit)?
    {
        writeln!(out, "\n{title}")?;
        writeln!(
            out,
            "  {:<36} {:<32} {:>6}",
            header[0], header[1], header[2]
        )?;
        for row in rows {
            writeln!(out, "  {:<36} {:<32} {:>6}", row[0], row[1], row[2])?;
        }
    }
    Ok(Verdict::Clean)
}

/// Kafka settings for a CLI command: the variables of docs/contract.md §7.4, with the topic and
/// group given here.
fn kafka<F: Fn(&str) -> Option<String>>(
    env: &Env<F>,
    topic: &str,
    group: &str,
) -> Result<vault_kafka::KafkaConfig, CliError> {
    let overlay = Env::new(|name: &str| match name {
        "KAFKA_SOURCE_TOPIC" => Some(topic.to_owned()),
        "KAFKA_CONSUMER_GROUP" => Some(group.to_owned()),
        _ => env.get(name),
    });
    Ok(vault_kafka::KafkaConfig::from_env(&overlay, false)?)
}

fn simulate<F: Fn(&str) -> Option<String>>(
    args: &SimulateArgs,
    env: &Env<F>,
    out: &mut dyn Write,
) -> Result<Verdict, CliError> {
    use crate::simulate::{self, Planned, SimulateOptions};
    for (name, value) in [
        ("--duplicates", args.duplicates),
        ("--cancel-after-close", args.cancel_after_close),
        ("--unknown", args.unknown),
        ("--garbage", args.garbage),
    ] {
        if !(0.0..=1.0).contains(&value) {
            return Err(ConfigError::Invalid {
                name: name.into(),
                value: value.to_string(),
                reason: "a fraction between 0 and 1".into(),
            }
            .into());
        }
    }
    let topic = args
        .topic
        .clone()
        .or_else(|| env.get("KAFKA_SOURCE_TOPIC"))
        .unwrap_or_else(|| "order-service_orders".to_owned());
    let kafka = kafka(env, &topic, "vault-simulate")?;
    let redis = if args.no_dictionaries {
        None
    } else {
        Some(RedisConfig::from_env(env)?)
    };
    let options = SimulateOptions {
        seed: args.seed,
        restaurants: args.restaurants,
        users: args.users,
        orders: args.orders,
        duplicates: args.duplicates,
        cancel_after_close: args.cancel_after_close,
        unknown: args.unknown,
        garbage: args.garbage,
        first_id: args.first_id,
        ..SimulateOptions::default()
    };
    let plan = simulate::plan(&options);
    if let Some(redis) = redis {
        let mut writer = RedisWriter::new(&redis)?;
        let keys = simulate::load_dictionaries(&mut writer, &plan.catalog)?;
        writeln!(
            out,
            "dictionaries: {keys} Redis keys ({} users, {} restaurants)",
            plan.catalog.users.len(),
            plan.catalog.restaurants.len()
        )?;
    }
    let producer = vault_kafka::Producer::new(&kafka)?;
    let shutdown = crate::shutdown::Shutdown::on_signals()?;
    let bar = progress_bar(args.rate.is_some_and(|r| r < 50.0));
    bar.set_length(plan.messages.len() as u64);
    let sent = simulate::produce(
        &producer,
        &topic,
        &plan.messages,
        args.rate,
        &shutdown,
        |n| bar.set_position(n as u64),
    )?;
    bar.finish_and_clear();
    let count = |f: fn(&Planned) -> bool| plan.messages.iter().filter(|m| f(m)).count();
    writeln!(
        out,
        "produced {sent} messages to {topic}: {} order versions, {} with unknown ids, {} garbage",
        count(|m| matches!(m, Planned::Order(_))),
        count(|m| matches!(m, Planned::Unknown(..))),
        count(|m| matches!(m, Planned::Garbage(..)))
    )?;
    Ok(Verdict::Clean)
}

fn redrive<F: Fn(&str) -> Option<String>>(
    args: &RedriveArgs,
    env: &Env<F>,
    out: &mut dyn Write,
) -> Result<Verdict, CliError> {
    let kafka = kafka(env, &args.topic, &args.group)?;
    let summary = crate::redrive::run(&kafka, Duration::from_millis(args.idle_ms))?;
    writeln!(
        out,
        "re-drove {} dead letter(s) from {}",
        summary.redriven, args.topic
    )?;
    if summary.unroutable.is_empty() {
        return Ok(Verdict::Clean);
    }
    writeln!(
        out,
        "{} message(s) carry no origin headers and stay in place: {}",
        summary.unroutable.len(),
        summary.unroutable.join(", ")
    )?;
    Ok(Verdict::Problems)
}

fn warehouse<F: Fn(&str) -> Option<String>>(env: &Env<F>) -> Result<Warehouse, CliError> {
    let config = PgConfig::from_env(env)?;
    Ok(Warehouse::new(&config)?)
}

fn migrate<F: Fn(&str) -> Option<String>>(
    env: &Env<F>,
    out: &mut dyn Write,
) -> Result<Verdict, CliError> {
    let warehouse = warehouse(env)?;
    let report = warehouse.migrate()?;
    if report.adopted_original {
        writeln!(
            out,
            "adopted a warehouse of the original services: order ids widened to bigint, \
             vault's columns added, CDM ledger and counters rebuilt from the Data Vault"
        )?;
    }
    let name = |version: i32| {
        MIGRATIONS
            .iter()
            .find(|m| m.version == version)
            .map_or("?", |m| m.name)
    };
    for &version in &report.applied {
        writeln!(out, "applied migration {version:04} {}", name(version))?;
    }
    let latest = report
        .applied
        .iter()
        .chain(&report.already_applied)
        .max()
        .copied()
        .unwrap_or(0);
    if report.applied.is_empty() {
        writeln!(out, "nothing to apply: schema is at version {latest}")?;
    } else {
        writeln!(out, "schema is at version {latest}")?;
    }
    Ok(Verdict::Clean)
}

fn check<F: Fn(&str) -> Option<String>>(
    env: &Env<F>,
    out: &mut dyn Write,
) -> Result<Verdict, CliError> {
    let warehouse = warehouse(env)?;
    let mismatches = vault_pg::check::cdm_mismatches(&mut *warehouse.client()?)?;
    for m in &mismatches {
        writeln!(
            out,
            "{} ({}, {}): stored {}, recomputed {}",
            m.datamart, m.first_id, m.second_id, m.stored, m.recomputed
        )?;
    }
    if mismatches.is_empty() {
        writeln!(out, "cdm = recomputation from dds: exact")?;
        Ok(Verdict::Clean)
    } else {
        writeln!(
            out,
            "cdm ≠ recomputation from dds: {} counter(s) differ",
            mismatches.len()
        )?;
        Ok(Verdict::Problems)
    }
}

fn run_replay<F: Fn(&str) -> Option<String>>(
    args: &ReplayArgs,
    env: &Env<F>,
    out: &mut dyn Write,
) -> Result<Verdict, CliError> {
    // All configuration first, so that a bad variable stops us before any work.
    let pg = PgConfig::from_env(env)?;
    let redis = RedisConfig::from_env(env)?;
    let warehouse = Warehouse::new(&pg)?;
    let mut dictionary = RedisDictionary::new(&redis, CacheConfig::default())?;
    let options = ReplayOptions {
        page_size: args.page_size,
        ..ReplayOptions::default()
    };

    let bar = progress_bar(args.no_progress);
    let result = replay(&warehouse, &mut dictionary, &options, |p: Progress| {
        bar.set_length(p.total);
        bar.set_position(p.done);
        if p.skipped > 0 {
            bar.set_message(format!("{} skipped", p.skipped));
        }
    });
    bar.finish_and_clear();
    let summary = result?;
    print_summary(&summary, out)?;

    let skipped = summary.skipped_total();
    if skipped > 0 && !args.allow_skipped {
        writeln!(
            out,
            "{skipped} raw order(s) were not replayed (see above); fix them, or pass \
             --allow-skipped to accept"
        )?;
        return Ok(Verdict::Problems);
    }
    Ok(Verdict::Clean)
}

fn progress_bar(hidden: bool) -> ProgressBar {
    if hidden {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::with_draw_target(Some(0), ProgressDrawTarget::stderr());
    bar.enable_steady_tick(Duration::from_millis(250));
    let template = "{elapsed_precise} [{wide_bar}] {human_pos}/{human_len} orders \
                    ({per_sec}, eta {eta}) {msg}";
    if let Ok(style) = ProgressStyle::with_template(template) {
        bar.set_style(style.progress_chars("=> "));
    }
    bar
}

fn print_summary(s: &ReplaySummary, out: &mut dyn Write) -> io::Result<()> {
    writeln!(
        out,
        "replayed {} of {} raw orders in {:.1} s ({:.0} orders/s, {} pages)",
        s.replayed,
        s.read,
        s.elapsed.as_secs_f64(),
        s.rate(),
        s.pages
    )?;
    writeln!(out, "dds: {} rows written", s.rows_written)?;
    writeln!(
        out,
        "cdm: {} new, {} updated, {} duplicate, {} stale; {} counter rows changed",
        s.cdm.new, s.cdm.updated, s.cdm.duplicate, s.cdm.stale, s.cdm.counters_changed
    )?;
    writeln!(
        out,
        "dictionary: {} MGET(s) for {} keys, {} cache hits",
        s.dictionary.mgets, s.dictionary.keys_fetched, s.dictionary.cache_hits
    )?;
    if s.retries > 0 {
        writeln!(out, "retries of transient faults: {}", s.retries)?;
    }
    if s.skipped.is_empty() {
        writeln!(out, "skipped: none")?;
    } else {
        let reasons: Vec<String> = s
            .skipped
            .iter()
            .map(|(reason, n)| format!("{reason} {n}"))
            .collect();
        writeln!(
            out,
            "skipped: {} ({})",
            s.skipped_total(),
            reasons.join(", ")
        )?;
        for example in &s.examples {
            writeln!(
                out,
                "  object_id {}: {}: {}",
                example.object_id,
                example.reason,
                one_line(&example.detail)
            )?;
        }
    }
    Ok(())
}

fn one_line(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}
