//! Each stage alone against its ceilings, start-up and idle CPU (issues 14, 30): a command, not
//! a timed test, on the servers of `scripts/stack`:
//!
//! ```text
//! eval "$(scripts/stack env)"
//! cargo bench -p vault-benches --bench stages [-- ORDERS] [--idle-secs S] [--seed S] [--replicas N]
//! ```
//!
//! 1. **start-up**: one order waits on the source topic; STG is started and timed until that
//!    order is in `stg.order_events`, then DDS until it is in `dds.h_order`, then CDM until it
//!    is in `cdm.order_ledger` (each from its own process start, against the migrated
//!    warehouse; the row polled every 5 ms); each is stopped again;
//! 2. **drains**: ORDERS orders (default 100,000) are produced; then STG alone drains them,
//!    then DDS alone drains what STG produced, then CDM alone what DDS produced. A stage's time
//!    is from the last 100 ms sample of its metrics in which it had committed none of the
//!    backlog to the first in which it had committed all of it (its table is counted once,
//!    afterwards); where its batch time went is printed too. With `--replicas N` (default 1)
//!    each stage runs as N replicas of its service, which share the topic's partitions (the
//!    scale-out of docs/operations.md, on this machine), and the clock starts only once each
//!    of them owns partitions (what was committed before is left out of the rate); the broker
//!    and warehouse ceilings stay one consumer and one COPY, the statement ceiling (5.) takes
//!    N sessions;
//! 3. **the broker ceiling** of each stage: a bare consumer of the same topic, with the
//!    services' client settings, that produces the bytes the stage produced (STG's enriched
//!    orders, DDS's reports; CDM produces nothing) to a scratch topic and waits for their
//!    acknowledgements — from its first message to the last acknowledgement;
//! 4. **the warehouse ceiling**: binary `COPY` of the rows the stage wrote (exported with
//!    `COPY … TO STDOUT (FORMAT binary)`) into the same tables of a fresh migrated database,
//!    one transaction;
//! 5. **the statement ceiling** (`replay.rs`): the stage's own warehouse statements alone — the
//!    messages it read, decoded beforehand, replayed in batches of its mean batch size, one
//!    transaction each, into a fresh migrated database, by as many sessions as replicas;
//! 6. **idle**: the three services running with nothing to do for `--idle-secs` (default 60):
//!    the CPU each used.
//!
//! Prints each stage's rate as a share of its statement ceiling (target ≥ 85 %: the streaming
//! machinery costs at most 15 %), of the lower of the other two ceilings (information),
//! start-up (target ≤ 1 s) and idle CPU (target < 1 % of a core).

use std::io::{Read as _, Write as _};
use std::time::{Duration, Instant};

use rdkafka::consumer::{BaseConsumer, Consumer as _};
use rdkafka::producer::{BaseRecord, DefaultProducerContext, Producer as _, ThreadedProducer};
use rdkafka::Message as _;
use vault_kafka::KafkaConfig;
use vault_services::exposition;
use vault_services::ops::names;
use vault_services::shutdown::Shutdown;
use vault_services::simulate::{self, Planned, SimulateOptions};
use vault_testkit::kafka::{Topics, PARTITIONS};
use vault_testkit::pipeline::{Kind, Pipeline};
use vault_testkit::{RedisKeys, TestDb};

mod replay;
mod services;

use services::{bench_pipeline, build_services, seed_or_fresh, warehouse_cpu, BatchProfile};

/// A stage's drain as a share of its statement ceiling (issue 30).
const RATIO_TARGET: f64 = 0.85;
const STARTUP_TARGET_MS: f64 = 1_000.0;
const IDLE_TARGET_PERCENT: f64 = 1.0;
const SAMPLE: Duration = Duration::from_millis(100);

const USAGE: &str =
    "usage: cargo bench -p vault-benches --bench stages -- [ORDERS] [--idle-secs S] [--seed S] [--replicas N]";

struct Options {
    orders: usize,
    idle_secs: u64,
    seed: u64,
    replicas: usize,
}

fn options() -> Options {
    let mut o = Options {
        orders: 100_000,
        idle_secs: 60,
        seed: 0,
        replicas: 1,
    };
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let mut value = |what: &str| -> u64 {
            let text = args.next().unwrap_or_default();
            text.parse()
                .unwrap_or_else(|_| panic!("{what} needs a number, got {text:?}\n{USAGE}"))
        };
        match arg.as_str() {
            "--bench" => {}
            "--idle-secs" => o.idle_secs = value("--idle-secs"),
            "--seed" => o.seed = value("--seed"),
            "--replicas" => {
                o.replicas = (value("--replicas") as usize).clamp(1, PARTITIONS as usize)
            }
            "-h" | "--help" => {
                println!("{USAGE}");
                std::process::exit(0);
            }
            n => {
                o.orders = n
                    .parse()
                    .unwrap_or_else(|_| panic!("unknown argument {n:?}\n{USAGE}"))
            }
        }
    }
    o
}

/// What each stage reads, writes and produces.
struct StageDef {
    kind: Kind,
    /// Its table that gets one row per order (what the drain counts).
    counted: &'static str,
    /// Every table it writes, in an order that keeps foreign keys (the warehouse ceiling).
    tables: &'static [&'static str],
}

const STAGES: [StageDef; 3] = [
    StageDef {
        kind: Kind::Stg,
        counted: "stg.order_events",
        tables: &["stg.order_events"],
    },
    StageDef {
        kind: Kind::Dds,
        counted: "dds.h_order",
        tables: &[
            "dds.h_user",
            "dds.h_product",
            "dds.h_category",
            "dds.h_restaurant",
            "dds.h_order",
            "dds.l_order_product",
            "dds.l_product_restaurant",
            "dds.l_product_category",
            "dds.l_order_user",
            "dds.s_user_names",
            "dds.s_restaurant_names",
            "dds.s_product_names",
            "dds.s_order_cost",
            "dds.s_order_status",
        ],
    },
    StageDef {
        kind: Kind::Cdm,
        counted: "cdm.order_ledger",
        tables: &[
            "cdm.order_ledger",
            "cdm.user_product_counters",
            "cdm.user_category_counters",
            "cdm.restaurant_category_counters",
            "cdm.restaurant_category_days",
        ],
    },
];

/// One stage's figures.
struct Figures {
    startup: Duration,
    /// Messages timed (all of the backlog with one replica) and in how long.
    drain: (usize, Duration),
    broker: Duration,
    warehouse: Duration,
    rows: i64,
    /// Messages replayed by the statement ceiling, and in how long.
    replay: (usize, Duration),
}

fn main() {
    let opts = options();
    let stop = Shutdown::on_signals().expect("signal handlers");
    build_services();
    let seed = seed_or_fresh(opts.seed);
    let (mut pipeline, run) = bench_pipeline("stages", false);
    let plan = simulate::plan(&SimulateOptions {
        seed,
        orders: opts.orders + 1,
        ..SimulateOptions::default()
    });
    let mut dictionaries = RedisKeys::new();
    dictionaries.load_catalog(&plan.catalog);
    println!(
        "stages benchmark, run {run}: 1 + {} orders, {PARTITIONS} partitions, {} replica(s) per stage, seed {seed}, logs in {}",
        opts.orders,
        opts.replicas,
        pipeline.dir.display()
    );
    let source = pipeline
        .broker
        .kafka_config("bench-source", &pipeline.topics.source, None);
    let producer = vault_kafka::Producer::new(&source).expect("producer");
    let source_topic = pipeline.topics.source.clone();
    let produce = |messages: &[Planned]| {
        simulate::produce(&producer, &source_topic, messages, None, &stop, |_| {}).expect("produce")
    };

    // 1. start-up, each stage with one order waiting.
    produce(&plan.messages[..1]);
    let mut startup = Vec::new();
    for stage in &STAGES {
        let mut client = pipeline.db.client();
        let started = Instant::now();
        let i = pipeline.spawn(stage.kind);
        while count(&mut client, stage.counted) < 1 {
            assert!(
                started.elapsed() < Duration::from_secs(60),
                "{} did not start",
                stage.counted
            );
            pipeline.ensure_running();
            std::thread::sleep(Duration::from_millis(5));
        }
        startup.push(started.elapsed());
        pipeline.services[i].terminate(Duration::from_secs(30));
        println!(
            "start-up: {} processed its first message {:.0?} after its start",
            stage.kind.name(),
            startup.last().expect("pushed")
        );
    }

    // 2. the backlog, drained by each stage alone.
    let t = Instant::now();
    let sent = produce(&plan.messages[1..]);
    println!("backlog: {sent} orders produced in {:.1?}", t.elapsed());
    let total = (opts.orders + 1) as i64;
    let mut drains = Vec::new();
    let mut profiles = Vec::new();
    for stage in &STAGES {
        let spawned = Instant::now();
        let ids: Vec<usize> = (0..opts.replicas)
            .map(|_| pipeline.spawn(stage.kind))
            .collect();
        let (timed, drain) = drain(&mut pipeline, &ids, opts.orders, &stop);
        let lived = spawned.elapsed();
        let each: Vec<BatchProfile> = ids
            .iter()
            .map(|&i| BatchProfile::read(&pipeline.services[i]))
            .collect();
        profiles.push(BatchProfile::sum(&each));
        // CPU over the replicas' lives (start-up included) and of their warehouse sessions.
        let own: f64 = ids
            .iter()
            .map(|&i| pipeline.services[i].cpu_seconds())
            .sum();
        let sessions: f64 = warehouse_cpu(&mut pipeline.db.client())
            .iter()
            .filter(|(name, _)| name.as_str() == stage.kind.name())
            .map(|(_, seconds)| seconds)
            .sum();
        for &i in &ids {
            pipeline.services[i].terminate(Duration::from_secs(30));
        }
        let rows = count(&mut pipeline.db.client(), stage.counted);
        assert_eq!(rows, total, "{} after the drain", stage.counted);
        println!(
            "drain: {} alone ({} replica(s)), {timed} of {} orders in {:.2} s ({:.0}/s)",
            stage.kind.name(),
            opts.replicas,
            opts.orders,
            drain.as_secs_f64(),
            timed as f64 / drain.as_secs_f64()
        );
        println!(
            "cpu: {} {own:.2} s, its warehouse sessions {sessions:.2} s ({:.0} % and {:.0} % of a core over the {:.2} s since its start)",
            stage.kind.name(),
            100.0 * own / lived.as_secs_f64(),
            100.0 * sessions / lived.as_secs_f64(),
            lived.as_secs_f64()
        );
        drains.push((timed, drain));
    }

    // 3. the broker ceilings: a bare consumer producing the stage's bytes.
    let scratch = Topics::create("ceiling", &pipeline.broker);
    let inputs = [
        &pipeline.topics.source,
        &pipeline.topics.stg,
        &pipeline.topics.dds,
    ];
    let outputs = [Some(&pipeline.topics.stg), Some(&pipeline.topics.dds), None];
    let mut brokers = Vec::new();
    for (k, stage) in STAGES.iter().enumerate() {
        let bytes: Vec<Vec<u8>> = outputs[k]
            .map(|topic| {
                pipeline
                    .broker
                    .read_topic(topic)
                    .into_iter()
                    .map(|r| r.payload)
                    .collect()
            })
            .unwrap_or_default();
        let config = pipeline.broker.kafka_config(
            &format!("{}_ceiling_{}", pipeline.group(stage.kind), k),
            inputs[k],
            Some(&scratch.stg),
        );
        let took = bare_consumer(&config, total as usize, &bytes);
        println!(
            "broker ceiling of {}: {} messages consumed{} in {:.2} s ({:.0}/s)",
            stage.kind.name(),
            total,
            if bytes.is_empty() {
                String::new()
            } else {
                format!(", {} produced", total)
            },
            took.as_secs_f64(),
            total as f64 / took.as_secs_f64()
        );
        brokers.push(took);
    }
    drop(scratch);

    // 4. the warehouse ceilings: binary COPY of the rows each stage wrote.
    let ceiling_db = TestDb::new("ceiling");
    let mut warehouses = Vec::new();
    let mut rows = Vec::new();
    for stage in &STAGES {
        let (took, copied) = binary_copy(&pipeline.db, &ceiling_db, stage.tables);
        println!(
            "warehouse ceiling of {}: binary COPY of {copied} rows ({} tables) in {:.2} s",
            stage.kind.name(),
            stage.tables.len(),
            took.as_secs_f64()
        );
        warehouses.push(took);
        rows.push(copied);
    }
    drop(ceiling_db);

    // 5. the statement ceilings: each stage's warehouse statements alone, its batch sizes.
    let replay_db = TestDb::new("replay");
    let mut replays = Vec::new();
    for (k, stage) in STAGES.iter().enumerate() {
        let records = pipeline.broker.read_topic(inputs[k]);
        let profile = &profiles[k];
        let batch = ((profile.messages / profile.batches.max(1.0)).round() as usize).max(1);
        let (took, replayed, committing) =
            replay::replay(stage.kind, &records, batch, opts.replicas, &replay_db);
        println!(
            "statement ceiling of {}: {replayed} messages replayed in batches of {batch} by {} session(s) in {:.2} s ({:.0}/s; {:.1} ms per batch, {:.1} of it in COMMIT)",
            stage.kind.name(),
            opts.replicas,
            took.as_secs_f64(),
            replayed as f64 / took.as_secs_f64(),
            1e3 * took.as_secs_f64() * opts.replicas as f64 * batch as f64 / replayed.max(1) as f64,
            1e3 * committing.as_secs_f64() * batch as f64 / replayed.max(1) as f64,
        );
        replays.push((replayed, took));
    }
    drop(replay_db);

    // 6. idle CPU.
    let ids = pipeline.spawn_all();
    pipeline.wait_ready(&ids, Duration::from_secs(120));
    std::thread::sleep(Duration::from_secs(5));
    let before: Vec<f64> = ids
        .iter()
        .map(|&i| pipeline.services[i].cpu_seconds())
        .collect();
    println!(
        "idle: the three services with nothing to do for {} s …",
        opts.idle_secs
    );
    stop.sleep(Duration::from_secs(opts.idle_secs));
    let idle: Vec<f64> = ids
        .iter()
        .zip(&before)
        .map(|(&i, b)| 100.0 * (pipeline.services[i].cpu_seconds() - b) / opts.idle_secs as f64)
        .collect();
    pipeline.terminate_all(Duration::from_secs(30));

    let figures: Vec<Figures> = (0..3)
        .map(|k| Figures {
            startup: startup[k],
            drain: drains[k],
            broker: brokers[k],
            warehouse: warehouses[k],
            rows: rows[k],
            replay: replays[k],
        })
        .collect();
    report(opts.orders, total, &figures, &idle);
    println!();
    println!("== where a stage's batch time goes, alone on its backlog (ms per batch, mean) ==");
    println!("{}", BatchProfile::header());
    for (stage, profile) in STAGES.iter().zip(&profiles) {
        println!("{}", profile.row(stage.kind.name()));
    }
}

fn report(orders: usize, total: i64, figures: &[Figures], idle: &[f64]) {
    println!();
    println!("== each stage alone, {orders} orders (messages/s) ==");
    println!(
        "{:<12} {:>9} {:>18} {:>12}  {:<8} {:>14} {:>17} {:>10} {:>10} {:>8}",
        "",
        "stage",
        "statement ceiling",
        "stage/stmts",
        "target",
        "broker ceiling",
        "warehouse ceiling",
        "stage/COPY",
        "start-up",
        "idle CPU"
    );
    for (k, f) in figures.iter().enumerate() {
        let rate = |d: Duration, n: f64| n / d.as_secs_f64().max(1e-9);
        let stage = rate(f.drain.1, f.drain.0 as f64);
        let broker = rate(f.broker, total as f64);
        let warehouse = rate(f.warehouse, total as f64);
        let statements = rate(f.replay.1, f.replay.0 as f64);
        let ratio = stage / statements;
        let startup_ms = f.startup.as_secs_f64() * 1e3;
        println!(
            "{:<12} {:>9.0} {:>18.0} {:>10.0} %  {:<8} {:>14.0} {:>17.0} {:>8.0} % {:>7.0} ms {:>6.2} %  {}",
            STAGES[k].kind.name(),
            stage,
            statements,
            100.0 * ratio,
            format!("≥ {:.0} %", 100.0 * RATIO_TARGET),
            broker,
            warehouse,
            100.0 * stage / broker.min(warehouse),
            startup_ms,
            idle[k],
            [
                (ratio >= RATIO_TARGET, "ratio"),
                (startup_ms <= STARTUP_TARGET_MS, "start-up"),
                (idle[k] < IDLE_TARGET_PERCENT, "idle"),
            ]
            .iter()
            .map(|(ok, what)| format!("{what} {}", if *ok { "ok" } else { "MISSED" }))
            .collect::<Vec<_>>()
            .join(", ")
        );
    }
    println!(
        "(statement ceiling: the stage's own warehouse statements replayed, same batches, no \
         Kafka or Redis — target: the stage ≥ {:.0} % of it; broker and warehouse ceilings \
         for information, the latter the rows each stage wrote, binary COPY'd — {:?} rows per \
         stage; start-up: process start → first message in the warehouse, target ≤ 1 s; idle: \
         % of one core, target < 1 %)",
        100.0 * RATIO_TARGET,
        figures.iter().map(|f| f.rows).collect::<Vec<_>>()
    );
}

fn count(client: &mut postgres::Client, table: &str) -> i64 {
    client
        .query_one(&format!("SELECT count(*) FROM {table}"), &[])
        .expect("count")
        .get(0)
}

/// The drain of services `ids`: how many messages it timed and in how long. From the last
/// sample in which they had committed none of the backlog to the first in which they had
/// committed all `backlog` messages together — read from their metrics, not by counting rows
/// (a `count(*)` every 100 ms would load the warehouse under measurement). With several
/// replicas the clock starts only once every one of them owns partitions (the first to join
/// takes all of them until the group has rebalanced, ~3–6 s here): the messages committed
/// before that are left out, so that the rate is that of the replicas together.
fn drain(
    pipeline: &mut Pipeline,
    ids: &[usize],
    backlog: usize,
    stop: &Shutdown,
) -> (usize, Duration) {
    let started = Instant::now();
    let mut first = started;
    let mut before = 0;
    loop {
        stop.sleep(SAMPLE);
        assert!(!stop.requested(), "interrupted");
        let samples: Vec<Vec<exposition::Sample>> = ids
            .iter()
            .map(|&i| exposition::parse(&pipeline.services[i].metrics().unwrap_or_default()))
            .collect();
        let done: usize = samples
            .iter()
            .map(|m| exposition::sum(m, names::BATCH_SIZE_SUM).unwrap_or(0.0) as usize)
            .sum();
        let all_assigned = samples
            .iter()
            .all(|m| exposition::sum(m, names::ASSIGNED).unwrap_or(0.0) > 0.0);
        if done == 0 || !all_assigned {
            first = Instant::now();
            before = done;
        }
        if done >= backlog {
            return (backlog.saturating_sub(before), first.elapsed());
        }
        pipeline.ensure_running();
        assert!(
            started.elapsed() < Duration::from_secs(600),
            "{}: {done} of {backlog} after 600 s\n{}",
            pipeline.services[ids[0]].kind.name(),
            pipeline.diagnostics()
        );
    }
}

/// A bare consumer of `config.source_topic` with the services' client settings, producing
/// `bytes` (one per message consumed, cycling) to `config.destination_topic` and waiting for
/// every acknowledgement; from the first message to the last acknowledgement.
fn bare_consumer(config: &KafkaConfig, messages: usize, bytes: &[Vec<u8>]) -> Duration {
    let consumer: BaseConsumer = config.consumer_config().create().expect("bare consumer");
    consumer
        .subscribe(&[config.source_topic.as_str()])
        .expect("subscribe");
    let producer: ThreadedProducer<DefaultProducerContext> =
        config.producer_config().create().expect("bare producer");
    let topic = config.destination_topic.clone().unwrap_or_default();
    let mut first: Option<Instant> = None;
    let mut consumed = 0;
    let deadline = Instant::now() + Duration::from_secs(600);
    while consumed < messages {
        assert!(
            Instant::now() < deadline,
            "bare consumer: {consumed} of {messages}"
        );
        let Some(result) = consumer.poll(Duration::from_millis(500)) else {
            continue;
        };
        let Ok(message) = result else { continue };
        first.get_or_insert_with(Instant::now);
        if !bytes.is_empty() {
            let payload = &bytes[consumed % bytes.len()];
            let key = message.key().unwrap_or_default().to_vec();
            let mut record = BaseRecord::to(&topic).key(&key[..]).payload(&payload[..]);
            loop {
                match producer.send(record) {
                    Ok(()) => break,
                    Err((_, back)) => {
                        record = back;
                        producer.poll(Duration::from_millis(1));
                    }
                }
            }
        }
        consumed += 1;
    }
    producer
        .flush(Duration::from_secs(60))
        .expect("bare producer: flush");
    first.map_or(Duration::ZERO, |t| t.elapsed())
}

/// Binary `COPY` of `tables` from `from` into the same (empty) tables of `to`, in one
/// transaction; the time of the `COPY … FROM` and the commit, and the rows copied.
fn binary_copy(from: &TestDb, to: &TestDb, tables: &[&str]) -> (Duration, i64) {
    let mut source = from.client();
    let mut exported = Vec::new();
    let mut rows = 0;
    for table in tables {
        let mut data = Vec::new();
        source
            .copy_out(&format!("COPY {table} TO STDOUT (FORMAT binary)"))
            .expect("COPY TO")
            .read_to_end(&mut data)
            .expect("read COPY");
        rows += count(&mut source, table);
        exported.push((table, data));
    }
    let mut target = to.client();
    let t = Instant::now();
    let mut tx = target.transaction().expect("begin");
    for (table, data) in &exported {
        let mut writer = tx
            .copy_in(&format!("COPY {table} FROM STDIN (FORMAT binary)"))
            .expect("COPY FROM");
        writer.write_all(data).expect("write COPY");
        writer.finish().expect("finish COPY");
    }
    tx.commit().expect("commit");
    (t.elapsed(), rows)
}
