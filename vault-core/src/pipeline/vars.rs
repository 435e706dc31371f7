//! Every configuration variable of the services and the `vault` CLI, each declared once: its
//! name, type, default, example, doc line, the binaries that read it, and whether it is a
//! secret. The code reads through these declarations ([`super::Env`] takes a [`Var`]), and
//! the configuration reference's tables, the chart's `values.schema.json` config section and
//! the list of variables the project's deploy check uses are generated from [`ALL`]
//! (`vault config`).

use super::stages::{self, StageDef};

/// Who reads a variable.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Binary {
    /// `stg-service`.
    Stg,
    /// `dds-service`.
    Dds,
    /// `cdm-service`.
    Cdm,
    /// The `vault` operator CLI.
    Cli,
}

impl Binary {
    /// Every binary.
    pub const ALL: [Binary; 4] = [Binary::Stg, Binary::Dds, Binary::Cdm, Binary::Cli];

    /// The stage it runs (`None` for the CLI).
    pub fn stage(self) -> Option<&'static StageDef> {
        stages::ALL.iter().find(|stage| stage.binary == self)
    }

    /// The binary's name (a stage's [`StageDef::service`]).
    pub fn name(self) -> &'static str {
        match self.stage() {
            Some(stage) => stage.service,
            None => "vault",
        }
    }
}

const SERVICES: &[Binary] = &[Binary::Stg, Binary::Dds, Binary::Cdm];
const EVERY: &[Binary] = &Binary::ALL;
const STG_AND_CLI: &[Binary] = &[Binary::Stg, Binary::Cli];

/// The table a variable is documented in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Group {
    /// `KAFKA_*` connection and topics.
    Kafka,
    /// `PG_WAREHOUSE_*`.
    Postgres,
    /// `REDIS_*`.
    Redis,
    /// The runner and the process.
    Runtime,
}

impl Group {
    /// Every group, in the order of the documentation.
    pub const ALL: [Group; 4] = [Group::Kafka, Group::Postgres, Group::Redis, Group::Runtime];

    /// Its short name (`kafka`, …).
    pub fn key(self) -> &'static str {
        match self {
            Group::Kafka => "kafka",
            Group::Postgres => "postgres",
            Group::Redis => "redis",
            Group::Runtime => "runtime",
        }
    }

    /// The heading of its table.
    pub fn title(self) -> &'static str {
        match self {
            Group::Kafka => "Kafka (all services)",
            Group::Postgres => "PostgreSQL (all services, `vault` CLI)",
            Group::Redis => "Redis (STG service, `vault replay`, `vault simulate`)",
            Group::Runtime => "Service runtime",
        }
    }
}

/// What a value must look like (the chart's schema is made from it).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Any text.
    Text,
    /// Text that may not be empty when given (a host, a user, a group).
    Name,
    /// A file's absolute path.
    Path,
    /// A Kafka topic name.
    Topic,
    /// A TCP port, 1 to 65535.
    Port,
    /// A whole number, at least this.
    Count(u64),
    /// `true`/`false`, `1`/`0`, `yes`/`no`, `on`/`off` (any case).
    Flag,
    /// One of these words.
    Choice(&'static [&'static str]),
}

/// The words a [`Kind::Flag`] accepts.
pub const FLAG_WORDS: [&str; 8] = ["true", "false", "1", "0", "yes", "no", "on", "off"];

/// What an unset variable means.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unset {
    /// It must be set, for every binary that reads it.
    Required,
    /// It must be set for these binaries; optional for the others.
    RequiredBy(&'static [Binary]),
    /// This value (parsed like a given one).
    Default(&'static str),
    /// A value made from others, described here (`<source topic>.dlq`).
    Derived(&'static str),
    /// Nothing: the feature is off; the note says what that means ("" for none).
    Off(&'static str),
}

/// How the deployment (chart, compose) treats a variable.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Deploy {
    /// A key of the chart's `config` values.
    Values,
    /// Set by the chart itself (a port, the pod name, a password from `existingSecret`): not a
    /// key of `config`.
    Chart,
    /// Not deployed (a test-only switch, a bound the chart does not expose).
    No,
}

/// One configuration variable.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Var {
    /// Its name.
    pub name: &'static str,
    /// The table it is documented in.
    pub group: Group,
    /// What a value must look like.
    pub kind: Kind,
    /// What leaving it unset means.
    pub unset: Unset,
    /// An example value (`(secret)` for a password).
    pub example: &'static str,
    /// What it does, one line (Markdown).
    pub doc: &'static str,
    /// The binaries that read it.
    pub read_by: &'static [Binary],
    /// A password: never echoed, may come from `NAME_FILE`, never a chart value.
    pub secret: bool,
    /// One of the variables of the original deployments (contract §7.4).
    pub contract: bool,
    /// How the deployment treats it.
    pub deploy: Deploy,
}

impl Var {
    /// The declared default, if any.
    pub fn default_value(&self) -> Option<&'static str> {
        match self.unset {
            Unset::Default(value) => Some(value),
            _ => None,
        }
    }

    /// The declared default of a whole-number variable, usable in constants: the code's own
    /// defaults are made from it (`const TTL_MS: u64 = vars::REDIS_CACHE_TTL_MS.default_count()`),
    /// not written a second time. A variable without a whole-number default is a compile error
    /// in a constant (a panic elsewhere).
    pub const fn default_count(&self) -> u64 {
        let Unset::Default(text) = self.unset else {
            panic!("the variable has no default")
        };
        let digits = text.as_bytes();
        assert!(!digits.is_empty(), "the default is empty");
        let mut value: u64 = 0;
        let mut i = 0;
        while i < digits.len() {
            assert!(
                digits[i].is_ascii_digit(),
                "the default is not a whole number"
            );
            value = value * 10 + (digits[i] - b'0') as u64;
            i += 1;
        }
        value
    }

    /// Whether `binary` cannot start without it.
    pub fn required_by(&self, binary: Binary) -> bool {
        match self.unset {
            Unset::Required => self.read_by.contains(&binary),
            Unset::RequiredBy(binaries) => binaries.contains(&binary),
            _ => false,
        }
    }
}

const fn var(name: &'static str, group: Group, kind: Kind, unset: Unset) -> Var {
    Var {
        name,
        group,
        kind,
        unset,
        example: "",
        doc: "",
        read_by: SERVICES,
        secret: false,
        contract: false,
        deploy: Deploy::Values,
    }
}

impl Var {
    const fn example(self, example: &'static str) -> Var {
        Var { example, ..self }
    }
    const fn doc(self, doc: &'static str) -> Var {
        Var { doc, ..self }
    }
    const fn read_by(self, read_by: &'static [Binary]) -> Var {
        Var { read_by, ..self }
    }
    const fn secret(self) -> Var {
        Var {
            secret: true,
            deploy: Deploy::Chart,
            ..self
        }
    }
    const fn contract(self) -> Var {
        Var {
            contract: true,
            ..self
        }
    }
    const fn deploy(self, deploy: Deploy) -> Var {
        Var { deploy, ..self }
    }
}

use Group as G;
use Kind as K;
use Unset as U;

/// `KAFKA_HOST`.
pub const KAFKA_HOST: Var = var("KAFKA_HOST", G::Kafka, K::Name, U::Required)
    .example("rc1a-xxx.mdb.yandexcloud.net,rc1b-xxx.mdb.yandexcloud.net:9091")
    .doc("broker host, or several comma-separated (`host` or `host:port`, `[v6]:port`); a managed cluster has three")
    .read_by(EVERY)
    .contract();
/// `KAFKA_PORT`.
pub const KAFKA_PORT: Var = var("KAFKA_PORT", G::Kafka, K::Port, U::Required)
    .example("9091")
    .doc("broker port: of every host in `KAFKA_HOST` that names none")
    .read_by(EVERY)
    .contract();
/// `KAFKA_CONSUMER_USERNAME`.
pub const KAFKA_CONSUMER_USERNAME: Var =
    var("KAFKA_CONSUMER_USERNAME", G::Kafka, K::Name, U::Off(""))
        .example("producer_consumer")
        .doc("with the password: SASL_SSL + SCRAM-SHA-512 (the password comes from `existingSecret` in the chart)")
        .read_by(EVERY)
        .contract();
/// `KAFKA_CONSUMER_PASSWORD`.
pub const KAFKA_CONSUMER_PASSWORD: Var =
    var("KAFKA_CONSUMER_PASSWORD", G::Kafka, K::Text, U::Off(""))
        .example("(secret)")
        .doc("both or neither; none = plaintext")
        .read_by(EVERY)
        .secret()
        .contract();
/// `KAFKA_CA_FILE`.
pub const KAFKA_CA_FILE: Var = var(
    "KAFKA_CA_FILE",
    G::Kafka,
    K::Path,
    U::Default("/crt/YandexInternalRootCA.crt"),
)
.example("/crt/ca.pem")
.doc("CA of the brokers (SASL_SSL only)")
.read_by(EVERY);
/// `KAFKA_CONSUMER_GROUP`.
pub const KAFKA_CONSUMER_GROUP: Var = var("KAFKA_CONSUMER_GROUP", G::Kafka, K::Name, U::Required)
    .example(stages::STG.group)
    .doc("consumer group (replicas share it)")
    .contract();
/// `KAFKA_SOURCE_TOPIC`.
pub const KAFKA_SOURCE_TOPIC: Var = var(
    "KAFKA_SOURCE_TOPIC",
    G::Kafka,
    K::Topic,
    U::RequiredBy(&[Binary::Stg, Binary::Dds, Binary::Cdm]),
)
.example(stages::STG.source_topic)
.doc("topic consumed (`vault simulate`: produced to, default `order-service_orders`)")
.read_by(EVERY)
.contract();
/// `KAFKA_DESTINATION_TOPIC`.
pub const KAFKA_DESTINATION_TOPIC: Var = var(
    "KAFKA_DESTINATION_TOPIC",
    G::Kafka,
    K::Topic,
    U::RequiredBy(&[Binary::Stg, Binary::Dds]),
)
.example(stages::DDS.source_topic)
.doc("topic produced (stg, dds; the last stage has none)")
.contract();
/// `KAFKA_DLQ_TOPIC`.
pub const KAFKA_DLQ_TOPIC: Var = var(
    "KAFKA_DLQ_TOPIC",
    G::Kafka,
    K::Topic,
    U::Derived("<source topic>.dlq"),
)
.example("order-service_orders.dlq")
.doc("dead letters");
/// `KAFKA_GROUP_INSTANCE_ID`.
pub const KAFKA_GROUP_INSTANCE_ID: Var = var("KAFKA_GROUP_INSTANCE_ID", G::Kafka, K::Name, U::Off(""))
    .example("dds-service-0")
    .doc("static membership (`group.instance.id`): unique per replica (the chart sets the pod name); a replica back within the session timeout (10 s) takes its partitions back with no rebalance. See [operations](operations.md#scaling)")
    .deploy(Deploy::Chart);
/// `KAFKA_EXTRA_CONFIG`.
pub const KAFKA_EXTRA_CONFIG: Var = var("KAFKA_EXTRA_CONFIG", G::Kafka, K::Text, U::Off(""))
    .example("client.id=stg-1,fetch.max.bytes=1048576")
    .doc("any librdkafka property, `key=value` pairs by `,` — or by newlines, for values with commas (`debug=cgrp,broker`)")
    .read_by(EVERY);

/// `PG_WAREHOUSE_HOST`.
pub const PG_WAREHOUSE_HOST: Var = var("PG_WAREHOUSE_HOST", G::Postgres, K::Name, U::Required)
    .example("rc1a-xxx.mdb.yandexcloud.net,rc1b-xxx.mdb.yandexcloud.net")
    .doc("host, or a cluster's several comma-separated (`host` or `host:port`, `[v6]:port`), tried in order")
    .read_by(EVERY)
    .contract();
/// `PG_WAREHOUSE_PORT`.
pub const PG_WAREHOUSE_PORT: Var = var("PG_WAREHOUSE_PORT", G::Postgres, K::Port, U::Required)
    .example("6432")
    .doc("port of every host in `PG_WAREHOUSE_HOST` that names none")
    .read_by(EVERY)
    .contract();
/// `PG_WAREHOUSE_TARGET_SESSION_ATTRS`.
pub const PG_WAREHOUSE_TARGET_SESSION_ATTRS: Var = var(
    "PG_WAREHOUSE_TARGET_SESSION_ATTRS",
    G::Postgres,
    K::Choice(&["read-write", "any"]),
    U::Default("read-write"),
)
.example("any")
.doc("`read-write`: connect only to a server that takes writes (the primary), and drop a pooled connection found on a read-only one; `any`: the first host that answers (libpq meaning)")
.read_by(EVERY);
/// `PG_WAREHOUSE_DBNAME`.
pub const PG_WAREHOUSE_DBNAME: Var = var("PG_WAREHOUSE_DBNAME", G::Postgres, K::Name, U::Required)
    .example("de")
    .doc("database")
    .read_by(EVERY)
    .contract();
/// `PG_WAREHOUSE_USER`.
pub const PG_WAREHOUSE_USER: Var = var("PG_WAREHOUSE_USER", G::Postgres, K::Name, U::Required)
    .example("etl")
    .doc("user (the password comes from `existingSecret` in the chart)")
    .read_by(EVERY)
    .contract();
/// `PG_WAREHOUSE_PASSWORD`.
pub const PG_WAREHOUSE_PASSWORD: Var = var(
    "PG_WAREHOUSE_PASSWORD",
    G::Postgres,
    K::Text,
    U::Default(""),
)
.example("(secret)")
.doc("password")
.read_by(EVERY)
.secret()
.contract();
/// `PG_WAREHOUSE_SSLMODE`.
pub const PG_WAREHOUSE_SSLMODE: Var = var(
    "PG_WAREHOUSE_SSLMODE",
    G::Postgres,
    K::Choice(&["disable", "prefer", "require", "verify-ca", "verify-full"]),
    U::Default("prefer"),
)
.example("verify-full")
.doc("TLS, libpq meaning")
.read_by(EVERY);
/// `PG_WAREHOUSE_SSLROOTCERT`.
pub const PG_WAREHOUSE_SSLROOTCERT: Var =
    var("PG_WAREHOUSE_SSLROOTCERT", G::Postgres, K::Path, U::Off(""))
        .example("/crt/root.crt")
        .doc("CA file, required by `verify-*`")
        .read_by(EVERY);
/// `PG_WAREHOUSE_POOL_SIZE`.
pub const PG_WAREHOUSE_POOL_SIZE: Var = var(
    "PG_WAREHOUSE_POOL_SIZE",
    G::Postgres,
    K::Count(1),
    U::Default("4"),
)
.example("8")
.doc("connections per process")
.read_by(EVERY);
/// `PG_WAREHOUSE_CONNECT_TIMEOUT_MS`.
pub const PG_WAREHOUSE_CONNECT_TIMEOUT_MS: Var = var(
    "PG_WAREHOUSE_CONNECT_TIMEOUT_MS",
    G::Postgres,
    K::Count(1),
    U::Default("5000"),
)
.example("2000")
.doc("connect timeout, milliseconds")
.read_by(EVERY);
/// `CDM_DAY_TIME_ZONE`.
pub const CDM_DAY_TIME_ZONE: Var =
    var("CDM_DAY_TIME_ZONE", G::Postgres, K::Name, U::Default("UTC"))
        .example("Europe/Moscow")
        .doc("the time zone whose dates are the days of the daily datamart (`cdm.restaurant_category_days`, `bi.restaurant_category_days`, `bi.restaurant_days`): an order placed at 22:30 UTC is on the next day in Moscow. A name PostgreSQL knows (`SELECT name FROM pg_timezone_names`). `vault migrate` (and each service's migration at start) records it in the warehouse; when it changes, the mart is rebuilt from the CDM ledger with the days in the new zone, so set it alike for every service and the `vault` CLI ([BI](bi.md#the-daily-datamart))")
        .read_by(EVERY);

/// `REDIS_HOST`.
pub const REDIS_HOST: Var = var("REDIS_HOST", G::Redis, K::Name, U::Required)
    .example("c-xxx.rw.mdb.yandexcloud.net")
    .doc("host")
    .read_by(STG_AND_CLI)
    .contract();
/// `REDIS_PORT`.
pub const REDIS_PORT: Var = var("REDIS_PORT", G::Redis, K::Port, U::Required)
    .example("6380")
    .doc("port")
    .read_by(STG_AND_CLI)
    .contract();
/// `REDIS_PASSWORD`.
pub const REDIS_PASSWORD: Var = var("REDIS_PASSWORD", G::Redis, K::Text, U::Default(""))
    .example("(secret)")
    .doc("password (empty: no `AUTH`)")
    .read_by(STG_AND_CLI)
    .secret()
    .contract();
/// `REDIS_TLS`.
pub const REDIS_TLS: Var = var("REDIS_TLS", G::Redis, K::Flag, U::Default("false"))
    .example("true")
    .doc("`rediss://` (TLS), certificate and host name verified")
    .read_by(STG_AND_CLI);
/// `REDIS_CA_FILE`.
pub const REDIS_CA_FILE: Var = var("REDIS_CA_FILE", G::Redis, K::Path, U::Off("system roots"))
    .example("/crt/ca.pem")
    .doc("with `REDIS_TLS=true` only: verify the server against this CA (PEM); read at each connect, so a missing file makes the service not ready (`/readyz` names `REDIS_CA_FILE`) and is retried")
    .read_by(STG_AND_CLI);
/// `REDIS_USERNAME`.
pub const REDIS_USERNAME: Var = var("REDIS_USERNAME", G::Redis, K::Name, U::Off("default user"))
    .example("vault")
    .doc("the ACL user (`AUTH user password`); needs `REDIS_PASSWORD`")
    .read_by(STG_AND_CLI);
/// `REDIS_TIMEOUT_MS`.
pub const REDIS_TIMEOUT_MS: Var = var(
    "REDIS_TIMEOUT_MS",
    G::Redis,
    K::Count(1),
    U::Default("5000"),
)
.example("1000")
.doc("per command (connect, read, write), milliseconds")
.read_by(STG_AND_CLI);
/// `REDIS_CACHE_TTL_MS`.
pub const REDIS_CACHE_TTL_MS: Var = var("REDIS_CACHE_TTL_MS", G::Redis, K::Count(0), U::Default("30000"))
    .example("2000")
    .doc("stg-service: how long a dictionary entry is served from its in-process cache, so the longest a changed name takes to reach the orders (a miss is remembered for 5 s at most, never longer than this); `0` asks Redis for every batch. The names' history in the Data Vault starts at each entry's own `update_ts_utc`, whatever this is (docs/data-vault.md, \"History\")")
    .read_by(&[Binary::Stg]);

/// `HTTP_PORT`.
pub const HTTP_PORT: Var = var("HTTP_PORT", G::Runtime, K::Port, U::Default("5000"))
    .example("8080")
    .doc("`/healthz` (loop alive), `/readyz` (in the consumer group, warehouse, broker and Redis reachable), `/metrics` (Prometheus)")
    .deploy(Deploy::Chart);
/// `BATCH_MAX`.
pub const BATCH_MAX: Var = var("BATCH_MAX", G::Runtime, K::Count(1), U::Default("1000"))
    .example("4000")
    .doc("messages per batch at most. `4000` drains a backlog 10–35 % faster per stage (docs/performance.md) but takes more memory (dds-service peaked at 72.6 MiB on 100k orders) and one advisory lock per order of a CDM batch in PostgreSQL's shared lock table (`max_locks_per_transaction` × connections; 20,000 fit and 40,000 did not at 64 × 200): for a backfill, with the memory and few CDM replicas");
/// `BATCH_WAIT_MS`.
pub const BATCH_WAIT_MS: Var = var("BATCH_WAIT_MS", G::Runtime, K::Count(0), U::Default("200"))
    .example("50")
    .doc("idle: the longest wait for a first message; then a batch takes what is already buffered and closes as soon as nothing more is, when full, or this long after its first message");
/// `KAFKA_LOST_OFFSETS`.
pub const KAFKA_LOST_OFFSETS: Var = var(
    "KAFKA_LOST_OFFSETS",
    G::Runtime,
    K::Choice(&["skip", "stop"]),
    U::Default("skip"),
)
.example("stop")
.doc("when a replica takes a partition whose position (the warehouse's, or the group's offset) is below the first offset the broker still has — retention deleted messages not read yet —, or its fetch position is deleted while it runs (librdkafka's `offset reset … Offset out of range` warning), it logs one ERROR with the range and counts them (`vault_offsets_lost_total`, alert `VaultOffsetsLost`); `skip` goes on from the first offset there, `stop` stops the service (exit 1) before it processes anything past the gap, for a person to decide ([operations](operations.md#vaultoffsetslost))");
/// `DDS_KNOWN_KEYS`.
pub const DDS_KNOWN_KEYS: Var = var("DDS_KNOWN_KEYS", G::Runtime, K::Count(0), U::Default("100000"))
    .example("250000")
    .doc("dds-service only: entries per generation of its cache of the row identities it has seen committed (a key, and a satellite row's effective time; two generations of ~33 bytes a slot, a generation taking the power of two above 8/7 of its entries in slots: 131,072 at the default, ~8.3 MiB for both; 524,288 at 250,000, ~33 MiB); rows it knows are not sent again (docs/performance.md, \"Skip rows already known\"). More for dictionaries larger than that; `0` turns the cache off (every row is sent, `ON CONFLICT DO NOTHING` skips what is there)")
    .read_by(&[Binary::Dds]);
/// `SHUTDOWN_TIMEOUT_MS`.
pub const SHUTDOWN_TIMEOUT_MS: Var = var(
    "SHUTDOWN_TIMEOUT_MS",
    G::Runtime,
    K::Count(1000),
    U::Default("8000"),
)
.example("20000")
.doc("bound of a stop, SIGTERM → exit (at least 1000); see [operations](operations.md#stopping)")
.deploy(Deploy::No);
/// `RUST_LOG`.
pub const RUST_LOG: Var = var("RUST_LOG", G::Runtime, K::Text, U::Default("info"))
    .example("info,vault_pg=debug")
    .doc("log filter (the `vault` CLI's default: `warn`); a service's logs are JSON lines on stdout (`timestamp`, `level`, `fields`, `target`; no source paths). A failed connection attempt to the warehouse is one `WARN` line `cannot connect to the warehouse` with `server` (every `host:port` of `PG_WAREHOUSE_HOST`), `database`, `user` and `reason` (target `vault_pg::pool`); one to a broker, a `WARN` line `broker connection failed` with `server` (`host:port`), `node`, `reason` and `client` (`consumer`, `producer`; target `vault_kafka::logs`; `ERROR` when the broker refuses us: TLS or SASL), librdkafka's other lines under the target `librdkafka`")
    .read_by(EVERY);
/// `VAULT_TEST_FAILPOINT`.
pub const VAULT_TEST_FAILPOINT: Var = var("VAULT_TEST_FAILPOINT", G::Runtime, K::Text, U::Off(""))
    .example("after-warehouse-commit:2")
    .doc("tests only, never in production: `after-warehouse-commit:N` aborts the process after its N-th batch is committed to the warehouse, before the offsets are and before its dead letters are produced; `after-dead-letter-produce:N` aborts after the broker acknowledged its N-th delivery of dead letters, before the warehouse forgets them (`services/tests/resume.rs`)")
    .deploy(Deploy::No);

/// Every variable, in the order of the documentation.
pub const ALL: &[Var] = &[
    KAFKA_HOST,
    KAFKA_PORT,
    KAFKA_CONSUMER_USERNAME,
    KAFKA_CONSUMER_PASSWORD,
    KAFKA_CA_FILE,
    KAFKA_CONSUMER_GROUP,
    KAFKA_SOURCE_TOPIC,
    KAFKA_DESTINATION_TOPIC,
    KAFKA_DLQ_TOPIC,
    KAFKA_GROUP_INSTANCE_ID,
    KAFKA_EXTRA_CONFIG,
    PG_WAREHOUSE_HOST,
    PG_WAREHOUSE_PORT,
    PG_WAREHOUSE_TARGET_SESSION_ATTRS,
    PG_WAREHOUSE_DBNAME,
    PG_WAREHOUSE_USER,
    PG_WAREHOUSE_PASSWORD,
    PG_WAREHOUSE_SSLMODE,
    PG_WAREHOUSE_SSLROOTCERT,
    PG_WAREHOUSE_POOL_SIZE,
    PG_WAREHOUSE_CONNECT_TIMEOUT_MS,
    CDM_DAY_TIME_ZONE,
    REDIS_HOST,
    REDIS_PORT,
    REDIS_PASSWORD,
    REDIS_TLS,
    REDIS_CA_FILE,
    REDIS_USERNAME,
    REDIS_TIMEOUT_MS,
    REDIS_CACHE_TTL_MS,
    HTTP_PORT,
    BATCH_MAX,
    BATCH_WAIT_MS,
    KAFKA_LOST_OFFSETS,
    DDS_KNOWN_KEYS,
    SHUTDOWN_TIMEOUT_MS,
    RUST_LOG,
    VAULT_TEST_FAILPOINT,
];

/// The declaration named `name`.
pub fn by_name(name: &str) -> Option<&'static Var> {
    ALL.iter().find(|var| var.name == name)
}

/// The secrets: each may also come from a file named by `NAME_FILE`.
pub fn secrets() -> impl Iterator<Item = &'static Var> {
    ALL.iter().filter(|var| var.secret)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_unique_and_documented() {
        for (i, var) in ALL.iter().enumerate() {
            assert!(
                ALL[..i].iter().all(|other| other.name != var.name),
                "{} declared twice",
                var.name
            );
            assert!(
                !var.doc.is_empty() && !var.example.is_empty(),
                "{}",
                var.name
            );
            assert!(
                !var.doc.contains('\n') && !var.doc.contains('|'),
                "{}",
                var.name
            );
            assert!(!var.read_by.is_empty(), "{}", var.name);
        }
    }

    /// Each declared default is a value its kind accepts (the code parses it as it would a
    /// given value).
    #[test]
    fn defaults_fit_their_kind() {
        for var in ALL {
            let Some(value) = var.default_value() else {
                continue;
            };
            let fits = match var.kind {
                Kind::Text | Kind::Name => true,
                Kind::Path => value.starts_with('/'),
                Kind::Topic => !value.is_empty(),
                Kind::Port => value.parse::<u16>().is_ok_and(|p| p > 0),
                Kind::Count(min) => value.parse::<u64>().is_ok_and(|n| n >= min),
                Kind::Flag => FLAG_WORDS.contains(&value),
                Kind::Choice(words) => words.contains(&value),
            };
            assert!(fits, "{}: default {value:?}", var.name);
        }
    }

    /// A whole-number default read in a constant is the number the text says.
    #[test]
    fn default_count_is_the_declared_number() {
        const TTL_MS: u64 = REDIS_CACHE_TTL_MS.default_count();
        assert_eq!(
            Some(TTL_MS.to_string().as_str()),
            REDIS_CACHE_TTL_MS.default_value()
        );
        for var in ALL {
            if let (Kind::Count(_), Some(value)) = (var.kind, var.default_value()) {
                assert_eq!(var.default_count().to_string(), value, "{}", var.name);
            }
        }
        let no_default = std::panic::catch_unwind(|| KAFKA_HOST.default_count());
        assert!(no_default.is_err(), "KAFKA_HOST has no default");
    }
}
