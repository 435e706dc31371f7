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

mod peer;
mod services;

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

/// What a run works on: the pipeline (database, topics, groups, the services once started),
/// the simulator's plan split into the three phases' orders, and the dictionaries in Redis.
struct Bench {
    pipeline: Pipeline,
    plan: Plan,
    orders: usize,
    nominal: usize,
    /// Replicas of each service.
    replicas: usize,
    source: KafkaConfig,
    _dictionaries: RedisKeys,
    /// The peer's own warehouse.
    peer_db: TestDb,
}

/// The backlog phase's figures.
struct Backlog {
    sent: usize,
    produce_time: Duration,
    drain: Option<Drain>,
    /// The set-based peer on the same orders (run before the services start).
    peer: Option<peer::PeerRun>,
    /// Tables in which the pipeline's warehouse differs from the peer's, after the drain.
    differing: Option<Vec<String>>,
}

/// The end of a run: each service's figures, the rows in every layer, the counters' check and
/// how each service stopped.
struct End {
    stats: Vec<ServiceStats>,
    counts: [i64; 3],
    mismatches: Vec<vault_pg::check::Mismatch>,
    stopped: Vec<String>,
}

impl Bench {
    /// Phase 0: the pipeline without services, the plan, the dictionaries.
    fn prepare(opts: &Options) -> Bench {
        let seed = seed_or_fresh(opts.seed);
        let (pipeline, run) = bench_pipeline("bench", opts.keep_db);
        let total = opts.orders + opts.nominal + opts.burst();
        let plan = simulate::plan(&SimulateOptions {
            seed,
            orders: total,
            ..SimulateOptions::default()
        });
        assert_eq!(
            plan.messages.len(),
            total,
            "one message per order (no duplicates, no garbage)"
        );
        let mut dictionaries = RedisKeys::new();
        dictionaries.load_catalog(&plan.catalog);
        let source = pipeline
            .broker
            .kafka_config("bench-source", &pipeline.topics.source, None);
        let setting = |name: &str, default: &str| {
            std::env::var(name).unwrap_or_else(|_| format!("{default} (default)"))
        };
        println!(
            "pipeline benchmark, run {run}: {} backlog orders, {} at {}/min, {} at {}/s; seed {seed}",
            opts.orders,
            opts.nominal,
            opts.nominal_per_min,
            opts.burst(),
            opts.burst_rate
        );
        println!(
            "BATCH_MAX={} BATCH_WAIT_MS={} KAFKA_EXTRA_CONFIG={:?}, {PARTITIONS} partitions, \
             database {}, load average {}",
            setting("BATCH_MAX", "1000"),
            setting("BATCH_WAIT_MS", "200"),
            std::env::var("KAFKA_EXTRA_CONFIG").unwrap_or_default(),
            pipeline.db.name,
            loadavg()
        );
        Bench {
            pipeline,
            plan,
            orders: opts.orders,
            nominal: opts.nominal,
            replicas: opts.replicas,
            source,
            _dictionaries: dictionaries,
            peer_db: TestDb::new("bench_peer"),
        }
    }

    /// The set-based peer on the backlog's orders, enriched as STG enriches them.
    fn peer(&mut self) -> Option<peer::PeerRun> {
        if self.orders == 0 {
            return None;
        }
        let enriched: Vec<Vec<u8>> = self.plan.messages[..self.orders]
            .iter()
            .map(|m| match m {
                Planned::Order(o) => self
                    .plan
                    .catalog
                    .enrich(o)
                    .expect("the plan's orders enrich")
                    .to_json()
                    .expect("encode"),
                _ => unreachable!("the bench plans valid orders only"),
            })
            .collect();
        println!(
            "peer: COPY {} enriched orders, INSERT … SELECT per table, GROUP BY datamarts …",
            enriched.len()
        );
        let run = peer::run(&self.peer_db, &enriched);
        println!(
            "peer: {:.1} s (COPY {:.1} s, Data Vault {:.1} s, datamarts {:.1} s)",
            run.total().as_secs_f64(),
            run.copy.as_secs_f64(),
            run.vault.as_secs_f64(),
            run.marts.as_secs_f64()
        );
        Some(run)
    }

    /// After the drain: whether the pipeline's warehouse holds what the peer's does, table by
    /// table (`None` without a backlog).
    fn same_as_peer(&self) -> Option<Vec<String>> {
        if self.orders == 0 {
            return None;
        }
        let ours = peer::fingerprint(&mut self.pipeline.db.client());
        let theirs = peer::fingerprint(&mut self.peer_db.client());
        Some(
            ours.iter()
                .zip(&theirs)
                .filter(|(a, b)| a != b)
                .map(|(a, b)| {
                    format!(
                        "{}: pipeline {} rows, peer {} rows (or other values)",
                        a.0, a.1, b.1
                    )
                })
                .collect(),
        )
    }

    fn total(&self) -> usize {
        self.plan.messages.len()
    }

    /// Phase 1: the backlog produced before the services start, then drained.
    fn backlog(&mut self, stop: &Shutdown) -> Backlog {
        let backlog = &self.plan.messages[..self.orders];
        let producer = vault_kafka::Producer::new(&self.source).expect("producer");
        let t = Instant::now();
        let sent = simulate::produce(
            &producer,
            &self.pipeline.topics.source,
            backlog,
            None,
            stop,
            |_| {},
        )
        .expect("produce the backlog");
        let produce_time = t.elapsed();
        interrupted(stop);
        assert_eq!(sent, backlog.len());
        println!(
            "backlog: {sent} orders produced in {produce_time:.2?} ({:.0}/s)",
            sent as f64 / produce_time.as_secs_f64()
        );
        println!(
            "starting the services (logs in {})",
            self.pipeline.dir.display()
        );
        let ids = self.pipeline.spawn_all();
        for _ in 1..self.replicas {
            self.pipeline.spawn_all();
        }
        let drain = drain(&mut self.pipeline, self.orders as i64, stop);
        if self.orders == 0 {
            self.pipeline.wait_ready(&ids, Duration::from_secs(120));
        }
        Backlog {
            sent,
            produce_time,
            drain,
            peer: None,
            differing: None,
        }
    }

    /// Phase 2: latency at the nominal rate, then in a burst.
    fn latency_windows(&mut self, opts: &Options, stop: &Shutdown) -> [Option<Window>; 2] {
        let acker = Acker::new(&self.source);
        let rest = &self.plan.messages[self.orders..];
        let (nominal, burst) = rest.split_at(self.nominal);
        let topic = self.pipeline.topics.source.clone();
        let nominal = latency(
            &format!(
                "nominal: {} orders at {}/min",
                nominal.len(),
                opts.nominal_per_min
            ),
            nominal,
            opts.nominal_per_min / 60.0,
            &topic,
            &acker,
            &mut self.pipeline,
            stop,
        );
        let burst = latency(
            &format!("burst: {} orders at {}/s", burst.len(), opts.burst_rate),
            burst,
            opts.burst_rate,
            &topic,
            &acker,
            &mut self.pipeline,
            stop,
        );
        [nominal, burst]
    }

    /// Phase 3: resources, checks, a graceful stop.
    fn finish(&mut self) -> End {
        let stats = self
            .pipeline
            .services
            .iter()
            .map(ServiceStats::read)
            .collect();
        let mut client = self.pipeline.db.client();
        let counts = counts(&mut client);
        let mismatches = vault_pg::check::cdm_mismatches(&mut *client).expect("check");
        let stopped = self
            .pipeline
            .terminate_all(Duration::from_secs(30))
            .into_iter()
            .map(|exit| match exit {
                Some((status, took)) if status.success() => format!("{:.1} s", took.as_secs_f64()),
                Some((status, _)) => status.to_string(),
                None => "killed after 30 s".to_owned(),
            })
            .collect();
        End {
            stats,
            counts,
            mismatches,
            stopped,
        }
    }
}

/// Prints the figures next to the targets; false when orders are missing from a layer or the
/// counters differ from their recomputation.
fn report(
    bench: &Bench,
    opts: &Options,
    backlog: &Backlog,
    after_drain: &[ServiceStats],
    windows: &[Option<Window>; 2],
    end: &End,
) -> bool {
    let (peer, same) = (&backlog.peer, &backlog.differing);
    let total = bench.total();
    let (sent, produce_time, drain) = (backlog.sent, backlog.produce_time, &backlog.drain);
    let [nominal, burst] = windows;
    let End {
        stats,
        counts,
        mismatches,
        stopped,
    } = end;
    // The report.
    println!();
    println!("== per service ==");
    println!(
        "{:<12} {:>9} {:>5} {:>7} | {:>8} {:>8} {:>7} {:>10} | {:>6} {:>11} {:>10} {:>10} {:>6}",
        "",
        "consumed",
        "DLQ",
        "errors",
        "batches",
        "avg size",
        "avg ms",
        "busy msg/s",
        "CPU s",
        "VmHWM drain",
        "VmRSS end",
        "VmHWM end",
        "stop"
    );
    for ((s, d), stop) in stats.iter().zip(after_drain).zip(stopped) {
        println!(
            "{:<12} {:>9.0} {:>5.0} {:>7.0} | {:>8.0} {:>8.1} {:>7.1} {:>10.0} | {:>6.1} {:>11} {:>10} {:>10} {:>6}",
            s.name,
            s.batch.messages,
            s.dead_lettered,
            s.errors,
            d.batch.batches,
            d.batch.messages / d.batch.batches.max(1.0),
            1000.0 * d.batch.seconds / d.batch.batches.max(1.0),
            d.busy_rate(),
            s.cpu_seconds,
            mib(d.hwm_kib),
            mib(s.rss_kib),
            mib(s.hwm_kib),
            stop
        );
    }
    println!(
        "(middle columns: the backlog drain only; busy msg/s = messages ÷ time inside batches, \
         transaction to offset commit, poll waits excluded; stop = SIGTERM → exit)"
    );
    println!();
    println!("== where a batch's time goes, backlog drain (ms per batch, mean) ==");
    println!("{}", BatchProfile::header());
    for d in after_drain {
        println!("{}", d.batch.row(&d.name));
    }
    println!(
        "rows: stg.order_events {}, dds.h_order {}, cdm.order_ledger {} (expected {total}); \
         load average {}",
        counts[0],
        counts[1],
        counts[2],
        loadavg()
    );

    println!();
    println!("== result ==");
    let row = |what: &str, value: String, target: &str, ok: Option<bool>| {
        let verdict = match ok {
            Some(true) => "ok",
            Some(false) => "MISSED",
            None => "",
        };
        println!("{what:<44} {value:>26}  {target:<14} {verdict}");
    };
    row(
        "backlog produced (before the services)",
        format!(
            "{:.1} s, {:.0}/s",
            produce_time.as_secs_f64(),
            sent as f64 / produce_time.as_secs_f64()
        ),
        "",
        None,
    );
    match &drain {
        Some(d) => {
            row(
                &format!("drain of {} orders (services start → cdm)", opts.orders),
                format!("{:.1} s", d.seconds),
                "< 60 s",
                Some(d.seconds < DRAIN_TARGET_S),
            );
            row(
                "  machine CPU busy during the drain",
                format!("{:.2} cores", d.cores_busy),
                "",
                None,
            );
            let listing = |spent: &[(String, f64)]| -> String {
                let items: Vec<String> = spent
                    .iter()
                    .take(8)
                    .map(|(name, seconds)| format!("{name} {seconds:.1}"))
                    .collect();
                items.join(", ")
            };
            println!(
                "  CPU seconds in the drain by command: {}",
                listing(&d.by_command)
            );
            println!(
                "  PostgreSQL CPU seconds by session: {}",
                listing(&d.by_session)
            );
            for (i, stage) in ["STG", "DDS", "CDM"].iter().enumerate() {
                let s = &d.stages[i];
                row(
                    &format!("{stage} orders/s (avg over active span; peak 2 s)"),
                    format!("{:.0}; {:.0}", s.average, s.peak),
                    if i == 1 { "≥ 5000" } else { "" },
                    (i == 1).then_some(s.average >= DDS_TARGET_RATE),
                );
                if i == 1 {
                    row(
                        "  DDS busy rate (msgs ÷ Σ batch time, drain)",
                        format!("{:.0}", after_drain[1].busy_rate()),
                        "",
                        None,
                    );
                }
                row(
                    &format!("  {stage} active span (since services start)"),
                    format!("{:.1}–{:.1} s", s.first, s.done),
                    "",
                    None,
                );
            }
        }
        None => row("drain", "no backlog".into(), "", None),
    }
    if let (Some(peer), Some(d)) = (peer, drain) {
        let ratio = peer.total().as_secs_f64() / d.seconds;
        row(
            "set-based peer in PostgreSQL (same orders)",
            format!("{:.1} s", peer.total().as_secs_f64()),
            "",
            None,
        );
        row(
            "peer time / pipeline time",
            format!("{ratio:.2}"),
            "≥ 1.0 (aim 2)",
            Some(ratio >= 1.0),
        );
    }
    let mut same_ok = true;
    if let Some(differ) = same {
        same_ok = differ.is_empty();
        row(
            "pipeline's warehouse = peer's (17 tables)",
            format!("{} differing", differ.len()),
            "none",
            Some(same_ok),
        );
        for d in differ {
            println!("  {d}");
        }
    }
    for (window, target) in [(&nominal, true), (&burst, false)] {
        let Some(w) = window else { continue };
        println!("{}", w.label);
        for (name, samples) in &w.hops {
            let q = Quantiles::of(samples);
            let is_target = target && *name == HOP_APPLIED;
            row(
                &format!("  {name} p50/p99/max ms"),
                q.to_string(),
                if is_target { "p99 < 1000 ms" } else { "" },
                is_target.then_some(q.p99 < P99_TARGET_MS),
            );
        }
    }
    for s in stats {
        row(
            &format!("peak RSS (VmHWM) {}", s.name),
            format!("{:.1} MiB", s.hwm_kib as f64 / 1024.0),
            "≤ 64 MiB",
            Some((s.hwm_kib as f64 / 1024.0) <= RSS_TARGET_MIB),
        );
    }
    row(
        "all orders in every layer",
        format!("{}/{}/{} of {total}", counts[0], counts[1], counts[2]),
        "",
        Some(counts.iter().all(|c| *c == total as i64)),
    );
    row(
        "cdm_mismatches (counters = recomputation)",
        format!("{} mismatching", mismatches.len()),
        "none",
        Some(mismatches.is_empty()),
    );
    if !mismatches.is_empty() {
        for m in mismatches.iter().take(5) {
            println!("  {m:?}");
        }
    }
    same_ok && mismatches.is_empty() && counts.iter().all(|c| *c == total as i64)
}

fn interrupted(stop: &Shutdown) {
    if stop.requested() {
        panic!("interrupted; cleaning up");
    }
}

fn loadavg() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_default()
}

/// Messages in the committed batches of each stage (STG, DDS, CDM; `vault_batch_size_messages_sum`),
/// summed over its replicas, from the services' metrics; 0 for a service that does not answer.
fn committed(pipeline: &Pipeline) -> [i64; 3] {
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

fn counts(client: &mut postgres::Client) -> [i64; 3] {
    let row = client
        .query_one(
            "SELECT (SELECT count(*) FROM stg.order_events), (SELECT count(*) FROM dds.h_order), \
             (SELECT count(*) FROM cdm.order_ledger)",
            &[],
        )
        .expect("count");
    [row.get(0), row.get(1), row.get(2)]
}

fn mib(kib: u64) -> String {
    format!("{:.1} MiB", kib as f64 / 1024.0)
}

#[derive(Debug)]
struct ServiceStats {
    name: String,
    /// Its committed batches.
    batch: BatchProfile,
    errors: f64,
    dead_lettered: f64,
    cpu_seconds: f64,
    rss_kib: u64,
    hwm_kib: u64,
}

impl ServiceStats {
    /// Messages per second of batch processing (transaction to offset commit).
    fn busy_rate(&self) -> f64 {
        self.batch.messages / self.batch.seconds.max(1e-9)
    }

    fn read(s: &Service) -> ServiceStats {
        let metrics = s.metrics().unwrap_or_default();
        let samples = exposition::parse(&metrics);
        let sum = |name: &str| -> f64 { exposition::sum(&samples, name).unwrap_or(0.0) };
        let (rss_kib, hwm_kib) = s.memory_kib();
        ServiceStats {
            name: s.kind.name().to_owned(),
            batch: BatchProfile::read(s),
            errors: sum(names::ERRORS),
            dead_lettered: sum(names::DEAD_LETTERED),
            cpu_seconds: s.cpu_seconds(),
            rss_kib,
            hwm_kib,
        }
    }
}

// ---------------------------------------------------------------------------------------------
// 1. the backlog

#[derive(Debug)]
struct Drain {
    seconds: f64,
    stages: [StageRate; 3],
    /// The machine's CPU busy over the drain, in cores (every process: services, servers, bench).
    cores_busy: f64,
    /// CPU seconds spent during the drain, by command (the largest first).
    by_command: Vec<(String, f64)>,
    /// CPU seconds of the warehouse's sessions by `application_name`, at the drain's end.
    by_session: Vec<(String, f64)>,
}

/// CPU seconds used so far by the machine's processes, by command name (`/proc/<pid>/stat`:
/// utime + stime of each live process; the children of a process that exited are not seen).
fn cpu_by_command() -> HashMap<String, f64> {
    let mut by: HashMap<String, f64> = HashMap::new();
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return by;
    };
    for entry in dir.flatten() {
        let pid = entry.file_name().to_str().and_then(|n| n.parse().ok());
        if let Some((command, seconds)) = pid.and_then(proc_cpu) {
            *by.entry(command).or_default() += seconds;
        }
    }
    by
}

/// (busy, all) CPU time of the machine so far, in clock ticks (`/proc/stat`).
fn cpu_ticks() -> (u64, u64) {
    let stat = std::fs::read_to_string("/proc/stat").unwrap_or_default();
    let ticks: Vec<u64> = stat
        .lines()
        .next()
        .unwrap_or_default()
        .split_whitespace()
        .skip(1)
        .filter_map(|t| t.parse().ok())
        .collect();
    // user nice system idle iowait irq softirq steal …
    let idle = ticks.get(3).copied().unwrap_or(0) + ticks.get(4).copied().unwrap_or(0);
    let all: u64 = ticks.iter().take(8).sum();
    (all - idle, all)
}

#[derive(Debug, Default)]
struct StageRate {
    /// Last sample without rows and first sample with all rows (s since services start).
    first: f64,
    done: f64,
    average: f64,
    peak: f64,
}

fn drain(pipeline: &mut Pipeline, orders: i64, stop: &Shutdown) -> Option<Drain> {
    let started = Instant::now();
    let ticks_before = cpu_ticks();
    let commands_before = cpu_by_command();
    if orders == 0 {
        return None;
    }
    let mut client = pipeline.db.client();
    let limit = Duration::from_secs(300 + orders as u64 / 100);
    // Sampled from the services' own metrics (messages of committed batches), so that the
    // measurement puts no load on the warehouse under test; the end is checked in the tables.
    let mut samples: Vec<(f64, [i64; 3])> = vec![(0.0, [0; 3])];
    let mut next = started;
    let mut counting = Duration::ZERO;
    loop {
        next += SAMPLE;
        stop.sleep(next.saturating_duration_since(Instant::now()));
        interrupted(stop);
        let q = Instant::now();
        let mut c = committed(pipeline);
        if c[2] >= orders {
            c = counts(&mut client);
        }
        counting += q.elapsed();
        let t = started.elapsed().as_secs_f64();
        samples.push((t, c));
        if samples.len() % 4 == 1 {
            println!(
                "  t={t:>6.1} s   stg {:>7}   dds {:>7}   cdm {:>7}",
                c[0], c[1], c[2]
            );
        }
        if c[2] >= orders {
            println!(
                "  t={t:>6.1} s   stg {:>7}   dds {:>7}   cdm {:>7}   drained",
                c[0], c[1], c[2]
            );
            break;
        }
        pipeline.ensure_running();
        if started.elapsed() > limit {
            panic!(
                "not drained after {limit:?}: {c:?} of {orders}\n{}",
                pipeline.diagnostics()
            );
        }
    }
    let seconds = samples.last().map_or(0.0, |s| s.0);
    let ticks_after = cpu_ticks();
    let commands_after = cpu_by_command();
    let by_session = warehouse_cpu(&mut client);
    let mut by_command: Vec<(String, f64)> = commands_after
        .iter()
        .map(|(c, after)| {
            (
                c.clone(),
                after - commands_before.get(c).copied().unwrap_or(0.0),
            )
        })
        .filter(|(_, spent)| *spent >= 0.05)
        .collect();
    by_command.sort_by(|a, b| b.1.total_cmp(&a.1));
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get()) as f64;
    let cores_busy = cores * (ticks_after.0 - ticks_before.0) as f64
        / (ticks_after.1 - ticks_before.1).max(1) as f64;
    println!(
        "  (a sample of the three services' metrics took {:.1} ms on average)",
        counting.as_secs_f64() * 1e3 / (samples.len() - 1).max(1) as f64
    );
    let stages = [0, 1, 2].map(|k| {
        let first = samples
            .iter()
            .rev()
            .find(|s| s.1[k] == 0)
            .map_or(0.0, |s| s.0);
        let done = samples
            .iter()
            .find(|s| s.1[k] >= orders)
            .map_or(seconds, |s| s.0);
        let peak = samples
            .windows(5)
            .map(|w| (w[4].1[k] - w[0].1[k]) as f64 / (w[4].0 - w[0].0))
            .fold(0.0, f64::max);
        StageRate {
            first,
            done,
            average: orders as f64 / (done - first).max(1e-9),
            peak,
        }
    });
    Some(Drain {
        seconds,
        stages,
        cores_busy,
        by_command,
        by_session,
    })
}

// ---------------------------------------------------------------------------------------------
// 2. latency

/// Records the wall-clock time of each source message's acknowledgement.
#[derive(Debug, Default)]
struct AckClock {
    acked: Mutex<HashMap<i64, SystemTime>>,
    failed: Mutex<Vec<String>>,
}

impl ClientContext for AckClock {}

impl ProducerContext<NoCustomPartitioner> for AckClock {
    type DeliveryOpaque = usize;

    fn delivery(&self, result: &DeliveryResult<'_>, id: usize) {
        let now = SystemTime::now();
        match result {
            Ok(_) => {
                if let Ok(mut acked) = self.acked.lock() {
                    acked.insert(id as i64, now);
                }
            }
            Err((e, _)) => {
                if let Ok(mut failed) = self.failed.lock() {
                    failed.push(format!("order {id}: {e}"));
                }
            }
        }
    }
}

struct Acker(ThreadedProducer<AckClock>);

impl Acker {
    /// A producer with the services' settings (`KafkaConfig::producer_config`).
    fn new(config: &KafkaConfig) -> Acker {
        Acker(
            config
                .producer_config()
                .create_with_context(AckClock::default())
                .expect("latency producer"),
        )
    }

    fn clock(&self) -> &AckClock {
        self.0.context()
    }
}

const HOP_APPLIED: &str = "ack → cdm applied_at";

#[derive(Debug)]
struct Window {
    label: String,
    hops: Vec<(&'static str, Vec<f64>)>,
}

fn latency(
    label: &str,
    orders: &[Planned],
    per_second: f64,
    topic: &str,
    acker: &Acker,
    pipeline: &mut Pipeline,
    stop: &Shutdown,
) -> Option<Window> {
    if orders.is_empty() {
        return None;
    }
    let warehouse: Warehouse = pipeline.db.warehouse.clone();
    println!(
        "latency, {label} (~{:.0} s) …",
        (orders.len() - 1) as f64 / per_second
    );
    let ids: Vec<i64> = orders
        .iter()
        .map(|m| match m {
            Planned::Order(o) | Planned::Unknown(o, _) => o.object_id,
            Planned::Garbage(..) => unreachable!("no garbage planned"),
        })
        .collect();
    let keys: HashMap<i64, Uuid> = ids
        .iter()
        .map(|id| (*id, KeySpec::SEED.hub(&id.to_string())))
        .collect();
    let clock = acker.clock();
    if let Ok(mut a) = clock.acked.lock() {
        a.clear();
    }

    // Who sees each ledger row first: a poll every 50 ms over the acknowledged, unseen orders.
    let done = Arc::new(AtomicBool::new(false));
    let visible: HashMap<i64, SystemTime> = std::thread::scope(|scope| {
        let poller = {
            let done = Arc::clone(&done);
            let keys = &keys;
            let mut client = warehouse.client().expect("client");
            scope.spawn(move || {
                let mut seen: HashMap<i64, SystemTime> = HashMap::new();
                loop {
                    let finished = done.load(Ordering::Relaxed);
                    let pending: Vec<Uuid> = clock
                        .acked
                        .lock()
                        .map(|a| {
                            a.keys()
                                .filter(|id| !seen.contains_key(id))
                                .map(|id| keys[id])
                                .collect()
                        })
                        .unwrap_or_default();
                    if finished || (pending.is_empty() && seen.len() == keys.len()) {
                        return seen;
                    }
                    let at = SystemTime::now();
                    if !pending.is_empty() {
                        let rows = client
                            .query(
                                "SELECT h.order_id FROM cdm.order_ledger l \
                                 JOIN dds.h_order h ON h.h_order_pk = l.order_id \
                                 WHERE l.order_id = ANY($1)",
                                &[&pending],
                            )
                            .expect("poll the ledger");
                        for row in rows {
                            seen.insert(row.get(0), at);
                        }
                    }
                    std::thread::sleep(POLL);
                }
            })
        };

        // Stops the poller however this closure ends (a panic included).
        let _stop_poller = StopOnDrop(Arc::clone(&done));
        let started = Instant::now();
        for (i, message) in orders.iter().enumerate() {
            let due = started + Duration::from_secs_f64(i as f64 / per_second);
            stop.sleep(due.saturating_duration_since(Instant::now()));
            if stop.requested() {
                break;
            }
            let record = message.record(topic);
            let key = record.key.unwrap_or_default();
            let mut base = BaseRecord::with_opaque_to(topic, ids[i] as usize)
                .key(&key[..])
                .payload(&record.payload[..]);
            loop {
                match acker.0.send(base) {
                    Ok(()) => break,
                    Err((e, back))
                        if e.rdkafka_error_code()
                            == Some(rdkafka::types::RDKafkaErrorCode::QueueFull) =>
                    {
                        base = back;
                        std::thread::sleep(Duration::from_millis(1));
                    }
                    Err((e, _)) => panic!("produce order {}: {e}", ids[i]),
                }
            }
        }
        let _ = acker.0.flush(Duration::from_secs(30));
        let send_time = started.elapsed();
        // Wait for the last order to be visible (or give up after 120 s).
        let until = Instant::now() + Duration::from_secs(120);
        while Instant::now() < until && !stop.requested() {
            let rows: i64 = warehouse
                .client()
                .expect("client")
                .query_one(
                    "SELECT count(*) FROM cdm.order_ledger WHERE order_id = ANY($1)",
                    &[&keys.values().copied().collect::<Vec<Uuid>>()],
                )
                .expect("count")
                .get(0);
            if rows == keys.len() as i64 {
                break;
            }
            pipeline.ensure_running();
            std::thread::sleep(Duration::from_millis(200));
        }
        // Give the poller a last round.
        std::thread::sleep(2 * POLL);
        done.store(true, Ordering::Relaxed);
        let visible = poller.join().expect("poller");
        println!(
            "  sent in {:.1} s; {} of {} visible",
            send_time.as_secs_f64(),
            visible.len(),
            orders.len()
        );
        visible
    });
    interrupted(stop);
    if let Ok(failed) = clock.failed.lock() {
        assert!(failed.is_empty(), "deliveries failed: {failed:?}");
    }
    let acked = clock.acked.lock().map(|a| a.clone()).unwrap_or_default();

    let mut client = warehouse.client().expect("client");
    let pks: Vec<Uuid> = ids.iter().map(|id| keys[id]).collect();
    let rows = client
        .query(
            "SELECT t.id, s.load_dt, h.load_dt, l.applied_at \
             FROM unnest($1::bigint[], $2::uuid[]) AS t (id, pk) \
             LEFT JOIN stg.order_events s ON s.object_id = t.id \
             LEFT JOIN dds.h_order h ON h.h_order_pk = t.pk \
             LEFT JOIN cdm.order_ledger l ON l.order_id = t.pk",
            &[&ids, &pks],
        )
        .expect("timestamps");
    let ms =
        |a: DateTime<Utc>, b: DateTime<Utc>| (b - a).num_microseconds().unwrap_or(0) as f64 / 1e3;
    let mut hops: Vec<(&'static str, Vec<f64>)> = vec![
        ("ack → stg tx start", Vec::new()),
        ("stg → dds tx start", Vec::new()),
        ("dds → cdm tx start", Vec::new()),
        (HOP_APPLIED, Vec::new()),
        ("ack → seen by 50 ms poll", Vec::new()),
    ];
    let mut missing = 0;
    for row in rows {
        let id: i64 = row.get(0);
        let stg: Option<NaiveDateTime> = row.get(1);
        let dds: Option<NaiveDateTime> = row.get(2);
        let cdm: Option<DateTime<Utc>> = row.get(3);
        let (Some(ack), Some(stg), Some(dds), Some(cdm)) = (acked.get(&id), stg, dds, cdm) else {
            missing += 1;
            continue;
        };
        let ack = DateTime::<Utc>::from(*ack);
        let (stg, dds) = (stg.and_utc(), dds.and_utc());
        hops[0].1.push(ms(ack, stg));
        hops[1].1.push(ms(stg, dds));
        hops[2].1.push(ms(dds, cdm));
        hops[3].1.push(ms(ack, cdm));
        if let Some(seen) = visible.get(&id) {
            hops[4].1.push(ms(ack, DateTime::<Utc>::from(*seen)));
        }
    }
    if missing > 0 {
        println!("  {missing} orders did not arrive in every layer (left out)");
    }
    Some(Window {
        label: format!(
            "latency, {label} ({} measured; nearest-rank percentiles)",
            hops[3].1.len()
        ),
        hops,
    })
}

struct StopOnDrop(Arc<AtomicBool>);

impl Drop for StopOnDrop {
    fn drop(&mut self) {
        self.0.store(true, Ordering::Relaxed);
    }
}

#[derive(Debug)]
struct Quantiles {
    p50: f64,
    p99: f64,
    max: f64,
}

impl Quantiles {
    /// Nearest-rank percentiles.
    fn of(samples: &[f64]) -> Quantiles {
        let mut v = samples.to_vec();
        v.sort_by(f64::total_cmp);
        let rank = |p: f64| {
            let i = ((p * v.len() as f64).ceil() as usize).clamp(1, v.len().max(1)) - 1;
            v.get(i).copied().unwrap_or(f64::NAN)
        };
        Quantiles {
            p50: rank(0.50),
            p99: rank(0.99),
            max: v.last().copied().unwrap_or(f64::NAN),
        }
    }
}

impl std::fmt::Display for Quantiles {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:.0} / {:.0} / {:.0}", self.p50, self.p99, self.max)
    }
}
