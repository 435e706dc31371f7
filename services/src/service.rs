//! What every service binary does: read and validate the environment (one clear line and exit
//! code 2 on a bad variable), log in JSON, serve health and metrics, have its stage migrate the
//! warehouse, and run the stage in the shared batch runner until SIGTERM.

use std::collections::HashMap;
use std::process::ExitCode;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use tracing::{error, info, warn};
use vault_core::pipeline::{vars, ConfigError, Env};
use vault_kafka::KafkaConfig;
use vault_pg::{PgConfig, Warehouse};

use crate::build_info;
use crate::ops::{self, Health, Metrics};
use crate::runner::{
    Failpoint, Hooks, KafkaClients, NoHooks, Runner, RunnerConfig, RunnerError, Stage,
};
use crate::shutdown::Shutdown;

/// Exit code for a configuration error.
pub const EXIT_CONFIG: u8 = 2;

/// The process environment as a [`vault_core::pipeline::Env`].
pub type ProcessEnv = Env<fn(&str) -> Option<String>>;

static SECRET_FILES: OnceLock<HashMap<&'static str, String>> = OnceLock::new();

/// The passwords may also come from a file: `NAME_FILE` holds the path of a file whose content
/// (without a final line break) is the value — the Kubernetes Secret-volume habit.
///
/// Reads the `NAME_FILE` of every secret ([`vars::secrets`]) that is set; afterwards
/// [`process_env`] answers `NAME` with the file's content. Setting both `NAME` and `NAME_FILE`
/// is refused, as is a file that cannot be read; the error names the variable and the path,
/// never the content. Called once at start, before the settings are read.
pub fn load_secret_files() -> Result<(), ConfigError> {
    let mut secrets = HashMap::new();
    for name in vars::secrets().map(|var| var.name) {
        let file_var = format!("{name}_FILE");
        let Some(path) = std::env::var(&file_var)
            .ok()
            .filter(|p| !p.trim().is_empty())
        else {
            continue;
        };
        let invalid = |reason: String| ConfigError::Invalid {
            name: file_var.clone(),
            value: path.clone(),
            reason,
        };
        if std::env::var(name).is_ok_and(|v| !v.is_empty()) {
            return Err(invalid(format!("{name} is set too: set one of them")));
        }
        let text = std::fs::read_to_string(&path)
            .map_err(|e| invalid(format!("cannot read the file: {e}")))?;
        let value = text
            .strip_suffix('\n')
            .map(|t| t.strip_suffix('\r').unwrap_or(t))
            .unwrap_or(&text);
        secrets.insert(name, value.to_owned());
    }
    let _ = SECRET_FILES.set(secrets);
    Ok(())
}

/// The environment of this process (passwords from `NAME_FILE` included once
/// [`load_secret_files`] has run).
pub fn process_env() -> ProcessEnv {
    fn lookup(name: &str) -> Option<String> {
        SECRET_FILES
            .get()
            .and_then(|files| files.get(name).cloned())
            .or_else(|| std::env::var(name).ok())
    }
    Env::new(lookup)
}

/// What a service's `--help` says after its options.
const SERVICE_HELP: &str = "A service takes no arguments: it is configured by environment \
variables only (KAFKA_*, PG_WAREHOUSE_*, HTTP_PORT, BATCH_*, … and the stage's own; see \
docs/configuration.md). It serves GET /healthz, /readyz and /metrics on HTTP_PORT (5000) and \
runs until SIGTERM.\n\
Exit codes: 0 stopped on SIGTERM; 1 could not run; 2 missing or invalid configuration or usage.";

/// Answers `--help` and `--version` (and refuses any argument, exit 2) before anything else:
/// neither needs the environment.
fn command_line<S: Stage>() {
    clap::Command::new(S::NAME)
        .version(build_info::VERSION_LINE)
        .about(S::ABOUT)
        .after_help(SERVICE_HELP)
        .get_matches();
}

/// Why a service could not run (exit code 1).
#[derive(Debug, thiserror::Error)]
pub enum ServiceError {
    /// SIGTERM/SIGINT handlers could not be installed.
    #[error("signal handlers: {0}")]
    Signals(#[source] std::io::Error),
    /// The metrics registry could not be made.
    #[error("metrics: {0}")]
    Metrics(#[from] prometheus::Error),
    /// The health and metrics endpoint could not listen.
    #[error("{}={port}: {source}", vars::HTTP_PORT.name)]
    Http {
        /// `HTTP_PORT`.
        port: u16,
        /// Why.
        source: std::io::Error,
    },
    /// The warehouse pool could not be made.
    #[error(transparent)]
    Warehouse(#[from] vault_pg::PgError),
    /// The runner stopped on its own.
    #[error(transparent)]
    Runner(#[from] RunnerError),
}

/// Why a stage could not be made from the environment (one line, exit code 2).
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// A variable is missing or invalid.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// The stage's own set-up refused its settings (a dependency's client, say).
    #[error(transparent)]
    Stage(Box<dyn std::error::Error + Send + Sync>),
}

impl StartError {
    /// The stage's own set-up failed with `error`.
    pub fn stage(error: impl std::error::Error + Send + Sync + 'static) -> Self {
        StartError::Stage(Box::new(error))
    }
}

/// Runs a service whose stage is built by `stage` from the environment.
pub fn main<S, F>(stage: F) -> ExitCode
where
    S: Stage,
    F: FnOnce(&ProcessEnv) -> Result<S, StartError>,
{
    command_line::<S>();
    ops::init_logging();
    info!(
        service = S::NAME,
        version = build_info::VERSION,
        revision = build_info::REVISION,
        "starting"
    );
    let env = process_env();
    let settings = (|| -> Result<_, ConfigError> {
        load_secret_files()?;
        Ok((
            KafkaConfig::from_env(&env, S::PRODUCES)?,
            PgConfig::from_env(&env)?.for_application(S::NAME),
            RunnerConfig::from_env(&env)?,
            env.optional::<Failpoint>(&vars::VAULT_TEST_FAILPOINT)?,
        ))
    })();
    let (kafka, pg, runner_config, failpoint) = match settings {
        Ok(settings) => settings,
        Err(err) => {
            eprintln!("{}: {err}", S::NAME);
            return ExitCode::from(EXIT_CONFIG);
        }
    };
    let stage = match stage(&env) {
        Ok(stage) => stage,
        Err(err) => {
            eprintln!("{}: {err}", S::NAME);
            return ExitCode::from(EXIT_CONFIG);
        }
    };
    let hooks: Box<dyn Hooks> = match failpoint {
        Some(failpoint) => Box::new(failpoint),
        None => Box::new(NoHooks),
    };
    match run(stage, kafka, pg, runner_config, hooks) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            error!(service = S::NAME, error = %err, "stopped");
            eprintln!("{}: {err}", S::NAME);
            ExitCode::FAILURE
        }
    }
}

fn run<S: Stage>(
    stage: S,
    kafka: KafkaConfig,
    pg: PgConfig,
    config: RunnerConfig,
    hooks: Box<dyn Hooks>,
) -> Result<(), ServiceError> {
    let shutdown =
        Shutdown::on_signals_with(config.shutdown_timeout).map_err(ServiceError::Signals)?;
    shutdown.step("starting");
    let metrics = Metrics::new(S::NAME, S::DEPENDENCIES)?;
    let health = Arc::new(Health::default());
    health.beat();
    health.set_ready(false, "starting");
    ops::serve(config.http_port, metrics.clone(), Arc::clone(&health)).map_err(|source| {
        ServiceError::Http {
            port: config.http_port,
            source,
        }
    })?;
    let warehouse = Warehouse::new(&pg)?;
    // Migrations are safe to run from every replica at once (advisory lock); wait for the
    // warehouse while it is not there yet.
    let mut attempt = 0;
    shutdown.step("migrating the warehouse");
    loop {
        health.beat();
        match migrate_alive(&stage, &warehouse, &health) {
            Ok(report) => {
                info!(service = S::NAME, applied = ?report.applied, "warehouse schema up to date");
                break;
            }
            // A fault that needs a person (a wrong password, a certificate refused) is not a
            // reason to crash-loop either: the replica stays up, not ready with the reason,
            // and tries again less often.
            Err(err) if !shutdown.requested() => {
                attempt += 1;
                health.set_ready(false, &format!("postgres: {err}"));
                let wait = if err.is_retryable() {
                    warn!(service = S::NAME, error = %err, attempt, "warehouse not reachable yet");
                    Duration::from_secs(2)
                } else {
                    error!(service = S::NAME, error = %err, attempt, hint = "check the configuration", retry_in_s = 10, "the warehouse refuses this service");
                    Duration::from_secs(10)
                };
                shutdown.sleep(wait);
            }
            Err(_) => return Ok(()),
        }
        if shutdown.requested() {
            return Ok(());
        }
    }
    // Kafka clients that cannot be made (a CA file missing or unreadable) are a reason to
    // stay up not ready and try again, not to crash-loop.
    shutdown.step("connecting to Kafka");
    let clients = loop {
        health.beat();
        match KafkaClients::connect(S::NAME, &kafka, &warehouse) {
            Ok(clients) => break clients,
            Err(err) if !shutdown.requested() => {
                health.set_ready(false, &format!("kafka: {err}"));
                error!(service = S::NAME, error = %err, retry_in_s = 10, "cannot set up the Kafka clients");
                shutdown.sleep(Duration::from_secs(10));
            }
            Err(_) => return Ok(()),
        }
    };
    let runner = Runner::new(stage, clients, kafka, warehouse, config, metrics, health);
    runner.with_hooks(hooks).run(&shutdown)?;
    info!(service = S::NAME, "stopped");
    Ok(())
}

/// Migrates while keeping the liveness heartbeat going: a long migration (or one waiting for
/// another replica's migration lock) must not get the pod restarted by its liveness probe.
fn migrate_alive<S: Stage>(
    stage: &S,
    warehouse: &Warehouse,
    health: &Health,
) -> Result<vault_pg::migrate::MigrationReport, vault_pg::PgError> {
    // The beat thread ends as soon as the migration does (its channel closes): a start-up
    // does not wait out the beat's period.
    let (done, finished) = std::sync::mpsc::channel::<()>();
    std::thread::scope(|scope| {
        scope.spawn(move || {
            while let Err(std::sync::mpsc::RecvTimeoutError::Timeout) =
                finished.recv_timeout(Duration::from_millis(500))
            {
                health.beat();
            }
        });
        let result = stage.migrate(warehouse);
        drop(done);
        result
    })
}
