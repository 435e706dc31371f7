//! Golden tests: keys and number rendering against values computed independently by Python's
//! `uuid.uuid5`, `json.loads` and `str()` (see `tests/golden/generate.py`, which wrote the data).

use std::collections::BTreeMap;

use serde::Deserialize;
use vault_core::orders::{build_order, EnrichedOrder};
use vault_core::{Amount, DvRow, KeySpec, RowVisitor};

const KEYS: &str = include_str!("golden/keys.json");
const NUMBERS: &str = include_str!("golden/numbers.jsonl");
const ORDERS: &str = include_str!("golden/orders.jsonl");
const ORDER_ROWS: &str = include_str!("golden/order_rows.json");

#[derive(Deserialize)]
struct KeyCase {
    parts: Vec<String>,
    plain: String,
    unambiguous: String,
}

#[test]
fn keys_match_python_uuid5() {
    let cases: Vec<KeyCase> = serde_json::from_str(KEYS).expect("keys.json");
    assert!(cases.len() >= 15);
    for case in &cases {
        let parts = case.parts.iter().map(String::as_str);
        assert_eq!(
            KeySpec::SEED.key(parts.clone()).to_string(),
            case.plain,
            "{:?}",
            case.parts
        );
        assert_eq!(
            KeySpec::SEED.unambiguous().key(parts).to_string(),
            case.unambiguous,
            "unambiguous {:?}",
            case.parts
        );
    }
}

#[test]
fn numbers_render_like_python_str() {
    let mut checked = 0;
    for line in NUMBERS.lines() {
        let (token, python, is_int): (String, String, bool) =
            serde_json::from_str(line).expect("numbers.jsonl line");
        let direct = Amount::from_json_token(&token).expect(&token);
        assert_eq!(direct.as_str(), python, "token {token}");
        assert_eq!(direct.is_integer(), is_int, "token {token}");
        // The same through the JSON parser, as a message field.
        let parsed: Amount = serde_json::from_str(&token).expect(&token);
        assert_eq!(parsed.as_str(), python, "parsed token {token}");
        // And written back out, it is still the text Python would write.
        assert_eq!(serde_json::to_string(&parsed).expect("serialize"), python);
        checked += 1;
    }
    assert!(checked > 9000, "only {checked} number cases");
}

/// Collects rows as `table -> [column -> text]`, each value as its key material (numbers as
/// their exact text).
#[derive(Default)]
struct Collect(BTreeMap<String, Vec<BTreeMap<String, String>>>);

impl RowVisitor for Collect {
    fn table<R: DvRow>(&mut self, rows: &[R]) {
        let out = self.0.entry(R::TABLE.to_owned()).or_default();
        for row in rows {
            let mut names = R::COLUMNS.iter();
            let mut map = BTreeMap::new();
            row.visit_columns(&mut |value| {
                if let Some(name) = names.next() {
                    map.insert((*name).to_owned(), value.material().into_owned());
                }
            });
            out.push(map);
        }
        out.sort_by_key(|row| serde_json::to_string(row).expect("row key"));
    }
}

#[test]
fn order_rows_match_the_python_builder() {
    let expected: Vec<BTreeMap<String, Vec<BTreeMap<String, String>>>> =
        serde_json::from_str(ORDER_ROWS).expect("order_rows.json");
    let lines: Vec<&str> = ORDERS.lines().collect();
    assert_eq!(lines.len(), expected.len());
    for (line, expected) in lines.iter().zip(expected) {
        let order = EnrichedOrder::from_json(line.as_bytes()).expect("golden order parses");
        let (rows, _) = build_order(&order, KeySpec::SEED);
        let mut got = Collect::default();
        rows.visit(&mut got);
        let mut expected = expected;
        for rows in expected.values_mut() {
            rows.sort_by_key(|row| serde_json::to_string(row).expect("row key"));
        }
        // The effectivity satellites came after the original services: one row per product
        // link, keyed by the link's key and driven by the product.
        let mut got = got.0;
        for (es, link, key) in [
            (
                "es_product_category",
                "l_product_category",
                "hk_product_category_pk",
            ),
            (
                "es_product_restaurant",
                "l_product_restaurant",
                "hk_product_restaurant_pk",
            ),
        ] {
            let es_rows = got.remove(es).expect("effectivity rows");
            let links: Vec<(&String, &String)> = expected[link]
                .iter()
                .map(|l| (&l[key], &l["h_product_pk"]))
                .collect();
            let mut observed: Vec<(&String, &String)> = es_rows
                .iter()
                .map(|r| (&r[key], &r["h_product_pk"]))
                .collect();
            observed.sort();
            let mut links = links;
            links.sort();
            assert_eq!(observed, links, "order {}: {es}", order.object_id);
            assert!(es_rows.iter().all(|r| r["is_active"] == "True"));
        }
        assert_eq!(got, expected, "order {}", order.object_id);
    }
}
