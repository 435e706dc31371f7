//! The source system, simulated: realistic dictionaries in Redis and source orders
//! (docs/contract.md §2) on the source topic — as a backlog or at a rate — with chosen fractions of
//! duplicates, CLOSED→CANCELLED updates, unknown ids and garbage. The plan is deterministic for a
//! seed, so tests can compute what the pipeline must end up with independently of it.

use std::time::{Duration, Instant};

use vault_core::orders::sample::{Catalog, Rng};
use vault_core::orders::SourceOrder;
use vault_core::Timestamp;
use vault_kafka::{KafkaError, OutRecord, Producer};
use vault_redis::{DictionaryError, RedisWriter};

use crate::shutdown::Shutdown;

/// What to simulate.
#[derive(Debug, Clone, PartialEq)]
pub struct SimulateOptions {
    /// Seed of everything generated.
    pub seed: u64,
    /// Restaurants (20–50 dishes each).
    pub restaurants: usize,
    /// Users.
    pub users: usize,
    /// Orders (each sent once in its final state; some more often, see below).
    pub orders: usize,
    /// Fraction of orders sent twice (a redelivery).
    pub duplicates: f64,
    /// Fraction of orders closed and later cancelled (sent CLOSED, then CANCELLED).
    pub cancel_after_close: f64,
    /// Fraction of orders that reference a user, restaurant or dish Redis does not know.
    pub unknown: f64,
    /// Fraction of extra messages that are garbage (not JSON, not an order, bad fields).
    pub garbage: f64,
    /// When the first order was placed; orders follow each other by `spacing`.
    pub start: Timestamp,
    /// Time between two orders' placement.
    pub spacing: Duration,
    /// First order id.
    pub first_id: i64,
}

impl Default for SimulateOptions {
    fn default() -> Self {
        SimulateOptions {
            seed: 1,
            restaurants: 8,
            users: 500,
            orders: 1000,
            duplicates: 0.0,
            cancel_after_close: 0.0,
            unknown: 0.0,
            garbage: 0.0,
            start: Timestamp::parse("2024-05-01 10:00:00")
                .unwrap_or_else(|_| Timestamp::new(Default::default())),
            spacing: Duration::from_secs(12),
            first_id: 1_000_000,
        }
    }
}

/// What one planned message is.
#[derive(Debug, Clone, PartialEq)]
pub enum Planned {
    /// A valid order version.
    Order(SourceOrder),
    /// An order whose user / restaurant / dish Redis does not know; the reason STG must give.
    Unknown(SourceOrder, &'static str),
    /// Not an order; the reason STG must give.
    Garbage(Vec<u8>, &'static str),
}

impl Planned {
    /// The message as it goes on the topic: key (order id) and value.
    pub fn record(&self, topic: &str) -> OutRecord {
        let (key, payload) = match self {
            Planned::Order(o) | Planned::Unknown(o, _) => (
                Some(o.object_id.to_string().into_bytes()),
                serde_json::to_vec(o).unwrap_or_default(),
            ),
            Planned::Garbage(bytes, _) => (None, bytes.clone()),
        };
        OutRecord {
            topic: topic.to_owned(),
            key,
            payload,
            headers: Vec::new(),
        }
    }
}

/// One message as a line of JSON (newline included): `key` (the order id, or null) and `value`
/// (the message), or `value_bytes` (its bytes) when the message is not UTF-8.
pub fn json_line(message: &Planned) -> Vec<u8> {
    let record = message.record("");
    let key = record
        .key
        .map(|k| serde_json::Value::String(String::from_utf8_lossy(&k).into_owned()));
    let mut line = match String::from_utf8(record.payload) {
        Ok(value) => serde_json::json!({ "key": key, "value": value }),
        Err(bytes) => serde_json::json!({ "key": key, "value_bytes": bytes.into_bytes() }),
    }
    .to_string()
    .into_bytes();
    line.push(b'\n');
    line
}

/// The dictionaries and the messages, in sending order.
#[derive(Debug, Clone)]
pub struct Plan {
    /// What goes into Redis.
    pub catalog: Catalog,
    /// What goes onto the source topic.
    pub messages: Vec<Planned>,
}

/// Plans a simulation. The same seed gives the same dictionaries, and the same seed and order id
/// give the same order whatever the other options.
pub fn plan(options: &SimulateOptions) -> Plan {
    let mut rng = Rng::new(options.seed);
    let catalog = Catalog::generate(&mut rng, options.restaurants.max(1), options.users.max(1));
    let mut messages = Vec::with_capacity(options.orders + options.orders / 8);
    for i in 0..options.orders {
        let placed = options
            .start
            .plus(chrono::Duration::from_std(options.spacing * i as u32).unwrap_or_default());
        let id = options.first_id + i as i64;
        // An order's content depends only on the seed and its id, so runs with other fractions
        // or counts send the same order for the same id (real orders do not change their lines).
        let mut order_rng = Rng::new(options.seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) ^ id as u64);
        let mut history =
            catalog.order_history(&mut order_rng, id, placed, options.cancel_after_close);
        let last = history.pop().unwrap_or_else(|| unreachable_history(id));
        if rng.chance(options.unknown) {
            let mut order = last;
            let reason = match rng.below(3) {
                0 => {
                    order.payload.user.id = rng.object_id();
                    "unknown_user"
                }
                1 => {
                    order.payload.restaurant.id = rng.object_id();
                    "unknown_restaurant"
                }
                _ => {
                    if let Some(item) = order.payload.order_items.first_mut() {
                        item.id = rng.object_id();
                    }
                    "unknown_menu_item"
                }
            };
            messages.push(Planned::Unknown(order, reason));
            continue;
        }
        // A CLOSED order later cancelled arrives twice: CLOSED first, then CANCELLED.
        if last.payload.final_status == vault_core::orders::OrderStatus::Cancelled {
            if let Some(closed) = history
                .iter()
                .rev()
                .find(|v| v.payload.final_status == vault_core::orders::OrderStatus::Closed)
            {
                messages.push(Planned::Order(closed.clone()));
            }
        }
        let duplicate = rng.chance(options.duplicates);
        messages.push(Planned::Order(last.clone()));
        if duplicate {
            messages.push(Planned::Order(last));
        }
        if rng.chance(options.garbage) {
            messages.push(garbage(&mut rng, id));
        }
    }
    Plan { catalog, messages }
}

fn unreachable_history(id: i64) -> SourceOrder {
    // `order_history` always returns at least one version; keep the type total anyway.
    SourceOrder {
        object_id: id,
        object_type: "order".into(),
        sent_dttm: Timestamp::new(Default::default()),
        payload: vault_core::orders::SourcePayload {
            restaurant: vault_core::orders::IdRef { id: "none".into() },
            date: Timestamp::new(Default::default()),
            user: vault_core::orders::IdRef { id: "none".into() },
            order_items: Vec::new(),
            bonus_payment: None,
            cost: vault_core::Amount::from_i64(0),
            payment: vault_core::Amount::from_i64(0),
            bonus_grant: None,
            statuses: Vec::new(),
            final_status: vault_core::orders::OrderStatus::Open,
            update_ts: Timestamp::new(Default::default()),
        },
    }
}

fn garbage(rng: &mut Rng, id: i64) -> Planned {
    match rng.below(4) {
        0 => Planned::Garbage(b"\x00\xff not json at all".to_vec(), "invalid_json"),
        1 => Planned::Garbage(
            format!(r#"{{"object_id": {id}, "object_type": "user", "payload": {{}}}}"#).into_bytes(),
            "unknown_object_type",
        ),
        2 => Planned::Garbage(
            format!(r#"{{"object_id": "{id}", "object_type": "order", "payload": {{}}}}"#).into_bytes(),
            "invalid_shape",
        ),
        _ => Planned::Garbage(
            format!(
                r#"{{"object_id": {id}, "object_type": "order", "sent_dttm": "2024-05-01 10:00:00", "payload": {{"restaurant": {{"id": "r"}}, "date": "2024-05-01 10:00:00", "user": {{"id": "u"}}, "order_items": [], "cost": -100, "payment": 0, "final_status": "CLOSED", "update_ts": "2024-05-01 10:00:00"}}}}"#
            )
            .into_bytes(),
            "invalid_value",
        ),
    }
}

/// Writes the catalog into Redis (plain keys = ids, JSON values, docs/contract.md §3). Returns the
/// keys set.
pub fn load_dictionaries(
    writer: &mut RedisWriter,
    catalog: &Catalog,
) -> Result<usize, DictionaryError> {
    let users = writer.put_entries(catalog.users.iter().map(|u| (u.id.as_str(), u)))?;
    let restaurants = writer.put_entries(catalog.restaurants.iter().map(|r| (r.id.as_str(), r)))?;
    Ok(users + restaurants)
}

/// Produces messages, `rate` per second (`None`: as fast as the broker takes them), in chunks;
/// calls `progress(sent)` after each chunk; stops early on shutdown. Returns how many were sent.
pub fn produce(
    producer: &Producer,
    topic: &str,
    messages: &[Planned],
    rate: Option<f64>,
    shutdown: &Shutdown,
    mut progress: impl FnMut(usize),
) -> Result<usize, KafkaError> {
    let started = Instant::now();
    let chunk = match rate {
        Some(r) if r < 200.0 => 1,
        Some(_) => 50,
        None => 2000,
    };
    let mut sent = 0;
    for part in messages.chunks(chunk) {
        if shutdown.requested() {
            break;
        }
        if let Some(rate) = rate.filter(|r| *r > 0.0) {
            let due = started + Duration::from_secs_f64(sent as f64 / rate);
            shutdown.sleep(due.saturating_duration_since(Instant::now()));
        }
        let records: Vec<OutRecord> = part.iter().map(|m| m.record(topic)).collect();
        // A broker restart should not end a long simulation: retry the chunk (the pipeline is
        // idempotent, so a message sent twice changes nothing).
        let sent_chunk = crate::retry::RetryPolicy::default().run(
            || producer.send_all_or_cancel(&records, || shutdown.requested()),
            |e| KafkaError::is_retryable(e) && !shutdown.requested(),
            |_, e, _| {
                // A client that lost every broker never delivers again: start a new one.
                if e.is_timed_out() {
                    let _ = producer.renew();
                }
            },
        );
        match sent_chunk {
            Ok(()) => {}
            Err(_) if shutdown.requested() => break,
            Err(failed) => return Err(failed.error),
        }
        sent += part.len();
        progress(sent);
    }
    Ok(sent)
}
