//! What the pipeline and stages benches share: the release service binaries, built before a
//! run, a run's pipeline (its settings and where its logs go), its seed.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use vault_services::exposition;
use vault_services::ops::{names, Step};
use vault_testkit::pipeline::{Kind, Pipeline};
use vault_testkit::process::{proc_cpu, Service};

/// The settings of the bench's environment passed on to the services.
const PASSED_ON: [&str; 4] = [
    "BATCH_MAX",
    "BATCH_WAIT_MS",
    "KAFKA_EXTRA_CONFIG",
    "RUST_LOG",
];

/// A run's pipeline (database, topics; no service yet) that passes [`PASSED_ON`] on to the
/// services and keeps their logs in `<target>/bench-pipeline/<run>/`; and the run's name.
pub(crate) fn bench_pipeline(tag: &str, keep_db: bool) -> (Pipeline, String) {
    let mut pipeline = Pipeline::new(tag);
    pipeline.inherit_settings(&PASSED_ON);
    if keep_db {
        pipeline.db.keep();
    }
    let run = pipeline
        .db
        .name
        .trim_start_matches("vault_test_")
        .to_owned();
    pipeline.keep_logs_in(log_root().join(&run));
    (pipeline, run)
}

/// `--seed`, or a fresh one when it is 0.
pub(crate) fn seed_or_fresh(seed: u64) -> u64 {
    if seed == 0 {
        vault_testkit::seed()
    } else {
        seed
    }
}

/// `cargo build --release -p vault-services --bins` (a no-op when up to date, so that the
/// binaries measured are never stale), checked against where the pipeline takes them from
/// (`vault_testkit::pipeline::Kind::binary`, beside this bench in `target/release`).
pub(crate) fn build_services() {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let root = Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("workspace root");
    println!(
        "building the release service binaries (cargo build --release -p vault-services --bins) …"
    );
    let output = Command::new(cargo)
        .current_dir(root)
        .args([
            "build",
            "--release",
            "-p",
            "vault-services",
            "--bins",
            "--message-format=json-render-diagnostics",
        ])
        .stderr(Stdio::inherit())
        .output()
        .expect("run cargo");
    assert!(output.status.success(), "cargo build --release failed");
    let mut built: HashMap<String, PathBuf> = HashMap::new();
    for line in output.stdout.split(|b| *b == b'\n') {
        let Ok(message) = serde_json::from_slice::<serde_json::Value>(line) else {
            continue;
        };
        if message["reason"] != "compiler-artifact" {
            continue;
        }
        if let (Some(name), Some(exe)) = (
            message["target"]["name"].as_str(),
            message["executable"].as_str(),
        ) {
            built.insert(name.to_owned(), PathBuf::from(exe));
        }
    }
    for kind in Kind::ALL {
        let reported = built
            .get(kind.name())
            .unwrap_or_else(|| panic!("cargo did not report the {} binary", kind.name()));
        let used = kind.binary();
        assert_eq!(
            std::fs::canonicalize(reported).ok(),
            std::fs::canonicalize(&used).ok(),
            "cargo built {} at {}, but the pipeline would run {}",
            kind.name(),
            reported.display(),
            used.display()
        );
    }
}

/// `<target>/bench-pipeline`, beside the release binaries.
pub(crate) fn log_root() -> PathBuf {
    Kind::Stg
        .binary()
        .parent()
        .and_then(Path::parent)
        .map_or_else(|| PathBuf::from("."), Path::to_path_buf)
        .join("bench-pipeline")
}

/// What a service's metrics say about its committed batches.
#[derive(Debug, Clone, Default)]
pub(crate) struct BatchProfile {
    /// Messages through committed batches (`vault_batch_size_messages_sum`).
    pub(crate) messages: f64,
    /// Committed batches.
    pub(crate) batches: f64,
    /// Seconds inside batches, transaction to offset commit (the sum of the steps).
    pub(crate) seconds: f64,
    /// Seconds spent in each batch step (`vault_batch_step_seconds_sum`), in `Step::ALL` order.
    pub(crate) steps: Vec<(&'static str, f64)>,
}

impl BatchProfile {
    /// Read from `service`'s `/metrics` (all zero when it does not answer).
    pub(crate) fn read(service: &Service) -> Self {
        let metrics = service.metrics().unwrap_or_default();
        let samples = exposition::parse(&metrics);
        let sum = |name: &str| -> f64 { exposition::sum(&samples, name).unwrap_or(0.0) };
        let step_sum = format!("{}_sum", names::BATCH_STEP);
        BatchProfile {
            messages: sum(names::BATCH_SIZE_SUM),
            batches: sum(names::BATCH_SIZE_COUNT),
            seconds: sum(&format!("{}_sum", names::BATCH_DURATION)),
            steps: Step::ALL
                .iter()
                .map(|step| {
                    let spent = samples
                        .iter()
                        .filter(|x| x.name == step_sum && x.label("step") == Some(step.as_str()))
                        .map(|x| x.value)
                        .sum();
                    (step.as_str(), spent)
                })
                .collect(),
        }
    }

    /// The profile of several replicas together (their sums).
    #[allow(
        dead_code,
        reason = "the stages bench sums replicas; the pipeline bench runs one each"
    )]
    pub(crate) fn sum(profiles: &[BatchProfile]) -> Self {
        let mut total = BatchProfile::default();
        for p in profiles {
            total.messages += p.messages;
            total.batches += p.batches;
            total.seconds += p.seconds;
            if total.steps.is_empty() {
                total.steps = p.steps.clone();
            } else {
                for (t, (_, spent)) in total.steps.iter_mut().zip(&p.steps) {
                    t.1 += spent;
                }
            }
        }
        total
    }

    /// The header of [`BatchProfile::row`]: one column per step, then the total.
    pub(crate) fn header() -> String {
        let mut line = format!("{:<12} {:>7}", "", "msgs");
        for step in Step::ALL {
            line.push_str(&format!(" {:>9}", step.as_str()));
        }
        line.push_str(&format!(" {:>9}", "total"));
        line
    }

    /// `name`, the mean batch size and the mean ms per batch of each step and in all.
    pub(crate) fn row(&self, name: &str) -> String {
        let batches = self.batches.max(1.0);
        let mut line = format!("{name:<12} {:>7.0}", self.messages / batches);
        for (_, spent) in &self.steps {
            line.push_str(&format!(" {:>9.1}", 1000.0 * spent / batches));
        }
        line.push_str(&format!(" {:>9.1}", 1000.0 * self.seconds / batches));
        line
    }
}

/// CPU seconds of the warehouse's server processes by their `application_name` (the services
/// name their sessions), read from `/proc` at the end of the drain: every session was opened
/// when its service started.
pub(crate) fn warehouse_cpu(client: &mut postgres::Client) -> Vec<(String, f64)> {
    let rows = client
        .query(
            "SELECT pid, application_name FROM pg_stat_activity WHERE datname = current_database()",
            &[],
        )
        .expect("pg_stat_activity");
    let mut by: HashMap<String, f64> = HashMap::new();
    for row in rows {
        let pid: i32 = row.get(0);
        let name: String = row.get(1);
        let seconds = u32::try_from(pid)
            .ok()
            .and_then(proc_cpu)
            .map_or(0.0, |(_, seconds)| seconds);
        let name = if name.is_empty() {
            "(other)".into()
        } else {
            name
        };
        *by.entry(name).or_default() += seconds;
    }
    let mut by: Vec<(String, f64)> = by.into_iter().collect();
    by.sort_by(|a, b| b.1.total_cmp(&a.1));
    by
}
