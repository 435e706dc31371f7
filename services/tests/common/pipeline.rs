//! The pipeline as it runs in production: `stg-service`, `dds-service` and `cdm-service` as real
//! processes against the real broker, PostgreSQL and Redis (`scripts/test` exports their
//! settings; without them the tests fail and say so).
//!
//! Everything a test touches is its own: a database ([`TestDb`]), topics with unique names
//! (deleted at the end), consumer groups, HTTP ports. Every child process lives in a guard that
//! kills it when the test ends, also when it fails; every wait is bounded and, when it times
//! out, fails with the tail of each service's log.

use std::collections::BTreeMap;
use std::fs::{self, File, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::message::Message;
use rdkafka::{ClientConfig, Offset, TopicPartitionList};
use vault_kafka::{KafkaConfig, Security};
use vault_services::exposition;

use super::{require_env, unique, TestDb};

/// Partitions of every topic of a test.
pub const PARTITIONS: i32 = 4;

/// How long the pipeline may take to reach an expected state.
pub const SETTLE: Duration = Duration::from_secs(90);

/// The service binaries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// `stg-service`.
    Stg,
    /// `dds-service`.
    Dds,
    /// `cdm-service`.
    Cdm,
}

impl Kind {
    /// The binary built by cargo for this test run.
    pub fn binary(self) -> &'static str {
        match self {
            Kind::Stg => env!("CARGO_BIN_EXE_stg-service"),
            Kind::Dds => env!("CARGO_BIN_EXE_dds-service"),
            Kind::Cdm => env!("CARGO_BIN_EXE_cdm-service"),
        }
    }

    /// `stg`, `dds`, `cdm`.
    pub fn short(self) -> &'static str {
        match self {
            Kind::Stg => "stg",
            Kind::Dds => "dds",
            Kind::Cdm => "cdm",
        }
    }

    /// All three, in pipeline order.
    pub const ALL: [Kind; 3] = [Kind::Stg, Kind::Dds, Kind::Cdm];
}

/// A Kafka cluster the tests talk to: the local stack's (`KAFKA_HOST`/`KAFKA_PORT` of the
/// environment), or one a test started for itself ([`super::stack::KafkaStack`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Broker {
    /// `KAFKA_HOST` as the services get it (one host, or a comma-separated list).
    pub host: String,
    /// `KAFKA_PORT`.
    pub port: u16,
}

impl Broker {
    /// The local stack's broker, from the environment `scripts/test` exports.
    pub fn local() -> Self {
        let port = require_env("KAFKA_PORT");
        Broker {
            host: require_env("KAFKA_HOST"),
            port: port
                .parse()
                .unwrap_or_else(|e| panic!("KAFKA_PORT={port}: {e}")),
        }
    }

    /// `bootstrap.servers`: every host with its port.
    pub fn bootstrap(&self) -> String {
        vault_kafka::config::bootstrap_servers(&self.host, self.port)
            .unwrap_or_else(|e| panic!("KAFKA_HOST={}: {e}", self.host))
    }

    /// Plaintext client settings for this broker.
    pub fn kafka_config(
        &self,
        group: &str,
        source: &str,
        destination: Option<&str>,
    ) -> KafkaConfig {
        KafkaConfig {
            bootstrap: self.bootstrap(),
            security: Security::Plaintext,
            group: group.to_owned(),
            source_topic: source.to_owned(),
            destination_topic: destination.map(str::to_owned),
            dlq_topic: dlq(source),
            instance_id: None,
            extra: Vec::new(),
        }
    }
}

/// The default dead-letter topic of a source topic (docs/contract.md §7.2).
pub fn dlq(topic: &str) -> String {
    format!("{topic}.dlq")
}

/// Every server the tests need, checked up front so that a missing one fails with the hint to
/// run via `scripts/test`.
pub fn require_servers() {
    for name in [
        "KAFKA_HOST",
        "KAFKA_PORT",
        "PG_WAREHOUSE_HOST",
        "PG_WAREHOUSE_PORT",
        "PG_WAREHOUSE_USER",
        "REDIS_HOST",
        "REDIS_PORT",
    ] {
        require_env(name);
    }
}

// ---------------------------------------------------------------------------------------------
// topics

/// The six topics of one test (source, stg→dds, dds→cdm and their `.dlq`), 4 partitions each,
/// deleted when the value goes out of scope.
#[derive(Debug)]
pub struct Topics {
    /// The source system's topic (`order-service_orders`).
    pub source: String,
    /// STG → DDS (`stg-service-orders`).
    pub stg: String,
    /// DDS → CDM (`dds-service-orders`).
    pub dds: String,
    broker: Broker,
}

impl Topics {
    /// Creates them through `vault_kafka::admin::ensure_topics`.
    pub fn create(tag: &str, broker: &Broker) -> Self {
        let base = unique(&format!("e2e_{tag}"));
        let topics = Topics {
            source: format!("{base}.orders"),
            stg: format!("{base}.stg"),
            dds: format!("{base}.dds"),
            broker: broker.clone(),
        };
        let all = topics.all();
        let names: Vec<&str> = all.iter().map(String::as_str).collect();
        let config = broker.kafka_config("e2e-admin", &topics.source, None);
        vault_kafka::admin::ensure_topics(&config, &names, PARTITIONS)
            .unwrap_or_else(|e| panic!("create topics {names:?}: {e}"));
        // The broker may take a moment until every partition has a leader.
        let deadline = Instant::now() + Duration::from_secs(30);
        for topic in &all {
            loop {
                match broker.total_messages(topic) {
                    Ok(_) => break,
                    Err(e) if Instant::now() > deadline => {
                        panic!("topic {topic} not usable after creation: {e}")
                    }
                    Err(_) => std::thread::sleep(Duration::from_millis(200)),
                }
            }
        }
        topics
    }

    /// All six names.
    pub fn all(&self) -> Vec<String> {
        vec![
            self.source.clone(),
            self.stg.clone(),
            self.dds.clone(),
            dlq(&self.source),
            dlq(&self.stg),
            dlq(&self.dds),
        ]
    }
}

impl Drop for Topics {
    fn drop(&mut self) {
        let all = self.all();
        let names: Vec<&str> = all.iter().map(String::as_str).collect();
        let config = self.broker.kafka_config("e2e-admin", &self.source, None);
        if let Err(e) = vault_kafka::admin::delete_topics(&config, &names) {
            eprintln!("could not delete the test topics {names:?}: {e}");
        }
    }
}

/// A message read back from a topic.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    /// Partition.
    pub partition: i32,
    /// Offset.
    pub offset: i64,
    /// Key.
    pub key: Option<Vec<u8>>,
    /// Value.
    pub payload: Vec<u8>,
    /// Headers.
    pub headers: Vec<(String, Vec<u8>)>,
}

impl Record {
    /// A header's value as text.
    pub fn header(&self, name: &str) -> Option<String> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| String::from_utf8_lossy(v).into_owned())
    }
}

impl Broker {
    fn reader(&self) -> Result<BaseConsumer, String> {
        ClientConfig::new()
            .set("bootstrap.servers", self.bootstrap())
            .set("group.id", unique("e2e_reader"))
            .set("enable.auto.commit", "false")
            .set("enable.auto.offset.store", "false")
            .set("enable.partition.eof", "false")
            .set("auto.offset.reset", "earliest")
            .create()
            .map_err(|e| format!("reader: {e}"))
    }

    /// How many messages `topic` holds (Σ high − low watermark over its partitions).
    pub fn total_messages(&self, topic: &str) -> Result<i64, String> {
        let consumer = self.reader()?;
        Ok(watermarks(&consumer, topic)?
            .iter()
            .map(|(low, high)| high - low)
            .sum())
    }

    /// Messages of `topic` that consumer group `group` has not committed yet (Σ over partitions of
    /// high watermark − committed offset; a partition without commit counts from its low mark).
    /// Asks the group coordinator only (OffsetFetch): the group itself is not joined.
    pub fn uncommitted(&self, group: &str, topic: &str) -> Result<i64, String> {
        let consumer: BaseConsumer = ClientConfig::new()
            .set("bootstrap.servers", self.bootstrap())
            .set("group.id", group)
            .set("enable.auto.commit", "false")
            .create()
            .map_err(|e| format!("offsets reader: {e}"))?;
        let marks = watermarks(&consumer, topic)?;
        let mut list = TopicPartitionList::new();
        for partition in 0..PARTITIONS {
            list.add_partition(topic, partition);
        }
        let committed = consumer
            .committed_offsets(list, Duration::from_secs(10))
            .map_err(|e| format!("committed offsets of {group} on {topic}: {e}"))?;
        let mut behind = 0;
        for (partition, &(low, high)) in (0..PARTITIONS).zip(&marks) {
            let at = match committed
                .find_partition(topic, partition)
                .map(|e| e.offset())
            {
                Some(Offset::Offset(offset)) => offset,
                _ => low,
            };
            behind += (high - at).max(0);
        }
        Ok(behind)
    }

    /// Every message of `topic` up to its current end, read with a fresh group (no commits).
    pub fn read_topic(&self, topic: &str) -> Vec<Record> {
        let consumer = self.reader().unwrap_or_else(|e| panic!("{e}"));
        let marks = watermarks(&consumer, topic).unwrap_or_else(|e| panic!("{e}"));
        let mut list = TopicPartitionList::new();
        let mut pending: BTreeMap<i32, i64> = BTreeMap::new();
        for (partition, &(low, high)) in (0..PARTITIONS).zip(&marks) {
            if high > low {
                list.add_partition_offset(topic, partition, Offset::Offset(low))
                    .expect("partition offset");
                pending.insert(partition, high);
            }
        }
        let mut records = Vec::new();
        if pending.is_empty() {
            return records;
        }
        consumer.assign(&list).expect("assign partitions");
        let deadline = Instant::now() + Duration::from_secs(60);
        while !pending.is_empty() {
            assert!(
                Instant::now() < deadline,
                "reading {topic} to its end timed out; still to read: {pending:?} (read {})",
                records.len()
            );
            let Some(result) = consumer.poll(Duration::from_millis(200)) else {
                continue;
            };
            // A broker of the cluster being down is reported as an error, not the end: the
            // client goes on with the others (the deadline above bounds the wait).
            let message = match result {
                Ok(message) => message,
                Err(e) => {
                    eprintln!("reading {topic}: {e} (going on)");
                    continue;
                }
            };
            let partition = message.partition();
            let Some(&high) = pending.get(&partition) else {
                continue;
            };
            if message.offset() >= high {
                pending.remove(&partition);
                continue;
            }
            let m = vault_kafka::InMessage::from_message(&message);
            records.push(Record {
                partition: m.partition,
                offset: m.offset,
                key: m.key,
                payload: m.payload,
                headers: m.headers,
            });
            if message.offset() + 1 >= high {
                pending.remove(&partition);
            }
        }
        records
    }
}

fn watermarks(consumer: &BaseConsumer, topic: &str) -> Result<Vec<(i64, i64)>, String> {
    (0..PARTITIONS)
        .map(|p| {
            consumer
                .fetch_watermarks(topic, p, Duration::from_secs(10))
                .map_err(|e| format!("watermarks of {topic}/{p}: {e}"))
        })
        .collect()
}

// ---------------------------------------------------------------------------------------------
// HTTP

/// A port nothing listens on right now, below the ephemeral range (32768+): a port the kernel
/// handed out with `bind(:0)` can be reused at once as the local port of some client connection
/// (a Kafka or PostgreSQL socket) before the service binds it. Each test process starts from its
/// own offset, so parallel tests rarely try the same ports.
pub fn free_port() -> u16 {
    use std::sync::atomic::{AtomicU16, Ordering};
    static NEXT: AtomicU16 = AtomicU16::new(0);
    let base = 20_000 + (std::process::id() % 500) as u16 * 20;
    for _ in 0..10_000 {
        let offset = NEXT.fetch_add(1, Ordering::Relaxed) % 10_000;
        let port = 20_000 + (base - 20_000 + offset) % 10_000;
        if TcpListener::bind(("127.0.0.1", port)).is_ok()
            && TcpListener::bind(("0.0.0.0", port)).is_ok()
        {
            return port;
        }
    }
    panic!("no free port in 20000..30000")
}

/// `GET path` on `127.0.0.1:port`: status code and body.
pub fn http_get(port: u16, path: &str) -> Result<(u16, String), String> {
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    let mut stream = TcpStream::connect_timeout(&addr, Duration::from_secs(1))
        .map_err(|e| format!("connect {addr}: {e}"))?;
    stream
        .set_read_timeout(Some(Duration::from_secs(3)))
        .and_then(|()| stream.set_write_timeout(Some(Duration::from_secs(3))))
        .map_err(|e| e.to_string())?;
    write!(
        stream,
        "GET {path} HTTP/1.0\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n\r\n"
    )
    .map_err(|e| format!("send GET {path}: {e}"))?;
    let mut response = Vec::new();
    stream
        .read_to_end(&mut response)
        .map_err(|e| format!("read response to GET {path}: {e}"))?;
    let text = String::from_utf8_lossy(&response).into_owned();
    let (head, body) = text
        .split_once("\r\n\r\n")
        .ok_or_else(|| format!("no HTTP header in {text:?}"))?;
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| format!("no status in {head:?}"))?;
    Ok((status, body.to_owned()))
}

/// The sum of metric `name` over its label values (the project's parser,
/// `vault_services::exposition`), `None` if the text has no such sample.
pub fn metric_sum(text: &str, name: &str) -> Option<f64> {
    exposition::sum(&exposition::parse(text), name)
}

/// The samples of metric `name`, by their labels.
pub fn metric_samples(text: &str, name: &str) -> Vec<exposition::Sample> {
    exposition::parse(text)
        .into_iter()
        .filter(|s| s.name == name)
        .collect()
}

// ---------------------------------------------------------------------------------------------
// processes

/// Waits up to `timeout` for `child` to exit.
pub fn wait_timeout(child: &mut Child, timeout: Duration) -> Option<ExitStatus> {
    let deadline = Instant::now() + timeout;
    loop {
        match child.try_wait() {
            Ok(Some(status)) => return Some(status),
            Ok(None) if Instant::now() >= deadline => return None,
            Ok(None) => std::thread::sleep(Duration::from_millis(25)),
            Err(e) => panic!("wait for child {}: {e}", child.id()),
        }
    }
}

/// A child process killed (SIGKILL) and reaped when the guard goes out of scope.
#[derive(Debug)]
pub struct ChildGuard(pub Option<Child>);

impl ChildGuard {
    /// Its process id.
    pub fn id(&self) -> Option<u32> {
        self.0.as_ref().map(Child::id)
    }
}

impl Drop for ChildGuard {
    fn drop(&mut self) {
        if let Some(mut child) = self.0.take() {
            if let Ok(None) = child.try_wait() {
                let _ = child.kill();
            }
            let _ = child.wait();
        }
    }
}

/// The last `lines` lines of a file (lossy UTF-8), at most ~64 KiB read.
pub fn tail(path: &Path, lines: usize) -> String {
    let Ok(mut file) = File::open(path) else {
        return format!("(no log at {})", path.display());
    };
    let len = file.metadata().map(|m| m.len()).unwrap_or(0);
    let start = len.saturating_sub(64 * 1024);
    let mut bytes = Vec::new();
    if file.seek(SeekFrom::Start(start)).is_err() || file.read_to_end(&mut bytes).is_err() {
        return format!("(unreadable log at {})", path.display());
    }
    let text = String::from_utf8_lossy(&bytes);
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}

/// One service replica: its settings, its log file (stdout and stderr of every start, appended)
/// and, while it runs, its process.
#[derive(Debug)]
pub struct Service {
    /// `stg`, `dds-2`, …
    pub name: String,
    /// Which binary.
    pub kind: Kind,
    env: Vec<(String, String)>,
    /// The log of every start.
    pub log: PathBuf,
    /// `HTTP_PORT` of the current (or last) start.
    pub http_port: u16,
    child: ChildGuard,
    /// How many times it was started.
    pub starts: u32,
}

impl Service {
    /// Starts (or restarts) the process on a fresh HTTP port.
    pub fn start(&mut self) {
        assert!(
            self.child.0.is_none(),
            "{} is already running (pid {:?})",
            self.name,
            self.child.id()
        );
        self.starts += 1;
        self.http_port = free_port();
        let mut log = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log)
            .expect("open the service log");
        writeln!(
            log,
            "===== e2e: start #{} of {} on HTTP port {} =====",
            self.starts, self.name, self.http_port
        )
        .expect("write the service log");
        let stderr = log.try_clone().expect("clone the log handle");
        let mut cmd = Command::new(self.kind.binary());
        cmd.env_clear()
            .envs(self.env.iter().map(|(k, v)| (k, v)))
            .env("HTTP_PORT", self.http_port.to_string())
            .stdin(Stdio::null())
            .stdout(log)
            .stderr(stderr);
        let child = cmd
            .spawn()
            .unwrap_or_else(|e| panic!("spawn {}: {e}", self.kind.binary()));
        self.child = ChildGuard(Some(child));
    }

    /// Sets (or with `None` removes) a variable of its environment, for its next start.
    pub fn set_env(&mut self, name: &str, value: Option<&str>) {
        self.env.retain(|(n, _)| n != name);
        if let Some(value) = value {
            self.env.push((name.to_owned(), value.to_owned()));
        }
    }

    /// Its pid while it runs.
    pub fn pid(&self) -> Option<u32> {
        self.child.id()
    }

    /// `Some(status)` if it was started and has exited on its own (the status is kept).
    pub fn exited(&mut self) -> Option<ExitStatus> {
        self.child
            .0
            .as_mut()
            .and_then(|c| c.try_wait().expect("try_wait"))
    }

    /// `Some(status)` once it has exited on its own; the process is reaped and forgotten, so
    /// it can be started again.
    pub fn reap(&mut self) -> Option<ExitStatus> {
        let status = self.exited()?;
        self.child.0 = None;
        Some(status)
    }

    /// SIGTERM (sent with `kill -TERM`), then waits up to `grace` for the exit: the exit status
    /// and how long it took, or `None` if it did not exit in time (it is killed then).
    pub fn terminate(&mut self, grace: Duration) -> Option<(ExitStatus, Duration)> {
        let pid = self.pid().expect("terminate a running service");
        let sent = Instant::now();
        let status = Command::new("kill")
            .args(["-TERM", &pid.to_string()])
            .status()
            .expect("run kill");
        assert!(status.success(), "kill -TERM {pid}: {status}");
        let mut child = self.child.0.take().expect("running");
        let exited = wait_timeout(&mut child, grace).map(|status| (status, sent.elapsed()));
        if exited.is_none() {
            let _ = child.kill();
            let _ = child.wait();
        }
        exited
    }

    /// SIGKILL (a crash) and reap.
    pub fn crash(&mut self) {
        if let Some(mut child) = self.child.0.take() {
            child.kill().expect("kill -KILL");
            child.wait().expect("reap");
        }
    }

    /// `GET path` on its HTTP port.
    pub fn get(&self, path: &str) -> Result<(u16, String), String> {
        http_get(self.http_port, path)
    }

    /// Its `/metrics` text.
    pub fn metrics(&self) -> Result<String, String> {
        match self.get("/metrics")? {
            (200, body) => Ok(body),
            (status, body) => Err(format!("/metrics answered {status}: {body}")),
        }
    }
}

/// One test's pipeline: a database, six topics, the consumer groups and the service replicas.
/// Dropping it kills every process, deletes the topics and drops the database; the logs are
/// removed unless the test is failing (then their directory is printed).
pub struct Pipeline {
    /// The replicas, in the order they were added (dropped, i.e. killed, first).
    pub services: Vec<Service>,
    /// The Kafka cluster of this pipeline.
    pub broker: Broker,
    /// The topics.
    pub topics: Topics,
    /// The database.
    pub db: TestDb,
    /// Where the logs go.
    pub dir: PathBuf,
    tag: String,
    groups: BTreeMap<&'static str, String>,
}

impl std::fmt::Debug for Pipeline {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pipeline")
            .field("db", &self.db.name)
            .field("topics", &self.topics)
            .finish()
    }
}

impl Pipeline {
    /// A database, topics on the local stack's broker and a log directory; no service started.
    pub fn new(tag: &str) -> Self {
        require_servers();
        Self::with_broker(tag, Broker::local())
    }

    /// The same on another Kafka cluster (one a fault test started for itself).
    pub fn with_broker(tag: &str, broker: Broker) -> Self {
        require_servers();
        Self::on_database(tag, broker, TestDb::new(tag))
    }

    /// The same on a database the test prepared (a warehouse of the original services, say).
    pub fn on_database(tag: &str, broker: Broker, db: TestDb) -> Self {
        let topics = Topics::create(tag, &broker);
        let dir = std::env::temp_dir().join(unique(&format!("vault_e2e_{tag}")));
        fs::create_dir_all(&dir).expect("create the log directory");
        let groups = Kind::ALL
            .iter()
            .map(|k| (k.short(), unique(&format!("e2e_{tag}_{}", k.short()))))
            .collect();
        eprintln!(
            "e2e {tag}: database {}, topics {:?}, logs in {}",
            db.name,
            topics.all(),
            dir.display()
        );
        Pipeline {
            services: Vec::new(),
            broker,
            topics,
            db,
            dir,
            tag: tag.to_owned(),
            groups,
        }
    }

    /// The consumer group of a stage.
    pub fn group(&self, kind: Kind) -> &str {
        &self.groups[kind.short()]
    }

    /// The environment of a replica of `kind`: only the variables of docs/contract.md §7.4.
    pub fn service_env(&self, kind: Kind) -> Vec<(String, String)> {
        let mut env: Vec<(String, String)> = std::env::vars()
            .filter(|(name, _)| {
                name.starts_with("PG_WAREHOUSE_")
                    || (kind == Kind::Stg && name.starts_with("REDIS_"))
            })
            .collect();
        env.push(("KAFKA_HOST".to_owned(), self.broker.host.clone()));
        env.push(("KAFKA_PORT".to_owned(), self.broker.port.to_string()));
        let (source, destination) = match kind {
            Kind::Stg => (&self.topics.source, Some(&self.topics.stg)),
            Kind::Dds => (&self.topics.stg, Some(&self.topics.dds)),
            Kind::Cdm => (&self.topics.dds, None),
        };
        env.extend([
            ("PG_WAREHOUSE_DBNAME".to_owned(), self.db.name.clone()),
            (
                "KAFKA_CONSUMER_GROUP".to_owned(),
                self.group(kind).to_owned(),
            ),
            ("KAFKA_SOURCE_TOPIC".to_owned(), source.clone()),
            ("BATCH_MAX".to_owned(), "500".to_owned()),
            ("BATCH_WAIT_MS".to_owned(), "100".to_owned()),
            ("RUST_LOG".to_owned(), "info,librdkafka=warn".to_owned()),
        ]);
        if let Some(destination) = destination {
            env.push(("KAFKA_DESTINATION_TOPIC".to_owned(), destination.clone()));
        }
        env
    }

    /// Adds and starts a replica of `kind`; returns its index in [`Pipeline::services`].
    pub fn spawn(&mut self, kind: Kind) -> usize {
        self.spawn_with(kind, &[])
    }

    /// The same with variables added to its environment.
    pub fn spawn_with(&mut self, kind: Kind, extra: &[(&str, &str)]) -> usize {
        let n = self.services.iter().filter(|s| s.kind == kind).count() + 1;
        let name = format!("{}-{n}", kind.short());
        let mut service = Service {
            log: self.dir.join(format!("{name}.log")),
            name,
            kind,
            env: self.service_env(kind),
            http_port: 0,
            child: ChildGuard(None),
            starts: 0,
        };
        for (name, value) in extra {
            service.set_env(name, Some(value));
        }
        service.start();
        self.services.push(service);
        self.services.len() - 1
    }

    /// One replica of each stage; their indices.
    pub fn spawn_all(&mut self) -> [usize; 3] {
        Kind::ALL.map(|kind| self.spawn(kind))
    }

    /// Fails (with the logs) if a replica that should run has exited.
    pub fn ensure_running(&mut self) {
        let mut dead = Vec::new();
        for service in &mut self.services {
            if let Some(status) = service.exited() {
                dead.push(format!("{} exited unexpectedly: {status}", service.name));
            }
        }
        if !dead.is_empty() {
            panic!("{}\n{}", dead.join("\n"), self.diagnostics());
        }
    }

    /// Polls `check` every 300 ms until it returns `Ok`, for at most `timeout`; fails with the
    /// last complaint and the diagnostics otherwise. Fails at once if a replica died.
    pub fn wait_for<T>(
        &mut self,
        what: &str,
        timeout: Duration,
        mut check: impl FnMut(&mut Self) -> Result<T, String>,
    ) -> T {
        let started = Instant::now();
        loop {
            self.ensure_running();
            let last = match check(self) {
                Ok(value) => {
                    eprintln!(
                        "e2e {}: {what} after {:.1} s",
                        self.tag,
                        started.elapsed().as_secs_f64()
                    );
                    return value;
                }
                Err(why) => why,
            };
            if started.elapsed() >= timeout {
                panic!(
                    "e2e {}: timed out after {timeout:?} waiting for {what}: {last}\n{}",
                    self.tag,
                    self.diagnostics()
                );
            }
            std::thread::sleep(Duration::from_millis(300));
        }
    }

    /// Waits until the replicas `indices` answer `/readyz` with 200.
    pub fn wait_ready(&mut self, indices: &[usize], timeout: Duration) {
        let indices = indices.to_vec();
        self.wait_for("/readyz = 200 on every replica", timeout, |p| {
            let mut not_ready = Vec::new();
            for &i in &indices {
                let service = &p.services[i];
                match service.get("/readyz") {
                    Ok((200, _)) => {}
                    Ok((status, body)) => {
                        not_ready.push(format!("{}: {status} {}", service.name, body.trim()))
                    }
                    Err(e) => not_ready.push(format!("{}: {e}", service.name)),
                }
            }
            if not_ready.is_empty() {
                Ok(())
            } else {
                Err(not_ready.join("; "))
            }
        });
    }

    /// `Ok` once every stage's group has committed its source topic to the end, i.e. nothing
    /// is in flight and nothing will be redelivered.
    pub fn drained(&self) -> Result<(), String> {
        let mut behind = Vec::new();
        for (kind, topic) in [
            (Kind::Stg, &self.topics.source),
            (Kind::Dds, &self.topics.stg),
            (Kind::Cdm, &self.topics.dds),
        ] {
            let n = self.broker.uncommitted(self.group(kind), topic)?;
            if n > 0 {
                behind.push(format!(
                    "{} group: {n} uncommitted on {topic}",
                    kind.short()
                ));
            }
        }
        if behind.is_empty() {
            Ok(())
        } else {
            Err(behind.join("; "))
        }
    }

    /// Waits for `verify` to pass and every stage to be drained, then checks `verify` once
    /// more: the state is final, not a passing moment.
    pub fn settle(&mut self, what: &str, verify: impl FnMut(&Self) -> Result<(), String>) {
        self.settle_within(what, SETTLE, verify);
    }

    /// [`Pipeline::settle`] with another bound.
    pub fn settle_within(
        &mut self,
        what: &str,
        timeout: Duration,
        mut verify: impl FnMut(&Self) -> Result<(), String>,
    ) {
        self.wait_for(what, timeout, |p| verify(p));
        self.wait_for("every stage's offsets committed to the end", timeout, |p| {
            p.drained()
        });
        if let Err(why) = verify(self) {
            panic!(
                "e2e {}: {what} was reached, but after draining: {why}\n{}",
                self.tag,
                self.diagnostics()
            );
        }
    }

    /// What the logs and the warehouse say: for a failure message.
    pub fn diagnostics(&self) -> String {
        let mut text = String::new();
        let count = |sql: &str| -> String {
            self.db
                .warehouse
                .client()
                .map_err(|e| e.to_string())
                .and_then(|mut c| c.query_one(sql, &[]).map_err(|e| e.to_string()))
                .map(|row| row.get::<_, i64>(0).to_string())
                .unwrap_or_else(|e| format!("? ({e})"))
        };
        text.push_str(&format!(
            "--- warehouse {}: stg.order_events {}, dds.h_order {}, cdm.order_ledger {}\n",
            self.db.name,
            count("SELECT count(*) FROM stg.order_events"),
            count("SELECT count(*) FROM dds.h_order"),
            count("SELECT count(*) FROM cdm.order_ledger"),
        ));
        for topic in self.topics.all() {
            let n = self
                .broker
                .total_messages(&topic)
                .map_or_else(|e| format!("? ({e})"), |n| n.to_string());
            text.push_str(&format!("--- topic {topic}: {n} message(s)\n"));
        }
        for service in &self.services {
            text.push_str(&format!(
                "--- {} (pid {:?}, started {}x, log {}), last lines:\n{}\n",
                service.name,
                service.pid(),
                service.starts,
                service.log.display(),
                tail(&service.log, 25)
            ));
        }
        text
    }
}

impl Drop for Pipeline {
    fn drop(&mut self) {
        // Kill every replica before the topics and the database go.
        for service in &mut self.services {
            service.crash();
        }
        if std::thread::panicking() {
            eprintln!(
                "e2e {}: logs kept in {} (test failed)",
                self.tag,
                self.dir.display()
            );
        } else {
            let _ = fs::remove_dir_all(&self.dir);
        }
    }
}
