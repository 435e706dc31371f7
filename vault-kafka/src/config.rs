//! Kafka client settings from the environment variables of contract §7.4.
//!
//! Plaintext when no credentials are given (the local stack); `SASL_SSL` with `SCRAM-SHA-512`
//! and a CA file when `KAFKA_CONSUMER_USERNAME`/`KAFKA_CONSUMER_PASSWORD` are set (the original
//! cloud deployment: managed Kafka, CA at a file path). Any other librdkafka property can be
//! passed through `KAFKA_EXTRA_CONFIG` without code changes.

use rdkafka::config::RDKafkaLogLevel;
use rdkafka::ClientConfig;
use vault_core::pipeline::{vars, ConfigError, Env};

/// How the client authenticates.
#[derive(Clone, PartialEq, Eq)]
pub enum Security {
    /// No TLS, no SASL.
    Plaintext,
    /// TLS with SASL/SCRAM-SHA-512.
    SaslSsl {
        /// `KAFKA_CONSUMER_USERNAME`.
        username: String,
        /// `KAFKA_CONSUMER_PASSWORD`.
        password: String,
        /// `KAFKA_CA_FILE` (default: the CA of the original deployment).
        ca_file: String,
    },
}

impl std::fmt::Debug for Security {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Security::Plaintext => f.write_str("Plaintext"),
            Security::SaslSsl {
                username, ca_file, ..
            } => f
                .debug_struct("SaslSsl")
                .field("username", username)
                .field("password", &"<redacted>")
                .field("ca_file", ca_file)
                .finish(),
        }
    }
}

/// How to reach the brokers, without a topic or a group: made from the environment
/// ([`KafkaConfig::connection_from_env`]) or in code ([`KafkaConnection::plaintext`]), then
/// given a group and a source topic ([`KafkaConnection::build`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KafkaConnection {
    /// `bootstrap.servers`.
    pub bootstrap: String,
    /// Plaintext or SASL_SSL.
    pub security: Security,
    /// Further librdkafka properties.
    pub extra: Vec<(String, String)>,
}

impl KafkaConnection {
    /// Plaintext to `bootstrap` (`host:port`, several separated by commas).
    pub fn plaintext(bootstrap: impl Into<String>) -> Self {
        KafkaConnection {
            bootstrap: bootstrap.into(),
            security: Security::Plaintext,
            extra: Vec::new(),
        }
    }

    /// A client of consumer group `group` reading `source_topic`, its dead letters on
    /// `<source_topic>.dlq`, producing nowhere, with dynamic membership (the `with_*` methods
    /// of [`KafkaConfig`] change these).
    pub fn build(self, group: impl Into<String>, source_topic: impl Into<String>) -> KafkaConfig {
        let source_topic = source_topic.into();
        KafkaConfig {
            bootstrap: self.bootstrap,
            security: self.security,
            group: group.into(),
            dlq_topic: default_dlq_topic(&source_topic),
            source_topic,
            destination_topic: None,
            instance_id: None,
            extra: self.extra,
        }
    }
}

/// The dead-letter topic of `source_topic` when `KAFKA_DLQ_TOPIC` does not name one
/// ([`vault_core::pipeline::stages::dead_letter_topic`]).
pub fn default_dlq_topic(source_topic: &str) -> String {
    vault_core::pipeline::stages::dead_letter_topic(source_topic)
}

/// Everything a service needs to talk to Kafka.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KafkaConfig {
    /// `bootstrap.servers`: every host of `KAFKA_HOST` (comma-separated, `host` or `host:port`),
    /// the port defaulting to `KAFKA_PORT`.
    pub bootstrap: String,
    /// Plaintext or SASL_SSL.
    pub security: Security,
    /// `KAFKA_CONSUMER_GROUP`.
    pub group: String,
    /// `KAFKA_SOURCE_TOPIC`.
    pub source_topic: String,
    /// `KAFKA_DESTINATION_TOPIC` (absent for the last stage).
    pub destination_topic: Option<String>,
    /// `KAFKA_DLQ_TOPIC` (default `<source topic>.dlq`).
    pub dlq_topic: String,
    /// `KAFKA_GROUP_INSTANCE_ID`: the consumer's `group.instance.id` (static membership: a
    /// member that comes back within the session timeout under the same id takes its partitions
    /// back without a rebalance of the group). Unique per replica; absent: dynamic membership.
    pub instance_id: Option<String>,
    /// `KAFKA_EXTRA_CONFIG`: `key=value` pairs separated by `,` or newlines.
    pub extra: Vec<(String, String)>,
}

impl KafkaConfig {
    /// Reads the variables; `needs_destination` says whether `KAFKA_DESTINATION_TOPIC` is required.
    pub fn from_env<F: Fn(&str) -> Option<String>>(
        env: &Env<F>,
        needs_destination: bool,
    ) -> Result<Self, ConfigError> {
        let connection = KafkaConfig::connection_from_env(env)?;
        let source_topic = env.required(&vars::KAFKA_SOURCE_TOPIC)?;
        let destination_topic = if needs_destination {
            Some(env.required(&vars::KAFKA_DESTINATION_TOPIC)?)
        } else {
            env.get(&vars::KAFKA_DESTINATION_TOPIC)
        };
        let instance_id = env.get(&vars::KAFKA_GROUP_INSTANCE_ID);
        if let Some(id) = &instance_id {
            if id.len() > 249
                || !id
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || "._-".contains(c))
            {
                return Err(ConfigError::Invalid {
                    name: vars::KAFKA_GROUP_INSTANCE_ID.name.into(),
                    value: id.clone(),
                    reason: "at most 249 characters of [A-Za-z0-9._-] (a pod name fits)".into(),
                });
            }
        }
        let group = env.required(&vars::KAFKA_CONSUMER_GROUP)?;
        let dlq_topic = env.get(&vars::KAFKA_DLQ_TOPIC);
        let mut config = connection.build(group, source_topic);
        config.destination_topic = destination_topic;
        config.instance_id = instance_id;
        if let Some(dlq_topic) = dlq_topic {
            config.dlq_topic = dlq_topic;
        }
        Ok(config)
    }

    /// The connection settings alone (brokers, security, `KAFKA_EXTRA_CONFIG`), for a client
    /// whose topic and group are given in code ([`KafkaConnection::build`]): the `vault` CLI's.
    pub fn connection_from_env<F: Fn(&str) -> Option<String>>(
        env: &Env<F>,
    ) -> Result<KafkaConnection, ConfigError> {
        let hosts = env.required(&vars::KAFKA_HOST)?;
        let port: u16 = env.value(&vars::KAFKA_PORT)?;
        let bootstrap = bootstrap_servers(&hosts, port).map_err(|reason| ConfigError::Invalid {
            name: vars::KAFKA_HOST.name.into(),
            value: hosts.clone(),
            reason,
        })?;
        let security = match (
            env.get(&vars::KAFKA_CONSUMER_USERNAME),
            env.get(&vars::KAFKA_CONSUMER_PASSWORD),
        ) {
            (None, None) => Security::Plaintext,
            (Some(username), Some(password)) => Security::SaslSsl {
                username,
                password,
                ca_file: env.required(&vars::KAFKA_CA_FILE)?,
            },
            (Some(_), None) => {
                return Err(ConfigError::Missing(
                    vars::KAFKA_CONSUMER_PASSWORD.name.into(),
                ))
            }
            (None, Some(_)) => {
                return Err(ConfigError::Missing(
                    vars::KAFKA_CONSUMER_USERNAME.name.into(),
                ))
            }
        };
        let extra = match env.get(&vars::KAFKA_EXTRA_CONFIG) {
            None => Vec::new(),
            Some(text) => parse_extra(&text).map_err(|reason| ConfigError::Invalid {
                name: vars::KAFKA_EXTRA_CONFIG.name.into(),
                value: text.clone(),
                reason,
            })?,
        };
        Ok(KafkaConnection {
            bootstrap,
            security,
            extra,
        })
    }

    /// The same settings consuming `topic` (its dead letters on `<topic>.dlq`).
    pub fn with_source_topic(self, topic: impl Into<String>) -> Self {
        let source_topic = topic.into();
        KafkaConfig {
            dlq_topic: default_dlq_topic(&source_topic),
            source_topic,
            ..self
        }
    }

    /// The same settings in consumer group `group`.
    pub fn with_group(self, group: impl Into<String>) -> Self {
        KafkaConfig {
            group: group.into(),
            ..self
        }
    }

    /// The same settings producing to `topic`.
    pub fn with_destination_topic(self, topic: impl Into<String>) -> Self {
        KafkaConfig {
            destination_topic: Some(topic.into()),
            ..self
        }
    }

    /// Properties shared by consumers, producers and admin clients.
    pub fn client_config(&self) -> ClientConfig {
        let mut config = ClientConfig::new();
        config.set("bootstrap.servers", &self.bootstrap);
        match &self.security {
            Security::Plaintext => {
                config.set("security.protocol", "plaintext");
            }
            Security::SaslSsl {
                username,
                password,
                ca_file,
            } => {
                config
                    .set("security.protocol", "SASL_SSL")
                    .set("sasl.mechanism", "SCRAM-SHA-512")
                    .set("sasl.username", username)
                    .set("sasl.password", password)
                    .set("ssl.ca.location", ca_file);
            }
        }
        for (key, value) in &self.extra {
            config.set(key, value);
        }
        config
    }

    /// A consumer in `group` with manual offset commits.
    pub fn consumer_config(&self) -> ClientConfig {
        let mut config = self.client_config();
        config
            .set("group.id", &self.group)
            .set("enable.auto.commit", "false")
            .set("enable.auto.offset.store", "false")
            .set("auto.offset.reset", "earliest")
            .set("enable.partition.eof", "false")
            .set("session.timeout.ms", "10000")
            // A member learns of a rebalance from a heartbeat's answer, and a cooperative
            // rebalance takes two rounds (revoke, then assign): a shorter interval than
            // librdkafka's 3 s hands a joining replica its partitions sooner (measured in
            // docs/performance.md). A tenth of the session timeout, one small request a second.
            .set("heartbeat.interval.ms", "1000")
            .set("max.poll.interval.ms", "300000")
            .set("statistics.interval.ms", "5000")
            // A Kafka broker answers a fetch as soon as one byte is there (fetch.min.bytes=1),
            // but only for the partitions in that fetch, and librdkafka has one fetch in flight
            // per broker: a partition that becomes fetchable (just assigned, its offset just
            // reset, its prefetch queue just drained) waits behind a long-poll on the others
            // for up to this long. At librdkafka's 500 ms that was half of every start-up (the
            // figures, and the idle cost of 100 ms, are in docs/performance.md).
            .set("fetch.wait.max.ms", "100")
            // Prefetch at most ~2 MiB and fetch at most 2 MiB at a time (librdkafka's defaults
            // are 64 MiB and 50 MiB): a batch is 1,000 messages of ~1 KiB, and a long backlog
            // must not become resident memory (RSS target 64 MiB per service).
            .set("queued.max.messages.kbytes", "2048")
            .set("fetch.max.bytes", "2097152")
            // With so small a prefetch queue the threshold is reached all the time during a
            // backlog; librdkafka then postpones the next fetch by this much (default 1000 ms,
            // which starved the batch loop): fetch again as soon as the queue has room.
            .set("fetch.queue.backoff.ms", "10")
            // Incremental rebalancing: a replica that joins or leaves moves only the partitions
            // that must move; the others keep being read without a pause.
            .set("partition.assignment.strategy", "cooperative-sticky");
        if let Some(id) = &self.instance_id {
            config.set("group.instance.id", id);
        }
        // librdkafka's warnings are how a fetch position deleted under a running consumer is
        // noticed (BatchConsumer::take_lost): emitted whatever RUST_LOG lets through of the
        // `librdkafka` target (rdkafka takes the level from it), which still filters the lines.
        if (config.log_level as i32) < (RDKafkaLogLevel::Warning as i32) {
            config.set_log_level(RDKafkaLogLevel::Warning);
        }
        for (key, value) in &self.extra {
            config.set(key, value);
        }
        config
    }

    /// An idempotent producer that waits for all in-sync replicas.
    pub fn producer_config(&self) -> ClientConfig {
        let mut config = self.client_config();
        config
            .set("enable.idempotence", "true")
            .set("acks", "all")
            // No lingering: a stage hands its batch's messages over in one burst, after its
            // warehouse write, and then waits for their acknowledgements, so each ms of
            // linger is a ms of every batch. Messages enqueued while the first request is on
            // its way still travel together in the next (docs/performance.md, issue 30).
            .set("linger.ms", "0")
            .set("compression.type", "lz4")
            // How long the producer keeps retrying a message (idempotently: the broker drops
            // what it already has) before the batch fails and is retried as a whole, which
            // would send it again. Longer than a leader election after a broker crash (the
            // controller waits broker.session.timeout.ms, 9 s) and a broker restart, so these
            // cause no duplicates downstream. A stop does not wait for it (Pending::wait_or_cancel).
            .set("message.timeout.ms", "60000");
        for (key, value) in &self.extra {
            config.set(key, value);
        }
        config
    }
}

/// `bootstrap.servers` from `KAFKA_HOST` (`host`, `host:port`, `[v6]` or `[v6]:port`, several
/// separated by commas) and the default port.
pub fn bootstrap_servers(hosts: &str, default_port: u16) -> Result<String, String> {
    let servers: Vec<String> = vault_core::pipeline::config::host_list(hosts, default_port)?
        .into_iter()
        .map(|(host, port)| match host.contains(':') {
            true => format!("[{host}]:{port}"),
            false => format!("{host}:{port}"),
        })
        .collect();
    Ok(servers.join(","))
}

/// `key=value` pairs separated by newlines, or by commas when the text has no newline (a value
/// with commas, such as `debug=cgrp,broker`, needs the newline form).
fn parse_extra(text: &str) -> Result<Vec<(String, String)>, String> {
    let separator: &[char] = if text.contains('\n') { &['\n'] } else { &[','] };
    text.split(separator)
        .map(str::trim)
        .filter(|pair| !pair.is_empty())
        .map(|pair| match pair.split_once('=') {
            Some((k, v)) if !k.trim().is_empty() => Ok((k.trim().to_owned(), v.trim().to_owned())),
            _ => Err(format!("`{pair}` is not key=value")),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> Env<impl Fn(&str) -> Option<String>> {
        vault_core::pipeline::env_from_pairs(pairs)
    }

    const LOCAL: [(&str, &str); 5] = [
        ("KAFKA_HOST", "127.0.0.1"),
        ("KAFKA_PORT", "19092"),
        ("KAFKA_CONSUMER_GROUP", "stg"),
        ("KAFKA_SOURCE_TOPIC", "order-service_orders"),
        ("KAFKA_DESTINATION_TOPIC", "stg-service-orders"),
    ];

    #[test]
    fn plaintext_locally() {
        let config = KafkaConfig::from_env(&env(&LOCAL), true).expect("valid");
        assert_eq!(config.security, Security::Plaintext);
        assert_eq!(config.dlq_topic, "order-service_orders.dlq");
        let client = config.consumer_config();
        assert_eq!(client.get("bootstrap.servers"), Some("127.0.0.1:19092"));
        assert_eq!(client.get("security.protocol"), Some("plaintext"));
        assert_eq!(client.get("enable.auto.commit"), Some("false"));
        assert_eq!(client.get("sasl.mechanism"), None);
    }

    #[test]
    fn sasl_ssl_scram_with_a_ca_file_when_credentials_are_given() {
        let mut vars = LOCAL.to_vec();
        vars.extend([
            ("KAFKA_CONSUMER_USERNAME", "producer_consumer"),
            ("KAFKA_CONSUMER_PASSWORD", "p4ss"),
            (
                "KAFKA_EXTRA_CONFIG",
                "client.id=stg-1, fetch.max.bytes=1048576",
            ),
        ]);
        let config = KafkaConfig::from_env(&env(&vars), true).expect("valid");
        let producer = config.producer_config();
        assert_eq!(producer.get("security.protocol"), Some("SASL_SSL"));
        assert_eq!(producer.get("sasl.mechanism"), Some("SCRAM-SHA-512"));
        assert_eq!(producer.get("sasl.username"), Some("producer_consumer"));
        assert_eq!(producer.get("sasl.password"), Some("p4ss"));
        assert_eq!(
            producer.get("ssl.ca.location"),
            vars::KAFKA_CA_FILE.default_value()
        );
        assert_eq!(producer.get("enable.idempotence"), Some("true"));
        assert_eq!(producer.get("acks"), Some("all"));
        assert_eq!(producer.get("client.id"), Some("stg-1"));
        assert_eq!(producer.get("fetch.max.bytes"), Some("1048576"));
        assert!(!format!("{config:?}").contains("p4ss"));
    }

    /// The CLI's way: the connection from the environment, the topic and group in code.
    #[test]
    fn a_topic_and_a_group_set_in_code() {
        let connection = KafkaConfig::connection_from_env(&env(&LOCAL[..2])).expect("valid");
        let config = connection.build("vault-redrive", "orders.dlq");
        assert_eq!(
            (config.group.as_str(), config.source_topic.as_str()),
            ("vault-redrive", "orders.dlq")
        );
        assert_eq!(config.dlq_topic, "orders.dlq.dlq");
        let config = config.with_source_topic("t").with_group("g");
        assert_eq!(
            (config.dlq_topic.as_str(), config.group.as_str()),
            ("t.dlq", "g")
        );
        assert_eq!(
            KafkaConnection::plaintext("127.0.0.1:19092").build("stg", "order-service_orders"),
            KafkaConfig {
                destination_topic: None,
                ..KafkaConfig::from_env(&env(&LOCAL), false).expect("valid")
            }
        );
    }

    #[test]
    fn extra_config_by_commas_or_by_lines() {
        assert_eq!(
            parse_extra("client.id=a, linger.ms=5"),
            Ok(vec![
                ("client.id".into(), "a".into()),
                ("linger.ms".into(), "5".into())
            ])
        );
        assert_eq!(
            parse_extra("debug=cgrp,broker\nclient.id=a\n"),
            Ok(vec![
                ("debug".into(), "cgrp,broker".into()),
                ("client.id".into(), "a".into())
            ])
        );
    }

    #[test]
    fn several_brokers_in_kafka_host() {
        let mut vars = LOCAL.to_vec();
        vars[0] = (
            "KAFKA_HOST",
            "rc1a.kafka:9091, rc1b.kafka,[::1]:9093,[fe80::1]",
        );
        let config = KafkaConfig::from_env(&env(&vars), true).expect("valid");
        assert_eq!(
            config.bootstrap,
            "rc1a.kafka:9091,rc1b.kafka:19092,[::1]:9093,[fe80::1]:19092"
        );
        assert_eq!(
            config.consumer_config().get("bootstrap.servers"),
            Some(config.bootstrap.as_str())
        );
        for bad in [
            "a,,b",
            "a:",
            "a:0",
            "a:99999",
            "a:x",
            "[::1",
            "[::1]9092",
            "a b",
            ",",
        ] {
            vars[0] = ("KAFKA_HOST", bad);
            let err = KafkaConfig::from_env(&env(&vars), true).expect_err(bad);
            assert!(
                err.to_string().starts_with("configuration: KAFKA_HOST=")
                    && !err.to_string().contains('\n'),
                "{bad}: {err}"
            );
        }
    }

    #[test]
    fn one_line_naming_the_bad_variable() {
        let err = KafkaConfig::from_env(&env(&LOCAL[1..]), true).expect_err("no host");
        assert_eq!(err.to_string(), "configuration: KAFKA_HOST is not set");
        let mut vars = LOCAL.to_vec();
        vars.push(("KAFKA_CONSUMER_USERNAME", "u"));
        let err = KafkaConfig::from_env(&env(&vars), true).expect_err("no password");
        assert_eq!(
            err.to_string(),
            "configuration: KAFKA_CONSUMER_PASSWORD is not set"
        );
        let err = KafkaConfig::from_env(&env(&LOCAL[..4]), true).expect_err("no destination");
        assert!(err.to_string().contains("KAFKA_DESTINATION_TOPIC"));
        let mut vars = LOCAL.to_vec();
        vars.push(("KAFKA_EXTRA_CONFIG", "oops"));
        let err = KafkaConfig::from_env(&env(&vars), true).expect_err("bad extra");
        assert!(err
            .to_string()
            .starts_with("configuration: KAFKA_EXTRA_CONFIG="));
    }
}
