//! Property tests over message shapes, keys, builders and the CDM projection.

use std::collections::{BTreeMap, HashMap, HashSet};

use proptest::prelude::*;
use proptest::sample::select;
use serde_json::Value;
use uuid::Uuid;
use vault_core::orders::*;
use vault_core::pipeline::*;
use vault_core::*;

// ---------------------------------------------------------------------------------------------
// strategies

fn hex_id() -> impl Strategy<Value = String> {
    // A small pool so that orders share users, products and restaurants.
    (0u32..12).prop_map(|n| format!("{:024x}", 0x626a_81ce_u64 * 1000 + u64::from(n)))
}

fn name() -> impl Strategy<Value = String> {
    prop_oneof![
        select(vec![
            "Закуски",
            "Салаты",
            "Супы",
            "Десерты",
            "Кофейня №1",
            "Рис с лимоном"
        ])
        .prop_map(str::to_owned),
        "\\PC{0,16}",
        Just("a#$#b".to_owned()),
    ]
}

fn amount() -> impl Strategy<Value = Amount> {
    prop_oneof![
        (0i64..1_000_000).prop_map(Amount::from_i64),
        (0f64..1e7).prop_map(|x| Amount::from_f64(x).expect("finite")),
        select(vec![
            "875.0",
            "1e16",
            "0.00001",
            "1E5",
            "12345678901234567890123",
            "0.1"
        ])
        .prop_map(|t| Amount::from_json_token(t).expect("valid token")),
    ]
}

fn timestamp() -> impl Strategy<Value = Timestamp> {
    (1_600_000_000i64..1_800_000_000).prop_map(|secs| {
        Timestamp::new(
            chrono::DateTime::from_timestamp(secs, 0)
                .expect("in range")
                .naive_utc(),
        )
    })
}

fn status() -> impl Strategy<Value = OrderStatus> {
    select(vec![
        OrderStatus::Open,
        OrderStatus::Cooking,
        OrderStatus::Delivering,
        OrderStatus::Closed,
        OrderStatus::Cancelled,
    ])
}

prop_compose! {
    fn source_order()(
        object_id in any::<i64>(),
        sent in timestamp(), date in timestamp(), update_ts in timestamp(),
        user in hex_id(), restaurant in hex_id(),
        items in prop::collection::vec((hex_id(), name(), amount(), amount()), 0..6),
        cost in amount(), payment in amount(), bonus in proptest::option::of(amount()),
        statuses in prop::collection::vec((status(), timestamp()), 0..5),
        final_status in status(),
    ) -> SourceOrder {
        SourceOrder {
            object_id,
            object_type: "order".into(),
            sent_dttm: sent,
            payload: SourcePayload {
                restaurant: IdRef { id: restaurant },
                date,
                user: IdRef { id: user },
                order_items: items.into_iter().map(|(id, name, price, quantity)| SourceItem {
                    id, name, price, quantity,
                }).collect(),
                bonus_payment: bonus.clone(),
                cost,
                payment,
                bonus_grant: bonus,
                statuses: statuses.into_iter().map(|(status, dttm)| StatusEntry { status, dttm }).collect(),
                final_status,
                update_ts,
            },
        }
    }
}

prop_compose! {
    fn enriched_order()(
        id in any::<i64>(), date in timestamp(), update_ts in proptest::option::of(timestamp()),
        cost in amount(), payment in amount(), status in status(),
        restaurant in (hex_id(), name(), proptest::option::of(timestamp())),
        user in (hex_id(), name(), proptest::option::of(name()), proptest::option::of(timestamp())),
        products in prop::collection::vec((hex_id(), amount(), amount(), name(), name()), 0..6),
    ) -> EnrichedOrder {
        EnrichedOrder {
            object_id: id,
            object_type: "order".into(),
            payload: EnrichedPayload {
                id, date, update_ts, cost, payment, status,
                restaurant: NamedRef { id: restaurant.0, name: restaurant.1, update_ts_utc: restaurant.2 },
                user: EnrichedUser { id: user.0, name: user.1, login: user.2, update_ts_utc: user.3 },
                products: products.into_iter().map(|(id, price, quantity, name, category)| Product {
                    id, price, quantity, name, category,
                }).collect(),
            },
        }
    }
}

// ---------------------------------------------------------------------------------------------
// messages

proptest! {
    #[test]
    fn source_orders_round_trip(order in source_order()) {
        let bytes = serde_json::to_vec(&order).expect("serialize");
        let parsed = SourceOrder::from_json(&bytes).expect("a valid order parses");
        prop_assert_eq!(parsed, order);
    }

    #[test]
    fn enriched_orders_round_trip(order in enriched_order()) {
        let bytes = order.to_json().expect("serialize");
        prop_assert_eq!(EnrichedOrder::from_json(&bytes).expect("parses"), order);
    }

    #[test]
    fn reports_round_trip(order in enriched_order(), sent in timestamp()) {
        let (_, keys) = build_order(&order, KeySpec::SEED);
        let report = order_report(&order, &keys, sent);
        let bytes = report.to_json().expect("serialize");
        prop_assert_eq!(OrderReport::from_json(&bytes).expect("parses"), report);
    }

    #[test]
    fn arbitrary_bytes_are_errors_not_panics(bytes in prop::collection::vec(any::<u8>(), 0..256)) {
        prop_assert!(SourceOrder::from_json(&bytes).is_err());
        prop_assert!(EnrichedOrder::from_json(&bytes).is_err());
        prop_assert!(OrderReport::from_json(&bytes).is_err());
        let _ = User::from_json(&bytes);
        let _ = Restaurant::from_json(&bytes);
    }

    #[test]
    fn enrichment_keeps_the_order(order in source_order(), names in prop::collection::vec(name(), 12)) {
        let user = User { id: order.payload.user.id.clone(), name: names[0].clone(), login: None, update_ts_utc: None };
        let mut restaurant = Restaurant {
            id: order.payload.restaurant.id.clone(), name: names[1].clone(), menu: Vec::new(), update_ts_utc: None,
        };
        // Without the menu every item is unknown; with it, enrichment succeeds.
        if let Some(first) = order.payload.order_items.first() {
            let err = enrich(&order, Some(&user), Some(&restaurant)).expect_err("empty menu");
            prop_assert_eq!(err.reason(), "unknown_menu_item");
            prop_assert!(err.to_string().contains(&first.id));
        }
        for (i, item) in order.payload.order_items.iter().enumerate() {
            restaurant.menu.push(MenuItem {
                id: item.id.clone(), name: names[2 + i].clone(), price: None, category: names[8 + i % 4].clone(),
            });
        }
        prop_assert_eq!(enrich(&order, None, Some(&restaurant)).expect_err("no user").reason(), "unknown_user");
        prop_assert_eq!(enrich(&order, Some(&user), None).expect_err("no restaurant").reason(), "unknown_restaurant");
        let enriched = enrich(&order, Some(&user), Some(&restaurant)).expect("all known");
        prop_assert_eq!(enriched.payload.id, order.object_id);
        prop_assert_eq!(enriched.payload.products.len(), order.payload.order_items.len());
        prop_assert_eq!(&enriched.payload.cost, &order.payload.cost);
        prop_assert_eq!(enriched.payload.status, order.payload.final_status);
        for (product, item) in enriched.payload.products.iter().zip(&order.payload.order_items) {
            let menu = restaurant.menu_item(&item.id).expect("on the menu");
            prop_assert_eq!(&product.name, &menu.name);
            prop_assert_eq!(&product.category, &menu.category);
            prop_assert_eq!(&product.price, &item.price);
        }
    }
}

/// Paths of every field of a JSON document, with the value there.
fn leaves(value: &Value, path: Vec<String>, out: &mut Vec<Vec<String>>) {
    match value {
        Value::Object(map) => {
            for (k, v) in map {
                let mut p = path.clone();
                p.push(k.clone());
                out.push(p.clone());
                leaves(v, p, out);
            }
        }
        Value::Array(items) => {
            for (i, v) in items.iter().enumerate() {
                let mut p = path.clone();
                p.push(i.to_string());
                leaves(v, p, out);
            }
        }
        _ => {}
    }
}

fn get_mut<'v>(value: &'v mut Value, path: &[String]) -> Option<&'v mut Value> {
    path.iter().try_fold(value, |v, seg| match v {
        Value::Object(map) => map.get_mut(seg),
        Value::Array(items) => seg.parse::<usize>().ok().and_then(|i| items.get_mut(i)),
        _ => None,
    })
}

#[derive(Debug, Clone)]
enum Mutation {
    Remove,
    Rename,
    Replace(Value),
    /// A number token no f64 holds, written into the document as it is.
    RawNumber(&'static str),
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        Just(Mutation::Remove),
        Just(Mutation::Rename),
        select(vec![
            Value::Null,
            Value::Bool(true),
            serde_json::json!([]),
            serde_json::json!({}),
            serde_json::json!("\u{202e}\u{0000}ТЕКСТ\u{1F600}"),
            serde_json::json!(-5),
            serde_json::json!(1.5),
        ])
        .prop_map(Mutation::Replace),
        select(vec!["1e400", "123456789012345678901234567890"]).prop_map(Mutation::RawNumber),
    ]
}

/// Where a raw number token goes in a mutated document.
const RAW: &str = "__raw_number__";

/// Fields that may be absent (or null) in a valid source order.
const OPTIONAL: [&str; 3] = ["bonus_payment", "bonus_grant", "statuses"];

proptest! {
    #[test]
    fn mutated_orders_give_errors_never_panics(
        order in source_order(), pick in any::<prop::sample::Index>(), mutation in mutation(),
    ) {
        let mut doc = serde_json::to_value(&order).expect("to value");
        let mut paths = Vec::new();
        leaves(&doc, Vec::new(), &mut paths);
        let path = pick.get(&paths).clone();
        let (parent, field) = path.split_at(path.len() - 1);
        let field = field[0].clone();
        let parent_value = get_mut(&mut doc, parent).expect("parent exists");
        let Value::Object(map) = parent_value else { unreachable!("leaves only names object fields") };
        let old = map.remove(&field).expect("field exists");
        let required = !OPTIONAL.contains(&field.as_str()) || parent.len() > 1;
        match &mutation {
            Mutation::Remove => {}
            Mutation::Rename => { map.insert(format!("{field}_renamed"), old.clone()); }
            Mutation::Replace(v) => { map.insert(field.clone(), v.clone()); }
            Mutation::RawNumber(_) => { map.insert(field.clone(), Value::String(RAW.into())); }
        }
        let mut bytes = serde_json::to_vec(&doc).expect("serialize");
        if let Mutation::RawNumber(token) = &mutation {
            let text = String::from_utf8(bytes).expect("utf-8").replacen(&format!("\"{RAW}\""), token, 1);
            bytes = text.into_bytes();
        }
        let result = SourceOrder::from_json(&bytes);
        match (&mutation, result) {
            (Mutation::Remove | Mutation::Rename, Err(err)) => {
                prop_assert!(required, "optional field {field} removed yet {err}");
                let message = err.to_string();
                prop_assert!(message.contains(&field) || parent.iter().any(|p| message.contains(p.as_str())),
                    "error `{}` does not say where ({:?})", message, path);
            }
            (Mutation::Remove | Mutation::Rename, Ok(_)) => {
                prop_assert!(!required, "required field {:?} removed and still parsed", path);
            }
            (Mutation::Replace(_) | Mutation::RawNumber(_), Err(err)) => {
                prop_assert!(err.path().is_some() || matches!(err, MessageError::Syntax { .. }), "{}", err);
            }
            (Mutation::Replace(v), Ok(parsed)) => {
                // Only values the contract allows may pass: a valid replacement for that field.
                let accepted = (v == &old)
                    || v.as_number().is_some_and(|n| !n.to_string().starts_with('-'))
                    || (v.is_i64() && field == "object_id")
                    || (v.is_string() && !field.ends_with("status") && field != "date" && field != "dttm"
                        && field != "update_ts" && field != "sent_dttm" && field != "object_type")
                    || (v.is_null() && OPTIONAL.contains(&field.as_str()))
                    || (v.as_array().is_some_and(Vec::is_empty) && (field == "order_items" || field == "statuses"));
                prop_assert!(accepted, "{:?} = {} accepted as {:?}", path, v, parsed);
            }
            (Mutation::RawNumber(token), Ok(parsed)) => {
                // A huge integer is a valid amount; 1e400 is out of an f64's range (Python: inf).
                prop_assert!(*token != "1e400", "{:?} = {} accepted as {:?}", path, token, parsed);
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// keys and builders

fn hub_keys(rows: &DvRows<'_>) -> HashSet<Uuid> {
    let mut hubs = HashSet::new();
    hubs.extend(rows.h_user.iter().map(|r| r.h_user_pk));
    hubs.extend(rows.h_product.iter().map(|r| r.h_product_pk));
    hubs.extend(rows.h_category.iter().map(|r| r.h_category_pk));
    hubs.extend(rows.h_restaurant.iter().map(|r| r.h_restaurant_pk));
    hubs.extend(rows.h_order.iter().map(|r| r.h_order_pk));
    hubs
}

/// The foreign keys of every link and satellite row.
fn references(rows: &DvRows<'_>) -> Vec<Uuid> {
    let mut refs = Vec::new();
    refs.extend(
        rows.l_order_product
            .iter()
            .flat_map(|r| [r.h_order_pk, r.h_product_pk]),
    );
    refs.extend(
        rows.l_product_restaurant
            .iter()
            .flat_map(|r| [r.h_restaurant_pk, r.h_product_pk]),
    );
    refs.extend(
        rows.l_product_category
            .iter()
            .flat_map(|r| [r.h_category_pk, r.h_product_pk]),
    );
    refs.extend(
        rows.l_order_user
            .iter()
            .flat_map(|r| [r.h_order_pk, r.h_user_pk]),
    );
    refs.extend(rows.s_user_names.iter().map(|r| r.h_user_pk));
    refs.extend(rows.s_restaurant_names.iter().map(|r| r.h_restaurant_pk));
    refs.extend(rows.s_product_names.iter().map(|r| r.h_product_pk));
    refs.extend(rows.s_order_cost.iter().map(|r| r.h_order_pk));
    refs.extend(rows.s_order_status.iter().map(|r| r.h_order_pk));
    refs
}

/// A row's identity: its key, and a satellite's effective time.
type Identity = (Uuid, Option<Timestamp>);

/// Every table's row identities, to check there are no duplicates.
struct Keys(BTreeMap<&'static str, Vec<Identity>>);
impl RowVisitor for Keys {
    fn table<R: DvRow>(&mut self, rows: &[R]) {
        self.0
            .insert(R::TABLE, rows.iter().map(DvRow::identity).collect());
    }
}

fn table_keys(rows: &DvRows<'_>) -> BTreeMap<&'static str, Vec<Identity>> {
    let mut keys = Keys(BTreeMap::new());
    rows.visit(&mut keys);
    keys.0
}

proptest! {
    #[test]
    fn links_and_satellites_reference_hubs_of_the_same_order(order in enriched_order()) {
        let (rows, keys) = build_order(&order, KeySpec::SEED);
        let hubs = hub_keys(&rows);
        for reference in references(&rows) {
            prop_assert!(hubs.contains(&reference), "dangling {reference}");
        }
        prop_assert!(hubs.contains(&keys.order) && hubs.contains(&keys.user) && hubs.contains(&keys.restaurant));
        for (product, category) in &keys.products {
            prop_assert!(hubs.contains(product) && hubs.contains(category));
        }
        for (table, keys) in table_keys(&rows) {
            let distinct: HashSet<_> = keys.iter().collect();
            prop_assert_eq!(distinct.len(), keys.len(), "duplicate rows in {}", table);
        }
        prop_assert_eq!(rows.h_order.len(), 1);
        prop_assert_eq!(rows.s_order_status.len(), 1);
    }

    #[test]
    fn keys_are_deterministic_and_independent_of_load_time(
        order in enriched_order(), sent_a in timestamp(), sent_b in timestamp(),
    ) {
        let (rows_a, keys_a) = build_order(&order, KeySpec::SEED);
        let copy = order.clone();
        let (rows_b, keys_b) = build_order(&copy, KeySpec::SEED);
        prop_assert_eq!(&rows_a, &rows_b);
        prop_assert_eq!(&keys_a, &keys_b);
        let report_a = order_report(&order, &keys_a, sent_a);
        let report_b = order_report(&order, &keys_b, sent_b);
        prop_assert_eq!(report_a.object_id, report_b.object_id);
        prop_assert_eq!(&report_a.payload, &report_b.payload);
        // And they are the plain uuid5 of the material of docs/contract.md §5.1.
        let order_id = order.payload.id.to_string();
        prop_assert_eq!(keys_a.order, Uuid::new_v5(&SEED_NAMESPACE, order_id.as_bytes()));
        let cost = format!("{}#$#{}#$#{}", order_id, order.payload.cost, order.payload.payment);
        prop_assert_eq!(rows_a.s_order_cost[0].hk_order_cost_pk, Uuid::new_v5(&SEED_NAMESPACE, cost.as_bytes()));
    }

    #[test]
    fn batch_equals_union_of_orders(orders in prop::collection::vec(enriched_order(), 0..12)) {
        let mut batch = DvBatch::new(KeySpec::SEED);
        for order in &orders {
            batch.add(order);
        }
        let batched = table_keys(batch.rows());
        let mut union: BTreeMap<&'static str, Vec<Identity>> = BTreeMap::new();
        for order in &orders {
            let (rows, _) = build_order(order, KeySpec::SEED);
            for (table, keys) in table_keys(&rows) {
                let seen = union.entry(table).or_default();
                for key in keys {
                    if !seen.contains(&key) {
                        seen.push(key);
                    }
                }
            }
        }
        for (table, keys) in &batched {
            let expected = union.get(table).cloned().unwrap_or_default();
            prop_assert_eq!(keys, &expected, "table {}", table);
        }
        prop_assert_eq!(batch.orders(), orders.len());
    }

    #[test]
    fn unambiguous_keys_separate_what_plain_keys_merge(
        a in "[a-z#$\\\\]{0,6}", b in "[a-z#$\\\\]{0,6}", c in "[a-z#$\\\\]{0,6}", d in "[a-z#$\\\\]{0,6}",
    ) {
        let spec = KeySpec::new(SEED_NAMESPACE).unambiguous();
        let same = spec.link(&[&a, &b]) == spec.link(&[&c, &d]);
        prop_assert_eq!(same, (a.as_str(), b.as_str()) == (c.as_str(), d.as_str()));
        prop_assert_ne!(spec.key([a.as_str()]), spec.key([a.as_str(), ""]));
    }
}

// ---------------------------------------------------------------------------------------------
// the CDM projection

fn uuid_of(kind: &str, n: u8) -> Uuid {
    Uuid::new_v5(&SEED_NAMESPACE, format!("{kind}{n}").as_bytes())
}

#[derive(Debug, Clone)]
struct Version {
    ts: u32,
    status: OrderStatus,
    user: u8,
    restaurant: u8,
    products: Vec<(u8, u8)>, // (product, category)
    cost: u16,               // payment: cost - cost / 10
}

fn versions() -> impl Strategy<Value = Vec<Version>> {
    prop::collection::vec(
        (
            status(),
            0u8..4,
            0u8..3,
            prop::collection::vec((0u8..6, 0u8..4), 0..5),
            0u16..1000,
        ),
        1..5,
    )
    .prop_map(|vs| {
        vs.into_iter()
            .enumerate()
            .map(|(i, (status, user, restaurant, products, cost))| Version {
                ts: i as u32 * 60,
                status,
                user,
                restaurant,
                products,
                cost,
            })
            .collect()
    })
}

fn report(order: u8, v: &Version) -> OrderReport {
    let at = |secs: u32| {
        Timestamp::new(
            chrono::DateTime::from_timestamp(1_700_000_000 + i64::from(secs), 0)
                .expect("in range")
                .naive_utc(),
        )
    };
    let id = uuid_of("order", order);
    OrderReport {
        object_id: id,
        sent_dttm: at(v.ts + 1),
        object_type: "order_report".into(),
        payload: ReportPayload {
            id,
            // Orders 14 h apart: their days differ.
            order_dt: at(u32::from(order) * 50_400),
            update_ts: Some(at(v.ts)),
            status: v.status,
            cost: Some(Amount::from_i64(i64::from(v.cost))),
            payment: Some(Amount::from_i64(i64::from(v.cost - v.cost / 10))),
            restaurant: KeyedName {
                id: uuid_of("restaurant", v.restaurant),
                name: format!("R{}", v.restaurant),
            },
            user: ReportUser {
                id: uuid_of("user", v.user),
                username: format!("U{}", v.user),
            },
            products: v
                .products
                .iter()
                .map(|&(p, c)| ReportProduct {
                    id: uuid_of("product", p),
                    name: format!("P{p}"),
                    quantity: Amount::from_i64(1),
                    category: KeyedName {
                        id: uuid_of("category", c),
                        name: format!("C{c}"),
                    },
                })
                .collect(),
        },
    }
}

/// The counters recomputed from scratch: for each order's final version, if CLOSED, one per
/// distinct pair. Written independently of `LedgerEntry::contribution`.
fn recompute(orders: &[Vec<Version>]) -> BTreeMap<CounterKey, i64> {
    let mut counters = BTreeMap::new();
    for (n, versions) in orders.iter().enumerate() {
        let last = versions
            .iter()
            .max_by_key(|v| v.ts)
            .expect("at least one version");
        if last.status != OrderStatus::Closed {
            continue;
        }
        let _ = n;
        let user_id = uuid_of("user", last.user);
        let restaurant_id = uuid_of("restaurant", last.restaurant);
        let products: HashSet<u8> = last.products.iter().map(|p| p.0).collect();
        let categories: HashSet<u8> = last.products.iter().map(|p| p.1).collect();
        for p in products {
            *counters
                .entry(CounterKey::UserProduct {
                    user_id,
                    product_id: uuid_of("product", p),
                })
                .or_insert(0) += 1;
        }
        for c in categories {
            let category_id = uuid_of("category", c);
            *counters
                .entry(CounterKey::UserCategory {
                    user_id,
                    category_id,
                })
                .or_insert(0) += 1;
            *counters
                .entry(CounterKey::RestaurantCategory {
                    restaurant_id,
                    category_id,
                })
                .or_insert(0) += 1;
        }
    }
    counters
}

/// A cell of the daily datamart: (restaurant, category, order number) — each order has a time
/// of its own — and its (orders, dishes, cost, payment).
type DayCells = BTreeMap<(Uuid, Uuid, i64), (i64, i64, i64, i64)>;

/// The daily datamart recomputed from each order's final version, independently of
/// `LedgerEntry::day_contribution`: keyed by the order time's seconds (the day is the
/// warehouse's to compute).
fn recompute_days(orders: &[Vec<Version>]) -> DayCells {
    let mut cells = DayCells::new();
    for (n, versions) in orders.iter().enumerate() {
        let last = versions.iter().max_by_key(|v| v.ts).expect("a version");
        if last.status != OrderStatus::Closed {
            continue;
        }
        let products: BTreeMap<u8, u8> = last.products.iter().rev().map(|&(p, c)| (p, c)).collect();
        let categories: HashSet<u8> = last.products.iter().map(|p| p.1).collect();
        for c in categories {
            let dishes = products.values().filter(|&&pc| pc == c).count() as i64;
            let cost = i64::from(last.cost);
            let cell = cells
                .entry((
                    uuid_of("restaurant", last.restaurant),
                    uuid_of("category", c),
                    n as i64 * 50_400,
                ))
                .or_insert((0, 0, 0, 0));
            *cell = (
                cell.0 + 1,
                cell.1 + dishes,
                cell.2 + cost,
                cell.3 + cost - cost / 10,
            );
        }
    }
    cells
}

/// Adds day deltas to cells (amounts are integers in these tests).
fn add_days<'a>(cells: &mut DayCells, days: impl IntoIterator<Item = &'a DayDelta>) {
    for d in days {
        let secs = d.order_dt.naive().and_utc().timestamp() - 1_700_000_000;
        let amount = |a: &Amount| a.as_str().parse::<i64>().expect("integer amount");
        let s = i64::from(d.sign);
        let cell = cells
            .entry((d.restaurant_id, d.category_id, secs))
            .or_insert((0, 0, 0, 0));
        *cell = (
            cell.0 + s,
            cell.1 + s * i64::from(d.items),
            cell.2 + s * amount(&d.cost),
            cell.3 + s * amount(&d.payment),
        );
    }
    cells.retain(|_, c| *c != (0, 0, 0, 0));
}

/// Versions per order, deliveries as (order, version) indices, batch sizes.
type Arrivals = (Vec<Vec<Version>>, Vec<(usize, usize)>, Vec<usize>);

fn arrivals() -> impl Strategy<Value = Arrivals> {
    prop::collection::vec(versions(), 1..6).prop_flat_map(|orders| {
        // Every version at least once, some two or three times, in any order.
        let deliveries: Vec<(usize, usize)> = orders
            .iter()
            .enumerate()
            .flat_map(|(o, vs)| (0..vs.len()).map(move |v| (o, v)))
            .collect();
        let n = deliveries.len();
        (
            Just(orders),
            prop::collection::vec(0usize..3, n)
                .prop_map(move |copies| {
                    deliveries
                        .iter()
                        .zip(copies)
                        .flat_map(|(d, c)| std::iter::repeat_n(*d, 1 + c))
                        .collect::<Vec<_>>()
                })
                .prop_shuffle(),
            prop::collection::vec(1usize..8, 1..10),
        )
    })
}

proptest! {
    #[test]
    fn summed_deltas_equal_counters_of_final_states((orders, arrivals, batch_sizes) in arrivals()) {
        let reports: Vec<OrderReport> = arrivals
            .iter()
            .map(|&(o, v)| report(o as u8, &orders[o][v]))
            .collect();

        // One report at a time through `project`, with a ledger of our own.
        let mut ledger: HashMap<Uuid, LedgerEntry> = HashMap::new();
        let mut counters: BTreeMap<CounterKey, i64> = BTreeMap::new();
        let mut days = DayCells::new();
        for r in &reports {
            let projection = project(ledger.get(&r.object_id), r);
            add_days(&mut days, &projection.days);
            prop_assert!(days.values().all(|c| c.0 >= 0 && c.1 >= 0 && c.2 >= 0 && c.3 >= 0), "a day cell went negative");
            for d in &projection.deltas {
                let c = counters.entry(d.key).or_insert(0);
                *c += d.delta;
                prop_assert!(*c >= 0, "counter went negative");
            }
            if let Some(entry) = projection.entry {
                ledger.insert(entry.order_id, entry);
            }
        }
        counters.retain(|_, c| *c != 0);
        let expected = recompute(&orders);
        prop_assert_eq!(&counters, &expected);
        let expected_days = recompute_days(&orders);
        prop_assert_eq!(&days, &expected_days);

        // The same through CounterBatch, in batches of varying size, ledger carried over.
        let mut stored: HashMap<Uuid, LedgerEntry> = HashMap::new();
        let mut batched: BTreeMap<CounterKey, i64> = BTreeMap::new();
        let mut batched_days = DayCells::new();
        let mut rest = &reports[..];
        let mut sizes = batch_sizes.iter().cycle();
        while !rest.is_empty() {
            let take = (*sizes.next().expect("cycle")).min(rest.len());
            let (chunk, tail) = rest.split_at(take);
            rest = tail;
            let mut batch = CounterBatch::new(stored.clone());
            for r in chunk {
                batch.apply(r);
            }
            for d in batch.deltas() {
                *batched.entry(d.key).or_insert(0) += d.delta;
            }
            add_days(&mut batched_days, batch.day_deltas());
            for entry in batch.changed_entries() {
                stored.insert(entry.order_id, entry.clone());
            }
        }
        batched.retain(|_, c| *c != 0);
        prop_assert_eq!(&batched, &expected);
        prop_assert_eq!(&batched_days, &expected_days);
    }
}

#[test]
fn closed_then_cancelled_uncounts_and_replays_change_nothing() {
    let closed = Version {
        ts: 60,
        status: OrderStatus::Closed,
        user: 1,
        restaurant: 1,
        products: vec![(1, 1), (2, 1)],
        cost: 500,
    };
    let cancelled = Version {
        ts: 120,
        status: OrderStatus::Cancelled,
        ..closed.clone()
    };
    let (r_closed, r_cancelled) = (report(1, &closed), report(1, &cancelled));

    let first = project(None, &r_closed);
    assert_eq!(first.outcome, Outcome::New);
    // two products, one category: 2 user×product + 1 user×category + 1 restaurant×category
    assert_eq!(first.deltas.len(), 4);
    assert!(first
        .deltas
        .iter()
        .all(|d| d.delta == 1 && d.names.is_some()));
    let entry = first.entry.expect("new entry");

    let again = project(Some(&entry), &r_closed);
    assert_eq!(
        (again.outcome, again.deltas.len(), again.entry),
        (Outcome::Duplicate, 0, None)
    );

    let undo = project(Some(&entry), &r_cancelled);
    assert_eq!(undo.outcome, Outcome::Updated);
    assert_eq!(undo.deltas.iter().map(|d| d.delta).sum::<i64>(), -4);
    let entry = undo.entry.expect("updated entry");

    let stale = project(Some(&entry), &r_closed);
    assert_eq!((stale.outcome, stale.deltas.len()), (Outcome::Stale, 0));
}
