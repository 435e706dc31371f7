//! Any declared model on a real PostgreSQL: its generated DDL applies (twice), batches load
//! insert-only with foreign keys holding, and every satellite's `_current` view gives the value
//! of the newest source version whatever the arrival order (A→B→A, late stale versions,
//! duplicates). The order model's generated DDL gives the tables its migrations give.

mod common;

use std::collections::BTreeSet;

use common::TestDb;
use vault_core::{data_vault, DvRow, KeySpec, RowSet, Timestamp};

data_vault! {
    /// Sensors and their readings' labels: a model of the test's own.
    pub struct SensorRows<'a> {
        model: "sensors", schema: "sensor", load_src: "sensor-test";
        hubs {
            /// A sensor.
            h_sensor: HSensor<'a> { h_sensor_pk; serial: &'a str }
            /// A site.
            h_site: HSite { h_site_pk; site_no: i64 }
        }
        links {
            /// Where a sensor is.
            l_sensor_site: LSensorSite { hk_sensor_site_pk; h_sensor_pk -> h_sensor, h_site_pk -> h_site }
        }
        satellites {
            /// Its label, by the source's change time.
            s_sensor_label: SSensorLabel<'a> {
                hk_sensor_label_pk; h_sensor_pk -> h_sensor; label: &'a str, threshold: i64; effective changed_at
            }
            /// Its site's name, which never changes.
            s_site_name: SSiteName<'a> { hk_site_name_pk; h_site_pk -> h_site; name: &'a str; insert_once }
        }
    }
}

data_vault! {
    /// Meters: a second model whose first table's keys can equal the sensors' (a hub key is
    /// its business key's hash, whatever the table).
    pub struct MeterRows<'a> {
        model: "meters", schema: "meter", load_src: "meter-test";
        hubs {
            /// A meter.
            h_meter: HMeter<'a> { h_meter_pk; serial: &'a str }
        }
        links {}
        satellites {}
    }
}

const KEYS: KeySpec = KeySpec::SEED;

fn ts(text: &str) -> Timestamp {
    Timestamp::parse(text).expect("timestamp")
}

/// The rows of one source record: sensor `serial` at site `site` with `label` as of `at`.
fn record<'a>(rows: &mut SensorRows<'a>, serial: &'a str, site: i64, label: &'a str, at: &str) {
    let h_sensor_pk = KEYS.hub(serial);
    let site_text = site.to_string();
    let h_site_pk = KEYS.hub(&site_text);
    rows.h_sensor.push(HSensor {
        h_sensor_pk,
        serial,
    });
    rows.h_site.push(HSite {
        h_site_pk,
        site_no: site,
    });
    rows.l_sensor_site.push(LSensorSite {
        hk_sensor_site_pk: KEYS.link(&[serial, &site_text]),
        h_sensor_pk,
        h_site_pk,
    });
    rows.s_sensor_label.push(
        SSensorLabel {
            hk_sensor_label_pk: Default::default(),
            h_sensor_pk,
            label,
            threshold: 40,
            changed_at: ts(at),
        }
        .with_hashdiff(&KEYS, serial),
    );
    rows.s_site_name.push(
        SSiteName {
            hk_site_name_pk: Default::default(),
            h_site_pk,
            name: "North",
        }
        .with_hashdiff(&KEYS, &site_text),
    );
}

fn load(db: &TestDb, rows: &SensorRows<'_>) -> u64 {
    let mut client = db.client();
    let mut tx = client.transaction().expect("begin");
    let written = vault_pg::model::write(&mut tx, rows).expect("write");
    tx.commit().expect("commit");
    written
}

/// `(label, valid_from, valid_to)` of every period of a sensor's label, in time order.
fn periods(db: &TestDb, serial: &str) -> Vec<(String, String, Option<String>)> {
    db.client()
        .query(
            "SELECT p.label, p.valid_from::text, p.valid_to::text FROM sensor.s_sensor_label_periods p \
             JOIN sensor.h_sensor h USING (h_sensor_pk) WHERE h.serial = $1 ORDER BY p.valid_from",
            &[&serial],
        )
        .expect("periods")
        .iter()
        .map(|r| (r.get(0), r.get(1), r.get(2)))
        .collect()
}

/// A sensor's label in force at `at` (`sensor.s_sensor_label_at`).
fn label_at(db: &TestDb, serial: &str, at: &str) -> Option<String> {
    db.client()
        .query_opt(
            "SELECT a.label FROM sensor.s_sensor_label_at($2::text::timestamp) a \
             JOIN sensor.h_sensor h USING (h_sensor_pk) WHERE h.serial = $1",
            &[&serial, &at],
        )
        .expect("as of")
        .map(|r| r.get(0))
}

fn current_label(db: &TestDb, serial: &str) -> (String, String) {
    let row = db
        .client()
        .query_one(
            "SELECT c.label, c.changed_at::text FROM sensor.s_sensor_label_current c \
             JOIN sensor.h_sensor h USING (h_sensor_pk) WHERE h.serial = $1",
            &[&serial],
        )
        .expect("current label");
    (row.get(0), row.get(1))
}

#[test]
fn a_model_of_its_own_loads_and_its_current_view_survives_any_arrival_order() {
    let db = TestDb::empty("model");
    let sql = vault_pg::model::ddl(&SensorRows::MODEL).expect("ddl");
    assert!(
        sql.contains("CREATE TABLE IF NOT EXISTS sensor.l_sensor_site"),
        "{sql}"
    );
    for _ in 0..2 {
        vault_pg::model::create(&mut *db.client(), &SensorRows::MODEL).expect("apply the DDL");
    }

    // Sensor A: label "idle" (10:00) → "hot" (11:00) → "idle" (12:00), each version alone in
    // a batch, in the order 12:00, 10:00, 11:00 (the newest first, then late stale ones).
    // Sensor B: "hot" (09:00) then "idle" (08:00, stale, arrives late), then 09:00 again.
    let a = [
        ("idle", "2024-03-01 12:00:00"),
        ("idle", "2024-03-01 10:00:00"),
        ("hot", "2024-03-01 11:00:00"),
    ];
    let b = [
        ("hot", "2024-03-01 09:00:00"),
        ("idle", "2024-03-01 08:00:00"),
        ("hot", "2024-03-01 09:00:00"),
    ];
    let mut written = 0;
    for ((la, ta), (lb, tb)) in a.iter().zip(&b) {
        let mut rows = SensorRows::default();
        record(&mut rows, "A", 7, la, ta);
        record(&mut rows, "B", 7, lb, tb);
        written += load(&db, &rows);
    }
    assert_eq!(
        current_label(&db, "A"),
        ("idle".into(), "2024-03-01 12:00:00".into())
    );
    assert_eq!(
        current_label(&db, "B"),
        ("hot".into(), "2024-03-01 09:00:00".into())
    );
    // Rows: 2 sensors, 1 site, 2 links, labels A{idle 10, hot 11, idle 12} B{idle 8, hot 9},
    // 1 site name (insert-once).
    assert_eq!(
        db.scalar("SELECT count(*) FROM sensor.s_sensor_label"),
        5,
        "one row per distinct value and effective time"
    );
    assert_eq!(written, 2 + 1 + 2 + 5 + 1);
    assert_eq!(
        periods(&db, "A"),
        [
            (
                "idle".into(),
                "2024-03-01 10:00:00".into(),
                Some("2024-03-01 11:00:00".into())
            ),
            (
                "hot".into(),
                "2024-03-01 11:00:00".into(),
                Some("2024-03-01 12:00:00".into())
            ),
            ("idle".into(), "2024-03-01 12:00:00".into(), None),
        ],
        "A → B → A is three periods, whatever the arrival order"
    );
    assert_eq!(
        label_at(&db, "A", "2024-03-01 11:30:00"),
        Some("hot".into())
    );
    assert_eq!(
        label_at(&db, "A", "2024-03-01 10:00:00"),
        Some("idle".into())
    );
    assert_eq!(
        label_at(&db, "A", "2024-03-01 09:59:59"),
        None,
        "before its first period"
    );
    assert_eq!(
        label_at(&db, "B", "2024-03-01 08:30:00"),
        Some("idle".into())
    );

    // The same batches again (a redelivery): nothing changes.
    for ((la, ta), (lb, tb)) in a.iter().zip(&b) {
        let mut rows = SensorRows::default();
        record(&mut rows, "A", 7, la, ta);
        record(&mut rows, "B", 7, lb, tb);
        assert_eq!(load(&db, &rows), 0, "a replay writes nothing");
    }
    // A→B→A in one batch, out of order: the newest version wins there too.
    let mut rows = SensorRows::default();
    record(&mut rows, "A", 7, "hot", "2024-03-02 09:00:00");
    record(&mut rows, "A", 7, "idle", "2024-03-02 08:00:00");
    record(&mut rows, "A", 7, "idle", "2024-03-02 07:00:00");
    load(&db, &rows);
    assert_eq!(
        current_label(&db, "A"),
        ("hot".into(), "2024-03-02 09:00:00".into())
    );
    let mut rows = SensorRows::default();
    record(&mut rows, "A", 7, "idle", "2024-03-02 10:00:00");
    load(&db, &rows);
    assert_eq!(
        current_label(&db, "A"),
        ("idle".into(), "2024-03-02 10:00:00".into()),
        "A→B→A: the value that came back is current"
    );
    // Keys as stored equal a recomputation from the key spec.
    let stored: String = db
        .client()
        .query_one(
            "SELECT hk_sensor_label_pk::text FROM sensor.s_sensor_label_current c \
             JOIN sensor.h_sensor h USING (h_sensor_pk) WHERE h.serial = 'A'",
            &[],
        )
        .expect("key")
        .get(0);
    assert_eq!(stored, KEYS.hashdiff("A", &["idle", "40"]).to_string());
    assert_eq!(
        db.scalar("SELECT count(*) FROM sensor.s_site_name_current"),
        1
    );
    // The foreign keys hold: a satellite row of an unknown sensor is refused.
    let mut orphan = SensorRows::default();
    orphan.s_site_name.push(SSiteName {
        hk_site_name_pk: KEYS.hub("x"),
        h_site_pk: KEYS.hub("no such site"),
        name: "?",
    });
    let mut client = db.client();
    let mut tx = client.transaction().expect("begin");
    let err = vault_pg::model::write(&mut tx, &orphan).expect_err("a foreign key");
    assert!(err.to_string().contains("s_site_name"), "{err}");
}

/// `(table, column, type)` of every column of schema `dds`.
fn columns(db: &TestDb) -> BTreeSet<(String, String, String)> {
    db.client()
        .query(
            "SELECT table_name::text, column_name::text, data_type::text \
             FROM information_schema.columns WHERE table_schema = 'dds'",
            &[],
        )
        .expect("columns")
        .iter()
        .map(|r| (r.get(0), r.get(1), r.get(2)))
        .collect()
}

#[test]
fn the_order_models_generated_ddl_gives_the_tables_of_its_migrations() {
    let migrated = TestDb::new("model_migrated");
    let generated = TestDb::empty("model_generated");
    vault_pg::model::create(&mut *generated.client(), &vault_core::orders::DvRows::MODEL)
        .expect("apply the generated DDL");
    let (m, g) = (columns(&migrated), columns(&generated));
    assert!(!g.is_empty());
    assert_eq!(
        g.difference(&m).collect::<Vec<_>>(),
        Vec::<&(String, String, String)>::new(),
        "generated columns the migrations do not have"
    );
    assert_eq!(
        m.difference(&g).collect::<Vec<_>>(),
        Vec::<&(String, String, String)>::new(),
        "migrated columns the generator does not make"
    );
}

#[test]
fn the_order_models_status_is_current_by_version_whatever_the_arrival_order() {
    use vault_core::orders::{DvBatch, OrderStatus};
    let db = TestDb::new("model_status");
    let mut versions = common::enriched_histories(31, 1, 0.0);
    let first = versions.remove(0);
    let at = |min: i64| {
        Timestamp::parse("2024-06-01 10:00:00")
            .expect("ts")
            .plus(chrono::Duration::minutes(min))
    };
    let version = |status: OrderStatus, min: i64| {
        let mut v = first.clone();
        v.payload.status = status;
        v.payload.update_ts = Some(at(min));
        v
    };
    // OPEN (0) → CANCELLED (10) → OPEN (20), arriving 20, 0, 10, then 0 again.
    let arrivals = [
        version(OrderStatus::Open, 20),
        version(OrderStatus::Open, 0),
        version(OrderStatus::Cancelled, 10),
        version(OrderStatus::Open, 0),
    ];
    let mut client = db.client();
    for order in &arrivals {
        let mut batch = DvBatch::new(KeySpec::SEED);
        batch.add(order);
        let mut tx = client.transaction().expect("begin");
        vault_pg::dds::write(&mut tx, batch.rows()).expect("write");
        tx.commit().expect("commit");
    }
    let row = client
        .query_one(
            "SELECT status, update_ts::text FROM dds.s_order_status_current",
            &[],
        )
        .expect("current status");
    let (status, update_ts): (String, String) = (row.get(0), row.get(1));
    assert_eq!(status, "OPEN");
    assert_eq!(update_ts, at(20).to_string());
}

/// The known-key cache leaves out what this process has seen committed (a satellite's row by
/// its value and effective time), nothing of a transaction that did not commit; and when the warehouse lost rows
/// behind it (a restore), the write fails on the foreign key, the cache is cleared, and the
/// retry loads everything again.
#[test]
fn known_keys_skip_committed_rows_and_a_stale_cache_heals_on_retry() {
    use vault_pg::model::{write_skipping_known, KnownKeys};
    let db = TestDb::empty("model_known");
    vault_pg::model::create(&mut *db.client(), &SensorRows::MODEL).expect("apply the DDL");
    let mut known = KnownKeys::new(1_000);
    let write = |rows: &SensorRows<'_>, known: &mut KnownKeys, commit: bool| {
        let mut client = db.client();
        let mut tx = client.transaction().expect("begin");
        let result = write_skipping_known(&mut tx, rows, known);
        if result.is_ok() && commit {
            tx.commit().expect("commit");
            known.committed();
        }
        result
    };

    // A transaction that rolls back teaches the cache nothing.
    let mut first = SensorRows::default();
    record(&mut first, "A", 7, "idle", "2024-03-01 10:00:00");
    write(&first, &mut known, false).expect("write, then roll back");
    assert!(known.is_empty());
    assert_eq!(db.scalar("SELECT count(*) FROM sensor.h_sensor"), 0);

    // Committed: five rows, five identities known.
    assert_eq!(write(&first, &mut known, true).expect("write"), 5);
    assert_eq!(known.len(), 5);

    // The same sensor again with a newer label: only the two label rows are sent (the new
    // label's row, and nothing else of the four known rows).
    let mut second = SensorRows::default();
    record(&mut second, "A", 7, "hot", "2024-03-01 11:00:00");
    let skipped = known.skipped();
    assert_eq!(write(&second, &mut known, true).expect("write"), 1);
    assert_eq!(known.skipped() - skipped, 4);
    assert_eq!(current_label(&db, "A").0, "hot");

    // The warehouse loses the sensor behind the cache's back (restored from an old backup).
    db.client()
        .batch_execute(
            "TRUNCATE sensor.s_sensor_label, sensor.s_site_name, sensor.l_sensor_site, \
             sensor.h_sensor, sensor.h_site",
        )
        .expect("truncate");
    let mut third = SensorRows::default();
    record(&mut third, "A", 7, "idle", "2024-03-01 12:00:00");
    let err = write(&third, &mut known, true)
        .expect_err("the label refers to a sensor the cache skipped");
    assert!(err.to_string().contains("s_sensor_label"), "{err}");
    assert!(known.is_empty(), "a failed write clears the cache");
    assert_eq!(write(&third, &mut known, true).expect("the retry"), 5);
    assert_eq!(
        current_label(&db, "A"),
        ("idle".into(), "2024-03-01 12:00:00".into())
    );
}

/// One cache handed the rows of two models does not take one model's row for another's that
/// has the same key and the same place among its model's tables: it starts over.
#[test]
fn a_known_key_cache_handed_another_model_starts_over() {
    use vault_pg::model::{write_skipping_known, KnownKeys};
    let db = TestDb::empty("model_known_models");
    vault_pg::model::create(&mut *db.client(), &SensorRows::MODEL).expect("sensors' DDL");
    vault_pg::model::create(&mut *db.client(), &MeterRows::MODEL).expect("meters' DDL");
    let mut known = KnownKeys::new(1_000);
    let mut write = |rows: &dyn Fn(&mut postgres::Transaction<'_>, &mut KnownKeys) -> u64| {
        let mut client = db.client();
        let mut tx = client.transaction().expect("begin");
        let written = rows(&mut tx, &mut known);
        tx.commit().expect("commit");
        known.committed();
        written
    };
    let mut sensors = SensorRows::default();
    record(&mut sensors, "A", 7, "idle", "2024-03-01 10:00:00");
    let mut meters = MeterRows::default();
    meters.h_meter.push(HMeter {
        h_meter_pk: KEYS.hub("A"),
        serial: "A",
    });
    let sensors_written =
        write(&|tx, known| write_skipping_known(tx, &sensors, known).expect("sensors"));
    assert_eq!(sensors_written, 5);
    // h_meter and h_sensor are each their model's first table, and meter A's key is sensor A's.
    let meters_written =
        write(&|tx, known| write_skipping_known(tx, &meters, known).expect("meters"));
    assert_eq!(meters_written, 1, "the meter's hub row was written");
    assert_eq!(db.scalar("SELECT count(*) FROM meter.h_meter"), 1);
}

/// The cache is bounded: two generations of `capacity` keys; what keeps coming back stays.
#[test]
fn known_keys_are_bounded_and_keep_what_recurs() {
    use vault_pg::model::{write_skipping_known, KnownKeys};
    let db = TestDb::empty("model_known_bound");
    vault_pg::model::create(&mut *db.client(), &SensorRows::MODEL).expect("apply the DDL");
    let mut known = KnownKeys::new(10);
    let serials: Vec<String> = (0..40).map(|i| format!("S{i}")).collect();
    for (i, serial) in serials.iter().enumerate() {
        let mut rows = SensorRows::default();
        // Site 1 recurs in every record; each sensor is new.
        record(
            &mut rows,
            serial,
            1,
            "idle",
            &format!("2024-03-01 10:{:02}:00", i),
        );
        let mut client = db.client();
        let mut tx = client.transaction().expect("begin");
        write_skipping_known(&mut tx, &rows, &mut known).expect("write");
        tx.commit().expect("commit");
        known.committed();
        assert!(known.len() <= 20, "{} keys held", known.len());
    }
    // Site 1's hub and name were sent once: 39 records skipped both.
    assert!(known.skipped() >= 2 * 39, "skipped {}", known.skipped());
    assert_eq!(db.scalar("SELECT count(*) FROM sensor.h_sensor"), 40);
    assert_eq!(db.scalar("SELECT count(*) FROM sensor.l_sensor_site"), 40);
}
