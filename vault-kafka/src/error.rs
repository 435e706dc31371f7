//! Kafka errors, with whether a retry can help.

use rdkafka::error::{KafkaError as RdError, RDKafkaErrorCode};

/// A Kafka operation failed.
#[derive(Debug, thiserror::Error)]
pub enum KafkaError {
    /// The client could not be created (bad configuration).
    #[error("Kafka client setup: {0}")]
    Setup(#[source] RdError),
    /// Consuming failed.
    #[error("Kafka consume from {topic}: {source}")]
    Consume {
        /// The topic.
        topic: String,
        /// The client's error.
        #[source]
        source: RdError,
    },
    /// A message was not acknowledged by the broker.
    #[error("Kafka produce to {topic}: {source}")]
    Produce {
        /// The topic.
        topic: String,
        /// The client's error.
        #[source]
        source: RdError,
    },
    /// Committing offsets failed.
    #[error("Kafka offset commit: {0}")]
    Commit(#[source] RdError),
    /// The broker could not be reached for a while (as reported by the client).
    #[error("Kafka unavailable: {0}")]
    Unavailable(String),
    /// A wait was given up because the process is stopping.
    #[error("Kafka: stopped while waiting for acknowledgements")]
    Cancelled,
    /// An admin request failed.
    #[error("Kafka admin, {context}: {message}")]
    Admin {
        /// What was being done.
        context: String,
        /// What went wrong.
        message: String,
    },
}

impl KafkaError {
    /// Whether a delivery timed out (`message.timeout.ms` passed without an acknowledgement).
    pub fn is_timed_out(&self) -> bool {
        matches!(
            self,
            KafkaError::Produce { source, .. }
                if source.rdkafka_error_code() == Some(RDKafkaErrorCode::MessageTimedOut)
        )
    }

    /// Whether a record was refused as larger than the topic (or the client) allows.
    pub fn is_message_too_large(&self) -> bool {
        matches!(
            self,
            KafkaError::Produce { source, .. }
                if source.rdkafka_error_code() == Some(RDKafkaErrorCode::MessageSizeTooLarge)
        )
    }

    /// Whether the same operation may succeed later (broker down, timeouts, rebalances) — as
    /// opposed to a configuration fault.
    pub fn is_retryable(&self) -> bool {
        let code = match self {
            KafkaError::Setup(_) => return false,
            KafkaError::Admin { .. } | KafkaError::Unavailable(_) | KafkaError::Cancelled => {
                return true
            }
            KafkaError::Consume { source, .. }
            | KafkaError::Produce { source, .. }
            | KafkaError::Commit(source) => source.rdkafka_error_code(),
        };
        !matches!(
            code,
            Some(
                RDKafkaErrorCode::InvalidConfig
                    | RDKafkaErrorCode::SaslAuthenticationFailed
                    | RDKafkaErrorCode::TopicAuthorizationFailed
                    | RDKafkaErrorCode::GroupAuthorizationFailed
                    | RDKafkaErrorCode::MessageSizeTooLarge
            )
        )
    }
}
