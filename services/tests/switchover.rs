//! A switchover of the warehouse on loopback, as a managed PostgreSQL cluster does one: the
//! services are configured with both hosts of a primary–standby pair of the test's own
//! (`vault_testkit::stack::PgPair`: `scripts/stack up postgres` and `standby-up`, a
//! `pg_basebackup -R` streaming replica) and `target_session_attrs=read-write`; mid-stream the
//! primary is stopped and, a few seconds later, the standby promoted. The services must report
//! it (`/readyz` 503), find the new primary by themselves (no restart), and end with every layer
//! exact and the dead letters exactly the bad messages of the plan, once each, none downstream.
//!
//! Run in the serial fault phase of scripts/test (.config/nextest.toml, group `faults`).

mod common;

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use vault_services::shutdown::Shutdown;

use common::expected::Expected;
use common::scenario::{
    assert_each_was_not_ready, load_catalog, producer, send_until, simulate, verify_dead_letters,
    verify_no_downstream_dead_letters, watch_not_ready, StopOnUnwind,
};
use vault_testkit::kafka::Broker;
use vault_testkit::pipeline::Pipeline;
use vault_testkit::stack::PgPair;
use vault_testkit::{require_servers, seed, TestDb};

/// How long there is no primary: from the old one's stop to the standby's promotion.
const NO_PRIMARY_FOR: Duration = Duration::from_secs(8);

#[test]
fn primary_stopped_and_standby_promoted_mid_stream() {
    require_servers();
    let started = Instant::now();
    let pair = PgPair::start();
    let plan = simulate(seed(), 47_000_000, 3_000, 0.02);
    let messages = &plan.messages;
    let expected = Expected::from_plan(messages, &plan.catalog);
    let _redis = load_catalog(&plan.catalog);
    let db = TestDb::new_on(pair.config(), "switchover");
    let mut p = Pipeline::on_database("switchover", Broker::local(), db);
    // Both hosts, the primary first; read-write is the default, said here for the reader.
    p.set_setting("PG_WAREHOUSE_HOST", Some(&pair.hosts()));
    p.set_setting("PG_WAREHOUSE_TARGET_SESSION_ATTRS", Some("read-write"));
    let ids = p.spawn_all();
    p.wait_ready(&ids, Duration::from_secs(60));
    let producer = producer(&p);
    let topic = p.topics.source.clone();
    // Sent over ~40 s: the flow goes on before, during and after the switchover.
    let rate = messages.len() as f64 / 40.0;
    let stop = Shutdown::default();
    let mut not_ready: BTreeMap<usize, String> = BTreeMap::new();
    let mut sent_at = Instant::now();
    std::thread::scope(|scope| {
        let _unwind = StopOnUnwind(&stop);
        let sending = scope.spawn(|| send_until(&producer, &topic, messages, Some(rate), &stop));
        std::thread::sleep(Duration::from_secs(6));
        pair.stop_primary();
        let stopped = Instant::now();
        watch_not_ready(
            &mut p,
            &ids,
            stopped,
            NO_PRIMARY_FOR,
            "the primary stopped",
            &mut not_ready,
        );
        pair.promote_standby();
        eprintln!(
            "switchover: the standby is the primary, {:.1} s after the old one stopped",
            stopped.elapsed().as_secs_f64()
        );
        sending.join().expect("the producer thread");
        sent_at = Instant::now();
    });
    assert_each_was_not_ready(&p, &ids, &not_ready, "while there was no primary");
    p.settle("the exact end state after the switchover", |p| {
        expected.verify(&p.db)
    });
    eprintln!(
        "switchover: exact {:.1} s after the last message was sent",
        sent_at.elapsed().as_secs_f64()
    );
    p.wait_ready(&ids, Duration::from_secs(30));
    assert!(
        p.services.iter().all(|s| s.starts == 1),
        "a service had to be restarted\n{}",
        p.diagnostics()
    );
    verify_dead_letters(&p, &expected, true, true);
    verify_no_downstream_dead_letters(&p);
    eprintln!(
        "primary_stopped_and_standby_promoted_mid_stream: {:.1} s in all",
        started.elapsed().as_secs_f64()
    );
}
