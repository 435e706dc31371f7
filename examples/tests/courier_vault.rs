//! The courier vault (`examples/courier.rs`): the example's rows carry the keys a recomputation
//! from the key spec gives, and the model loads through vault-pg into a real PostgreSQL, where
//! its current views hold the newest version of every value whatever the arrival order.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::Command;

use serde_json::Value;
use vault_core::{KeySpec, RowSet};
use vault_examples::courier::{self, CourierRows, DeliveryEvent};
use vault_testkit::TestDb;

const SAMPLE: &str = include_str!("../data/deliveries.jsonl");

fn example_binary() -> PathBuf {
    vault_testkit::process::example_binary("courier_vault")
}

fn events() -> Vec<DeliveryEvent> {
    SAMPLE
        .lines()
        .map(|l| serde_json::from_str(l).expect("a sample event"))
        .collect()
}

fn text(row: &Value, field: &str) -> String {
    match &row[field] {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

#[test]
fn the_examples_keys_equal_a_recomputation_from_the_key_spec() {
    let output = Command::new(example_binary())
        .output()
        .expect("run the example");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let rows: Vec<Value> = String::from_utf8(output.stdout)
        .expect("utf-8")
        .lines()
        .map(|l| serde_json::from_str(l).expect("a JSON line"))
        .collect();
    let k = KeySpec::SEED;
    // Business keys by hub key, from the hub rows printed.
    let mut courier_of = BTreeMap::new();
    let mut delivery_of = BTreeMap::new();
    let mut per_table: BTreeMap<String, usize> = BTreeMap::new();
    for row in &rows {
        *per_table.entry(text(row, "table")).or_default() += 1;
        match text(row, "table").as_str() {
            "h_courier" => {
                let id = text(row, "courier_id");
                assert_eq!(text(row, "h_courier_pk"), k.hub(&id).to_string());
                courier_of.insert(text(row, "h_courier_pk"), id);
            }
            "h_delivery" => {
                let id = text(row, "delivery_id");
                assert_eq!(text(row, "h_delivery_pk"), k.hub(&id).to_string());
                delivery_of.insert(text(row, "h_delivery_pk"), id);
            }
            _ => {}
        }
    }
    for row in &rows {
        let (key, expected) = match text(row, "table").as_str() {
            "l_delivery_courier" => {
                let d = &delivery_of[&text(row, "h_delivery_pk")];
                let c = &courier_of[&text(row, "h_courier_pk")];
                ("hk_delivery_courier_pk", k.link(&[d, c]))
            }
            "s_courier_profile" => {
                let c = &courier_of[&text(row, "h_courier_pk")];
                let attributes = [text(row, "name"), text(row, "vehicle")];
                let attributes: Vec<&str> = attributes.iter().map(String::as_str).collect();
                ("hk_courier_profile_pk", k.hashdiff(c, &attributes))
            }
            "s_delivery_status" => {
                let d = &delivery_of[&text(row, "h_delivery_pk")];
                (
                    "hk_delivery_status_pk",
                    k.key([d.as_str(), &text(row, "status")]),
                )
            }
            _ => continue,
        };
        assert_eq!(text(row, key), expected.to_string(), "{row}");
    }
    let expected: BTreeMap<String, usize> = [
        ("h_courier", 2),
        ("h_delivery", 3),
        ("l_delivery_courier", 3),
        ("s_courier_profile", 6),
        ("s_delivery_status", 6),
    ]
    .map(|(t, n)| (t.to_owned(), n))
    .into();
    assert_eq!(
        per_table, expected,
        "each value at each effective time once"
    );
    // The A→B→A profile (bike, car, bike): every time each value was seen, the duplicate once.
    let mut bike: Vec<String> = rows
        .iter()
        .filter(|r| text(r, "table") == "s_courier_profile" && text(r, "vehicle") == "bike")
        .map(|r| text(r, "updated_at"))
        .collect();
    bike.sort();
    assert_eq!(
        bike,
        [
            "2024-05-01 10:00:00",
            "2024-05-01 10:12:00",
            "2024-05-01 10:31:00",
            "2024-05-01 11:20:00"
        ]
    );
}

#[test]
fn a_bad_line_stops_the_example_with_its_number() {
    let dir = std::env::temp_dir().join(vault_testkit::unique("courier_bad"));
    std::fs::write(
        &dir,
        format!(
            "{}\n{{\"delivery_id\": \"x\"}}\n",
            SAMPLE.lines().next().unwrap_or("")
        ),
    )
    .expect("write");
    let output = Command::new(example_binary())
        .arg(&dir)
        .output()
        .expect("run the example");
    let _ = std::fs::remove_file(&dir);
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("line 2"), "{stderr}");
    assert!(
        output.stdout.is_empty(),
        "nothing printed for a refused input"
    );
}

#[test]
fn the_courier_vault_loads_into_postgresql_and_keeps_every_period() {
    let db = TestDb::empty("courier");
    vault_pg::model::create(&mut *db.client(), &CourierRows::MODEL).expect("create the tables");
    let events = events();
    let keys = KeySpec::SEED;
    let mut client = db.client();
    // Newest first, one event per batch: every later one is older or a duplicate; then the
    // whole sample once more as one batch (a replay).
    let mut order: Vec<&DeliveryEvent> = events.iter().collect();
    order.sort_by_key(|e| std::cmp::Reverse(e.updated_at));
    for event in order {
        let mut rows = CourierRows::default();
        courier::add(&mut rows, &keys, event);
        let mut tx = client.transaction().expect("begin");
        vault_pg::model::write(&mut tx, &rows).expect("load");
        tx.commit().expect("commit");
    }
    let mut rows = CourierRows::default();
    for event in &events {
        courier::add(&mut rows, &keys, event);
    }
    let mut tx = client.transaction().expect("begin");
    assert_eq!(
        vault_pg::model::write(&mut tx, &rows).expect("replay"),
        0,
        "a replay writes nothing"
    );
    tx.commit().expect("commit");

    let vehicle: String = client
        .query_one(
            "SELECT p.vehicle FROM courier.s_courier_profile_current p \
             JOIN courier.h_courier h USING (h_courier_pk) WHERE h.courier_id = 'c-17'",
            &[],
        )
        .expect("current profile")
        .get(0);
    assert_eq!(vehicle, "bike", "bike → car → bike: bike is current");
    let periods: Vec<(String, String, Option<String>)> = client
        .query(
            "SELECT p.vehicle, p.valid_from::text, p.valid_to::text \
             FROM courier.s_courier_profile_periods p \
             JOIN courier.h_courier h USING (h_courier_pk) WHERE h.courier_id = 'c-17' \
             ORDER BY p.valid_from",
            &[],
        )
        .expect("periods")
        .iter()
        .map(|r| (r.get(0), r.get(1), r.get(2)))
        .collect();
    let at = |t: &str| Some(t.to_owned());
    assert_eq!(
        periods,
        [
            (
                "bike".into(),
                "2024-05-01 10:00:00".into(),
                at("2024-05-01 11:00:00")
            ),
            (
                "car".into(),
                "2024-05-01 11:00:00".into(),
                at("2024-05-01 11:20:00")
            ),
            ("bike".into(), "2024-05-01 11:20:00".into(), None),
        ],
        "three periods, loaded newest first"
    );
    let statuses: Vec<(i64, String)> = client
        .query(
            "SELECT h.delivery_id, s.status FROM courier.s_delivery_status_current s \
             JOIN courier.h_delivery h USING (h_delivery_pk) ORDER BY 1",
            &[],
        )
        .expect("current statuses")
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect();
    assert_eq!(
        statuses,
        [
            (9001, "delivered".into()),
            (9002, "picked_up".into()),
            (9003, "assigned".into())
        ]
    );
    assert_eq!(
        db.scalar("SELECT count(*) FROM courier.l_delivery_courier"),
        3
    );
}
