//! Runs the `dds_rows` example as a user would: the sample order of docs/contract.md §4.2 on stdin.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Output, Stdio};

use serde_json::Value;

fn example_binary() -> PathBuf {
    vault_testkit::process::example_binary("dds_rows")
}

fn run(stdin: &[u8]) -> Output {
    let mut child = Command::new(example_binary())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start dds_rows");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(stdin)
        .expect("write stdin");
    child.wait_with_output().expect("dds_rows output")
}

#[test]
fn prints_every_row_of_the_spec_sample_order() {
    let input = include_bytes!("../data/spec_order.jsonl");
    let out = run(input);
    assert!(
        out.status.success(),
        "stderr: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8(out.stdout).expect("utf-8");
    let rows: Vec<Value> = stdout
        .lines()
        .map(|l| serde_json::from_str(l).expect("a JSON object per line"))
        .collect();

    // The expected rows were computed by Python's uuid5 (vault-core/tests/golden/generate.py);
    // the sample of docs/contract.md §4.2 is the first golden order.
    let golden: Vec<BTreeMap<String, Vec<BTreeMap<String, String>>>> = serde_json::from_str(
        include_str!("../../vault-core/tests/golden/order_rows.json"),
    )
    .expect("golden rows");
    let expected = &golden[0];
    let mut got: BTreeMap<String, Vec<BTreeMap<String, String>>> = BTreeMap::new();
    for row in rows {
        let Value::Object(map) = row else {
            panic!("not an object: {row}")
        };
        assert_eq!(map["load_src"], "orders-system-kafka");
        let table = map["table"].as_str().expect("table name").to_owned();
        let columns = map
            .into_iter()
            .filter(|(k, _)| k != "table" && k != "load_src")
            .map(|(k, v)| (k, v.as_str().map_or_else(|| v.to_string(), str::to_owned)))
            .collect();
        got.entry(table).or_default().push(columns);
    }
    // The effectivity satellites (added after the original services) observe each product
    // link once: the one product of the sample is in one category and one restaurant.
    for es in ["es_product_category", "es_product_restaurant"] {
        assert_eq!(got.remove(es).map(|rows| rows.len()), Some(1), "{es}");
    }
    assert_eq!(&got, expected);
    assert_eq!(got.len(), 14, "one row in each of the original DV tables");
}

#[test]
fn duplicate_orders_print_no_duplicate_rows() {
    let line = include_bytes!("../data/spec_order.jsonl");
    let twice = [line.as_slice(), line.as_slice()].concat();
    let out = run(&twice);
    assert!(out.status.success());
    assert_eq!(String::from_utf8_lossy(&out.stdout).lines().count(), 16);
}

#[test]
fn a_bad_line_stops_with_a_message_naming_line_and_field() {
    let good = include_str!("../data/spec_order.jsonl");
    let bad = good.replace("\"cost\": 300", "\"cost\": \"300\"");
    let out = run(format!("{good}{bad}").as_bytes());
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("line 2") && stderr.contains("payload.cost"),
        "stderr: {stderr}"
    );
    // The good first order was still written.
    assert_eq!(String::from_utf8_lossy(&out.stdout).lines().count(), 16);

    let garbage = run(b"{not json\n");
    assert_eq!(garbage.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&garbage.stderr).contains("not valid JSON"));
}
