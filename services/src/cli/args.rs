//! The command line of `vault` (clap): the commands and their options.

use clap::{Args, Parser, Subcommand};

/// What `vault --help` says after the commands: exit codes, and what each command reads from
/// the environment.
const AFTER_HELP: &str = "Exit codes: 0 success; 1 problems found (mismatching counters, \
skipped orders); 2 missing or invalid configuration; 3 could not run (warehouse or Redis \
unreachable, faulty stored data).\n\n\
Configuration, from the environment (every variable and its default: docs/configuration.md):\n\
- PostgreSQL, for migrate, replay, check, refresh, top, positions and report: PG_WAREHOUSE_HOST, \
PG_WAREHOUSE_PORT, PG_WAREHOUSE_DBNAME, PG_WAREHOUSE_USER, PG_WAREHOUSE_PASSWORD (+ \
PG_WAREHOUSE_SSLMODE, PG_WAREHOUSE_SSLROOTCERT, CDM_DAY_TIME_ZONE);\n\
- Redis, for replay, and simulate unless --no-dictionaries: REDIS_HOST, REDIS_PORT, \
REDIS_PASSWORD (+ REDIS_USERNAME, REDIS_TLS, REDIS_CA_FILE);\n\
- Kafka, for simulate unless --out, redrive and admin: KAFKA_HOST, KAFKA_PORT (+ \
KAFKA_CONSUMER_USERNAME, KAFKA_CONSUMER_PASSWORD, KAFKA_CA_FILE, KAFKA_EXTRA_CONFIG);\n\
- none for watch (it asks each --stage's /metrics) and config.";

/// `vault`: operator commands of the warehouse.
#[derive(Debug, Parser)]
#[command(
    name = "vault",
    version = crate::build_info::VERSION_LINE,
    about = "Operator commands of the vault warehouse and pipeline",
    after_help = AFTER_HELP
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
    /// Compare the CDM datamarts with their recomputation from DDS.
    Check,
    /// Rebuild the snapshot of every point-in-time and bridge table of the order model at one
    /// time (one transaction each), for BI to join on; safe to run again.
    Refresh(RefreshArgs),
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
    /// Write an HTML report of the datamarts (one self-contained file) from the views of
    /// schema bi.
    Report(ReportArgs),
    /// Print the configuration reference, made from the variables' and stages' declarations.
    Config(ConfigArgs),
    /// Administer the Kafka cluster of KAFKA_HOST: live brokers, topics, a group's offsets
    /// (scripts/stack's admin).
    #[command(subcommand)]
    Admin(AdminCommand),
}

/// The commands of `vault admin`; the cluster and the client's security come from the
/// `KAFKA_*` variables (KAFKA_HOST, KAFKA_PORT, KAFKA_CONSUMER_USERNAME,
/// KAFKA_CONSUMER_PASSWORD, KAFKA_CA_FILE, KAFKA_EXTRA_CONFIG).
#[derive(Debug, Subcommand)]
pub enum AdminCommand {
    /// Print the number of live brokers.
    Nodes,
    /// Create the topics that do not exist yet; print `created NAME` for each one created.
    CreateTopics(CreateTopicsArgs),
    /// Print every topic but the internal ones, by name: `NAME<TAB>partitions=N<TAB>replication=M`.
    Topics,
    /// Delete the topics (those that do not exist are skipped).
    DeleteTopics {
        /// The topics.
        #[arg(required = true)]
        topics: Vec<String>,
    },
    /// Set GROUP's committed offset on every partition of TOPIC to OFFSET; GROUP must have no
    /// members. Prints `GROUP<TAB>TOPIC<TAB>partitions=N<TAB>offset=OFFSET`.
    ResetOffsets {
        /// The consumer group.
        group: String,
        /// The topic.
        topic: String,
        /// The offset every partition's next read starts at.
        #[arg(default_value_t = 0)]
        offset: i64,
    },
}

/// Options of `vault admin create-topics`.
#[derive(Debug, Args)]
pub struct CreateTopicsArgs {
    /// Partitions of each topic.
    #[arg(long)]
    pub partitions: i32,
    /// Replication factor (default: the cluster's default.replication.factor).
    #[arg(long)]
    pub replication: Option<i32>,
    /// The topics' min.insync.replicas (default: the cluster's).
    #[arg(long)]
    pub min_insync_replicas: Option<u32>,
    /// The topics.
    #[arg(required = true)]
    pub topics: Vec<String>,
}

/// Options of `vault refresh`.
#[derive(Debug, Args)]
pub struct RefreshArgs {
    /// The snapshot time, UTC: `day` (the start of the current day, so that the runs of one day
    /// rebuild one snapshot), `hour` (the start of the current hour), or a time,
    /// `YYYY-MM-DD` or `YYYY-MM-DD HH:MM[:SS]`.
    #[arg(long, value_name = "TS", default_value = "day", value_parser = parse_as_of)]
    pub as_of: AsOf,
    /// Only this table (repeat for several; default: every one of the model).
    #[arg(long, value_name = "NAME")]
    pub only: Vec<String>,
    /// After each refresh, delete that table's snapshots older than this many days before the
    /// snapshot time, 0 to 36500 (default: keep every snapshot).
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(..=36_500))]
    pub keep_days: Option<u32>,
}

/// The snapshot time of `vault refresh`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AsOf {
    /// The start of the current UTC day.
    Day,
    /// The start of the current UTC hour.
    Hour,
    /// This time (UTC).
    At(chrono::NaiveDateTime),
}

impl AsOf {
    /// The time, `now` being the current one.
    pub fn at(self, now: chrono::DateTime<chrono::Utc>) -> chrono::NaiveDateTime {
        use chrono::Timelike;
        let now = now.naive_utc();
        match self {
            AsOf::Day => now.date().and_time(chrono::NaiveTime::MIN),
            AsOf::Hour => now.date().and_hms_opt(now.hour(), 0, 0).unwrap_or(now),
            AsOf::At(time) => time,
        }
    }
}

/// A snapshot time as `vault refresh --as-of` takes it.
fn parse_as_of(text: &str) -> Result<AsOf, String> {
    use chrono::{NaiveDate, NaiveDateTime};
    let text = text.trim();
    match text {
        "day" => return Ok(AsOf::Day),
        "hour" => return Ok(AsOf::Hour),
        _ => {}
    }
    [
        "%Y-%m-%d %H:%M:%S",
        "%Y-%m-%dT%H:%M:%S",
        "%Y-%m-%d %H:%M",
        "%Y-%m-%dT%H:%M",
    ]
    .iter()
    .find_map(|format| NaiveDateTime::parse_from_str(text, format).ok())
    .or_else(|| {
        NaiveDate::parse_from_str(text, "%Y-%m-%d")
            .ok()
            .map(|day| day.and_time(chrono::NaiveTime::MIN))
    })
    .map(AsOf::At)
    .ok_or_else(|| {
        format!("`{text}`: expected day, hour, YYYY-MM-DD or YYYY-MM-DD HH:MM[:SS] (UTC)")
    })
}

/// Options of `vault report`.
#[derive(Debug, Args)]
pub struct ReportArgs {
    /// The directory to write `vault-report.html` into (created if missing).
    #[arg(long)]
    pub out: std::path::PathBuf,
    /// Dishes and categories in the top charts.
    #[arg(long, default_value_t = 15)]
    pub limit: i64,
}

/// Options of `vault config` (one of them).
#[derive(Debug, Args)]
#[group(required = true, multiple = false)]
pub struct ConfigArgs {
    /// The tables of docs/configuration.md (Markdown).
    #[arg(long)]
    pub markdown: bool,
    /// The `config` definition of the chart's values.schema.json.
    #[arg(long)]
    pub json_schema: bool,
    /// Every variable as `scripts/deploy-check` reads it (deploy/ci/variables.json).
    #[arg(long)]
    pub json: bool,
    /// The stages of the pipeline, their topics and consumer groups, as `scripts/deploy-check`
    /// reads them (deploy/ci/stages.json).
    #[arg(long)]
    pub stages: bool,
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
    /// Write the messages to FILE instead of producing them, one JSON object a line: `key`
    /// (the order id, or null) and `value` (the message; `value_bytes`, a list of bytes, when it
    /// is not UTF-8), for a producer of one's own (benches/outside)
    #[arg(long, value_name = "FILE")]
    pub out: Option<std::path::PathBuf>,
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
