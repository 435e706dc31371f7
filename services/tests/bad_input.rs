//! Bad input of every kind, and nasty input that is valid, through the three services as real
//! processes (docs/contract.md §7.2): the source topic gets source messages, the DDS and CDM
//! topics get crafted messages directly.
//!
//! * every bad kind leaves exactly one dead letter, from the service that reads it, with the
//!   expected reason and its origin; nothing else reaches any dead-letter topic;
//! * every valid kind is loaded; an order refused anywhere leaves no trace downstream;
//! * a message over the topic's size limit, and one between librdkafka's default request size
//!   and 1 MiB, are dead-lettered (the first cut to fit, with its size and checksum);
//! * an order whose dictionary entry is broken is dead-lettered and still kept raw;
//! * afterwards the services are up (no restart), every stage has committed to the end, and the
//!   counters equal their recomputation from the Data Vault.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use rdkafka::admin::{AdminClient, AdminOptions, AlterConfig, ResourceSpecifier};
use rdkafka::client::DefaultClientContext;
use serde_json::{json, Value};
use vault_core::orders::sample::{Catalog, Rng};
use vault_core::orders::{order_report, DvBatch, EnrichedOrder, SourceOrder};
use vault_core::{KeySpec, Timestamp};
use vault_kafka::{OutRecord, Producer};

use common::scenario::load_catalog;
use vault_testkit::kafka::dlq;
use vault_testkit::pipeline::Pipeline;
use vault_testkit::{require_servers, seed, RedisKeys};

/// Which service reads a case.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Input {
    Stg,
    Dds,
    Cdm,
}

/// What must become of a case.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Fate {
    /// One dead letter with this reason, from the service that reads it.
    Dead(&'static str),
    /// Loaded: the order is in every layer from its input on.
    Loaded(i64),
    /// Dead-lettered by STG with this reason, and still kept raw in `stg.order_events`.
    DeadKeptRaw(&'static str, i64),
}

struct Case {
    name: String,
    input: Input,
    /// `None`: a message with a null key (only for valid cases; bad ones are keyed by name so
    /// their dead letters can be told apart).
    keyed: bool,
    bytes: Vec<u8>,
    fate: Fate,
}

/// Sets `path` (dot-separated, `[n]` for array items) of `value`; `None` removes the field.
fn edit(value: &Value, path: &str, new: Option<Value>) -> Value {
    let mut value = value.clone();
    let mut parts: Vec<&str> = path.split('.').collect();
    let last = parts.pop().expect("a path");
    let mut at = &mut value;
    for part in parts {
        at = match part.strip_suffix(']').and_then(|p| p.split_once('[')) {
            Some((field, index)) => &mut at[field][index.parse::<usize>().expect("an index")],
            None => &mut at[part],
        };
    }
    let object = at.as_object_mut().expect("an object on the path");
    match new {
        Some(v) => {
            object.insert(last.to_owned(), v);
        }
        None => {
            object.remove(last);
        }
    }
    value
}

fn bytes(value: &Value) -> Vec<u8> {
    serde_json::to_vec(value).expect("JSON")
}

struct Corpus {
    cases: Vec<Case>,
    /// Redis entries the cases need besides the catalog: (key, value).
    entries: Vec<(String, String)>,
}

impl Corpus {
    fn add(&mut self, input: Input, name: &str, bytes: Vec<u8>, fate: Fate) {
        assert!(
            self.cases.iter().all(|c| c.name != name),
            "two cases named {name}"
        );
        self.cases.push(Case {
            name: name.to_owned(),
            input,
            keyed: true,
            bytes,
            fate,
        });
    }
}

/// A valid source order of the catalog, with its own id.
fn source_order(catalog: &Catalog, rng: &mut Rng, id: i64) -> SourceOrder {
    let placed = Timestamp::parse("2024-11-01 12:00:00").expect("timestamp");
    catalog
        .order_history(rng, id, placed, 0.0)
        .pop()
        .expect("a history")
}

fn enriched(catalog: &Catalog, order: &SourceOrder) -> EnrichedOrder {
    catalog.enrich(order).expect("catalog ids")
}

fn corpus(catalog: &Catalog, rng: &mut Rng) -> Corpus {
    let mut c = Corpus {
        cases: Vec::new(),
        entries: Vec::new(),
    };
    let mut next_id = 60_000_000;
    let mut id = || {
        next_id += 1;
        next_id
    };
    use Fate::{Dead, DeadKeptRaw, Loaded};
    use Input::{Cdm, Dds, Stg};

    // ---- STG: source messages ----------------------------------------------------------
    let base = serde_json::to_value(source_order(catalog, rng, id())).expect("order");
    let fresh = |rng: &mut Rng, id: i64| -> Value {
        serde_json::to_value(source_order(catalog, rng, id)).expect("order")
    };
    let valid = bytes(&base);
    c.add(
        Stg,
        "invalid_utf8",
        b"{\"object_id\": \"\xff\xfe\"}".to_vec(),
        Dead("invalid_json"),
    );
    let mut bom = "\u{feff}".as_bytes().to_vec();
    bom.extend(&valid);
    c.add(Stg, "bom", bom, Dead("invalid_json"));
    c.add(Stg, "empty", Vec::new(), Dead("invalid_json"));
    c.add(
        Stg,
        "whitespace_only",
        b" \n\t  ".to_vec(),
        Dead("invalid_json"),
    );
    c.add(
        Stg,
        "truncated",
        valid[..valid.len() / 2].to_vec(),
        Dead("invalid_json"),
    );
    let deep = format!("{}1{}", "{\"a\":".repeat(400), "}".repeat(400));
    // Well-formed JSON (serde skips an unknown field without recursing into it), but no order.
    c.add(
        Stg,
        "deeply_nested",
        deep.into_bytes(),
        Dead("invalid_shape"),
    );
    c.add(
        Stg,
        "top_level_array",
        format!("[{}]", String::from_utf8_lossy(&valid)).into_bytes(),
        Dead("invalid_shape"),
    );
    c.add(
        Stg,
        "positional_array",
        br#"[7000001, "order", "2024-05-01 10:00:00", {}]"#.to_vec(),
        Dead("invalid_shape"),
    );
    c.add(
        Stg,
        "top_level_string",
        br#""order""#.to_vec(),
        Dead("invalid_shape"),
    );
    c.add(
        Stg,
        "top_level_number",
        b"42".to_vec(),
        Dead("invalid_shape"),
    );
    c.add(
        Stg,
        "top_level_null",
        b"null".to_vec(),
        Dead("invalid_shape"),
    );
    c.add(
        Stg,
        "top_level_true",
        b"true".to_vec(),
        Dead("invalid_shape"),
    );
    let text = String::from_utf8_lossy(&valid).into_owned();
    c.add(
        Stg,
        "duplicate_key",
        text.replacen('{', "{\"object_id\": 1, ", 1).into_bytes(),
        Dead("invalid_shape"),
    );
    for field in [
        "object_id",
        "object_type",
        "sent_dttm",
        "payload",
        "payload.restaurant",
        "payload.restaurant.id",
        "payload.date",
        "payload.user",
        "payload.user.id",
        "payload.order_items",
        "payload.cost",
        "payload.payment",
        "payload.final_status",
        "payload.update_ts",
        "payload.order_items[0].id",
        "payload.order_items[0].price",
        "payload.order_items[0].quantity",
    ] {
        c.add(
            Stg,
            &format!("missing_{field}"),
            bytes(&edit(&base, field, None)),
            Dead("invalid_shape"),
        );
        c.add(
            Stg,
            &format!("null_{field}"),
            bytes(&edit(&base, field, Some(Value::Null))),
            Dead("invalid_shape"),
        );
    }
    for (field, wrong) in [
        ("object_id", json!("abc")),
        ("object_id", json!(1.5)),
        ("object_type", json!(5)),
        ("sent_dttm", json!(123)),
        ("payload", json!("payload")),
        ("payload.order_items", json!({})),
        ("payload.cost", json!("875")),
        ("payload.final_status", json!("DONE")),
        ("payload.user.id", json!(123)),
        ("payload.restaurant", json!("r")),
        ("payload.statuses", json!("CLOSED")),
    ] {
        let name = format!(
            "wrong_type_{field}_{}",
            match &wrong {
                Value::String(_) => "string",
                Value::Number(n) if n.is_f64() => "float",
                Value::Number(_) => "number",
                Value::Object(_) => "object",
                _ => "other",
            }
        );
        c.add(
            Stg,
            &name,
            bytes(&edit(&base, field, Some(wrong))),
            Dead("invalid_shape"),
        );
    }
    c.add(
        Stg,
        "date_out_of_range",
        bytes(&edit(
            &base,
            "payload.date",
            Some(json!("2024-13-45 25:61:61")),
        )),
        Dead("invalid_shape"),
    );
    c.add(
        Stg,
        "date_with_zone",
        bytes(&edit(
            &base,
            "payload.update_ts",
            Some(json!("2024-05-01T10:00:00+03:00")),
        )),
        Dead("invalid_shape"),
    );
    c.add(
        Stg,
        "date_with_z",
        bytes(&edit(
            &base,
            "sent_dttm",
            Some(json!("2024-05-01 10:00:00Z")),
        )),
        Dead("invalid_shape"),
    );
    c.add(
        Stg,
        "number_1e400",
        text.replacen("\"cost\":", "\"cost\":1e400,\"x_cost\":", 1)
            .into_bytes(),
        Dead("invalid_shape"),
    );
    c.add(
        Stg,
        "number_nan",
        text.replacen("\"cost\":", "\"cost\":NaN,\"x_cost\":", 1)
            .into_bytes(),
        Dead("invalid_json"),
    );
    c.add(
        Stg,
        "huge_object_id",
        text.replacen(
            "\"object_id\":",
            "\"object_id\":1180591620717411303424,\"x\":",
            1,
        )
        .into_bytes(),
        Dead("invalid_shape"),
    );
    c.add(
        Stg,
        "negative_cost",
        bytes(&edit(&base, "payload.cost", Some(json!(-1)))),
        Dead("invalid_value"),
    );
    c.add(
        Stg,
        "negative_payment",
        bytes(&edit(&base, "payload.payment", Some(json!(-0.5)))),
        Dead("invalid_value"),
    );
    c.add(
        Stg,
        "negative_price",
        bytes(&edit(
            &base,
            "payload.order_items[0].price",
            Some(json!(-5)),
        )),
        Dead("invalid_value"),
    );
    c.add(
        Stg,
        "negative_quantity",
        bytes(&edit(
            &base,
            "payload.order_items[0].quantity",
            Some(json!(-1)),
        )),
        Dead("invalid_value"),
    );
    c.add(
        Stg,
        "empty_user_id",
        bytes(&edit(&base, "payload.user.id", Some(json!("")))),
        Dead("invalid_value"),
    );
    c.add(
        Stg,
        "nul_in_user_id",
        bytes(&edit(&base, "payload.user.id", Some(json!("u\u{0}1")))),
        Dead("invalid_value"),
    );
    c.add(
        Stg,
        "nul_in_item_id",
        bytes(&edit(
            &base,
            "payload.order_items[0].id",
            Some(json!("i\u{0}")),
        )),
        Dead("invalid_value"),
    );
    c.add(
        Stg,
        "other_object_type",
        bytes(&edit(&base, "object_type", Some(json!("user")))),
        Dead("unknown_object_type"),
    );
    let megabyte_id = "x".repeat(1_000_000);
    c.add(
        Stg,
        "one_mb_user_id",
        bytes(&edit(
            &fresh(rng, id()),
            "payload.user.id",
            Some(json!(megabyte_id)),
        )),
        Dead("unknown_user"),
    );
    c.add(
        Stg,
        "unknown_user",
        bytes(&edit(
            &fresh(rng, id()),
            "payload.user.id",
            Some(json!("no-such-user")),
        )),
        Dead("unknown_user"),
    );
    c.add(
        Stg,
        "unknown_restaurant",
        bytes(&edit(
            &fresh(rng, id()),
            "payload.restaurant.id",
            Some(json!("no-such-restaurant")),
        )),
        Dead("unknown_restaurant"),
    );
    c.add(
        Stg,
        "unknown_menu_item",
        bytes(&edit(
            &fresh(rng, id()),
            "payload.order_items[0].id",
            Some(json!("no-such-dish")),
        )),
        Dead("unknown_menu_item"),
    );
    // Over the source topic's limit (the test raises it to 2 MiB; the services take 1 MiB).
    c.add(
        Stg,
        "over_the_size_limit",
        vec![b'x'; 1_500_000],
        Dead("oversize"),
    );
    // Between librdkafka's default request size (1,000,000) and 1 MiB: once a dead letter that
    // could never be written, stalling every partition of the service.
    c.add(
        Stg,
        "just_under_one_mib",
        vec![b'{'; 1_040_000],
        Dead("invalid_json"),
    );
    // Broken dictionary entries: dead-lettered, and still kept raw.
    for (name, entry) in [
        ("user_without_name", json!({"_id": "KEY"})),
        (
            "user_name_with_nul",
            json!({"_id": "KEY", "name": "a\u{0}b"}),
        ),
    ] {
        let key = format!("bad-user-{name}");
        let entry = entry.to_string().replace("KEY", &key);
        c.entries.push((key.clone(), entry));
        let order_id = id();
        let order = edit(&fresh(rng, order_id), "payload.user.id", Some(json!(key)));
        c.add(
            Stg,
            name,
            bytes(&order),
            DeadKeptRaw("invalid_dictionary_entry", order_id),
        );
    }
    for (name, broken) in [
        ("menu_not_a_list", Some(json!("menu"))),
        ("menu_item_without_category", None),
    ] {
        let order_id = id();
        let order = fresh(rng, order_id);
        let restaurant_id = order["payload"]["restaurant"]["id"]
            .as_str()
            .expect("id")
            .to_owned();
        let restaurant = catalog.restaurant(&restaurant_id).expect("restaurant");
        let key = format!("bad-restaurant-{name}");
        let mut entry = serde_json::to_value(restaurant).expect("restaurant");
        entry["_id"] = json!(key);
        match broken {
            Some(menu) => entry["menu"] = menu,
            None => {
                if let Some(item) = entry["menu"][0].as_object_mut() {
                    item.remove("category");
                }
            }
        }
        c.entries.push((key.clone(), entry.to_string()));
        let order = edit(&order, "payload.restaurant.id", Some(json!(key)));
        c.add(
            Stg,
            name,
            bytes(&order),
            DeadKeptRaw("invalid_dictionary_entry", order_id),
        );
    }
    // Valid, if nasty.
    let order_id = id();
    let mut extra = fresh(rng, order_id);
    extra["unexpected"] = json!({"nested": [1, 2, {"deep": null}]});
    extra["payload"]["order_items"][0]["emoji"] = json!("🍣🔥");
    extra["payload"]["user"]["extra"] = json!(true);
    c.add(Stg, "valid_extra_fields", bytes(&extra), Loaded(order_id));
    let order_id = id();
    c.cases.push(Case {
        name: "valid_null_key".into(),
        input: Stg,
        keyed: false,
        bytes: bytes(&fresh(rng, order_id)),
        fate: Loaded(order_id),
    });
    let order_id = id();
    let decimals = edit(
        &fresh(rng, order_id),
        "payload.bonus_payment",
        Some(json!(0.25)),
    );
    let decimals = edit(&decimals, "payload.bonus_grant", Some(json!(1e-5)));
    c.add(Stg, "valid_decimals", bytes(&decimals), Loaded(order_id));
    let order_id = id();
    let fractional = edit(
        &fresh(rng, order_id),
        "payload.order_items[0].quantity",
        Some(json!(1.5)),
    );
    c.add(
        Stg,
        "valid_fractional_quantity",
        bytes(&fractional),
        Loaded(order_id),
    );
    let order_id = id();
    let spaced = format!(
        "\n  {}  \n",
        String::from_utf8_lossy(&bytes(&fresh(rng, order_id)))
    );
    c.add(
        Stg,
        "valid_surrounding_whitespace",
        spaced.into_bytes(),
        Loaded(order_id),
    );
    let order_id = id();
    let no_login_user = format!("user-without-login-{order_id}");
    c.entries.push((
        no_login_user.clone(),
        json!({"_id": no_login_user, "name": "Без Логина 😀"}).to_string(),
    ));
    let no_login = edit(
        &fresh(rng, order_id),
        "payload.user.id",
        Some(json!(no_login_user)),
    );
    c.add(
        Stg,
        "valid_user_without_login_emoji_name",
        bytes(&no_login),
        Loaded(order_id),
    );
    let order_id = id();
    let escaped = String::from_utf8_lossy(&bytes(&fresh(rng, order_id))).replace(
        "\"object_type\":\"order\"",
        "\"object_type\":\"\\u006frder\"",
    );
    c.add(
        Stg,
        "valid_unicode_escape",
        escaped.into_bytes(),
        Loaded(order_id),
    );

    // ---- DDS: enriched orders, crafted ---------------------------------------------------
    let order_id = id();
    let e = serde_json::to_value(enriched(catalog, &source_order(catalog, rng, order_id)))
        .expect("enriched");
    let e_text = String::from_utf8_lossy(&bytes(&e)).into_owned();
    c.add(
        Dds,
        "dds_invalid_json",
        b"{\"object_id\": ".to_vec(),
        Dead("invalid_json"),
    );
    c.add(
        Dds,
        "dds_top_level_array",
        format!("[{e_text}]").into_bytes(),
        Dead("invalid_shape"),
    );
    c.add(
        Dds,
        "dds_missing_products",
        bytes(&edit(&e, "payload.products", None)),
        Dead("invalid_shape"),
    );
    c.add(
        Dds,
        "dds_missing_user_name",
        bytes(&edit(&e, "payload.user.name", None)),
        Dead("invalid_shape"),
    );
    c.add(
        Dds,
        "dds_nul_in_user_name",
        bytes(&edit(&e, "payload.user.name", Some(json!("Имя\u{0}")))),
        Dead("invalid_value"),
    );
    c.add(
        Dds,
        "dds_nul_in_product_name",
        bytes(&edit(&e, "payload.products[0].name", Some(json!("\u{0}")))),
        Dead("invalid_value"),
    );
    c.add(
        Dds,
        "dds_nul_in_category",
        bytes(&edit(
            &e,
            "payload.products[0].category",
            Some(json!("a\u{0}")),
        )),
        Dead("invalid_value"),
    );
    c.add(
        Dds,
        "dds_negative_price",
        bytes(&edit(&e, "payload.products[0].price", Some(json!(-1)))),
        Dead("invalid_value"),
    );
    c.add(
        Dds,
        "dds_report_instead",
        bytes(&edit(&e, "object_type", Some(json!("order_report")))),
        Dead("unknown_object_type"),
    );
    c.add(
        Dds,
        "dds_unknown_status",
        bytes(&edit(&e, "payload.status", Some(json!("LOST")))),
        Dead("invalid_shape"),
    );
    c.add(
        Dds,
        "dds_date_with_zone",
        bytes(&edit(
            &e,
            "payload.date",
            Some(json!("2024-05-01T10:00:00Z")),
        )),
        Dead("invalid_shape"),
    );
    c.add(
        Dds,
        "dds_cost_not_a_number",
        bytes(&edit(&e, "payload.cost", Some(json!("free")))),
        Dead("invalid_shape"),
    );
    c.add(
        Dds,
        "dds_id_not_a_number",
        bytes(&edit(&e, "object_id", Some(json!("7")))),
        Dead("invalid_shape"),
    );
    let old_id = id();
    let older = serde_json::to_value(enriched(catalog, &source_order(catalog, rng, old_id)))
        .expect("enriched");
    let older = edit(
        &edit(&older, "payload.update_ts", None),
        "payload.user.login",
        None,
    );
    c.add(Dds, "dds_valid_older_format", bytes(&older), Loaded(old_id));
    let emoji_id = id();
    let emoji = serde_json::to_value(enriched(catalog, &source_order(catalog, rng, emoji_id)))
        .expect("enriched");
    let emoji = edit(&emoji, "payload.user.name", Some(json!("Эмодзи 👩‍🍳 имя")));
    let emoji = edit(&emoji, "payload.extra", Some(json!([1, "two"])));
    c.add(
        Dds,
        "dds_valid_emoji_and_extra_fields",
        bytes(&emoji),
        Loaded(emoji_id),
    );

    // ---- CDM: order reports, crafted -----------------------------------------------------
    let report_order = enriched(catalog, &source_order(catalog, rng, id()));
    let mut batch = DvBatch::new(KeySpec::SEED);
    let keys = batch.add(&report_order);
    let sent = Timestamp::parse("2024-11-01 12:00:01").expect("timestamp");
    let r = serde_json::to_value(order_report(&report_order, &keys, sent)).expect("report");
    c.add(
        Cdm,
        "cdm_invalid_json",
        b"not json at all".to_vec(),
        Dead("invalid_json"),
    );
    c.add(Cdm, "cdm_empty", Vec::new(), Dead("invalid_json"));
    c.add(
        Cdm,
        "cdm_object_id_not_a_uuid",
        bytes(&edit(&r, "object_id", Some(json!("not-a-uuid")))),
        Dead("invalid_shape"),
    );
    c.add(
        Cdm,
        "cdm_product_id_not_a_uuid",
        bytes(&edit(&r, "payload.products[0].id", Some(json!(12345)))),
        Dead("invalid_shape"),
    );
    c.add(
        Cdm,
        "cdm_category_id_not_a_uuid",
        bytes(&edit(
            &r,
            "payload.products[0].category.id",
            Some(json!("c1")),
        )),
        Dead("invalid_shape"),
    );
    c.add(
        Cdm,
        "cdm_ids_differ",
        bytes(&edit(
            &r,
            "payload.id",
            Some(json!("00000000-0000-0000-0000-000000000001")),
        )),
        Dead("invalid_value"),
    );
    c.add(
        Cdm,
        "cdm_nul_in_username",
        bytes(&edit(&r, "payload.user.username", Some(json!("\u{0}")))),
        Dead("invalid_value"),
    );
    c.add(
        Cdm,
        "cdm_nul_in_category_name",
        bytes(&edit(
            &r,
            "payload.products[0].category.name",
            Some(json!("x\u{0}")),
        )),
        Dead("invalid_value"),
    );
    c.add(
        Cdm,
        "cdm_order_instead",
        bytes(&edit(&r, "object_type", Some(json!("order")))),
        Dead("unknown_object_type"),
    );
    c.add(
        Cdm,
        "cdm_missing_products",
        bytes(&edit(&r, "payload.products", None)),
        Dead("invalid_shape"),
    );
    c.add(
        Cdm,
        "cdm_top_level_array",
        format!("[{}]", r).into_bytes(),
        Dead("invalid_shape"),
    );
    c
}

/// Raises `topic`'s `max.message.bytes` (a source that may send larger messages than the
/// services take).
fn raise_topic_limit(p: &Pipeline, topic: &str, bytes: usize) {
    let admin: AdminClient<DefaultClientContext> = p
        .broker
        .kafka_config("e2e-admin", topic, None)
        .client_config()
        .create()
        .expect("admin client");
    let value = bytes.to_string();
    let change = AlterConfig::new(ResourceSpecifier::Topic(topic)).set("max.message.bytes", &value);
    let results = futures_executor::block_on(admin.alter_configs(&[change], &AdminOptions::new()))
        .expect("alter the topic's config");
    for result in results {
        result.unwrap_or_else(|(_, code)| panic!("max.message.bytes of {topic}: {code}"));
    }
}

#[test]
fn every_kind_of_bad_input() {
    require_servers();
    let mut rng = Rng::new(seed());
    let catalog = Catalog::generate(&mut rng, 3, 40);
    let corpus = corpus(&catalog, &mut rng);
    let bad = corpus
        .cases
        .iter()
        .filter(|c| !matches!(c.fate, Fate::Loaded(_)))
        .count();
    eprintln!(
        "corpus: {} kinds ({bad} bad, {} valid): STG {}, DDS {}, CDM {}",
        corpus.cases.len(),
        corpus.cases.len() - bad,
        corpus
            .cases
            .iter()
            .filter(|c| c.input == Input::Stg)
            .count(),
        corpus
            .cases
            .iter()
            .filter(|c| c.input == Input::Dds)
            .count(),
        corpus
            .cases
            .iter()
            .filter(|c| c.input == Input::Cdm)
            .count(),
    );
    assert!(corpus.cases.len() >= 70, "a corpus of at least 70 kinds");
    let _catalog_keys = load_catalog(&catalog);
    let mut redis = RedisKeys::new();
    for (key, value) in &corpus.entries {
        redis.set(key, value);
    }

    let mut p = Pipeline::new("badinput");
    raise_topic_limit(&p, &p.topics.source.clone(), 2 << 20);
    let ids = p.spawn_all();
    p.wait_ready(&ids, Duration::from_secs(60));
    let inputs = [
        (Input::Stg, p.topics.source.clone()),
        (Input::Dds, p.topics.stg.clone()),
        (Input::Cdm, p.topics.dds.clone()),
    ];
    let topic_of = |input: Input| -> String {
        inputs
            .iter()
            .find(|(i, _)| *i == input)
            .map(|(_, t)| t.clone())
            .expect("an input topic")
    };
    let producer = Producer::with_message_limit(
        &p.broker
            .kafka_config("e2e-producer", &p.topics.source, None),
        2 << 20,
    )
    .expect("producer");
    let records: Vec<OutRecord> = corpus
        .cases
        .iter()
        .map(|case| OutRecord {
            topic: topic_of(case.input),
            key: case.keyed.then(|| case.name.clone().into_bytes()),
            payload: case.bytes.clone(),
            headers: Vec::new(),
        })
        .collect();
    producer.send_all(&records).expect("produce the corpus");

    let expected_dead: BTreeMap<(Input, String), &'static str> = corpus
        .cases
        .iter()
        .filter_map(|c| match c.fate {
            Fate::Dead(reason) | Fate::DeadKeptRaw(reason, _) => {
                Some(((c.input, c.name.clone()), reason))
            }
            Fate::Loaded(_) => None,
        })
        .collect();
    let services = [
        (Input::Stg, "stg-service"),
        (Input::Dds, "dds-service"),
        (Input::Cdm, "cdm-service"),
    ];
    let loaded_stg: Vec<i64> = corpus
        .cases
        .iter()
        .filter_map(|c| match (c.input, &c.fate) {
            (Input::Stg, Fate::Loaded(id)) => Some(*id),
            _ => None,
        })
        .collect();
    let loaded_all: Vec<i64> = corpus
        .cases
        .iter()
        .filter_map(|c| match &c.fate {
            Fate::Loaded(id) => Some(*id),
            _ => None,
        })
        .collect();
    let kept_raw: Vec<i64> = corpus
        .cases
        .iter()
        .filter_map(|c| match &c.fate {
            Fate::DeadKeptRaw(_, id) => Some(*id),
            _ => None,
        })
        .collect();
    p.settle("every case dead-lettered or loaded", |p| {
        // Dead letters: exactly the bad cases, once each, from the right service, with the
        // expected reason and origin.
        let mut found: BTreeMap<(Input, String), String> = BTreeMap::new();
        let mut problems = Vec::new();
        for (input, service) in services {
            let source = topic_of(input);
            let origins: BTreeMap<String, (i32, i64)> = p
                .broker
                .read_topic(&source)
                .into_iter()
                .filter_map(|r| Some((String::from_utf8(r.key?).ok()?, (r.partition, r.offset))))
                .collect();
            for letter in p.broker.read_topic(&dlq(&source)) {
                let name = letter
                    .key
                    .as_ref()
                    .map(|k| String::from_utf8_lossy(k).into_owned())
                    .unwrap_or_else(|| "(no key)".into());
                let reason = letter.header("vault.reason").unwrap_or_default();
                if letter.header("vault.service").as_deref() != Some(service) {
                    problems.push(format!("{name}: vault.service {:?}, expected {service}", letter.header("vault.service")));
                }
                let origin = (
                    letter.header("vault.source.partition").and_then(|v| v.parse().ok()),
                    letter.header("vault.source.offset").and_then(|v| v.parse().ok()),
                );
                if letter.header("vault.source.topic").as_deref() != Some(source.as_str())
                    || origins.get(&name).map(|&(p, o)| (Some(p), Some(o))) != Some(origin)
                {
                    problems.push(format!("{name}: origin {:?} {origin:?}, the message is at {:?}", letter.header("vault.source.topic"), origins.get(&name)));
                }
                if found.insert((input, name.clone()), reason).is_some() {
                    problems.push(format!("{name}: dead-lettered twice"));
                }
            }
        }
        let expected: BTreeMap<(Input, String), String> = expected_dead
            .iter()
            .map(|(k, v)| (k.clone(), (*v).to_owned()))
            .collect();
        if found != expected {
            let wrong: Vec<String> = expected
                .iter()
                .filter(|(k, v)| found.get(*k) != Some(*v))
                .map(|((input, name), reason)| format!("{input:?} {name}: expected {reason}, found {:?}", found.get(&(*input, name.clone()))))
                .chain(
                    found
                        .iter()
                        .filter(|(k, _)| !expected.contains_key(*k))
                        .map(|((input, name), reason)| format!("{input:?} {name}: unexpected dead letter ({reason})")),
                )
                .collect();
            problems.push(format!("{} dead-letter difference(s):\n    {}", wrong.len(), wrong.join("\n    ")));
        }
        // Valid cases loaded, broken-entry orders kept raw.
        let mut client = p.db.client();
        let count = |client: &mut postgres::Client, sql: &str, ids: &[i64]| -> Result<usize, String> {
            client
                .query_one(sql, &[&ids])
                .and_then(|r| r.try_get::<_, i64>(0))
                .map(|n| n as usize)
                .map_err(|e| e.to_string())
        };
        let stg = count(&mut client, "SELECT count(*) FROM stg.order_events WHERE object_id = ANY($1)", &loaded_stg)?;
        if stg != loaded_stg.len() {
            problems.push(format!("stg.order_events has {stg} of the {} valid source orders", loaded_stg.len()));
        }
        let raw = count(&mut client, "SELECT count(*) FROM stg.order_events WHERE object_id = ANY($1)", &kept_raw)?;
        if raw != kept_raw.len() {
            problems.push(format!("stg.order_events keeps {raw} of the {} orders with a broken dictionary entry", kept_raw.len()));
        }
        let dds = count(&mut client, "SELECT count(*) FROM dds.h_order WHERE order_id = ANY($1)", &loaded_all)?;
        let ledger = count(
            &mut client,
            "SELECT count(*) FROM cdm.order_ledger l JOIN dds.h_order o ON o.h_order_pk = l.order_id WHERE o.order_id = ANY($1)",
            &loaded_all,
        )?;
        if dds != loaded_all.len() || ledger != loaded_all.len() {
            problems.push(format!("of {} valid orders, {dds} in dds.h_order, {ledger} in cdm.order_ledger", loaded_all.len()));
        }
        if problems.is_empty() {
            Ok(())
        } else {
            Err(problems.join("\n  "))
        }
    });
    // Refused anywhere, no trace downstream: DDS holds exactly the valid orders, CDM exactly
    // what DDS holds (the counters equal their recomputation).
    let h_orders: i64 =
        p.db.client()
            .query_one("SELECT count(*) FROM dds.h_order", &[])
            .and_then(|r| r.try_get(0))
            .expect("count");
    assert_eq!(
        h_orders as usize,
        loaded_all.len(),
        "dds.h_order holds exactly the valid orders"
    );
    let mismatches = p.db.mismatches();
    assert!(
        mismatches.is_empty(),
        "counters differ from the recomputation: {mismatches:?}"
    );
    let ledger: i64 =
        p.db.client()
            .query_one("SELECT count(*) FROM cdm.order_ledger", &[])
            .and_then(|r| r.try_get(0))
            .expect("count");
    assert_eq!(
        ledger, h_orders,
        "cdm.order_ledger holds exactly the orders of dds"
    );
    // The dead letter over the size limit was cut to fit, with what it needs to be recognised.
    let truncated = p
        .broker
        .read_topic(&dlq(&p.topics.source))
        .into_iter()
        .find(|r| r.key.as_deref() == Some(b"over_the_size_limit".as_slice()))
        .expect("the oversize dead letter");
    assert_eq!(truncated.header("vault.truncated").as_deref(), Some("true"));
    assert_eq!(
        truncated.header("vault.original.size").as_deref(),
        Some("1500000")
    );
    assert!(truncated
        .header("vault.original.sha256")
        .is_some_and(|h| h.len() == 64));
    assert!(truncated.payload.len() > 1_000_000 && truncated.payload.iter().all(|b| *b == b'x'));
    // Alive, never restarted, nothing left behind.
    p.wait_ready(&ids, Duration::from_secs(30));
    assert!(
        p.services.iter().all(|s| s.starts == 1),
        "a service was restarted"
    );
    let names: BTreeSet<&str> = corpus.cases.iter().map(|c| c.name.as_str()).collect();
    eprintln!(
        "every_kind_of_bad_input: {} kinds checked: {names:?}",
        names.len()
    );
}
