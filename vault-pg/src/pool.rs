//! The connection pool (r2d2) with TLS per `sslmode`, on one host or a cluster's several
//! (`PG_WAREHOUSE_HOST`): with `target_session_attrs=read-write` a connection is opened only on
//! a server that takes writes, and a pooled one that finds itself on a read-only server (a
//! primary demoted by a switchover, a database made read-only) is dropped when it is taken
//! from the pool, not reused.

use openssl::ssl::{SslConnector, SslMethod, SslVerifyMode};
use postgres_openssl::MakeTlsConnector;
use r2d2_postgres::PostgresConnectionManager;

use crate::config::{PgConfig, SessionAttrs, SslMode};
use crate::error::PgError;
use crate::migrate::{self, MigrationReport};

/// The pool's connection manager: r2d2_postgres's, with the check on taking a connection
/// made a check that the server still takes writes (one round trip, as the check it replaces).
pub struct Manager {
    inner: PostgresConnectionManager<MakeTlsConnector>,
    writable: bool,
}

/// Why the pool could not open a connection, or did not hand out a pooled one.
#[derive(Debug, thiserror::Error)]
pub enum CheckError {
    /// A new connection could not be opened.
    #[error("{}", crate::error::describe(.0))]
    Connect(postgres::Error),
    /// A pooled connection failed its check.
    #[error("{}", crate::error::describe(.0))]
    Pg(#[from] postgres::Error),
    /// The server no longer takes writes.
    #[error("the server is read-only now (a standby, or the database made read-only)")]
    ReadOnly,
}

impl std::fmt::Debug for Manager {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Manager")
            .field("writable", &self.writable)
            .finish()
    }
}

impl r2d2::ManageConnection for Manager {
    type Connection = postgres::Client;
    type Error = CheckError;

    fn connect(&self) -> Result<postgres::Client, CheckError> {
        self.inner.connect().map_err(CheckError::Connect)
    }

    fn is_valid(&self, client: &mut postgres::Client) -> Result<(), CheckError> {
        if !self.writable {
            return Ok(self.inner.is_valid(client)?);
        }
        let messages = client.simple_query(include_str!("../sql/pool/read_only.sql"))?;
        let read_only = messages.iter().any(
            |m| matches!(m, postgres::SimpleQueryMessage::Row(row) if row.get(0) == Some("on")),
        );
        match read_only {
            true => Err(CheckError::ReadOnly),
            false => Ok(()),
        }
    }

    fn has_broken(&self, client: &mut postgres::Client) -> bool {
        self.inner.has_broken(client)
    }
}

/// Logs what the pool's own attempts run into, one line each, naming the server (every
/// `host:port` of `PG_WAREHOUSE_HOST`, tried in order), the database and the user: r2d2's
/// default handler logs the driver's bare message ("error connecting to server"), with no
/// server, through the `log` crate.
#[derive(Debug)]
struct PoolEvents {
    server: String,
    database: String,
    user: String,
}

impl PoolEvents {
    fn new(config: &PgConfig) -> Self {
        let server = config
            .hosts
            .iter()
            .map(|(host, port)| match host.contains(':') {
                true => format!("[{host}]:{port}"),
                false => format!("{host}:{port}"),
            })
            .collect::<Vec<_>>()
            .join(",");
        PoolEvents {
            server,
            database: config.dbname.clone(),
            user: config.user.clone(),
        }
    }
}

impl r2d2::HandleError<CheckError> for PoolEvents {
    fn handle_error(&self, error: CheckError) {
        let (server, database, user) = (&self.server, &self.database, &self.user);
        match error {
            CheckError::Connect(_) => tracing::warn!(
                server,
                database,
                user,
                reason = %error,
                "cannot connect to the warehouse"
            ),
            CheckError::Pg(_) | CheckError::ReadOnly => tracing::warn!(
                server,
                database,
                reason = %error,
                next = "dropped",
                "a pooled warehouse connection failed its check"
            ),
        }
    }
}

/// A pooled connection.
pub type PooledClient = r2d2::PooledConnection<Manager>;

/// A handle on the warehouse: cheap to clone, safe to share between threads.
#[derive(Clone)]
pub struct Warehouse {
    pool: r2d2::Pool<Manager>,
    config: PgConfig,
    tls: MakeTlsConnector,
}

impl std::fmt::Debug for Warehouse {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Warehouse")
            .field("config", &self.config)
            .finish()
    }
}

/// The longest [`Warehouse::ping`] waits for a pooled connection, and a diagnosis of
/// [`Warehouse::client`]'s error for its own connection.
const PING_WAIT: std::time::Duration = std::time::Duration::from_secs(1);

impl Warehouse {
    /// A pool for `config`. Connections are opened lazily, so this succeeds while the server is
    /// down; [`Warehouse::ping`] tells whether it is reachable.
    pub fn new(config: &PgConfig) -> Result<Self, PgError> {
        let tls = tls(config)?;
        let manager = Manager {
            inner: PostgresConnectionManager::new(config.client_config(), tls.clone()),
            writable: config.target_session_attrs == SessionAttrs::ReadWrite,
        };
        let pool = r2d2::Pool::builder()
            .max_size(config.pool_size.max(1))
            .min_idle(Some(0))
            .connection_timeout(config.connect_timeout)
            .error_handler(Box::new(PoolEvents::new(config)))
            .build_unchecked(manager);
        Ok(Warehouse {
            pool,
            config: config.clone(),
            tls,
        })
    }

    /// A connection from the pool. When none can be had, one direct connection attempt tells
    /// why (server down, wrong password, no such database), so the error names the cause and
    /// [`PgError::is_retryable`] can tell an outage from a configuration fault.
    pub fn client(&self) -> Result<PooledClient, PgError> {
        self.pool
            .get()
            .map_err(|pool_error| self.diagnose(pool_error))
    }

    #[cold]
    fn diagnose(&self, pool_error: r2d2::Error) -> PgError {
        match self.connect_directly(self.config.connect_timeout.min(PING_WAIT)) {
            Err(err) => err,
            Ok(_) => PgError::Pool(pool_error),
        }
    }

    /// One connection of its own, outside the pool, given up after `timeout` per host.
    fn connect_directly(&self, timeout: std::time::Duration) -> Result<postgres::Client, PgError> {
        let mut config = self.config.client_config();
        config.connect_timeout(timeout);
        config
            .connect(self.tls.clone())
            .map_err(|source| PgError::Db {
                context: "connect".into(),
                source,
            })
    }

    /// Whether the warehouse answers (`SELECT 1`), for a readiness check: a pooled connection
    /// if one comes within a second; else one connection attempt of its own, which fails at once
    /// when the hosts refuse or none takes writes (a primary gone, a standby not yet promoted),
    /// and succeeds within the connect timeout when the server is only slow to connect. The
    /// pool's own checkout would retry failing attempts for the whole connect timeout, and a
    /// replica with nothing to do would report a lost warehouse that much later.
    pub fn ping(&self) -> Result<(), PgError> {
        use crate::error::Context;
        let answer = match self
            .pool
            .get_timeout(self.config.connect_timeout.min(PING_WAIT))
        {
            Ok(mut pooled) => pooled.simple_query("SELECT 1"),
            Err(_) => self
                .connect_directly(self.config.connect_timeout)?
                .simple_query("SELECT 1"),
        };
        answer.context("ping")?;
        Ok(())
    }

    /// Applies pending migrations (see [`crate::migrate`]).
    pub fn migrate(&self) -> Result<MigrationReport, PgError> {
        migrate::migrate(&mut *self.client()?, &self.config.day_time_zone)
    }

    /// The settings this pool was made from.
    pub fn config(&self) -> &PgConfig {
        &self.config
    }
}

fn tls(config: &PgConfig) -> Result<MakeTlsConnector, PgError> {
    let tls_err = |e: openssl::error::ErrorStack| PgError::Tls(e.to_string());
    let mut builder = SslConnector::builder(SslMethod::tls()).map_err(tls_err)?;
    match config.sslmode {
        SslMode::Disable | SslMode::Prefer | SslMode::Require => {
            builder.set_verify(SslVerifyMode::NONE);
        }
        SslMode::VerifyCa | SslMode::VerifyFull => {
            let ca = config.sslrootcert.as_deref().unwrap_or_default();
            builder
                .set_ca_file(ca)
                .map_err(|e| PgError::Tls(format!("PG_WAREHOUSE_SSLROOTCERT={ca}: {e}")))?;
            builder.set_verify(SslVerifyMode::PEER);
        }
    }
    let mut connector = MakeTlsConnector::new(builder.build());
    if config.sslmode != SslMode::VerifyFull {
        connector.set_callback(|connect, _| {
            connect.set_verify_hostname(false);
            Ok(())
        });
    }
    Ok(connector)
}
