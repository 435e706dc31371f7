//! End-to-end pipeline benchmark (a command, not a timed test): the three RELEASE service
//! binaries STG → DDS → CDM as child processes, on the servers of `scripts/stack`:
//!
//! ```text
//! eval "$(scripts/stack env)"
//! cargo bench -p vault-benches --bench pipeline [-- ORDERS] [--nominal N] [--nominal-per-min R]
//!     [--burst-rate R] [--burst-secs S] [--seed S] [--keep-db] [--replicas N]
//! ```
//!
//! 0. runs `cargo build --release -p vault-services --bins` (a no-op when up to date, so the
//!    binaries measured are never stale) and takes the binaries' paths from cargo's JSON output;
//!    creates a fresh migrated database, unique topics (4 partitions each, DLQs included) and
//!    consumer groups, and writes the simulator's dictionaries into Redis (removed at the end);
//! 1. **backlog**: produces ORDERS orders (default 100,000) as fast as the broker takes them,
//!    *then* starts the services (`--replicas N` of each, default 1; logs kept in `target/bench-pipeline/<run>/`) and measures the drain
//!    time from their start to the moment `cdm.order_ledger` holds every order; per stage
//!    (messages of committed batches from each service's metrics every 500 ms — no load on the
//!    warehouse under test —, the end checked by counting the tables) the average rate over the
//!    stage's active span and the peak rate over 2 s; the machine's CPU by process and the
//!    warehouse's CPU by session (`application_name` = the service) over the drain; where each
//!    service's batch time went (`vault_batch_step_seconds`);
//!    **before** that, the **set-based peer** (`peer.rs`, SQL in `sql/peer/`) loads the same
//!    orders into a database of its own; the report gives peer time / drain time and compares
//!    both warehouses table by table (every key and value; counters above 0);
//! 2. **latency** order-in → counter-visible, per order: the source producer's acknowledgement
//!    (wall clock in the delivery callback) against `cdm.order_ledger.applied_at` (the CDM
//!    transaction's `now()`, same machine clock); also against the moment a 50 ms poll first
//!    sees the ledger row (commit included), and per hop through `stg.order_events.load_dt`
//!    and `dds.h_order.load_dt` (each stage's transaction start). Two windows: N orders
//!    (default 10) at the nominal rate (default 5/min, i.e. ~2 minutes), then a burst (default
//!    500 orders/s for 10 s);
//! 3. peak RSS (VmHWM) and CPU time of each service from `/proc`, the services' own metrics,
//!    `vault_pg::check::cdm_mismatches` (must be empty), a graceful SIGTERM stop;
//!
//! and prints the figures next to the targets (exit status 1 when orders are missing from a
//! layer or the counters differ from their recomputation). The database is dropped at the end (`--keep-db`
//! keeps it for inspection), the dictionary keys are removed from Redis; the topics are deleted.
//!
//! Each phase is a file of `benches/pipeline/`: `prepare.rs` (0, and the peer), `backlog.rs`
//! (1), `latency.rs` (2), `finish.rs` (3) and `report.rs` (the figures next to the targets).
//!
//! The services run as `vault_testkit::pipeline::Pipeline` runs them in the tests (the same
//! supervisor, ports and probes), with the contract's variables only; `BATCH_MAX`,
//! `BATCH_WAIT_MS`, `KAFKA_EXTRA_CONFIG` and `RUST_LOG` set for the bench are passed on (unset,
//! the services' defaults apply). The broker is the local stack's Apache
//! Kafka, which answers a fetch as soon as data arrives (`fetch.min.bytes=1`).
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use chrono::{DateTime, NaiveDateTime, Utc};
use rdkafka::producer::{BaseRecord, DeliveryResult, Producer as _, ProducerContext};
use rdkafka::producer::{NoCustomPartitioner, ThreadedProducer};
use rdkafka::ClientContext;
use uuid::Uuid;
use vault_core::KeySpec;
use vault_kafka::KafkaConfig;
use vault_pg::Warehouse;
use vault_services::exposition;
use vault_services::ops::names;
use vault_services::shutdown::Shutdown;
use vault_services::simulate::{self, Plan, Planned, SimulateOptions};
use vault_testkit::kafka::PARTITIONS;
use vault_testkit::pipeline::{Kind, Pipeline};
use vault_testkit::process::{proc_cpu, Service};
use vault_testkit::{RedisKeys, TestDb};

#[path = "../peer.rs"]
mod peer;
#[path = "../services.rs"]
mod services;

mod backlog;
mod finish;
mod latency;
mod prepare;
mod report;

use backlog::*;
use finish::*;
use latency::*;
use prepare::*;
use report::*;

use services::{bench_pipeline, build_services, seed_or_fresh, warehouse_cpu, BatchProfile};

const SAMPLE: Duration = Duration::from_millis(500);
const POLL: Duration = Duration::from_millis(50);

// Targets.
const DRAIN_TARGET_S: f64 = 60.0;
const DDS_TARGET_RATE: f64 = 5_000.0;
const P99_TARGET_MS: f64 = 1_000.0;
const RSS_TARGET_MIB: f64 = 64.0;

const USAGE: &str = "usage: cargo bench -p vault-benches --bench pipeline -- [ORDERS] \
[--nominal N] [--nominal-per-min R] [--burst-rate R] [--burst-secs S] [--seed S] [--keep-db] \
[--replicas N]";

#[derive(Debug)]
struct Options {
    orders: usize,
    nominal: usize,
    nominal_per_min: f64,
    burst_rate: f64,
    burst_secs: f64,
    seed: u64,
    keep_db: bool,
    replicas: usize,
}

impl Options {
    fn parse() -> Options {
        let mut o = Options {
            orders: 100_000,
            nominal: 10,
            nominal_per_min: 5.0,
            burst_rate: 500.0,
            burst_secs: 10.0,
            seed: 0,
            keep_db: false,
            replicas: 1,
        };
        let mut args = std::env::args().skip(1);
        while let Some(arg) = args.next() {
            let (name, inline) = match arg.split_once('=') {
                Some((n, v)) => (n.to_owned(), Some(v.to_owned())),
                None => (arg.clone(), None),
            };
            let mut value = |what: &str| -> f64 {
                let text = inline.clone().or_else(|| args.next()).unwrap_or_default();
                text.parse()
                    .unwrap_or_else(|_| panic!("{what} needs a number, got {text:?}\n{USAGE}"))
            };
            match name.as_str() {
                "--bench" => {} // passed by `cargo bench`
                "--nominal" => o.nominal = value("--nominal") as usize,
                "--nominal-per-min" => o.nominal_per_min = value("--nominal-per-min"),
                "--burst-rate" => o.burst_rate = value("--burst-rate"),
                "--burst-secs" => o.burst_secs = value("--burst-secs"),
                "--seed" => o.seed = value("--seed") as u64,
                "--replicas" => {
                    o.replicas = (value("--replicas") as usize).clamp(1, PARTITIONS as usize)
                }
                "--keep-db" => o.keep_db = true,
                "-h" | "--help" => {
                    println!("{USAGE}");
                    std::process::exit(0);
                }
                n => match n.parse() {
                    Ok(orders) => o.orders = orders,
                    Err(_) => panic!("unknown argument {n:?}\n{USAGE}"),
                },
            }
        }
        assert!(
            o.nominal_per_min > 0.0 && o.burst_rate > 0.0,
            "rates must be positive"
        );
        o
    }

    fn burst(&self) -> usize {
        (self.burst_rate * self.burst_secs).round() as usize
    }
}

fn main() {
    // Everything is cleaned up when `run` returns (or unwinds); only then exit.
    if !run() {
        std::process::exit(1);
    }
}

/// The benchmark, phase by phase; false when the pipeline lost or miscounted orders.
fn run() -> bool {
    let opts = Options::parse();
    let stop = Shutdown::on_signals().expect("signal handlers");
    build_services();
    let mut bench = Bench::prepare(&opts);
    let peer = bench.peer();
    let mut backlog = bench.backlog(&stop);
    backlog.peer = peer;
    backlog.differing = bench.same_as_peer();
    let after_drain: Vec<ServiceStats> = bench
        .pipeline
        .services
        .iter()
        .map(ServiceStats::read)
        .collect();
    let windows = bench.latency_windows(&opts, &stop);
    let end = bench.finish();
    report(&bench, &opts, &backlog, &after_drain, &windows, &end)
}

pub(crate) fn interrupted(stop: &Shutdown) {
    if stop.requested() {
        panic!("interrupted; cleaning up");
    }
}

pub(crate) fn loadavg() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_default()
}

/// Messages in the committed batches of each stage (STG, DDS, CDM; `vault_batch_size_messages_sum`),
/// summed over its replicas, from the services' metrics; 0 for a service that does not answer.
pub(crate) fn committed(pipeline: &Pipeline) -> [i64; 3] {
    let mut c = [0; 3];
    for service in &pipeline.services {
        let Some(k) = Kind::ALL.iter().position(|&kind| kind == service.kind) else {
            continue;
        };
        let samples = exposition::parse(&service.metrics().unwrap_or_default());
        c[k] += exposition::sum(&samples, names::BATCH_SIZE_SUM).unwrap_or(0.0) as i64;
    }
    c
}

pub(crate) fn counts(client: &mut postgres::Client) -> [i64; 3] {
    let row = client
        .query_one(
            "SELECT (SELECT count(*) FROM stg.order_events), (SELECT count(*) FROM dds.h_order), \
             (SELECT count(*) FROM cdm.order_ledger)",
            &[],
        )
        .expect("count");
    [row.get(0), row.get(1), row.get(2)]
}

pub(crate) fn mib(kib: u64) -> String {
    format!("{:.1} MiB", kib as f64 / 1024.0)
}
