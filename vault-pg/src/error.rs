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
    /// A row gave a value of another kind than its column's declared type (a fault in the
    /// caller's `SqlValue` implementation), or NULL for a column that is not an `Option`.
    #[error("{table}.{column}: a {found} value for a column declared {declared:?}")]
    Value {
        /// The table.
        table: &'static str,
        /// The column.
        column: &'static str,
        /// Its declared type (`SqlValue::SQL_TYPE`).
        declared: vault_core::SqlType,
        /// What the row gave (`NULL`, or the kind of value).
        found: String,
    },
}

/// Whom a failed warehouse operation blames, and so what the services do about it. The one rule,
/// by SQLSTATE ([`classify`]), listed in the operations guide ("What the warehouse refuses").
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// The server cannot do it now, and the same work may succeed later: a lost connection, a
    /// read-only or recovering server (a switchover), a conflict, resources, an operator's
    /// intervention. The batch is retried as a whole with backoff, the service not ready.
    Transient,
    /// The data of one message is refused (a value out of range, a constraint): the batch is
    /// retried message by message and the message at fault is dead-lettered.
    Message,
    /// Anything else: a fault of the warehouse itself or of its configuration (a missing table,
    /// a permission, a wrong password, a SQLSTATE this rule does not know). No message can cause
    /// it, so none is dead-lettered: the services retry the batch as a whole (not ready) until
    /// a person fixes it; a one-shot command (`vault replay`) stops with it.
    Warehouse,
}

/// The rule: what a SQLSTATE blames. Per message only what a single message's data can cause:
/// class 22 (data exception), class 23 (integrity constraint violation) and 54000 (a value too
/// large for an index row). Transient: class 08 (connection), 25006 and the other refusals of a
/// read-only or recovering server (25P03/25P04 session and transaction timeouts, 72000 snapshot
/// too old), 40001 and 40P01 (serialization failure, deadlock; also a standby's "conflict with
/// recovery"), class 53 (insufficient resources), 55P03 (lock not available), 55006 (object in
/// use), class 57 (operator intervention: admin or crash shutdown, cannot connect now, query
/// canceled by a statement timeout), class 58 (system error). Everything else blames the
/// warehouse.
pub fn classify(sqlstate: &str) -> Fault {
    let class = sqlstate.get(..2).unwrap_or(sqlstate);
    match (class, sqlstate) {
        ("22" | "23", _) | (_, "54000") => Fault::Message,
        ("08" | "53" | "57" | "58", _)
        | (_, "25006" | "25P03" | "25P04" | "40001" | "40P01" | "55P03" | "55006" | "72000") => {
            Fault::Transient
        }
        _ => Fault::Warehouse,
    }
}

impl PgError {
    /// Whom this error blames ([`classify`] for an error of the server; no SQLSTATE at all is a
    /// lost or refused connection, transient).
    pub fn fault(&self) -> Fault {
        match self {
            PgError::Pool(_) => Fault::Transient,
            PgError::Db { source, .. } => match source.code() {
                _ if source.is_closed() => Fault::Transient,
                // No SQLSTATE: an IO error on the connection, a timeout, or no host of
                // PG_WAREHOUSE_HOST that takes writes.
                None => Fault::Transient,
                Some(code) => classify(code.code()),
            },
            PgError::Tls(_)
            | PgError::MigrationChanged { .. }
            | PgError::UnknownMigration(_)
            | PgError::Stored(_)
            | PgError::Model(_)
            | PgError::Value { .. } => Fault::Warehouse,
        }
    }

    /// Whether the same operation may succeed later as it is ([`Fault::Transient`]: server
    /// down, connection lost, read-only, serialization failure, deadlock) — as opposed to a
    /// fault in data, code or configuration.
    pub fn is_retryable(&self) -> bool {
        self.fault() == Fault::Transient
    }

    /// Whether the data of the message(s) written is at fault ([`Fault::Message`]).
    pub fn blames_message(&self) -> bool {
        self.fault() == Fault::Message
    }
}

/// The server's message and SQLSTATE, or the connection fault, of a driver error (the driver's
/// own `Display` says only "db error").
pub(crate) fn describe(err: &postgres::Error) -> String {
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

#[cfg(test)]
mod tests {
    use super::*;

    /// The operations guide\'s rule, SQLSTATE by SQLSTATE.
    #[test]
    fn sqlstates_are_classified_as_documented() {
        use Fault::*;
        let table = [
            // Per message: what one message's data can cause.
            ("22001", Message), // string data right truncation
            ("22003", Message), // numeric value out of range
            ("22007", Message), // invalid datetime format
            ("22008", Message), // datetime field overflow
            ("22021", Message), // character not in repertoire
            ("22P02", Message), // invalid text representation
            ("22P05", Message), // untranslatable character
            ("23502", Message), // not null violation
            ("23503", Message), // foreign key violation
            ("23505", Message), // unique violation
            ("23514", Message), // check violation
            ("54000", Message), // program limit exceeded: index row too large
            // Transient: the batch is retried as a whole, the service not ready.
            ("08000", Transient), // connection exception
            ("08003", Transient), // connection does not exist
            ("08006", Transient), // connection failure
            ("08001", Transient), // could not establish a connection
            ("08P01", Transient), // protocol violation
            ("25006", Transient), // read-only SQL transaction (also: during recovery)
            ("25P03", Transient), // idle in transaction session timeout
            ("25P04", Transient), // transaction timeout
            ("40001", Transient), // serialization failure, conflict with recovery
            ("40P01", Transient), // deadlock detected
            ("53000", Transient), // insufficient resources
            ("53100", Transient), // disk full
            ("53200", Transient), // out of memory
            ("53300", Transient), // too many connections
            ("55P03", Transient), // lock not available (lock_timeout)
            ("55006", Transient), // object in use
            ("57000", Transient), // operator intervention
            ("57014", Transient), // query canceled (statement_timeout)
            ("57P01", Transient), // admin shutdown (pg_terminate_backend, fast stop)
            ("57P02", Transient), // crash shutdown
            ("57P03", Transient), // cannot connect now (starting up, in recovery)
            ("57P04", Transient), // database dropped
            ("57P05", Transient), // idle session timeout
            ("58000", Transient), // system error
            ("58030", Transient), // IO error ("could not extend file")
            ("72000", Transient), // snapshot too old
            // Anything else: the warehouse's or its configuration's fault, never a message's.
            ("25001", Warehouse), // active SQL transaction
            ("28000", Warehouse), // invalid authorization specification
            ("28P01", Warehouse), // invalid password
            ("3D000", Warehouse), // invalid catalog name (no such database)
            ("42501", Warehouse), // insufficient privilege
            ("42P01", Warehouse), // undefined table
            ("42703", Warehouse), // undefined column
            ("0A000", Warehouse), // feature not supported
            ("54001", Warehouse), // statement too complex
            ("XX000", Warehouse), // internal error
            ("XX001", Warehouse), // data corrupted
            ("99999", Warehouse), // a code PostgreSQL does not have
            ("", Warehouse),
            ("2", Warehouse),
        ];
        let wrong: Vec<String> = table
            .iter()
            .filter(|(code, fault)| classify(code) != *fault)
            .map(|(code, fault)| format!("{code}: {:?}, expected {fault:?}", classify(code)))
            .collect();
        assert!(wrong.is_empty(), "{wrong:#?}");
    }
}
