//! End to end: `stg-service`, `dds-service` and `cdm-service` as real processes against the real
//! Apache Kafka broker, PostgreSQL and Redis (run via `scripts/test`, which starts them and
//! exports their settings; without them these tests fail and say so).
//!
//! Input comes from the simulator's plan; what the warehouse must end up with is computed from
//! the plan independently of the code under test (`common::expected`). Each test has its own
//! database, topics, consumer groups and HTTP ports; every process is killed when the test ends.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::fs::File;
use std::io::Read;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use vault_core::orders::sample::{Catalog, Rng};
use vault_core::orders::User;
use vault_services::simulate::{plan, Planned, SimulateOptions};

use common::expected::Expected;
use common::scenario::{
    count, dead_letter_problems, load_catalog, producer, send, simulate, verify_dead_letters,
    verify_no_downstream_dead_letters,
};
use vault_testkit::http::{metric_samples, metric_sum};
use vault_testkit::kafka::dlq;
use vault_testkit::pipeline::{Kind, Pipeline};
use vault_testkit::process::{wait_timeout, ChildGuard};
use vault_testkit::{require_env, require_servers, seed, unique};

#[test]
fn end_to_end_exact() {
    require_servers();
    let started = Instant::now();
    let plan = simulate(seed(), 10_000_000, 2500, 0.05);
    let messages = &plan.messages;
    let reasons: BTreeSet<&str> = messages
        .iter()
        .filter_map(|m| match m {
            Planned::Unknown(_, reason) | Planned::Garbage(_, reason) => Some(*reason),
            Planned::Order(_) => None,
        })
        .collect();
    for reason in [
        "unknown_user",
        "unknown_restaurant",
        "unknown_menu_item",
        "invalid_json",
        "unknown_object_type",
        "invalid_shape",
        "invalid_value",
    ] {
        assert!(reasons.contains(reason), "the plan has no {reason} message");
    }
    let expected = Expected::from_plan(messages, &plan.catalog);
    assert!(expected.closed > 0 && expected.stg.len() > expected.h_order.len());
    eprintln!(
        "plan: {} messages ({} order versions, {} unknown ids, {} garbage); {} known orders, \
         {} closed",
        messages.len(),
        count(messages, |m| matches!(m, Planned::Order(_))),
        count(messages, |m| matches!(m, Planned::Unknown(..))),
        count(messages, |m| matches!(m, Planned::Garbage(..))),
        expected.h_order.len(),
        expected.closed
    );
    let _redis = load_catalog(&plan.catalog);

    let mut p = Pipeline::new("exact");
    let [stg, dds, cdm] = p.spawn_all();
    send(&producer(&p), &p.topics.source.clone(), messages, None);
    p.settle("the exact end state", |p| expected.verify(&p.db));
    // Every further check is gathered, so that one failure does not hide the others.
    let mut problems = dead_letter_problems(&p, &expected, true, true);
    for topic in [dlq(&p.topics.stg), dlq(&p.topics.dds)] {
        match p.broker.total_messages(&topic) {
            Ok(0) => {}
            Ok(n) => problems.push(format!("{topic} holds {n} dead letter(s)")),
            Err(e) => problems.push(e),
        }
    }

    // Every order report carries `sent_dttm` as `YYYY-MM-DD HH:MM:SS` (docs/contract.md §5.2).
    let reports = p.broker.read_topic(&p.topics.dds);
    let odd: Vec<String> = reports
        .iter()
        .filter_map(|r| {
            let report: serde_json::Value = serde_json::from_slice(&r.payload).ok()?;
            let sent = report["sent_dttm"].as_str().unwrap_or_default().to_owned();
            let ok = sent.len() == 19
                && vault_core::Timestamp::parse(&sent).is_ok_and(|t| t.to_string() == sent);
            (!ok).then_some(sent)
        })
        .collect();
    if reports.is_empty() || !odd.is_empty() {
        problems.push(format!(
            "order reports' sent_dttm not YYYY-MM-DD HH:MM:SS: {} of {}, e.g. {:?}",
            odd.len(),
            reports.len(),
            odd.first()
        ));
    }

    // Operations surface, while the services run.
    p.wait_ready(&[stg, dds, cdm], Duration::from_secs(30));
    for &i in &[stg, dds, cdm] {
        let (status, _) = p.services[i].get("/healthz").expect("/healthz");
        if status != 200 {
            problems.push(format!("/healthz of {}: {status}", p.services[i].name));
        }
    }
    let metrics = p.services[stg].metrics().expect("/metrics of stg");
    let by_reason: BTreeMap<String, usize> =
        metric_samples(&metrics, "vault_messages_dead_lettered_total")
            .iter()
            // Every reason is exported, at 0 until it happens.
            .filter(|s| s.value > 0.0)
            .map(|s| {
                (
                    s.label("reason").unwrap_or_default().to_owned(),
                    s.value as usize,
                )
            })
            .collect();
    let total = metric_sum(&metrics, "vault_messages_dead_lettered_total");
    if total != Some(expected.dead_letter_count() as f64) {
        problems.push(format!(
            "stg /metrics: vault_messages_dead_lettered_total = {total:?}, expected {}",
            expected.dead_letter_count()
        ));
    }
    if by_reason != expected.dead_letters_by_reason() {
        problems.push(format!(
            "stg /metrics: vault_messages_dead_lettered_total by reason = {by_reason:?}, \
             planned {:?}",
            expected.dead_letters_by_reason()
        ));
    }
    let consumed = metric_sum(&metrics, "vault_batch_size_messages_sum");
    if consumed != Some(messages.len() as f64) {
        problems.push(format!(
            "stg /metrics: vault_batch_size_messages_sum = {consumed:?}, expected {}",
            messages.len()
        ));
    }
    assert!(
        problems.is_empty(),
        "the warehouse is exact, but:\n  {}\n{}",
        problems.join("\n  "),
        p.diagnostics()
    );
    eprintln!(
        "end_to_end_exact: {:.1} s in all",
        started.elapsed().as_secs_f64()
    );
}

#[test]
fn restart_mid_stream() {
    require_servers();
    let started = Instant::now();
    let plan = simulate(seed(), 20_000_000, 2000, 0.03);
    let messages = &plan.messages;
    let expected = Expected::from_plan(messages, &plan.catalog);
    let _redis = load_catalog(&plan.catalog);

    let mut p = Pipeline::new("restart");
    let [stg, dds, cdm] = p.spawn_all();
    let producer = producer(&p);
    let topic = p.topics.source.clone();
    let rate = 220.0;
    std::thread::scope(|scope| {
        let sending = scope.spawn(|| send(&producer, &topic, messages, Some(rate)));
        std::thread::sleep(Duration::from_millis(1500));
        for i in [stg, cdm, dds] {
            let name = p.services[i].name.clone();
            let Some((status, took)) = p.services[i].terminate(Duration::from_secs(10)) else {
                panic!(
                    "{name} did not exit within 10 s of SIGTERM\n{}",
                    p.diagnostics()
                );
            };
            eprintln!(
                "{name}: exited {status} {:.2} s after SIGTERM",
                took.as_secs_f64()
            );
            assert!(
                status.success(),
                "{name} exited with {status} after SIGTERM\n{}",
                p.diagnostics()
            );
            if i == dds {
                // DDS stays down until the source is complete: a backlog for the crash below.
                break;
            }
            p.services[i].start();
            std::thread::sleep(Duration::from_millis(1500));
            p.ensure_running();
        }
        sending.join().expect("the producer thread");
        p.services[dds].start();
        // A crash: no goodbye, no flush, no commit. DDS is the one, in the middle of its
        // backlog (right after its first batch): a batch it wrote and forwarded but did not
        // commit is read again, so CDM also sees those reports twice.
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let consumed = p.services[dds]
                .metrics()
                .ok()
                .and_then(|m| metric_sum(&m, "vault_batch_size_messages_sum"))
                .unwrap_or(0.0);
            if consumed > 0.0 {
                eprintln!("dds-1: {consumed} message(s) committed before the crash");
                break;
            }
            assert!(
                Instant::now() < deadline,
                "the restarted dds-1 processed nothing within 60 s\n{}",
                p.diagnostics()
            );
            p.ensure_running();
            std::thread::sleep(Duration::from_millis(20));
        }
        p.services[dds].crash();
        eprintln!("dds-1: killed with SIGKILL while working off its backlog; restarted at once");
        // No waiting for the crashed member's session to expire: the broker hands the
        // partitions to the new member once that session is gone.
        p.services[dds].start();
    });
    eprintln!(
        "restart_mid_stream: {} messages produced at {rate}/s, restarts done after {:.1} s",
        messages.len(),
        started.elapsed().as_secs_f64()
    );
    p.settle("the exact end state after restarts", |p| {
        expected.verify(&p.db)
    });
    verify_dead_letters(&p, &expected, false, false);
    verify_no_downstream_dead_letters(&p);
    let counts: Vec<String> = [&p.topics.source, &p.topics.stg, &p.topics.dds]
        .iter()
        .map(|t| format!("{t}: {}", p.broker.total_messages(t).unwrap_or(-1)))
        .collect();
    eprintln!(
        "messages on the topics (more on {} than on {}: re-sent after the crash): {counts:?}",
        p.topics.dds, p.topics.stg
    );
    eprintln!(
        "restart_mid_stream: {:.1} s in all",
        started.elapsed().as_secs_f64()
    );
}

#[test]
fn two_replicas_per_group() {
    require_servers();
    let started = Instant::now();
    let plan = simulate(seed(), 30_000_000, 1500, 0.02);
    let messages = &plan.messages;
    let expected = Expected::from_plan(messages, &plan.catalog);
    let _redis = load_catalog(&plan.catalog);

    let mut p = Pipeline::new("replicas");
    let replicas = [
        p.spawn(Kind::Stg),
        p.spawn(Kind::Dds),
        p.spawn(Kind::Dds),
        p.spawn(Kind::Cdm),
        p.spawn(Kind::Cdm),
    ];
    // Ready means: partitions assigned, warehouse reachable.
    p.wait_ready(&replicas, Duration::from_secs(60));
    let mut assigned: BTreeMap<String, f64> = BTreeMap::new();
    let sample = |p: &Pipeline, assigned: &mut BTreeMap<String, f64>| {
        for &i in &replicas[1..] {
            let service = &p.services[i];
            if let Some(n) = service
                .metrics()
                .ok()
                .and_then(|m| metric_sum(&m, "vault_assigned_partitions"))
            {
                let max = assigned.entry(service.name.clone()).or_insert(0.0);
                *max = max.max(n);
            }
        }
    };
    sample(&p, &mut assigned);
    send(&producer(&p), &p.topics.source.clone(), messages, None);
    p.settle("the exact end state with two replicas", |p| {
        sample(p, &mut assigned);
        expected.verify(&p.db)
    });
    verify_dead_letters(&p, &expected, true, false);
    verify_no_downstream_dead_letters(&p);
    let mut consumed = BTreeMap::new();
    for &i in &replicas[1..] {
        let service = &p.services[i];
        let metrics = service.metrics().expect("/metrics");
        consumed.insert(
            service.name.clone(),
            metric_sum(&metrics, "vault_batch_size_messages_sum").unwrap_or(0.0),
        );
    }
    eprintln!("partitions assigned (max seen): {assigned:?}; messages consumed: {consumed:?}");
    for &i in &replicas[1..] {
        let name = &p.services[i].name;
        assert!(
            assigned.get(name).copied().unwrap_or(0.0) > 0.0,
            "{name} never had a partition: {assigned:?}\n{}",
            p.diagnostics()
        );
        assert!(
            consumed[name] > 0.0,
            "{name} consumed nothing: {consumed:?}\n{}",
            p.diagnostics()
        );
    }
    eprintln!(
        "two_replicas_per_group: {:.1} s in all",
        started.elapsed().as_secs_f64()
    );
}

#[test]
fn config_errors_are_one_line() {
    require_servers();
    let full: Vec<(&str, String)> = vec![
        ("KAFKA_HOST", require_env("KAFKA_HOST")),
        ("KAFKA_PORT", require_env("KAFKA_PORT")),
        ("KAFKA_CONSUMER_GROUP", unique("e2e_config")),
        ("KAFKA_SOURCE_TOPIC", unique("e2e_config_in")),
        ("KAFKA_DESTINATION_TOPIC", unique("e2e_config_out")),
        ("PG_WAREHOUSE_HOST", require_env("PG_WAREHOUSE_HOST")),
        ("PG_WAREHOUSE_PORT", require_env("PG_WAREHOUSE_PORT")),
        ("PG_WAREHOUSE_DBNAME", "vault".to_owned()),
        ("PG_WAREHOUSE_USER", require_env("PG_WAREHOUSE_USER")),
        ("PG_WAREHOUSE_PASSWORD", "vault".to_owned()),
        ("REDIS_HOST", require_env("REDIS_HOST")),
        ("REDIS_PORT", require_env("REDIS_PORT")),
        ("HTTP_PORT", vault_testkit::ports::free_port().to_string()),
    ];
    let mut failures = Vec::new();
    for kind in Kind::ALL {
        for (variable, value) in [("PG_WAREHOUSE_HOST", None), ("KAFKA_PORT", Some("abc"))] {
            let mut cmd = Command::new(kind.binary());
            cmd.env_clear()
                .stdin(Stdio::null())
                .stdout(Stdio::piped())
                .stderr(Stdio::piped());
            for (name, v) in &full {
                if *name != variable {
                    cmd.env(name, v);
                }
            }
            if let Some(value) = value {
                cmd.env(variable, value);
            }
            let mut guard = ChildGuard(Some(cmd.spawn().expect("spawn the service")));
            let child = guard.0.as_mut().expect("spawned");
            let status = wait_timeout(child, Duration::from_secs(20));
            let mut stderr = String::new();
            let mut stdout = String::new();
            if status.is_some() {
                if let Some(mut pipe) = child.stderr.take() {
                    pipe.read_to_string(&mut stderr).expect("read stderr");
                }
                if let Some(mut pipe) = child.stdout.take() {
                    pipe.read_to_string(&mut stdout).expect("read stdout");
                }
            }
            let case = format!("{} with {variable}={value:?}", kind.short());
            match status {
                None => failures.push(format!("{case}: still running after 20 s")),
                Some(status) if status.code() != Some(2) => failures.push(format!(
                    "{case}: exit {status}, expected code 2; stderr {stderr:?}, stdout {stdout:?}"
                )),
                Some(_) if stderr.lines().count() != 1 || !stderr.contains(variable) => failures
                    .push(format!(
                        "{case}: stderr is not one line naming {variable}: {stderr:?}"
                    )),
                Some(_) => eprintln!("{case}: {}", stderr.trim_end()),
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn redrive_after_dictionary_fix() {
    require_servers();
    let started = Instant::now();
    let seed = seed();
    let first_id = 40_000_000;
    let plan = plan(&SimulateOptions {
        seed,
        restaurants: 3,
        users: 100,
        orders: 600,
        duplicates: 0.1,
        cancel_after_close: 0.15,
        first_id,
        ..SimulateOptions::default()
    });
    // Users the dictionary does not know yet: every 7th order belongs to one of them.
    let mut rng = Rng::new(seed ^ 0x00de_ad1e_77e2);
    let strangers: Vec<User> = (0..4)
        .map(|k| User {
            id: rng.object_id(),
            name: format!("Гость Незнакомов {k}"),
            login: Some(format!("stranger_{k}")),
            update_ts_utc: None,
        })
        .collect();
    let mut fixed = Vec::with_capacity(plan.messages.len());
    let mut before = Vec::with_capacity(plan.messages.len());
    for message in &plan.messages {
        match message {
            Planned::Order(order) if (order.object_id - first_id) % 7 == 3 => {
                let mut order = order.clone();
                let k = (order.object_id as usize / 7) % strangers.len();
                order.payload.user.id = strangers[k].id.clone();
                before.push(Planned::Unknown(order.clone(), "unknown_user"));
                fixed.push(Planned::Order(order));
            }
            other => {
                before.push(other.clone());
                fixed.push(other.clone());
            }
        }
    }
    let stranger_messages = count(&before, |m| matches!(m, Planned::Unknown(..)));
    let expected_before = Expected::from_plan(&before, &plan.catalog);
    let mut fixed_users = plan.catalog.users.clone();
    fixed_users.extend(strangers.iter().cloned());
    let fixed_catalog = Catalog::new(fixed_users, plan.catalog.restaurants.clone());
    let expected_after = Expected::from_plan(&fixed, &fixed_catalog);
    assert_eq!(expected_before.stg, expected_after.stg);
    assert!(expected_after.h_order.len() > expected_before.h_order.len());
    let mut redis = load_catalog(&plan.catalog);

    let mut p = Pipeline::new("redrive");
    p.spawn_all();
    send(&producer(&p), &p.topics.source.clone(), &before, None);
    p.settle("the state before the fix", |p| {
        expected_before.verify(&p.db)
    });
    let reached = Instant::now();
    verify_dead_letters(&p, &expected_before, true, true);
    let source_dlq = dlq(&p.topics.source);
    assert_eq!(
        p.broker.total_messages(&source_dlq).expect("count"),
        stranger_messages as i64
    );

    // The dictionary catches up.
    for user in &strangers {
        redis.set(&user.id, serde_json::to_vec(user).expect("user JSON"));
    }
    // STG remembers a missing id for 5 s: re-drive only once every such memory has expired.
    std::thread::sleep(Duration::from_secs(6).saturating_sub(reached.elapsed()));

    let out = p.dir.join("redrive.out");
    let err = p.dir.join("redrive.err");
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_vault"));
    cmd.args([
        "redrive",
        "--topic",
        &source_dlq,
        "--group",
        &unique("e2e_redrive"),
        "--idle-ms",
        "2000",
    ])
    .env_clear()
    .env("KAFKA_HOST", require_env("KAFKA_HOST"))
    .env("KAFKA_PORT", require_env("KAFKA_PORT"))
    .env("RUST_LOG", "warn")
    .stdin(Stdio::null())
    .stdout(File::create(&out).expect("redrive stdout file"))
    .stderr(File::create(&err).expect("redrive stderr file"));
    let mut redrive = ChildGuard(Some(cmd.spawn().expect("spawn vault redrive")));
    let status = wait_timeout(
        redrive.0.as_mut().expect("spawned"),
        Duration::from_secs(60),
    );
    let read = |path: &std::path::Path| std::fs::read_to_string(path).unwrap_or_default();
    assert_eq!(
        status.and_then(|s| s.code()),
        Some(0),
        "vault redrive: {status:?}; stdout {:?}; stderr {:?}",
        read(&out),
        read(&err)
    );
    let said = read(&out);
    assert!(
        said.contains(&format!("re-drove {stranger_messages} dead letter(s)")),
        "vault redrive said {said:?}, expected {stranger_messages} re-driven"
    );

    p.settle("the state after the re-drive", |p| {
        expected_after.verify(&p.db)
    });
    // Nothing was dead-lettered again, and the re-driven copies are on the source topic.
    assert_eq!(
        p.broker.total_messages(&source_dlq).expect("count"),
        stranger_messages as i64,
        "re-driven messages were dead-lettered again\n{}",
        p.diagnostics()
    );
    let redriven = p
        .broker
        .read_topic(&p.topics.source)
        .into_iter()
        .filter(|r| r.header("vault.redriven_from").is_some())
        .count();
    assert_eq!(redriven, stranger_messages);
    verify_no_downstream_dead_letters(&p);
    eprintln!(
        "redrive_after_dictionary_fix: {stranger_messages} re-driven, {:.1} s in all",
        started.elapsed().as_secs_f64()
    );
}
