//! Outages of the servers: the three services run against PostgreSQL and (STG) Redis through
//! TCP proxies (`common::proxy`) that the test cuts while orders flow. The services must report
//! it on `/readyz` (503), keep running, and once the servers are back reach the exact end state
//! of `end_to_end_exact` without a dead letter the plan does not call for.
//!
//! The test's own PostgreSQL and Redis connections (fixtures, checks, diagnostics) go to the real
//! ports, never through the proxies.
//!
//! A read-only warehouse (a managed PostgreSQL's switchover, as it looks to a client: the
//! database read-only for new sessions, every session cut, writable again 20 s later) is a
//! transient fault too: the services wait it out and dead-letter nothing for it.

mod common;

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use vault_kafka::Producer;
use vault_services::shutdown::Shutdown;
use vault_services::simulate::{load_dictionaries, plan, produce, SimulateOptions};

use common::expected::{diff, Expected};
use common::scenario::{
    assert_each_was_not_ready, load_catalog, producer, send_until, simulate, verify_dead_letters,
    verify_no_downstream_dead_letters, watch_not_ready, StopOnUnwind,
};
use vault_testkit::kafka::dlq;
use vault_testkit::pipeline::Pipeline;
use vault_testkit::proxy::Proxy;
use vault_testkit::{require_env, require_servers, seed, RedisKeys};

/// How long each outage lasts at least.
const OUTAGE: Duration = Duration::from_secs(6);

/// The longest an outage is kept up waiting for every affected service to answer 503.
const OUTAGE_MAX: Duration = Duration::from_secs(20);

/// How long the services may take to be ready again after an outage (their backoff is at most
/// 10 s).
const RECOVERY: Duration = Duration::from_secs(60);

/// Sets an environment variable for the life of the value, then puts the old value back.
struct EnvOverride {
    name: &'static str,
    old: Option<String>,
}

impl EnvOverride {
    fn set(name: &'static str, value: &str) -> Self {
        let old = std::env::var(name).ok();
        std::env::set_var(name, value);
        EnvOverride { name, old }
    }
}

impl Drop for EnvOverride {
    fn drop(&mut self) {
        match &self.old {
            Some(old) => std::env::set_var(self.name, old),
            None => std::env::remove_var(self.name),
        }
    }
}

/// Cuts `proxy` for at least [`OUTAGE`] and until each of `affected` has answered `/readyz` with
/// 503 (at most [`OUTAGE_MAX`]); fails if one did not, or if any service exits meanwhile.
fn outage(p: &mut Pipeline, proxy: &mut Proxy, what: &str, affected: &[usize]) {
    let started = Instant::now();
    proxy.cut();
    eprintln!("outage: {what} cut (proxy port {})", proxy.port);
    let mut seen: BTreeMap<usize, (u16, String)> = BTreeMap::new();
    let mut last: BTreeMap<usize, String> = BTreeMap::new();
    loop {
        p.ensure_running();
        for &i in affected {
            if seen.contains_key(&i) {
                continue;
            }
            match p.services[i].get("/readyz") {
                Ok((503, body)) => {
                    eprintln!(
                        "outage: {} answered 503 after {:.1} s: {}",
                        p.services[i].name,
                        started.elapsed().as_secs_f64(),
                        body.trim()
                    );
                    seen.insert(i, (503, body));
                }
                Ok((status, body)) => {
                    last.insert(i, format!("{status} {}", body.trim()));
                }
                Err(e) => {
                    last.insert(i, e);
                }
            }
        }
        let all_seen = affected.iter().all(|i| seen.contains_key(i));
        if (all_seen && started.elapsed() >= OUTAGE) || started.elapsed() >= OUTAGE_MAX {
            break;
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    p.ensure_running();
    let missing: Vec<String> = affected
        .iter()
        .filter(|i| !seen.contains_key(i))
        .map(|&i| {
            format!(
                "{}: last /readyz {}",
                p.services[i].name,
                last.get(&i).map_or("-", String::as_str)
            )
        })
        .collect();
    proxy.restore();
    eprintln!(
        "outage: {what} restored after {:.1} s",
        started.elapsed().as_secs_f64()
    );
    assert!(
        missing.is_empty(),
        "during the {what} outage, not every affected service answered /readyz with 503:\n  \
         {}\n{}",
        missing.join("\n  "),
        p.diagnostics()
    );
}

/// The dead letters of STG, de-duplicated by origin (a batch retried after an outage may
/// dead-letter a message twice), against the plan: what is wrong.
fn dead_letter_problems(p: &Pipeline, expected: &Expected) -> Vec<String> {
    let topic = dlq(&p.topics.source);
    let mut origins: BTreeMap<(String, String), usize> = BTreeMap::new();
    let mut letters: BTreeMap<(Vec<u8>, String), usize> = BTreeMap::new();
    let mut problems = Vec::new();
    for record in p.broker.read_topic(&topic) {
        let Some(reason) = record.header("vault.reason") else {
            problems.push(format!(
                "{topic} {}/{}: no vault.reason header",
                record.partition, record.offset
            ));
            continue;
        };
        let origin = (
            record.header("vault.source.partition").unwrap_or_default(),
            record.header("vault.source.offset").unwrap_or_default(),
        );
        let seen = origins.entry(origin).or_default();
        *seen += 1;
        if *seen == 1 {
            *letters.entry((record.payload, reason)).or_default() += 1;
        }
    }
    if letters != expected.dead_letters {
        let readable =
            |m: &BTreeMap<(Vec<u8>, String), usize>| -> BTreeMap<(String, String), usize> {
                m.iter()
                    .map(|((bytes, reason), n)| {
                        let text: String =
                            String::from_utf8_lossy(bytes).chars().take(80).collect();
                        ((reason.clone(), text), *n)
                    })
                    .collect()
            };
        problems.push(
            diff(
                &format!("{topic}: dead letters (reason, payload) → count"),
                &readable(&expected.dead_letters),
                &readable(&letters),
            )
            .unwrap_or_else(|| format!("{topic}: dead letters differ beyond the first 80 bytes")),
        );
    }
    let redelivered: usize = origins.values().map(|n| n - 1).sum();
    eprintln!(
        "dead letters: {} origins ({redelivered} redelivered); planned {:?}",
        origins.len(),
        expected.dead_letters_by_reason()
    );
    for topic in [dlq(&p.topics.stg), dlq(&p.topics.dds)] {
        match p.broker.total_messages(&topic) {
            Ok(0) => {}
            Ok(n) => problems.push(format!("{topic} holds {n} dead letter(s)")),
            Err(e) => problems.push(e),
        }
    }
    problems
}

#[test]
fn outage_of_postgres_and_redis_is_survived() {
    require_servers();
    let started = Instant::now();
    let plan = plan(&SimulateOptions {
        seed: seed(),
        restaurants: 4,
        users: 200,
        orders: 2500,
        duplicates: 0.1,
        cancel_after_close: 0.1,
        unknown: 0.03,
        garbage: 0.03,
        first_id: 30_000_000,
        ..SimulateOptions::default()
    });
    let messages = &plan.messages;
    let expected = Expected::from_plan(messages, &plan.catalog);
    // Sent over ~35 s: the flow goes on through both outages.
    let rate = messages.len() as f64 / 35.0;
    eprintln!(
        "plan: {} messages at {rate:.0}/s; {} known orders, {} closed, dead letters planned {:?}",
        messages.len(),
        expected.h_order.len(),
        expected.closed,
        expected.dead_letters_by_reason()
    );

    // Fixtures on the real servers.
    let mut redis = RedisKeys::new();
    load_dictionaries(redis.writer(), &plan.catalog).expect("load the dictionaries");
    redis.track(
        plan.catalog
            .users
            .iter()
            .map(|u| u.id.clone())
            .chain(plan.catalog.restaurants.iter().map(|r| r.id.clone())),
    );
    let mut pg_proxy = Proxy::start(&format!(
        "{}:{}",
        require_env("PG_WAREHOUSE_HOST"),
        require_env("PG_WAREHOUSE_PORT")
    ));
    let mut redis_proxy = Proxy::start(&format!(
        "{}:{}",
        require_env("REDIS_HOST"),
        require_env("REDIS_PORT")
    ));
    // The test database is created (and later checked and dropped) on the real port.
    let mut p = Pipeline::new("outage");
    let [stg, dds, cdm] = {
        // Only the services' environment points at the proxies.
        let _pg = [
            EnvOverride::set("PG_WAREHOUSE_HOST", "127.0.0.1"),
            EnvOverride::set("PG_WAREHOUSE_PORT", &pg_proxy.port.to_string()),
        ];
        let _redis = [
            EnvOverride::set("REDIS_HOST", "127.0.0.1"),
            EnvOverride::set("REDIS_PORT", &redis_proxy.port.to_string()),
        ];
        p.spawn_all()
    };
    let all = [stg, dds, cdm];
    p.wait_ready(&all, Duration::from_secs(30));

    let producer = Producer::new(
        &p.broker
            .kafka_config("e2e-producer", &p.topics.source, None),
    )
    .expect("a producer");
    let topic = p.topics.source.clone();
    std::thread::scope(|scope| {
        let sending = scope.spawn(|| {
            let sent = produce(
                &producer,
                &topic,
                messages,
                Some(rate),
                &Shutdown::default(),
                |_| {},
            )
            .expect("produce the source messages");
            assert_eq!(sent, messages.len());
        });
        std::thread::sleep(Duration::from_secs(3));

        outage(&mut p, &mut pg_proxy, "PostgreSQL", &all);
        p.wait_ready(&all, RECOVERY);
        std::thread::sleep(Duration::from_secs(2));

        outage(&mut p, &mut redis_proxy, "Redis", &[stg]);
        p.wait_ready(&all, RECOVERY);

        sending.join().expect("the producer thread");
    });
    eprintln!(
        "outage: every message sent after {:.1} s",
        started.elapsed().as_secs_f64()
    );

    p.settle("the exact end state", |p| expected.verify(&p.db));
    let problems = dead_letter_problems(&p, &expected);
    assert!(
        problems.is_empty(),
        "the warehouse is exact, but:\n  {}\n{}",
        problems.join("\n  "),
        p.diagnostics()
    );
    p.wait_ready(&all, Duration::from_secs(30));
    eprintln!(
        "outage_of_postgres_and_redis_is_survived: {:.1} s in all",
        started.elapsed().as_secs_f64()
    );
}

/// How long the warehouse stays read-only.
const READ_ONLY_FOR: Duration = Duration::from_secs(20);

/// Mid-stream the warehouse database turns read-only for [`READ_ONLY_FOR`]
/// (`ALTER DATABASE … SET default_transaction_read_only = on`, then every session cut with
/// `pg_terminate_backend`), then writable again, its sessions left as they are. Each service
/// reports it on `/readyz` (503), and afterwards every layer is exact and the dead letters are
/// exactly the bad messages of the plan, once each, none downstream: a refusal for SQLSTATE
/// 25006 or 57P01 is no message's fault (before, the isolation pass dead-lettered valid orders
/// as `rejected_by_warehouse`).
#[test]
fn a_read_only_warehouse_dead_letters_nothing() {
    require_servers();
    let started = Instant::now();
    let plan = simulate(seed(), 31_000_000, 3_000, 0.02);
    let messages = &plan.messages;
    let expected = Expected::from_plan(messages, &plan.catalog);
    let _redis = load_catalog(&plan.catalog);
    let mut p = Pipeline::new("readonly");
    let ids = p.spawn_all();
    p.wait_ready(&ids, Duration::from_secs(60));
    let producer = producer(&p);
    let topic = p.topics.source.clone();
    // Sent over ~40 s: the flow goes on before, during and after the window.
    let rate = messages.len() as f64 / 40.0;
    let stop = Shutdown::default();
    let mut not_ready: BTreeMap<usize, String> = BTreeMap::new();
    std::thread::scope(|scope| {
        let _unwind = StopOnUnwind(&stop);
        let sending = scope.spawn(|| send_until(&producer, &topic, messages, Some(rate), &stop));
        std::thread::sleep(Duration::from_secs(6));
        p.db.set_read_only(true);
        let cut = p.db.cut_sessions();
        let window = Instant::now();
        eprintln!(
            "read-only: database {} read-only, {cut} sessions cut",
            p.db.name
        );
        watch_not_ready(
            &mut p,
            &ids,
            window,
            READ_ONLY_FOR,
            "the database turned read-only",
            &mut not_ready,
        );
        p.db.set_read_only(false);
        eprintln!(
            "read-only: writable again after {:.1} s",
            window.elapsed().as_secs_f64()
        );
        sending.join().expect("the producer thread");
    });
    assert_each_was_not_ready(&p, &ids, &not_ready, "while the warehouse was read-only");
    let writable = Instant::now();
    p.settle("the exact end state after the read-only window", |p| {
        expected.verify(&p.db)
    });
    eprintln!(
        "read-only: exact {:.1} s after the database was writable again",
        writable.elapsed().as_secs_f64()
    );
    verify_dead_letters(&p, &expected, true, true);
    verify_no_downstream_dead_letters(&p);
    p.wait_ready(&ids, Duration::from_secs(30));
    eprintln!(
        "a_read_only_warehouse_dead_letters_nothing: {:.1} s in all",
        started.elapsed().as_secs_f64()
    );
}
