//! Exactly-once from the warehouse's own positions (docs/contract.md §7.7), with the three
//! services as real processes on the shared Apache Kafka:
//!
//! * the offsets of all three consumer groups reset to 0 with the admin API while the services
//!   are stopped: after the restart nothing is applied or produced again;
//! * a process that dies right after the warehouse commit and before the offset commit (the
//!   test-only failpoint `VAULT_TEST_FAILPOINT=after-warehouse-commit:N`): after its restart
//!   nothing is applied or produced again, and the dead letters the batch decided are delivered
//!   from the warehouse, once;
//! * a process that dies after the broker acknowledged its dead letters and before the
//!   warehouse forgot them (`after-dead-letter-produce:1`): after its restart it finds them on
//!   the topic and produces none again.
//!
//! Both end with every layer equal to the expectation computed from the simulator's plan.

mod common;

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use common::expected::Expected;
use common::scenario::{
    assert_downstream_exactly_once, load_catalog, producer, send, simulate, verify_dead_letters,
    verify_no_downstream_dead_letters,
};
use vault_services::simulate::{plan, SimulateOptions};
use vault_testkit::http::metric_sum;
use vault_testkit::pipeline::{Kind, Pipeline};
use vault_testkit::{require_servers, seed};

/// `scripts/stack reset-offsets GROUP TOPIC 0` on the shared stack (`vault admin
/// reset-offsets`, the binary under test: offsets committed from outside the group, as
/// `kafka-consumer-groups --reset-offsets` does).
fn reset_offsets(group: &str, topic: &str) {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../scripts/stack");
    let output = Command::new(script)
        .args(["reset-offsets", group, topic, "0"])
        .env("VAULT_BIN", env!("CARGO_BIN_EXE_vault"))
        .output()
        .expect("run scripts/stack reset-offsets");
    assert!(
        output.status.success(),
        "scripts/stack reset-offsets {group} {topic} 0 failed:\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    eprintln!("{}", String::from_utf8_lossy(&output.stdout).trim());
}

/// Messages on every topic of the pipeline (downstream and dead letters).
fn high_watermarks(p: &Pipeline) -> BTreeMap<String, i64> {
    p.topics
        .all()
        .into_iter()
        .map(|t| {
            let n = p
                .broker
                .total_messages(&t)
                .unwrap_or_else(|e| panic!("count {t}: {e}"));
            (t, n)
        })
        .collect()
}

/// Σ of a counter over the running replicas of `ids`.
fn counter(p: &Pipeline, ids: &[usize], name: &str) -> f64 {
    ids.iter()
        .map(|&i| {
            let text = p.services[i]
                .metrics()
                .unwrap_or_else(|e| panic!("{}: /metrics: {e}", p.services[i].name));
            metric_sum(&text, name).unwrap_or(0.0)
        })
        .sum()
}

/// Every service stopped cleanly (SIGTERM, exit 0).
fn stop_all(p: &mut Pipeline, ids: &[usize]) {
    for &i in ids {
        let name = p.services[i].name.clone();
        let (status, _) = p.services[i]
            .terminate(Duration::from_secs(10))
            .unwrap_or_else(|| panic!("{name} did not stop within 10 s"));
        assert!(status.success(), "{name} exited with {status}");
    }
}

#[test]
fn offsets_reset_to_zero_apply_and_produce_nothing_again() {
    require_servers();
    let plan = simulate(seed(), 50_000_000, 1_500, 0.02);
    let messages = &plan.messages;
    let expected = Expected::from_plan(messages, &plan.catalog);
    let _redis = load_catalog(&plan.catalog);
    let mut p = Pipeline::new("reset");
    let ids = p.spawn_all();
    p.wait_ready(&ids, Duration::from_secs(60));
    send(&producer(&p), &p.topics.source.clone(), messages, None);
    p.settle("the exact end state", |p| expected.verify(&p.db));
    let before = high_watermarks(&p);
    stop_all(&mut p, &ids);

    let groups = [
        (Kind::Stg, p.topics.source.clone()),
        (Kind::Dds, p.topics.stg.clone()),
        (Kind::Cdm, p.topics.dds.clone()),
    ];
    for (kind, topic) in &groups {
        let group = p.group(*kind).to_owned();
        reset_offsets(&group, topic);
        let total = p.broker.total_messages(topic).expect("count the topic");
        let behind = p.broker.uncommitted(&group, topic).expect("group offsets");
        assert_eq!(
            behind, total,
            "after the reset, group {group} should be behind by all of {topic}"
        );
    }

    for &i in &ids {
        p.services[i].start();
    }
    p.wait_ready(&ids, Duration::from_secs(60));
    // The services commit the warehouse's positions as the groups' offsets on assignment.
    p.wait_for(
        "every group's offsets back at the end",
        Duration::from_secs(60),
        |p| p.drained(),
    );
    // A few batch waits more: anything re-read would have been applied and produced by now.
    std::thread::sleep(Duration::from_secs(3));
    assert_eq!(
        high_watermarks(&p),
        before,
        "a topic grew after the restart: something was produced again\n{}",
        p.diagnostics()
    );
    assert_eq!(counter(&p, &ids, "vault_messages_reapplied_total"), 0.0);
    assert_eq!(
        counter(&p, &ids, "vault_batch_size_messages_sum"),
        0.0,
        "the restarted services read messages the warehouse already held\n{}",
        p.diagnostics()
    );
    for &i in &ids {
        let log = std::fs::read_to_string(&p.services[i].log).unwrap_or_default();
        assert!(
            log.contains("starting from the warehouse's position"),
            "{} did not say it resumed from the warehouse's positions\n{}",
            p.services[i].name,
            p.diagnostics()
        );
    }
    p.settle("the same exact end state after the restart", |p| {
        expected.verify(&p.db)
    });
    verify_dead_letters(&p, &expected, true, true);
    verify_no_downstream_dead_letters(&p);
    assert_downstream_exactly_once(&p, messages);
}

#[test]
fn a_crash_between_the_warehouse_and_the_offset_commit_reapplies_nothing() {
    require_servers();
    let plan = simulate(seed(), 51_000_000, 1_200, 0.02);
    let messages = &plan.messages;
    let expected = Expected::from_plan(messages, &plan.catalog);
    let _redis = load_catalog(&plan.catalog);
    let mut p = Pipeline::new("failpoint");
    // Each dies after its third committed batch, before that batch's offsets reach Kafka.
    let failpoint = [("VAULT_TEST_FAILPOINT", "after-warehouse-commit:3")];
    let ids = [
        p.spawn_with(Kind::Stg, &failpoint),
        p.spawn_with(Kind::Dds, &failpoint),
        p.spawn_with(Kind::Cdm, &failpoint),
    ];
    p.wait_ready(&ids, Duration::from_secs(60));
    // A trickle, so that each service commits many small batches.
    send(
        &producer(&p),
        &p.topics.source.clone(),
        messages,
        Some(300.0),
    );
    // A service that died is restarted without its failpoint at once: the next stage only
    // reaches its third batch once the one before it goes on.
    // (Not Pipeline::wait_for: it fails as soon as a replica has exited.)
    let mut died = [false; 3];
    let deadline = Instant::now() + Duration::from_secs(90);
    while !died.iter().all(|d| *d) {
        assert!(
            Instant::now() < deadline,
            "not every service reached its failpoint within 90 s: {died:?} (stg, dds, cdm)\n{}",
            p.diagnostics()
        );
        for (k, &i) in ids.iter().enumerate() {
            if died[k] {
                continue;
            }
            let Some(status) = p.services[i].reap() else {
                continue;
            };
            let log = std::fs::read_to_string(&p.services[i].log).unwrap_or_default();
            assert!(
                !status.success() && log.contains("VAULT_TEST_FAILPOINT after-warehouse-commit"),
                "{} exited with {status}, not at its failpoint\n{}",
                p.services[i].name,
                p.diagnostics()
            );
            eprintln!(
                "{}: died at its failpoint ({status}); restarting it",
                p.services[i].name
            );
            died[k] = true;
            p.services[i].set_env("VAULT_TEST_FAILPOINT", None);
            p.services[i].start();
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    p.wait_ready(&ids, Duration::from_secs(60));
    p.settle("the exact end state after the crashes", |p| {
        expected.verify(&p.db)
    });
    assert_eq!(
        counter(&p, &ids, "vault_messages_reapplied_total"),
        0.0,
        "a restarted service applied again what its warehouse had committed\n{}",
        p.diagnostics()
    );
    // The crash did leave the warehouse ahead of the group: the restart started from there.
    for &i in &ids {
        let log = std::fs::read_to_string(&p.services[i].log).unwrap_or_default();
        assert!(
            log.contains("starting from the warehouse's position"),
            "{} did not resume from the warehouse's positions after its crash\n{}",
            p.services[i].name,
            p.diagnostics()
        );
    }
    verify_dead_letters(&p, &expected, true, true);
    verify_no_downstream_dead_letters(&p);
    assert_downstream_exactly_once(&p, messages);
}

#[test]
fn a_crash_after_the_dead_letters_were_produced_sends_none_twice() {
    require_servers();
    let plan = simulate(seed(), 52_000_000, 600, 0.05);
    let messages = &plan.messages;
    let expected = Expected::from_plan(messages, &plan.catalog);
    let _redis = load_catalog(&plan.catalog);
    let mut p = Pipeline::new("dlqcrash");
    let failpoint = [("VAULT_TEST_FAILPOINT", "after-dead-letter-produce:1")];
    let stg = p.spawn_with(Kind::Stg, &failpoint);
    let ids = [stg, p.spawn(Kind::Dds), p.spawn(Kind::Cdm)];
    p.wait_ready(&ids, Duration::from_secs(60));
    send(
        &producer(&p),
        &p.topics.source.clone(),
        messages,
        Some(300.0),
    );
    // (Not Pipeline::wait_for: it fails as soon as a replica has exited.)
    let deadline = Instant::now() + Duration::from_secs(60);
    let status = loop {
        if let Some(status) = p.services[stg].reap() {
            break status;
        }
        assert!(
            Instant::now() < deadline,
            "stg did not reach its failpoint within 60 s\n{}",
            p.diagnostics()
        );
        std::thread::sleep(Duration::from_millis(100));
    };
    let log = std::fs::read_to_string(&p.services[stg].log).unwrap_or_default();
    assert!(
        !status.success() && log.contains("VAULT_TEST_FAILPOINT after-dead-letter-produce"),
        "stg exited with {status}, not at its failpoint\n{}",
        p.diagnostics()
    );
    eprintln!("stg: died after its first dead letters were acknowledged ({status}); restarting it");
    p.services[stg].set_env("VAULT_TEST_FAILPOINT", None);
    p.services[stg].start();
    p.wait_ready(&ids, Duration::from_secs(60));
    p.settle("the exact end state after the crash", |p| {
        expected.verify(&p.db)
    });
    let log = std::fs::read_to_string(&p.services[stg].log).unwrap_or_default();
    assert!(
        log.contains("waiting dead letters found on their topic already"),
        "the restarted stg did not look for its waiting dead letters on the topic\n{}",
        p.diagnostics()
    );
    verify_dead_letters(&p, &expected, true, true);
    verify_no_downstream_dead_letters(&p);
    assert_downstream_exactly_once(&p, messages);
}

/// Each source partition's end offset, by partition.
fn end_offsets(p: &Pipeline, topic: &str) -> BTreeMap<i32, i64> {
    use rdkafka::consumer::{BaseConsumer, Consumer};
    let consumer: BaseConsumer = p.broker.client_config().create().expect("a consumer");
    let metadata = consumer
        .fetch_metadata(Some(topic), Duration::from_secs(10))
        .expect("metadata");
    metadata.topics()[0]
        .partitions()
        .iter()
        .map(|part| {
            let (_, high) = consumer
                .fetch_watermarks(topic, part.id(), Duration::from_secs(10))
                .expect("watermarks");
            (part.id(), high)
        })
        .collect()
}

/// Deletes the records of `topic` before `before[partition]` (the admin API's DeleteRecords:
/// what retention does to a topic while a group is away).
/// How much service `id` has logged so far: where what it logs next starts.
fn log_length(p: &Pipeline, id: usize) -> usize {
    std::fs::read_to_string(&p.services[id].log).map_or(0, |l| l.len())
}

/// Checks that service `id` counts `lost` offsets lost in all, and that since `log_from` it
/// said one ERROR per partition with a gap (`gaps` of them), naming `topic`; returns what it
/// logged since.
fn gaps_said(
    p: &Pipeline,
    id: usize,
    log_from: usize,
    lost: i64,
    gaps: usize,
    topic: &str,
) -> String {
    let text = p.services[id].metrics().expect("metrics");
    assert_eq!(
        metric_sum(&text, "vault_offsets_lost_total"),
        Some(lost as f64)
    );
    let log = std::fs::read_to_string(&p.services[id].log).expect("log");
    let since = log[log_from..].to_owned();
    let said: Vec<&str> = since
        .lines()
        .filter(|l| l.contains("offsets deleted upstream before they were read"))
        .collect();
    assert_eq!(
        said.len(),
        gaps,
        "one ERROR per partition with a gap: {said:?}"
    );
    for line in &said {
        assert!(line.contains("\"ERROR\"") && line.contains(topic), "{line}");
    }
    since
}

/// Waits up to a minute for service `id` to exit, checks it exited with 1 (`what`, if it does
/// not), and returns its log.
fn exits_with_1(p: &mut Pipeline, id: usize, what: &str) -> String {
    let mut exit = None;
    let waited = Instant::now();
    while exit.is_none() && waited.elapsed() < Duration::from_secs(60) {
        exit = p.services[id].reap();
        std::thread::sleep(Duration::from_millis(200));
    }
    let exit = exit.unwrap_or_else(|| panic!("{what}"));
    assert_eq!(exit.code(), Some(1), "{exit:?}");
    std::fs::read_to_string(&p.services[id].log).expect("log")
}

fn delete_records(p: &Pipeline, topic: &str, before: &BTreeMap<i32, i64>) {
    use rdkafka::admin::{AdminClient, AdminOptions};
    use rdkafka::client::DefaultClientContext;
    use rdkafka::{Offset, TopicPartitionList};
    let admin: AdminClient<DefaultClientContext> =
        p.broker.client_config().create().expect("an admin client");
    let mut list = TopicPartitionList::new();
    for (&partition, &offset) in before {
        list.add_partition_offset(topic, partition, Offset::Offset(offset))
            .expect("partition offset");
    }
    let done = futures_executor::block_on(admin.delete_records(&list, &AdminOptions::new()))
        .expect("delete records");
    for element in done.elements() {
        assert!(element.error().is_ok(), "{element:?}");
    }
}

/// Records of the source topic deleted by retention while stg-service was stopped, past its
/// position: with `KAFKA_LOST_OFFSETS=stop` it exits 1 naming the gap and loads nothing; with
/// the default (`skip`) it logs one ERROR per partition with the lost range, counts them in
/// `vault_offsets_lost_total`, and loads what is left from each partition's first offset.
#[test]
fn offsets_deleted_upstream_are_said_counted_and_the_policy_followed() {
    require_servers();
    let first = plan(&SimulateOptions {
        seed: seed(),
        orders: 200,
        first_id: 61_000_000,
        duplicates: 0.0,
        cancel_after_close: 0.0,
        unknown: 0.0,
        garbage: 0.0,
        ..SimulateOptions::default()
    });
    let second = plan(&SimulateOptions {
        seed: seed(),
        orders: 200,
        first_id: 62_000_000,
        duplicates: 0.0,
        cancel_after_close: 0.0,
        unknown: 0.0,
        garbage: 0.0,
        ..SimulateOptions::default()
    });
    let _redis = load_catalog(&first.catalog);
    let mut p = Pipeline::new("lost_offsets");
    let stg = p.spawn(Kind::Stg);
    let source = p.topics.source.clone();
    let producer = producer(&p);
    send(&producer, &source, &first.messages, None);
    p.wait_for("the first orders in stg", Duration::from_secs(60), |p| {
        let n = p.db.scalar("SELECT count(*) FROM stg.order_events");
        (n == 200).then_some(()).ok_or(format!("{n} of 200"))
    });
    let read: BTreeMap<i32, i64> = end_offsets(&p, &source);
    p.services[stg].terminate(Duration::from_secs(10));

    // While it is away: 200 more orders, and retention deletes all but the last 10 of each
    // partition.
    send(&producer, &source, &second.messages, None);
    let ends = end_offsets(&p, &source);
    let before: BTreeMap<i32, i64> = ends
        .iter()
        .map(|(&k, &e)| (k, (e - 10).max(read[&k])))
        .collect();
    delete_records(&p, &source, &before);
    let lost: i64 = before.iter().map(|(k, b)| b - read[k]).sum();
    assert!(lost > 100, "{lost} offsets deleted past the position");

    // stop: exits 1 naming the gap, loads nothing.
    p.services[stg].set_env("KAFKA_LOST_OFFSETS", Some("stop"));
    p.services[stg].start();
    let log = exits_with_1(&mut p, stg, "stg-service stops on lost offsets");
    assert!(log.contains("KAFKA_LOST_OFFSETS=stop"), "{log}");
    assert_eq!(p.db.scalar("SELECT count(*) FROM stg.order_events"), 200);

    // skip (the default): said, counted, and the rest loaded.
    p.services[stg].set_env("KAFKA_LOST_OFFSETS", None);
    let log_from = log_length(&p, stg);
    p.services[stg].start();
    let remaining: i64 = ends.iter().map(|(k, e)| e - before[k]).sum();
    p.wait_for(
        "the orders left after the gap in stg",
        Duration::from_secs(60),
        |p| {
            let n = p.db.scalar("SELECT count(*) FROM stg.order_events");
            (n == 200 + remaining)
                .then_some(())
                .ok_or(format!("{n} of {}", 200 + remaining))
        },
    );
    let gaps: usize = before.iter().filter(|(k, b)| **b > read[*k]).count();
    gaps_said(&p, stg, log_from, lost, gaps, &source);
    p.services[stg].terminate(Duration::from_secs(10));
}

/// While a replica runs, retention deletes what it has not read yet: it is frozen (SIGSTOP)
/// for less than the session timeout, so it stays in its group with its partitions, 200 orders
/// are sent and all but the last 10 of each partition deleted, then it is thawed. Its fetch
/// positions are gone; librdkafka resets them to the first offsets by itself
/// (`auto.offset.reset=earliest`), and the service tells it from librdkafka's warning: with
/// `KAFKA_LOST_OFFSETS=stop` it exits 1 with nothing past the gap loaded; with `skip` it logs
/// one ERROR per partition with the range, counts it and loads the rest, without a rebalance.
#[test]
fn offsets_deleted_under_a_running_replica_are_said_counted_and_the_policy_followed() {
    require_servers();
    let seed = seed();
    let options = |first_id| SimulateOptions {
        seed,
        orders: 200,
        first_id,
        duplicates: 0.0,
        cancel_after_close: 0.0,
        unknown: 0.0,
        garbage: 0.0,
        ..SimulateOptions::default()
    };
    let plans = [63_000_000, 64_000_000, 65_000_000].map(|id| plan(&options(id)));
    let _redis = load_catalog(&plans[0].catalog);
    let mut p = Pipeline::new("lost_running");
    let source = p.topics.source.clone();
    let producer = producer(&p);
    let loaded = |p: &mut Pipeline, what: &str, want: i64| {
        p.wait_for(what, Duration::from_secs(60), |p| {
            let n = p.db.scalar("SELECT count(*) FROM stg.order_events");
            (n == want).then_some(()).ok_or(format!("{n} of {want}"))
        });
    };
    // Freezes the replica, sends `messages`, deletes all but the last 10 of each partition
    // past what it read, thaws it. (lost, left after the gap, partitions with a gap)
    let overtake = |p: &mut Pipeline, stg: usize, messages| {
        let read = end_offsets(p, &source);
        let pid = p.services[stg].pid().expect("running").to_string();
        let signal = |name: &str| {
            let status = Command::new("kill").args([name, pid.as_str()]).status();
            assert!(status.is_ok_and(|s| s.success()), "kill {name} {pid}");
        };
        let frozen = Instant::now();
        signal("-STOP");
        // A fetch it sent before is answered empty (fetch.wait.max.ms, 100 ms) before anything
        // is sent: else the broker answers it with the new messages, and the frozen replica
        // has them before the deletion.
        std::thread::sleep(Duration::from_millis(500));
        send(&producer, &source, messages, None);
        let ends = end_offsets(p, &source);
        let before: BTreeMap<i32, i64> = ends
            .iter()
            .map(|(&k, &e)| (k, (e - 10).max(read[&k])))
            .collect();
        delete_records(p, &source, &before);
        signal("-CONT");
        // Under the session timeout (10 s): still a member, no rebalance.
        assert!(
            frozen.elapsed() < Duration::from_secs(7),
            "{:?}",
            frozen.elapsed()
        );
        let lost: i64 = before.iter().map(|(k, b)| b - read[k]).sum();
        let left: i64 = ends.iter().map(|(k, e)| e - before[k]).sum();
        let gaps = before.iter().filter(|(k, b)| **b > read[*k]).count();
        assert!(lost > 100, "{lost} offsets deleted past the position");
        (lost, left, gaps)
    };

    // stop: exits 1 naming the gap; nothing past it is loaded.
    let stg = p.spawn_with(Kind::Stg, &[("KAFKA_LOST_OFFSETS", "stop")]);
    send(&producer, &source, &plans[0].messages, None);
    loaded(&mut p, "the first orders in stg", 200);
    let (lost_first, left_first, _) = overtake(&mut p, stg, &plans[1].messages);
    let log = exits_with_1(
        &mut p,
        stg,
        "stg-service stops on offsets lost while it runs",
    );
    assert!(log.contains("KAFKA_LOST_OFFSETS=stop"), "{log}");
    assert!(
        log.contains("offsets deleted upstream before they were read"),
        "{log}"
    );
    assert_eq!(p.db.scalar("SELECT count(*) FROM stg.order_events"), 200);

    // skip: started again, it finds that gap on assignment and loads what is left; then the
    // same while it runs.
    p.services[stg].set_env("KAFKA_LOST_OFFSETS", None);
    p.services[stg].start();
    loaded(
        &mut p,
        "the orders left after the first gap",
        200 + left_first,
    );
    let log_from = log_length(&p, stg);
    let (lost_second, left_second, gaps) = overtake(&mut p, stg, &plans[2].messages);
    loaded(
        &mut p,
        "the orders left after the second gap",
        200 + left_first + left_second,
    );
    let since = gaps_said(&p, stg, log_from, lost_first + lost_second, gaps, &source);
    assert!(
        !since.contains("partitions assigned"),
        "found on a new assignment, not while running: {since}"
    );
    p.services[stg].terminate(Duration::from_secs(10));
}
