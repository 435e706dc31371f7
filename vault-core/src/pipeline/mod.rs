//! What the streamvault services share with their adapters, apart from the order model:
//! configuration variables, each declared once ([`vars`]) and read through [`Env`], the stages
//! of the order pipeline, each declared once ([`stages`]), the position a consumer
//! reached in a partition ([`Position`]), why a message was refused ([`MessageError`]) and the
//! stable reason code of every dead letter ([`DeadLetterReason`]).

pub mod config;
pub mod message;
pub mod position;
pub mod reason;
pub mod stages;
pub mod vars;

pub use config::{default_of, env_from_pairs, ConfigError, Env};
pub use message::{decode_message, MessageError, MAX_MESSAGE_BYTES};
pub use position::Position;
pub use reason::DeadLetterReason;
