//! The Kafka side of a runner, made apart from it: a service whose clients cannot be made (a
//! CA file missing, say) retries instead of exiting.

use std::time::Duration;

use tracing::warn;
use vault_kafka::{GroupLag, KafkaConfig, KafkaError, ServiceClients};
use vault_pg::Warehouse;

use super::membership::warehouse_positions;

/// How often the group's lag is read from the broker.
const GROUP_LAG_EVERY: Duration = Duration::from_secs(15);

/// A consumer and producer kept working ([`ServiceClients`]), the dead-letter topic's message
/// limit and the group-lag probe.
#[derive(Debug)]
pub struct KafkaClients {
    pub(super) clients: ServiceClients,
    pub(super) dlq_limit: usize,
    pub(super) group_lag: Option<GroupLag>,
}

impl KafkaClients {
    /// A consumer that resumes from the warehouse's positions, a producer sized for the
    /// dead-letter topic, and the group-lag probe.
    pub fn connect(
        service: &'static str,
        kafka: &KafkaConfig,
        warehouse: &Warehouse,
    ) -> Result<Self, KafkaError> {
        let dlq_limit = match vault_kafka::admin::max_message_bytes(kafka, &kafka.dlq_topic) {
            Ok(limit) => limit,
            Err(e) => {
                let limit = vault_kafka::admin::DEFAULT_MAX_MESSAGE_BYTES;
                warn!(service, topic = %kafka.dlq_topic, error = %e, limit, assumed = "Kafka's default", "cannot read the dead-letter topic's max.message.bytes");
                limit
            }
        };
        Ok(KafkaClients {
            clients: ServiceClients::connect(
                kafka,
                warehouse_positions(warehouse, &kafka.group),
                dlq_limit,
            )?,
            dlq_limit,
            group_lag: match GroupLag::spawn(kafka, GROUP_LAG_EVERY) {
                Ok(lag) => Some(lag),
                Err(e) => {
                    warn!(service, error = %e, effect = "vault_group_lag_messages is not reported", "group lag probe not started");
                    None
                }
            },
        })
    }
}
