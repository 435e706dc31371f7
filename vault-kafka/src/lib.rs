//! Kafka adapter for vault-core (consumer with manual offsets, producers, dead letters). Filled in by the services issue.
