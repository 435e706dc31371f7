//! # vault-kafka
//!
//! The Kafka side of vault on `rdkafka`: client settings from the environment variables of
//! contract §7.4, a batch consumer with manual offsets that is safe across rebalances, an
//! idempotent producer that waits for every acknowledgement, dead letters that keep the
//! original bytes, and [`ServiceClients`], which keeps a service's consumer and producer working
//! (replaced when stuck, offsets committed again while idle).
//!
//! "Contract §N" refers to the streamvault pipeline's contract (`docs/contract.md` in the
//! source repository): its messages, topics and variables.

pub mod admin;
pub mod clients;
pub mod config;
pub mod consumer;
pub mod deadletter;
pub mod error;
pub mod lag;
mod logs;
pub mod producer;

pub use clients::{Rejoin, ServiceClients};
pub use config::{KafkaConfig, KafkaConnection, Security};
pub use consumer::{
    positions, AssignmentChange, BatchConsumer, InMessage, LostOffsets, Position, PositionSource,
    Resume,
};
pub use error::KafkaError;
pub use lag::GroupLag;
pub use producer::{OutRecord, Pending, Producer};
