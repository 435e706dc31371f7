//! The alerts and the dashboard of the chart (deploy/helm/streamvault/files/alerts.yaml and
//! dashboard.json) name only metrics the services export: the three services run against the
//! real servers, are scraped after a run with bad input (so that every labelled series
//! exists), and every `vault_*` name of the two files must be among what they export.

mod common;

use std::collections::BTreeSet;
use std::path::Path;
use std::time::Duration;

use common::expected::Expected;
use common::scenario::{load_catalog, producer, send, simulate};
use vault_testkit::pipeline::Pipeline;
use vault_testkit::{require_servers, seed};

/// The `vault_*` names a PromQL-bearing file mentions.
fn referenced_names(text: &str) -> BTreeSet<String> {
    let mut names = BTreeSet::new();
    let bytes = text.as_bytes();
    let mut i = 0;
    while let Some(at) = text[i..].find("vault_") {
        let start = i + at;
        let boundary =
            start == 0 || !(bytes[start - 1].is_ascii_alphanumeric() || bytes[start - 1] == b'_');
        let end = text[start..]
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .map_or(text.len(), |n| start + n);
        if boundary {
            names.insert(text[start..end].to_owned());
        }
        i = end;
    }
    names
}

/// The sample names of a Prometheus text exposition (histograms: `_bucket`, `_sum`, `_count`).
fn exported_names(exposition: &str) -> BTreeSet<String> {
    vault_services::exposition::parse(exposition)
        .into_iter()
        .map(|s| s.name)
        .collect()
}

#[test]
fn every_metric_the_alerts_and_the_dashboard_name_is_exported() {
    require_servers();
    let files = Path::new(env!("CARGO_MANIFEST_DIR")).join("../deploy/helm/streamvault/files");
    let mut referenced = BTreeSet::new();
    for file in ["alerts.yaml", "dashboard.json"] {
        let text = std::fs::read_to_string(files.join(file))
            .unwrap_or_else(|e| panic!("read deploy/helm/streamvault/files/{file}: {e}"));
        let names = referenced_names(&text);
        assert!(!names.is_empty(), "{file} names no vault_* metric");
        referenced.extend(names);
    }

    let plan = simulate(seed(), 54_000_000, 300, 0.05);
    let expected = Expected::from_plan(&plan.messages, &plan.catalog);
    let _redis = load_catalog(&plan.catalog);
    let mut p = Pipeline::new("metrics");
    let ids = p.spawn_all();
    p.wait_ready(&ids, Duration::from_secs(60));
    send(
        &producer(&p),
        &p.topics.source.clone(),
        &plan.messages,
        None,
    );
    p.settle("the exact end state", |p| expected.verify(&p.db));
    // The group lag probe and the health refresh run every 15 s and 5 s.
    let exported = p.wait_for(
        "every referenced metric exported",
        Duration::from_secs(40),
        |p| {
            let mut exported = BTreeSet::new();
            for &i in &ids {
                exported.extend(exported_names(&p.services[i].metrics()?));
            }
            let missing: Vec<&String> = referenced.difference(&exported).collect();
            if missing.is_empty() {
                Ok(exported)
            } else {
                Err(format!("not exported: {missing:?}"))
            }
        },
    );
    eprintln!(
        "{} metric names referenced, all among the {} exported",
        referenced.len(),
        exported.len()
    );
}

#[test]
fn a_service_reports_its_build_in_its_first_log_line_and_on_metrics() {
    use vault_services::build_info::{REVISION, VERSION};
    use vault_services::ops::names;
    use vault_testkit::pipeline::Kind;
    let mut p = Pipeline::new("build_info");
    let cdm = p.spawn(Kind::Cdm);
    // One series, value 1, whose labels are the build's and the service's (in any order).
    let labels = [
        format!("version=\"{VERSION}\""),
        format!("revision=\"{REVISION}\""),
        "service=\"cdm-service\"".to_owned(),
    ];
    p.wait_for(
        "vault_build_info on /metrics",
        Duration::from_secs(30),
        |p| {
            let exposition = p.services[cdm].metrics()?;
            let series: Vec<&str> = exposition
                .lines()
                .filter(|l| l.starts_with(&format!("{}{{", names::BUILD_INFO)))
                .collect();
            match series[..] {
                [line]
                    if line.ends_with("} 1")
                        && labels.iter().all(|l| line.contains(l.as_str())) =>
                {
                    Ok(())
                }
                _ => Err(format!(
                    "one series with {labels:?} = 1 expected: {series:?}"
                )),
            }
        },
    );
    let log = std::fs::read_to_string(&p.services[cdm].log).expect("read the service's log");
    // The harness writes a `=====` header line before each start; then the service's own.
    let line = log
        .lines()
        .find(|l| !l.starts_with("====="))
        .unwrap_or_else(|| panic!("a log line: {log}"));
    let first: serde_json::Value = serde_json::from_str(line)
        .unwrap_or_else(|e| panic!("the first log line is JSON ({e}): {log}"));
    assert_eq!(first["fields"]["message"], "starting", "{first}");
    assert_eq!(first["fields"]["version"], VERSION, "{first}");
    assert_eq!(first["fields"]["revision"], REVISION, "{first}");
    // The PostgreSQL driver's notices come through the `log` crate: with their crate as the
    // target, without the source path of the machine that built the binary.
    for line in json_lines(&log) {
        assert!(!line.to_string().contains(".rs\""), "a source path: {line}");
        assert_ne!(line["target"], "log", "{line}");
    }
}

/// The JSON log lines of a service's log file (the harness's `=====` headers left out).
fn json_lines(log: &str) -> Vec<serde_json::Value> {
    log.lines()
        .filter(|l| !l.starts_with("====="))
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
        .collect()
}

#[test]
fn a_failed_warehouse_connection_is_one_line_naming_the_server_and_no_source_path() {
    use vault_testkit::pipeline::Kind;
    // Nothing listens on a port just freed: every attempt is refused at once.
    let port = vault_testkit::ports::free_port().to_string();
    let mut p = Pipeline::new("pg_refused");
    let cdm = p.spawn_with(Kind::Cdm, &[("PG_WAREHOUSE_PORT", port.as_str())]);
    let server = format!("127.0.0.1:{port}");
    let attempts = p.wait_for(
        "two refused attempts logged",
        Duration::from_secs(30),
        |p| {
            let log = std::fs::read_to_string(&p.services[cdm].log).map_err(|e| e.to_string())?;
            let attempts: Vec<serde_json::Value> = json_lines(&log)
                .into_iter()
                .filter(|l| l["fields"]["message"] == "cannot connect to the warehouse")
                .collect();
            match attempts.len() {
                n if n >= 2 => Ok(attempts),
                n => Err(format!("{n} attempt line(s) so far")),
            }
        },
    );
    for line in &attempts {
        let fields = &line["fields"];
        assert_eq!(fields["server"], server.as_str(), "{line}");
        assert_eq!(fields["database"], p.db.name.as_str(), "{line}");
        let reason = fields["reason"].as_str().unwrap_or_default();
        assert!(reason.contains("refused"), "the reason: {line}");
        assert_eq!(line["level"], "WARN", "{line}");
        assert_eq!(line["target"], "vault_pg::pool", "{line}");
    }
    let log = std::fs::read_to_string(&p.services[cdm].log).expect("read the service's log");
    for line in json_lines(&log) {
        let text = line.to_string();
        // Not r2d2's own line, nor any line carrying the build machine's source paths (the
        // `log` crate's records once came with log.file = ~/.cargo/registry/…/src/….rs).
        assert!(!text.contains(".rs\""), "a source path: {text}");
        assert!(!text.contains("log.file"), "a source path: {text}");
        assert_ne!(line["target"], "r2d2", "r2d2's own line: {text}");
        if text.contains("error connecting to server") {
            assert_eq!(
                line["fields"]["server"],
                server.as_str(),
                "names no server: {text}"
            );
        }
    }
    eprintln!("{} attempt lines, e.g. {}", attempts.len(), attempts[0]);
}

#[test]
fn a_failed_broker_connection_is_one_line_naming_the_server_and_no_duplicate() {
    use vault_testkit::pipeline::Kind;
    // Nothing listens on a port just freed: every connection attempt is refused at once.
    let port = vault_testkit::ports::free_port().to_string();
    let mut p = Pipeline::new("kafka_refused");
    let cdm = p.spawn_with(Kind::Cdm, &[("KAFKA_PORT", port.as_str())]);
    let server = format!("127.0.0.1:{port}");
    // The service's consumer and producer each have a connection of their own to fail (the
    // admin client that reads the dead-letter topic's settings first, for 10 s, is never
    // polled: its failure is that request's error). librdkafka logs an identical failure of
    // one connection once in 30 s, then says how many it suppressed.
    let clients = ["consumer", "producer"];
    let failures = p.wait_for(
        "a refused connection logged by each client",
        Duration::from_secs(30),
        |p| {
            let log = std::fs::read_to_string(&p.services[cdm].log).map_err(|e| e.to_string())?;
            let failures: Vec<serde_json::Value> = json_lines(&log)
                .into_iter()
                .filter(|l| l["fields"]["message"] == "broker connection failed")
                .collect();
            let missing: Vec<&str> = clients
                .into_iter()
                .filter(|c| !failures.iter().any(|l| l["fields"]["client"] == *c))
                .collect();
            match missing.is_empty() {
                true => Ok(failures),
                false => Err(format!("no line from {missing:?} yet")),
            }
        },
    );
    for line in &failures {
        let fields = &line["fields"];
        assert_eq!(fields["server"], server.as_str(), "{line}");
        assert_eq!(fields["node"], "bootstrap", "{line}");
        let reason = fields["reason"].as_str().unwrap_or_default();
        assert!(reason.contains("Connection refused"), "the reason: {line}");
        assert!(
            !reason.contains("[thrd:"),
            "the thread name left in: {line}"
        );
        assert_eq!(line["level"], "WARN", "{line}");
        assert_eq!(line["target"], "vault_kafka::logs", "{line}");
    }
    // The consumer has served its error reports (librdkafka's "Global error" of the same
    // failures) by the time it reports being out of its group on /readyz.
    std::thread::sleep(Duration::from_secs(2));
    let log = std::fs::read_to_string(&p.services[cdm].log).expect("read the service's log");
    for line in json_lines(&log) {
        let text = line.to_string();
        assert!(!text.contains(".rs\""), "a source path: {text}");
        assert!(!text.contains("log.file"), "a source path: {text}");
        // The refused connection, in any words, only ever on the structured line (librdkafka's
        // "Global error" of it, and "1/1 brokers are down", only at debug).
        assert!(!text.contains("brokers are down"), "{text}");
        if text.contains("Connection refused") || text.contains("BrokerTransportFailure") {
            assert_eq!(
                line["fields"]["message"], "broker connection failed",
                "a second line of a failed connection: {text}"
            );
        }
    }
    eprintln!("{} failure lines, e.g. {}", failures.len(), failures[0]);
}
