//! The contract between the runner and a stage: the stage says how to decode one message and
//! what to do with the decoded ones inside the batch's transaction; the runner does the rest
//! (decoding the batch, dead-lettering what does not decode, positions, acknowledgements,
//! commits, retries). One classified error, [`StageError`], says who is at fault, whether to
//! retry, and what a message refused for good is dead-lettered as.

use postgres::Transaction;
use vault_core::pipeline::{DeadLetterReason, MessageError};
use vault_kafka::{KafkaError, OutRecord, Pending, Producer};
use vault_pg::migrate::MigrationReport;
use vault_pg::{PgError, Warehouse};

/// A decoded message of the batch, with where it came from (its index in the batch).
#[derive(Debug, Clone, PartialEq)]
pub struct Decoded<T> {
    /// Its index in the batch (for [`Output::reject`]).
    pub index: usize,
    /// The decoded value.
    pub value: T,
}

/// One service's work on a batch, inside the batch's warehouse transaction.
pub trait Stage {
    /// The service name (`stg-service`, …): logs, metrics, dead-letter headers.
    const NAME: &'static str;
    /// One line on what the service does, for its `--help`.
    const ABOUT: &'static str =
        "A stage of a vault pipeline: Kafka in, PostgreSQL (and Kafka) out.";
    /// Whether the stage produces downstream: then `KAFKA_DESTINATION_TOPIC` is required, and
    /// without it [`Output::send`] is refused.
    const PRODUCES: bool;
    /// The `kind`s of [`StageError::Dependency`] this stage reports (its own dependencies,
    /// `redis` for STG): with the runner's own, the `kind` labels of `vault_errors_total`, each
    /// exported from the start at 0.
    const DEPENDENCIES: &'static [&'static str] = &[];
    /// What one message decodes to (it may borrow from the message's bytes).
    type Input<'a>;

    /// Brings the warehouse's schema of the stage's model up to date: run by every replica at
    /// start, before anything is consumed (concurrent runs are safe). It must create the
    /// runner's own tables (`vault.consumer_positions`, the dead-letter outbox), which the
    /// project's migrations hold ([`Warehouse::migrate`]).
    fn migrate(&self, warehouse: &Warehouse) -> Result<MigrationReport, PgError>;

    /// Decodes one message; an `Err` sends it to the dead-letter topic with the error's reason.
    fn decode<'a>(&self, payload: &'a [u8]) -> Result<Self::Input<'a>, MessageError>;

    /// Processes the decoded messages of a batch, in batch order. Messages refused here are
    /// [`Output::reject`]ed; an `Err` aborts the whole batch (it is retried, or split when the
    /// error is not retryable).
    fn process(
        &mut self,
        items: Vec<Decoded<Self::Input<'_>>>,
        tx: &mut Transaction<'_>,
        out: &mut Output,
    ) -> Result<(), StageError>;

    /// The batch's transaction has committed (what the stage wrote in its last
    /// [`Stage::process`] is in the warehouse for good).
    fn committed(&mut self) {}

    /// Whether the stage's own dependencies answer (readiness); the warehouse is checked apart.
    fn check(&mut self) -> Result<(), StageError> {
        Ok(())
    }
}

/// Why a batch attempt failed, classified.
#[derive(Debug, thiserror::Error)]
pub enum StageError {
    /// The warehouse.
    #[error(transparent)]
    Pg(#[from] PgError),
    /// The broker.
    #[error(transparent)]
    Kafka(#[from] KafkaError),
    /// A downstream message could not be encoded.
    #[error("encode downstream message: {0}")]
    Encode(#[from] serde_json::Error),
    /// A dependency of the stage's own (the dictionary on Redis, for STG).
    #[error("{source}")]
    Dependency {
        /// Which (`redis`): the `kind` label of `vault_errors_total`.
        kind: &'static str,
        /// Whether waiting may help.
        retryable: bool,
        /// What went wrong.
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// A stage that produces nothing asked to send (a programming error).
    #[error("{0} has no destination topic")]
    NoDestination(&'static str),
}

impl StageError {
    /// A failure of a dependency of the stage's own.
    pub fn dependency(
        kind: &'static str,
        retryable: bool,
        source: impl std::error::Error + Send + Sync + 'static,
    ) -> Self {
        StageError::Dependency {
            kind,
            retryable,
            source: Box::new(source),
        }
    }

    /// Whether the same batch may succeed later (a store down, a connection lost, a read-only
    /// warehouse) rather than being refused for good.
    pub fn is_retryable(&self) -> bool {
        match self {
            StageError::Pg(e) => e.is_retryable(),
            StageError::Kafka(e) => e.is_retryable(),
            StageError::Dependency { retryable, .. } => *retryable,
            StageError::Encode(_) | StageError::NoDestination(_) => false,
        }
    }

    /// Whether a message can be at fault: only then is a failed batch retried message by
    /// message and the message that fails alone dead-lettered ([`StageError::reject_reason`]).
    /// Any other failure is retried for the batch as a whole, however often it recurs: a
    /// read-only or switching warehouse, a missing table or a wrong password refuses every
    /// message alone too, and none of them is the message's fault (vault_pg::classify).
    pub fn blames_message(&self) -> bool {
        match self {
            StageError::Pg(e) => e.blames_message(),
            StageError::Kafka(e) => e.is_message_too_large(),
            StageError::Encode(_) => true,
            StageError::Dependency { .. } | StageError::NoDestination(_) => false,
        }
    }

    /// The `kind` label of `vault_errors_total`: who is at fault.
    pub fn kind(&self) -> &'static str {
        match self {
            StageError::Pg(_) => "postgres",
            StageError::Kafka(_) => "kafka",
            StageError::Encode(_) | StageError::NoDestination(_) => "encode",
            StageError::Dependency { kind, .. } => kind,
        }
    }

    /// What a message that alone fails this way is dead-lettered as.
    pub fn reject_reason(&self) -> DeadLetterReason {
        match self {
            StageError::Encode(_) | StageError::NoDestination(_) => DeadLetterReason::Unencodable,
            StageError::Kafka(e) if e.is_message_too_large() => DeadLetterReason::Oversize,
            _ => DeadLetterReason::RejectedByWarehouse,
        }
    }

    /// Whether the broker did not acknowledge a delivery within `message.timeout.ms`.
    pub fn is_delivery_timeout(&self) -> bool {
        matches!(self, StageError::Kafka(e) if e.is_timed_out())
    }
}

/// What a stage hands back for a batch: downstream messages (already on their way) and refused
/// messages.
#[derive(Debug)]
pub struct Output {
    stage: &'static str,
    destination: Option<String>,
    producer: Producer,
    pub(super) pending: Pending,
    pub(super) produced: usize,
    pub(super) rejected: Vec<(usize, DeadLetterReason, String)>,
}

impl Output {
    pub(super) fn new(
        stage: &'static str,
        destination: Option<String>,
        producer: Producer,
    ) -> Self {
        Output {
            stage,
            destination,
            producer,
            pending: Pending::default(),
            produced: 0,
            rejected: Vec::new(),
        }
    }

    /// A message for the destination topic, keyed (by order id). Its acknowledgement is awaited
    /// by the runner before the warehouse transaction commits.
    pub fn send(&mut self, key: String, payload: Vec<u8>) -> Result<(), StageError> {
        let topic = self
            .destination
            .clone()
            .ok_or(StageError::NoDestination(self.stage))?;
        let record = OutRecord {
            topic,
            key: Some(key.into_bytes()),
            payload,
            headers: Vec::new(),
        };
        self.producer.enqueue(&record, &mut self.pending)?;
        self.produced += 1;
        Ok(())
    }

    /// Message `index` of the batch goes to the dead-letter topic with `reason` and `detail`.
    pub fn reject(&mut self, index: usize, reason: DeadLetterReason, detail: impl Into<String>) {
        self.rejected.push((index, reason, detail.into()));
    }
}
