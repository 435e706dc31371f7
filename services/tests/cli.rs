//! The `vault` binary, run as an operator would (real PostgreSQL and Redis; `scripts/test`).

mod common;

use std::process::{Command, Output};

use vault_core::orders::sample::Rng;

use common::Scenario;
use vault_testkit::{require_env, seed, RedisKeys, TestDb};

fn vault(args: &[&str], env: &[(&str, &str)], unset: &[&str]) -> Output {
    require_env("PG_WAREHOUSE_HOST");
    require_env("REDIS_HOST");
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_vault"));
    cmd.args(args).env("RUST_LOG", "warn");
    for (name, value) in env {
        cmd.env(name, value);
    }
    for name in unset {
        cmd.env_remove(name);
    }
    cmd.output().expect("run the vault binary")
}

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[test]
fn missing_or_invalid_configuration_is_one_line_and_exit_2() {
    for (args, env, unset, variable) in [
        (
            &["check"][..],
            &[][..],
            &["PG_WAREHOUSE_HOST"][..],
            "PG_WAREHOUSE_HOST",
        ),
        (
            &["migrate"],
            &[],
            &["PG_WAREHOUSE_HOST"],
            "PG_WAREHOUSE_HOST",
        ),
        (
            &["check"],
            &[("PG_WAREHOUSE_PORT", "fifty")],
            &[],
            "PG_WAREHOUSE_PORT",
        ),
        (
            &["replay", "--no-progress"],
            &[],
            &["REDIS_HOST"],
            "REDIS_HOST",
        ),
        (
            &["replay", "--no-progress"],
            &[("REDIS_TLS", "maybe")],
            &[],
            "REDIS_TLS",
        ),
    ] {
        let out = vault(args, env, unset);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {}", stderr(&out));
        let err = stderr(&out);
        assert_eq!(err.lines().count(), 1, "one line: {err:?}");
        assert!(err.contains(variable), "names {variable}: {err}");
        assert!(stdout(&out).is_empty());
    }
}

#[test]
fn migrate_twice_then_check() {
    let db = TestDb::empty("cli_migrate");
    let env = [("PG_WAREHOUSE_DBNAME", db.name.as_str())];

    // Before the migration: the command cannot run, and says why in one line.
    let early = vault(&["check"], &env, &[]);
    assert_eq!(early.status.code(), Some(3), "{}", stderr(&early));
    let err = stderr(&early);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(
        err.contains("does not exist"),
        "PostgreSQL's message: {err}"
    );

    let first = vault(&["migrate"], &env, &[]);
    assert_eq!(first.status.code(), Some(0), "{}", stderr(&first));
    let text = stdout(&first);
    assert!(text.contains("applied migration 0001 init"), "{text}");
    assert!(text.contains("applied migration 0002"), "{text}");

    let second = vault(&["migrate"], &env, &[]);
    assert_eq!(second.status.code(), Some(0), "{}", stderr(&second));
    assert!(
        stdout(&second).starts_with("nothing to apply"),
        "{}",
        stdout(&second)
    );

    let check = vault(&["check"], &env, &[]);
    assert_eq!(check.status.code(), Some(0), "{}", stderr(&check));
    assert_eq!(stdout(&check).trim(), "cdm = recomputation from dds: exact");
}

#[test]
fn replay_and_check_from_the_command_line() {
    let mut rng = Rng::new(seed());
    let scenario = Scenario::generate(&mut rng, 40, 100);
    let mut redis = RedisKeys::new();
    redis.load_catalog(&scenario.catalog);
    let db = TestDb::new("cli_replay");
    let mut orders = scenario.latest();
    let mut stranger = orders[0].clone();
    stranger.object_id = 7;
    stranger.payload.user.id = rng.object_id();
    orders.push(stranger);
    db.stg_upsert(&orders);
    let env = [("PG_WAREHOUSE_DBNAME", db.name.as_str())];

    // One order has an id Redis does not know: reported, and the exit code says so.
    let out = vault(&["replay", "--no-progress", "--page-size", "16"], &env, &[]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(text.contains("replayed 40 of 41 raw orders"), "{text}");
    assert!(
        text.contains("cdm: 40 new, 0 updated, 0 duplicate, 0 stale"),
        "{text}"
    );
    assert!(text.contains("skipped: 1 (unknown_user 1)"), "{text}");
    assert!(text.contains("object_id 7: unknown_user"), "{text}");
    assert!(text.contains("--allow-skipped"), "{text}");

    let out = vault(&["replay", "--no-progress", "--allow-skipped"], &env, &[]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(text.contains("dds: 0 rows written"), "{text}");
    assert!(
        text.contains("cdm: 0 new, 0 updated, 40 duplicate, 0 stale"),
        "{text}"
    );

    let check = vault(&["check"], &env, &[]);
    assert_eq!(check.status.code(), Some(0), "{}", stderr(&check));
    assert_eq!(stdout(&check).trim(), "cdm = recomputation from dds: exact");

    // A counter broken by hand: found, listed, exit 1.
    db.client()
        .batch_execute(include_str!("sql/tamper_counter.sql"))
        .expect("tamper");
    let check = vault(&["check"], &env, &[]);
    assert_eq!(check.status.code(), Some(1), "{}", stderr(&check));
    let text = stdout(&check);
    assert!(text.contains("user_category_counters"), "{text}");
    assert!(text.contains("1 counter(s) differ"), "{text}");
}

#[test]
fn bad_usage_is_exit_2() {
    let out = vault(&["replay", "--page-size", "0"], &[], &[]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    let out = vault(&["frobnicate"], &[], &[]);
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn positions_are_listed_and_reset_per_group() {
    let db = TestDb::new("positions_cli");
    let at = |topic: &str, partition: i32, next_offset: i64| vault_pg::positions::Position {
        topic: topic.into(),
        partition,
        next_offset,
    };
    {
        let mut client = db.client();
        let mut tx = client.transaction().expect("begin");
        vault_pg::positions::record(
            &mut tx,
            "dds-service",
            &[
                at("stg-service-orders", 0, 42),
                at("stg-service-orders", 1, 7),
            ],
        )
        .expect("record");
        vault_pg::positions::record(&mut tx, "cdm-service", &[at("dds-service-orders", 3, 9)])
            .expect("record");
        tx.commit().expect("commit");
    }
    let env = [("PG_WAREHOUSE_DBNAME", db.name.as_str())];
    let listed = vault(&["positions"], &env, &[]);
    assert!(listed.status.success(), "{}", stderr(&listed));
    let text = stdout(&listed);
    assert!(
        text.contains("dds-service\tstg-service-orders\t0\t42\t"),
        "{text}"
    );
    assert!(
        text.contains("cdm-service\tdds-service-orders\t3\t9\t"),
        "{text}"
    );
    let one = stdout(&vault(&["positions", "--group", "cdm-service"], &env, &[]));
    assert!(
        one.contains("cdm-service") && !one.contains("dds-service\t"),
        "{one}"
    );

    let refused = vault(&["positions", "--reset"], &env, &[]);
    assert_eq!(
        refused.status.code(),
        Some(2),
        "--reset without --group: {}",
        stderr(&refused)
    );
    let reset = vault(
        &["positions", "--group", "dds-service", "--reset"],
        &env,
        &[],
    );
    assert!(reset.status.success(), "{}", stderr(&reset));
    assert!(
        stdout(&reset).contains("forgot 2 position(s) of group dds-service"),
        "{}",
        stdout(&reset)
    );
    let after = stdout(&vault(&["positions"], &env, &[]));
    assert!(
        !after.contains("dds-service\t") && after.contains("cdm-service\t"),
        "{after}"
    );
}

/// `PG_WAREHOUSE_PASSWORD_FILE` (the Kubernetes Secret-volume habit): the file's content is the
/// password; a missing file, or a file and the variable both, stop with one line naming the
/// variable; a wrong password from a file is refused without being echoed.
#[test]
fn passwords_can_come_from_files() {
    let db = TestDb::new("password_file");
    let password = require_env("PG_WAREHOUSE_PASSWORD");
    let dir = std::env::temp_dir().join(vault_testkit::unique("secret"));
    std::fs::create_dir_all(&dir).expect("a directory");
    let good = dir.join("password");
    std::fs::write(&good, format!("{password}\n")).expect("write the password file");
    let wrong = dir.join("wrong");
    std::fs::write(&wrong, "not-the-password-Zq81").expect("write the wrong password file");
    let file_env = |path: &std::path::Path| {
        vec![
            ("PG_WAREHOUSE_DBNAME", db.name.clone()),
            ("PG_WAREHOUSE_PASSWORD_FILE", path.display().to_string()),
        ]
    };
    let run = |env: &[(&str, String)], unset: &[&str]| {
        let env: Vec<(&str, &str)> = env.iter().map(|(n, v)| (*n, v.as_str())).collect();
        vault(&["check"], &env, unset)
    };

    let out = run(&file_env(&good), &["PG_WAREHOUSE_PASSWORD"]);
    assert!(out.status.success(), "{}", stderr(&out));

    let out = run(&file_env(&wrong), &["PG_WAREHOUSE_PASSWORD"]);
    assert!(!out.status.success(), "a wrong password is refused");
    let all = format!("{}{}", stdout(&out), stderr(&out));
    assert!(
        !all.contains("not-the-password-Zq81"),
        "the password is echoed: {all}"
    );
    assert!(all.contains("password"), "{all}");

    let out = run(&file_env(&dir.join("missing")), &["PG_WAREHOUSE_PASSWORD"]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert_eq!(stderr(&out).trim().lines().count(), 1, "{}", stderr(&out));
    assert!(
        stderr(&out).contains("PG_WAREHOUSE_PASSWORD_FILE"),
        "{}",
        stderr(&out)
    );

    let out = run(&file_env(&good), &[]);
    assert_eq!(out.status.code(), Some(2), "both set: {}", stderr(&out));
    assert!(stderr(&out).contains("set one of them"), "{}", stderr(&out));
    let _ = std::fs::remove_dir_all(&dir);
}

/// Each binary as built by cargo for this test: the three services and the CLI.
const BINARIES: [(&str, &str); 4] = [
    ("stg-service", env!("CARGO_BIN_EXE_stg-service")),
    ("dds-service", env!("CARGO_BIN_EXE_dds-service")),
    ("cdm-service", env!("CARGO_BIN_EXE_cdm-service")),
    ("vault", env!("CARGO_BIN_EXE_vault")),
];

/// [`BINARIES`] are every binary the configuration declares (vault_core::pipeline::vars::Binary,
/// the stages' and the CLI), in its order.
#[test]
fn the_binaries_tested_are_the_declared_ones() {
    use vault_core::pipeline::vars::Binary;
    let declared = Binary::ALL.map(Binary::name);
    assert_eq!(BINARIES.map(|(name, _)| name), declared);
}

/// Runs `binary` with `args` and nothing in its environment.
fn bare(binary: &str, args: &[&str]) -> Output {
    Command::new(binary)
        .args(args)
        .env_clear()
        .output()
        .unwrap_or_else(|e| panic!("run {binary}: {e}"))
}

#[test]
fn every_binary_answers_help_and_version_with_an_empty_environment() {
    use vault_services::build_info::{REVISION, VERSION, VERSION_LINE};
    // The revision is the checkout's HEAD when the tests run in one (the build script asks
    // git), unless VAULT_GIT_REVISION says otherwise (as the image build does); `unknown`
    // outside a checkout.
    let head = Command::new("git")
        .args(["rev-parse", "--short=12", "HEAD"])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned());
    match (&head, std::env::var_os("VAULT_GIT_REVISION")) {
        (Some(head), None) => assert_eq!(REVISION, head, "the build's revision is HEAD"),
        (None, None) => assert_eq!(REVISION, "unknown"),
        (_, Some(_)) => assert!(!REVISION.is_empty()),
    }
    assert_eq!(VERSION, env!("CARGO_PKG_VERSION"));

    for (name, binary) in BINARIES {
        let out = bare(binary, &["--version"]);
        assert_eq!(
            out.status.code(),
            Some(0),
            "{name} --version: {}",
            stderr(&out)
        );
        assert_eq!(stdout(&out), format!("{name} {VERSION_LINE}\n"));

        let out = bare(binary, &["--help"]);
        assert_eq!(
            out.status.code(),
            Some(0),
            "{name} --help: {}",
            stderr(&out)
        );
        let help = stdout(&out);
        assert!(help.contains("Usage:"), "{name} --help: {help}");
        assert!(help.contains("--version"), "{name} --help: {help}");
        assert!(
            help.contains("PG_WAREHOUSE_"),
            "names its configuration: {help}"
        );

        // Anything else on a service's command line is a usage error (a service takes no
        // arguments), before any variable is read.
        let out = bare(binary, &["--frobnicate"]);
        assert_eq!(
            out.status.code(),
            Some(2),
            "{name} --frobnicate: {}",
            stderr(&out)
        );
        assert!(stdout(&out).is_empty());
    }
    for (name, binary) in &BINARIES[..3] {
        let help = stdout(&bare(binary, &["--help"]));
        assert!(help.contains("docs/configuration.md"), "{name}: {help}");
        assert!(help.contains("/readyz"), "{name}: {help}");
        // Without arguments and without environment a service stops at once on the first
        // missing variable (exit 2, one line), as before.
        let out = bare(binary, &[]);
        assert_eq!(out.status.code(), Some(2), "{name}: {}", stderr(&out));
        let err = stderr(&out);
        assert_eq!(err.lines().count(), 1, "{name}: one line: {err:?}");
        assert!(err.starts_with(&format!("{name}: ")), "{err}");
    }
}

#[test]
fn simulate_writes_its_messages_to_a_file_without_a_broker() {
    let dir = std::env::temp_dir().join(format!("vault-simulate-out-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let file = dir.join("orders.jsonl");
    let path = file.to_str().expect("UTF-8 temp path");
    let out = vault(
        &[
            "simulate",
            "--orders",
            "40",
            "--garbage",
            "0.2",
            "--no-dictionaries",
            "--out",
            path,
        ],
        &[],
        &["KAFKA_HOST", "KAFKA_PORT"],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let lines: Vec<serde_json::Value> = std::fs::read_to_string(&file)
        .expect("the file")
        .lines()
        .map(|line| serde_json::from_str(line).expect("a JSON line"))
        .collect();
    assert!(stdout(&out).starts_with(&format!("wrote {} messages", lines.len())));
    let orders: Vec<&serde_json::Value> = lines.iter().filter(|l| l["key"].is_string()).collect();
    assert_eq!(orders.len(), 40, "one message per order, keyed by its id");
    for line in orders {
        let value: serde_json::Value =
            serde_json::from_str(line["value"].as_str().expect("text")).expect("an order");
        assert_eq!(
            value["object_id"].to_string(),
            line["key"].as_str().expect("key"),
            "the key is the order id"
        );
    }
    assert!(
        lines.len() > 40,
        "the garbage messages are written too, unkeyed"
    );
    std::fs::remove_dir_all(&dir).expect("clean up");
}

/// `vault admin`, scripts/stack's Kafka admin, against the stack's broker (as its admin user in
/// the TLS profile: the environment's KAFKA_*): topics created once with their settings and
/// listed as scripts/stack's callers parse them, a group's offsets set while it has no member
/// and refused while it has one, the topics deleted.
#[test]
fn admin_creates_lists_resets_and_deletes_topics() {
    use rdkafka::consumer::{BaseConsumer, Consumer};
    use rdkafka::producer::{BaseProducer, BaseRecord, Producer};
    use std::time::{Duration, Instant};
    use vault_testkit::kafka::{Broker, PARTITIONS};

    let broker = Broker::local();
    let base = vault_testkit::unique("admin_cli");
    let (a, b) = (format!("{base}.a"), format!("{base}.b"));
    let partitions = PARTITIONS.to_string();
    let create = [
        "admin",
        "create-topics",
        "--partitions",
        &partitions,
        "--replication",
        "1",
        "--min-insync-replicas",
        "1",
        &a,
        &b,
    ];
    let created = vault(&create, &[], &[]);
    assert!(created.status.success(), "{}", stderr(&created));
    let mut lines: Vec<String> = stdout(&created).lines().map(str::to_owned).collect();
    lines.sort();
    assert_eq!(lines, [format!("created {a}"), format!("created {b}")]);
    let again = vault(&create, &[], &[]);
    assert!(again.status.success(), "{}", stderr(&again));
    assert_eq!(stdout(&again), "", "existing topics are left alone");

    let nodes = vault(&["admin", "nodes"], &[], &[]);
    assert!(nodes.status.success(), "{}", stderr(&nodes));
    let live: usize = stdout(&nodes).trim().parse().expect("a number of brokers");
    assert!(live >= 1, "{live} live brokers");

    let listed = stdout(&vault(&["admin", "topics"], &[], &[]));
    for topic in [&a, &b] {
        assert!(
            listed
                .lines()
                .any(|l| l == format!("{topic}\tpartitions={PARTITIONS}\treplication=1")),
            "{listed}"
        );
    }
    assert!(!listed.contains("__consumer_offsets"), "{listed}");
    let names: Vec<&str> = listed
        .lines()
        .filter_map(|l| l.split('\t').next())
        .collect();
    assert!(names.windows(2).all(|w| w[0] < w[1]), "by name: {names:?}");

    // Three messages on every partition of `a`; the group starts at 1, then at the end.
    let producer: BaseProducer = broker.client_config().create().expect("producer");
    for partition in 0..PARTITIONS {
        for _ in 0..3 {
            producer
                .send(
                    BaseRecord::<(), str>::to(&a)
                        .payload("m")
                        .partition(partition),
                )
                .expect("queue a message");
        }
    }
    producer.flush(Duration::from_secs(10)).expect("flush");
    let group = vault_testkit::unique("admin_cli_group");
    let reset = vault(&["admin", "reset-offsets", &group, &a, "1"], &[], &[]);
    assert!(reset.status.success(), "{}", stderr(&reset));
    assert_eq!(
        stdout(&reset),
        format!("{group}\t{a}\tpartitions={PARTITIONS}\toffset=1\n")
    );
    assert_eq!(
        broker.uncommitted(&group, &a),
        Ok(i64::from(PARTITIONS) * 2)
    );
    let reset = vault(&["admin", "reset-offsets", &group, &a, "3"], &[], &[]);
    assert!(reset.status.success(), "{}", stderr(&reset));
    assert_eq!(broker.uncommitted(&group, &a), Ok(0));

    // A member in the group: the broker refuses offsets from outside it.
    let member: BaseConsumer = broker
        .client_config()
        .set("group.id", &group)
        .set("enable.auto.commit", "false")
        .create()
        .expect("member");
    member.subscribe(&[&a]).expect("subscribe");
    let deadline = Instant::now() + Duration::from_secs(30);
    while member.assignment().map_or(0, |list| list.count()) == 0 {
        assert!(Instant::now() < deadline, "the member got no partition");
        let _ = member.poll(Duration::from_millis(100));
    }
    let refused = vault(&["admin", "reset-offsets", &group, &a, "0"], &[], &[]);
    assert_eq!(refused.status.code(), Some(3), "{}", stderr(&refused));
    assert!(
        stderr(&refused).contains(&format!("group {group} on {a}")),
        "{}",
        stderr(&refused)
    );
    drop(member);

    let deleted = vault(
        &["admin", "delete-topics", &a, &b, "never-created"],
        &[],
        &[],
    );
    assert!(deleted.status.success(), "{}", stderr(&deleted));
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let listed = stdout(&vault(&["admin", "topics"], &[], &[]));
        if !listed.contains(&base) {
            break;
        }
        assert!(Instant::now() < deadline, "still listed: {listed}");
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// `vault refresh`: every point-in-time and bridge table of the order model rebuilt at one
/// time, one line each; again at that time, the same rows (idempotent); `--keep-days` deletes
/// the older snapshots, `--only` limits the tables, an unknown name or time is exit 2.
#[test]
fn refresh_rebuilds_the_snapshots_and_prunes_the_old_ones() {
    let mut rng = Rng::new(seed());
    let scenario = Scenario::generate(&mut rng, 30, 40);
    let db = TestDb::new("cli_refresh");
    for batch in &scenario.batches {
        db.write_like_services(&scenario.catalog, batch);
    }
    let env = [("PG_WAREHOUSE_DBNAME", db.name.as_str())];
    let orders = db.scalar("SELECT count(*) FROM dds.h_order");
    assert_eq!(orders, 30);
    // At a far time every order's product is in one category (effectivity: the driving
    // product's newest link), so the bridge has one row per order line.
    let lines = db.scalar("SELECT count(*) FROM dds.l_order_product");
    let fingerprint = |table: &str| {
        db.client()
            .query_one(
                format!(
                    "SELECT count(*), md5(coalesce(string_agg(t::text, ',' ORDER BY t::text), '')) \
                     FROM dds.{table} AS t"
                )
                .as_str(),
                &[],
            )
            .map(|row| (row.get::<_, i64>(0), row.get::<_, String>(1)))
            .expect("fingerprint")
    };
    let ok = |args: &[&str]| {
        let out = vault(args, &env, &[]);
        assert_eq!(out.status.code(), Some(0), "{args:?}: {}", stderr(&out));
        stdout(&out)
    };

    let first = ok(&["refresh", "--as-of", "2100-01-01"]);
    assert_eq!(first.lines().count(), 2, "{first}");
    assert!(
        first.contains(&format!(
            "dds.pit_order at 2100-01-01 00:00:00: {orders} row(s) in "
        )),
        "{first}"
    );
    assert!(
        first.contains(&format!(
            "dds.b_order_category at 2100-01-01 00:00:00: {lines} row(s) in "
        )),
        "{first}"
    );
    let (pit, bridge) = (fingerprint("pit_order"), fingerprint("b_order_category"));
    assert_eq!((pit.0, bridge.0), (orders, lines));

    // The same time again: the same rows, not more.
    let again = ok(&["refresh", "--as-of", "2100-01-01 00:00"]);
    assert!(again.contains(&format!("{orders} row(s)")), "{again}");
    assert_eq!(fingerprint("pit_order"), pit);
    assert_eq!(fingerprint("b_order_category"), bridge);

    // Before any order: an empty snapshot.
    let early = ok(&["refresh", "--as-of", "2000-01-01", "--only", "pit_order"]);
    assert_eq!(
        early.lines().count(),
        1,
        "only the table asked for: {early}"
    );
    assert!(
        early.contains("dds.pit_order at 2000-01-01 00:00:00: 0 row(s)"),
        "{early}"
    );

    // Two days later, keeping one day: the snapshots before 2100-01-02 go, the bridge's stay.
    let pruned = ok(&[
        "refresh",
        "--as-of",
        "2100-01-03T00:00:00",
        "--keep-days",
        "1",
        "--only",
        "pit_order",
    ]);
    assert!(
        pruned.contains(&format!("{orders} row(s) in "))
            && pruned.contains(&format!(
                ", {orders} row(s) of snapshots before 2100-01-02 00:00:00 deleted"
            )),
        "{pruned}"
    );
    assert_eq!(
        db.scalar("SELECT count(DISTINCT as_of) FROM dds.pit_order"),
        1
    );
    assert_eq!(fingerprint("b_order_category"), bridge);

    for (args, names) in [
        (&["refresh", "--only", "pit_nothing"][..], "pit_nothing"),
        (&["refresh", "--as-of", "yesterday"], "yesterday"),
        (&["refresh", "--keep-days", "99999999"], "99999999"),
    ] {
        let out = vault(args, &env, &[]);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {}", stderr(&out));
        let err = stderr(&out);
        assert!(err.contains(names), "{err}");
        assert!(stdout(&out).is_empty());
    }
    let unknown = stderr(&vault(&["refresh", "--only", "pit_nothing"], &env, &[]));
    assert_eq!(unknown.lines().count(), 1, "{unknown}");
    assert!(
        unknown.contains("pit_order, b_order_category"),
        "names the model's tables: {unknown}"
    );
}
