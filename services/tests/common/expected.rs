//! What the warehouse must hold after a simulated run, computed from the plan by a plain loop,
//! independently of the code under test (no `vault_core::orders::dv`, no `vault_core::orders::cdm`): keys are
//! UUIDv5 over the docs/contract.md §5.1 material, counters count each order's newest version if
//! CLOSED.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fmt::Debug;

use chrono::NaiveDateTime;
use uuid::Uuid;
use vault_core::orders::sample::Catalog;
use vault_core::orders::{MenuItem, OrderStatus, SourceOrder};
use vault_services::simulate::Planned;

use vault_testkit::TestDb;

/// The namespace of every key (docs/contract.md §5.1).
pub const NAMESPACE: Uuid = Uuid::from_u128(0x7f28_8a2e_0ad0_4039_8e59_6c98_38d8_7307);

/// `UUIDv5(NAMESPACE, parts joined by "#$#")`.
pub fn key(parts: &[&str]) -> Uuid {
    Uuid::new_v5(&NAMESPACE, parts.join("#$#").as_bytes())
}

/// The payload bytes of a planned message as they go on the topic.
pub fn bytes(message: &Planned) -> Vec<u8> {
    match message {
        Planned::Order(o) | Planned::Unknown(o, _) => {
            serde_json::to_vec(o).expect("serialise an order")
        }
        Planned::Garbage(bytes, _) => bytes.clone(),
    }
}

/// A datamart row: `(first id, second id)` → names and `order_cnt`.
pub type Counters = BTreeMap<(Uuid, Uuid), (Vec<String>, i32)>;

/// The expected end state.
#[derive(Debug, Clone, Default)]
pub struct Expected {
    /// `stg.order_events`: object_id → (status, update_ts) of the newest version.
    pub stg: BTreeMap<i64, (String, NaiveDateTime)>,
    /// `dds.h_order`: h_order_pk → order_id.
    pub h_order: BTreeMap<Uuid, i64>,
    /// `dds.h_user`: h_user_pk → user_id.
    pub h_user: BTreeMap<Uuid, String>,
    /// Latest `dds.s_order_status` per order: h_order_pk → (hk_order_status_pk, status).
    pub latest_status: BTreeMap<Uuid, (Uuid, String)>,
    /// `cdm.user_product_counters` rows with `order_cnt` > 0 (names: product).
    pub user_product: Counters,
    /// `cdm.user_category_counters` rows with `order_cnt` > 0 (names: category).
    pub user_category: Counters,
    /// `cdm.restaurant_category_counters` rows with `order_cnt` > 0 (names: restaurant,
    /// category).
    pub restaurant_category: Counters,
    /// Pairs some known order contains: only these may have a row with `order_cnt` = 0.
    pub pairs: BTreeSet<(&'static str, Uuid, Uuid)>,
    /// Dead letters of STG: (payload, reason) → how many.
    pub dead_letters: BTreeMap<(Vec<u8>, String), usize>,
    /// Known orders whose newest version is CLOSED.
    pub closed: usize,
}

fn newest<'a>(map: &mut BTreeMap<i64, &'a SourceOrder>, order: &'a SourceOrder) {
    let keep = matches!(map.get(&order.object_id),
        Some(kept) if kept.payload.update_ts > order.payload.update_ts);
    if !keep {
        map.insert(order.object_id, order);
    }
}

impl Expected {
    /// From the messages sent and the dictionaries in Redis.
    pub fn from_plan(messages: &[Planned], catalog: &Catalog) -> Self {
        let users: HashMap<&str, &vault_core::orders::User> =
            catalog.users.iter().map(|u| (u.id.as_str(), u)).collect();
        let restaurants: HashMap<&str, &vault_core::orders::Restaurant> = catalog
            .restaurants
            .iter()
            .map(|r| (r.id.as_str(), r))
            .collect();
        let mut parseable: BTreeMap<i64, &SourceOrder> = BTreeMap::new();
        let mut known: BTreeMap<i64, &SourceOrder> = BTreeMap::new();
        let mut expected = Expected::default();
        for message in messages {
            match message {
                Planned::Order(order) => {
                    newest(&mut parseable, order);
                    newest(&mut known, order);
                }
                Planned::Unknown(order, reason) => {
                    newest(&mut parseable, order);
                    *expected
                        .dead_letters
                        .entry((bytes(message), (*reason).to_owned()))
                        .or_default() += 1;
                }
                Planned::Garbage(_, reason) => {
                    *expected
                        .dead_letters
                        .entry((bytes(message), (*reason).to_owned()))
                        .or_default() += 1;
                }
            }
        }
        for (id, order) in &parseable {
            let p = &order.payload;
            expected.stg.insert(
                *id,
                (p.final_status.as_str().to_owned(), p.update_ts.naive()),
            );
        }
        for (id, order) in &known {
            let p = &order.payload;
            let id_text = id.to_string();
            let order_pk = key(&[&id_text]);
            let status = p.final_status.as_str();
            expected.h_order.insert(order_pk, *id);
            expected
                .latest_status
                .insert(order_pk, (key(&[&id_text, status]), status.to_owned()));

            let user = users
                .get(p.user.id.as_str())
                .unwrap_or_else(|| panic!("test bug: order {id} has an unknown user"));
            let restaurant = restaurants
                .get(p.restaurant.id.as_str())
                .unwrap_or_else(|| panic!("test bug: order {id} has an unknown restaurant"));
            let user_pk = key(&[&user.id]);
            let restaurant_pk = key(&[&restaurant.id]);
            expected.h_user.insert(user_pk, user.id.clone());
            let mut products: BTreeMap<Uuid, &MenuItem> = BTreeMap::new();
            let mut categories: BTreeMap<Uuid, &str> = BTreeMap::new();
            for item in &p.order_items {
                let dish = restaurant
                    .menu
                    .iter()
                    .find(|d| d.id == item.id)
                    .unwrap_or_else(|| panic!("test bug: order {id} has an unknown dish"));
                products.insert(key(&[&dish.id]), dish);
                categories.insert(key(&[&dish.category]), &dish.category);
            }
            for &product_pk in products.keys() {
                expected
                    .pairs
                    .insert(("user_product_counters", user_pk, product_pk));
            }
            for &category_pk in categories.keys() {
                expected
                    .pairs
                    .insert(("user_category_counters", user_pk, category_pk));
                expected
                    .pairs
                    .insert(("restaurant_category_counters", restaurant_pk, category_pk));
            }
            if p.final_status != OrderStatus::Closed {
                continue;
            }
            expected.closed += 1;
            for (&product_pk, dish) in &products {
                expected
                    .user_product
                    .entry((user_pk, product_pk))
                    .or_insert_with(|| (vec![dish.name.clone()], 0))
                    .1 += 1;
            }
            for (&category_pk, &category) in &categories {
                expected
                    .user_category
                    .entry((user_pk, category_pk))
                    .or_insert_with(|| (vec![category.to_owned()], 0))
                    .1 += 1;
                expected
                    .restaurant_category
                    .entry((restaurant_pk, category_pk))
                    .or_insert_with(|| (vec![restaurant.name.clone(), category.to_owned()], 0))
                    .1 += 1;
            }
        }
        expected
    }

    /// How many messages STG must dead-letter.
    pub fn dead_letter_count(&self) -> usize {
        self.dead_letters.values().sum()
    }

    /// Dead letters per reason.
    pub fn dead_letters_by_reason(&self) -> BTreeMap<String, usize> {
        let mut by_reason = BTreeMap::new();
        for ((_, reason), n) in &self.dead_letters {
            *by_reason.entry(reason.clone()).or_default() += n;
        }
        by_reason
    }

    /// Compares the warehouse with the expectation: `Err` lists what differs.
    pub fn verify(&self, db: &TestDb) -> Result<(), String> {
        let mut client = db.warehouse.client().map_err(|e| e.to_string())?;
        let mut problems = Vec::new();
        let query = |client: &mut vault_pg::PooledClient, sql: &str| {
            client.query(sql, &[]).map_err(|e| format!("{sql}: {e}"))
        };

        let stg: BTreeMap<i64, (String, NaiveDateTime)> = query(
            &mut client,
            "SELECT object_id, payload->>'final_status', update_ts FROM stg.order_events",
        )?
        .iter()
        .map(|r| (r.get(0), (r.get(1), r.get(2))))
        .collect();
        problems.extend(diff("stg.order_events", &self.stg, &stg));

        let h_order: BTreeMap<Uuid, i64> =
            query(&mut client, "SELECT h_order_pk, order_id FROM dds.h_order")?
                .iter()
                .map(|r| (r.get(0), r.get(1)))
                .collect();
        problems.extend(diff("dds.h_order", &self.h_order, &h_order));

        let h_user: BTreeMap<Uuid, String> =
            query(&mut client, "SELECT h_user_pk, user_id FROM dds.h_user")?
                .iter()
                .map(|r| (r.get(0), r.get(1)))
                .collect();
        problems.extend(diff("dds.h_user", &self.h_user, &h_user));

        let latest: BTreeMap<Uuid, (Uuid, String)> = query(
            &mut client,
            "SELECT DISTINCT ON (h_order_pk) h_order_pk, hk_order_status_pk, status \
             FROM dds.s_order_status ORDER BY h_order_pk, update_ts DESC NULLS LAST",
        )?
        .iter()
        .map(|r| (r.get(0), (r.get(1), r.get(2))))
        .collect();
        problems.extend(diff(
            "latest dds.s_order_status",
            &self.latest_status,
            &latest,
        ));

        for (table, names, ids, expected) in [
            (
                "user_product_counters",
                "ARRAY[product_name]",
                "user_id, product_id",
                &self.user_product,
            ),
            (
                "user_category_counters",
                "ARRAY[category_name]",
                "user_id, category_id",
                &self.user_category,
            ),
            (
                "restaurant_category_counters",
                "ARRAY[restaurant_name, category_name]",
                "restaurant_id, category_id",
                &self.restaurant_category,
            ),
        ] {
            let rows = query(
                &mut client,
                &format!("SELECT {names}::text[], order_cnt, {ids} FROM cdm.{table}"),
            )?;
            let mut actual: Counters = BTreeMap::new();
            let mut stray_zeros = Vec::new();
            for row in &rows {
                let names: Vec<String> = row.get(0);
                let count: i32 = row.get(1);
                let pair: (Uuid, Uuid) = (row.get(2), row.get(3));
                if count == 0 {
                    if !self.pairs.contains(&(table, pair.0, pair.1)) {
                        stray_zeros.push(pair);
                    }
                    continue;
                }
                actual.insert(pair, (names, count));
            }
            problems.extend(diff(&format!("cdm.{table}"), expected, &actual));
            if !stray_zeros.is_empty() {
                problems.push(format!(
                    "cdm.{table}: {} zero row(s) for pairs no known order has, e.g. {:?}",
                    stray_zeros.len(),
                    &stray_zeros[..stray_zeros.len().min(3)]
                ));
            }
        }

        let mismatches =
            vault_pg::check::cdm_mismatches(&mut *client).map_err(|e| e.to_string())?;
        if !mismatches.is_empty() {
            problems.push(format!(
                "cdm_mismatches: {} counter(s) differ from the recomputation, e.g. {:?}",
                mismatches.len(),
                &mismatches[..mismatches.len().min(3)]
            ));
        }

        if problems.is_empty() {
            Ok(())
        } else {
            Err(problems.join("\n  "))
        }
    }
}

/// What differs between two maps, `None` if nothing.
pub fn diff<K: Ord + Debug, V: PartialEq + Debug>(
    what: &str,
    expected: &BTreeMap<K, V>,
    actual: &BTreeMap<K, V>,
) -> Option<String> {
    let missing: Vec<(&K, &V)> = expected
        .iter()
        .filter(|(k, _)| !actual.contains_key(k))
        .collect();
    let unexpected: Vec<(&K, &V)> = actual
        .iter()
        .filter(|(k, _)| !expected.contains_key(k))
        .collect();
    let wrong: Vec<(&K, &V, &V)> = expected
        .iter()
        .filter_map(|(k, v)| actual.get(k).filter(|a| *a != v).map(|a| (k, v, a)))
        .collect();
    if missing.is_empty() && unexpected.is_empty() && wrong.is_empty() {
        return None;
    }
    Some(format!(
        "{what}: expected {} row(s), found {}; {} missing (e.g. {:?}), {} unexpected (e.g. {:?}), \
         {} different (expected, found: e.g. {:?})",
        expected.len(),
        actual.len(),
        missing.len(),
        &missing[..missing.len().min(3)],
        unexpected.len(),
        &unexpected[..unexpected.len().min(3)],
        wrong.len(),
        &wrong[..wrong.len().min(3)],
    ))
}
