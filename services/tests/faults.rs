//! Faults of the consumers and of the broker, on real Apache Kafka with the three services as
//! real processes (run via `scripts/test`, which runs this binary in its own serial phase).
//!
//! * a consumer storm: services SIGKILLed and restarted at once, again and again;
//! * a broker crash and restart; a frozen broker that comes back;
//! * a leader failover on a 3-node cluster;
//! * replicas joining and leaving under load;
//! * SIGTERM while the broker is frozen or dead: each service exits within 10 s.
//!
//! The tests that hurt a broker start a Kafka cluster of their own (`common::stack`). Each test
//! ends with every layer equal to an expectation computed from the simulator's plan alone
//! (`common::expected`) and the dead letters equal to exactly the bad messages.

mod common;

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use vault_core::orders::sample::Rng;
use vault_services::shutdown::Shutdown;

use common::expected::Expected;
use common::scenario::{
    assert_downstream_exactly_once, assignment_events, load_catalog, log_len, owned_now, producer,
    send, send_until, simulate, verify_dead_letters, verify_no_downstream_dead_letters,
    StopOnUnwind,
};
use vault_testkit::http::metric_sum;
use vault_testkit::kafka::PARTITIONS;
use vault_testkit::pipeline::{Kind, Pipeline};
use vault_testkit::stack::KafkaStack;
use vault_testkit::{require_servers, seed};

/// The longest a service may take from SIGTERM to exit (the services promise it; Kubernetes
/// gives 30 s by default).
const EXIT_BOUND: Duration = Duration::from_secs(10);

/// How long after the last fault the pipeline may take to reach the exact end state.
const RECOVERY_BOUND: Duration = Duration::from_secs(180);

/// Waits (at least `min`, at most `max`) until each of `indices` answers `/readyz` with 503;
/// fails if one never did. Returns how long it took.
fn wait_not_ready(p: &mut Pipeline, indices: &[usize], min: Duration, max: Duration) -> Duration {
    let started = Instant::now();
    let mut seen = vec![false; indices.len()];
    let mut last = vec![String::new(); indices.len()];
    loop {
        p.ensure_running();
        for (k, &i) in indices.iter().enumerate() {
            if seen[k] {
                continue;
            }
            match p.services[i].get("/readyz") {
                Ok((503, body)) => {
                    eprintln!(
                        "{}: /readyz 503 after {:.1} s: {}",
                        p.services[i].name,
                        started.elapsed().as_secs_f64(),
                        body.trim()
                    );
                    seen[k] = true;
                }
                Ok((status, body)) => last[k] = format!("{status} {}", body.trim()),
                Err(e) => last[k] = e,
            }
        }
        let all = seen.iter().all(|s| *s);
        if all && started.elapsed() >= min {
            return started.elapsed();
        }
        if started.elapsed() >= max {
            let missing: Vec<String> = indices
                .iter()
                .zip(&seen)
                .zip(&last)
                .filter(|((_, s), _)| !**s)
                .map(|((&i, _), l)| format!("{}: last /readyz {l}", p.services[i].name))
                .collect();
            panic!(
                "not every service reported the broker outage on /readyz within {max:?}:\n  {}\n{}",
                missing.join("\n  "),
                p.diagnostics()
            );
        }
        std::thread::sleep(Duration::from_millis(250));
    }
}

/// Every service gets SIGTERM and must exit 0 within [`EXIT_BOUND`].
fn terminate_all(p: &mut Pipeline, ids: &[usize], what: &str) {
    for &i in ids {
        let name = p.services[i].name.clone();
        let Some((status, took)) = p.services[i].terminate(EXIT_BOUND) else {
            panic!(
                "{name} did not exit within {EXIT_BOUND:?} of SIGTERM ({what})\n{}",
                p.diagnostics()
            );
        };
        eprintln!(
            "{name}: exited ({status}) {:.2} s after SIGTERM ({what})",
            took.as_secs_f64()
        );
        assert!(
            status.success(),
            "{name} exited with {status} after SIGTERM ({what})\n{}",
            p.diagnostics()
        );
    }
}

#[test]
fn consumer_storm() {
    require_servers();
    let seed = seed();
    let plan = simulate(seed, 40_000_000, 20_000, 0.005);
    let messages = &plan.messages;
    let expected = Expected::from_plan(messages, &plan.catalog);
    let _redis = load_catalog(&plan.catalog);

    let mut p = Pipeline::new("storm");
    let ids = p.spawn_all();
    let producer = producer(&p);
    let topic = p.topics.source.clone();
    let mut rng = Rng::new(seed ^ 0x5707);
    // The orders flow during the whole storm (20 kills, 1-3 s apart: about 40 s).
    let rate = messages.len() as f64 / 40.0;
    let started = Instant::now();
    let mut kills = Vec::new();
    let stop = Shutdown::default();
    std::thread::scope(|scope| {
        let _unwind = StopOnUnwind(&stop);
        let sending = scope.spawn(|| send_until(&producer, &topic, messages, Some(rate), &stop));
        for _ in 0..20 {
            std::thread::sleep(Duration::from_millis(1000 + rng.below(2001)));
            let i = ids[rng.below(ids.len() as u64) as usize];
            p.ensure_running();
            p.services[i].crash();
            p.services[i].start();
            kills.push(p.services[i].name.clone());
        }
        sending.join().expect("the producer thread");
    });
    let storm = started.elapsed();
    eprintln!(
        "consumer storm: {} messages at {rate:.0}/s, 20 SIGKILL + immediate restarts in {:.1} s: \
         {kills:?}",
        messages.len(),
        storm.as_secs_f64()
    );
    let after = Instant::now();
    p.settle_within("the exact end state after the storm", RECOVERY_BOUND, |p| {
        expected.verify(&p.db)
    });
    eprintln!(
        "consumer storm: exact {:.1} s after the last restart (bound {RECOVERY_BOUND:?})",
        after.elapsed().as_secs_f64()
    );
    verify_dead_letters(&p, &expected, false, false);
    verify_no_downstream_dead_letters(&p);
}

#[test]
fn broker_crash_and_restart() {
    require_servers();
    let seed = seed();
    let stack = KafkaStack::start(1);
    let plan = simulate(seed, 41_000_000, 6_000, 0.01);
    let messages = &plan.messages;
    let expected = Expected::from_plan(messages, &plan.catalog);
    let _redis = load_catalog(&plan.catalog);

    let mut p = Pipeline::with_broker("brokercrash", stack.broker());
    let ids = p.spawn_all();
    p.wait_ready(&ids, Duration::from_secs(60));
    let producer = producer(&p);
    let topic = p.topics.source.clone();
    let down_for = Duration::from_secs(5 + Rng::new(seed).below(16));
    let stop = Shutdown::default();
    std::thread::scope(|scope| {
        let _unwind = StopOnUnwind(&stop);
        let sending = scope.spawn(|| send_until(&producer, &topic, messages, Some(400.0), &stop));
        std::thread::sleep(Duration::from_secs(4));
        stack.kill(1);
        let killed = Instant::now();
        let took = wait_not_ready(&mut p, &ids, Duration::ZERO, Duration::from_secs(30));
        eprintln!(
            "broker down: every service not ready after {:.1} s",
            took.as_secs_f64()
        );
        std::thread::sleep(down_for.saturating_sub(killed.elapsed()));
        eprintln!(
            "broker down for {:.1} s; restarting it",
            killed.elapsed().as_secs_f64()
        );
        stack.start_node(1);
        sending.join().expect("the producer thread");
    });
    // The services stayed up (settle fails at once if one exited), and resume on their own.
    p.settle("the exact end state after the broker crash", |p| {
        expected.verify(&p.db)
    });
    p.wait_ready(&ids, Duration::from_secs(30));
    assert!(
        p.services.iter().all(|s| s.starts == 1),
        "a service was restarted"
    );
    verify_dead_letters(&p, &expected, false, false);
    verify_no_downstream_dead_letters(&p);
}

#[test]
fn leader_failover_on_three_brokers() {
    require_servers();
    let seed = seed();
    let stack = KafkaStack::start(3);
    let plan = simulate(seed, 42_000_000, 6_000, 0.01);
    let messages = &plan.messages;
    // Two thirds flow while the leader dies and stays dead, the rest once it is back.
    let split = messages.len() * 2 / 3;
    let (during, after) = messages.split_at(split);
    let expected_during = Expected::from_plan(during, &plan.catalog);
    let expected = Expected::from_plan(messages, &plan.catalog);
    let _redis = load_catalog(&plan.catalog);

    let mut p = Pipeline::with_broker("failover", stack.broker());
    let ids = p.spawn_all();
    p.wait_ready(&ids, Duration::from_secs(60));
    let producer = producer(&p);
    let topic = p.topics.source.clone();
    let mut all_topics = p.topics.all();
    all_topics.push("__consumer_offsets".to_owned());
    let mut victim = 0;
    let stop = Shutdown::default();
    std::thread::scope(|scope| {
        let _unwind = StopOnUnwind(&stop);
        let sending = scope.spawn(|| send_until(&producer, &topic, during, Some(300.0), &stop));
        std::thread::sleep(Duration::from_secs(4));
        let (node, led) = stack.busiest_leader(&all_topics);
        eprintln!("failover: node {node} leads {led} partitions; SIGKILL");
        stack.kill(node);
        victim = node;
        sending.join().expect("the producer thread");
    });
    p.settle(
        &format!("the exact end state with node {victim} down"),
        |p| expected_during.verify(&p.db),
    );
    assert_downstream_exactly_once(&p, during);

    stack.start_node(victim);
    send(&producer, &topic, after, Some(300.0));
    p.settle(
        &format!("the exact end state with node {victim} back"),
        |p| expected.verify(&p.db),
    );
    assert_downstream_exactly_once(&p, messages);
    verify_dead_letters(&p, &expected, true, false);
    verify_no_downstream_dead_letters(&p);
}

#[test]
fn scale_out_and_in_under_load() {
    require_servers();
    let plan = simulate(seed(), 43_000_000, 8_000, 0.01);
    let messages = &plan.messages;
    let expected = Expected::from_plan(messages, &plan.catalog);
    let _redis = load_catalog(&plan.catalog);

    let mut p = Pipeline::new("scale");
    let first = [
        p.spawn(Kind::Stg),
        p.spawn(Kind::Dds),
        p.spawn(Kind::Dds),
        p.spawn(Kind::Cdm),
        p.spawn(Kind::Cdm),
    ];
    p.wait_ready(&first, Duration::from_secs(60));
    let producer = producer(&p);
    let topic = p.topics.source.clone();
    let rate = messages.len() as f64 / 30.0;
    let stop = Shutdown::default();
    std::thread::scope(|scope| {
        let _unwind = StopOnUnwind(&stop);
        let sending = scope.spawn(|| send_until(&producer, &topic, messages, Some(rate), &stop));
        std::thread::sleep(Duration::from_secs(5));
        // What the first two replicas of each stage own before the third joins.
        let before: Vec<(usize, usize, BTreeSet<i32>)> = first[1..]
            .iter()
            .map(|&i| {
                let log = &p.services[i].log;
                (i, log_len(log), owned_now(log))
            })
            .collect();
        let third = [p.spawn(Kind::Dds), p.spawn(Kind::Cdm)];
        eprintln!("scale out: dds-3 and cdm-3 join mid-stream");
        // Each third replica must get partitions and do work while it is in the group.
        p.wait_for("the third replicas consume", Duration::from_secs(60), |p| {
            let mut idle = Vec::new();
            for &i in &third {
                let metrics = p.services[i].metrics().unwrap_or_default();
                let consumed = metric_sum(&metrics, "vault_batch_size_messages_sum").unwrap_or(0.0);
                if consumed <= 0.0 {
                    idle.push(p.services[i].name.clone());
                }
            }
            if idle.is_empty() {
                Ok(())
            } else {
                Err(format!("not consuming yet: {idle:?}"))
            }
        });
        std::thread::sleep(Duration::from_secs(3));
        // Incremental rebalancing (cooperative-sticky): the first two replicas gave up only
        // the partitions the third now owns, and kept every other one, read without a pause.
        for (i, from, owned_before) in &before {
            let kind = p.services[*i].kind;
            let newcomer = third
                .iter()
                .copied()
                .find(|&t| p.services[t].kind == kind)
                .expect("a third replica of the same stage");
            let handed = owned_now(&p.services[newcomer].log);
            let events = assignment_events(&p.services[*i].log, *from);
            let revoked: BTreeSet<i32> = events
                .iter()
                .filter(|e| e.what == "partitions revoked")
                .flat_map(|e| e.partitions.iter().copied())
                .collect();
            let owned_after = events
                .last()
                .map_or_else(|| owned_before.clone(), |e| e.owned.clone());
            eprintln!(
                "{}: owned {owned_before:?}, revoked {revoked:?} for {} (owns {handed:?}), owns {owned_after:?}",
                p.services[*i].name, p.services[newcomer].name
            );
            assert!(
                revoked.is_subset(&handed),
                "{} gave up {revoked:?} when {} joined, which got only {handed:?}: not an \
                 incremental rebalance\n{}",
                p.services[*i].name,
                p.services[newcomer].name,
                p.diagnostics()
            );
            let kept: BTreeSet<i32> = owned_before.difference(&handed).copied().collect();
            assert_eq!(
                owned_after,
                kept,
                "{} should keep all it owned but what was handed over\n{}",
                p.services[*i].name,
                p.diagnostics()
            );
        }
        eprintln!("scale in: dds-3 and cdm-3 leave (SIGTERM)");
        terminate_all(&mut p, &third, "scale in under load");
        for &i in &third {
            let log = std::fs::read_to_string(&p.services[i].log).unwrap_or_default();
            for line in ["partitions assigned", "left the consumer group"] {
                assert!(
                    log.contains(line),
                    "{} logged no `{line}` line\n{}",
                    p.services[i].name,
                    p.diagnostics()
                );
            }
        }
        sending.join().expect("the producer thread");
    });
    p.settle("the exact end state after scaling out and in", |p| {
        expected.verify(&p.db)
    });
    // Every assignment change is logged: after the third replicas left, what the first two of
    // each stage say they own covers every partition again.
    for pair in first[1..].chunks(2) {
        let owned: BTreeSet<i32> = pair
            .iter()
            .flat_map(|&i| owned_now(&p.services[i].log))
            .collect();
        assert_eq!(
            owned,
            (0..PARTITIONS).collect::<BTreeSet<i32>>(),
            "after scaling in, {} and {} logged owning {owned:?}\n{}",
            p.services[pair[0]].name,
            p.services[pair[1]].name,
            p.diagnostics()
        );
    }
    verify_dead_letters(&p, &expected, false, false);
    verify_no_downstream_dead_letters(&p);
}

/// What happens to the broker while the services are told to stop.
#[derive(Debug, Clone, Copy)]
enum BrokerFault {
    /// SIGSTOP: connections are accepted, nothing answers.
    Frozen,
    /// SIGKILL: connections are refused.
    Dead,
}

fn sigterm_during(fault: BrokerFault) {
    require_servers();
    let stack = KafkaStack::start(1);
    let plan = simulate(seed(), 44_000_000, 4_000, 0.01);
    let messages = &plan.messages;
    let (backlog, rest) = messages.split_at(messages.len() * 3 / 4);
    let expected = Expected::from_plan(messages, &plan.catalog);
    let _redis = load_catalog(&plan.catalog);

    let mut p = Pipeline::with_broker("stopfault", stack.broker());
    let ids = p.spawn_all();
    p.wait_ready(&ids, Duration::from_secs(60));
    let producer = producer(&p);
    let topic = p.topics.source.clone();
    // A backlog the services are working through when the broker goes (the test's own
    // producer is idle during the fault: its recovery is not what is tested here).
    send(&producer, &topic, backlog, None);
    std::thread::sleep(Duration::from_millis(500));
    match fault {
        BrokerFault::Frozen => stack.freeze(1),
        BrokerFault::Dead => stack.kill(1),
    }
    std::thread::sleep(Duration::from_secs(1));
    terminate_all(&mut p, &ids, &format!("broker {fault:?}"));
    match fault {
        BrokerFault::Frozen => stack.thaw(1),
        BrokerFault::Dead => stack.start_node(1),
    }
    for &i in &ids {
        p.services[i].start();
    }
    send(&crate::producer(&p), &topic, rest, Some(400.0));
    p.settle(
        &format!("the exact end state after a stop with the broker {fault:?}"),
        |p| expected.verify(&p.db),
    );
    verify_dead_letters(&p, &expected, false, false);
    verify_no_downstream_dead_letters(&p);
}

#[test]
fn sigterm_with_a_frozen_broker() {
    sigterm_during(BrokerFault::Frozen);
}

#[test]
fn sigterm_with_a_dead_broker() {
    sigterm_during(BrokerFault::Dead);
}

#[test]
fn frozen_broker_comes_back() {
    require_servers();
    let stack = KafkaStack::start(1);
    let plan = simulate(seed(), 45_000_000, 4_000, 0.01);
    let messages = &plan.messages;
    let (backlog, rest) = messages.split_at(messages.len() * 3 / 4);
    let expected = Expected::from_plan(messages, &plan.catalog);
    let _redis = load_catalog(&plan.catalog);

    let mut p = Pipeline::with_broker("frozen", stack.broker());
    let ids = p.spawn_all();
    p.wait_ready(&ids, Duration::from_secs(60));
    let producer = producer(&p);
    let topic = p.topics.source.clone();
    // The services are mid-backlog when the broker freezes.
    send(&producer, &topic, backlog, None);
    std::thread::sleep(Duration::from_millis(500));
    stack.freeze(1);
    std::thread::sleep(Duration::from_secs(20));
    p.ensure_running();
    stack.thaw(1);
    let thawed = Instant::now();
    send(&crate::producer(&p), &topic, rest, Some(300.0));
    p.settle("the exact end state after a frozen broker", |p| {
        expected.verify(&p.db)
    });
    eprintln!(
        "frozen broker: exact {:.1} s after SIGCONT",
        thawed.elapsed().as_secs_f64()
    );
    assert!(
        p.services.iter().all(|s| s.starts == 1),
        "a service had to be restarted"
    );
    verify_dead_letters(&p, &expected, false, false);
    verify_no_downstream_dead_letters(&p);
}
