//! The commands of the `vault` operator CLI ([`Command`]). Configuration comes only from
//! environment variables, the services' own (docs/configuration.md): `PG_WAREHOUSE_*` for the
//! commands on the warehouse, `REDIS_*` for `replay` and `simulate`'s dictionaries, `KAFKA_*`
//! for `simulate`, `redrive` and `admin`; `watch` reads the stages' /metrics and needs none.
//!
//! Exit codes: 0 success; 1 the command ran and found a problem (counters that differ from
//! their recomputation, raw orders that could not be replayed); 2 missing or invalid
//! configuration or usage (one line on stderr naming the variable); 3 the command could not run
//! to the end (warehouse or Redis unreachable after retries, a fault in stored data).

use std::io::{self, IsTerminal, Write};
use std::process::ExitCode;
use std::time::Duration;

use vault_core::pipeline::{stages, vars, ConfigError, Env};
use vault_pg::migrate::MIGRATIONS;
use vault_pg::{PgConfig, PgError, Warehouse};

mod args;
pub mod config;
mod replay;
mod report;

use replay::{progress_bar, run_replay};

pub use args::{
    AdminCommand, AsOf, Cli, Command, ConfigArgs, CreateTopicsArgs, PositionsArgs, RedriveArgs,
    RefreshArgs, ReplayArgs, ReportArgs, SimulateArgs, TopArgs, WatchArgs,
};
pub use report::{render_report, REPORT_FILE};

use crate::replay::ReplayError;
use vault_redis::{DictionaryError, RedisConfig, RedisWriter};

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
    /// A file could not be written: the report, simulate's `--out` (exit 3).
    #[error("writing {path}: {source}")]
    Report {
        /// The file or directory.
        path: String,
        /// Why.
        source: io::Error,
    },
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
    if let Err(err) = crate::service::load_secret_files() {
        eprintln!("vault: {err}");
        return ExitCode::from(crate::service::EXIT_CONFIG);
    }
    let env = crate::service::process_env();
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
/// not the connection pool's own lines, one per failed attempt, since the command reports
/// the failure itself).
pub fn init_logging() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn,vault_pg::pool=off"));
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
        Command::Refresh(args) => refresh(args, env, out),
        Command::Simulate(args) => simulate(args, env, out),
        Command::Redrive(args) => redrive(args, env, out),
        Command::Watch(args) => watch(args, out),
        Command::Top(args) => top(args, env, out),
        Command::Positions(args) => positions(args, env, out),
        Command::Report(args) => report::report(args, env, out),
        Command::Config(args) => print_config(args, out),
        Command::Admin(command) => admin(command, env, out),
    }
}

/// `vault admin`: the cluster of the `KAFKA_*` variables.
fn admin<F: Fn(&str) -> Option<String>>(
    command: &AdminCommand,
    env: &Env<F>,
    out: &mut dyn Write,
) -> Result<Verdict, CliError> {
    use vault_kafka::admin;
    // An admin client joins no group and reads no topic: the names only label the settings.
    let kafka = kafka(env, "", "vault-admin")?;
    match command {
        AdminCommand::Nodes => writeln!(out, "{}", admin::live_brokers(&kafka)?)?,
        AdminCommand::CreateTopics(args) => {
            let settings = admin::TopicSettings {
                partitions: args.partitions,
                replication: args.replication,
                min_insync_replicas: args.min_insync_replicas,
            };
            let topics: Vec<&str> = args.topics.iter().map(String::as_str).collect();
            for topic in admin::create_topics(&kafka, &topics, &settings)? {
                writeln!(out, "created {topic}")?;
            }
        }
        AdminCommand::Topics => {
            for t in admin::list_topics(&kafka)? {
                writeln!(
                    out,
                    "{}\tpartitions={}\treplication={}",
                    t.name, t.partitions, t.replication
                )?;
            }
        }
        AdminCommand::DeleteTopics { topics } => {
            let topics: Vec<&str> = topics.iter().map(String::as_str).collect();
            admin::delete_topics(&kafka, &topics)?;
        }
        AdminCommand::ResetOffsets {
            group,
            topic,
            offset,
        } => {
            let partitions = admin::reset_offsets(&kafka, group, topic, *offset)?;
            writeln!(
                out,
                "{group}\t{topic}\tpartitions={partitions}\toffset={offset}"
            )?;
        }
    }
    Ok(Verdict::Clean)
}

/// `vault config`: needs no environment.
fn print_config(args: &ConfigArgs, out: &mut dyn Write) -> Result<Verdict, CliError> {
    let text = if args.markdown {
        config::markdown()
    } else if args.json_schema {
        pretty(&config::json_schema())
    } else if args.stages {
        pretty(&config::stages_json())
    } else {
        pretty(&config::json_list())
    };
    out.write_all(text.as_bytes())?;
    Ok(Verdict::Clean)
}

/// JSON as the checked-in files hold it: two-space indents, a final line break.
pub fn pretty(value: &serde_json::Value) -> String {
    let mut text = serde_json::to_string_pretty(value).unwrap_or_default();
    text.push('\n');
    text
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

/// Kafka settings for a CLI command: the connection from the variables of docs/contract.md
/// §7.4, the topic and group given here.
fn kafka<F: Fn(&str) -> Option<String>>(
    env: &Env<F>,
    topic: &str,
    group: &str,
) -> Result<vault_kafka::KafkaConfig, CliError> {
    Ok(vault_kafka::KafkaConfig::connection_from_env(env)?.build(group, topic))
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
        .or_else(|| env.get(&vars::KAFKA_SOURCE_TOPIC))
        .unwrap_or_else(|| stages::STG.source_topic.to_owned());
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
    let count = |f: fn(&Planned) -> bool| plan.messages.iter().filter(|m| f(m)).count();
    let kinds = format!(
        "{} order versions, {} with unknown ids, {} garbage",
        count(|m| matches!(m, Planned::Order(_))),
        count(|m| matches!(m, Planned::Unknown(..))),
        count(|m| matches!(m, Planned::Garbage(..)))
    );
    if let Some(path) = &args.out {
        let failed = |source| CliError::Report {
            path: path.display().to_string(),
            source,
        };
        let mut file = io::BufWriter::new(std::fs::File::create(path).map_err(failed)?);
        for message in &plan.messages {
            file.write_all(&simulate::json_line(message))
                .map_err(failed)?;
        }
        file.flush().map_err(failed)?;
        writeln!(
            out,
            "wrote {} messages to {}: {kinds}",
            plan.messages.len(),
            path.display()
        )?;
        return Ok(Verdict::Clean);
    }
    let kafka = kafka(env, &topic, "vault-simulate")?;
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
    writeln!(out, "produced {sent} messages to {topic}: {kinds}")?;
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
    if !report.bi_role {
        writeln!(
            out,
            "role vault_bi is missing and this user may not create roles: create it as an \
             administrator (CREATE ROLE vault_bi NOLOGIN), then run vault migrate again (docs/bi.md)"
        )?;
    }
    if report.day_time_zone_changed {
        writeln!(
            out,
            "CDM_DAY_TIME_ZONE changed: cdm.restaurant_category_days rebuilt with the days in {}",
            warehouse.config().day_time_zone
        )?;
    }
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

/// `vault refresh`: the point-in-time and bridge tables of the order model
/// ([`vault_pg::model::snapshot_tables`]), each rebuilt at `--as-of` in a transaction of its
/// own. An `--only` name the model does not have is a usage error (exit 2), found before
/// anything runs.
fn refresh<F: Fn(&str) -> Option<String>>(
    args: &RefreshArgs,
    env: &Env<F>,
    out: &mut dyn Write,
) -> Result<Verdict, CliError> {
    use vault_pg::error::Context;
    use vault_pg::model::{refresh_snapshot, snapshot_tables};
    let model = <vault_core::orders::DvRows<'_> as vault_core::RowSet>::MODEL;
    let tables = snapshot_tables(&model);
    if let Some(unknown) = args
        .only
        .iter()
        .find(|name| !tables.iter().any(|t| t.name == name.as_str()))
    {
        let names: Vec<&str> = tables.iter().map(|t| t.name).collect();
        return Err(ConfigError::Invalid {
            name: "--only".into(),
            value: unknown.clone(),
            reason: format!(
                "not a point-in-time or bridge table of model {}: {}",
                model.name,
                names.join(", ")
            ),
        }
        .into());
    }
    let as_of = args.as_of.at(chrono::Utc::now());
    let keep_from = args
        .keep_days
        .map(|days| as_of - chrono::Duration::days(i64::from(days)));
    let warehouse = warehouse(env)?;
    let mut client = warehouse.client()?;
    for table in tables
        .iter()
        .filter(|t| args.only.is_empty() || args.only.iter().any(|name| name == t.name))
    {
        let started = std::time::Instant::now();
        let what = |doing: &str| format!("{doing} the refresh of {}.{}", model.schema, table.name);
        let mut tx = client.transaction().context(what("begin"))?;
        let done = refresh_snapshot(&mut tx, &model, table, as_of, keep_from)?;
        tx.commit().context(what("commit"))?;
        let pruned = match keep_from {
            Some(before) => format!(
                ", {} row(s) of snapshots before {before} deleted",
                done.pruned
            ),
            None => String::new(),
        };
        writeln!(
            out,
            "{}.{} at {as_of}: {} row(s) in {} ms{pruned}",
            model.schema,
            table.name,
            done.rows,
            started.elapsed().as_millis()
        )?;
    }
    Ok(Verdict::Clean)
}

fn one_line(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}
