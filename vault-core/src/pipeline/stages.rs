//! The stages of the order pipeline, each declared once: its short name, its service (binary)
//! name, the consumer group and the topics the deployments give it. The services take their
//! name from here ([`StageDef::service`] is the binary, the `service` label of every metric,
//! and the service of logs and dead-letter headers); `vault config --stages` prints them as
//! JSON, which the project's deploy check holds the chart, compose, the alerts, the Dockerfile
//! and the scripts against, and the test kit's stage kinds are made from [`ALL`].
//!
//! The topics and the group are the deployments' defaults (contract §1): a service
//! itself takes them from its environment (`KAFKA_SOURCE_TOPIC`, …), where they are required.

use super::vars::Binary;

/// One stage of the pipeline, as the deployments run it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StageDef {
    /// Its short name (`stg`): the chart's component key, `vault watch --stage stg=…`, the
    /// tests' short name.
    pub key: &'static str,
    /// The binary that runs it (`stg-service`): also its `--help` name, the `service` label of
    /// its metrics and its name in logs and dead-letter headers.
    pub service: &'static str,
    /// Its consumer group in the deployments (`KAFKA_CONSUMER_GROUP`): the original services'
    /// own, whose offsets a switch-over continues from (contract §8.4).
    pub group: &'static str,
    /// The topic it consumes in the deployments (`KAFKA_SOURCE_TOPIC`).
    pub source_topic: &'static str,
    /// The topic it produces to (`KAFKA_DESTINATION_TOPIC`); `None` for the last stage, which
    /// produces nothing.
    pub destination_topic: Option<&'static str>,
    /// The binary as the configuration variables name their readers.
    pub binary: Binary,
}

impl StageDef {
    /// Whether it produces downstream (then `KAFKA_DESTINATION_TOPIC` is required).
    pub const fn produces(&self) -> bool {
        self.destination_topic.is_some()
    }

    /// Its dead-letter topic in the deployments ([`dead_letter_topic`] of its source topic).
    pub fn dead_letter_topic(&self) -> String {
        dead_letter_topic(self.source_topic)
    }
}

/// STG: the source system's orders → `stg.order_events`, enriched from Redis → the next topic.
pub const STG: StageDef = StageDef {
    key: "stg",
    service: "stg-service",
    group: "stg-service",
    source_topic: "order-service_orders",
    destination_topic: Some("stg-service-orders"),
    binary: Binary::Stg,
};

/// DDS: enriched orders → the Data Vault (`dds.*`) → the next topic.
pub const DDS: StageDef = StageDef {
    key: "dds",
    service: "dds-service",
    group: "dds-service",
    source_topic: "stg-service-orders",
    destination_topic: Some("dds-service-orders"),
    binary: Binary::Dds,
};

/// CDM: orders in Data Vault keys → the counter datamarts (`cdm.*`); produces nothing.
pub const CDM: StageDef = StageDef {
    key: "cdm",
    service: "cdm-service",
    group: "cdm-service",
    source_topic: "dds-service-orders",
    destination_topic: None,
    binary: Binary::Cdm,
};

/// Every stage, in pipeline order: each consumes what the one before produces.
pub const ALL: [StageDef; 3] = [STG, DDS, CDM];

/// What a dead-letter topic's name adds to its source topic's.
pub const DEAD_LETTER_SUFFIX: &str = ".dlq";

/// The dead-letter topic of a stage consuming `source_topic`, when `KAFKA_DLQ_TOPIC` names none
/// (contract §7.2).
pub fn dead_letter_topic(source_topic: &str) -> String {
    format!("{source_topic}{DEAD_LETTER_SUFFIX}")
}

/// Every topic of the deployed pipeline, in pipeline order: each stage's source topic and its
/// dead-letter topic, then the last stage's destination, if it has one.
pub fn topics() -> Vec<String> {
    let mut topics = Vec::new();
    for stage in ALL {
        for topic in [stage.source_topic.to_owned(), stage.dead_letter_topic()] {
            if !topics.contains(&topic) {
                topics.push(topic);
            }
        }
    }
    if let Some(last) = ALL.last().and_then(|s| s.destination_topic) {
        if !topics.iter().any(|t| t == last) {
            topics.push(last.to_owned());
        }
    }
    topics
}

/// The stage of short name `key`.
pub fn by_key(key: &str) -> Option<&'static StageDef> {
    ALL.iter().find(|stage| stage.key == key)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pipeline::vars::{self, Unset};

    /// Each stage consumes what the one before it produces, and only the last produces nothing.
    #[test]
    fn the_stages_form_one_chain() {
        for pair in ALL.windows(2) {
            assert_eq!(pair[0].destination_topic, Some(pair[1].source_topic));
        }
        assert!(ALL[..ALL.len() - 1].iter().all(StageDef::produces));
        assert!(ALL.last().is_some_and(|last| !last.produces()));
        for (i, stage) in ALL.iter().enumerate() {
            assert_eq!(by_key(stage.key), Some(stage));
            assert_eq!(stage.binary.name(), stage.service);
            assert!(ALL[..i]
                .iter()
                .all(|other| other.key != stage.key && other.service != stage.service));
        }
    }

    /// The variables' declarations require the topics each stage needs: its source topic, and
    /// its destination topic where it has one.
    #[test]
    fn the_topic_variables_are_required_by_the_stages_that_need_them() {
        for stage in ALL {
            assert!(
                vars::KAFKA_SOURCE_TOPIC.required_by(stage.binary),
                "{}",
                stage.key
            );
            assert_eq!(
                vars::KAFKA_DESTINATION_TOPIC.required_by(stage.binary),
                stage.produces(),
                "{}",
                stage.key
            );
            assert!(
                vars::KAFKA_CONSUMER_GROUP.required_by(stage.binary),
                "{}",
                stage.key
            );
        }
    }

    #[test]
    fn every_topic_once() {
        assert_eq!(
            topics(),
            [
                "order-service_orders",
                "order-service_orders.dlq",
                "stg-service-orders",
                "stg-service-orders.dlq",
                "dds-service-orders",
                "dds-service-orders.dlq",
            ]
        );
    }

    /// The configuration reference says what `KAFKA_DLQ_TOPIC` is when unset: this rule.
    #[test]
    fn the_dead_letter_rule_is_the_documented_one() {
        let Unset::Derived(documented) = vars::KAFKA_DLQ_TOPIC.unset else {
            panic!("KAFKA_DLQ_TOPIC is not declared as derived");
        };
        assert_eq!(documented, dead_letter_topic("<source topic>"));
        assert_eq!(vars::KAFKA_DLQ_TOPIC.example, STG.dead_letter_topic());
        // `vault simulate` produces to the first stage's source topic by default.
        assert!(vars::KAFKA_SOURCE_TOPIC.doc.contains(STG.source_topic));
    }
}
