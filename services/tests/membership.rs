//! Many replicas in one consumer group, as Kubernetes runs them (real processes, the shared
//! Apache Kafka; run one at a time in the serial phase of `scripts/test`):
//!
//! * more replicas than partitions: every replica is ready, the extra one is idle and says so
//!   (`vault_replica_idle`, a log line), and the pipeline stays exact;
//! * static membership (`KAFKA_GROUP_INSTANCE_ID`): a replica killed and restarted within the
//!   session timeout takes its partitions back, and the other replica's assignment never
//!   changes (no rebalance of the group).
//!
//! Incremental rebalancing on scale-out is shown by `faults::scale_out_and_in_under_load`.

mod common;

use std::time::{Duration, Instant};

use common::expected::Expected;
use common::scenario::{
    assignment_events, load_catalog, log_len, owned_now, producer, send, simulate,
    verify_dead_letters,
};
use vault_testkit::http::metric_sum;
use vault_testkit::kafka::PARTITIONS;
use vault_testkit::pipeline::{Kind, Pipeline};
use vault_testkit::{require_servers, seed};

fn gauge(p: &Pipeline, i: usize, name: &str) -> f64 {
    let text = p.services[i]
        .metrics()
        .unwrap_or_else(|e| panic!("{}: /metrics: {e}", p.services[i].name));
    metric_sum(&text, name).unwrap_or_else(|| panic!("{} exports no {name}", p.services[i].name))
}

#[test]
fn replicas_beyond_the_partitions_are_ready_and_idle() {
    require_servers();
    let plan = simulate(seed(), 52_000_000, 1_000, 0.02);
    let messages = &plan.messages;
    let expected = Expected::from_plan(messages, &plan.catalog);
    let _redis = load_catalog(&plan.catalog);
    let mut p = Pipeline::new("idle");
    let mut ids = vec![p.spawn(Kind::Stg), p.spawn(Kind::Dds)];
    let cdm: Vec<usize> = (0..=PARTITIONS).map(|_| p.spawn(Kind::Cdm)).collect();
    ids.extend(&cdm);
    // Before this, the extra replica answered 503 ("no partitions assigned") for ever, and a
    // Deployment's rollout never completed.
    p.wait_ready(&ids, Duration::from_secs(60));
    let idle = p.wait_for(
        "one CDM replica idle, the others holding one partition each",
        Duration::from_secs(30),
        |p| {
            let mut idle = Vec::new();
            let mut held = 0.0;
            for &i in &cdm {
                held += gauge(p, i, "vault_assigned_partitions");
                if gauge(p, i, "vault_replica_idle") == 1.0 {
                    idle.push(i);
                }
            }
            match idle.as_slice() {
                [one] if held == f64::from(PARTITIONS) => Ok(*one),
                _ => Err(format!("idle replicas {idle:?}, partitions held {held}")),
            }
        },
    );
    let name = p.services[idle].name.clone();
    assert_eq!(gauge(&p, idle, "vault_assigned_partitions"), 0.0);
    assert_eq!(
        gauge(&p, idle, "vault_ready"),
        1.0,
        "{name} is idle but not ready"
    );
    let log = std::fs::read_to_string(&p.services[idle].log).unwrap_or_default();
    assert!(
        log.contains("idle: in the group, holding no partitions"),
        "{name} did not log that it is idle\n{}",
        p.diagnostics()
    );
    send(&producer(&p), &p.topics.source.clone(), messages, None);
    p.settle("the exact end state with an idle replica", |p| {
        expected.verify(&p.db)
    });
    verify_dead_letters(&p, &expected, false, false);
    for &i in &ids {
        assert_eq!(
            p.services[i].get("/readyz").map(|(status, _)| status),
            Ok(200),
            "{} is not ready at the end",
            p.services[i].name
        );
    }
}

#[test]
fn a_static_member_restarted_within_the_session_timeout_keeps_its_partitions() {
    require_servers();
    let plan = simulate(seed(), 53_000_000, 1_500, 0.02);
    let messages = &plan.messages;
    let (first, rest) = messages.split_at(messages.len() / 2);
    let expected = Expected::from_plan(messages, &plan.catalog);
    let _redis = load_catalog(&plan.catalog);
    let mut p = Pipeline::new("static");
    let group = p.group(Kind::Dds).to_owned();
    let instance = |n: u32| format!("{group}-dds-{n}");
    let ids = [
        p.spawn(Kind::Stg),
        p.spawn_with(Kind::Dds, &[("KAFKA_GROUP_INSTANCE_ID", &instance(1))]),
        p.spawn_with(Kind::Dds, &[("KAFKA_GROUP_INSTANCE_ID", &instance(2))]),
        p.spawn(Kind::Cdm),
    ];
    let (victim, witness) = (ids[1], ids[2]);
    p.wait_ready(&ids, Duration::from_secs(60));
    let owned = |p: &Pipeline, i: usize| owned_now(&p.services[i].log);
    let split = p.wait_for(
        "the two DDS replicas share the partitions",
        Duration::from_secs(30),
        |p| {
            let (a, b) = (owned(p, victim), owned(p, witness));
            if a.len() + b.len() == PARTITIONS as usize && !a.is_empty() && !b.is_empty() {
                Ok((a, b))
            } else {
                Err(format!("dds-1 owns {a:?}, dds-2 owns {b:?}"))
            }
        },
    );
    send(&producer(&p), &p.topics.source.clone(), first, None);
    let witness_from = log_len(&p.services[witness].log);
    let victim_from = log_len(&p.services[victim].log);
    p.services[victim].crash();
    let killed = Instant::now();
    eprintln!("dds-1 SIGKILLed, restarted at once under the same group.instance.id");
    p.services[victim].start();
    p.wait_for(
        "the restarted replica owns its partitions again",
        Duration::from_secs(60),
        |p| {
            let events = assignment_events(&p.services[victim].log, victim_from);
            match events.last() {
                Some(e) if e.owned == split.0 => Ok(()),
                other => Err(format!(
                    "dds-1 logged {other:?} since its restart; before it owned {:?}",
                    split.0
                )),
            }
        },
    );
    eprintln!(
        "dds-1 owned its partitions again {:.1} s after the kill",
        killed.elapsed().as_secs_f64()
    );
    p.wait_ready(&[victim], Duration::from_secs(30));
    send(&producer(&p), &p.topics.source.clone(), rest, None);
    p.settle("the exact end state after the restart", |p| {
        expected.verify(&p.db)
    });
    // Without static membership the restart is a new member: the group rebalances, and dds-2
    // logs an assignment round (seen when this test ran without KAFKA_GROUP_INSTANCE_ID).
    let changes = assignment_events(&p.services[witness].log, witness_from);
    assert!(
        changes.is_empty(),
        "dds-2's assignment changed while dds-1 restarted (a group rebalance): {changes:?}\n{}",
        p.diagnostics()
    );
    assert_eq!(owned(&p, witness), split.1);
    verify_dead_letters(&p, &expected, false, false);
}
