//! The pipeline as it runs in production: `stg-service`, `dds-service` and `cdm-service` as real
//! processes against the real broker, PostgreSQL and Redis (`scripts/test` exports their
//! settings; without them the tests fail and say so).
//!
//! Everything a test touches is its own: a database ([`TestDb`]), topics with unique names
//! (deleted at the end), consumer groups, HTTP ports. Every child process lives in a guard that
//! kills it when the test ends, also when it fails; every wait is bounded and, when it times
//! out, fails with the tail of each service's log.

use std::collections::BTreeMap;
use std::fs;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use vault_core::pipeline::stages::{self, StageDef};
use vault_core::pipeline::vars;

use crate::kafka::{Broker, Topics};
use crate::process::{tail, Service};
use crate::{require_servers, unique, TestDb};

/// How long the pipeline may take to reach an expected state.
pub const SETTLE: Duration = Duration::from_secs(90);

/// The service binaries: the stages of `vault_core::pipeline::stages`, whose names they take.
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
    /// Its declaration.
    pub fn stage(self) -> &'static StageDef {
        match self {
            Kind::Stg => &stages::STG,
            Kind::Dds => &stages::DDS,
            Kind::Cdm => &stages::CDM,
        }
    }

    /// The binary's name: `stg-service`, `dds-service`, `cdm-service`.
    pub fn name(self) -> &'static str {
        self.stage().service
    }

    /// The binary cargo built for the running test or bench: `VAULT_SERVICE_BINARIES/<name>`
    /// when that directory is set, else beside the running executable's `deps/` directory
    /// (`target/<profile>/<name>`: cargo builds a package's binaries before its integration
    /// tests; the pipeline bench runs `cargo build --release` first). Fails when it is missing.
    pub fn binary(self) -> PathBuf {
        let dir = match std::env::var_os("VAULT_SERVICE_BINARIES") {
            Some(dir) => PathBuf::from(dir),
            None => crate::process::profile_dir(),
        };
        let path = dir.join(self.name());
        assert!(
            path.is_file(),
            "{} is not built ({}): run the tests of vault-services (cargo builds its binaries \
             first), or set VAULT_SERVICE_BINARIES",
            self.name(),
            path.display()
        );
        path
    }

    /// `stg`, `dds`, `cdm`.
    pub fn short(self) -> &'static str {
        self.stage().key
    }

    /// All three, in pipeline order (the declarations' order: a test holds them equal).
    pub const ALL: [Kind; 3] = [Kind::Stg, Kind::Dds, Kind::Cdm];

    /// Its place in the pipeline (0 for the first stage).
    fn position(self) -> usize {
        Kind::ALL
            .iter()
            .position(|k| *k == self)
            .unwrap_or_default()
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
    /// Keep the logs also when the run succeeds (a bench's).
    pub keep_logs: bool,
    tag: String,
    groups: BTreeMap<&'static str, String>,
    settings: Vec<(String, String)>,
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
            keep_logs: false,
            tag: tag.to_owned(),
            groups,
            settings: [
                ("BATCH_MAX", "500"),
                ("BATCH_WAIT_MS", "100"),
                ("RUST_LOG", "info,librdkafka=warn"),
            ]
            .map(|(n, v)| (n.to_owned(), v.to_owned()))
            .to_vec(),
        }
    }

    /// Writes the logs of the replicas started from now on to `dir` (created), and keeps them
    /// at the end: a bench's logs, for a look after the run.
    pub fn keep_logs_in(&mut self, dir: PathBuf) {
        fs::create_dir_all(&dir).expect("create the log directory");
        if self.services.is_empty() {
            let _ = fs::remove_dir(&self.dir);
        }
        self.dir = dir;
        self.keep_logs = true;
    }

    /// Sets (or with `None` removes) a setting every replica started from now on gets. The
    /// tests' defaults are `BATCH_MAX=500`, `BATCH_WAIT_MS=100`, `RUST_LOG=info,librdkafka=warn`;
    /// a removed one takes the service's own default.
    pub fn set_setting(&mut self, name: &str, value: Option<&str>) {
        self.settings.retain(|(n, _)| n != name);
        if let Some(value) = value {
            self.settings.push((name.to_owned(), value.to_owned()));
        }
    }

    /// Takes each of `names` from this process's environment when set there, else removes it
    /// (the service's default applies): a bench passes on what it was run with.
    pub fn inherit_settings(&mut self, names: &[&str]) {
        for name in names {
            let value = std::env::var(name).ok();
            self.set_setting(name, value.as_deref());
        }
    }

    /// The consumer group of a stage.
    pub fn group(&self, kind: Kind) -> &str {
        &self.groups[kind.short()]
    }

    /// The topics a replica of `kind` consumes and produces to: this test's own, in the places
    /// of the deployed pipeline's (each stage consumes what the one before produces; the last
    /// produces nothing).
    pub fn stage_topics(&self, kind: Kind) -> (&str, Option<&str>) {
        let chain = [&self.topics.source, &self.topics.stg, &self.topics.dds];
        let at = kind.position();
        let destination = chain
            .get(at + 1)
            .filter(|_| kind.stage().produces())
            .map(|t| t.as_str());
        (chain[at].as_str(), destination)
    }

    /// The environment of a replica of `kind`: only the variables of docs/contract.md §7.4.
    pub fn service_env(&self, kind: Kind) -> Vec<(String, String)> {
        let mut env: Vec<(String, String)> = std::env::vars()
            .filter(|(name, _)| {
                name.starts_with("PG_WAREHOUSE_")
                    || (name.starts_with("REDIS_")
                        && vars::REDIS_HOST.read_by.contains(&kind.stage().binary))
            })
            .collect();
        env.push(("KAFKA_HOST".to_owned(), self.broker.host.clone()));
        env.push(("KAFKA_PORT".to_owned(), self.broker.port.to_string()));
        if let vault_kafka::Security::SaslSsl {
            username,
            password,
            ca_file,
        } = &self.broker.security
        {
            // The stack's TLS profile has a SCRAM user per service (scripts/stack env:
            // VAULT_STACK_KAFKA_<STG|DDS|CDM>_PASSWORD); without it, the test's own user.
            let own = format!("VAULT_STACK_KAFKA_{}_PASSWORD", kind.short().to_uppercase());
            let (user, password) = match std::env::var(&own) {
                Ok(own) if !own.is_empty() => (kind.name().to_owned(), own),
                _ => (username.clone(), password.clone()),
            };
            env.extend([
                ("KAFKA_CONSUMER_USERNAME".to_owned(), user),
                ("KAFKA_CONSUMER_PASSWORD".to_owned(), password),
                ("KAFKA_CA_FILE".to_owned(), ca_file.clone()),
            ]);
        }
        let (source, destination) = self.stage_topics(kind);
        env.extend([
            ("PG_WAREHOUSE_DBNAME".to_owned(), self.db.name.clone()),
            (
                "KAFKA_CONSUMER_GROUP".to_owned(),
                self.group(kind).to_owned(),
            ),
            ("KAFKA_SOURCE_TOPIC".to_owned(), source.to_owned()),
        ]);
        env.extend(self.settings.iter().cloned());
        if let Some(destination) = destination {
            env.push(("KAFKA_DESTINATION_TOPIC".to_owned(), destination.to_owned()));
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
        let log = self.dir.join(format!("{name}.log"));
        let mut service = Service::new(name, kind, self.service_env(kind), log);
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

    /// SIGTERM to every running replica at once, then a wait of up to `grace` for each: per
    /// replica, its exit status and the time from the signal, or `None` (killed after `grace`).
    pub fn terminate_all(
        &mut self,
        grace: Duration,
    ) -> Vec<Option<(std::process::ExitStatus, Duration)>> {
        let sent = Instant::now();
        for service in &self.services {
            service.send_term();
        }
        self.services
            .iter_mut()
            .map(|service| service.wait_exit(sent, grace))
            .collect()
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
        for kind in Kind::ALL {
            let (topic, _) = self.stage_topics(kind);
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
        if std::thread::panicking() || self.keep_logs {
            eprintln!("e2e {}: logs kept in {}", self.tag, self.dir.display());
        } else {
            let _ = fs::remove_dir_all(&self.dir);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `Kind` is the declared stages, in their order.
    #[test]
    fn kinds_are_the_declared_stages() {
        assert_eq!(Kind::ALL.map(|k| *k.stage()), stages::ALL);
    }
}
