//! A Kafka cluster of a test's own, for the tests that crash, stop or freeze brokers: started by
//! `scripts/stack up kafka` in a directory and on ports of its own (1 or 3 nodes), so that the
//! faults never touch the broker the other tests share. Dropping it thaws and stops every node
//! and deletes its data.
//!
//! Likewise a PostgreSQL primary with a streaming standby ([`PgPair`]: `scripts/stack up
//! postgres` and `standby-up`), for the tests that stop the primary and promote the standby.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use rdkafka::consumer::{BaseConsumer, Consumer};

use crate::kafka::Broker;
use crate::unique;

/// `scripts/stack` of this repository.
fn script() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("..")
        .join("scripts")
        .join("stack")
}

/// A Kafka cluster started for one test.
#[derive(Debug)]
pub struct KafkaStack {
    dir: PathBuf,
    /// Its nodes: 1..=brokers.
    pub brokers: u8,
    /// Client port of node 1 (node N: `port + N - 1`).
    pub port: u16,
}

impl KafkaStack {
    /// Starts a cluster of `brokers` nodes (1 or 3) and waits until every node is registered.
    pub fn start(brokers: u8) -> Self {
        let dir = std::env::temp_dir().join(unique("vault_kafka_stack"));
        let base = crate::ports::free_block(8);
        let stack = KafkaStack {
            dir,
            brokers,
            port: base,
        };
        // A cluster id that starts with '-' (one in 64 random ones) once failed to format: the
        // storage tool read it as an option. Every test stack starts from such an id, as a
        // stack directory written by an older scripts/stack would.
        let kafka_dir = stack.dir.join("kafka");
        std::fs::create_dir_all(&kafka_dir).expect("create the test stack's kafka directory");
        std::fs::write(kafka_dir.join("cluster.id"), "-RspnuwEuYclzSkmq6yElA")
            .expect("seed the test stack's cluster id");
        let started = Instant::now();
        let output = stack
            .command(&["up", "kafka"])
            .env("VAULT_KAFKA_BROKERS", brokers.to_string())
            .env("VAULT_KAFKA_PORT", base.to_string())
            .env("VAULT_KAFKA_CONTROLLER_PORT", (base + 4).to_string())
            .output()
            .expect("run scripts/stack up kafka");
        assert!(
            output.status.success(),
            "scripts/stack up kafka ({brokers} node(s), ports from {base}) failed:\n{}",
            String::from_utf8_lossy(&output.stderr)
        );
        eprintln!(
            "kafka stack: {brokers} node(s) on 127.0.0.1:{base}.. up in {:.1} s ({})",
            started.elapsed().as_secs_f64(),
            stack.dir.display()
        );
        stack
    }

    fn command(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new(script());
        // The settings of the shared stack (exported by scripts/test) are not this stack's.
        for (name, _) in std::env::vars().filter(|(n, _)| n.starts_with("VAULT_")) {
            cmd.env_remove(name);
        }
        cmd.args(args).env("VAULT_STACK_DIR", &self.dir);
        // Its Kafka admin (`vault admin`): the vault binary cargo built for the running tests,
        // when there is one (else scripts/stack's release build).
        let vault = crate::process::profile_dir().join("vault");
        if vault.is_file() {
            cmd.env("VAULT_BIN", vault);
        }
        cmd
    }

    /// Runs `scripts/stack VERB-broker N`; fails the test when it fails.
    fn broker_verb(&self, verb: &str, node: u8) {
        let started = Instant::now();
        let output = self
            .command(&[&format!("{verb}-broker"), &node.to_string()])
            .output()
            .expect("run scripts/stack");
        assert!(
            output.status.success(),
            "scripts/stack {verb}-broker {node} failed:\n{}",
            String::from_utf8_lossy(&output.stderr)
        );
        eprintln!(
            "kafka stack: {verb}-broker {node} done in {:.1} s",
            started.elapsed().as_secs_f64()
        );
    }

    /// SIGKILL node `node` (a crash).
    pub fn kill(&self, node: u8) {
        self.broker_verb("kill", node);
    }

    /// Starts node `node` again and waits for its port.
    pub fn start_node(&self, node: u8) {
        self.broker_verb("start", node);
    }

    /// SIGSTOP node `node`: it accepts connections and answers nothing.
    pub fn freeze(&self, node: u8) {
        self.broker_verb("freeze", node);
    }

    /// SIGCONT node `node`.
    pub fn thaw(&self, node: u8) {
        self.broker_verb("thaw", node);
    }

    /// The cluster as the services and the test's clients see it.
    pub fn broker(&self) -> Broker {
        if self.brokers == 1 {
            return Broker {
                host: "127.0.0.1".into(),
                port: self.port,
                security: vault_kafka::Security::Plaintext,
            };
        }
        let hosts: Vec<String> = (0..u16::from(self.brokers))
            .map(|i| format!("127.0.0.1:{}", self.port + i))
            .collect();
        Broker {
            host: hosts.join(","),
            port: self.port,
            security: vault_kafka::Security::Plaintext,
        }
    }

    /// The node that leads the most partitions of `topics`, and how many it leads.
    pub fn busiest_leader(&self, topics: &[String]) -> (u8, usize) {
        let consumer: BaseConsumer = self
            .broker()
            .client_config()
            .create()
            .expect("a metadata client");
        let mut led = vec![0usize; usize::from(self.brokers) + 1];
        for topic in topics {
            let metadata = consumer
                .fetch_metadata(Some(topic), Duration::from_secs(10))
                .unwrap_or_else(|e| panic!("metadata of {topic}: {e}"));
            for t in metadata.topics() {
                for p in t.partitions() {
                    if let Some(slot) = usize::try_from(p.leader())
                        .ok()
                        .and_then(|l| led.get_mut(l))
                    {
                        *slot += 1;
                    }
                }
            }
        }
        let (node, count) = led
            .iter()
            .enumerate()
            .skip(1)
            .max_by_key(|(_, n)| **n)
            .expect("at least one node");
        (node as u8, *count)
    }
}

impl Drop for KafkaStack {
    fn drop(&mut self) {
        for node in 1..=self.brokers {
            let _ = self.command(&["thaw-broker", &node.to_string()]).output();
        }
        // A failing test keeps the brokers' logs and data for a look.
        let args: &[&str] = if std::thread::panicking() {
            eprintln!("kafka stack kept for inspection in {}", self.dir.display());
            &["down"]
        } else {
            &["down", "--purge"]
        };
        match self.command(args).output() {
            Ok(out) if out.status.success() => {}
            Ok(out) => eprintln!(
                "scripts/stack down ({}) failed: {}",
                self.dir.display(),
                String::from_utf8_lossy(&out.stderr)
            ),
            Err(e) => eprintln!("scripts/stack down: {e}"),
        }
    }
}

/// A PostgreSQL primary and its streaming standby (`pg_basebackup -R`), started for one test by
/// `scripts/stack up postgres` and `scripts/stack standby-up` in a directory and on ports of
/// their own. Dropping it stops both and deletes their data.
#[derive(Debug)]
pub struct PgPair {
    dir: PathBuf,
    /// The primary's port.
    pub primary: u16,
    /// The standby's port.
    pub standby: u16,
}

impl PgPair {
    /// Starts the primary, then the standby from a base backup of it.
    pub fn start() -> Self {
        let base = crate::ports::free_block(2);
        let pair = PgPair {
            dir: std::env::temp_dir().join(unique("vault_pg_pair")),
            primary: base,
            standby: base + 1,
        };
        let started = Instant::now();
        pair.run(&["up", "postgres"]);
        pair.run(&["standby-up"]);
        eprintln!(
            "pg pair: primary on 127.0.0.1:{}, standby on 127.0.0.1:{}, up in {:.1} s ({})",
            pair.primary,
            pair.standby,
            started.elapsed().as_secs_f64(),
            pair.dir.display()
        );
        pair
    }

    fn command(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new(script());
        for (name, _) in std::env::vars().filter(|(n, _)| n.starts_with("VAULT_")) {
            cmd.env_remove(name);
        }
        cmd.args(args)
            .env("VAULT_STACK_DIR", &self.dir)
            .env("VAULT_PG_PORT", self.primary.to_string())
            .env("VAULT_PG_STANDBY_PORT", self.standby.to_string());
        cmd
    }

    /// Runs `scripts/stack ARGS…`; fails the test when it fails.
    fn run(&self, args: &[&str]) {
        let started = Instant::now();
        let output = self.command(args).output().expect("run scripts/stack");
        assert!(
            output.status.success(),
            "scripts/stack {} ({}) failed:\n{}",
            args.join(" "),
            self.dir.display(),
            String::from_utf8_lossy(&output.stderr)
        );
        eprintln!(
            "pg pair: {} done in {:.2} s",
            args.join(" "),
            started.elapsed().as_secs_f64()
        );
    }

    /// `PG_WAREHOUSE_HOST` for both: the primary first.
    pub fn hosts(&self) -> String {
        format!("127.0.0.1:{},127.0.0.1:{}", self.primary, self.standby)
    }

    /// The test environment's settings (user, password, database `vault`) on both hosts, for a
    /// server that takes writes.
    pub fn config(&self) -> vault_pg::PgConfig {
        let mut config = crate::pg_config();
        config.hosts = vec![
            ("127.0.0.1".to_owned(), self.primary),
            ("127.0.0.1".to_owned(), self.standby),
        ];
        config.target_session_attrs = vault_pg::config::SessionAttrs::ReadWrite;
        config
    }

    /// Stops the primary (a fast shutdown: its sessions are cut; it sends the standby what it
    /// has before it exits).
    pub fn stop_primary(&self) {
        self.run(&["stop-primary"]);
    }

    /// Promotes the standby; it takes writes when this returns.
    pub fn promote_standby(&self) {
        self.run(&["promote-standby"]);
    }
}

impl Drop for PgPair {
    fn drop(&mut self) {
        let args: &[&str] = if std::thread::panicking() {
            eprintln!("pg pair kept for inspection in {}", self.dir.display());
            &["down"]
        } else {
            &["down", "--purge"]
        };
        match self.command(args).output() {
            Ok(out) if out.status.success() => {}
            Ok(out) => eprintln!(
                "scripts/stack down ({}) failed: {}",
                self.dir.display(),
                String::from_utf8_lossy(&out.stderr)
            ),
            Err(e) => eprintln!("scripts/stack down: {e}"),
        }
    }
}
