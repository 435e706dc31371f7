//! Errors of the warehouse side: what failed, and whether trying again can help.

/// A warehouse operation failed.
#[derive(Debug, thiserror::Error)]
pub enum PgError {
    /// No connection could be had from the pool (the server is down or unreachable).
    #[error("PostgreSQL unreachable: {0}")]
    Pool(#[from] r2d2::Error),
    /// A statement failed.
    #[error("PostgreSQL, {context}: {}", describe(source))]
    Db {
        /// What was being done.
        context: String,
        /// The driver's error.
        #[source]
        source: postgres::Error,
    },
    /// TLS could not be set up (bad CA file, OpenSSL failure).
    #[error("PostgreSQL TLS setup: {0}")]
    Tls(String),
    /// A migration file changed after it was applied somewhere.
    #[error(
        "migration {version} ({name}) was edited after it was applied: checksum {applied} in the \
         database, {current} in this build"
    )]
    MigrationChanged {
        /// The migration's version.
        version: i32,
        /// Its name.
        name: String,
        /// The checksum recorded when it was applied.
        applied: String,
        /// The checksum of this build's file.
        current: String,
    },
    /// The database has a migration this build does not know (a newer build migrated it).
    #[error("the database has migration {0}, which this build does not know: run a newer build")]
    UnknownMigration(i32),
    /// Stored data that cannot be read back (a raw order that no longer parses, a bad status).
    #[error("stored data: {0}")]
    Stored(String),
    /// A model declaration that does not hold together (a fault in the caller's code).
    #[error("Data Vault model: {0}")]
    Model(#[from] vault_core::ModelError),
}

impl PgError {
    /// Whether the same operation may succeed later (server down, connection lost,
    /// serialization failure or deadlock) — as opposed to a fault in data or code.
    pub fn is_retryable(&self) -> bool {
        match self {
            PgError::Pool(_) => true,
            PgError::Db { source, .. } => {
                if source.is_closed() {
                    return true;
                }
                match source.code() {
                    // No SQLSTATE: an IO error on the connection.
                    None => true,
                    Some(code) => {
                        let code = code.code();
                        // 08 connection exception, 40001 serialization failure, 40P01 deadlock,
                        // 53 insufficient resources, 57P0x operator intervention (shutdown).
                        // 28 invalid authorization and 3D000 unknown database are not.
                        code.starts_with("08")
                            || code == "40001"
                            || code == "40P01"
                            || code.starts_with("53")
                            || code.starts_with("57P0")
                    }
                }
            }
            PgError::Tls(_)
            | PgError::MigrationChanged { .. }
            | PgError::UnknownMigration(_)
            | PgError::Stored(_)
            | PgError::Model(_) => false,
        }
    }
}

/// The server's message and SQLSTATE, or the connection fault, of a driver error (the driver's
/// own `Display` says only "db error").
fn describe(err: &postgres::Error) -> String {
    if let Some(db) = err.as_db_error() {
        return format!("{} (SQLSTATE {})", db.message(), db.code().code());
    }
    match std::error::Error::source(err) {
        Some(cause) => format!("{err}: {cause}"),
        None => err.to_string(),
    }
}

/// Adds what was being done to a driver error.
pub trait Context<T> {
    /// Wraps the error as [`PgError::Db`] with `what` as context.
    fn context(self, what: impl Into<String>) -> Result<T, PgError>;
}

impl<T> Context<T> for Result<T, postgres::Error> {
    fn context(self, what: impl Into<String>) -> Result<T, PgError> {
        self.map_err(|source| PgError::Db {
            context: what.into(),
            source,
        })
    }
}
