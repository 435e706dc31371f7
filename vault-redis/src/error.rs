//! What can go wrong talking to Redis, and whether trying again may help.

/// A dictionary lookup failed. [`DictionaryError::is_retryable`] tells a transient fault of
/// Redis or the network apart from one that needs a person (configuration, dictionary data).
#[derive(Debug, thiserror::Error)]
pub enum DictionaryError {
    /// No connection could be opened: Redis down or unreachable (retryable), or it refused us
    /// (wrong password, TLS misconfiguration: an operator's fault, not retryable).
    #[error("Redis dictionary at {address}: cannot connect: {source}")]
    Connect {
        /// `redis://host:port`.
        address: String,
        /// The client's error.
        #[source]
        source: redis::RedisError,
    },
    /// The TLS handshake failed or did not finish in time (a plaintext port, a certificate that
    /// does not verify): checked with a bounded handshake before the client connects, because
    /// the client's own handshake has no timeout and would wait for ever on a plaintext port.
    /// Retryable: the service stays not ready and tries again.
    #[error("Redis dictionary at {address}: TLS handshake failed: {message}")]
    Tls {
        /// `rediss://host:port`.
        address: String,
        /// Why.
        message: String,
    },
    /// `REDIS_CA_FILE` cannot be read (retryable: a Secret volume may be mounted late or
    /// fixed; the service stays not ready meanwhile).
    #[error("Redis dictionary at {address}: REDIS_CA_FILE={file}: cannot read: {message}")]
    CaFile {
        /// `rediss://host:port`.
        address: String,
        /// The file.
        file: String,
        /// Why.
        message: String,
    },
    /// A command failed: a lost connection or timeout (retryable; the connection is reopened
    /// on the next call), or an error reply of the server.
    #[error("Redis dictionary at {address}, {context}: {source}")]
    Command {
        /// `redis://host:port`.
        address: String,
        /// What was being done.
        context: &'static str,
        /// The client's error.
        #[source]
        source: redis::RedisError,
    },
    /// An entry could not be encoded as JSON (writing only).
    #[error("Redis dictionary: entry {key} cannot be encoded: {message}")]
    Encode {
        /// The entry's key.
        key: String,
        /// What went wrong.
        message: String,
    },
    /// The server answered `MGET` with the wrong number of values (a proxy or server bug).
    #[error("Redis dictionary at {address}: MGET of {expected} keys returned {got} values")]
    Protocol {
        /// `redis://host:port`.
        address: String,
        /// Keys asked for.
        expected: usize,
        /// Values received.
        got: usize,
    },
}

impl DictionaryError {
    /// Whether the same lookup may succeed later (Redis down, connection lost, timeout, server
    /// loading or failing over) — as opposed to a fault in configuration or data.
    pub fn is_retryable(&self) -> bool {
        match self {
            DictionaryError::Connect { source, .. } | DictionaryError::Command { source, .. } => {
                transient(source)
            }
            DictionaryError::CaFile { .. } | DictionaryError::Tls { .. } => true,
            DictionaryError::Protocol { .. } | DictionaryError::Encode { .. } => false,
        }
    }
}

pub(crate) fn transient(err: &redis::RedisError) -> bool {
    use redis::{ErrorKind, RetryMethod};
    if matches!(
        err.kind(),
        ErrorKind::AuthenticationFailed | ErrorKind::InvalidClientConfig
    ) {
        return false;
    }
    err.is_io_error()
        || err.is_timeout()
        || err.is_connection_dropped()
        || matches!(
            err.retry_method(),
            RetryMethod::Reconnect
                | RetryMethod::ReconnectFromInitialConnections
                | RetryMethod::RetryImmediately
                | RetryMethod::WaitAndRetry
                | RetryMethod::RefreshSlotsAndRetry
        )
}

/// Whether the connection an error came from must not be used again.
pub(crate) fn connection_broken(err: &redis::RedisError) -> bool {
    err.is_io_error() || err.is_timeout() || err.is_unrecoverable_error()
}
