//! The cloud security profile for real (`VAULT_STACK_TLS=1 scripts/stack up`; `scripts/test`
//! runs this binary, and the e2e test, in a phase of their own against such a stack): Kafka
//! only on SASL_SSL with a SCRAM-SHA-512 user per service, PostgreSQL only over TLS
//! (verify-full), Redis only on its TLS port with an ACL user.
//!
//! * the plaintext ways in are refused;
//! * a full run (duplicates, cancellations, bad input) is exact, and no secret appears in any
//!   service's log (librdkafka's security debug output included) or `/metrics`;
//! * each misconfiguration — a wrong password for each server, a missing CA file, TLS against
//!   a plaintext port (scripts/test passes the plaintext stack's ports on), a certificate whose
//!   host name does not match — leaves the service up,
//!   not ready, with `/readyz` naming the dependency, and its log saying what is wrong.

mod common;

use std::time::Duration;

use common::expected::Expected;
use common::scenario::{
    load_catalog, producer, send, simulate, verify_dead_letters, verify_no_downstream_dead_letters,
};
use vault_testkit::http::http_get;
use vault_testkit::pipeline::{Kind, Pipeline};
use vault_testkit::{require_env, require_servers, seed};

/// The secure stack's variables; fails (never skips) when the tests do not run on one.
fn require_secure_stack() {
    require_servers();
    assert_eq!(
        std::env::var("VAULT_STACK_TLS").as_deref(),
        Ok("1"),
        "these tests need the stack's TLS profile: run them via scripts/test (its secure \
         phase), or `eval \"$(VAULT_STACK_TLS=1 VAULT_STACK_DIR=… scripts/stack up)\"` first"
    );
}

/// Every secret of the stack, by variable.
fn secrets() -> Vec<(String, String)> {
    [
        "KAFKA_CONSUMER_PASSWORD",
        "VAULT_STACK_KAFKA_STG_PASSWORD",
        "VAULT_STACK_KAFKA_DDS_PASSWORD",
        "VAULT_STACK_KAFKA_CDM_PASSWORD",
        "PG_WAREHOUSE_PASSWORD",
        "REDIS_PASSWORD",
    ]
    .into_iter()
    .map(|name| {
        let value = require_env(name);
        assert!(value.len() >= 16, "{name} is not a stack secret");
        (name.to_owned(), value)
    })
    .collect()
}

#[test]
fn the_plaintext_ways_in_are_refused() {
    require_secure_stack();
    // Kafka: a plaintext client gets no metadata from the SASL_SSL listener.
    use rdkafka::consumer::{BaseConsumer, Consumer};
    let plain: BaseConsumer = rdkafka::ClientConfig::new()
        .set(
            "bootstrap.servers",
            vault_testkit::kafka::Broker::local().bootstrap(),
        )
        .set("security.protocol", "plaintext")
        .create()
        .expect("a client");
    assert!(
        plain.fetch_metadata(None, Duration::from_secs(5)).is_err(),
        "a plaintext client was answered"
    );
    // PostgreSQL: without TLS, the server refuses the connection (pg_hba: reject).
    let mut config = vault_testkit::pg_config();
    config.sslmode = vault_pg::SslMode::Disable;
    let Err(err) = config.client_config().connect(postgres::NoTls) else {
        panic!("a plaintext connection was accepted");
    };
    assert!(
        err.to_string().contains("pg_hba") || err.as_db_error().is_some(),
        "{err}"
    );
    // Redis: the TLS port does not speak plaintext RESP, and no plaintext port is open.
    let mut plain_redis = vault_testkit::redis_config();
    plain_redis.tls = false;
    plain_redis.ca_file = None;
    let mut writer = vault_services::RedisWriter::new(&plain_redis).expect("a writer");
    assert!(
        writer.put_raw(&[("plaintext", b"x")]).is_err(),
        "plaintext Redis answered"
    );
}

#[test]
fn a_secure_run_is_exact_and_no_secret_is_ever_shown() {
    require_secure_stack();
    let secrets = secrets();
    let plan = simulate(seed(), 61_000_000, 600, 0.05);
    let expected = Expected::from_plan(&plan.messages, &plan.catalog);
    let _redis = load_catalog(&plan.catalog);
    let mut p = Pipeline::new("secure");
    // librdkafka's security and broker debug output on STG: what it logs must not leak either.
    let stg = p.spawn_with(
        Kind::Stg,
        &[
            ("KAFKA_EXTRA_CONFIG", "debug=security"),
            ("RUST_LOG", "debug"),
        ],
    );
    let dds = p.spawn(Kind::Dds);
    let cdm = p.spawn(Kind::Cdm);
    p.wait_ready(&[stg, dds, cdm], Duration::from_secs(60));
    send(
        &producer(&p),
        &p.topics.source.clone(),
        &plan.messages,
        None,
    );
    p.settle("the exact end state over TLS", |p| expected.verify(&p.db));
    verify_dead_letters(&p, &expected, false, true);
    verify_no_downstream_dead_letters(&p);
    let mut leaks = Vec::new();
    for service in &p.services {
        let metrics = service.metrics().expect("/metrics");
        let log = std::fs::read_to_string(&service.log).expect("the service log");
        assert!(
            log.contains("SASL") || service.kind != Kind::Stg,
            "no librdkafka debug output in the STG log"
        );
        for (name, secret) in &secrets {
            if log.contains(secret.as_str()) {
                leaks.push(format!("{name} in the log of {}", service.name));
            }
            if metrics.contains(secret.as_str()) {
                leaks.push(format!("{name} in /metrics of {}", service.name));
            }
        }
    }
    assert!(
        leaks.is_empty(),
        "secrets shown: {leaks:?}\n{}",
        p.diagnostics()
    );
}

/// A CA bundle that is not the stack's CA (Debian's `ca-certificates`).
const SYSTEM_ROOTS: &str = "/etc/ssl/certs/ca-certificates.crt";

/// One misconfiguration: the variables changed, and what `/readyz` must name.
struct Fault {
    kind: Kind,
    what: &'static str,
    env: Vec<(&'static str, String)>,
    readyz: &'static str,
}

#[test]
fn each_misconfiguration_is_named_by_readiness_and_never_crash_loops() {
    require_secure_stack();
    let missing_ca = std::env::temp_dir()
        .join("vault-no-such-ca.pem")
        .display()
        .to_string();
    let faults = vec![
        Fault {
            kind: Kind::Dds,
            what: "a wrong Kafka password",
            env: vec![("KAFKA_CONSUMER_PASSWORD", "wrong-kafka-password".into())],
            readyz: "kafka",
        },
        Fault {
            kind: Kind::Cdm,
            what: "a wrong PostgreSQL password",
            env: vec![("PG_WAREHOUSE_PASSWORD", "wrong-pg-password".into())],
            readyz: "postgres",
        },
        Fault {
            kind: Kind::Stg,
            what: "a wrong Redis password",
            env: vec![("REDIS_PASSWORD", "wrong-redis-password".into())],
            readyz: "redis",
        },
        Fault {
            kind: Kind::Stg,
            what: "a missing Redis CA file",
            env: vec![("REDIS_CA_FILE", missing_ca.clone())],
            readyz: "REDIS_CA_FILE",
        },
        Fault {
            kind: Kind::Cdm,
            what: "a wrong PostgreSQL CA (the system's roots, not the stack's CA)",
            env: vec![("PG_WAREHOUSE_SSLROOTCERT", SYSTEM_ROOTS.into())],
            readyz: "postgres",
        },
        Fault {
            kind: Kind::Stg,
            what: "a wrong Redis CA (the system's roots)",
            env: vec![("REDIS_CA_FILE", SYSTEM_ROOTS.into())],
            readyz: "redis",
        },
        Fault {
            kind: Kind::Dds,
            what: "a wrong Kafka CA (the system's roots)",
            env: vec![("KAFKA_CA_FILE", SYSTEM_ROOTS.into())],
            readyz: "kafka",
        },
        Fault {
            kind: Kind::Dds,
            what: "a missing Kafka CA file",
            env: vec![("KAFKA_CA_FILE", missing_ca)],
            readyz: "kafka",
        },
        Fault {
            kind: Kind::Cdm,
            what: "a PostgreSQL host name the certificate does not name (verify-full)",
            env: vec![("PG_WAREHOUSE_HOST", "localhost".into())],
            readyz: "postgres",
        },
    ];
    // TLS against a plaintext port: the plaintext stack of scripts/test's main phase, whose
    // ports scripts/test passes on (VAULT_TEST_PLAINTEXT_*).
    let plain = |name: &str| std::env::var(name).ok().filter(|v| !v.is_empty());
    let mut faults = faults;
    match (
        plain("VAULT_TEST_PLAINTEXT_PG_PORT"),
        plain("VAULT_TEST_PLAINTEXT_REDIS_PORT"),
        plain("VAULT_TEST_PLAINTEXT_KAFKA_PORT"),
    ) {
        (Some(pg), Some(redis), Some(kafka)) => faults.extend([
            Fault {
                kind: Kind::Cdm,
                what: "PostgreSQL verify-full against a server without TLS",
                env: vec![("PG_WAREHOUSE_PORT", pg)],
                readyz: "postgres",
            },
            Fault {
                kind: Kind::Stg,
                what: "Redis TLS against a plaintext port",
                env: vec![("REDIS_PORT", redis)],
                readyz: "redis",
            },
            Fault {
                kind: Kind::Dds,
                what: "Kafka SASL_SSL against a plaintext listener",
                env: vec![("KAFKA_PORT", kafka)],
                readyz: "kafka",
            },
        ]),
        _ => panic!(
            "VAULT_TEST_PLAINTEXT_PG_PORT, _REDIS_PORT and _KAFKA_PORT are not set: scripts/test \
             passes the plaintext stack's ports to the secure phase"
        ),
    }
    let mut p = Pipeline::new("misconfigured");
    let mut started = Vec::new();
    for fault in &faults {
        let env: Vec<(&str, &str)> = fault.env.iter().map(|(n, v)| (*n, v.as_str())).collect();
        started.push(p.spawn_with(fault.kind, &env));
    }
    // Each replica stays up (wait_for fails at once if one exits) and says what is wrong.
    p.wait_for(
        "every misconfiguration named by /readyz",
        Duration::from_secs(60),
        |p| {
            let mut waiting = Vec::new();
            for (fault, &i) in faults.iter().zip(&started) {
                match http_get(p.services[i].http_port, "/readyz") {
                    Ok((503, body)) if body.contains(fault.readyz) => {}
                    Ok((status, body)) => {
                        waiting.push(format!("{}: {status} {}", fault.what, body.trim()))
                    }
                    Err(e) => waiting.push(format!("{}: {e}", fault.what)),
                }
            }
            if waiting.is_empty() {
                Ok(())
            } else {
                Err(waiting.join("; "))
            }
        },
    );
    // Still up 10 s later: no crash loop, and still not ready.
    std::thread::sleep(Duration::from_secs(10));
    p.ensure_running();
    for (fault, &i) in faults.iter().zip(&started) {
        let (status, body) = http_get(p.services[i].http_port, "/readyz").expect("/readyz");
        assert_eq!(status, 503, "{}: {body}", fault.what);
        let log = std::fs::read_to_string(&p.services[i].log).expect("log");
        for (_, value) in &fault.env {
            if value.starts_with("wrong-") {
                assert!(
                    !log.contains(value.as_str()),
                    "{}: the password is in the log",
                    fault.what
                );
            }
        }
    }
}
